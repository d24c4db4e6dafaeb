"""The quarantine page of the SDK Health app, with Airflow's login stood in for: who may change it, the
CSRF token every change needs, the audit log it shows, its own CSP (forms to this origin, still no
script), and test names as text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from sdk_campaigns.campaign import incidents, quarantine
from sdk_campaigns.config import CampaignConfig
from sdk_campaigns.reporting import form_tokens, health_app, quarantine_page

DAG = "sdk_test_campaign"
KEY = b"k" * 32
HOSTILE = "suite.<img src=x onerror=alert(1)>"


class _User:
    def __init__(self, name: str):
        self.name = name

    def get_id(self) -> str:
        return self.name

    def get_name(self) -> str:
        return self.name


@pytest.fixture
def config(tmp_path):
    return CampaignConfig.model_validate(
        {
            "campaign": {"results_bucket": "bucket", "history_uri": str(tmp_path / "history")},
            "sdks": {"python": {"image": "python", "test_command": ["pytest"]}},
        }
    )


def _client(config, monkeypatch, *, user: str, may_edit: bool) -> TestClient:
    monkeypatch.setattr(health_app, "_summaries", lambda config, lane="official": [])
    monkeypatch.setattr(form_tokens, "_key", lambda: KEY)
    monkeypatch.setattr(quarantine_page, "_may_edit", lambda request, dag_id: may_edit)
    app = health_app.create_app(config)
    (authorized,) = app.router.dependencies

    def logged_in(request: Request) -> None:
        request.state.user = _User(user)
        request.state.may_read_task_logs = True

    app.dependency_overrides[authorized.dependency] = logged_in
    return TestClient(app)


def _token(html: str) -> str:
    return re.search(r"name='csrf' value='([^']+)'", html).group(1)


def _add(client, token: str, **fields) -> object:
    expires = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    form = {"csrf": token, "sdk": "python", "test": HOSTILE, "reason": "flaky on moto", "owner": "@storage"}
    return client.post("/quarantine/add", data={**form, "expires": expires, **fields}, follow_redirects=False)


def test_an_editor_quarantines_and_releases_a_test_and_both_are_audited(config, monkeypatch):
    client = _client(config, monkeypatch, user="alice", may_edit=True)
    page = client.get("/quarantine")
    assert page.status_code == 200 and "id='quarantine-add'" in page.text
    response = _add(client, _token(page.text))
    assert response.status_code == 303 and response.headers["location"] == "/sdk-health/quarantine"
    page = client.get("/quarantine")
    assert "<img" not in page.text and "suite.&lt;img src=x onerror=alert(1)&gt;" in page.text
    (entry,) = quarantine.current_entries(config, config.history_uri())
    assert (entry["test"], entry["changed_by"], entry["source"]) == (HOSTILE, "alice", "page")

    removal = {"csrf": _token(page.text), "sdk": "python", "test": HOSTILE, "why": "fixed upstream"}
    assert client.post("/quarantine/remove", data=removal, follow_redirects=False).status_code == 303
    assert quarantine.current_entries(config, config.history_uri()) == []
    audit = client.get("/quarantine").text.split("id='quarantine-audit'")[1]
    assert audit.index("released") < audit.index("quarantined")  # newest first
    assert "fixed upstream" in audit and "flaky on moto" in audit and audit.count("alice") == 2


def test_a_change_without_a_valid_token_is_refused(config, monkeypatch):
    client = _client(config, monkeypatch, user="alice", may_edit=True)
    assert _add(client, "").status_code == 403
    other_users = form_tokens.issue("mallory", key=KEY)
    assert _add(client, other_users).status_code == 403
    stale = form_tokens.issue(
        "alice", now=datetime.now(UTC).timestamp() - form_tokens.TOKEN_SECONDS - 5, key=KEY
    )
    assert _add(client, stale).status_code == 403
    cross_site = client.post(
        "/quarantine/add",
        data={"csrf": form_tokens.issue("alice", key=KEY)},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    assert quarantine.audit_log(config.history_uri(), DAG) == []


def test_a_reader_sees_no_forms_and_cannot_change_anything(config, monkeypatch):
    client = _client(config, monkeypatch, user="viewer", may_edit=False)
    page = client.get("/quarantine")
    assert page.status_code == 200 and "<form" not in page.text and "needs edit access" in page.text
    assert _add(client, form_tokens.issue("viewer", key=KEY)).status_code == 403
    assert quarantine.audit_log(config.history_uri(), DAG) == []


def test_a_bad_entry_is_refused_with_the_reason_and_the_form_kept(config, monkeypatch):
    client = _client(config, monkeypatch, user="alice", may_edit=True)
    token = _token(client.get("/quarantine").text)
    response = _add(client, token, expires="2020-01-01")
    assert response.status_code == 400
    assert "Not saved: expiry 2020-01-01 is in the past" in response.text
    assert "value='flaky on moto'" in response.text


def test_only_the_quarantine_page_may_post_forms_and_still_runs_no_script(config, monkeypatch):
    client = _client(config, monkeypatch, user="alice", may_edit=True)
    page_policy = client.get("/quarantine").headers["content-security-policy"]
    assert "allow-forms" in page_policy and "form-action 'self'" in page_policy
    assert "allow-scripts" not in page_policy and "script-src" not in page_policy
    dashboard_policy = client.get("/").headers["content-security-policy"]
    assert dashboard_policy == health_app.CONTENT_SECURITY_POLICY and "allow-forms" not in dashboard_policy


def test_the_dashboard_shows_the_quarantine_and_links_its_page(config, monkeypatch):
    expires = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    entry = {"sdk": "python", "test": "suite.t", "reason": "r", "owner": "@o", "expires": expires}
    quarantine.record_change(config.history_uri(), DAG, action="add", entry=entry, why="r", by="alice")
    incident = {"kind": "scenario", "key": "s3.list_buckets", "sdks": ["go", "java", "python"], "tests": {}}
    incidents.record(
        config.history_uri(), DAG, logical_date="2026-11-21T06:00:00+00:00", run_id="r", incidents=[incident]
    )
    page = _client(config, monkeypatch, user="viewer", may_edit=False).get("/").text
    assert "<code>suite.t</code>" in page and "href='/sdk-health/quarantine'" in page
    assert "scenario s3.list_buckets fails" in page and "3: go, java, python" in page
    assert page.index("Cross-SDK incidents") < page.index("<h2>Quarantine</h2>")
    assert "<td>python</td><td>@python-sdk</td>" in page  # include/TESTOWNERS, beside the default config
