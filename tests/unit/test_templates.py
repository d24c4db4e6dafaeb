"""The Jinja2 templates of the report, the SDK health dashboard and the health app's pages: hostile
values from containers stay text, the pages load nothing from elsewhere, and a misspelt variable
fails loudly."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import jinja2
import pytest
from fastapi.testclient import TestClient
from markupsafe import Markup, escape
from test_report import DAY_1, DAY_2, RUN_1, RUN_2, _dashboard, _summaries

from sdk_campaigns.config import CampaignConfig
from sdk_campaigns.history import analytics
from sdk_campaigns.reporting import health_app, report, templating
from sdk_campaigns.reporting.dashboard import dashboard_view, render_dashboard_html

IMG = "<img src=x onerror=alert(1)>"
BREAKOUT = "\"><script>alert('x')"  # no "/": a run id with one never reaches /runs/{run_id}
HOSTILE = (IMG, BREAKOUT)
HOSTILE_RUN = f"manual__{IMG}{BREAKOUT}"
HOSTILE_SDK = f"sdk{BREAKOUT}{IMG}"


class _Page(HTMLParser):
    """Every start tag with its attributes, and the page's text as a reader sees it."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def assert_inert(html: str, *shown: str) -> _Page:
    """No hostile value became markup; each of `shown` is on the page as text."""
    for value in HOSTILE:
        assert value not in html
    page = _Page(html)
    assert not [tag for tag, _ in page.tags if tag in {"script", "img", "iframe", "object", "embed"}]
    assert not [(tag, name) for tag, attrs in page.tags for name in attrs if name.startswith("on")]
    text = "".join(page.text)
    for value in shown:
        assert value in text, value
    return page


def assert_self_contained(html: str) -> None:
    """No script, and nothing fetched from elsewhere: the only absolute URL is SVG's namespace name."""
    assert "<script" not in html.lower()
    assert "@import" not in html and "url(" not in html
    page = _Page(html)
    for tag, attrs in page.tags:
        assert "src" not in attrs and not (tag == "link" and "href" in attrs), (tag, attrs)
    assert not re.search(r"https?://", html.replace("xmlns='http://www.w3.org/2000/svg'", ""))


def _hostile_partition() -> dict:
    return {
        "summary": {
            "sdk": HOSTILE_SDK,
            "status": "tests_failed",
            "reason": f"reason {IMG}{BREAKOUT}",
            "counts": {"passed": 1, "failed": 1, "error": 0, "skipped": 0},
            "job_seconds": 3.0,
            "image_digest": f"sha256:{BREAKOUT}",
            "results_uri": f"s3://bucket/{IMG}",
            "log_stream": f"stream/{BREAKOUT}",
            "metrics": {f"Metric{IMG}": 1.0},
            "log_excerpt": ["starting", f"log line {IMG}", f"log line {BREAKOUT}"],
        },
        "rows": [
            {
                "classname": f"cls{BREAKOUT}",
                "name": f"test {IMG}",
                "status": "failed",
                "duration": 0.5,
                "message": f"message {BREAKOUT}{IMG}",
            },
            {"classname": "", "name": "test_ok", "status": "passed", "duration": 0.1, "message": ""},
        ],
    }


def _hostile_dashboard() -> dict:
    """test_report's dashboard, with the hostile SDK name and hostile test names and messages."""
    board = _dashboard()
    board["pass_fail_history"] += [
        {**board["pass_fail_history"][0], "sdk": HOSTILE_SDK, "status": "tests_failed"},
        {**board["pass_fail_history"][1], "sdk": HOSTILE_SDK},
    ]
    board["test_changes"][HOSTILE_SDK] = {
        "logical_date": DAY_2,
        "previous_logical_date": DAY_1,
        "newly_failing": [],
        "newly_fixed": [
            {"test_id": "t", "classname": None, "name": IMG, "previous": BREAKOUT, "message": IMG}
        ],
    }
    board["flaky_tests"][0]["commits"].append(BREAKOUT)
    board["slowest_tests"][HOSTILE_SDK] = [
        {"name": BREAKOUT, "logical_date": DAY_2, "outcome": IMG, "duration": 1.0}
    ]
    return board


def _report(**overrides) -> str:
    arguments = {
        "dag_id": "d",
        "run_id": HOSTILE_RUN,
        "logical_date": DAY_2,
        "partitions": [_hostile_partition()],
        "validation": {"summary": f"summary {IMG}", "data_docs": "data-docs/index.html"},
        "history": [
            *_summaries(),
            {"sdk": HOSTILE_SDK, "logical_date": DAY_2, "run_id": HOSTILE_RUN, "status": BREAKOUT},
        ],
        "dashboard": _hostile_dashboard(),
    }
    return report.render_report(**{**arguments, **overrides})


def test_the_report_shows_hostile_values_only_as_text():
    html = _report()
    page = assert_inert(
        html,
        HOSTILE_RUN,
        HOSTILE_SDK,
        f"reason {IMG}{BREAKOUT}",
        f"cls{BREAKOUT}.test {IMG}",
        f"message {BREAKOUT}{IMG}",
        f"log line {IMG}\nlog line {BREAKOUT}",
        f"s3://bucket/{IMG}",
        f"stream/{BREAKOUT}",
        f"Metric{IMG} 1",
        f"summary {IMG}",
    )
    assert f"<h2 id='sdk-{escape(HOSTILE_SDK)}'>" in html  # the anchor run_log_links point to
    titles = [attrs["title"] for tag, attrs in page.tags if tag == "span" and "title" in attrs]
    assert f"{DAY_2}: {BREAKOUT}" in titles  # the history cell's tooltip, intact as an attribute
    assert_self_contained(html)


