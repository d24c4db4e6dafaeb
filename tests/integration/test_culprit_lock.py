"""At most one bisection per SDK at a time: the per-SDK lock on moto server's S3 over HTTP (conditional
PUTs, If-None-Match and If-Match, as S3 itself evaluates them), raced by threads."""

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from sdk_campaigns.config import load_config
from sdk_campaigns.culprit import lock

pytestmark = pytest.mark.stack

STALE = timedelta(minutes=720)


@pytest.fixture
def place(aws_client):
    """The results bucket and a prefix of this test's own (the stack's bucket is shared)."""
    prefix = f"culprit-lock-test-{uuid.uuid4().hex[:8]}/"
    return aws_client("s3"), load_config().campaign.results_bucket, prefix


def test_a_second_bisection_of_the_same_sdk_waits_and_other_sdks_do_not(place):
    s3, bucket, prefix = place
    python, go = lock.lock_key(prefix, "python"), lock.lock_key(prefix, "go")
    assert lock.acquire(s3, bucket, python, "run-a", stale_after=STALE) == (True, "acquired")
    held, why = lock.acquire(s3, bucket, python, "run-b", stale_after=STALE)
    assert not held and "held by run run-a" in why
    assert lock.acquire(s3, bucket, go, "run-b", stale_after=STALE)[0]  # another SDK: its own lock
    assert lock.acquire(s3, bucket, python, "run-a", stale_after=STALE) == (True, "already held by this run")
    assert not lock.release(s3, bucket, python, "run-b")  # only the holder releases
    assert lock.read_holder(s3, bucket, python).run_id == "run-a"
    assert lock.release(s3, bucket, python, "run-a")
    assert lock.acquire(s3, bucket, python, "run-b", stale_after=STALE)[0]
    assert lock.release(s3, bucket, python, "run-b") and lock.release(s3, bucket, go, "run-b")


def test_racing_runs_get_the_lock_exactly_once(place, aws_client):
    _, bucket, prefix = place
    key = lock.lock_key(prefix, "python")

    def attempt(run: int) -> bool:
        return lock.acquire(aws_client("s3"), bucket, key, f"run-{run}", stale_after=STALE)[0]

    with ThreadPoolExecutor(8) as pool:
        won = [run for run, held in enumerate(pool.map(attempt, range(8))) if held]
    assert len(won) == 1
    assert lock.read_holder(aws_client("s3"), bucket, key).run_id == f"run-{won[0]}"


def test_a_stale_lock_is_taken_over_once(place, aws_client):
    s3, bucket, prefix = place
    key = lock.lock_key(prefix, "python")
    old = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    s3.put_object(
        Bucket=bucket, Key=key, Body=json.dumps({"run_id": "dead-run", "acquired_at": old}).encode()
    )

    def attempt(run: int) -> bool:
        return lock.acquire(aws_client("s3"), bucket, key, f"run-{run}", stale_after=STALE)[0]

    with ThreadPoolExecutor(6) as pool:
        won = [run for run, held in enumerate(pool.map(attempt, range(6))) if held]
    assert len(won) == 1
    assert lock.read_holder(s3, bucket, key).run_id == f"run-{won[0]}"
    assert not lock.acquire(s3, bucket, key, "late-run", stale_after=STALE)[0]  # fresh again
