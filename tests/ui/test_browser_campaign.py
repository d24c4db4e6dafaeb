"""A user's first campaign in the Airflow UI, in Debian's Chromium driven by Playwright: log in,
open the trigger form, pick two SDKs, trigger, wait for the run to succeed, then read the SDK
Health page and the run's results tab. Screenshots go to build/test-artifacts/ui/."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sdk_campaigns.config import load_config
from sdk_campaigns.dev import airflow_services
from sdk_campaigns.reporting import report

pytestmark = [pytest.mark.stack, pytest.mark.browser]

DAG_ID = "sdk_test_campaign"
PICKED = ["python", "go"]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SDK_CAMPAIGNS_ARTIFACTS", REPO / "build" / "test-artifacts")) / "ui"


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _wait_for_new_manual_run(token: str, after: datetime, timeout: float = 60) -> dict:
    def new_runs() -> list[dict]:
        runs = airflow_services.api("GET", f"dags/{DAG_ID}/dagRuns?run_type=manual&limit=100", token)
        return [r for r in runs["dag_runs"] if datetime.fromisoformat(r["run_after"]) >= after]

    return airflow_services.wait_until(new_runs, timeout, "a run made by the trigger form")[0]


@pytest.fixture(scope="module")
def journey(airflow_ui, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    token = airflow_services.access_token()
    # A paused DAG queues manual runs forever; a new deployment's DAGs start paused.
    airflow_services.api("PATCH", f"dags/{DAG_ID}", token, {"is_paused": False})
    user, password = airflow_services.login()
    seen: dict = {"configured": load_config(Path(airflow_ui["config"])).sdk_names}
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{airflow_services.base_url()}/dags/{DAG_ID}")
        _shot(page, "01-login")
        page.get_by_label("Username").fill(user)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"**/dags/{DAG_ID}**")

        page.get_by_role("button", name="Trigger").first.click()
        form = page.get_by_role("dialog")
        sdks = form.get_by_role("combobox").first
        sdks.click()  # opens the multi-select's list of every SDK it offers
        page.get_by_role("option").first.wait_for()
        seen["offered"] = page.get_by_role("option").all_inner_texts()
        for sdk in PICKED:
            sdks.fill(sdk)
            page.get_by_role("option", name=sdk, exact=True).click()
        _shot(page, "02-trigger-form")
        seen["form_text"] = form.inner_text()
        triggered_at = datetime.now(UTC).replace(microsecond=0)
        form.get_by_role("button", name="Trigger", exact=True).click()
        run = _wait_for_new_manual_run(token, triggered_at)
        seen["run"] = airflow_services.wait_for_run(DAG_ID, run["dag_run_id"], token)
        run_id = run["dag_run_id"]

        page.goto(f"{airflow_services.base_url()}/dags/{DAG_ID}/runs/{run_id}")
        page.wait_for_load_state("networkidle")
        _shot(page, "03-run")

        page.get_by_role("button", name="Browse").click()  # the plugin's nav entry
        page.get_by_role("menuitem", name="SDK Health").click()
        health = page.frame_locator("iframe").first
        health.locator("rect.heat-cell").first.wait_for()
        seen["heat_sdks"] = set(
            health.locator("rect.heat-cell").evaluate_all("cells => cells.map(c => c.dataset.sdk)")
        )
        seen["trend_lines"] = health.locator("polyline.trend-line").count()
        seen["run_link"] = health.locator(f"a[href*='{report.run_folder(run_id)}']").count()
        _shot(page, "04-sdk-health")

        page.goto(f"{airflow_services.base_url()}/dags/{DAG_ID}/runs/{run_id}/plugin/sdk-results")
        results = page.frame_locator("iframe").first
        results.locator("h2#sdk-go").wait_for()
        seen["result_sections"] = {sdk for sdk in PICKED if results.locator(f"h2#sdk-{sdk}").count() == 1}
        _shot(page, "05-run-results")
    except Exception:
        _shot(page, "failure")
        raise
    finally:
        page.close()
    return seen


def test_the_form_offers_the_configured_sdks_and_says_what_none_means(journey):
    assert journey["offered"] == journey["configured"]
    assert f"none selected means all of: {', '.join(journey['configured'])}" in journey["form_text"]


def test_the_triggered_run_tests_the_picked_sdks_and_succeeds(journey):
    run = journey["run"]
    assert run["state"] == "success", json.dumps(run)
    assert sorted(run["conf"]["sdks"]) == sorted(PICKED)


def test_sdk_health_shows_both_languages_and_links_the_run(journey):
    assert set(PICKED) <= journey["heat_sdks"]
    assert journey["trend_lines"] >= len(PICKED)
    assert journey["run_link"] >= 1


def test_the_runs_results_tab_shows_each_picked_sdk(journey):
    assert journey["result_sections"] == set(PICKED)
