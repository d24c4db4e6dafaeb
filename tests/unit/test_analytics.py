"""The dashboard's answers over a scripted four-week history whose answers are known exactly.

The script (day N is 2026-10-N 06:00 UTC; day 28 is the newest, so the 14-day window is
days 15..28):

python  digest py1 on days 1-21, py2 on days 22-28
  test_stable          always passes
  test_flaky           fails on days 22 and 24 (py2), passes otherwise: flaky, 4 passes since
  test_cleared         fails on day 23 (py2) between passes: cleared by days 24-28 (5 passes)
  test_digest          passes on py1, fails on every py2 run: a change, NOT flaky
  test_new_failure     fails on day 28 only: newly failing, not (yet) flaky
  test_slow            1.0 s, 3.5 s on day 28: a duration regression
  test_slow_but_small  0.2 s, 0.9 s on day 28: ratio 4.5 but only 0.7 s slower: not one
  test_slow_low_ratio  10 s, 15 s on day 28: 5 s slower but ratio 1.5: not one
  test_new             exists from day 27 (30 s): too few samples to regress
  test_skipped         always skipped
  => failing runs on days 22-28: broken since day 22, last passed day 21
go      digest go1 on days 1-27, go2 on day 28; infrastructure failure on day 10
  TestStable           always passes
  TestFixed            fails on days 26-27 (go1), passes on day 28 (go2): newly fixed, NOT flaky
  TestFlaky            fails on days 16 and 26 (go1): flaky, 2 passes since
  => passes on day 28: not broken
rust    digest rs1; passes to day 24, tests fail on day 25, results invalid on day 26,
        infrastructure failures on days 27-28 (no rows)
  a_stable, b_breaks (fails from day 25), c_slow (2.0 s, 4.0 s on day 25: ratio exactly 2)
  => broken since day 25 (4 failing runs); changes and durations come from day 25 vs day 24
java    always passes
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sdk_campaigns import history
from sdk_campaigns.campaign.collect import test_id as make_test_id
from sdk_campaigns.history import analytics

DAG = "sdk_test_campaign"
FIRST_DAY = datetime(2026, 10, 1, 6, tzinfo=UTC)
DAYS = 28


def _fails_on(*days):
    return lambda d: "failed" if d in days else "passed"


def _passes_until(last):
    return lambda d: "passed" if d <= last else "failed"


def _always(value):
    return lambda d: value


SCRIPT = {
    "python": {
        "classname": "tests.test_client",
        "digest": lambda d: "sha256:py1" if d <= 21 else "sha256:py2",
        "tests": {
            "test_stable": (_always("passed"), _always(0.1)),
            "test_flaky": (_fails_on(22, 24), _always(0.1)),
            "test_cleared": (_fails_on(23), _always(0.1)),
            "test_digest": (_passes_until(21), _always(0.1)),
            "test_new_failure": (_passes_until(27), _always(0.1)),
            "test_slow": (_always("passed"), lambda d: 3.5 if d == 28 else 1.0),
            "test_slow_but_small": (_always("passed"), lambda d: 0.9 if d == 28 else 0.2),
            "test_slow_low_ratio": (_always("passed"), lambda d: 15.0 if d == 28 else 10.0),
            "test_new": (lambda d: "passed" if d >= 27 else None, _always(30.0)),
            "test_skipped": (_always("skipped"), _always(0.0)),
        },
    },
    "go": {
        "classname": "example.com/sdk",
        "digest": lambda d: "sha256:go1" if d <= 27 else "sha256:go2",
        "infrastructure_failed": {10},
        "tests": {
            "TestStable": (_always("passed"), _always(0.05)),
            "TestFixed": (_fails_on(26, 27), _always(0.05)),
            "TestFlaky": (_fails_on(16, 26), _always(0.05)),
        },
    },
    "rust": {
        "classname": "sdk::tests",
        "digest": _always("sha256:rs1"),
        "results_invalid": {26},
        "infrastructure_failed": {27, 28},
        "tests": {
            "a_stable": (_always("passed"), _always(0.01)),
            "b_breaks": (_passes_until(24), _always(0.02)),
            "c_slow": (_always("passed"), lambda d: 4.0 if d == 25 else 2.0),
        },
    },
    "java": {
        "classname": "com.example.SdkTest",
        "digest": _always("sha256:jv1"),
        "tests": {"stable": (_always("passed"), _always(0.2))},
    },
}


def day(n: int, first: datetime = FIRST_DAY) -> str:
    return (first + timedelta(days=n - 1)).isoformat()


def tid(sdk: str, name: str) -> str:
    return make_test_id(sdk, SCRIPT[sdk]["classname"], name)


def scripted_partition(sdk: str, n: int, first: datetime = FIRST_DAY) -> tuple[dict, list[dict]]:
    spec = SCRIPT[sdk]
    logical_date, run_id = day(n, first), f"scheduled__{day(n, first)}"
    digest = spec["digest"](n)
    base = {"dag_id": DAG, "logical_date": logical_date, "sdk": sdk, "run_id": run_id, "image_digest": digest}
    # The image's own sample suite: the code under test is what the image was built from.
    base.update(commit=digest, commit_kind="image_source")
    zero = {"passed": 0, "failed": 0, "error": 0, "skipped": 0, "total": 0}
    if n in spec.get("infrastructure_failed", ()):
        return {**base, "status": "infrastructure_failed", "reason": "the job timed out", "counts": zero}, []
    if n in spec.get("results_invalid", ()):
        return {**base, "status": "results_invalid", "reason": "unparseable JUnit", "counts": zero}, []
    rows = []
    for name, (outcome, duration) in spec["tests"].items():
        status = outcome(n)
        if status is None:
            continue
        rows.append(
            {
                "run_id": run_id,
                "logical_date": logical_date,
                "sdk": sdk,
                "suite": sdk,
                "classname": spec["classname"],
                "name": name,
                "test_id": tid(sdk, name),
                "status": status,
                "duration": duration(n),
                "message": "assertion failed" if status == "failed" else "",
                "image_digest": digest,
            }
        )
    counts = {s: sum(r["status"] == s for r in rows) for s in ("passed", "failed", "error", "skipped")}
    counts["total"] = len(rows)
    status = "tests_failed" if counts["failed"] else "passed"
    return {**base, "status": status, "reason": f"{counts['failed']} failed", "counts": counts}, rows


def write_scripted_history(uri: str, first: datetime = FIRST_DAY, days: int = DAYS) -> None:
    for sdk in SCRIPT:
        for n in range(1, days + 1):
            summary, rows = scripted_partition(sdk, n, first)
            history.write_partition(uri, summary, rows, sync=False)


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("history"))
    write_scripted_history(uri)
    with analytics.HistoryAnalytics(uri, DAG) as answers:
        yield answers


def test_pass_fail_history_has_one_entry_per_sdk_and_date(scripted):
    entries = scripted.pass_fail_history()
    assert len(entries) == 4 * DAYS
    python_28 = next(e for e in entries if e["sdk"] == "python" and e["logical_date"] == day(28))
    assert python_28 == {
        "sdk": "python",
        "logical_date": day(28),
        "status": "tests_failed",
        "run_id": f"scheduled__{day(28)}",
        "commit": "sha256:py2",
        "commit_kind": "image_source",
        "repo_url": None,
        "lane": "official",
        "passed": 7,
        "failed": 2,
        "error": 0,
        "skipped": 1,
        "total": 10,
        "pass_rate": round(7 / 9, 6),
    }
    go_10 = next(e for e in entries if e["sdk"] == "go" and e["logical_date"] == day(10))
    assert (go_10["status"], go_10["total"], go_10["pass_rate"]) == ("infrastructure_failed", 0, None)
    assert [e["logical_date"] for e in entries if e["sdk"] == "java"] == [day(n) for n in range(1, DAYS + 1)]
    recent = scripted.pass_fail_history(since=day(27))
    assert {(e["sdk"], e["logical_date"]) for e in recent} == {(s, day(n)) for s in SCRIPT for n in (27, 28)}


def test_broken_since(scripted):
    assert scripted.broken_since() == {
        "go": {
            "status": "passed",
            "latest": day(28),
            "broken_since": None,
            "failing_runs": 0,
            "last_passed": day(28),
            "first_failing_commit": None,
            "last_passed_commit": "sha256:go2",
            "compare_url": None,
            "repo_url": None,
        },
        "java": {
            "status": "passed",
            "latest": day(28),
            "broken_since": None,
            "failing_runs": 0,
            "last_passed": day(28),
            "first_failing_commit": None,
            "last_passed_commit": "sha256:jv1",
            "compare_url": None,
            "repo_url": None,
        },
        "python": {
            "status": "tests_failed",
            "latest": day(28),
            "broken_since": day(22),
            "failing_runs": 7,
            "last_passed": day(21),
            "first_failing_commit": "sha256:py2",
            "last_passed_commit": "sha256:py1",
            "compare_url": None,
            "repo_url": None,
        },
        "rust": {
            "status": "infrastructure_failed",
            "latest": day(28),
            "broken_since": day(25),
            "failing_runs": 4,
            "last_passed": day(24),
            "first_failing_commit": "sha256:rs1",
            "last_passed_commit": "sha256:rs1",
            "compare_url": None,
            "repo_url": None,
        },
    }


def _names(tests: list[dict]) -> list[str]:
    return [t["name"] for t in tests]


def test_newly_failing_and_newly_fixed_against_the_previous_run(scripted):
    changes = scripted.test_changes()
    assert set(changes) == set(SCRIPT)
    python, go, rust, java = (changes[s] for s in ("python", "go", "rust", "java"))
    assert (python["logical_date"], python["previous_logical_date"]) == (day(28), day(27))
    assert python["newly_failing"] == [
        {
            "test_id": tid("python", "test_new_failure"),
            "classname": "tests.test_client",
            "name": "test_new_failure",
            "previous": "passed",
            "message": "assertion failed",
            # the image's own suite: its content tags are its commits, on no forge (no compare link)
            "first_failing_commit": "sha256:py2",
            "last_passed": day(27),
            "last_passed_commit": "sha256:py2",
            "repo_url": None,
            "compare_url": None,
        }
    ]
    assert python["newly_fixed"] == []
    assert (_names(go["newly_failing"]), _names(go["newly_fixed"])) == ([], ["TestFixed"])
    assert go["newly_fixed"][0]["previous"] == "failed"
    # rust's last two runs have no rows: its newest run with rows (day 25) vs the one before
    assert (rust["logical_date"], rust["previous_logical_date"]) == (day(25), day(24))
    assert (_names(rust["newly_failing"]), _names(rust["newly_fixed"])) == (["b_breaks"], [])
    assert (java["newly_failing"], java["newly_fixed"]) == ([], [])


def test_flaky_tests(scripted):
    flaky = scripted.flaky_tests()
    assert flaky == sorted(
        [
            {
                "sdk": "go",
                "test_id": tid("go", "TestFlaky"),
                "classname": "example.com/sdk",
                "name": "TestFlaky",
                "passes": 12,
                "failures": 2,
                "last_failed": day(26),
                "passes_since_last_failure": 2,
                "commits": ["sha256:go1"],
            },
            {
                "sdk": "python",
                "test_id": tid("python", "test_flaky"),
                "classname": "tests.test_client",
                "name": "test_flaky",
                "passes": 12,
                "failures": 2,
                "last_failed": day(24),
                "passes_since_last_failure": 4,
                "commits": ["sha256:py2"],
            },
        ],
        key=lambda t: (t["sdk"], t["test_id"]),
    )
    names = {t["name"] for t in flaky}
    # cleared by 5 straight passes; pass and fail on different digests; failing since a date
    assert not names & {"test_cleared", "test_digest", "test_new_failure", "TestFixed", "b_breaks"}


def test_flaky_clearing_threshold_and_window_are_parameters(scripted):
    strict = {t["name"] for t in scripted.flaky_tests(cleared_after=6)}
    assert strict == {"TestFlaky", "test_flaky", "test_cleared"}
    # a 4-day window (days 25-28) holds no pass after a failure on the same digest but go's
    assert {t["name"] for t in scripted.flaky_tests(window_days=4)} == {"TestFlaky"}


def test_slowest_tests_of_the_newest_run_with_rows(scripted):
    slowest = scripted.slowest_tests(limit=3)
    assert [(t["name"], t["duration"]) for t in slowest["python"]] == [
        ("test_new", 30.0),
        ("test_slow_low_ratio", 15.0),
        ("test_slow", 3.5),
    ]
    assert all(t["logical_date"] == day(28) for t in slowest["python"])
    assert [(t["name"], t["duration"], t["logical_date"]) for t in slowest["rust"]] == [
        ("c_slow", 4.0, day(25)),
        ("b_breaks", 0.02, day(25)),
        ("a_stable", 0.01, day(25)),
    ]
    assert slowest["rust"][1]["outcome"] == "failed"


def test_duration_regressions(scripted):
    regressions = scripted.duration_regressions()
    assert [(r["sdk"], r["name"], r["duration"], r["median"], r["ratio"]) for r in regressions] == [
        ("python", "test_slow", 3.5, 1.0, 3.5),
        ("rust", "c_slow", 4.0, 2.0, 2.0),
    ]
    assert regressions[0]["samples"] == 13  # days 15..27
    assert regressions[1]["samples"] == 10 and regressions[1]["logical_date"] == day(25)
    looser = {r["name"] for r in scripted.duration_regressions(min_seconds=0.5)}
    assert looser == {"test_slow", "c_slow", "test_slow_but_small"}


def test_as_of_answers_as_the_history_stood_then(scripted):
    with analytics.HistoryAnalytics(scripted.uri, DAG, as_of=day(21)) as then:
        assert then.broken_since()["python"]["broken_since"] is None
        assert then.test_changes()["python"]["newly_failing"] == []
        # window days 8-21: go's TestFlaky failed on day 16, then passed 5 times: cleared
        assert then.flaky_tests() == []
        assert {t["name"] for t in then.flaky_tests(cleared_after=6)} == {"TestFlaky"}
        assert then.duration_regressions() == []


def test_one_sdk_only(scripted):
    with analytics.HistoryAnalytics(scripted.uri, DAG, sdk="go") as go:
        assert set(go.broken_since()) == {"go"}
        assert {t["sdk"] for t in go.flaky_tests()} == {"go"}


def test_dashboard_is_json_ready(scripted):
    board = analytics.dashboard(scripted.uri, DAG)
    assert json.loads(json.dumps(board)) == board
    assert set(board) == {
        "dag_id",
        "pass_fail_history",
        "broken_since",
        "test_changes",
        "flaky_tests",
        "slowest_tests",
        "duration_regressions",
    }


def test_an_empty_history_has_empty_answers(tmp_path):
    board = analytics.dashboard(str(tmp_path), DAG)
    assert board["pass_fail_history"] == [] and board["broken_since"] == {}
    assert board["flaky_tests"] == [] and board["duration_regressions"] == []
    assert board["test_changes"] == {} and board["slowest_tests"] == {}


def test_rows_are_attributed_to_their_own_run_whatever_the_file_order(scripted):
    summaries = scripted.summaries.to_pylist()
    runs = [5, 100, 2, 57]  # deliberately not in path order
    rows = scripted._files(runs, ["sdk", "logical_date"]).fetchall()
    assert {run for _, _, run in rows} == set(runs)
    for sdk, logical_date, run in rows:
        assert (sdk, logical_date) == (summaries[run]["sdk"], summaries[run]["logical_date"])


def test_a_partition_rewritten_while_the_dashboard_reads_is_read_again(tmp_path, monkeypatch):
    """A reprocessing backfill can replace a partition between the dashboard's listing and its
    reading of the rows files (the superseded files are deleted on commit)."""
    uri = str(tmp_path / "history")
    write_scripted_history(uri, days=3)
    listed = history.summaries_table
    rewrites = []

    def list_then_rewrite(*args, **kwargs):
        table = listed(*args, **kwargs)
        if not rewrites:  # once: the listed rows file of python's newest run disappears
            summary, rows = scripted_partition("python", 3)
            rewrites.append(history.write_partition(uri, summary, rows))
        return table

    monkeypatch.setattr(history, "summaries_table", list_then_rewrite)
    board = analytics.dashboard(uri, DAG)
    assert rewrites
    assert {h["sdk"] for h in board["pass_fail_history"]} == set(SCRIPT)
    assert board["slowest_tests"]["python"]  # python's newest rows were read, from the new files
