"""The SDK health dashboard as one self-contained HTML fragment.

The published report embeds it, and so can any other page (the Airflow plugin's "SDK Health"
view): it carries its own <style>, scoped to ``section.sdk-health``, and no script, and it
assumes nothing about the page around it. Links come from the caller, because only the caller
knows where runs and logs live for its readers (a report folder, S3, the Airflow UI).

Input: `analytics.dashboard(...)`. Every name, message and link in it is treated as untrusted:
`dashboard_view` shapes it into plain values and templates/dashboard.html.j2 escapes them.
"""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup

from sdk_campaigns.history.analytics import (
    FLAKY_CLEARED_AFTER,
    FLAKY_WINDOW_DAYS,
    REGRESSION_MIN_RATIO,
    REGRESSION_MIN_SAMPLES,
    REGRESSION_MIN_SECONDS,
)
from sdk_campaigns.reporting import charts, templating
from sdk_campaigns.reporting.charts import percent, status_label

FLAKY_RULE = (
    f"A test is flaky when, within the last {FLAKY_WINDOW_DAYS} days, it both failed and later passed "
    "on the same commit (the code under test: the resolved git commit, or the content tag of the image for "
    f"its own sample suite). It is cleared after {FLAKY_CLEARED_AFTER} passes in a row since its last "
    "failure. A test that passed on one commit and fails on another changed; a test that keeps failing "
    "is broken, not flaky."
)
DURATION_RULE = (
    f"Tests of each SDK's newest run that took at least {REGRESSION_MIN_RATIO:g} times their median "
    f"over at least {REGRESSION_MIN_SAMPLES} earlier runs of the last {FLAKY_WINDOW_DAYS} days, "
    f"and at least {REGRESSION_MIN_SECONDS:g} s more."
)


def _short(commit: str | None) -> str:
    """A commit as a table shows it: 12 hex digits of a SHA, "–" when there is none."""
    if not commit or commit == "unknown":
        return "–"
    return commit[:12] if len(commit) > 20 else commit


def _test_href(test_link, sdk: str, test: dict) -> str | None:
    return test_link(sdk, test["test_id"]) if test_link and test.get("test_id") else None


def _display_name(test: dict) -> str:
    """A test's display name: classname.name, or name alone."""
    classname, name = test.get("classname") or "", test.get("name") or test.get("test_id", "")
    return f"{classname}.{name}" if classname else name


def _seconds(value) -> str:
    return f"{value:.2f} s" if isinstance(value, int | float) else "–"


def _status(status: str | None) -> dict:
    return {"css": status if status in charts.STATUS_COLOUR else "no_run", "label": status_label(status)}


def _latest_runs(history: list[dict]) -> dict[str, dict]:
    """Each SDK's newest pass_fail_history entry."""
    latest: dict[str, dict] = {}
    for entry in history:
        current = latest.get(entry["sdk"])
        if current is None or charts.logical_time(entry["logical_date"]) >= charts.logical_time(
            current["logical_date"]
        ):
            latest[entry["sdk"]] = entry
    return latest


def _run_and_logs(sdk: str, run_id: str | None, run_links: dict, log_links: dict) -> list[tuple[str, str]]:
    """(label, URL) of the run and of the SDK's log in it; the template drops missing and unsafe ones."""
    if not run_id:
        return []
    return [("run", run_links.get(run_id)), ("logs", log_links.get((sdk, run_id)))]


def _current_state(dashboard: dict, run_links: dict, log_links: dict) -> list[dict]:
    latest = _latest_runs(dashboard.get("pass_fail_history", []))
    broken = dashboard.get("broken_since", {})
    rows = []
    for sdk in sorted(set(latest) | set(broken)):
        entry, state = latest.get(sdk, {}), broken.get(sdk, {})
        rows.append(
            {
                "sdk": sdk,
                "status": _status(state.get("status") or entry.get("status")),
                "logical_date": state.get("latest") or entry.get("logical_date") or "",
                "pass_rate": percent(entry.get("pass_rate")),
                "broken_since": state.get("broken_since") or "–",
                "failing_runs": state.get("failing_runs", 0),
                "last_passed": state.get("last_passed") or "never",
                "last_passed_commit": _short(state.get("last_passed_commit")),
                "first_failing_commit": _short(state.get("first_failing_commit")),
                "compare": state.get("compare_url"),
                "links": _run_and_logs(sdk, entry.get("run_id"), run_links, log_links),
            }
        )
    return rows


