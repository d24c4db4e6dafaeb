"""The SDK Health app serves what jobs wrote from the Airflow api-server's origin, so no page it serves can
script Airflow: every response carries a sandboxing Content-Security-Policy and nosniff, there are no
docs or OpenAPI routes, bad paths are 404s (never 500s), job log tails need task-log access, and Data
Docs rendered from a hostile failing value hold no script and load nothing from elsewhere."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from sdk_campaigns.campaign.validation import validate_results
from sdk_campaigns.config import CampaignConfig
from sdk_campaigns.reporting import health_app, report

DAG = "sdk_test_campaign"
RUN = "scheduled__2026-11-21T06:00:00+00:00"
XSS = "<img src=x onerror=alert(1)>"
LOG_LINE = "secret-looking job output 7f3a"


@pytest.fixture
def config(tmp_path):
    return CampaignConfig.model_validate(
        {
            "campaign": {
                "results_bucket": "bucket",
                "history_uri": str(tmp_path / "history"),
                "report_dir": str(tmp_path / "reports"),
            },
            "sdks": {"python": {"image": "python", "test_command": ["pytest"]}},
        }
    )


@pytest.fixture
def published(config):
    """A run's report (with a job log tail) and latest.html, as publish writes them."""
    path = report.report_path(config.report_dir(), DAG, RUN)
    partition = {
        "summary": {"sdk": "python", "status": "passed", "counts": {"passed": 1}, "log_excerpt": [LOG_LINE]},
        "rows": [],
    }
    html = report.render_report(
        dag_id=DAG, run_id=RUN, logical_date=RUN[11:], partitions=[partition], validation={}, history=[]
    )
    report.write_report(path, html)
    return path


def _client(config, monkeypatch, *, task_logs: bool) -> TestClient:
    """The app with Airflow's login stood in for: every request is a user who may read the DAG, and
    its task logs when `task_logs`."""
    monkeypatch.setattr(health_app, "_summaries", lambda config, lane="official": [])
    app = health_app.create_app(config)
    (authorized,) = app.router.dependencies

    def logged_in(request: Request) -> None:
        request.state.may_read_task_logs = task_logs

    app.dependency_overrides[authorized.dependency] = logged_in
    return TestClient(app)


@pytest.fixture
def client(config, monkeypatch):
    with _client(config, monkeypatch, task_logs=True) as client:
        yield client


