"""Quarantine: known-bad tests keep running and are recorded, but count toward no pass rate, verdict or
alert (docs/quarantine.md).

Where entries come from, merged in this order (a later one replaces an earlier one of the same SDK and
test pattern; a removal drops it):

1. `quarantine.tests` in the campaign config;
2. the changes made on the SDK Health page, each one a JSON document of its own under
   `<history>/<dag_id>/_quarantine/`, never rewritten: who, when, why and what. They are the audit log
   the page shows, and replaying them in order gives the page's entries (two people saving at once both
   land: nothing is read-modified-written).

An entry is in force through its `expires` day (UTC) and ends by itself after it. A run decides once:
the first of validate, publish and verdict to need the quarantine writes the entries in force to
`<dag_id>/<run_id>/attempt-<n>/quarantine.json` in the results bucket, and all three use that copy, so a
change on the page in the middle of a run never splits its decisions.

Applying it to an SDK's outcome marks every test row `quarantined` (true or false; the history keeps the
column), takes the quarantined rows out of the counts (they are reported as `counts.quarantined` and
`counts.quarantined_failed`), and turns `tests_failed` into `passed` when only quarantined tests failed.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, date, datetime, timedelta

from pydantic import ValidationError

from sdk_campaigns.campaign.collect import SDK_PASSED, SDK_TESTS_FAILED, count_rows
from sdk_campaigns.campaign.test_patterns import row_matches, sdk_matches, test_name
from sdk_campaigns.config import CampaignConfig, QuarantineEntry

log = logging.getLogger(__name__)

CHANGES_FOLDER = "_quarantine"
RUN_FILE = "quarantine.json"
ACTIONS = ("add", "remove")
ENTRY_KEYS = tuple(QuarantineEntry.model_fields)  # sdk, test, reason, owner, expires
MAX_WHY_CHARS = 500
MAX_RUNS_READ = 40  # per SDK, looking for a quarantined test's streak of passes


class QuarantineError(ValueError):
    """A quarantine change that cannot be made; the message says what to fix."""


def _entry_dict(entry: QuarantineEntry, **provenance) -> dict:
    return {**entry.model_dump(mode="json"), **provenance}


def key(entry: dict) -> tuple[str, str]:
    return entry["sdk"], entry["test"]


def in_force(entry: dict, today: date) -> bool:
    return date.fromisoformat(entry["expires"]) >= today


def _today(now: datetime | None) -> date:
    return (now or datetime.now(UTC)).astimezone(UTC).date()


# --- the page's changes: the audit log ---------------------------------------------------------------


def record_change(
    uri: str,
    dag_id: str,
    *,
    action: str,
    entry: dict,
    why: str,
    by: str,
    max_days: int | None = None,
    now: datetime | None = None,
) -> dict:
    """Append one change (add or remove an entry) to the audit log; returns the change as stored.

    An added entry is checked like a config one, and its expiry must be from today to `max_days` ahead."""
    from sdk_campaigns.history.documents import write_document

    now = now or datetime.now(UTC)
    if action not in ACTIONS:
        raise QuarantineError(f"action {action!r} is none of {', '.join(ACTIONS)}")
    why = " ".join((why or "").split())
    if not why:
        raise QuarantineError("say why: every quarantine change is audited with its reason")
    if len(why) > MAX_WHY_CHARS:
        raise QuarantineError(f"the reason is over {MAX_WHY_CHARS} characters")
    if not by:
        raise QuarantineError("a quarantine change needs the user who makes it")
    try:
        checked = QuarantineEntry.model_validate(
            {k: entry.get(k) for k in ENTRY_KEYS} if action == "add" else _removal_placeholder(entry)
        )
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise QuarantineError(f"not a quarantine entry: {problems}") from None
    if action == "add":
        today = _today(now)
        if checked.expires < today:
            raise QuarantineError(f"expiry {checked.expires} is in the past")
        if max_days is not None and checked.expires > today + timedelta(days=max_days):
            raise QuarantineError(
                f"expiry {checked.expires} is more than quarantine.max_days ({max_days}) ahead: "
                f"pick {today + timedelta(days=max_days)} or sooner"
            )
    change_id = f"{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(4)}"
    change = {
        "id": change_id,
        "at": now.isoformat(),
        "by": by[:200],
        "action": action,
        "why": why,
        "entry": checked.model_dump(mode="json")
        if action == "add"
        else {"sdk": checked.sdk, "test": checked.test},
    }
    write_document(uri, dag_id, CHANGES_FOLDER, f"{change_id}.json", change)
    log.info("quarantine %s of %s %s by %s: %s", action, checked.sdk, checked.test, by, why)
    return change


def _removal_placeholder(entry: dict) -> dict:
    # A removal names the entry only; the other fields are checked for an addition.
    return {
        "sdk": entry.get("sdk"),
        "test": entry.get("test"),
        "reason": "-",
        "owner": "-",
        "expires": "2000-01-01",
    }


def audit_log(uri: str, dag_id: str) -> list[dict]:
    """Every change made on the page, oldest first. A document that is not a change (written by hand
    into the history) is left out, with a warning."""
    from sdk_campaigns.history.documents import list_documents, read_document

    changes = []
    for name in list_documents(uri, dag_id, CHANGES_FOLDER):
        document = read_document(uri, dag_id, CHANGES_FOLDER, name)
        if _is_change(document):
            changes.append(document)
        else:
            log.warning("quarantine change %s is not one the page writes: ignored", name)
    return sorted(changes, key=lambda c: c["id"])


def _is_change(document: dict | None) -> bool:
    if not isinstance(document, dict) or document.get("action") not in ACTIONS:
        return False
    if not all(isinstance(document.get(k), str) and document[k] for k in ("id", "at", "by", "why")):
        return False
    entry = document.get("entry")
    if not isinstance(entry, dict):
        return False
    try:
        QuarantineEntry.model_validate(
            {k: entry.get(k) for k in ENTRY_KEYS}
            if document["action"] == "add"
            else _removal_placeholder(entry)
        )
    except ValidationError:
        return False
    return True


# --- the entries --------------------------------------------------------------------------------------


def merged_entries(config: CampaignConfig, changes: list[dict]) -> list[dict]:
    """Config entries, then the page's changes replayed in order; expired ones included (see in_force).
    Each entry says where it comes from: `source` "config" or "page" (with `changed_by`, `changed_at`)."""
    entries: dict[tuple[str, str], dict] = {}
    for entry in config.quarantine.tests:
        item = _entry_dict(entry, source="config")
        entries[key(item)] = item
    for change in changes:
        item = change["entry"]
        if change["action"] == "remove":
            entries.pop(key(item), None)
        else:
            entries[key(item)] = {
                **{k: item[k] for k in ENTRY_KEYS},
                "source": "page",
                "changed_by": change["by"],
                "changed_at": change["at"],
            }
    return sorted(entries.values(), key=key)


def current_entries(config: CampaignConfig, uri: str) -> list[dict]:
    return merged_entries(config, audit_log(uri, config.campaign.dag_id))


def entries_in_force(entries: list[dict], now: datetime | None = None) -> list[dict]:
    today = _today(now)
    return [e for e in entries if in_force(e, today)]


# --- one run's decision ---------------------------------------------------------------------------------


def for_run(
    s3, bucket: str, run_prefix: str, config: CampaignConfig, *, now: datetime | None = None
) -> list[dict]:
    """The entries this run goes by: its saved copy, else those in force now (saved for the run's other
    tasks). A copy that is not a list of entries is replaced, with a warning."""
    file_key = f"{run_prefix}{RUN_FILE}"
    try:
        body = s3.get_object(Bucket=bucket, Key=file_key)["Body"].read(1024 * 1024)
        saved = json.loads(body).get("entries")
        return [_entry_dict(QuarantineEntry.model_validate({k: e[k] for k in ENTRY_KEYS})) for e in saved]
    except s3.exceptions.NoSuchKey:
        pass
    except (ValueError, TypeError, KeyError, AttributeError, ValidationError) as err:
        log.warning("s3://%s/%s is not a quarantine copy (%s): deciding again", bucket, file_key, err)
    found = entries_in_force(current_entries(config, config.history_uri()), now)
    document = {"decided_at": (now or datetime.now(UTC)).isoformat(), "entries": found}
    s3.put_object(
        Bucket=bucket, Key=file_key, Body=json.dumps(document).encode(), ContentType="application/json"
    )
    log.info("quarantine for this run: %d entries in force", len(found))
    return found


def apply(outcome: dict, entries: list[dict]) -> dict:
    """The outcome with its rows marked, its counts without the quarantined rows, and `tests_failed`
    turned `passed` when only quarantined tests failed (see the module doc). The outcome given is left
    as it was."""
    sdk = outcome["sdk"]
    mine = [e for e in entries if sdk_matches(e["sdk"], sdk)]
    rows = []
    for row in outcome.get("rows", []):
        quarantined = any(row_matches(e["sdk"], e["test"], row) for e in mine)
        rows.append({**row, "quarantined": quarantined})
    kept = [r for r in rows if not r["quarantined"]]
    held = [r for r in rows if r["quarantined"]]
    if not held:
        return {**outcome, "rows": rows}
    counts = count_rows(kept)
    held_failing = sum(r.get("status") in ("failed", "error") for r in held)
    counts.update(quarantined=len(held), quarantined_failed=held_failing)
    failing = counts["failed"] + counts["error"]
    status, reason = outcome["status"], outcome["reason"]
    note = f"{len(held)} quarantined test{'s' if len(held) != 1 else ''} not counted ({held_failing} failed)"
    if status == SDK_TESTS_FAILED and not failing:
        status = SDK_PASSED
        reason = f"all {counts['total']} counted tests passed or were skipped; {note}"
    elif status == SDK_TESTS_FAILED:
        reason = f"{failing} of {counts['total']} counted tests failed; {note}"
    elif status == SDK_PASSED:
        reason = f"{reason}; {note}"
    return {**outcome, "rows": rows, "counts": counts, "status": status, "reason": reason}


def apply_to_run(outcomes: list[dict], entries: list[dict]) -> list[dict]:
    return [apply(outcome, entries) for outcome in outcomes]


def quarantined_tests(outcomes: list[dict]) -> set[tuple[str, str]]:
    """(sdk, test_id) of every row marked quarantined."""
    return {(r["sdk"], r["test_id"]) for o in outcomes for r in o.get("rows", []) if r.get("quarantined")}


def without_quarantined(findings: dict, quarantined: set[tuple[str, str]]) -> dict:
    """The run's findings without the tests quarantined in it: they alert nobody."""
    tests = ("regressions", "new_flaky", "fixed")
    return {
        **findings,
        **{
            category: [
                i for i in findings.get(category, []) if (i.get("sdk"), i.get("test_id")) not in quarantined
            ]
            for category in tests
        },
    }


