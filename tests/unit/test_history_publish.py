"""publish.publish_run's use of the history: one partition per SDK, reruns replace, retention runs
after the report, and one SDK's unstorable rows never cost the others their history."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from sdk_campaigns import history
from sdk_campaigns import publish as publishing
from sdk_campaigns.campaign.assets import history_asset
from sdk_campaigns.campaign.collect import SdkOutcome
from sdk_campaigns.campaign.plan import RunPlan


class _NoAws:
    """publish_run's AWS: nothing to reach (CloudWatch's publish and the outcomes are replaced)."""

    aws_conn_id = "aws_default"

    def client(self, name):
        return None


def _outcome(sdk: str, logical_date: str, run_id: str, rows: list[dict] | None = None) -> dict:
    rows = (
        rows
        if rows is not None
        else [
            {
                "run_id": run_id,
                "logical_date": logical_date,
                "sdk": sdk,
                "suite": "s",
                "classname": "c",
                "name": "t",
                "test_id": f"{sdk}-t",
                "status": "passed",
                "duration": 0.1,
                "message": "",
                "image_digest": "sha256:x",
            }
        ]
    )
    outcome = SdkOutcome(sdk=sdk, status="passed", reason="all 1 tests passed", image_digest="sha256:x")
    outcome.counts = {"passed": len(rows), "failed": 0, "error": 0, "skipped": 0, "total": len(rows)}
    return {**outcome.to_dict(), "rows": rows, "ref": "main", "metrics": {"PassRate": 100.0}}


@pytest.fixture
def publish(tmp_path, monkeypatch, sample_config):
    config = sample_config.model_copy(
        update={
            "campaign": sample_config.campaign.model_copy(
                update={"history_uri": str(tmp_path / "history"), "report_dir": str(tmp_path / "reports")}
            )
        }
    )
    outlet_events = defaultdict(SimpleNamespace)
    monkeypatch.setattr(publishing.metrics, "publish", lambda cloudwatch, data: len(data))

    def publish_outcomes(
        outcomes: list[dict], logical_date: str, run_id: str, retention_days: int = 0
    ) -> str:
        monkeypatch.setattr(publishing.outcomes, "read_outcomes", lambda *a: [dict(o) for o in outcomes])
        campaign = config.campaign.model_copy(update={"history_retention_days": retention_days})
        run = RunPlan(
            dag_id=config.campaign.dag_id,
            run_id=run_id,
            logical_date=logical_date,
            attempt=1,
            failure_policy="infrastructure",
            validation_policy="warn",
            sdks=(),
        )
        return publishing.publish_run(
            config.model_copy(update={"campaign": campaign}),
            run,
            {"success": True, "summary": "all expectations met"},
            outlet_events,
            _NoAws(),
        )

    publish_outcomes.outlet_events = outlet_events
    return config, publish_outcomes


def test_publish_writes_one_partition_per_sdk_and_a_rerun_replaces_them(publish):
    config, publish_outcomes = publish
    date = "2026-11-20T06:00:00+00:00"
    publish_outcomes([_outcome(s, date, "r1") for s in ("python", "go")], date, "r1")
    report = publish_outcomes([_outcome("python", date, "r2")], date, "r2")
    uri, dag = config.history_uri(), config.campaign.dag_id
    partitions = history.read_run(uri, dag, date)
    assert [(p["summary"]["sdk"], p["summary"]["run_id"]) for p in partitions] == [
        ("go", "r1"),
        ("python", "r2"),
    ]
    python = partitions[1]["summary"]
    assert python["metrics"] == {"PassRate": 100.0} and python["ref"] == "main"
    assert python["validation"] == "all expectations met" and python["report"] == report
    assert "id='sdk-python'" in Path(report).read_text()


def test_one_sdks_unstorable_rows_do_not_drop_the_others(publish):
    config, publish_outcomes = publish
    date = "2026-11-20T06:00:00+00:00"
    bad = _outcome("go", date, "r1", rows=[{"name": "t", "duration": "not a number"}])
    publish_outcomes([bad, _outcome("python", date, "r1")], date, "r1")
    partitions = {
        p["summary"]["sdk"]: p for p in history.read_run(config.history_uri(), config.campaign.dag_id, date)
    }
    assert partitions["python"]["summary"]["status"] == "passed" and len(partitions["python"]["rows"]) == 1
    go = partitions["go"]
    assert go["summary"]["status"] == "results_invalid" and go["rows"] == []
    assert "rows not stored" in go["summary"]["reason"]


def test_retention_runs_after_the_report(publish):
    config, publish_outcomes = publish
    now = datetime.now(UTC).replace(microsecond=0)
    old, recent = (now - timedelta(days=40)).isoformat(), (now - timedelta(days=1)).isoformat()
    publish_outcomes([_outcome("python", old, "old")], old, "old")
    publish_outcomes([_outcome("python", recent, "recent")], recent, "recent", retention_days=30)
    summaries = history.read_summaries(config.history_uri(), config.campaign.dag_id)
    assert [s["run_id"] for s in summaries] == ["recent"]
    backfill = publish_outcomes([_outcome("go", old, "backfill")], old, "backfill", retention_days=30)
    assert "id='sdk-go'" in Path(backfill).read_text()  # reported, then pruned as older than the retention
    assert [s["run_id"] for s in history.read_summaries(config.history_uri(), config.campaign.dag_id)] == [
        "recent"
    ]


def test_publish_updates_the_history_asset_with_what_it_brought(publish):
    config, publish_outcomes = publish
    date = "2026-11-20T06:00:00+00:00"
    publish_outcomes([_outcome(s, date, "r1") for s in ("python", "go")], date, "r1")
    event = publish_outcomes.outlet_events[history_asset(config)]
    assert event.extra == {
        "logical_date": date,
        "run_id": "r1",
        "lane": "official",
        "statuses": {"python": "passed", "go": "passed"},
        "history_uri": config.history_uri(),
    }


def test_the_history_asset_is_the_same_wherever_the_history_is_stored(sample_config):
    """Airflow deactivates an asset whose name comes back with another URI."""
    moved = sample_config.model_copy(
        update={"campaign": sample_config.campaign.model_copy(update={"history_uri": "s3://b/h"})}
    )
    assert history_asset(moved) == history_asset(sample_config)


def test_publish_writes_the_feed_and_badges_beside_the_reports(publish):
    config, publish_outcomes = publish
    date = "2026-11-20T06:00:00+00:00"
    publish_outcomes([_outcome("python", date, "r1")], date, "r1")
    folder = config.report_dir() / config.campaign.dag_id
    feed = json.loads((folder / "feed.json").read_text())
    assert feed["dag_id"] == config.campaign.dag_id
    badge = json.loads((folder / "badges" / "python.json").read_text())
    assert badge["schemaVersion"] == 1 and badge["message"] == "passing"
    assert (folder / "latest.html").is_file()