def test_the_dashboard_shows_hostile_values_only_as_text():
    board = _hostile_dashboard()
    fragment = render_dashboard_html(board)
    assert_inert(fragment, HOSTILE_SDK, IMG, BREAKOUT, "sha256:<x>")
    # the hostile SDK's row in "Now, and broken since", its fixed test and its slowest test
    rows = re.findall(r"<tr><td>(.*?)</td>", fragment)
    assert rows.count(str(escape(HOSTILE_SDK))) == 3
    assert_self_contained(fragment)


def test_links_go_through_safe_href_and_are_escaped_once():
    fragment = render_dashboard_html(
        _dashboard(),
        run_links={RUN_2: "https://airflow.example/runs?run=2&tab=logs", RUN_1: " javascript:alert(1)"},
        log_links={("python", RUN_2): "\x01javascript:alert(1)", ("<i>evil</i>", RUN_2): "logs/'evil'.txt"},
    )
    assert "javascript:" not in fragment
    assert "href='https://airflow.example/runs?run=2&amp;tab=logs'" in fragment
    assert "&amp;amp;" not in fragment
    assert "<a href='logs/&#x27;evil&#x27;.txt'>logs</a>" in fragment


def test_the_dashboard_drops_control_characters_as_before():
    board = _dashboard()
    board["flaky_tests"][0]["name"] = "bell\x07 escape\x1b[31m"
    fragment = render_dashboard_html(board)
    assert "bell escape[31m" in fragment and "\x07" not in fragment and "\x1b" not in fragment


@pytest.fixture
def health_client(tmp_path, monkeypatch):
    """The health app on a throwaway config, without Airflow's auth (the UI tests cover it), over
    the summaries and dashboard the test puts in `state`."""
    config = CampaignConfig.model_validate(
        {
            "campaign": {
                "results_bucket": "bucket",
                "history_uri": str(tmp_path / "history"),
                "report_dir": str(tmp_path / "reports"),
            },
            "sdks": {"python": {"image": "python", "test_command": ["pytest"]}},
        }
    )
    state = {"summaries": [], "adhoc": [], "dashboard": None}
    monkeypatch.setattr(
        health_app,
        "_summaries",
        lambda config, lane="official": state["summaries" if lane == "official" else lane],
    )
    monkeypatch.setattr(analytics, "dashboard", lambda uri, dag_id: state["dashboard"])
    app = health_app.create_app(config)
    (authorized,) = app.router.dependencies
    app.dependency_overrides[authorized.dependency] = lambda: None
    with TestClient(app) as client:
        yield client, state


def test_the_health_pages_show_hostile_values_only_as_text(health_client):
    client, state = health_client
    empty = client.get("/")
    assert empty.status_code == 200 and "No campaign has published results yet." in empty.text
    pending = client.get(f"/runs/{HOSTILE_RUN}")
    assert pending.status_code == 200
    assert_inert(pending.text, f"Run {HOSTILE_RUN}", "No results published for this run yet")

    state["summaries"] = [
        *_summaries(),
        {
            "sdk": HOSTILE_SDK,
            "logical_date": DAY_2,
            "run_id": HOSTILE_RUN,
            "status": "passed",
            "report": None,
        },
    ]
    state["dashboard"] = _hostile_dashboard()
    missing = client.get(f"/runs/{HOSTILE_RUN}")
    assert_inert(missing.text, "1 SDK result(s) are in the history, but the report is missing.")
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert_inert(page.text, HOSTILE_SDK, IMG, BREAKOUT)
    assert page.text.count("class='sdk-health'") == 1
    reports = health_app.reports_url("sdk_test_campaign")
    assert f"<a href='{reports}{report.run_folder(RUN_2)}/report.html'>run</a>" in page.text
    for html in (empty.text, pending.text, missing.text, page.text):
        assert_self_contained(html)


def test_latest_html_gets_its_base_in_a_rendered_report(tmp_path):
    path = report.report_path(tmp_path, "d", HOSTILE_RUN)
    report.write_report(path, _report())
    latest = (tmp_path / "d" / "latest.html").read_text()
    folder = report.run_folder(HOSTILE_RUN)
    assert latest.count("<base ") == 1
    assert f"<head><base href='{folder}/'><meta charset='utf-8'>" in latest
    assert latest.index("<base ") < latest.index("href='data-docs/index.html'")


def test_a_misspelt_variable_fails_loudly():
    board = dashboard_view(_dashboard())
    del board["flaky_rule"]
    with pytest.raises(jinja2.UndefinedError, match="flaky_rule"):
        templating.render("dashboard.html.j2", board=board)
    with pytest.raises(jinja2.UndefinedError, match="run_idd"):
        templating.environment().from_string("<p>{{ run_idd }}</p>").render(run_id="r")


def test_every_template_escapes_and_only_generated_markup_is_trusted():
    env = templating.environment()
    assert env.autoescape is True
    assert env.from_string("{{ value }}").render(value=IMG) == str(escape(IMG))
    assert env.from_string("{{ value }}").render(value=Markup("<svg/>")) == "<svg/>"
    assert set(env.list_templates()) == {
        "base.html.j2",
        "dashboard.html.j2",
        "health_page.html.j2",
        "incidents.html.j2",
        "owners.html.j2",
        "quarantine_page.html.j2",
        "quarantine_table.html.j2",
        "report.html.j2",
        "run_pending.html.j2",
        "test_page.html.j2",
    }
