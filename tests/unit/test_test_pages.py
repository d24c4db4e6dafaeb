"""Per-test history pages (reporting/test_pages.py), in the health app and beside a run's report:
one test's outcomes across dates and commits; hostile test ids, names, messages and SDK names stay
text, and the links to a page carry them intact, whatever they hold."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from test_templates import BREAKOUT, IMG, assert_inert, assert_self_contained

from sdk_campaigns import history
from sdk_campaigns.config import CampaignConfig
from sdk_campaigns.history import analytics
from sdk_campaigns.reporting import health_app, report, test_pages

HOSTILE_ID = f"id{BREAKOUT}{IMG}&sdk=go#/../?x=%2F"
HOSTILE_SDK = f"sdk{BREAKOUT}"
SHAS = ["1" * 40, "2" * 40, "3" * 40]
REPO = "https://github.com/o/r"
DATES = [f"2026-11-0{n}T06:00:00+00:00" for n in (1, 2, 3)]


def _write(uri: str, sdk: str, day: int, status: str) -> None:
    logical_date, run_id = DATES[day], f"scheduled__{DATES[day]}"
    row = {
        "run_id": run_id,
        "logical_date": logical_date,
        "sdk": sdk,
        "suite": "s",
        "classname": f"cls{BREAKOUT}",
        "name": f"test {IMG}",
        "test_id": HOSTILE_ID,
        "status": status,
        "duration": 0.25 * (day + 1),
        "message": f"failed {IMG}{BREAKOUT}" if status == "failed" else "",
        "image_digest": "sha256:x",
    }
    failed = status == "failed"
    history.write_partition(
        uri,
        {
            "dag_id": "sdk_test_campaign",
            "logical_date": logical_date,
            "sdk": sdk,
            "run_id": run_id,
            "status": "tests_failed" if failed else "passed",
            "report": "report.html",
            "commit": SHAS[day],
            "commit_kind": "git",
            "repo_url": REPO,
            "counts": {
                "passed": int(not failed),
                "failed": int(failed),
                "error": 0,
                "skipped": 0,
                "total": 1,
            },
        },
        [row],
    )


@pytest.fixture
def hostile_history(tmp_path) -> CampaignConfig:
    """The hostile test passes at commit 1, fails at 2 and passes again at 3, in a hostile SDK."""
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
    for day, status in enumerate(["passed", "failed"]):
        _write(config.history_uri(), HOSTILE_SDK, day, status)
    return config


@pytest.fixture
def client(hostile_history, monkeypatch):
    # The history is local: no Airflow connection to switch this process's s3:// reads to.
    monkeypatch.setattr(history, "use_airflow_connection", lambda aws_conn_id: None)
    app = health_app.create_app(hostile_history)
    (authorized,) = app.router.dependencies
    app.dependency_overrides[authorized.dependency] = lambda: None
    with TestClient(app) as client:
        yield client


def _test_links(page: str) -> list[str]:
    return [html.unescape(href) for href in re.findall(r"<a class='test-link' href='([^']*)'", page)]


def test_the_dashboard_links_each_test_to_its_page_and_the_link_keeps_the_ids_intact(client):
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    links = _test_links(dashboard.text)
    assert links, "the newly failing test links to its page"
    for link in links:
        assert link.startswith(f"{health_app.URL_PREFIX}/test?")
        page = client.get(link.removeprefix(health_app.URL_PREFIX))
        assert page.status_code == 200, link
        parsed = assert_inert(page.text, HOSTILE_ID, f"cls{BREAKOUT}.test {IMG}", f"failed {IMG}{BREAKOUT}")
        section = next(attrs for tag, attrs in parsed.tags if tag == "section")
        assert (section["data-sdk"], section["data-test-id"]) == (HOSTILE_SDK, HOSTILE_ID)
        assert_self_contained(page.text.replace(REPO, "forge"))
        # the break: from commit 1 to commit 2, with the forge's compare page
        assert f"href='{REPO}/compare/{SHAS[0]}...{SHAS[1]}'" in page.text
        assert f"href='{REPO}/commit/{SHAS[1]}'" in page.text


def test_an_unknown_test_or_lane_is_a_404(client):
    assert client.get("/test", params={"sdk": HOSTILE_SDK, "test_id": "nope"}).status_code == 404
    assert (
        client.get("/test", params={"sdk": HOSTILE_SDK, "test_id": HOSTILE_ID, "lane": "x"}).status_code
        == 404
    )
    assert client.get("/test", params={"sdk": "python"}).status_code == 422
    for sdk in ("..", "", ".hidden", "a/../../b"):
        assert client.get("/test", params={"sdk": sdk, "test_id": HOSTILE_ID}).status_code == 404, sdk


def test_the_page_shows_every_run_newest_first_and_each_change(hostile_history):
    uri = hostile_history.history_uri()
    _write(uri, HOSTILE_SDK, 2, "passed")
    entries = analytics.test_history(uri, "sdk_test_campaign", HOSTILE_SDK, HOSTILE_ID)
    assert [(e["outcome"], e["commit"], e["duration"]) for e in entries] == [
        ("passed", SHAS[0], 0.25),
        ("failed", SHAS[1], 0.5),
        ("passed", SHAS[2], 0.75),
    ]
    view = test_pages.test_page_view(
        HOSTILE_SDK,
        HOSTILE_ID,
        entries,
        run_links={entries[1]["run_id"]: "../../r2/report.html"},
        log_links={},
    )
    assert [(c["change"], c["from_commit"], c["to_commit"]) for c in view["changes"]] == [
        ("fixed", SHAS[1][:12], SHAS[2][:12]),
        ("broke", SHAS[0][:12], SHAS[1][:12]),
    ]
    assert [r["logical_date"] for r in view["runs"]] == DATES[::-1]
    page = test_pages.render_test_page(view)
    assert_inert(page, HOSTILE_ID)
    assert "href='../../r2/report.html'" in page


def test_offline_pages_are_named_by_a_hash_whatever_the_ids_hold(tmp_path, hostile_history):
    name = test_pages.page_file_name(HOSTILE_SDK, HOSTILE_ID)
    assert re.fullmatch(r"[0-9a-f]{24}\.html", name)
    assert test_pages.page_file_name(HOSTILE_SDK, HOSTILE_ID + "x") != name
    entries = analytics.test_history(
        hostile_history.history_uri(), "sdk_test_campaign", HOSTILE_SDK, HOSTILE_ID
    )
    summaries = history.read_summaries(hostile_history.history_uri(), "sdk_test_campaign")
    links = (
        report.run_report_links(summaries, base="../../"),
        report.run_log_links(summaries, base="../../"),
    )
    written = test_pages.write_offline_pages(
        tmp_path, {(HOSTILE_SDK, HOSTILE_ID): entries}, summaries_links=links
    )
    assert written == 1
    page = (tmp_path / "tests" / name).read_text()
    assert_inert(page, HOSTILE_ID)
    assert [p.name for p in (tmp_path / "tests").iterdir()] == [name]