def assert_locked_down(response) -> None:
    policy = response.headers["content-security-policy"]
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in policy.split(";"))
    assert "sandbox" in directives and "allow-scripts" not in directives["sandbox"]
    assert directives["default-src"] == "'none'"
    assert "script-src" not in directives and "http" not in policy
    assert directives["frame-ancestors"] == "'self'"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_every_response_is_sandboxed_and_not_sniffed(client, published):
    responses = [
        client.get("/"),
        client.get("/api/dashboard"),
        client.get(f"/runs/{RUN}", follow_redirects=False),
        client.get("/runs/never-ran"),
        client.get(f"/reports/{DAG}/{report.run_folder(RUN)}/report.html"),
        client.get(f"/reports/{DAG}/latest.html"),
        client.get(f"/reports/{DAG}/nothing-here.html"),
        client.get("/no-such-route"),
        client.post("/"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 307, 200, 200, 200, 404, 404, 405]
    for response in responses:
        assert_locked_down(response)


def test_anonymous_users_get_401_also_sandboxed(config):
    with TestClient(health_app.create_app(config)) as anonymous:
        for path in ("/", "/api/dashboard", f"/reports/{DAG}/latest.html", "/test?sdk=go&test_id=t", "/test"):
            response = anonymous.get(path)
            assert response.status_code == 401
            assert_locked_down(response)


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"])
def test_no_docs_or_openapi_routes_for_anyone(config, client, path):
    assert client.get(path).status_code == 404
    with TestClient(health_app.create_app(config)) as anonymous:
        assert anonymous.get(path).status_code in (401, 404)
        assert "openapi" not in anonymous.get(path).text.lower()


@pytest.mark.parametrize(
    "path",
    [
        "%00",
        "report%00.html",
        f"{report.run_folder(RUN)}/report.html%00.txt",
        "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "..%2f..%2fcampaign.yaml",
        "%2fetc%2fpasswd",
        "%5c..%5c..%5cetc%5cpasswd",
        f"{report.run_folder(RUN)}//report.html",
        f"{report.run_folder(RUN)}/%2e/report.html",
        f"{report.run_folder(RUN)}/.report.html.x1y2.tmp",
        "x" * 300,
        "a/" * 2000 + "b",
        "%ff%fe",
        "%252e%252e/%252e%252e/etc/passwd",
        "latest%0a.html",
        "",
    ],
)
def test_a_bad_path_is_a_404_never_a_500(client, published, config, path):
    (published.parent / ".report.html.x1y2.tmp").write_text("half-written")
    response = client.get(f"/reports/{DAG}/{path}")
    assert response.status_code == 404, response.text
    assert_locked_down(response)


def test_a_symlink_out_of_the_report_folder_is_a_404(client, published, tmp_path):
    (tmp_path / "outside.txt").write_text("not a report")
    (published.parent / "escape.txt").symlink_to(tmp_path / "outside.txt")
    assert client.get(f"/reports/{DAG}/{report.run_folder(RUN)}/escape.txt").status_code == 404


def test_log_tails_are_shown_only_with_task_log_access(config, monkeypatch, published):
    pages = (f"/reports/{DAG}/{report.run_folder(RUN)}/report.html", f"/reports/{DAG}/latest.html")
    with _client(config, monkeypatch, task_logs=True) as may_read_logs:
        for page in pages:
            assert LOG_LINE in may_read_logs.get(page).text
    with _client(config, monkeypatch, task_logs=False) as may_not:
        for page in pages:
            response = may_not.get(page)
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
            assert LOG_LINE not in response.text and "job log (last lines)" not in response.text
            assert "shown to users who may read this DAG's task logs" in response.text
            assert "<h2 id='sdk-python'>python</h2>" in response.text  # the rest of the report is there
            assert_locked_down(response)


def test_a_log_line_cannot_end_its_own_tail(config, monkeypatch):
    """The markers are written by the template only: a log line that spells one is escaped text."""
    path = report.report_path(config.report_dir(), DAG, RUN)
    lines = [health_app.LOG_TAIL_END, LOG_LINE, health_app.LOG_TAIL_START]
    partition = {"summary": {"sdk": "python", "status": "passed", "log_excerpt": lines}, "rows": []}
    html = report.render_report(
        dag_id=DAG, run_id=RUN, logical_date=RUN[11:], partitions=[partition], validation={}, history=[]
    )
    report.write_report(path, html)
    with _client(config, monkeypatch, task_logs=False) as may_not:
        text = may_not.get(f"/reports/{DAG}/latest.html").text
    assert LOG_LINE not in text and "sdk-campaigns:job-log" not in text


class _User:
    def __init__(self, name: str, task_logs: bool):
        self.name, self.task_logs = name, task_logs


class _AuthManager:
    """Airflow's auth manager as requires_access_dag calls it: users by token, DAG access per entity."""

    users = {"reader": _User("reader", False), "operator": _User("operator", True)}
    asked: list = []

    async def get_user_from_token(self, token):
        return self.users[token]

    def is_authorized_dag(self, *, method, access_entity=None, details=None, user=None):
        self.asked.append((method, access_entity, details.id, user.name))
        return access_entity is None or (user.task_logs and access_entity.name == "TASK_LOGS")


def test_task_log_access_is_asked_of_airflows_auth_manager(config, monkeypatch, published):
    from airflow.api_fastapi.core_api import security

    monkeypatch.setattr(security, "get_auth_manager", lambda: _AuthManager())
    monkeypatch.setattr(security.DagModel, "get_team_name", staticmethod(lambda dag_id: None))
    monkeypatch.setattr(health_app, "_summaries", lambda config, lane="official": [])
    _AuthManager.asked.clear()
    page = f"/reports/{DAG}/latest.html"
    with TestClient(health_app.create_app(config)) as client:
        as_reader = client.get(page, headers={"Authorization": "Bearer reader"})
        as_operator = client.get(page, headers={"Authorization": "Bearer operator"})
    assert (as_reader.status_code, as_operator.status_code) == (200, 200)
    assert LOG_LINE not in as_reader.text and LOG_LINE in as_operator.text
    assert [(m, e and e.name, d, u) for m, e, d, u in _AuthManager.asked] == [
        ("GET", None, DAG, "reader"),
        ("GET", "TASK_LOGS", DAG, "reader"),
        ("GET", None, DAG, "operator"),
        ("GET", "TASK_LOGS", DAG, "operator"),
    ]


# --- Data Docs -------------------------------------------------------------------------------------


class _Markup(HTMLParser):
    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.styles: list[str] = []
        self._in_style = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//|\\)", re.I)


def assert_no_script_and_nothing_external(html: str) -> None:
    markup = _Markup(html)
    assert not [
        tag for tag, _ in markup.tags if tag in {"script", "iframe", "object", "embed", "link", "svg"}
    ]
    assert not [(tag, name) for tag, attrs in markup.tags for name in attrs if name.startswith("on")]
    urls = [
        value or "" for _, attrs in markup.tags for name, value in attrs.items() if name in ("href", "src")
    ]
    assert not [url for url in urls if EXTERNAL.match(url)], urls
    assert not re.search(
        r"url\s*\(|@import", " ".join(markup.styles) + str([a.get("style") for _, a in markup.tags])
    )
    assert "onerror" not in html and "<script" not in html.lower() and "cdn" not in html.lower()


@pytest.fixture(scope="module")
def data_docs(tmp_path_factory):
    """Real GX Data Docs of a validation whose failing value is an XSS payload, where validate writes
    them: beside the run's report."""
    report_dir = tmp_path_factory.mktemp("reports")
    docs = report.report_path(report_dir, DAG, RUN).parent / "data-docs"
    row = {
        "run_id": RUN,
        "logical_date": RUN[11:],
        "sdk": "python",
        "suite": "s",
        "classname": "c",
        "name": XSS,
        "test_id": "0123456789abcdef",
        "status": XSS,
        "duration": 0.5,
        "message": XSS,
        "image_digest": "sha256:x",
    }
    outcome = validate_results(
        [row], ["python"], {"python": {"min_pass_rate": 0.5, "max_test_seconds": 9}}, docs
    )
    assert not outcome.success and any(XSS in failed for failed in outcome.failed_expectations)
    return SimpleNamespace(report_dir=report_dir, docs=docs)


def test_data_docs_of_a_hostile_value_hold_no_script_and_load_nothing(data_docs):
    pages = sorted(data_docs.docs.rglob("*.html"))
    assert len(pages) >= 5
    assert not [p for p in data_docs.docs.rglob("*") if p.suffix in (".js", ".otf", ".woff", ".woff2")]
    for page in pages:
        assert_no_script_and_nothing_external(page.read_text())
    failing = [p for p in pages if "validations/sdk_test_results" in p.as_posix()]
    assert failing and "values must belong to this set" in failing[0].read_text()  # still says what failed


def test_served_data_docs_are_sandboxed_inert_and_local(data_docs, monkeypatch):
    config = CampaignConfig.model_validate(
        {
            "campaign": {"results_bucket": "bucket", "report_dir": str(data_docs.report_dir)},
            "sdks": {"python": {"image": "python", "test_command": ["pytest"]}},
        }
    )
    with _client(config, monkeypatch, task_logs=False) as client:
        for page in sorted(data_docs.docs.rglob("*.html")):
            relative = page.relative_to(data_docs.report_dir / DAG).as_posix()
            response = client.get(f"/reports/{DAG}/{relative}")
            assert response.status_code == 200, relative
            assert_locked_down(response)
            assert_no_script_and_nothing_external(response.text)
