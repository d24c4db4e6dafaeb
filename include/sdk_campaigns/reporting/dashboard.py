"""The SDK health dashboard as one self-contained HTML fragment.

The published report embeds it, and so can any other page (the Airflow plugin's "SDK Health"
view): it carries its own <style>, scoped to ``section.sdk-health``, and no script, and it
assumes nothing about the page around it. Links come from the caller, because only the caller
knows where runs and logs live for its readers (a report folder, S3, the Airflow UI).

Input: `analytics.dashboard(...)`. Every name, message and link in it is treated as untrusted.
"""

from __future__ import annotations

from sdk_campaigns.history.analytics import (
    FLAKY_CLEARED_AFTER,
    FLAKY_WINDOW_DAYS,
    REGRESSION_MIN_RATIO,
    REGRESSION_MIN_SAMPLES,
    REGRESSION_MIN_SECONDS,
)
from sdk_campaigns.reporting import charts
from sdk_campaigns.reporting.charts import percent, safe_href, status_label, text

STYLE = """
.sdk-health{font:14px/1.45 system-ui,sans-serif;color:#1d232b}
.sdk-health h2{font-size:1.35rem;margin:1.5rem 0 .5rem}
.sdk-health h3{font-size:1.1rem;margin:1.2rem 0 .4rem}
.sdk-health table{border-collapse:collapse;margin:.4rem 0 1rem}
.sdk-health th,.sdk-health td{border:1px solid #d0d7de;padding:.25rem .55rem;text-align:left}
.sdk-health td{vertical-align:top}
.sdk-health th{background:#f3f5f7}
.sdk-health td.number{text-align:right;font-variant-numeric:tabular-nums}
.sdk-health .chart{overflow-x:auto;max-width:100%;padding:.2rem 0}
.sdk-health .status{display:inline-block;padding:0 .4rem;border-radius:.6rem;font-size:12px}
.sdk-health .status-passed{background:#dafbe1}.sdk-health .status-tests_failed{background:#ffebe9}
.sdk-health .status-infrastructure_failed{background:#fff1c2}
.sdk-health .status-results_invalid{background:#f2e6ff}.sdk-health .status-no_run{background:#eaeef2}
.sdk-health .note{color:#57606a;margin:.2rem 0 .6rem}
.sdk-health .message{max-width:40rem;white-space:pre-wrap;word-break:break-word;font-size:12px}
.sdk-health code{font-size:12px;word-break:break-all}
"""
FLAKY_RULE = (
    f"A test is flaky when, within the last {FLAKY_WINDOW_DAYS} days, it both failed and later passed "
    "on the same image digest (the same code under test). It is cleared after "
    f"{FLAKY_CLEARED_AFTER} passes in a row since its last failure. A test that passed on one "
    "digest and fails on another changed; a test that keeps failing is broken, not flaky."
)


def display_name(test: dict) -> str:
    """A test's display name, escaped: classname.name, or name alone."""
    classname, name = test.get("classname") or "", test.get("name") or test.get("test_id", "")
    return text(f"{classname}.{name}" if classname else name)


def _seconds(value) -> str:
    return f"{value:.2f} s" if isinstance(value, int | float) else "–"


def _link(url: str | None, label: str) -> str:
    href = safe_href(url)
    return f"<a href='{href}'>{label}</a>" if href else ""


def _status(status: str | None) -> str:
    css = status if status in charts.STATUS_COLOUR else "no_run"
    return f"<span class='status status-{css}'>{text(status_label(status))}</span>"


