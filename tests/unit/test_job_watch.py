"""campaign.job_watch's loop, against a recording stand-in for aiobotocore's Batch client (its calls
and answers; the watch against moto over HTTP is in tests/integration/test_batch_infrastructure.py)."""

from __future__ import annotations

import asyncio

import pytest

from sdk_campaigns.campaign import job_watch


class Batch:
    """describe_jobs answering from `statuses`, recording the ids of each call."""

    def __init__(self, statuses: dict[str, list[str]], error: Exception | None = None):
        self.statuses = statuses  # job id -> the statuses it shows, one per call, the last one kept
        self.error = error
        self.calls: list[list[str]] = []

    async def describe_jobs(self, jobs):
        self.calls.append(list(jobs))
        if self.error:
            raise self.error
        shown = []
        for job_id in jobs:
            statuses = self.statuses[job_id]
            shown.append({"jobId": job_id, "status": statuses.pop(0) if len(statuses) > 1 else statuses[0]})
        return {"jobs": shown}

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False


class Hook:
    def __init__(self, client):
        self.client, self.connections = client, 0

    async def get_async_conn(self):
        self.connections += 1
        return self.client


def test_jobs_are_described_together_and_each_waiter_gets_its_own_end():
    batch = Batch({"a": ["RUNNING", "SUCCEEDED"], "b": ["RUNNING", "RUNNING", "FAILED"]})

    async def main():
        watch = job_watch.JobWatch(Hook(batch), interval=0.01)
        return await asyncio.gather(watch.wait("a"), watch.wait("b"), watch.wait("a"))

    a, b, a_again = asyncio.run(main())
    assert (a["status"], b["status"], a_again["status"]) == ("SUCCEEDED", "FAILED", "SUCCEEDED")
    assert batch.calls[0] == ["a", "b"]  # one call for both jobs
    assert batch.calls[-1] == ["b"]  # a's waiters are gone once it ended


def test_more_than_100_jobs_take_one_call_per_100():
    batch = Batch({f"job-{i}": ["SUCCEEDED"] for i in range(250)})

    async def main():
        watch = job_watch.JobWatch(Hook(batch), interval=0.01)
        await asyncio.gather(*(watch.wait(f"job-{i}") for i in range(250)))

    asyncio.run(main())
    assert [len(ids) for ids in batch.calls] == [100, 100, 50]


def test_an_error_fails_every_waiter_and_the_next_one_starts_a_new_loop():
    failing = Batch({"a": ["RUNNING"], "b": ["RUNNING"]}, error=ConnectionError("moto is down"))

    async def main():
        watch = job_watch.JobWatch(Hook(failing), interval=0.01)
        results = await asyncio.gather(watch.wait("a"), watch.wait("b"), return_exceptions=True)
        failing.error, failing.statuses["c"] = None, ["SUCCEEDED"]
        return results, await watch.wait("c")

    (a, b), c = asyncio.run(main())
    assert isinstance(a, ConnectionError) and isinstance(b, ConnectionError)
    assert c["status"] == "SUCCEEDED"


def test_a_cancelled_waiter_leaves_and_the_loop_ends_with_the_last():
    batch = Batch({"a": ["RUNNING"]})
    hook = Hook(batch)

    async def main():
        watch = job_watch.JobWatch(hook, interval=0.01)
        waiting = asyncio.ensure_future(watch.wait("a"))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.sleep(0.05)
        calls = len(batch.calls)
        await asyncio.sleep(0.05)
        return watch, calls

    watch, calls = asyncio.run(main())
    assert len(batch.calls) == calls  # no more calls once nobody waits
    assert watch._waiting == {} and watch._loop_task is None


def test_a_waiter_arriving_while_the_loop_closes_its_client_is_still_served():
    batch = Batch({"a": ["SUCCEEDED"], "b": ["SUCCEEDED"]})
    closing = asyncio.Event()

    class SlowClose(Batch):
        async def __aexit__(self, *exc):
            closing.set()
            await asyncio.sleep(0.05)
            return False

    slow = SlowClose(batch.statuses)
    hook = Hook(slow)

    async def main():
        watch = job_watch.JobWatch(hook, interval=0.01)
        first = await watch.wait("a")
        await closing.wait()  # the first loop is closing its client now
        return first, await asyncio.wait_for(watch.wait("b"), 2)

    first, second = asyncio.run(main())
    assert (first["status"], second["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert hook.connections == 2


def test_one_watch_per_account_and_event_loop():
    async def main():
        one = job_watch.watch_for(("aws_default", "", None), Hook(None), 1)
        same = job_watch.watch_for(("aws_default", "", None), Hook(None), 3)
        other = job_watch.watch_for(("aws_default", "arn:aws:iam::1:role/go", None), Hook(None), 1)
        return one, same, other

    one, same, other = asyncio.run(main())
    assert one is same and one is not other
    assert one.interval == 1  # the shortest any trigger asked for
    assert asyncio.run(main())[0] is not one  # another event loop, another watch
