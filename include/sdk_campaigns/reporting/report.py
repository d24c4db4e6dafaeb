"""The static HTML report of one campaign run, with each SDK's recent history and, given the
dashboard's answers, the SDK health section (heatmap, trends, broken since, regressions,
flaky and slow tests: see dashboard_html.py).

Self-contained (no scripts, no CDN, no fetch of any kind). Every string that came from a
container (test names, messages, log lines) is escaped.

Links between reports are relative to the run's folder (``<report_dir>/<dag_id>/<run>/``), so
they work from file://, from a web server and from S3 alike; latest.html, one folder up,
carries a <base> pointing into its run's folder so that the same links work there too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape
from pathlib import Path
from urllib.parse import quote

from sdk_campaigns.reporting.charts import STATUS_LABEL, logical_time
from sdk_campaigns.reporting.dashboard import render_dashboard_html
from sdk_campaigns.reporting.publishing import write_atomically

REPORT_FILE = "report.html"
LATEST_FILE = "latest.html"
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1d232b}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f5f7}
.passed{background:#dafbe1}.tests_failed,.failed,.error{background:#ffebe9}
.infrastructure_failed{background:#fff1c2}.results_invalid{background:#f2e6ff}.skipped{background:#eef1f4}
pre{background:#f6f8fa;padding:.6rem;max-height:18rem;overflow:auto;font-size:12px}
.cell{display:inline-block;width:1.1rem;height:1.1rem;margin-right:2px;border:1px solid #d0d7de}
"""


def _escape(value) -> str:
    """Escape for HTML; None (a column the history has no value for) shows as nothing."""
    return "" if value is None else escape(str(value))


def _row(cells: list[str], css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _seconds(value) -> str:
    return f"{value:.1f} s" if isinstance(value, int | float) else "–"


def render_report(
    *,
    dag_id: str,
    run_id: str,
    logical_date: str,
    partitions: list[dict],
    validation: dict,
    history: list[dict],
    dashboard: dict | None = None,
) -> str:
    """The run's report. `history`: the DAG's summaries (history.read_summaries); `dashboard`:
    analytics.dashboard's answers, shown as the SDK health section when given."""
    e = _escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(dag_id)} {e(logical_date)}</title><style>{STYLE}</style></head><body>",
        f"<h1>SDK test campaign {e(dag_id)}</h1>",
        f"<p>Run <code>{e(run_id)}</code>, logical date {e(logical_date)}. "
        f"Validation: <strong>{e(validation.get('summary', 'not run'))}</strong>"
        + (
            " (<a href='data-docs/index.html'>Great Expectations Data Docs</a>)"
            if validation.get("data_docs")
            else ""
        )
        + "</p>",
        "<h2>Per SDK</h2><table><tr><th>SDK</th><th>status</th><th>passed</th><th>failed</th>"
        "<th>error</th><th>skipped</th><th>job duration</th><th>why</th><th>image</th></tr>",
    ]
    for partition in partitions:
        s = partition["summary"]
        c = s.get("counts", {})
        parts.append(
            _row(
                [
                    e(s["sdk"]),
                    e(STATUS_LABEL.get(s["status"], s["status"])),
                    str(c.get("passed", 0)),
                    str(c.get("failed", 0)),
                    str(c.get("error", 0)),
                    str(c.get("skipped", 0)),
                    _seconds(s.get("job_seconds")),
                    e(s.get("reason", "")),
                    f"<code>{e((s.get('image_digest') or '')[:19])}</code>",
                ],
                e(s["status"]),
            )
        )
    parts.append("</table>")

    parts.append("<h2>History</h2><table><tr><th>SDK</th><th>recent runs (oldest → newest)</th></tr>")
    by_sdk: dict[str, list[dict]] = {}
    for summary in history:
        by_sdk.setdefault(summary["sdk"], []).append(summary)
    for sdk, runs in sorted(by_sdk.items()):
        cells = "".join(
            f"<span class='cell {e(r['status'])}' title='{e(r['logical_date'])}: "
            f"{e(STATUS_LABEL.get(r['status'], r['status']))}'></span>"
            for r in runs[-30:]
        )
        parts.append(_row([e(sdk), cells]))
    parts.append("</table>")
    if dashboard is not None:
        parts.append(
            render_dashboard_html(
                dashboard,
                run_links=run_report_links(history, base="../"),
                log_links=run_log_links(history, base="../"),
            )
        )

    for partition in partitions:
        s = partition["summary"]
        parts.append(f"<h2 id='sdk-{e(s['sdk'])}'>{e(s['sdk'])}</h2>")
        parts.append(
            f"<p>Results: <code>{e(s.get('results_uri', ''))}</code>; "
            f"log stream: <code>{e(s.get('log_stream') or 'none')}</code></p>"
        )
        if s.get("metrics"):
            shown = ", ".join(f"{e(name)} {value:g}" for name, value in sorted(s["metrics"].items()))
            parts.append(f"<p>CloudWatch (namespace SdkCampaigns, read back): {shown}</p>")
        rows = sorted(partition["rows"], key=lambda r: (r["status"] == "passed", r["classname"], r["name"]))
        if rows:
            parts.append("<table><tr><th>test</th><th>status</th><th>duration</th><th>message</th></tr>")
            for r in rows:
                parts.append(
                    _row(
                        [
                            e(f"{r['classname']}.{r['name']}" if r["classname"] else r["name"]),
                            e(r["status"]),
                            _seconds(r["duration"]),
                            e(r["message"]),
                        ],
                        e(r["status"]),
                    )
                )
            parts.append("</table>")
        if s.get("log_excerpt"):
            parts.append("<details><summary>job log (last lines)</summary><pre>")
            parts.append(e("\n".join(s["log_excerpt"])))
            parts.append("</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def run_folder(run_id: str) -> str:
    """The folder of a run's report inside the DAG's report folder."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", run_id)


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


def is_newest_run(summaries: Iterable[dict], logical_date: str) -> bool:
    """Whether no summary has a later logical date: a backfill of an old date must not become
    latest.html."""
    this = logical_time(logical_date)
    return all(logical_time(s["logical_date"]) <= this for s in summaries)


def write_report(path: Path, html: str, *, update_latest: bool = True) -> None:
    """Write the run's report and (unless told otherwise) refresh latest.html beside the runs,
    each atomically. latest.html gets a <base> into the run's folder, so relative links (Data
    Docs, other runs' reports) resolve as they do from the run's own report."""
    write_atomically(path, html)
    if update_latest:
        base = f"<head><base href='{quote(path.parent.name)}/'>"
        write_atomically(path.parents[1] / LATEST_FILE, html.replace("<head>", base, 1))
