"""The culprit table beside the history, the flaky statistics reading it, and the breaks the campaign
starts bisections for (read from a local history written with the history's own writer)."""

from datetime import UTC, datetime, timedelta

from sdk_campaigns import history
from sdk_campaigns.campaign.collect import test_id as make_test_id
from sdk_campaigns.culprit import bisect, records
from sdk_campaigns.culprit.breaks import bisection_requests
from sdk_campaigns.culprit.request import BisectionRequest, parse_test
from sdk_campaigns.history import analytics, culprits

DAG = "sdk_test_campaign"
REPO = "https://github.com/example-org/sdk-python"
A, B = "a" * 40, "b" * 40
NOW = datetime.now(UTC).replace(microsecond=0)


def day(n: int) -> str:
    """Day n of a history that ends before now (the analytics leave out future logical dates)."""
    return (NOW - timedelta(days=25 - n)).isoformat()


def write_run(uri, n, *, status, commit, failing=(), lane="official", repo_url=REPO, sdk="python"):
    rows = []
    for name in ("test_list_buckets", "test_put_object"):
        outcome = "failed" if name in failing else "passed"
        rows.append(
            {
                "run_id": f"scheduled__{day(n)}",
                "logical_date": day(n),
                "sdk": sdk,
                "suite": "suite",
                "classname": "suite.test_s3",
                "name": name,
                "test_id": make_test_id(sdk, "suite.test_s3", name),
                "status": outcome,
                "duration": 0.1,
                "message": "",
                "image_digest": "sha256:1",
            }
        )
    summary = {
        "dag_id": DAG,
        "logical_date": day(n),
        "sdk": sdk,
        "run_id": f"scheduled__{day(n)}",
        "status": status,
        "reason": "",
        "image_digest": "sha256:1",
        "counts": {"passed": 2 - len(failing), "failed": len(failing), "error": 0, "skipped": 0, "total": 2},
        # history schema v3's commit attribution (the `history` work); absent keys mean "unknown"
        **({"commit": commit, "commit_kind": "git", "repo_url": repo_url, "lane": lane} if commit else {}),
    }
    history.write_partition(uri, summary, rows, sync=False)


def finished(result: str, *, sdk="python", tests=("suite.test_s3::test_put_object",), key="k1") -> dict:
    request = BisectionRequest(sdk, REPO, A, B, tuple(parse_test(sdk, t) for t in tests), day(9))
    state = bisect.Bisection(good=A, bad=B)
    state.set_commits([B])
    state.record(B, bisect.GOOD if result == "not_reproducible" else bisect.BAD, job_id="job-1")
    return records.bisection_record(
        request, state, key=key, dag_id="sdk_culprit_finder", run_id="r", record_uri="s3://b/k"
    )


def test_bisections_are_stored_and_read_back_beside_the_history(tmp_path):
    uri = str(tmp_path / "history")
    write_run(uri, 1, status="passed", commit=A)
    culprits.write_bisection(uri, DAG, finished("first_bad", key="k1"))
    culprits.write_bisection(uri, DAG, finished("not_reproducible", sdk="go", key="k2"))
    stored = culprits.read_bisections(uri, DAG)
    assert [(r["sdk"], r["result"], r["first_bad"]) for r in stored] == [
        ("python", "first_bad", B),
        ("go", "not_reproducible", None),
    ]
    assert (
        stored[0]["steps"] == [{"commit": B, "outcome": "bad", "job_id": "job-1"}] and stored[0]["jobs"] == 1
    )
    assert [r["key"] for r in culprits.read_bisections(uri, DAG, sdk="go")] == ["k2"]
    # the partition readers do not see the culprit folder
    assert [p.sdk_key for p in history.list_partitions(uri, DAG)] == ["python"]


