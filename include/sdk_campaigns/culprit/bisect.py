"""Bisection over the commits between a good and a bad commit, as a pure state machine.

The commits are `git rev-list --first-parent --reverse GOOD..BAD`: oldest first, BAD last, GOOD not
in the list (it passed). The first probe reruns BAD itself:
- BAD passes on rerun: the break is **not reproducible** (the tests are flaky); one job in all.
- BAD fails again: binary search for the first failing commit among the n commits, knowing the last
  one fails. An interval of n candidates needs ceil(log2(n)) probes, so a bisection runs at most
  ceil(log2(n)) + 1 jobs (`max_jobs`).
- A probe with no verdict (the job failed for infrastructure, results unreadable) ends the
  bisection **inconclusive**, naming the step: a guess would name the wrong commit.

No I/O here: `Bisection` says which commit to test next and takes each step's outcome; `run` drives
it with any oracle (the DAG's oracle is a Batch job per step, see culprit/steps.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

GOOD = "good"  # none of the tracked tests failed at that commit
BAD = "bad"  # at least one tracked test failed or errored
NO_VERDICT = "no_verdict"  # the step could not tell (infrastructure failure, unreadable results)
OUTCOMES = (GOOD, BAD, NO_VERDICT)

FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
FIRST_BAD = "first_bad"
NOT_REPRODUCIBLE = "not_reproducible"
INCONCLUSIVE = "inconclusive"


class BisectionError(ValueError):
    """A commit list or a step that does not fit the bisection; the message says which."""


def max_jobs(commit_count: int) -> int:
    """The bound: one rerun of the bad commit, then ceil(log2(n)) probes."""
    return math.ceil(math.log2(commit_count)) + 1 if commit_count > 1 else 1


@dataclass
class Step:
    commit: str
    outcome: str
    detail: dict = field(default_factory=dict)  # job id, status, failing tests, ...

    def to_dict(self) -> dict:
        return {"commit": self.commit, "outcome": self.outcome, **self.detail}


@dataclass
class Bisection:
    """good..bad, probed one commit at a time; JSON-ready through to_dict/from_dict (it travels
    between deferrals of the DAG's operator)."""

    good: str
    bad: str
    commits: list[str] | None = None  # known after the first step (the job at `bad` lists them)
    steps: list[Step] = field(default_factory=list)
    low: int = 0  # candidates for the first bad commit: commits[low..high]; commits[high] is bad
    high: int = -1
    result: str | None = None
    reason: str = ""

    # --- what to do next -------------------------------------------------------------------------

    def next_commit(self) -> str | None:
        """The commit to test next, or None when the bisection is over (see `result`)."""
        if self.result is not None:
            return None
        if not self.steps:
            return self.bad
        return self.commits[(self.low + self.high) // 2]

    def set_commits(self, commits: list[str]) -> None:
        """The commits good..bad, oldest first, ending with `bad` (resolved)."""
        if not commits:
            raise BisectionError(f"no commits between {self.good} and {self.bad}: nothing to bisect")
        if len(set(commits)) != len(commits):
            raise BisectionError("the commit list repeats a commit")
        if FULL_SHA.fullmatch(self.bad) and commits[-1] != self.bad:
            raise BisectionError(f"the commit list ends with {commits[-1]}, not the bad commit {self.bad}")
        self.commits = list(commits)
        self.low, self.high = 0, len(commits) - 1

    def record(self, commit: str, outcome: str, **detail) -> None:
        """The outcome of testing `commit` (the one next_commit named)."""
        if outcome not in OUTCOMES:
            raise BisectionError(f"step outcome {outcome!r} is not one of {OUTCOMES}")
        expected = self.next_commit()
        if commit != expected:
            raise BisectionError(f"recorded {commit} but the next commit to test is {expected}")
        first = not self.steps
        self.steps.append(Step(commit, outcome, detail))
        if outcome == NO_VERDICT:
            where = "the bad commit's rerun" if first else f"commit {commit}"
            self._finish(INCONCLUSIVE, f"{where} gave no verdict: {detail.get('reason') or 'see the step'}")
            return
        if first:
            if outcome == GOOD:
                self._finish(NOT_REPRODUCIBLE, f"{self.bad} passed on rerun: the failure was flaky")
                return
            if self.commits is None:
                why = detail.get("commit_list_error") or "the first step brought no commit list"
                self._finish(
                    INCONCLUSIVE, f"{self.bad} failed again, but the commits to bisect are unknown: {why}"
                )
                return
        else:
            middle = (self.low + self.high) // 2
            if outcome == BAD:
                self.high = middle
            else:
                self.low = middle + 1
        if self.low >= self.high:
            self._finish(FIRST_BAD, f"first failing commit {self.commits[self.high]}")

    def give_up(self, reason: str) -> None:
        """End inconclusive (e.g. the commit list could not be had)."""
        self._finish(INCONCLUSIVE, reason)

    def _finish(self, result: str, reason: str) -> None:
        self.result, self.reason = result, reason

    # --- the answer --------------------------------------------------------------------------------

    @property
    def first_bad(self) -> str | None:
        return self.commits[self.high] if self.result == FIRST_BAD else None

    @property
    def last_good(self) -> str | None:
        if self.result != FIRST_BAD:
            return None
        return self.commits[self.high - 1] if self.high > 0 else self.good

    def to_dict(self) -> dict:
        return {
            "good": self.good,
            "bad": self.bad,
            "commits": self.commits,
            "steps": [s.to_dict() for s in self.steps],
            "low": self.low,
            "high": self.high,
            "result": self.result,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, value: dict) -> Bisection:
        steps = [
            Step(s["commit"], s["outcome"], {k: v for k, v in s.items() if k not in ("commit", "outcome")})
            for s in value.get("steps", [])
        ]
        return cls(
            good=value["good"],
            bad=value["bad"],
            commits=value.get("commits"),
            steps=steps,
            low=value.get("low", 0),
            high=value.get("high", -1),
            result=value.get("result"),
            reason=value.get("reason", ""),
        )


def run(good: str, bad: str, commits: list[str], oracle: Callable[[str], str]) -> Bisection:
    """The whole bisection against `oracle(commit) -> GOOD | BAD | NO_VERDICT`."""
    bisection = Bisection(good=good, bad=bad)
    while (commit := bisection.next_commit()) is not None:
        outcome = oracle(commit)
        if not bisection.steps:
            bisection.set_commits(commits)
        bisection.record(commit, outcome)
    return bisection