# --- ready to release --------------------------------------------------------------------------------


def release_status(uri: str, dag_id: str, entries: list[dict], ready_after: int) -> list[dict]:
    """Each entry with the tests it matched in the SDK's recent official runs and how many times in a row
    each passed since it last failed (skipped runs neither count nor break a streak). `ready` when it
    matched tests and every one passed `ready_after` times in a row: the quarantine can end."""
    from sdk_campaigns import history

    runs_by_sdk: dict[str, list[list[dict]]] = {}
    limit = min(MAX_RUNS_READ, 2 * ready_after + 5)  # room for skipped runs, which do not count
    result = []
    for entry in entries:
        tests: dict[str, dict] = {}
        sdks = [entry["sdk"]] if entry["sdk"] != "*" and "*" not in entry["sdk"] else None
        for sdk, runs in _recent_runs(uri, dag_id, sdks, runs_by_sdk, history, limit).items():
            if not sdk_matches(entry["sdk"], sdk):
                continue
            for rows in runs:  # newest first
                outcomes: dict[str, str] = {}
                for row in rows:
                    if row_matches(entry["sdk"], entry["test"], row):
                        name = f"[{sdk}] {test_name(row['classname'], row['name'])}"
                        failed = row["status"] in ("failed", "error")
                        previous = outcomes.get(name)
                        outcomes[name] = (
                            "failed"
                            if failed or previous == "failed"
                            else (
                                "passed" if row["status"] == "passed" or previous == "passed" else "skipped"
                            )
                        )
                for name, outcome in outcomes.items():
                    state = tests.setdefault(
                        name, {"test": name, "passes_in_a_row": 0, "last": outcome, "done": False}
                    )
                    if state["done"] or outcome == "skipped":
                        continue
                    if outcome == "passed":
                        state["passes_in_a_row"] += 1
                    else:
                        state["done"] = True
        found = [
            {k: v for k, v in t.items() if k != "done"}
            for t in sorted(tests.values(), key=lambda t: t["test"])
        ]
        ready = bool(found) and all(t["passes_in_a_row"] >= ready_after for t in found)
        result.append({**entry, "tests": found, "ready": ready})
    return result


