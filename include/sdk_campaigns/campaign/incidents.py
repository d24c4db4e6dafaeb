"""Cross-SDK incidents: when one scenario fails in several SDKs in one run, or one kind of
infrastructure failure hits several SDKs, it is the service or the account, not each SDK
(docs/quarantine.md#cross-sdk-incidents).

`scenarios.yaml` (beside the campaign config; config `alerts.scenarios_file`) names the scenarios::

    scenarios:
      s3.list_buckets:                     # the scenario
        python: ["suite.test_s3.test_list_buckets*"]
        go: ["*TestListBuckets*"]           # each SDK's test patterns (see campaign.test_patterns)

A run has an incident when at least `alerts.incident_min_sdks` SDKs failed one scenario (a counted,
not quarantined, test of it failed), or were infrastructure_failed for the same kind of reason
(`failure_kind`). Its incidents are kept at `<history>/<dag_id>/_incidents/<date key>.json`, head the
run's report, are listed on the SDK Health page, and go out as one alert naming the SDKs — once: a rerun
or a retried publish does not send an incident already sent for that date. The per-SDK alerts they
explain (that scenario's regressions, those SDKs' newly broken runs) are left out of the run's alert.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sdk_campaigns.campaign.alerts import (
    MAX_SUBJECT_CHARS,
    TOP_LEVEL_LIMITS,
    Alert,
    _ascii_line,
    clean_text,
    code,
    inert,
)
from sdk_campaigns.campaign.collect import CANCELLED, SDK_INFRA_FAILED
from sdk_campaigns.campaign.test_patterns import matches, test_name

log = logging.getLogger(__name__)

FOLDER = "_incidents"
SCENARIO = "scenario"
INFRASTRUCTURE = "infrastructure"
SCENARIO_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$"
MAX_TESTS_LISTED = 10  # per SDK in an incident

# Infrastructure reasons (collect.classify, explain_job_failure) reduced to their kind: two SDKs killed
# for memory are one kind, whatever their exit codes and job ids say.
_KINDS = (
    (re.compile(r"^the image build failed"), "the image build failed"),
    (re.compile(r"^no Batch job was found"), "the job never started"),
    (re.compile(r"^killed for memory"), "killed for memory"),
    (re.compile(r"^timed out after"), "timed out"),
    (re.compile(r"^the test harness failed"), "the test harness failed"),
    (re.compile(r"uploaded no JUnit results"), "no JUnit results uploaded"),
    (re.compile(r"^results were never collected"), "results were never collected"),
    (re.compile(r"^the job could not be looked up"), "the job could not be looked up"),
    (re.compile(r"^the job exited (-?\d+)"), None),
)
_VARIABLE = re.compile(r"[0-9a-f]{8,}(?:-[0-9a-f]{4,})*|\d+")


class ScenariosError(ValueError):
    """scenarios.yaml is wrong; the message names the file, the key and the fix."""


class _Scenarios(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    scenarios: dict[str, dict[str, tuple[str, ...]]] = Field(default_factory=dict)

    @field_validator("scenarios", mode="before")
    @classmethod
    def _one_or_more(cls, value: object) -> object:
        if isinstance(value, dict):
            return {
                name: {sdk: (p,) if isinstance(p, str) else p for sdk, p in (tests or {}).items()}
                if isinstance(tests, dict)
                else tests
                for name, tests in value.items()
            }
        return value

    @field_validator("scenarios")
    @classmethod
    def _names(cls, value: dict[str, dict[str, tuple[str, ...]]]) -> dict[str, dict[str, tuple[str, ...]]]:
        for name, tests in value.items():
            if not re.fullmatch(SCENARIO_NAME, name):
                raise ValueError(f"scenario name {name!r} must match {SCENARIO_NAME}")
            for sdk, patterns in tests.items():
                if not re.fullmatch(r"[a-z][a-z0-9_-]{0,39}", sdk):
                    raise ValueError(f"scenario {name!r}: {sdk!r} is not an SDK name")
                if not patterns or not all(p and len(p) <= 500 for p in patterns):
                    raise ValueError(f"scenario {name!r}, SDK {sdk!r}: give one or more test patterns")
        return value


def parse_scenarios(text: str, where: str = "scenarios.yaml") -> dict[str, dict[str, tuple[str, ...]]]:
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ScenariosError(f"{where}: not valid YAML: {err}") from err
    try:
        return _Scenarios.model_validate(raw).scenarios
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        )
        raise ScenariosError(
            f"{where}: {problems} (expected 'scenarios: {{<scenario>: {{<sdk>: [<test pattern>, ...]}}}}')"
        ) from None


def load_scenarios(path: Path) -> dict[str, dict[str, tuple[str, ...]]]:
    """The scenarios of the file at `path`; none when there is no such file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise ScenariosError(f"cannot read {path}: {err}") from err
    return parse_scenarios(text, str(path))


