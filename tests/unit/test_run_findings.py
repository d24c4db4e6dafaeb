"""What one run changed, as the alerts see it: regressions, fixes, new flaky tests, newly broken."""

from sdk_campaigns import history
from sdk_campaigns.history.analytics import run_findings

DAG = "sdk_test_campaign"
DATES = ["2026-11-01T06:00:00+00:00", "2026-11-02T06:00:00+00:00", "2026-11-03T06:00:00+00:00"]


def _publish(uri, date, statuses, sdk="go", digest="sha256:a"):
    rows = [
        {
            "run_id": f"r-{date}",
            "logical_date": date,
            "sdk": sdk,
            "suite": "s",
            "classname": "pkg",
            "name": name,
            "test_id": f"{sdk}-{name}",
            "status": status,
            "duration": 0.1,
            "message": "boom" if status == "failed" else "",
            "image_digest": digest,
        }
        for name, status in statuses.items()
    ]
    failed = sum(s == "failed" for s in statuses.values())
    summary = {
        "dag_id": DAG,
        "logical_date": date,
        "sdk": sdk,
        "run_id": f"r-{date}",
        "status": "tests_failed" if failed else "passed",
        "reason": "",
        "image_digest": digest,
        "commit": digest,  # the image's own suite: flaky detection keys on the code under test
        "commit_kind": "image_source",
        "counts": {
            "passed": len(statuses) - failed,
            "failed": failed,
            "error": 0,
            "skipped": 0,
            "total": len(statuses),
        },
    }
    history.write_partition(uri, summary, rows)


def test_a_regression_then_a_flaky_pass(tmp_path):
    uri = str(tmp_path)
    _publish(uri, DATES[0], {"t1": "passed", "t2": "passed"})
    _publish(uri, DATES[1], {"t1": "failed", "t2": "passed"})
    _publish(uri, DATES[2], {"t1": "passed", "t2": "passed"})

    first = run_findings(uri, DAG, DATES[0])
    assert first == {"regressions": [], "fixed": [], "new_flaky": [], "broken": []}

    second = run_findings(uri, DAG, DATES[1])
    assert [(r["sdk"], r["name"], r["message"]) for r in second["regressions"]] == [("go", "t1", "boom")]
    assert [(b["sdk"], b["status"]) for b in second["broken"]] == [("go", "tests_failed")]
    assert second["new_flaky"] == []

    third = run_findings(uri, DAG, DATES[2])
    assert [f["name"] for f in third["fixed"]] == ["t1"]
    assert [(f["sdk"], f["test_id"]) for f in third["new_flaky"]] == [("go", "go-t1")]
    assert third["broken"] == [] and third["regressions"] == []


def test_still_broken_is_not_newly_broken(tmp_path):
    uri = str(tmp_path)
    _publish(uri, DATES[0], {"t1": "failed"})
    _publish(uri, DATES[1], {"t1": "failed"})
    assert run_findings(uri, DAG, DATES[0])["broken"][0]["sdk"] == "go"
    assert run_findings(uri, DAG, DATES[1])["broken"] == []
