"""The Parquet history store: idempotent partitions, atomic and crash-safe writes, concurrency,
schema versions, the summary cache and retention."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sdk_campaigns import history

DAG = "d"


def _summary(sdk, date, status="passed", run="r1", **extra):
    return {"dag_id": DAG, "logical_date": date, "sdk": sdk, "status": status, "run_id": run, **extra}


def _rows(sdk, date, run="r1", n=3, failing=0):
    return [
        {
            "run_id": run,
            "logical_date": date,
            "sdk": sdk,
            "suite": "s",
            "classname": "pkg.Test",
            "name": f"test_{i}",
            "test_id": f"{sdk}-{i}",
            "status": "failed" if i < failing else "passed",
            "duration": 0.5 + i,
            "message": "boom" if i < failing else "",
            "image_digest": "sha256:abc",
        }
        for i in range(n)
    ]


def _files(tmp_path: Path) -> list[str]:
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())


def test_summary_and_rows_round_trip(tmp_path):
    summary = _summary(
        "python",
        "2026-11-01T06:00:00+00:00",
        status="tests_failed",
        reason="1 of 3 tests failed",
        job_id="job-1",
        exit_code=0,
        job_seconds=12.5,
        image_digest="sha256:abc",
        log_excerpt=["line 1", "line <2>"],
        counts={"passed": 2, "failed": 1, "error": 0, "skipped": 0, "total": 3},
        metrics={"PassRate": 66.7},
        ref="main",
        validation="all expectations met",
        custom={"nested": [1, 2]},
    )
    rows = _rows("python", summary["logical_date"], failing=1)
    written = history.write_partition(str(tmp_path), summary, rows)
    [partition] = history.read_run(str(tmp_path), DAG, "2026-11-01T06:00:00Z")
    read = partition["summary"]
    assert {k: read[k] for k in summary} == summary
    assert read["write_id"] == written.write_id and read["row_count"] == 3
    assert read["job_status"] is None  # a column the caller did not give
    assert partition["rows"] == rows


def test_partition_files_are_versioned_parquet(tmp_path):
    written = history.write_partition(str(tmp_path), _summary("go", "2026-11-01"), _rows("go", "2026-11-01"))
    for path, kind in ((written.summary_path, b"summary"), (written.rows_path, b"rows")):
        metadata = pq.read_schema(path).metadata
        assert metadata[b"sdk_campaigns.schema_version"] == str(history.SCHEMA_VERSION).encode()
        assert metadata[b"sdk_campaigns.kind"] == kind
    assert Path(written.summary_path).parent == tmp_path / DAG / "2026-11-01T000000Z" / "go"


def test_rerun_of_a_date_replaces_only_its_partition(tmp_path):
    uri = str(tmp_path)
    first = history.write_partition(uri, _summary("python", "2026-11-01"), _rows("python", "2026-11-01"))
    go = history.write_partition(uri, _summary("go", "2026-11-01"), _rows("go", "2026-11-01"))
    nextday = history.write_partition(uri, _summary("python", "2026-11-02"), _rows("python", "2026-11-02"))
    untouched = {p: Path(p).read_bytes() for p in (go.summary_path, go.rows_path, nextday.rows_path)}
    rerun = history.write_partition(
        uri,
        _summary("python", "2026-11-01", "tests_failed", "r2"),
        _rows("python", "2026-11-01", "r2", n=5, failing=2),
    )
    assert rerun.write_id > first.write_id
    summaries = history.read_summaries(uri, DAG)
    assert [(s["logical_date"], s["sdk"], s["status"], s["run_id"]) for s in summaries] == [
        ("2026-11-01", "go", "passed", "r1"),
        ("2026-11-01", "python", "tests_failed", "r2"),
        ("2026-11-02", "python", "passed", "r1"),
    ]
    [go_run, python_run] = history.read_run(uri, DAG, "2026-11-01")
    assert len(python_run["rows"]) == 5 and {r["run_id"] for r in python_run["rows"]} == {"r2"}
    assert len(go_run["rows"]) == 3
    assert all(Path(p).read_bytes() == data for p, data in untouched.items())
    # the replaced files are gone; no temp files are left behind
    assert not Path(first.summary_path).exists() and not Path(first.rows_path).exists()
    assert not [f for f in _files(tmp_path) if f.endswith(".tmp")]


def test_the_same_instant_is_the_same_partition_whatever_its_spelling(tmp_path):
    uri = str(tmp_path)
    for spelling in ("2026-11-01T06:00:00+00:00", "2026-11-01T07:00:00+01:00", "2026-11-01T06:00:00Z"):
        history.write_partition(uri, _summary("python", spelling), _rows("python", spelling))
    [only] = history.read_summaries(uri, DAG)
    assert only["logical_date"] == "2026-11-01T06:00:00Z"  # as the last writer gave it
    assert len(history.read_run(uri, DAG, "2026-11-01T08:00:00+02:00")) == 1


def _write_one_date(uri: str, date: str, barrier) -> None:
    barrier.wait()
    for sdk in ("python", "go", "rust"):
        history.write_partition(
            uri, _summary(sdk, date, run=f"run-{date}"), _rows(sdk, date, f"run-{date}", n=50)
        )


def _write_same_partition(uri: str, run: str, barrier) -> None:
    barrier.wait()
    for attempt in range(5):
        n = 10 + int(run[-1]) * 10 + attempt
        history.write_partition(
            uri, _summary("python", "2026-11-01", run=run), _rows("python", "2026-11-01", run, n)
        )


def _run_processes(target, argument_lists):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(argument_lists))
    processes = [context.Process(target=target, args=(*args, barrier)) for args in argument_lists]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0] * len(processes)


def test_four_dates_written_at_once_by_four_processes_lose_nothing(tmp_path):
    uri = str(tmp_path)
    dates = [f"2026-11-0{d}T06:00:00+00:00" for d in range(1, 5)]
    _run_processes(_write_one_date, [(uri, date) for date in dates])
    summaries = history.read_summaries(uri, DAG)
    keys = [(s["logical_date"], s["sdk"]) for s in summaries]
    assert len(keys) == len(set(keys)) == 12
    assert set(keys) == {(d, sdk) for d in dates for sdk in ("python", "go", "rust")}
    for date in dates:
        for partition in history.read_run(uri, DAG, date):
            assert len(partition["rows"]) == 50
            assert {r["run_id"] for r in partition["rows"]} == {partition["summary"]["run_id"]}


def test_concurrent_rewrites_of_one_partition_leave_one_consistent_partition(tmp_path):
    uri = str(tmp_path)
    _run_processes(_write_same_partition, [(uri, f"run-{i}") for i in range(4)])
    [partition] = history.read_run(uri, DAG, "2026-11-01")
    summary, rows = partition["summary"], partition["rows"]
    assert summary["row_count"] == len(rows) and {r["run_id"] for r in rows} == {summary["run_id"]}
    folder = tmp_path / DAG / "2026-11-01T000000Z" / "python"
    assert sorted(p.name.split("-")[0] for p in folder.iterdir()) == [".lock", "rows", "summary"]


CRASHING_WRITER = """
import json, os, signal, sys
from sdk_campaigns import history

