"""The static HTML report of one campaign run, with each SDK's recent history and, given the
dashboard's answers, the SDK health section (heatmap, trends, broken since, regressions,
flaky and slow tests: see dashboard.py).

Self-contained (no scripts, no CDN, no fetch of any kind). The page is templates/report.html.j2:
every string that came from a container (test names, messages, log lines) is escaped by the
template's autoescape.

Links between reports are relative to the run's folder (``<report_dir>/<dag_id>/<run>/``), so
they work from file://, from a web server and from S3 alike; latest.html, one folder up,
carries a <base> pointing into its run's folder so that the same links work there too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from sdk_campaigns.campaign.commits import commit_url
from sdk_campaigns.campaign.owners import Owners
from sdk_campaigns.campaign.test_patterns import test_name
from sdk_campaigns.reporting import templating
from sdk_campaigns.reporting.charts import STATUS_LABEL, logical_time
from sdk_campaigns.reporting.dashboard import dashboard_view
from sdk_campaigns.reporting.feed import BADGES_FOLDER, FEED_FILE
from sdk_campaigns.reporting.publishing import write_atomically
from sdk_campaigns.reporting.triage_view import triage_view

REPORT_FILE = "report.html"
LATEST_FILE = "latest.html"
DATA_DOCS_FOLDER = "data-docs"
# Names in the DAG's report folder (or beside a run's report) that no run's folder may take.
RESERVED_NAMES = frozenset({LATEST_FILE, FEED_FILE, BADGES_FOLDER, DATA_DOCS_FOLDER, REPORT_FILE})
# Airflow's own run ids, <run type>__<UTC time in ISO 8601>[_<random suffix>] (DagRun.generate_run_id),
# keep the folders they always had: ':' and '+' written '_'. In this shape they sit at fixed places,
# so no two such ids share a folder.
_AIRFLOW_RUN_ID = re.compile(
    r"[a-z_]+__\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?\+00:00(?:_[A-Za-z0-9]{1,64})?"
)
_AIRFLOW_RUN_FOLDER = re.compile(
    r"[a-z_]+__\d{4}-\d\d-\d\dT\d\d_\d\d_\d\d(?:\.\d{1,6})?_00_00(?:_[A-Za-z0-9]{1,64})?"
)
_PLAIN_RUN_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")
_NOT_READABLE = re.compile(r"[^A-Za-z0-9_-]+")
RUN_HASH_SEPARATOR = "~"  # only in folders of hashed run ids: never in a run id kept as its folder


def _seconds(value) -> str:
    return f"{value:.1f} s" if isinstance(value, int | float) else "–"


def _commit(summary: dict) -> dict:
    """The code an SDK's run tested, as the report shows it."""
    commit = summary.get("commit") or "unknown"
    return {
        "commit": commit[:12] if len(commit) > 20 else commit,
        "commit_kind": summary.get("commit_kind") or "unknown",
        "commit_href": commit_url(summary.get("repo_url"), commit),
        "repo_url": summary.get("repo_url") or "",
    }


def _overrides(summary: dict) -> str:
    """The overrides an ad hoc run used, as compact JSON; "" for none."""
    raw = summary.get("overrides") or "{}"
    return "" if raw in ("{}", {}) else raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True)


def _sdk_view(partition: dict, test_link=None, owners=None) -> dict:
    """One SDK's row in the "Per SDK" table and its section, as report.html.j2 shows them; with `owners`
    (TESTOWNERS), the SDK's owner and each failing test's."""
    s, rows = partition["summary"], partition["rows"]
    owners = owners or Owners()
    sdk_owner = owners.owner_of_sdk(s["sdk"])
    counts = s.get("counts", {})
    return {
        **_commit(s),
        "overrides": _overrides(s),
        "sdk": s["sdk"],
        "status": s["status"],
        "status_label": STATUS_LABEL.get(s["status"], s["status"]),
        **{outcome: counts.get(outcome, 0) for outcome in ("passed", "failed", "error", "skipped")},
        "job_seconds": _seconds(s.get("job_seconds")),
        "reason": s.get("reason", ""),
        "image": (s.get("image_digest") or "")[:19],
        "results_uri": s.get("results_uri", ""),
        "log_stream": s.get("log_stream") or "none",
        "metrics": [f"{name} {value:g}" for name, value in sorted((s.get("metrics") or {}).items())],
        "tests": [
            {
                "name": f"{r['classname']}.{r['name']}" if r["classname"] else r["name"],
                "href": test_link(s["sdk"], r["test_id"]) if test_link else None,
                "status": r["status"],
                "duration": _seconds(r["duration"]),
                "message": r["message"],
                "quarantined": bool(r.get("quarantined")),
                "owner": _test_owner(owners, s["sdk"], r) if r["status"] in ("failed", "error") else "",
            }
            for r in sorted(rows, key=lambda r: (r["status"] == "passed", r["classname"], r["name"]))
        ],
        "log_excerpt": s.get("log_excerpt") or [],
        "owner": sdk_owner.owner if sdk_owner else "",
        "quarantined": (s.get("counts") or {}).get("quarantined", 0),
    }


def _test_owner(owners: Owners, sdk: str, row: dict) -> str:
    rule = owners.owner_of(sdk, test_name(row.get("classname"), row.get("name")), row.get("test_id") or "")
    return rule.owner if rule else ""