def failure_kind(reason: str) -> str | None:
    """What an infrastructure failure's reason says, without what differs between SDKs (ids, numbers);
    None for a cancelled run (stopped on purpose: no incident)."""
    if reason.startswith(CANCELLED):
        return None
    for pattern, kind in _KINDS:
        if match := pattern.search(reason):
            return kind or f"the job exited {match.group(1)}"
    return _VARIABLE.sub("#", reason.split(": see ", 1)[0])[:120].strip()


def scenario_failures(outcome: dict, patterns: tuple[str, ...]) -> list[str]:
    """The counted (not quarantined) failing tests of one SDK's outcome that belong to a scenario."""
    failing = []
    for row in outcome.get("rows", []):
        if row.get("quarantined") or row.get("status") not in ("failed", "error"):
            continue
        name = test_name(row.get("classname"), row.get("name"))
        if any(matches(p, name=name, test_id=row.get("test_id") or "") for p in patterns):
            failing.append(name)
    return failing


def detect(outcomes: list[dict], scenarios: dict, min_sdks: int) -> list[dict]:
    """This run's incidents: scenario ones first (by name), then infrastructure ones (by kind)."""
    by_sdk = {o["sdk"]: o for o in outcomes}
    incidents = []
    for name, per_sdk in sorted(scenarios.items()):
        tests = {}
        for sdk, patterns in per_sdk.items():
            if sdk in by_sdk and (failing := scenario_failures(by_sdk[sdk], patterns)):
                tests[sdk] = sorted(set(failing))[:MAX_TESTS_LISTED]
        if len(tests) >= min_sdks:
            incidents.append({"kind": SCENARIO, "key": name, "sdks": sorted(tests), "tests": tests})
    kinds: dict[str, dict[str, str]] = {}
    for outcome in outcomes:
        if outcome["status"] == SDK_INFRA_FAILED and (kind := failure_kind(outcome.get("reason") or "")):
            kinds.setdefault(kind, {})[outcome["sdk"]] = outcome.get("reason") or ""
    for kind, reasons in sorted(kinds.items()):
        if len(reasons) >= min_sdks:
            incidents.append(
                {"kind": INFRASTRUCTURE, "key": kind, "sdks": sorted(reasons), "reasons": reasons}
            )
    return incidents


def identity(incident: dict) -> str:
    return f"{incident['kind']}:{incident['key']}:{','.join(incident['sdks'])}"


# --- kept with the history ----------------------------------------------------------------------------


def record(uri: str, dag_id: str, *, logical_date: str, run_id: str, incidents: list[dict]) -> dict:
    """Keep this date's incidents (replacing an earlier run's of the same date), and the ones already
    alerted for it, so that they are not sent again."""
    from sdk_campaigns.history import date_key
    from sdk_campaigns.history.documents import read_document, write_document

    name = f"{date_key(logical_date)}.json"
    earlier = read_document(uri, dag_id, FOLDER, name) or {}
    document = {
        "logical_date": logical_date,
        "run_id": run_id,
        "recorded_at": datetime.now(UTC).isoformat(),
        "incidents": incidents,
        "alerted": [a for a in earlier.get("alerted", []) if isinstance(a, str)],
    }
    if incidents or earlier:
        write_document(uri, dag_id, FOLDER, name, document)
    return document


def mark_alerted(uri: str, dag_id: str, document: dict, sent: list[dict]) -> None:
    from sdk_campaigns.history import date_key
    from sdk_campaigns.history.documents import write_document

    document["alerted"] = sorted({*document["alerted"], *(identity(i) for i in sent)})
    write_document(uri, dag_id, FOLDER, f"{date_key(document['logical_date'])}.json", document)


def recent(uri: str, dag_id: str, limit: int = 20) -> list[dict]:
    """The newest dates' incident documents that hold incidents, newest first."""
    from sdk_campaigns.history.documents import list_documents, read_document

    found = []
    for name in reversed(list_documents(uri, dag_id, FOLDER)):
        document = read_document(uri, dag_id, FOLDER, name)
        if document and isinstance(document.get("incidents"), list) and document["incidents"]:
            found.append(document)
            if len(found) >= limit:
                break
    return found


# --- what they do to the run's alert ----------------------------------------------------------------


