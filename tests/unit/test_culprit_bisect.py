"""The bisection as a pure function over an outcome oracle: the right commit, and the bound."""

import math

import pytest

from sdk_campaigns.culprit import bisect


def commits(n: int) -> list[str]:
    return [f"{i:040x}" for i in range(1, n + 1)]


def oracle_breaking_at(history: list[str], index: int, calls: list[str]):
    def oracle(commit: str) -> str:
        calls.append(commit)
        return bisect.BAD if history.index(commit) >= index else bisect.GOOD

    return oracle


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100, 1024])
def test_names_every_possible_first_bad_commit_within_the_bound(n):
    history = commits(n)
    bound = math.ceil(math.log2(n)) + 1
    assert bisect.max_jobs(n) == bound
    for index in range(n):
        calls: list[str] = []
        found = bisect.run("0" * 40, history[-1], history, oracle_breaking_at(history, index, calls))
        assert found.result == bisect.FIRST_BAD
        assert found.first_bad == history[index], (n, index)
        assert found.last_good == (history[index - 1] if index else "0" * 40)
        assert len(calls) <= bound, (n, index, len(calls))
        assert calls[0] == history[-1]  # the bad commit is rerun first
        assert len(set(calls)) == len(calls)  # no commit tested twice


def test_eight_commits_take_at_most_four_jobs():
    history = commits(8)
    calls: list[str] = []
    found = bisect.run("0" * 40, history[-1], history, oracle_breaking_at(history, 5, calls))
    assert found.first_bad == history[5]
    assert len(calls) == 4 == bisect.max_jobs(8)
    assert [s.commit for s in found.steps] == calls


def test_a_bad_commit_that_passes_on_rerun_is_not_reproducible_after_one_job():
    history = commits(8)
    calls: list[str] = []
    found = bisect.run("0" * 40, history[-1], history, oracle_breaking_at(history, 99, calls))
    assert found.result == bisect.NOT_REPRODUCIBLE
    assert found.first_bad is None and len(calls) == 1
    assert "flaky" in found.reason


def test_a_step_without_verdict_ends_inconclusive_naming_the_commit():
    history = commits(8)

    def oracle(commit):
        return bisect.NO_VERDICT if commit == history[3] else bisect.BAD

    found = bisect.run("0" * 40, history[-1], history, oracle)
    assert found.result == bisect.INCONCLUSIVE
    assert history[3] in found.reason and found.first_bad is None


def test_state_survives_a_json_round_trip_between_steps():
    history = commits(8)
    state = bisect.Bisection(good="0" * 40, bad=history[-1])
    truth = oracle_breaking_at(history, 2, [])
    while (commit := state.next_commit()) is not None:
        if not state.steps:
            state.set_commits(history)
        state.record(commit, truth(commit), job_id=f"job-{commit[-4:]}")
        state = bisect.Bisection.from_dict(state.to_dict())
    assert state.first_bad == history[2]
    assert all(s.detail["job_id"].startswith("job-") for s in state.steps)


def test_refuses_steps_out_of_order_and_lists_that_do_not_end_with_the_bad_commit():
    history = commits(4)
    state = bisect.Bisection(good="0" * 40, bad=history[-1])
    with pytest.raises(bisect.BisectionError, match="next commit to test"):
        state.record(history[0], bisect.BAD)
    with pytest.raises(bisect.BisectionError, match="not the bad commit"):
        state.set_commits(history[:-1])
    with pytest.raises(bisect.BisectionError, match="not one of"):
        state.record(history[-1], "maybe")
