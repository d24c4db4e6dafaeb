"""The static HTML report of one campaign run, with each SDK's recent history.

Self-contained (no scripts, no CDN). Every string that came from a container (test
names, messages, log lines) is escaped.
"""

from __future__ import annotations

import os
import re
import tempfile
from html import escape
from pathlib import Path

STATUS_LABEL = {
    "passed": "passed",
    "tests_failed": "tests failed",
    "infrastructure_failed": "infrastructure failed",
    "results_invalid": "results invalid",
}
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
) -> str:
    e = escape
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
                    f"<code>{e(s.get('image_digest') or '')[:19]}</code>",
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


def report_path(report_dir: Path, dag_id: str, run_id: str) -> Path:
    return report_dir / dag_id / re.sub(r"[^A-Za-z0-9._-]", "_", run_id) / "report.html"


def write_report(path: Path, html: str) -> None:
    """Write the run's report and refresh latest.html beside the runs, each atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for target in (path, path.parents[1] / "latest.html"):
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            handle.write(html)
        os.replace(tmp, target)
