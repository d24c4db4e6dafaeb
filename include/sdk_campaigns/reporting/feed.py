"""The campaign's JSON feed and its shields.io endpoint badges, from the dashboard's answers.

Written next to the reports (see publishing.py for the folder)::

    <report_dir>/<dag_id>/feed.json
    <report_dir>/<dag_id>/badges/<sdk>.json

A badge is a shields.io "endpoint" document: https://img.shields.io/endpoint?url=<public URL
of badges/python.json> draws it. The feed's ``schema_version`` changes only when a field
changes meaning or goes away; new fields may appear at any time.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from sdk_campaigns.reporting.charts import logical_time, status_label
from sdk_campaigns.reporting.publishing import write_atomically

SCHEMA_VERSION = 1
RECENT_RUNS = 30
FEED_FILE = "feed.json"
BADGES_FOLDER = "badges"
BADGE_COLOUR = {
    "passed": "brightgreen",
    "tests_failed": "red",
    "infrastructure_failed": "orange",
    "results_invalid": "blueviolet",
    None: "lightgrey",
}
_TEST_KEYS = ("test_id", "classname", "name")


def badge_file_name(sdk: str) -> str:
    """The badge's file name: the SDK name made safe for a path (never hidden, never empty)."""
    return (re.sub(r"[^A-Za-z0-9._-]", "_", sdk).lstrip(".") or "_") + ".json"


def badge(sdk: str, latest_summary: dict | None) -> dict:
    """The shields.io endpoint badge of an SDK's newest run.

    `latest_summary`: that run's status and counts, either flat (an analytics.pass_fail_history
    entry) or with a "counts" dict (a history summary); None or {} when the SDK has no run."""
    summary = latest_summary or {}
    status = summary.get("status")
    counts = summary.get("counts") or summary
    if status == "passed":
        message = "passing"
    elif status == "tests_failed":
        failing = (counts.get("failed") or 0) + (counts.get("error") or 0)
        message = f"{failing} failing" if failing else "failing"
    elif status == "infrastructure_failed":
        message = "infra failed"
    elif status == "results_invalid":
        message = "results invalid"
    else:
        message, status = "no data", None
    return {"schemaVersion": 1, "label": f"{sdk} sdk", "message": message, "color": BADGE_COLOUR[status]}


def _tests(tests: list[dict]) -> list[dict]:
    return [{k: t.get(k) for k in _TEST_KEYS} for t in tests]


def _history_by_sdk(history: list[dict]) -> dict[str, list[dict]]:
    by_sdk: dict[str, list[dict]] = {}
    for entry in sorted(history, key=lambda e: logical_time(e["logical_date"])):
        by_sdk.setdefault(entry["sdk"], []).append(entry)
    return by_sdk


def campaign_feed(
    dashboard: dict,
    *,
    run_links: dict[str, str] | None = None,
    base_url: str = "",
    generated_at: datetime | None = None,
    recent_runs: int = RECENT_RUNS,
) -> dict:
    """The feed: per SDK its newest run (status, pass rate, counts, link), broken since, test
    changes, flaky tests and duration regressions, and its last `recent_runs` runs.

    run_links: run_id -> link to that run's report, relative to the DAG's published folder (or
    absolute). base_url: prepended to every relative link in the feed (badges, reports, latest
    report), e.g. the public URL of the DAG's published folder with a trailing slash."""
    run_links = run_links or {}

    def link(relative: str | None) -> str | None:
        if not relative:
            return None
        return relative if "://" in relative else base_url + relative

    history = _history_by_sdk(dashboard.get("pass_fail_history", []))
    broken = dashboard.get("broken_since", {})
    changes = dashboard.get("test_changes", {})
    sdks = {}
    for sdk in sorted(set(history) | set(broken)):
        runs = history.get(sdk, [])
        latest = runs[-1] if runs else {}
        state = broken.get(sdk, {})
        change = changes.get(sdk, {})
        sdks[sdk] = {
            "status": latest.get("status") or state.get("status"),
            "status_label": status_label(latest.get("status") or state.get("status")),
            "logical_date": latest.get("logical_date") or state.get("latest"),
            "run_id": latest.get("run_id"),
            "pass_rate": latest.get("pass_rate"),
            "counts": {
                k: latest[k] for k in ("passed", "failed", "error", "skipped", "total") if k in latest
            },
            "report": link(run_links.get(latest.get("run_id"))),
            "broken_since": state.get("broken_since"),
            "failing_runs": state.get("failing_runs", 0),
            "last_passed": state.get("last_passed"),
            "commit": latest.get("commit"),
            "last_passed_commit": state.get("last_passed_commit"),
            "first_failing_commit": state.get("first_failing_commit"),
            "compare_url": state.get("compare_url"),
            "badge": link(f"{BADGES_FOLDER}/{badge_file_name(sdk)}"),
            "newly_failing": _tests(change.get("newly_failing", [])),
            "newly_fixed": _tests(change.get("newly_fixed", [])),
            "flaky_tests": [
                {**{k: t.get(k) for k in _TEST_KEYS}, "last_failed": t.get("last_failed")}
                for t in dashboard.get("flaky_tests", [])
                if t["sdk"] == sdk
            ],
            "duration_regressions": [
                {k: r.get(k) for k in (*_TEST_KEYS, "duration", "median", "ratio")}
                for r in dashboard.get("duration_regressions", [])
                if r["sdk"] == sdk
            ],
            "recent": [
                {k: e.get(k) for k in ("logical_date", "run_id", "status", "pass_rate")}
                for e in runs[-recent_runs:]
            ],
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "dag_id": dashboard.get("dag_id"),
        "generated_at": (generated_at or datetime.now(UTC)).isoformat(),
        "latest_report": link("latest.html"),
        "sdks": sdks,
    }


def write_feed(
    report_dir: Path,
    dashboard: dict,
    *,
    run_links: dict[str, str] | None = None,
    base_url: str = "",
    generated_at: datetime | None = None,
) -> list[Path]:
    """Write feed.json and one badge per SDK under <report_dir>/<dag_id>/, each atomically.

    Returns the paths written, feed.json first."""
    feed = campaign_feed(dashboard, run_links=run_links, base_url=base_url, generated_at=generated_at)
    dag_dir = Path(report_dir) / feed["dag_id"]
    feed_path = dag_dir / FEED_FILE
    written = [feed_path]
    for sdk, state in feed["sdks"].items():
        path = dag_dir / BADGES_FOLDER / badge_file_name(sdk)
        latest = {"status": state["status"], **state["counts"]}
        write_atomically(path, json.dumps(badge(sdk, latest)) + "\n")
        written.append(path)
    write_atomically(feed_path, json.dumps(feed, indent=1, ensure_ascii=False) + "\n")
    return written