def _recent_runs(uri, dag_id, sdks, cache, history, limit) -> dict[str, list[list[dict]]]:
    """sdk -> the rows of its newest official runs with test rows, newest first (read once per SDK)."""
    import pyarrow.compute as pc

    if sdks is None or any(sdk not in cache for sdk in sdks):
        table = history.summaries_table(uri, dag_id)
        if "lane" in table.column_names:  # ad hoc runs say nothing about the official record
            table = table.filter(pc.fill_null(pc.equal(table.column("lane"), "official"), True))
        table = table.filter(pc.greater(pc.fill_null(table.column("row_count"), 0), 0))
        records = table.select(["sdk", "logical_time", "rows_path"]).to_pylist()
        for sdk in {r["sdk"] for r in records} | set(sdks or ()):
            if sdk in cache:
                continue
            newest = sorted(
                (r for r in records if r["sdk"] == sdk), key=lambda r: r["logical_time"], reverse=True
            )
            paths = [r["rows_path"] for r in newest[:limit]]
            rows = history.read_rows_files(uri, paths, ["test_id", "classname", "name", "status"]).to_pylist()
            runs: list[list[dict]] = [[] for _ in paths]
            for row in rows:
                runs[row.pop("file_index")].append({**row, "sdk": sdk})
            cache[sdk] = runs
    return cache if sdks is None else {sdk: cache[sdk] for sdk in sdks}


def run_entries(s3, config: CampaignConfig, run) -> list[dict]:
    """for_run's entries; when the page's changes or the run's copy cannot be reached, the config's
    entries alone (logged): the run's results must still land."""
    try:
        return for_run(s3, config.campaign.results_bucket, run.results_prefix, config)
    except Exception as err:  # history or bucket unreachable: boto, pyarrow and OS errors alike
        log.error("the quarantine could not be decided (%s): only the config's entries apply", err)
        return entries_in_force(merged_entries(config, []))


def judged_outcomes(s3, config: CampaignConfig, run) -> list[dict]:
    """Every planned SDK's outcome (outcomes.read_outcomes, checked) with the run's quarantine applied:
    what validate, publish and the verdict go by (tasks set the history's connection first)."""
    from sdk_campaigns.campaign import outcomes

    found = outcomes.read_outcomes(s3, config.campaign.results_bucket, run, config.limits)
    return apply_to_run(found, run_entries(s3, config, run))