def _history_view(history: list[dict]) -> list[tuple[str, list[dict]]]:
    """(sdk, its last 30 runs oldest first) for each SDK, by name."""
    by_sdk: dict[str, list[dict]] = {}
    for summary in history:
        by_sdk.setdefault(summary["sdk"], []).append(summary)
    return [
        (
            sdk,
            [
                {
                    "status": r["status"],
                    "logical_date": r["logical_date"],
                    "status_label": STATUS_LABEL.get(r["status"], r["status"]),
                }
                for r in runs[-30:]
            ],
        )
        for sdk, runs in sorted(by_sdk.items())
    ]


def render_report(
    *,
    dag_id: str,
    run_id: str,
    logical_date: str,
    partitions: list[dict],
    validation: dict,
    history: list[dict],
    dashboard: dict | None = None,
    lane: str = "official",
    test_link=None,
    triage: dict | None = None,
) -> str:
    """The run's report. `history`: the DAG's summaries of the run's lane (history.read_summaries);
    `dashboard`: analytics.dashboard's answers, shown as the SDK health section when given;
    test_link(sdk, test_id): the link of that test's history page from the run's folder, or None;
    `triage`: the run's cross-SDK incidents, the quarantine's release status and the owners
    (publish.report_triage)."""
    board = None
    if dashboard is not None:
        board = dashboard_view(
            dashboard,
            run_links=run_report_links(history, base="../"),
            log_links=run_log_links(history, base="../"),
            test_link=test_link,
        )
    return templating.render(
        "report.html.j2",
        dag_id=dag_id,
        run_id=run_id,
        logical_date=logical_date,
        validation=validation.get("summary", "not run"),
        data_docs=bool(validation.get("data_docs")),
        lane=lane,
        sdks=[_sdk_view(partition, test_link, triage and triage["owners"]) for partition in partitions],
        history=_history_view(history),
        board=board,
        triage=triage and triage_view(sdks=[p["summary"]["sdk"] for p in partitions], **triage),
        quarantine_link=None,
    )


def run_folder(run_id: str) -> str:
    """The folder of a run's report inside the DAG's report folder: a different one for every run id.

    - Airflow's own run ids: ':' and '+' written '_' (scheduled__2026-11-02T06_00_00_00_00);
    - any other id of letters, digits, '.', '_' and '-' that is no reserved name (latest.html,
      feed.json, badges, data-docs), does not start with '.' and does not look like the first kind:
      the id itself;
    - everything else (`.`, `..`, `latest.html`, a manual `scheduled__…T06_00_00_00_00`, '/', spaces,
      non-ASCII): a readable part, '~' and 16 hex digits of the id's SHA-256.

    The three kinds never meet ('~' is only in the third, the first's shape is excluded from the
    second), so folders differ whenever run ids do, barring a 64-bit hash collision.
    """
    if _AIRFLOW_RUN_ID.fullmatch(run_id):
        return run_id.replace(":", "_").replace("+", "_")
    if (
        _PLAIN_RUN_ID.fullmatch(run_id)
        and run_id.lower() not in RESERVED_NAMES
        and not _AIRFLOW_RUN_FOLDER.fullmatch(run_id)
    ):
        return run_id
    readable = _NOT_READABLE.sub("_", run_id)[:80]
    digest = hashlib.sha256(run_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{readable}{RUN_HASH_SEPARATOR}{digest}"


def report_path(report_dir: Path, dag_id: str, run_id: str) -> Path:
    return report_dir / dag_id / run_folder(run_id) / REPORT_FILE


def run_report_links(summaries: list[dict], base: str = "") -> dict[str, str]:
    """run_id -> link to its report, for the runs whose history summary records a report.

    `base` leads from the linking page's folder to the DAG's report folder: "../" from a run's
    report, "" from the DAG's folder itself (feed.json)."""
    return {
        s["run_id"]: f"{base}{run_folder(s['run_id'])}/{REPORT_FILE}"
        for s in summaries
        if s.get("report") and s.get("run_id")
    }


def run_log_links(summaries: list[dict], base: str = "") -> dict[tuple[str, str], str]:
    """(sdk, run_id) -> the SDK's section (job log tail, log stream) in that run's report."""
    reports = run_report_links(summaries, base)
    return {
        (s["sdk"], s["run_id"]): f"{reports[s['run_id']]}#sdk-{quote(s['sdk'], safe='')}"
        for s in summaries
        if s.get("run_id") in reports
    }


def is_newest_run(summaries: Iterable[dict], logical_date: str, *, now: datetime | None = None) -> bool:
    """Whether no summary up to now has a later logical date: a backfill of an old date must not
    become latest.html, and neither may a run whose logical date is still to come (a manual run far
    in the future would pin it), nor stop later runs from becoming it."""
    now = now or datetime.now(UTC)
    this = logical_time(logical_date)
    if this > now:
        return False
    return all(
        logical_time(s["logical_date"]) <= this for s in summaries if logical_time(s["logical_date"]) <= now
    )


def write_report(path: Path, html: str, *, update_latest: bool = True) -> None:
    """Write the run's report and (unless told otherwise) refresh latest.html beside the runs,
    each atomically. latest.html gets a <base> into the run's folder, so relative links (Data
    Docs, other runs' reports) resolve as they do from the run's own report."""
    write_atomically(path, html)
    if update_latest:
        base = f"<head><base href='{quote(path.parent.name)}/'>"
        write_atomically(path.parents[1] / LATEST_FILE, html.replace("<head>", base, 1))
