"""Lanes: a run with overrides is ad hoc. Its history goes to a lane of its own and its report is
its own; the official lane's partitions, dashboard, latest.html, feed, badges and alerts stay as
they were. The official "latest" is by logical date and never later than now."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from sdk_campaigns import history
from sdk_campaigns import publish as publishing
from sdk_campaigns.campaign.alerts import build_alert
from sdk_campaigns.campaign.collect import SdkOutcome
from sdk_campaigns.campaign.collect import test_id as make_test_id
from sdk_campaigns.campaign.plan import plan_run
from sdk_campaigns.history import analytics
from sdk_campaigns.reporting import health_app, report

DAY = datetime.now(UTC).replace(microsecond=0, second=0) - timedelta(days=3)


def _date(days: float) -> str:
    return (DAY + timedelta(days=days)).isoformat()


def _outcome(sdk: str, logical_date: str, run_id: str, status: str, commit: str) -> dict:
    row = {
        "run_id": run_id,
        "logical_date": logical_date,
        "sdk": sdk,
        "suite": "s",
        "classname": "c",
        "name": "t",
        "test_id": make_test_id(sdk, "c", "t"),
        "status": status,
        "duration": 0.1,
        "message": "boom" if status == "failed" else "",
        "image_digest": "sha256:x",
    }
    failed = status == "failed"
    outcome = SdkOutcome(
        sdk=sdk,
        status="tests_failed" if failed else "passed",
        reason="1 failed" if failed else "all 1 tests passed",
        job_status="SUCCEEDED",
        image_digest="sha256:x",
    )
    outcome.counts = {"passed": int(not failed), "failed": int(failed), "error": 0, "skipped": 0, "total": 1}
    return {
        **outcome.to_dict(),
        "rows": [row],
        "ref": "main",
        "commit": commit,
        "commit_kind": "git",
        "repo_url": "https://github.com/o/r",
    }


@pytest.fixture
def campaign(tmp_path, monkeypatch, sample_config):
    config = sample_config.model_copy(
        update={
            "campaign": sample_config.campaign.model_copy(
                update={"history_uri": str(tmp_path / "history"), "report_dir": str(tmp_path / "reports")}
            )
        }
    )
    monkeypatch.setattr(publishing.metrics, "publish", lambda cloudwatch, data: len(data))
    alerts: list[dict] = []  # the findings of each alert that would go out (build_alert: not None)

    def send_alert(findings, **kwargs):
        if build_alert(findings) is not None:
            alerts.append(findings)
        return []

    monkeypatch.setattr("sdk_campaigns.campaign.alert_routing.send_alert", send_alert)  # publish sends there
    metrics_sent: list[str] = []
    monkeypatch.setattr(
        publishing, "send_run_metrics", lambda cloudwatch, run, found: metrics_sent.append(run.run_id)
    )

    class NoAws:
        aws_conn_id = "aws_default"

        def client(self, name):
            return None

    def publish(params: dict, logical_date: str, run_id: str, status: str, commit: str) -> str:
        plan = plan_run(config, {"sdks": ["python"], **params}, run_id=run_id, logical_date=logical_date)
        found = [_outcome("python", logical_date, run_id, status, commit)]
        monkeypatch.setattr(publishing.outcomes, "read_outcomes", lambda *a: [dict(o) for o in found])
        return publishing.publish_run(config, plan, {"summary": "ok"}, defaultdict(SimpleNamespace), NoAws())

    publish.config, publish.alerts, publish.metrics_sent = config, alerts, metrics_sent
    return publish


def _published(config) -> dict[str, bytes]:
    folder = config.report_dir() / config.campaign.dag_id
    names = ["latest.html", "feed.json", *(f"badges/{p.name}" for p in (folder / "badges").glob("*"))]
    return {name: (folder / name).read_bytes() for name in names if (folder / name).is_file()}


def test_an_adhoc_run_changes_nothing_official_and_keeps_its_own_report(campaign):
    config = campaign.config
    uri, dag = config.history_uri(), config.campaign.dag_id
    campaign({}, _date(0), "scheduled__1", "passed", "a" * 40)
    campaign({}, _date(1), "scheduled__2", "failed", "b" * 40)
    assert len(campaign.alerts) == 1 and campaign.metrics_sent == ["scheduled__1", "scheduled__2"]
    before = (analytics.dashboard(uri, dag), _published(config), history.read_summaries(uri, dag))

    # An ad hoc run on the same logical date as an official one, passing where that one failed
    overrides = {"overrides": {"python": {"repo_url": "https://github.com/fork/r", "ref": "fix"}}}
    adhoc_report = Path(campaign(overrides, _date(1), "manual__fix", "passed", "c" * 40))

    assert (analytics.dashboard(uri, dag), _published(config), history.read_summaries(uri, dag)) == before
    assert len(campaign.alerts) == 1, "no alert for an ad hoc run"
    assert campaign.metrics_sent == ["scheduled__1", "scheduled__2"], "no run metrics either"
    (summary,) = history.read_summaries(uri, dag, lane="adhoc")
    assert (summary["run_id"], summary["lane"], summary["commit"]) == ("manual__fix", "adhoc", "c" * 40)
    assert json.loads(summary["overrides"]) == {"repo_url": "https://github.com/fork/r", "ref": "fix"}
    html = adhoc_report.read_text()
    assert "Ad hoc run" in html and "https://github.com/fork/r" in html
    assert "SDK health" not in html  # the official dashboard is not an ad hoc run's to show
    # the health page's ad hoc list has it, linking its report
    links = report.run_report_links([summary], base="/r/")
    (listed,) = health_app.adhoc_runs([summary], links)
    assert listed["run_id"] == "manual__fix" and listed["report"].endswith("manual__fix/report.html")
    assert '"ref": "fix"' in listed["sdks"][0]["overrides"]


def test_the_official_dashboard_names_the_commits_and_links_the_compare_page(campaign):
    campaign({}, _date(0), "scheduled__1", "passed", "a" * 40)
    campaign({}, _date(1), "scheduled__2", "failed", "b" * 40)
    config = campaign.config
    board = analytics.dashboard(config.history_uri(), config.campaign.dag_id)
    compare = f"https://github.com/o/r/compare/{'a' * 40}...{'b' * 40}"
    broken = board["broken_since"]["python"]
    assert (broken["last_passed_commit"], broken["first_failing_commit"], broken["compare_url"]) == (
        "a" * 40,
        "b" * 40,
        compare,
    )
    (failing,) = board["test_changes"]["python"]["newly_failing"]
    assert failing["compare_url"] == compare
    latest = (config.report_dir() / config.campaign.dag_id / "latest.html").read_text()
    assert f"href='{compare}'" in latest and "aaaaaaaaaaaa" in latest and "bbbbbbbbbbbb" in latest
    (alert,) = campaign.alerts
    assert alert["broken"][0]["compare_url"] == compare


def test_a_far_future_run_pins_neither_latest_nor_the_current_state(campaign):
    config = campaign.config
    uri, dag = config.history_uri(), config.campaign.dag_id
    latest = config.report_dir() / dag / "latest.html"
    campaign({}, _date(0), "scheduled__1", "passed", "a" * 40)
    future = (datetime.now(UTC) + timedelta(days=3650)).replace(microsecond=0).isoformat()
    campaign({}, future, "manual__future", "failed", "f" * 40)
    assert "manual__future" not in latest.read_text()
    assert campaign.alerts == [], "a run dated in the future is not news yet"
    board = analytics.dashboard(uri, dag)
    assert board["broken_since"]["python"]["status"] == "passed"
    assert future not in {r["logical_date"] for r in board["pass_fail_history"]}
    campaign({}, _date(1), "scheduled__2", "passed", "b" * 40)  # a later official run still takes latest
    assert "scheduled__2" in latest.read_text()


def test_is_newest_run_ignores_the_future():
    now = datetime(2026, 12, 1, tzinfo=UTC)
    summaries = [{"logical_date": "2026-11-30T06:00:00+00:00"}, {"logical_date": "2036-01-01T00:00:00+00:00"}]
    assert report.is_newest_run(summaries, "2026-12-01T00:00:00+00:00", now=now)
    assert not report.is_newest_run(summaries, "2026-11-29T00:00:00+00:00", now=now)
    assert not report.is_newest_run(summaries, "2036-01-01T00:00:00+00:00", now=now)


def test_lanes_are_folders_of_their_own_and_retention_prunes_both(tmp_path):
    uri = str(tmp_path / "history")
    for lane, status in (("official", "passed"), ("adhoc", "tests_failed")):
        history.write_partition(
            uri,
            {
                "dag_id": "d",
                "logical_date": "2026-01-01T06:00:00+00:00",
                "sdk": "go",
                "status": status,
                "lane": lane,
            },
            [],
        )
    assert [s["status"] for s in history.read_summaries(uri, "d")] == ["passed"]
    assert [s["status"] for s in history.read_summaries(uri, "d", lane="adhoc")] == ["tests_failed"]
    assert sorted(p.name for p in (tmp_path / "history").iterdir()) == ["d", "d~adhoc"]
    removed = history.prune(uri, "d", 30, now=datetime(2026, 6, 1, tzinfo=UTC))
    assert removed == ["2026-01-01T060000Z/go", "adhoc:2026-01-01T060000Z/go"]
    with pytest.raises(history.HistoryError, match="lane 'side'"):
        history.write_partition(
            uri, {"dag_id": "d", "logical_date": "2026-01-01", "sdk": "go", "lane": "side"}, []
        )
