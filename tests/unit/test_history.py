from sdk_campaigns import history


def _summary(sdk, date, status="passed", run="r1"):
    return {"dag_id": "d", "logical_date": date, "sdk": sdk, "status": status, "run_id": run}


def test_rerun_of_a_date_replaces_only_its_partition(tmp_path):
    uri = str(tmp_path)
    history.write_partition(uri, _summary("python", "2026-11-01"), [{"name": "a"}])
    history.write_partition(uri, _summary("go", "2026-11-01"), [{"name": "b"}])
    history.write_partition(uri, _summary("python", "2026-11-01", "tests_failed", "r2"), [{"name": "c"}])
    summaries = history.read_summaries(uri, "d")
    assert [(s["sdk"], s["status"]) for s in summaries] == [("go", "passed"), ("python", "tests_failed")]
    assert not list(tmp_path.rglob("*.tmp"))


def test_s3_history_is_refused_clearly(tmp_path):
    import pytest

    with pytest.raises(history.HistoryError, match="only local directories"):
        history.write_partition("s3://bucket/h", _summary("python", "x"), [])
