"""One DescribeJobs loop per account for every Batch job the triggerer waits on.

The provider's BatchJobTrigger polls its own job: one DescribeJobs per job every `waiter_delay`. A
job's end then reaches Airflow `waiter_delay / 2` later on average, and the campaign's last job is on
its critical path: its collect, publish and verdict wait for that poll (docs/performance.md).
DescribeJobs takes up to 100 job ids, so here the triggers of one account (connection, role, region)
in one triggerer share a loop that asks about all of their jobs in one call: every second costs fewer
calls than one poll per job every 3 s (8 jobs: 1 call a second instead of 2.7).

The loop runs while a trigger waits, in the triggerer's event loop, and ends with the last one. An
error of the call (after botocore's own retries) fails every trigger waiting on it, as it would have
failed each trigger's own poll: their tasks retry and re-attach to their jobs (campaign/batch_jobs.py).
"""

from __future__ import annotations

import asyncio
import logging
import weakref

log = logging.getLogger(__name__)

TERMINAL = ("SUCCEEDED", "FAILED")
IDS_PER_CALL = 100  # DescribeJobs' limit


class JobWatch:
    """The jobs of one account that triggers wait on, described together every `interval` seconds."""

    def __init__(self, hook, interval: float):
        self.hook = hook  # the first waiter's (any of them: same connection, role and region)
        self.interval = interval
        self.calls = 0
        self._waiting: dict[str, list[asyncio.Future]] = {}
        self._statuses: dict[str, str] = {}
        self._loop_task: asyncio.Task | None = None

    async def wait(self, job_id: str) -> dict:
        """The job's description once it is SUCCEEDED or FAILED."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(job_id, []).append(future)
        if self._loop_task is None:
            self._loop_task = asyncio.ensure_future(self._poll())
        try:
            return await future
        finally:
            futures = self._waiting.get(job_id, [])
            if future in futures:
                futures.remove(future)
            if not futures:
                self._waiting.pop(job_id, None)
                self._statuses.pop(job_id, None)

    async def _poll(self) -> None:
        try:
            async with await self.hook.get_async_conn() as client:
                while True:
                    if not self._waiting:
                        # Before the client's close (an await): a trigger arriving now starts a new loop.
                        self._loop_task = None
                        break
                    for job in await self._describe(client, list(self._waiting)):
                        self._update(job)
                    await asyncio.sleep(self.interval)
        except Exception as err:  # noqa: BLE001 — handed to every trigger waiting, which fails as its own poll would
            if self._loop_task is not asyncio.current_task():
                return  # the client's close failed after this loop had ended: nobody is waiting on it
            self._loop_task = None
            for futures in self._waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(err)

    async def _describe(self, client, job_ids: list[str]) -> list[dict]:
        jobs = []
        for start in range(0, len(job_ids), IDS_PER_CALL):
            self.calls += 1
            jobs += (await client.describe_jobs(jobs=job_ids[start : start + IDS_PER_CALL]))["jobs"]
        return jobs

    def _update(self, job: dict) -> None:
        job_id, status = job["jobId"], job.get("status", "")
        if self._statuses.get(job_id) != status and job_id in self._waiting:
            log.info("Batch job %s: %s", job_id, status)
            self._statuses[job_id] = status
        if status in TERMINAL:
            for future in self._waiting.pop(job_id, []):
                if not future.done():
                    future.set_result(job)
            self._statuses.pop(job_id, None)


_watches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> {account: JobWatch}


def watch_for(account: tuple, hook, interval: float) -> JobWatch:
    """This event loop's watch of that account's jobs (made with `hook` if it has none yet), looking
    at least every `interval` seconds: the shortest any of its triggers asks for."""
    by_account = _watches.setdefault(asyncio.get_running_loop(), {})
    if account not in by_account:
        by_account[account] = JobWatch(hook, interval)
    watch = by_account[account]
    watch.interval = min(watch.interval, interval)
    return watch
