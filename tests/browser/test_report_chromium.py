"""The published report as a reader sees it: opened from file:// in headless Chromium.

A scripted history of eight SDKs over three weeks goes through the real path (Parquet history,
DuckDB dashboard, report, feed) into a temporary report folder. The test then checks what the
browser rendered (chart elements with real boxes, every language), that a hostile test name is
text and never code, and that the page fetches nothing from the network. A screenshot lands in
build/test-artifacts/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sdk_campaigns import history
from sdk_campaigns.history import analytics
from sdk_campaigns.reporting import feed, report

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
DAG = "sdk_test_campaign"
HOSTILE = "<script>alert(1)</script>"
FIRST_DAY = datetime(2026, 11, 1, 6, tzinfo=UTC)
DAYS = 21
SDKS = ("python", "javascript", "java", "go", "rust", "ruby", "php", "cpp")
FIRST_RUN = {"ruby": 8}  # ruby joined the campaign in week two: "no run" cells before
INFRASTRUCTURE_FAILED = {("php", 5), ("go", 20)}
RESULTS_INVALID = {("php", 12)}


def _outcome(sdk: str, test: str, n: int) -> str:
    if test == HOSTILE:
        return "failed" if sdk == "python" and n == DAYS else "passed"  # newly failing on the last day
    if test == "test_flaky":
        return "failed" if sdk == "javascript" and n in (15, 18) else "passed"
    if test == "test_breaks":
        return "failed" if sdk == "cpp" and n >= 17 else "passed"
    return "passed"


def _write_history(uri: str, report_dir: Path) -> None:
    for sdk in SDKS:
        for n in range(FIRST_RUN.get(sdk, 1), DAYS + 1):
            date = (FIRST_DAY + timedelta(days=n - 1)).isoformat()
            run_id = f"scheduled__{date}"
            base = {
                "dag_id": DAG,
                "logical_date": date,
                "sdk": sdk,
                "run_id": run_id,
                "image_digest": f"sha256:{sdk}1",
                "report": str(report.report_path(report_dir, DAG, run_id)),
                "log_excerpt": [f"{sdk}: ran the suite"],
            }
            if (sdk, n) in INFRASTRUCTURE_FAILED | RESULTS_INVALID:
                status = "infrastructure_failed" if (sdk, n) in INFRASTRUCTURE_FAILED else "results_invalid"
                history.write_partition(uri, {**base, "status": status, "reason": status}, [], sync=False)
                continue
            rows = [
                {
                    "run_id": run_id,
                    "logical_date": date,
                    "sdk": sdk,
                    "suite": sdk,
                    "classname": f"{sdk}.suite",
                    "name": test,
                    "test_id": f"{sdk}-{index}",
                    "status": _outcome(sdk, test, n),
                    "duration": 0.1 * (index + 1),
                    "message": "assertion failed" if _outcome(sdk, test, n) == "failed" else "",
                    "image_digest": base["image_digest"],
                }
                for index, test in enumerate(("test_ok", "test_flaky", "test_breaks", HOSTILE))
            ]
            failed = sum(r["status"] == "failed" for r in rows)
            counts = {
                "passed": len(rows) - failed,
                "failed": failed,
                "error": 0,
                "skipped": 0,
                "total": len(rows),
            }
            status = "tests_failed" if failed else "passed"
            history.write_partition(
                uri, {**base, "status": status, "reason": "", "counts": counts}, rows, sync=False
            )


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict:
    """The newest run's report, latest.html and the feed, written as publish_run writes them."""
    root = tmp_path_factory.mktemp("published")
    uri, report_dir = str(root / "history"), root / "reports"
    _write_history(uri, report_dir)
    summaries = history.read_summaries(uri, DAG)
    newest = summaries[-1]
    board = analytics.dashboard(uri, DAG)
    path = report.report_path(report_dir, DAG, newest["run_id"])
    html = report.render_report(
        dag_id=DAG,
        run_id=newest["run_id"],
        logical_date=newest["logical_date"],
        partitions=history.read_run(uri, DAG, newest["logical_date"]),
        validation={"summary": "all expectations met"},
        history=summaries,
        dashboard=board,
    )
    report.write_report(path, html)
    feed.write_feed(report_dir, board, run_links=report.run_report_links(summaries))
    return {"report": path, "latest": report_dir / DAG / "latest.html", "dates": DAYS, "sdks": len(SDKS)}


def _open(browser, path: Path) -> tuple:
    """The page at `path` with every request it made and every dialog it opened."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    requests, dialogs = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(path.as_uri(), wait_until="load")
    return page, requests, dialogs


BOXES = """selector => Array.from(document.querySelectorAll(selector)).map(e => {
    const box = e.getBoundingClientRect();
    return {sdk: e.dataset.sdk, date: e.dataset.date || null, width: box.width, height: box.height};
})"""


@pytest.mark.parametrize("page_name", ["report", "latest"])
def test_the_report_renders_offline_with_every_sdk_and_date(browser, published, page_name):
    page, requests, dialogs = _open(browser, published[page_name])
    try:
        cells = page.evaluate(BOXES, "svg.heatmap rect.heat-cell")
        assert len(cells) == published["sdks"] * published["dates"] == 8 * 21
        assert all(c["width"] > 0 and c["height"] > 0 for c in cells)
        assert {c["sdk"] for c in cells} == set(SDKS)
        assert len({c["date"] for c in cells}) == DAYS
        no_run = page.locator("svg.heatmap rect.heat-cell[data-status='no_run']")
        assert no_run.count() == FIRST_RUN["ruby"] - 1
        lines = page.evaluate(BOXES, "svg.trend polyline.trend-line")
        assert sorted(line["sdk"] for line in lines) == sorted(SDKS)
        assert all(line["width"] > 0 and line["height"] >= 0 for line in lines)
        assert any(line["height"] > 0 for line in lines)  # the lines that dip below 100 %

        text = page.inner_text("body")
        for sdk in SDKS:
            assert sdk in text
        assert HOSTILE in text  # shown as text, in the per-test table and as newly failing
        assert page.locator("section.sdk-health td", has_text=HOSTILE).count() >= 1
        assert page.evaluate("document.scripts.length") == 0
        assert (
            page.evaluate(
                "Array.from(document.querySelectorAll('*')).filter(e => "
                "Array.from(e.attributes).some(a => a.name.startsWith('on'))).length"
            )
            == 0
        )
        assert dialogs == []

        # a heatmap cell of the newest run links to this run's report, from either page
        newest = page.locator("svg.heatmap a.heat-link").last
        href = newest.evaluate("a => new URL(a.getAttribute('href'), document.baseURI).href")
        assert href == published["report"].as_uri()

        assert requests and all(url.startswith("file://") for url in requests), requests
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"report-chromium-{page_name}.png"), full_page=True)
    finally:
        page.close()
