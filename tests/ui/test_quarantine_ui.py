"""The quarantine page on the real api-server, with the simple auth manager's real users: the admin
changes it (CSRF token from the page, change audited in the history the DAG reads), a viewer may read
it but not change it, and nobody anonymous gets anything."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from sdk_campaigns.campaign import quarantine
from sdk_campaigns.dev import airflow_services

pytestmark = pytest.mark.stack

DAG_ID = "sdk_test_campaign"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 303 is what the test checks, not the page it leads to


# Loopback: never through a developer's HTTP proxy.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _request(path: str, token: str | None, form: dict | None = None) -> tuple[int, str, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(airflow_services.base_url() + path, data=data, headers=headers)
    try:
        with _http.open(request, timeout=30) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


def _entry(test: str) -> dict:
    expires = (datetime.now(UTC).date() + timedelta(days=14)).isoformat()
    return {
        "sdk": "python",
        "test": test,
        "reason": "flaky on moto",
        "owner": "@python-team",
        "expires": expires,
    }


def test_the_admin_quarantines_a_test_and_the_change_is_audited(airflow_ui):
    token = airflow_services.access_token()
    status, page, headers = _request("/sdk-health/quarantine", token)
    assert status == 200 and "allow-forms" in headers["content-security-policy"]
    csrf = re.search(r"name='csrf' value='([^']+)'", page).group(1)

    test = f"suite.test_s3.test_list_buckets_{datetime.now(UTC):%H%M%S%f}"
    status, _, headers = _request("/sdk-health/quarantine/add", token, {"csrf": csrf, **_entry(test)})
    assert status == 303 and headers["location"] == "/sdk-health/quarantine"

    change = quarantine.audit_log(airflow_ui["history_uri"], DAG_ID)[-1]
    assert (change["by"], change["action"], change["why"], change["entry"]["test"]) == (
        "admin", "add", "flaky on moto", test,
    )  # fmt: skip
    assert datetime.fromisoformat(change["at"]) > datetime.now(UTC) - timedelta(minutes=5)
    status, page, _ = _request("/sdk-health/quarantine", token)
    audit = page.split("id='quarantine-audit'")[1]
    assert test in audit and "admin" in audit and "flaky on moto" in audit

    status, _, _ = _request("/sdk-health/quarantine/add", token, {"csrf": "1.forged", **_entry("x")})
    assert status == 403


def test_a_viewer_reads_the_quarantine_but_cannot_change_it(airflow_ui):
    token = airflow_services.access_token(*airflow_services.login(airflow_services.VIEWER_USER))
    status, page, _ = _request("/sdk-health/quarantine", token)
    assert status == 200 and "<form" not in page and "needs edit access" in page
    before = len(quarantine.audit_log(airflow_ui["history_uri"], DAG_ID))
    status, _, _ = _request("/sdk-health/quarantine/add", token, {"csrf": "", **_entry("suite.viewer")})
    assert status == 403
    assert len(quarantine.audit_log(airflow_ui["history_uri"], DAG_ID)) == before


def test_anonymous_requests_are_refused(airflow_ui):
    assert _request("/sdk-health/quarantine", None)[0] == 401
    assert _request("/sdk-health/quarantine/add", None, _entry("suite.anonymous"))[0] == 401
