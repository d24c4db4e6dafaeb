"""Data Docs and reports served by the SDK Health app, loaded in headless Chromium the way Airflow's UI
shows them: inside an iframe of a same-origin page, authenticated by a SameSite=Lax session cookie.

The app runs on a real HTTP server (uvicorn on a free port), mounted under /sdk-health as the
api-server mounts it, with Airflow's login stood in for by a cookie check. Real GX Data Docs of a
validation whose failing value is `<img src=x onerror=…>` load with no script running, no dialog and
no request leaving the origin; their links still work inside the iframe (the session cookie goes
along). A raw page planted in the report folder, script and all, runs nothing either: the
Content-Security-Policy alone stops it. Screenshots land in build/test-artifacts/.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse

from sdk_campaigns.campaign.validation import validate_results
from sdk_campaigns.config import CampaignConfig
from sdk_campaigns.reporting import health_app, report

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
DAG = "sdk_test_campaign"
RUN = "scheduled__2026-11-21T06:00:00+00:00"
SESSION = "session-token-for-the-test"
PAYLOAD = "<img src=x onerror=\"document.title='pwned';window.__xss=1;alert(1)\">"
RAW_PAGE = f"""<!doctype html><html><head><title>untouched</title>
<script>document.title='pwned'; window.__xss = 2; alert('script ran')</script>
<script src="https://cdn.jsdelivr.net/npm/vega@5"></script></head>
<body><p id="text">planted</p>{PAYLOAD}<svg onload="alert(3)"></svg>
<a id="link" href="javascript:alert(4)">link</a></body></html>"""


def _rows() -> list[dict]:
    return [
        {
            "run_id": RUN,
            "logical_date": RUN[11:],
            "sdk": "python",
            "suite": "s",
            "classname": "c",
            "name": PAYLOAD,
            "test_id": "0123456789abcdef",
            "status": PAYLOAD,
            "duration": 0.5,
            "message": PAYLOAD,
            "image_digest": "sha256:x",
        }
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The health app behind a real HTTP server, with a page that frames it as Airflow's UI does."""
    import uvicorn

    report_dir = tmp_path_factory.mktemp("reports")
    run_dir = report.report_path(report_dir, DAG, RUN).parent
    outcome = validate_results(
        _rows(), ["python"], {"python": {"min_pass_rate": 0.5, "max_test_seconds": 9}}, run_dir / "data-docs"
    )
    assert not outcome.success
    (run_dir / "planted.html").write_text(RAW_PAGE)

    config = CampaignConfig.model_validate(
        {
            "campaign": {"results_bucket": "bucket", "report_dir": str(report_dir)},
            "sdks": {"python": {"image": "python", "test_command": ["pytest"]}},
        }
    )
    app = health_app.create_app(config)
    (authorized,) = app.router.dependencies

    def session_cookie(request: Request) -> None:  # Airflow's login, as far as this test needs it
        if request.cookies.get("_token") != SESSION:
            raise HTTPException(401, "Not authenticated")
        request.state.may_read_task_logs = True

    app.dependency_overrides[authorized.dependency] = session_cookie
    airflow = FastAPI()

    @airflow.get("/ui/{path:path}", response_class=HTMLResponse)
    def ui(path: str) -> str:  # Airflow's UI frames plugin pages
        frame = f"<iframe id='view' src='/sdk-health/{path}' width='1250' height='850'></iframe>"
        return f"<!doctype html><title>Airflow</title>{frame}"

    airflow.mount(health_app.URL_PREFIX, app)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(airflow, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield {"base": f"http://127.0.0.1:{port}", "docs": run_dir / "data-docs", "report_dir": report_dir}
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(browser, served):
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.add_cookies([{"name": "_token", "value": SESSION, "url": served["base"], "sameSite": "Lax"}])
    page = context.new_page()
    page.requests, page.dialogs = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def _docs_path(served, file: Path) -> str:
    return file.relative_to(served["report_dir"]).as_posix()


def test_data_docs_in_the_ui_frame_run_no_script_and_their_links_work(page, served):
    index = _docs_path(served, served["docs"] / "index.html")
    page.goto(f"{served['base']}/ui/reports/{index}", wait_until="load")
    frame = page.frame_locator("#view")
    assert "Great Expectations" in frame.locator("body").inner_text()

    frame.locator("a[href*='validations/sdk_test_results']").first.click()
    page.wait_for_timeout(500)
    validation = frame.locator("body").inner_text()
    assert "Expectation Validation Result" in validation, "the link lost the session inside the frame"
    assert "values must belong to this set" in validation

    inner = page.frames[1]
    assert inner.url.endswith(".html") and "/validations/sdk_test_results/" in inner.url
    assert page.title() == "Airflow" and "pwned" not in inner.title()
    assert page.dialogs == []
    assert [url for url in page.requests if not url.startswith(served["base"])] == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "data-docs-in-ui-frame.png"), full_page=True)


def test_a_planted_page_with_script_runs_none_of_it(page, served):
    """Defence in depth: what the Data Docs rewrite would remove, the Content-Security-Policy stops."""
    planted = f"{served['base']}/sdk-health/reports/{DAG}/{report.run_folder(RUN)}/planted.html"
    response = page.goto(planted, wait_until="load")
    assert response.status == 200 and "sandbox" in response.headers["content-security-policy"]
    page.locator("#link").click()
    page.wait_for_timeout(300)
    assert page.locator("#text").inner_text() == "planted"
    assert page.title() == "untouched"
    assert page.dialogs == []
    assert [url for url in page.requests if not url.startswith(served["base"])] == []