def explained(findings: dict, incidents: list[dict], scenarios: dict, outcomes: list[dict]) -> dict:
    """The findings without what the incidents already say: the scenario's regressions and new flaky
    tests in its SDKs, and the newly broken SDKs whose failures the incidents cover entirely."""
    in_scenario: dict[str, list[tuple[str, ...]]] = {}
    covered_sdks: set[str] = set()
    for incident in incidents:
        if incident["kind"] == INFRASTRUCTURE:
            covered_sdks.update(incident["sdks"])
        else:
            for sdk in incident["sdks"]:
                in_scenario.setdefault(sdk, []).append(scenarios[incident["key"]][sdk])

    def explained_test(item: dict) -> bool:
        name = test_name(item.get("classname"), item.get("name"))
        return any(
            matches(p, name=name, test_id=item.get("test_id") or "")
            for patterns in in_scenario.get(item.get("sdk"), [])
            for p in patterns
        )

    for outcome in outcomes:  # an SDK whose every counted failure is an incident's scenario
        failing = [
            r
            for r in outcome.get("rows", [])
            if r.get("status") in ("failed", "error") and not r.get("quarantined")
        ]
        if outcome["sdk"] in in_scenario and failing and all(explained_test(r) for r in failing):
            covered_sdks.add(outcome["sdk"])
    result = dict(findings)
    for category in ("regressions", "new_flaky"):
        result[category] = [i for i in findings.get(category) or [] if not explained_test(i)]
    result["broken"] = [i for i in findings.get("broken") or [] if i.get("sdk") not in covered_sdks]
    return result


def build_incident_alert(
    incidents: list[dict], *, dag_id: str, logical_date: str, run_id: str, report: str
) -> Alert:
    """One alert for the run's incidents, each naming its SDKs (untrusted text made inert as in alerts.py)."""
    top = {
        key: clean_text(value, TOP_LEVEL_LIMITS[key])
        for key, value in (
            ("dag_id", dag_id),
            ("logical_date", logical_date),
            ("run_id", run_id),
            ("report", report),
        )
    }
    cleaned = []
    for incident in incidents:
        item = {
            "kind": incident["kind"],
            "key": clean_text(incident["key"], 200),
            "sdks": [clean_text(s, 40) for s in incident["sdks"]],
        }
        if incident["kind"] == SCENARIO:
            item["tests"] = {
                clean_text(sdk, 40): [clean_text(t, 300) for t in tests]
                for sdk, tests in incident["tests"].items()
            }
        else:
            item["reasons"] = {
                clean_text(sdk, 40): clean_text(r, 500) for sdk, r in incident["reasons"].items()
            }
        cleaned.append(item)
    day = top["logical_date"][:10]
    first = cleaned[0]
    what = "fails" if first["kind"] == SCENARIO else "hits"
    headline = f"{first['key']} {what} in {len(first['sdks'])} SDKs: {', '.join(first['sdks'])}"
    more = f" (+{len(cleaned) - 1} more)" if len(cleaned) > 1 else ""
    subject = _ascii_line(f"{top['dag_id'][:50]} {day}: cross-SDK incident: {headline}{more}")
    if len(subject) > MAX_SUBJECT_CHARS:
        subject = subject[: MAX_SUBJECT_CHARS - 3].rstrip() + "..."
    lines = [f"{inert(top['dag_id'])}: run {code(top['run_id'])}: {len(cleaned)} cross-SDK incident(s)", ""]
    for item in cleaned:
        sdks = ", ".join(inert(s) for s in item["sdks"])
        if item["kind"] == SCENARIO:
            lines.append(f"Scenario {code(item['key'])} fails in {len(item['sdks'])} SDKs: {sdks}")
            lines += [
                f"  - [{inert(sdk)}] {', '.join(code(t) for t in tests)}"
                for sdk, tests in item["tests"].items()
            ]
        else:
            lines.append(f"Infrastructure failure {code(item['key'])} in {len(item['sdks'])} SDKs: {sdks}")
            lines += [f"  - [{inert(sdk)}] {code(reason)}" for sdk, reason in item["reasons"].items()]
        lines.append("")
    lines.append("Per-SDK alerts for these are not sent: it is the service or the account, not each SDK.")
    lines.append(f"Report: {inert(top['report'])}" if top["report"] else "Report: (none was written)")
    text = "\n".join(lines)
    payload = {**top, "kind": "cross_sdk_incident", "subject": subject, "text": text, "incidents": cleaned}
    return Alert(subject=subject, text=text, payload=payload)
