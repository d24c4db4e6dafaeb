"""How a Batch job's end becomes an SDK status and a reason a user can act on."""

import pytest

from sdk_campaigns.campaign.collect import (
    SDK_INFRA_FAILED,
    SDK_PASSED,
    SDK_RESULTS_INVALID,
    SDK_TESTS_FAILED,
    classify,
    count,
)
from sdk_campaigns.campaign.junit import TestCase


def _job(status="FAILED", exit_code=None, reason=None, seconds=None, timeout=None):
    job = {"status": status, "container": {}}
    if exit_code is not None:
        job["container"]["exitCode"] = exit_code
    if reason:
        job["statusReason"] = reason
    if seconds is not None:
        job["startedAt"], job["stoppedAt"] = 1_000, 1_000 + seconds * 1000
    if timeout:
        job["timeout"] = {"attemptDurationSeconds": timeout}
    return job


def _counts(*statuses):
    return count(
        [TestCase(suite="s", classname="c", name=s, status=s, duration=0.1, message="") for s in statuses]
    )


@pytest.mark.parametrize(
    ("job", "words"),
    [
        (
            _job(exit_code=137, reason="OutOfMemoryError: Container killed due to memory usage"),
            "raise memory_mib",
        ),
        (_job(exit_code=137), "killed for memory"),
        (_job(reason="Job attempt duration exceeded timeout", seconds=900), "raise timeout_seconds"),
        (_job(seconds=61, timeout=60), "timed out after 61 s (limit 60 s)"),
        (_job(exit_code=3), "harness failed (exit 3)"),
        (_job(exit_code=2), "the job exited 2"),
        (_job(reason="CannotPullContainerError: pull access denied"), "before its container ran"),
    ],
)
def test_failed_jobs_are_infrastructure_failures_with_a_reason(job, words):
    status, reason = classify(job, _counts(), [])
    assert status == SDK_INFRA_FAILED
    assert words in reason


def test_results_decide_when_the_job_succeeded():
    ok = _job(status="SUCCEEDED", exit_code=0)
    assert classify(ok, _counts("passed", "skipped"), [])[0] == SDK_PASSED
    assert classify(ok, _counts("passed", "error"), [])[0] == SDK_TESTS_FAILED
    assert classify(ok, _counts(), []) == (
        SDK_INFRA_FAILED,
        "the job succeeded but uploaded no JUnit results",
    )
    assert classify(ok, _counts("passed"), ["s3://b/k.xml: not well-formed XML"])[0] == SDK_RESULTS_INVALID


def test_failed_tests_never_come_from_the_exit_code():
    """A job that succeeded with failing tests is tests_failed, whatever the runner's exit code was."""
    status, reason = classify(_job(status="SUCCEEDED", exit_code=0), _counts("failed", "passed"), [])
    assert (status, reason) == (SDK_TESTS_FAILED, "1 of 2 tests failed")


def test_no_job_means_it_never_started():
    assert classify(None, _counts(), [])[0] == SDK_INFRA_FAILED