def test_a_not_reproducible_bisection_makes_its_tests_flaky(tmp_path):
    uri = str(tmp_path / "history")
    for n in range(1, 10):
        write_run(uri, n, status="passed", commit=A)
    with analytics.HistoryAnalytics(uri, DAG) as before:
        assert before.flaky_tests() == []
    culprits.write_bisection(uri, DAG, finished("first_bad", key="k1"))  # a real break is not flakiness
    culprits.write_bisection(uri, DAG, finished("not_reproducible", key="k2"))
    with analytics.HistoryAnalytics(uri, DAG) as now:
        flaky = now.flaky_tests()
    assert [
        (f["sdk"], f["name"], f["not_reproducible"]["commit"], f["not_reproducible"]["bisection"])
        for f in flaky
    ] == [("python", "test_put_object", B, "k2")]
    assert flaky[0]["test_id"] == make_test_id("python", "suite.test_s3", "test_put_object")
    with analytics.HistoryAnalytics(uri, DAG, sdk="go") as other_sdk:
        assert other_sdk.flaky_tests() == []
    with analytics.HistoryAnalytics(uri, DAG, as_of=day(8)) as earlier:
        assert earlier.flaky_tests() == []  # as the history stood before that campaign run
    with analytics.HistoryAnalytics(uri, DAG) as later:
        assert later.flaky_tests(window_days=0.5) != []
    write_run(uri, 20, status="passed", commit=A)  # 10 days after the bisected run
    with analytics.HistoryAnalytics(uri, DAG) as later:
        assert later.flaky_tests(window_days=5) == []  # out of the window: no longer reported


def test_a_break_between_two_commits_starts_one_bisection_of_the_failing_tests(tmp_path, sample_config):
    uri = str(tmp_path / "history")
    config = sample_config.model_copy(
        update={"campaign": sample_config.campaign.model_copy(update={"history_uri": uri})}
    )
    write_run(uri, 1, status="passed", commit=A)
    write_run(uri, 2, status="infrastructure_failed", commit=None)  # says nothing about the code
    write_run(uri, 3, status="tests_failed", commit=B, failing=("test_put_object",))
    found = bisection_requests(config, DAG, day(3))
    assert [r["conf"] for r in found] == [
        {
            "sdk": "python",
            "repo_url": REPO,
            "good": A,
            "bad": B,
            "tests": ["suite.test_s3::test_put_object"],
            "logical_date": day(3),
        }
    ]
    assert found[0]["trigger_run_id"].startswith("culprit__python__bbbbbbbbbbbb__")
    assert bisection_requests(config, DAG, day(3)) == found  # the same run id: started once
    # still failing the next day: not a new break
    write_run(uri, 4, status="tests_failed", commit="c" * 40, failing=("test_put_object",))
    assert bisection_requests(config, DAG, day(4)) == []


def test_no_bisection_without_known_commits_an_official_lane_or_a_change(tmp_path, sample_config):
    uri = str(tmp_path / "history")
    config = sample_config.model_copy(
        update={"campaign": sample_config.campaign.model_copy(update={"history_uri": uri})}
    )
    write_run(uri, 1, status="passed", commit=None)  # before commit attribution: unknown
    write_run(uri, 2, status="tests_failed", commit=B, failing=("test_put_object",))
    assert bisection_requests(config, DAG, day(2)) == []
    write_run(uri, 3, status="passed", commit=A)
    write_run(uri, 4, status="tests_failed", commit=B, failing=("test_put_object",), lane="adhoc")
    assert bisection_requests(config, DAG, day(4)) == []  # ad hoc runs never start one
    write_run(uri, 5, status="passed", commit=B)
    write_run(uri, 6, status="tests_failed", commit=B, failing=("test_put_object",))
    assert bisection_requests(config, DAG, day(6)) == []  # same commit: nothing between (flaky, not a break)
    write_run(uri, 7, status="passed", commit=A)
    write_run(uri, 8, status="tests_failed", commit=B, failing=("test_put_object",), repo_url=REPO + "-fork")
    assert bisection_requests(config, DAG, day(8)) == []  # another repository: not comparable
