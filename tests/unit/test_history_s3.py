"""The same history code on s3:// (pyarrow's S3 filesystem), against an in-process moto server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sdk_campaigns import history
from sdk_campaigns.history import analytics

DAG = "sdk_test_campaign"
BUCKET = "history-bucket"


@pytest.fixture(scope="module")
def s3_uri():
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    client.create_bucket(Bucket=BUCKET)
    yield f"s3://{BUCKET}/history?endpoint_override={host}:{port}&scheme=http&region=us-east-1", client
    server.stop()


def _partition(sdk, date, status="passed", run="r1", failing=()):
    rows = [
        {
            "run_id": run,
            "logical_date": date,
            "sdk": sdk,
            "suite": "s",
            "classname": "c",
            "name": name,
            "test_id": f"{sdk}-{name}",
            "status": "failed" if name in failing else "passed",
            "duration": 0.1,
            "message": "",
            "image_digest": "sha256:one",
        }
        for name in ("a", "b", "c")
    ]
    summary = {"dag_id": DAG, "logical_date": date, "sdk": sdk, "status": status, "run_id": run}
    return summary, rows


def _keys(client) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_history_on_s3(s3_uri, monkeypatch):
    uri, client = s3_uri
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "t")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "t")
    # pyarrow's own S3 filesystem, options in the URI: a stack test earlier in the session may have
    # pointed s3:// at the stack's connection (the autouse fixture in tests/conftest.py puts it back).
    history.use_s3_filesystem(None)
    now = datetime(2026, 11, 30, 6, tzinfo=UTC)
    days = [(now - timedelta(days=d)).isoformat() for d in (40, 2, 1, 0)]
    for date in days:
        for sdk in ("python", "go"):
            history.write_partition(uri, *_partition(sdk, date))
    history.write_partition(uri, *_partition("go", days[-1], "tests_failed", "r2", failing=("b",)))

    [go, python] = history.read_run(uri, DAG, days[-1])
    assert (go["summary"]["run_id"], len(go["rows"]), python["summary"]["run_id"]) == ("r2", 3, "r1")
    assert len(history.read_summaries(uri, DAG)) == 8
    keys = _keys(client)
    assert f"history/{DAG}/{history.INDEX_FILE}" in keys
    partition_files = [k for k in keys if k.endswith(".parquet") and "/_" not in k]
    assert len(partition_files) == 16  # the replaced go partition's files were deleted

    with analytics.HistoryAnalytics(uri, DAG) as answers:
        assert answers.broken_since()["go"]["broken_since"] == days[-1]
        assert [t["name"] for t in answers.test_changes()["go"]["newly_failing"]] == ["b"]

    assert history.prune(uri, DAG, retention_days=30, now=now) == [
        f"{history.date_key(days[0])}/go",
        f"{history.date_key(days[0])}/python",
    ]
    assert {s["logical_date"] for s in history.read_summaries(uri, DAG)} == set(days[1:])
    assert not [k for k in _keys(client) if history.date_key(days[0]) in k]


def test_the_dashboard_from_s3_answers_as_from_a_folder(s3_uri, monkeypatch, tmp_path):
    """On an object store the analytics read rows files themselves (concurrently, each once per
    instance, though the dashboard's queries overlap); DuckDB reads a folder's in place. Same answers,
    and the same test histories read for several SDKs at once as one SDK at a time."""
    uri, _ = s3_uri
    uri = uri.replace("/history?", "/dashboard?")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "t")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "t")
    history.use_s3_filesystem(None)
    folder = str(tmp_path / "history")
    now = datetime(2026, 11, 30, 6, tzinfo=UTC)
    for day in range(12):
        date = (now - timedelta(days=12 - day)).isoformat()
        for sdk in ("python", "go"):
            # go: b fails now and then at one commit (flaky); python: b fails on the last day only
            failing = ("b",) if (sdk == "go" and day % 3 == 0) or (sdk == "python" and day == 11) else ()
            summary, rows = _partition(sdk, date, "tests_failed" if failing else "passed", f"r{day}", failing)
            summary.update(
                commit="c0ffee", commit_kind="image_source", counts={"passed": 3 - len(failing), "total": 3}
            )
            summary["counts"]["failed"] = len(failing)
            for where in (uri, folder):
                history.write_partition(where, summary, rows)
    from_s3 = analytics.dashboard(uri, DAG, as_of=now)
    assert from_s3 == analytics.dashboard(folder, DAG, as_of=now)
    assert from_s3["flaky_tests"] and from_s3["test_changes"]["python"]["newly_failing"]
    wanted = {"go": ["go-b", "go-a"], "python": ["python-b"]}
    together = analytics.many_test_histories(uri, DAG, wanted)
    one_by_one = {
        (sdk, test_id): entries
        for sdk, test_ids in wanted.items()
        for test_id, entries in analytics.test_histories(folder, DAG, sdk, test_ids).items()
    }
    assert together == one_by_one and len(together[("go", "go-b")]) == 12
