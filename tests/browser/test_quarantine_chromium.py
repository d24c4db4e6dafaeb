"""Quarantine through the SDK Health page in Airflow's UI, in Debian's Chromium driven by Playwright: log
in, open SDK Health from the nav, follow its quarantine link (inside the plugin's iframe), quarantine a
test with the form, then end it with the row's own form, and read both changes in the audit log.
Screenshots go to build/test-artifacts/ui/."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sdk_campaigns.campaign import quarantine
from sdk_campaigns.dev import airflow_services

pytestmark = [pytest.mark.stack, pytest.mark.browser]

DAG_ID = "sdk_test_campaign"
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SDK_CAMPAIGNS_ARTIFACTS", REPO / "build" / "test-artifacts")) / "ui"


def test_a_user_adds_and_removes_a_quarantine_through_the_health_page(airflow_ui, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test = f"suite.test_s3.test_browser_{datetime.now(UTC):%H%M%S%f}"
    user, password = airflow_services.login()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{airflow_services.base_url()}/dags/{DAG_ID}")
        page.get_by_label("Username").fill(user)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"**/dags/{DAG_ID}**")

        page.get_by_role("button", name="Browse").click()
        page.get_by_role("menuitem", name="SDK Health").click()
        health = page.frame_locator("iframe").first
        health.get_by_role("link", name="Add or remove quarantined tests").click()

        form = health.locator("form#quarantine-add")
        form.get_by_label("SDK").select_option("python")
        form.get_by_label("Test (name as the report shows it").fill(test)
        form.get_by_label("Reason").fill("flaky against moto's S3")
        form.get_by_label("Owner").fill("@python-team")
        form.get_by_role("button", name="Quarantine").click()
        row = health.locator(f"#quarantine-entries tr[data-test='{test}']")
        row.wait_for()
        added_row = row.inner_text()
        page.screenshot(path=str(ARTIFACTS / "quarantine-added.png"), full_page=True)

        row.get_by_placeholder("why").fill("fixed by the SDK's retry change")
        row.get_by_role("button", name="Remove").click()
        health.locator("#quarantine-audit").get_by_text("fixed by the SDK's retry change").wait_for()
        remaining = health.locator(f"#quarantine-entries tr[data-test='{test}']").count()
        audit = health.locator("#quarantine-audit").inner_text()
        page.screenshot(path=str(ARTIFACTS / "quarantine-removed.png"), full_page=True)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "quarantine-failure.png"), full_page=True)
        raise
    finally:
        page.close()

    assert "flaky against moto's S3" in added_row and "@python-team" in added_row
    assert remaining == 0
    assert "released" in audit and "quarantined" in audit and test in audit
    changes = [
        c for c in quarantine.audit_log(airflow_ui["history_uri"], DAG_ID) if c["entry"]["test"] == test
    ]
    assert [(c["action"], c["by"]) for c in changes] == [("add", "admin"), ("remove", "admin")]
    assert changes[1]["why"] == "fixed by the SDK's retry change"