def _changes(dashboard: dict, run_links: dict, log_links: dict, test_link) -> list[dict]:
    runs = {(e["sdk"], e["logical_date"]): e.get("run_id") for e in dashboard.get("pass_fail_history", [])}
    rows = []
    for sdk, change in sorted(dashboard.get("test_changes", {}).items()):
        compared = f"{change.get('logical_date') or ''} vs {change.get('previous_logical_date') or ''}"
        links = _run_and_logs(sdk, runs.get((sdk, change.get("logical_date"))), run_links, log_links)
        for kind, tests in (("newly failing", change["newly_failing"]), ("fixed", change["newly_fixed"])):
            for test in tests:
                rows.append(
                    {
                        "sdk": sdk,
                        "test": _display_name(test),
                        "test_href": _test_href(test_link, sdk, test),
                        "change": kind,
                        "before": test.get("previous") or "new",
                        "message": test.get("message") or "",
                        "compared": compared,
                        "last_passed_commit": _short(test.get("last_passed_commit")),
                        "first_failing_commit": _short(test.get("first_failing_commit")),
                        "compare": test.get("compare_url"),
                        "links": links,
                    }
                )
    return rows


def _flaky(dashboard: dict, test_link) -> list[dict]:
    return [
        {
            "sdk": test["sdk"],
            "test": _display_name(test),
            "test_href": _test_href(test_link, test["sdk"], test),
            "failures": test["failures"],
            "passes": test["passes"],
            "last_failed": test.get("last_failed") or "",
            "passes_since": f"{test['passes_since_last_failure']} of {FLAKY_CLEARED_AFTER}",
            "commits": [_short(c) for c in test.get("commits", [])],
        }
        for test in dashboard.get("flaky_tests", [])
    ]


def _duration_regressions(dashboard: dict, test_link) -> list[dict]:
    return [
        {
            "sdk": r["sdk"],
            "test": _display_name(r),
            "test_href": _test_href(test_link, r["sdk"], r),
            "duration": _seconds(r["duration"]),
            "median": _seconds(r["median"]),
            "ratio": "∞" if r.get("ratio") is None else f"{r['ratio']:.2f}×",
            "samples": r["samples"],
            "logical_date": r["logical_date"],
        }
        for r in dashboard.get("duration_regressions", [])
    ]


def _slowest(dashboard: dict, test_link) -> list[dict]:
    return [
        {
            "sdk": sdk,
            "test": _display_name(t),
            "test_href": _test_href(test_link, sdk, t),
            "duration": _seconds(t["duration"]),
            "outcome": t.get("outcome") or "",
            "logical_date": t["logical_date"],
        }
        for sdk, tests in sorted(dashboard.get("slowest_tests", {}).items())
        for t in tests
    ]


def dashboard_view(
    dashboard: dict,
    *,
    run_links: dict | None = None,
    log_links: dict | None = None,
    test_link: Callable[[str, str], str | None] | None = None,
) -> dict:
    """What templates/dashboard.html.j2 shows as `board`: plain values, escaped by the template.
    test_link(sdk, test_id): the URL of that test's history page, or None."""
    run_links, log_links = run_links or {}, log_links or {}
    history = dashboard.get("pass_fail_history", [])
    return {
        "dag_id": dashboard.get("dag_id", ""),
        "current": _current_state(dashboard, run_links, log_links),
        # charts.py generates these SVGs and escapes every value and link in them itself
        # (charts.text, charts.safe_href): known-safe markup, embedded as it is.
        "legend_svg": Markup(charts.status_legend_svg()),
        "heatmap_svg": Markup(charts.heatmap_svg(history, run_links=run_links)),
        "trend_svg": Markup(charts.trend_svg(history)),
        "changes": _changes(dashboard, run_links, log_links, test_link),
        "flaky_rule": FLAKY_RULE,
        "flaky": _flaky(dashboard, test_link),
        "duration_rule": DURATION_RULE,
        "duration_regressions": _duration_regressions(dashboard, test_link),
        "slowest": _slowest(dashboard, test_link),
    }


def render_dashboard_html(
    dashboard: dict, *, run_links: dict | None = None, log_links: dict | None = None
) -> str:
    """The SDK health section for `dashboard` (analytics.dashboard's answer).

    run_links: run_id -> URL of that run (its report, or its page in Airflow); heatmap cells and
    the tables link there. log_links: (sdk, run_id) -> URL of that SDK's job log in that run.
    Runs without an entry are shown without a link.
    """
    board = dashboard_view(dashboard, run_links=run_links, log_links=log_links)
    return templating.render("dashboard.html.j2", board=board)