uri, summary, rows, crash_before = sys.argv[1], *map(json.loads, sys.argv[2:4]), sys.argv[4]
real_replace = os.replace

def replace_then_die(src, dst):
    if os.path.basename(dst).startswith(crash_before):
        os.kill(os.getpid(), signal.SIGKILL)  # a crash between the temp write and the rename
    real_replace(src, dst)

os.replace = replace_then_die
history.write_partition(uri, summary, rows)
"""


def _crash_while_writing(uri: str, summary: dict, rows: list[dict], crash_before: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, uri, json.dumps(summary), json.dumps(rows), crash_before],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr


@pytest.mark.parametrize("crash_before", ["rows-", "summary-"])
def test_a_writer_killed_mid_write_leaves_the_old_partition_visible(tmp_path, crash_before):
    uri, date = str(tmp_path), "2026-11-01"
    history.write_partition(uri, _summary("python", date, run="good"), _rows("python", date, "good"))
    _crash_while_writing(
        uri,
        _summary("python", date, "tests_failed", "crashed"),
        _rows("python", date, "crashed", 9),
        crash_before,
    )
    leftovers = [f for f in _files(tmp_path) if f.endswith(".tmp")]
    assert len(leftovers) == 1 and Path(leftovers[0]).name.startswith(f".{crash_before}")
    [partition] = history.read_run(uri, DAG, date)
    assert partition["summary"]["run_id"] == "good" and len(partition["rows"]) == 3
    assert [s["run_id"] for s in history.read_summaries(uri, DAG)] == ["good"]

    history.write_partition(uri, _summary("python", date, run="next"), _rows("python", date, "next", 4))
    [partition] = history.read_run(uri, DAG, date)
    assert partition["summary"]["run_id"] == "next" and len(partition["rows"]) == 4
    folder = tmp_path / DAG / "2026-11-01T000000Z" / "python"
    assert sorted(p.name.split("-")[0] for p in folder.iterdir()) == [".lock", "rows", "summary"]


def test_a_first_write_killed_mid_write_leaves_no_partition(tmp_path):
    uri = str(tmp_path)
    _crash_while_writing(uri, _summary("go", "2026-11-01"), _rows("go", "2026-11-01"), "summary-")
    assert history.read_run(uri, DAG, "2026-11-01") == []
    assert history.read_summaries(uri, DAG) == []
    assert history.list_partitions(uri, DAG) == []


def test_a_newer_schema_version_fails_clearly(tmp_path):
    uri = str(tmp_path)
    written = history.write_partition(uri, _summary("go", "2026-11-01"), _rows("go", "2026-11-01"))
    table = pq.read_table(written.summary_path)
    newer = table.replace_schema_metadata({**table.schema.metadata, history.VERSION_KEY: b"99"})
    pq.write_table(newer, written.summary_path)
    with pytest.raises(history.HistoryError, match="schema version 99.*upgrade sdk-campaigns"):
        history.read_run(uri, DAG, "2026-11-01")
    with pytest.raises(history.HistoryError, match="schema version 99"):
        history.read_summaries(uri, DAG)


def test_a_foreign_parquet_file_is_refused(tmp_path):
    uri = str(tmp_path)
    written = history.write_partition(uri, _summary("go", "2026-11-01"), _rows("go", "2026-11-01"))
    pq.write_table(pa.table({"x": [1]}), written.rows_path)
    with pytest.raises(history.HistoryError, match="not an sdk-campaigns history rows file"):
        history.read_run(uri, DAG, "2026-11-01")


def test_bad_input_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(history.HistoryError, match="outside the results schema.*'surprise'"):
        history.write_partition(str(tmp_path), _summary("go", "2026-11-01"), [{"name": "a", "surprise": 1}])
    with pytest.raises(history.HistoryError, match="non-empty string 'sdk'"):
        history.write_partition(str(tmp_path), {"dag_id": DAG, "logical_date": "2026-11-01"}, [])
    with pytest.raises(history.HistoryError, match="not an ISO 8601"):
        history.write_partition(str(tmp_path), _summary("go", "yesterday"), [])
    with pytest.raises(history.HistoryError, match="cannot name a history folder"):
        history.write_partition(str(tmp_path), _summary("..", "2026-11-01"), [])
    assert _files(tmp_path) == []


def test_read_summaries_filters_by_sdk_and_days(tmp_path):
    uri = str(tmp_path)
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    for days_ago in range(10):
        date = (now - timedelta(days=days_ago, hours=6)).isoformat()
        for sdk in ("python", "go"):
            history.write_partition(uri, _summary(sdk, date), _rows(sdk, date), sync=False)
    assert len(history.read_summaries(uri, DAG)) == 20
    recent = history.read_summaries(uri, DAG, days=3, now=now)
    assert len(recent) == 6 and [s["sdk"] for s in recent[:2]] == ["go", "python"]
    go = history.read_summaries(uri, DAG, sdk="go", days=5, now=now)
    assert [s["sdk"] for s in go] == ["go"] * 5
    assert [s["logical_date"] for s in go] == sorted(s["logical_date"] for s in go)


def test_the_summary_cache_never_serves_stale_partitions(tmp_path):
    uri = str(tmp_path)
    for sdk in ("python", "go"):
        history.write_partition(uri, _summary(sdk, "2026-11-01"), _rows(sdk, "2026-11-01"))
    assert len(history.read_summaries(uri, DAG)) == 2
    index = tmp_path / DAG / history.INDEX_FILE
    assert index.exists()
    history.write_partition(
        uri, _summary("go", "2026-11-01", "tests_failed", "r2"), _rows("go", "2026-11-01")
    )
    history.write_partition(uri, _summary("go", "2026-11-02"), _rows("go", "2026-11-02"))
    statuses = {(s["logical_date"], s["sdk"]): s["status"] for s in history.read_summaries(uri, DAG)}
    assert statuses == {
        ("2026-11-01", "go"): "tests_failed",
        ("2026-11-01", "python"): "passed",
        ("2026-11-02", "go"): "passed",
    }
    index.write_bytes(b"not parquet at all")  # a broken cache is rebuilt, not trusted
    assert len(history.read_summaries(uri, DAG)) == 3
    assert len(pq.read_table(index)) == 3


def test_abandoned_temp_files_of_the_summary_cache_are_cleaned(tmp_path):
    uri = str(tmp_path)
    history.write_partition(uri, _summary("go", "2026-11-01"), [])
    abandoned, fresh = (
        tmp_path / DAG / "._summaries.parquet.dead.tmp",
        tmp_path / DAG / "._summaries.parquet.live.tmp",
    )
    abandoned.write_bytes(b"half")
    fresh.write_bytes(b"half")
    two_hours_ago = datetime.now().timestamp() - 7200
    os.utime(abandoned, (two_hours_ago, two_hours_ago))
    assert [s["sdk"] for s in history.read_summaries(uri, DAG)] == ["go"]  # refreshes the cache
    assert not abandoned.exists() and fresh.exists()


def test_retention_deletes_old_partitions_only(tmp_path):
    uri = str(tmp_path)
    now = datetime(2026, 11, 30, 6, tzinfo=UTC)
    for days_ago in (0, 5, 9, 11, 40):
        date = (now - timedelta(days=days_ago)).isoformat()
        for sdk in ("python", "go"):
            history.write_partition(uri, _summary(sdk, date), _rows(sdk, date), sync=False)
    history.read_summaries(uri, DAG)  # fill the cache first: pruned entries must not come back
    removed = history.prune(uri, DAG, retention_days=10, now=now)
    assert removed == sorted(
        f"{history.date_key(now - timedelta(days=d))}/{sdk}" for d in (11, 40) for sdk in ("go", "python")
    )
    left = {s["logical_date"] for s in history.read_summaries(uri, DAG)}
    assert left == {(now - timedelta(days=d)).isoformat() for d in (0, 5, 9)}
    assert sorted(p.name for p in (tmp_path / DAG).iterdir() if p.is_dir()) == sorted(
        history.date_key(now - timedelta(days=d)) for d in (0, 5, 9)
    )
    assert history.prune(uri, DAG, retention_days=10, now=now) == []
    with pytest.raises(history.HistoryError, match="retention_days"):
        history.prune(uri, DAG, retention_days=0)


def test_json_partitions_of_the_old_store_are_ignored(tmp_path):
    old = tmp_path / DAG / "2026-11-01T06_00_00_00_00"
    old.mkdir(parents=True)
    (old / "python.json").write_text(json.dumps({"schema_version": 1, "summary": {}, "rows": []}))
    history.write_partition(str(tmp_path), _summary("go", "2026-11-01"), [])
    assert [s["sdk"] for s in history.read_summaries(str(tmp_path), DAG)] == ["go"]


def test_locations(tmp_path):
    history.write_partition(f"file://{tmp_path}", _summary("go", "2026-11-01"), [])
    assert [s["sdk"] for s in history.read_summaries(str(tmp_path), DAG)] == ["go"]
    with pytest.raises(history.HistoryError, match="not a location pyarrow can open"):
        history.read_summaries("nosuchscheme://bucket/h", DAG)
    with pytest.raises(history.HistoryError, match="no history location"):
        history.read_summaries("", DAG)


def test_partition_writes_are_fsynced_by_default(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    history.write_partition(str(tmp_path), _summary("go", "2026-11-01"), _rows("go", "2026-11-01"))
    assert len(synced) == 4  # each file, and the folder after each rename
    synced.clear()
    history.write_partition(str(tmp_path), _summary("go", "2026-11-02"), [], sync=False)
    assert synced == []
