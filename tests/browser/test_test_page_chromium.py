"""A per-test history page as a reader reaches it: from the published report (and latest.html) in
headless Chromium, by clicking a failing test whose id and name are hostile. The page lists every run
of that test with its commit, names the commits on either side of each change with a compare link,
links back to each run's report, runs no script and fetches nothing from the network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sdk_campaigns import history
from sdk_campaigns.campaign.plan import RunPlan
from sdk_campaigns.history import analytics
from sdk_campaigns.publish import write_test_pages
from sdk_campaigns.reporting import report, test_pages

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
DAG = "sdk_test_campaign"
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_ID = "id'\"><script>alert(2)</script>&x=/../?#"
REPO = "https://github.com/example/sdk-go"
FIRST_DAY = datetime(2026, 11, 1, 6, tzinfo=UTC)
# test outcome per day (1-based): passes, breaks on day 3, fixed on day 5, breaks again on day 6
OUTCOMES = ["passed", "passed", "failed", "failed", "passed", "failed"]


def _sha(n: int) -> str:
    return f"{n:02d}" * 20


def _publish_history(root: Path) -> dict:
    uri, report_dir = str(root / "history"), root / "reports"
    for n, outcome in enumerate(OUTCOMES, start=1):
        date = (FIRST_DAY + timedelta(days=n - 1)).isoformat()
        run_id = f"scheduled__{date}"
        rows = [
            {
                "run_id": run_id,
                "logical_date": date,
                "sdk": "go",
                "suite": "go",
                "classname": "",
                "name": HOSTILE_NAME,
                "test_id": HOSTILE_ID,
                "status": outcome,
                "duration": 0.1 * n,
                "message": f"day {n} {HOSTILE_NAME}" if outcome == "failed" else "",
                "image_digest": "sha256:go",
            }
        ]
        failed = int(outcome == "failed")
        history.write_partition(
            uri,
            {
                "dag_id": DAG,
                "logical_date": date,
                "sdk": "go",
                "run_id": run_id,
                "status": "tests_failed" if failed else "passed",
                "report": str(report.report_path(report_dir, DAG, run_id)),
                "commit": _sha(n),
                "commit_kind": "git",
                "repo_url": REPO,
                "counts": {"passed": 1 - failed, "failed": failed, "error": 0, "skipped": 0, "total": 1},
            },
            rows,
            sync=False,
        )
    summaries = history.read_summaries(uri, DAG)
    board = analytics.dashboard(uri, DAG)
    for summary in summaries:  # every run's report, as publish writes it, so links back resolve
        path = report.report_path(report_dir, DAG, summary["run_id"])
        partitions = history.read_run(uri, DAG, summary["logical_date"])
        run = RunPlan(DAG, summary["run_id"], summary["logical_date"], 1, "infrastructure", "warn", ())
        pages = write_test_pages(uri, run, path, summaries, board, partitions)
        html = report.render_report(
            dag_id=DAG,
            run_id=summary["run_id"],
            logical_date=summary["logical_date"],
            partitions=partitions,
            validation={"summary": "ok"},
            history=summaries,
            dashboard=board,
            test_link=lambda sdk, test_id, pages=pages: (
                test_pages.offline_link(sdk, test_id) if (sdk, test_id) in pages else None
            ),
        )
        report.write_report(path, html)
    newest = report.report_path(report_dir, DAG, summaries[-1]["run_id"])
    return {"report": newest, "latest": report_dir / DAG / "latest.html"}


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict:
    return _publish_history(tmp_path_factory.mktemp("test-pages"))


@pytest.mark.parametrize("start", ["report", "latest"])
def test_a_failing_tests_link_opens_its_history_page(browser, published, start):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    requests, dialogs = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(published[start].as_uri(), wait_until="load")
        link = page.locator("a.test-link", has_text=HOSTILE_NAME).first
        expected = published["report"].parent / "tests" / test_pages.page_file_name("go", HOSTILE_ID)
        with page.expect_navigation():
            link.click()
        assert page.url == expected.as_uri()

        section = page.locator("section.test-history")
        assert section.get_attribute("data-test-id") == HOSTILE_ID
        assert page.inner_text("h1") == f"go: {HOSTILE_NAME}"
        assert page.inner_text("code.test-id") == HOSTILE_ID
        runs = page.locator("table.runs tr").all_inner_texts()[1:]
        assert len(runs) == len(OUTCOMES)
        assert [r.split("\t")[1] for r in runs] == OUTCOMES[::-1]  # newest first
        changes = page.locator("table.changes tr").all_inner_texts()[1:]
        assert [c.split("\t")[0] for c in changes] == ["broke", "fixed", "broke"]
        compare = page.locator("table.changes a").first.get_attribute("href")
        assert compare == f"{REPO}/compare/{_sha(5)}...{_sha(6)}"  # last passing ... first failing
        assert page.evaluate("document.scripts.length") == 0 and page.locator("img").count() == 0
        assert dialogs == []

        # each run links back to its report, which exists
        first_run = page.locator("table.runs a", has_text="run").last
        target = first_run.evaluate("a => new URL(a.getAttribute('href'), document.baseURI).href")
        assert target.startswith("file://") and Path(target.removeprefix("file://")).is_file()
        assert all(url.startswith("file://") for url in requests), requests
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"test-page-chromium-{start}.png"), full_page=True)
    finally:
        page.close()
