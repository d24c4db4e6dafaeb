"""The SDK Health plugin's endpoints, on the real api-server: Airflow's login or nothing."""

import urllib.error
import urllib.request

import pytest

from sdk_campaigns.dev import airflow_services

pytestmark = pytest.mark.stack

ENDPOINTS = [
    "/sdk-health/",
    "/sdk-health/api/dashboard",
    "/sdk-health/runs/manual__2026-11-20T06:00:00+00:00",
    "/sdk-health/reports/sdk_test_campaign/latest.html",
]


def _status(path: str, headers: dict | None = None) -> int:
    request = urllib.request.Request(airflow_services.base_url() + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.parametrize("path", ENDPOINTS)
def test_anonymous_requests_are_refused(airflow_ui, path):
    assert _status(path) == 401


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_forged_token_is_refused(airflow_ui, path):
    assert _status(path, {"Authorization": "Bearer not-a-jwt"}) == 403
    assert _status(path, {"Cookie": "_token=not-a-jwt"}) == 403


def test_logged_in_users_are_served(airflow_ui):
    token = airflow_services.access_token()
    assert _status("/sdk-health/", {"Authorization": f"Bearer {token}"}) == 200
    assert _status("/sdk-health/api/dashboard", {"Cookie": f"_token={token}"}) == 200  # the UI's session


def test_report_files_never_leave_the_report_folder(airflow_ui):
    token = {"Authorization": f"Bearer {airflow_services.access_token()}"}
    for path in ("..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "../campaign.yaml"):
        assert _status(f"/sdk-health/reports/sdk_test_campaign/{path}", token) == 404
    assert _status("/sdk-health/reports/other_dag/report.html", token) == 404


def test_the_plugin_registers_its_nav_entry_and_run_view(airflow_ui):
    plugins = airflow_services.api("GET", "plugins", airflow_services.access_token())["plugins"]
    views = {v["name"]: v for p in plugins if p["name"] == "sdk_health" for v in p["external_views"]}
    assert views["SDK Health"]["destination"] == "nav"
    assert views["SDK results"]["destination"] == "dag_run"
    assert "{RUN_ID}" in views["SDK results"]["href"]
