"""Backfills through Airflow's real scheduler on the local stack.

`airflow backfill create` for three past dates, started together with the scheduled run that
unpausing creates (four logical dates at once), fills exactly one history partition per date
and SDK. Creating the same backfill again duplicates nothing; reprocessing completed runs
replaces each date's partitions and nothing else.
"""

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sdk_campaigns import history
from sdk_campaigns.dev import airflow_services

pytestmark = pytest.mark.stack

DAG_ID = "sdk_test_campaign"
SDKS = {"python", "go"}
CONF = '{"sdks": ["python", "go"]}'


def backfill_dates(today: date) -> list[date]:
    """The three days ending three days before today: clear of the latest interval, which
    unpausing schedules, and of the recent manual runs other tests make on the same stack. The
    airflow_ui fixture's config starts the DAG early enough for them (tests/conftest.py)."""
    return [today - timedelta(days=days_ago) for days_ago in (5, 4, 3)]


def _run_id(day: date) -> str:
    return f"backfill__{day.isoformat()}T06:00:00+00:00"  # the schedule's 06:00 UTC


def _airflow(env: dict, *args: str) -> subprocess.CompletedProcess:
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run([str(airflow), *args], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (
        f"airflow {' '.join(args)}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    )
    return result


def _create_backfill(env: dict, dates: list[date], *extra: str) -> None:
    _airflow(
        env,
        "backfill", "create", "--dag-id", DAG_ID,
        "--from-date", dates[0].isoformat(), "--to-date", f"{dates[-1].isoformat()}T23:59:59",
        "--max-active-runs", "3", "--dag-run-conf", CONF, *extra,
    )  # fmt: skip


def _wait_for_backfills_to_complete(token: str, timeout: float = 120) -> None:
    """Only one backfill per DAG may run: the scheduler marks one complete soon after its runs end."""

    def all_complete() -> bool:
        backfills = airflow_services.api("GET", f"backfills?dag_id={DAG_ID}", token)["backfills"]
        return all(b["completed_at"] for b in backfills)

    airflow_services.wait_until(all_complete, timeout, f"the backfills of {DAG_ID} to complete")


def _dag_runs(token: str) -> dict[str, dict]:
    runs = airflow_services.api("GET", f"dags/{DAG_ID}/dagRuns?limit=100", token)["dag_runs"]
    return {r["dag_run_id"]: r for r in runs}


def _partitions(uri: str) -> dict[tuple[str, str], history.Partition]:
    found = history.list_partitions(uri, DAG_ID)
    keyed = {(p.date_key, p.sdk_key): p for p in found}
    assert len(keyed) == len(found), "two committed partitions for one (date, SDK)"
    return keyed


@pytest.fixture(scope="module")
def first_backfill(airflow_ui):
    env = airflow_ui["env"]
    token = airflow_services.access_token()
    dates = backfill_dates(datetime.now(UTC).date())
    started = datetime.now(UTC)
    _create_backfill(env, dates)
    # Backfill runs wait for an unpaused DAG; unpausing also schedules the latest interval, so
    # four logical dates run at once.
    _airflow(env, "dags", "unpause", DAG_ID)
    backfills = airflow_services.api("GET", f"backfills?dag_id={DAG_ID}", token)["backfills"]
    assert len(backfills) == 1

    def scheduled_runs() -> set[str]:
        return {r for r, run in _dag_runs(token).items() if run["run_type"] == "scheduled"}

    scheduled = airflow_services.wait_until(scheduled_runs, 60, "the run that unpausing schedules")
    run_ids = {_run_id(day) for day in dates} | scheduled
    runs = airflow_services.wait_for_runs(DAG_ID, run_ids, token, ended_after=started)
    return {"token": token, "env": env, "dates": dates, "runs": runs}


def test_every_run_succeeds_and_ran_at_the_same_time(first_backfill):
    runs = first_backfill["runs"]
    assert len(runs) >= 4
    assert {r["state"] for r in runs.values()} == {"success"}, runs
    # They overlapped: the last to start started before the first to end ended.
    starts = [datetime.fromisoformat(r["start_date"]) for r in runs.values()]
    ends = [datetime.fromisoformat(r["end_date"]) for r in runs.values()]
    assert max(starts) < min(ends)


def test_one_history_partition_per_date_and_sdk(first_backfill, airflow_ui):
    partitions = _partitions(airflow_ui["history_uri"])
    expected_dates = {history.date_key(r["logical_date"]) for r in first_backfill["runs"].values()}
    assert set(partitions) == {(d, sdk) for d in expected_dates for sdk in SDKS}
    for day in first_backfill["dates"]:
        documents = history.read_run(airflow_ui["history_uri"], DAG_ID, f"{day.isoformat()}T06:00:00+00:00")
        assert {d["summary"]["sdk"] for d in documents} == SDKS
        for document in documents:
            assert document["summary"]["run_id"] == _run_id(day)
            assert document["summary"]["status"] == "tests_failed"  # the sample's deliberate failure
            assert len(document["rows"]) == 6
            assert len({r["test_id"] for r in document["rows"]}) == 6


def test_creating_the_backfill_again_duplicates_nothing(first_backfill, airflow_ui):
    before = _partitions(airflow_ui["history_uri"])
    runs_before = _dag_runs(first_backfill["token"])
    _wait_for_backfills_to_complete(first_backfill["token"])
    _create_backfill(first_backfill["env"], first_backfill["dates"])  # default: dates with a run are skipped
    _wait_for_backfills_to_complete(first_backfill["token"])
    assert _dag_runs(first_backfill["token"]).keys() == runs_before.keys()
    assert _partitions(airflow_ui["history_uri"]) == before


def test_reprocessing_replaces_each_dates_partitions_and_nothing_else(first_backfill, airflow_ui):
    uri, token = airflow_ui["history_uri"], first_backfill["token"]
    before = _partitions(uri)
    started = datetime.now(UTC)
    _wait_for_backfills_to_complete(token)
    dates = first_backfill["dates"]
    _create_backfill(first_backfill["env"], dates, "--reprocess-behavior", "completed")
    runs = airflow_services.wait_for_runs(DAG_ID, {_run_id(d) for d in dates}, token, ended_after=started)
    assert {run["state"] for run in runs.values()} == {"success"}
    after = _partitions(uri)
    assert after.keys() == before.keys()
    backfilled = {history.date_key(f"{d.isoformat()}T06:00:00+00:00") for d in dates}
    for key, partition in after.items():
        if key[0] in backfilled:
            assert partition.write_id != before[key].write_id, f"{key} was not rewritten"
        else:
            assert partition.write_id == before[key].write_id, f"{key} changed but was not rerun"
    rows = history.read_rows_files(uri, [p.rows_path for p in after.values()], ["sdk", "test_id"])
    assert rows.num_rows == 6 * len(after)


def test_every_publish_updates_the_history_asset(first_backfill):
    token = first_backfill["token"]
    assets = airflow_services.api("GET", f"assets?name_pattern={DAG_ID}_history", token)["assets"]
    assert [a["name"] for a in assets] == [f"{DAG_ID}_history"]
    events = airflow_services.api("GET", f"assets/events?asset_id={assets[0]['id']}&limit=100", token)
    brought = {e["extra"]["run_id"]: e["extra"]["statuses"] for e in events["asset_events"]}
    for run_id in first_backfill["runs"]:
        assert brought[run_id] == {"python": "tests_failed", "go": "tests_failed"}
