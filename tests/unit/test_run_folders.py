"""Every run id Airflow accepts gets a report folder of its own, never a reserved name, never outside the
DAG's folder; publishing never fails because of a run id, and every link (feed, reports, Data Docs)
leads to the run's own folder."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote

import pytest

from sdk_campaigns import publish as publishing
from sdk_campaigns.campaign.plan import plan_run
from sdk_campaigns.reporting import links, report

# In publishing order; the last is an ordinary scheduled run after all of them.
HOSTILE_RUN_IDS = [
    "latest.html",
    "feed.json",
    ".",
    "..",
    "badges",
    "data-docs",
    ".hidden",
    "scheduled__2026-11-02T06:00:00+00:00",
    "scheduled__2026-11-02T06_00_00_00_00",  # a manual run named like the scheduled run's folder
    "Latest.HTML",
    "a/b",
    "../../escape",
    "run with spaces",
    "ünïcode-run",
    "x" * 250,
    "scheduled__2026-11-02T06_00_00_00_00~a1378d1071ee210f",  # the second's folder, as a run id
]
NORMAL_RUN = "scheduled__2026-11-30T06:00:00+00:00"


def test_run_folders_differ_and_stay_plain_names():
    run_ids = [*HOSTILE_RUN_IDS, NORMAL_RUN, "manual__2026-11-02T06:00:00.123456+00:00_AbC123", "my-run"]
    folders = [report.run_folder(r) for r in run_ids]
    assert len(set(folders)) == len(run_ids)
    for folder in folders:
        assert folder not in ("", ".", "..") and not folder.startswith(".")
        assert "/" not in folder and "\\" not in folder and len(folder.encode()) <= 255
        assert folder.lower() not in report.RESERVED_NAMES
    # Airflow's own run ids and plain ones keep the folders they always had: old links still work.
    assert report.run_folder(NORMAL_RUN) == "scheduled__2026-11-30T06_00_00_00_00"
    assert report.run_folder("my-run") == "my-run"


@pytest.fixture
def publish(tmp_path, monkeypatch, sample_config):
    campaign = sample_config.campaign.model_copy(
        update={
            "history_uri": str(tmp_path / "history"),
            "report_dir": str(tmp_path / "reports"),
            "history_retention_days": 0,
        }
    )
    config = sample_config.model_copy(update={"campaign": campaign})
    monkeypatch.setattr(publishing.metrics, "publish", lambda cloudwatch, data: len(data))
    aws = SimpleNamespace(aws_conn_id="aws_default", client=lambda name: None)

    def publish_run(run_id: str, day: int) -> Path:
        logical_date = (datetime(2026, 11, 1, 6, tzinfo=UTC) + timedelta(days=day)).isoformat()
        run = plan_run(config, {"sdks": ["python"]}, run_id=run_id, logical_date=logical_date)
        row = {
            "run_id": run_id,
            "logical_date": logical_date,
            "sdk": "python",
            "suite": "s",
            "classname": "c",
            "name": "t",
            "test_id": "0123456789abcdef",
            "status": "passed",
            "duration": 0.1,
            "message": "",
            "image_digest": "",
        }
        outcome = {
            "sdk": "python",
            "status": "passed",
            "reason": "all 1 tests passed",
            "counts": {"passed": 1, "failed": 0, "error": 0, "skipped": 0, "total": 1},
            "rows": [row],
            "ref": "main",
        }
        monkeypatch.setattr(publishing.outcomes, "read_outcomes", lambda *args: [dict(outcome)])
        validation = {"success": True, "summary": "all expectations met", "data_docs": "x"}
        return Path(publishing.publish_run(config, run, validation, defaultdict(SimpleNamespace), aws))

    return config, publish_run


def test_hostile_run_ids_then_a_normal_run_each_publish_into_their_own_folder(publish):
    config, publish_run = publish
    dag_dir = config.report_dir() / config.campaign.dag_id
    reports = {}
    for day, run_id in enumerate([*HOSTILE_RUN_IDS, NORMAL_RUN]):
        path = publish_run(run_id, day)
        assert path == report.report_path(config.report_dir(), config.campaign.dag_id, run_id)
        assert path.parent.parent == dag_dir, f"{run_id!r} was published outside the DAG's folder"
        assert f"<code>{run_id}</code>" in path.read_text().replace("&#39;", "'") or len(run_id) > 200
        reports[run_id] = path

    assert len({p.parent for p in reports.values()}) == len(reports)  # nothing overwrote another run
    assert (dag_dir / "latest.html").is_file() and (dag_dir / "feed.json").is_file()
    assert (dag_dir / "badges").is_dir()
    assert not (dag_dir.parent / "escape").exists() and not (dag_dir.parent / "report.html").exists()
    assert f"<code>{NORMAL_RUN}</code>" in (dag_dir / "latest.html").read_text()

    # Every run's link in the feed leads to that run's own report.
    feed = json.loads((dag_dir / "feed.json").read_text())
    linked = {
        entry["run_id"]: entry["report"]
        for entry in _entries_with_links(feed)
        if entry.get("run_id") and entry.get("report")
    }
    assert linked, "the feed links no run"
    for run_id, link in linked.items():
        assert (dag_dir / link).resolve() == reports[run_id].resolve(), run_id

    # The newest report's dashboard links runs' reports: each one exists, inside the DAG's folder.
    newest = reports[NORMAL_RUN]
    hrefs = set(re.findall(r"href='([^'#]*report\.html)", newest.read_text()))
    assert hrefs, "the dashboard links no run"
    for href in hrefs:
        target = (newest.parent / unquote(href)).resolve()
        assert target.is_file() and target.is_relative_to(dag_dir.resolve()), href


def _entries_with_links(value):
    if isinstance(value, dict):
        if "run_id" in value:
            yield value
        for item in value.values():
            yield from _entries_with_links(item)
    elif isinstance(value, list):
        for item in value:
            yield from _entries_with_links(item)


@pytest.mark.parametrize("run_id", HOSTILE_RUN_IDS[:9])
def test_report_log_and_data_docs_links_use_the_runs_folder(run_id):
    folder = report.run_folder(run_id)
    summary = {"run_id": run_id, "sdk": "python", "report": "r"}
    assert report.run_report_links([summary]) == {run_id: f"{folder}/report.html"}
    assert report.run_log_links([summary], base="../") == {
        ("python", run_id): f"../{folder}/report.html#sdk-python"
    }
    assert links.data_docs_link("sdk_test_campaign", run_id) == (
        f"/sdk-health/reports/sdk_test_campaign/{folder}/data-docs/index.html"
    )
