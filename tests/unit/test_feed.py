"""The JSON feed and the shields.io badges, over the scripted four-week history of
test_analytics (python broken since day 22, rust since day 25, go and java passing)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from test_analytics import DAG, DAYS, day, tid, write_scripted_history

from sdk_campaigns.history import analytics
from sdk_campaigns.reporting import feed

GENERATED_AT = datetime(2026, 10, 28, 7, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory) -> dict:
    uri = str(tmp_path_factory.mktemp("history"))
    write_scripted_history(uri)
    return analytics.dashboard(uri, DAG)


def _run(n: int) -> str:
    return f"scheduled__{day(n)}"


def test_feed_per_sdk_latest_state(dashboard):
    document = feed.campaign_feed(dashboard, generated_at=GENERATED_AT)
    assert json.loads(json.dumps(document)) == document
    assert {k: document[k] for k in ("schema_version", "dag_id", "generated_at", "latest_report")} == {
        "schema_version": 1,
        "dag_id": DAG,
        "generated_at": "2026-10-28T07:30:00+00:00",
        "latest_report": "latest.html",
    }
    assert list(document["sdks"]) == ["go", "java", "python", "rust"]
    python = dict(document["sdks"]["python"])
    recent = python.pop("recent")
    assert python == {
        "status": "tests_failed",
        "status_label": "tests failed",
        "logical_date": day(28),
        "run_id": _run(28),
        "pass_rate": round(7 / 9, 6),
        "counts": {"passed": 7, "failed": 2, "error": 0, "skipped": 1, "total": 10},
        "report": None,
        "broken_since": day(22),
        "failing_runs": 7,
        "last_passed": day(21),
        "commit": "sha256:py2",  # the image's own suite: its content tag (here, its digest)
        "last_passed_commit": "sha256:py1",
        "first_failing_commit": "sha256:py2",
        "compare_url": None,
        "badge": "badges/python.json",
        "newly_failing": [
            {
                "test_id": tid("python", "test_new_failure"),
                "classname": "tests.test_client",
                "name": "test_new_failure",
            }
        ],
        "newly_fixed": [],
        "flaky_tests": [
            {
                "test_id": tid("python", "test_flaky"),
                "classname": "tests.test_client",
                "name": "test_flaky",
                "last_failed": day(24),
            }
        ],
        "duration_regressions": [
            {
                "test_id": tid("python", "test_slow"),
                "classname": "tests.test_client",
                "name": "test_slow",
                "duration": 3.5,
                "median": 1.0,
                "ratio": 3.5,
            }
        ],
    }
    assert [r["logical_date"] for r in recent] == [day(n) for n in range(1, DAYS + 1)]
    assert recent[21] == {
        "logical_date": day(22),
        "run_id": _run(22),
        "status": "tests_failed",
        "pass_rate": 0.75,  # test_flaky and test_digest fail, 6 pass (test_new not there yet)
    }
    rust, go = document["sdks"]["rust"], document["sdks"]["go"]
    assert (rust["status"], rust["pass_rate"], rust["broken_since"], rust["failing_runs"]) == (
        "infrastructure_failed",
        None,
        day(25),
        4,
    )
    assert [t["name"] for t in rust["newly_failing"]] == ["b_breaks"]
    assert (go["status"], go["broken_since"], [t["name"] for t in go["newly_fixed"]]) == (
        "passed",
        None,
        ["TestFixed"],
    )


def test_feed_recent_runs_and_links(dashboard):
    links = {_run(28): f"{_run(28)}/report.html", _run(27): "https://ci.example/runs/27"}
    document = feed.campaign_feed(
        dashboard,
        run_links=links,
        base_url="https://reports.example/sdk/",
        recent_runs=3,
        generated_at=GENERATED_AT,
    )
    java = document["sdks"]["java"]
    assert [r["logical_date"] for r in java["recent"]] == [day(26), day(27), day(28)]
    assert java["report"] == f"https://reports.example/sdk/{_run(28)}/report.html"
    assert java["badge"] == "https://reports.example/sdk/badges/java.json"
    assert document["latest_report"] == "https://reports.example/sdk/latest.html"


@pytest.mark.parametrize(
    ("summary", "message", "color"),
    [
        ({"status": "passed", "passed": 9, "failed": 0, "error": 0}, "passing", "brightgreen"),
        ({"status": "tests_failed", "passed": 7, "failed": 2, "error": 1}, "3 failing", "red"),
        ({"status": "tests_failed", "counts": {"failed": 4, "error": 0}}, "4 failing", "red"),
        ({"status": "tests_failed"}, "failing", "red"),
        ({"status": "infrastructure_failed", "passed": 0}, "infra failed", "orange"),
        ({"status": "results_invalid"}, "results invalid", "blueviolet"),
        ({"status": "something new"}, "no data", "lightgrey"),
        ({}, "no data", "lightgrey"),
        (None, "no data", "lightgrey"),
    ],
)
def test_badge(summary, message, color):
    assert feed.badge("python", summary) == {
        "schemaVersion": 1,
        "label": "python sdk",
        "message": message,
        "color": color,
    }


def test_write_feed_writes_the_feed_and_one_badge_per_sdk(dashboard, tmp_path):
    written = feed.write_feed(tmp_path, dashboard, generated_at=GENERATED_AT)
    dag_dir = tmp_path / DAG
    assert written == [
        dag_dir / "feed.json",
        *(dag_dir / "badges" / f"{s}.json" for s in ("go", "java", "python", "rust")),
    ]
    assert json.loads((dag_dir / "feed.json").read_text()) == feed.campaign_feed(
        dashboard, generated_at=GENERATED_AT
    )
    badges = {p.stem: json.loads(p.read_text()) for p in (dag_dir / "badges").iterdir()}
    assert {sdk: (b["label"], b["message"], b["color"]) for sdk, b in badges.items()} == {
        "go": ("go sdk", "passing", "brightgreen"),
        "java": ("java sdk", "passing", "brightgreen"),
        "python": ("python sdk", "2 failing", "red"),
        "rust": ("rust sdk", "infra failed", "orange"),
    }
    assert sorted(p.name for p in dag_dir.rglob("*") if p.is_file()) == sorted(p.name for p in written)


def test_hostile_sdk_names_stay_inside_the_badges_folder(tmp_path):
    board = {
        "dag_id": DAG,
        "pass_fail_history": [
            {
                "sdk": sdk,
                "logical_date": day(1),
                "run_id": "r",
                "status": "passed",
                "passed": 1,
                "pass_rate": 1.0,
            }
            for sdk in ("../../etc/evil", ".hidden", "<b>x</b>")
        ],
    }
    written = feed.write_feed(tmp_path, board, generated_at=GENERATED_AT)
    assert [p.relative_to(tmp_path / DAG).as_posix() for p in written] == [
        "feed.json",
        "badges/_.._etc_evil.json",
        "badges/hidden.json",
        "badges/_b_x__b_.json",
    ]
    badge = json.loads((tmp_path / DAG / "badges" / "_b_x__b_.json").read_text())
    assert badge["label"] == "<b>x</b> sdk"  # JSON carries it as data; shields.io escapes what it draws
    assert feed.badge_file_name("...") == "_.json"