def _table(headers: list[str], rows: list[list[str]], *, numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='number'>{c}</td>" if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


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


def _run_and_logs(sdk: str, run_id: str | None, run_links: dict, log_links: dict) -> str:
    if not run_id:
        return ""
    links = [_link(run_links.get(run_id), "run"), _link(log_links.get((sdk, run_id)), "logs")]
    return " · ".join(link for link in links if link)


def _current_state(dashboard: dict, run_links: dict, log_links: dict) -> str:
    latest = _latest_runs(dashboard.get("pass_fail_history", []))
    broken = dashboard.get("broken_since", {})
    rows = []
    for sdk in sorted(set(latest) | set(broken)):
        entry, state = latest.get(sdk, {}), broken.get(sdk, {})
        rows.append(
            [
                text(sdk),
                _status(state.get("status") or entry.get("status")),
                text(state.get("latest") or entry.get("logical_date") or ""),
                percent(entry.get("pass_rate")),
                text(state.get("broken_since") or "–"),
                str(state.get("failing_runs", 0)),
                text(state.get("last_passed") or "never"),
                _run_and_logs(sdk, entry.get("run_id"), run_links, log_links),
            ]
        )
    if not rows:
        return "<p class='note'>No runs in the history yet.</p>"
    return _table(
        [
            "SDK",
            "latest",
            "logical date",
            "pass rate",
            "broken since",
            "failing runs",
            "last passed",
            "links",
        ],
        rows,
        numeric={3, 5},
    )


def _regressions(dashboard: dict, run_links: dict, log_links: dict) -> str:
    runs = {(e["sdk"], e["logical_date"]): e.get("run_id") for e in dashboard.get("pass_fail_history", [])}
    rows = []
    for sdk, change in sorted(dashboard.get("test_changes", {}).items()):
        compared = text(f"{change.get('logical_date') or ''} vs {change.get('previous_logical_date') or ''}")
        links = _run_and_logs(sdk, runs.get((sdk, change.get("logical_date"))), run_links, log_links)
        for kind, tests in (("newly failing", change["newly_failing"]), ("fixed", change["newly_fixed"])):
            for test in tests:
                rows.append(
                    [
                        text(sdk),
                        display_name(test),
                        kind,
                        text(test.get("previous") or "new"),
                        f"<div class='message'>{text(test.get('message') or '')}</div>",
                        compared,
                        links,
                    ]
                )
    if not rows:
        return "<p class='note'>No test changed outcome between each SDK's last two runs with tests.</p>"
    return _table(["SDK", "test", "change", "before", "message", "runs compared", "links"], rows)


def _flaky(dashboard: dict) -> str:
    rows = [
        [
            text(test["sdk"]),
            display_name(test),
            str(test["failures"]),
            str(test["passes"]),
            text(test.get("last_failed") or ""),
            f"{test['passes_since_last_failure']} of {FLAKY_CLEARED_AFTER}",
            "<br>".join(f"<code>{text(d)}</code>" for d in test.get("digests", [])),
        ]
        for test in dashboard.get("flaky_tests", [])
    ]
    table = (
        _table(
            ["SDK", "test", "failures", "passes", "last failed", "passes since (to clear)", "digests"],
            rows,
            numeric={2, 3},
        )
        if rows
        else "<p class='note'>No flaky tests.</p>"
    )
    return f"<p class='note'>{text(FLAKY_RULE)}</p>{table}"


def _durations(dashboard: dict) -> str:
    regressions = [
        [
            text(r["sdk"]),
            display_name(r),
            _seconds(r["duration"]),
            _seconds(r["median"]),
            "∞" if r.get("ratio") is None else f"{r['ratio']:.2f}×",
            str(r["samples"]),
            text(r["logical_date"]),
        ]
        for r in dashboard.get("duration_regressions", [])
    ]
    parts = [
        "<h3>Duration regressions</h3>",
        f"<p class='note'>Tests of each SDK's newest run that took at least {REGRESSION_MIN_RATIO:g} times "
        f"their median over at least {REGRESSION_MIN_SAMPLES} earlier runs of the last {FLAKY_WINDOW_DAYS} "
        f"days, and at least {REGRESSION_MIN_SECONDS:g} s more.</p>",
        _table(
            ["SDK", "test", "duration", "median", "ratio", "earlier runs", "logical date"],
            regressions,
            numeric={2, 3, 4, 5},
        )
        if regressions
        else "<p class='note'>No duration regressions.</p>",
    ]
    slowest = [
        [
            text(sdk),
            display_name(t),
            _seconds(t["duration"]),
            text(t.get("outcome") or ""),
            text(t["logical_date"]),
        ]
        for sdk, tests in sorted(dashboard.get("slowest_tests", {}).items())
        for t in tests
    ]
    if slowest:
        parts.append(
            "<details><summary>Slowest tests of each SDK's newest run with tests</summary>"
            + _table(["SDK", "test", "duration", "outcome", "logical date"], slowest, numeric={2})
            + "</details>"
        )
    return "".join(parts)


def render_dashboard_html(
    dashboard: dict, *, run_links: dict | None = None, log_links: dict | None = None
) -> str:
    """The SDK health section for `dashboard` (analytics.dashboard's answer).

    run_links: run_id -> URL of that run (its report, or its page in Airflow); heatmap cells and
    the tables link there. log_links: (sdk, run_id) -> URL of that SDK's job log in that run.
    Runs without an entry are shown without a link.
    """
    run_links, log_links = run_links or {}, log_links or {}
    history = dashboard.get("pass_fail_history", [])
    dag_id = dashboard.get("dag_id", "")
    return "".join(
        [
            f"<section class='sdk-health' data-dag-id='{text(dag_id)}'><style>{STYLE}</style>",
            f"<h2>SDK health: {text(dag_id)}</h2>",
            "<h3>Now, and broken since</h3>",
            "<p class='note'>Broken since: the first run of the unbroken streak of failing runs "
            "(tests failed, infrastructure failed or results invalid) that ends with the newest.</p>",
            _current_state(dashboard, run_links, log_links),
            "<h3>Status by logical date</h3>",
            f"<div class='chart'>{charts.status_legend_svg()}</div>",
            f"<div class='chart'>{charts.heatmap_svg(history, run_links=run_links)}</div>",
            "<h3>Pass rate by logical date</h3>",
            "<p class='note'>passed / (passed + failed + error); runs where nothing ran are gaps.</p>",
            f"<div class='chart'>{charts.trend_svg(history)}</div>",
            "<h3>Newly failing and fixed tests</h3>",
            "<p class='note'>Each SDK's newest run with tests against the run with tests before it.</p>",
            _regressions(dashboard, run_links, log_links),
            "<h3>Flaky tests</h3>",
            _flaky(dashboard),
            _durations(dashboard),
            "</section>",
        ]
    )
