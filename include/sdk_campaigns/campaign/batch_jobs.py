"""BatchOperator that never submits the same job twice.

A retried BatchOperator submits a second job (apache/airflow#33016). Job names are
unique per run attempt and SDK (see plan.job_name), so before submitting we look for a
job of that name in the queue and re-attach to it instead: an active one is waited for,
a finished one gives its result. That also makes retries the cure for a scheduler race
that fails deferred tasks whose trigger fires quickly (apache/airflow#67287, #72716):
the retry adopts the job that already ran instead of running it again.

In the triggerer, the jobs of one account are watched together: one DescribeJobs a second for all
of them (campaign/job_watch.py), not one poll per job. A job that succeeded ends its task in the
triggerer (TaskSuccessEvent, with the job id and the CloudWatch link as the worker would have stored
them): no worker process starts only to say so. A failed job still resumes in a worker, which raises
and retries (re-attaching) as before.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from functools import cached_property

from airflow.providers.amazon.aws.links.logs import CloudWatchEventsLink
from airflow.providers.amazon.aws.operators.batch import BatchOperator
from airflow.providers.amazon.aws.triggers.batch import BatchJobTrigger
from airflow.triggers.base import TaskSuccessEvent, TriggerEvent
from asgiref.sync import sync_to_async

from sdk_campaigns.campaign import job_watch
from sdk_campaigns.campaign.aws import assume_role
from sdk_campaigns.campaign.collect import CANCELLED, newest_job_summary


def existing_job_id(client, queue: str, job_name: str) -> tuple[str, str] | None:
    """(job id, status) of the newest job with this name in the queue, if any."""
    newest = newest_job_summary(client, queue, job_name)
    return (newest["jobId"], newest.get("status", "")) if newest else None


# What a submission may set (tasks.register_job's keys): nothing else of the operator comes from an XCom.
SUBMISSION_FIELDS = ("aws_conn_id", "role_arn", "job_name", "job_definition", "container_overrides", "tags")


class ReattachingBatchOperator(BatchOperator):
    """BatchOperator whose submission is idempotent per job name, and whose job stops when the task
    is stopped while deferred (see CancellableBatchJobTrigger). With `role_arn`, every Batch call (and
    its trigger's) acts as that role: the SDK's own account (campaign/accounts.py).

    :param submission: SUBMISSION_FIELDS as one dict, known only at run time (the SDK's build_image
        registers its job definition and says where to submit): set once templates are rendered, so
        the map index's name (`task.tags`) and the rendered fields show them.
    """

    template_fields = (*BatchOperator.template_fields, "submission")

    def __init__(self, *, role_arn: str = "", submission: dict | None = None, **kwargs):
        if submission is not None:
            kwargs = {"job_name": "", "job_definition": "", **kwargs}
        super().__init__(**kwargs)
        self.role_arn = role_arn
        self.submission = submission

    def render_template_fields(self, context, jinja_env=None) -> None:
        super().render_template_fields(context, jinja_env)
        if self.submission is None:
            return
        unknown = sorted(set(self.submission) - set(SUBMISSION_FIELDS))
        if unknown:
            raise ValueError(
                f"run_tests' submission has unknown fields {unknown}; known: {', '.join(SUBMISSION_FIELDS)}"
            )
        for name, value in self.submission.items():
            setattr(self, name, value)

    @cached_property
    def hook(self):
        return assume_role(self.aws_hook_class(**self._hook_parameters), self.role_arn)

    def submit_job(self, context):
        existing = existing_job_id(self.hook.client, self.job_queue, self.job_name)
        if existing:
            job_id, status = existing
            self.log.info(
                "re-attaching to job %s (%s, %s) instead of submitting again", job_id, self.job_name, status
            )
            self.job_id = job_id
            return
        super().submit_job(context)

    def execute_complete(self, context, event=None):
        # `airflow dags test` runs the trigger inline and hands back only the state of a TaskSuccessEvent
        # (the string "success", without its XComs): the job, found by its name, says the rest.
        if event == "success":
            existing = existing_job_id(self.hook.client, self.job_queue, self.job_name)
            event = {"status": "success", "job_id": existing[0] if existing else None}
        return super().execute_complete(context, event)

    def defer(self, *, trigger, method_name, kwargs=None, timeout=None):
        if isinstance(trigger, BatchJobTrigger) and not isinstance(trigger, CancellableBatchJobTrigger):
            trigger = cancellable(trigger, self.role_arn)
        super().defer(trigger=trigger, method_name=method_name, kwargs=kwargs, timeout=timeout)


# --- cancellation: a stopped task stops its job ------------------------------------------------------
# The provider's on_kill runs only in a worker, and a deferred run_tests has none: its trigger waits in
# the triggerer. Airflow 3.3 calls a trigger's on_kill() when a user action removes it (the task or its
# run marked failed or success, the task cleared, the run timed out by dagrun_timeout), and never when
# the trigger merely moves to another triggerer or a triggerer restarts. A trigger timeout (the task's
# execution_timeout while deferred) cancels without on_kill: run() handles that case.


STOPPED_IN_AIRFLOW = (
    "run_tests stopped in Airflow (its DAG run marked failed or success, or the task cleared or marked)"
)
TIMED_OUT = "run_tests timed out (execution_timeout)"


class CancellableBatchJobTrigger(BatchJobTrigger):
    """The provider's Batch trigger (same fields, events and limit), waiting through its account's
    shared JobWatch instead of a poll of its own; and when the task it serves is stopped, its job is
    terminated.

    on_kill must be quick: the triggerer cancels it again within a heartbeat or two, and asking the
    supervisor for the run's state from there does not answer in time (seen on 3.3.2). So the hook
    (its connection resolved) is made while waiting, and the termination is shielded.
    """

    _hook = None
    # A succeeded job ends its task here (TaskSuccessEvent), so no worker starts just to read "success";
    # a subclass whose task goes on after the job (the culprit finder's steps) turns it off.
    ends_task_on_success = True

    def __init__(self, *, role_arn: str = "", **kwargs):
        super().__init__(**kwargs)
        if role_arn:  # serialized with the job id: a moved trigger still acts in the SDK's account
            self.serialized_fields["role_arn"] = role_arn

    def hook(self):
        if self._hook is None:
            self._hook = assume_role(super().hook(), self.serialized_fields.get("role_arn", ""))
            self.connection = self._hook.conn_config  # fetched now, while the triggerer answers
        return self._hook

    async def ready_hook(self):
        """hook(), its connection fetched in a worker thread, never in the event loop. There, a sync
        connection lookup deadlocks the triggerer: Python 3.11's cached_property holds one lock for all
        hooks' conn_config, and another trigger's thread (the provider fetches connections in threads)
        can hold it while it waits for this very loop to relay its request to the supervisor (seen:
        every thread on a futex, the triggerer marked deadlocked after 30 s)."""
        if self._hook is None:
            await sync_to_async(self.hook)()
        return self._hook

    async def terminate(self, cause: str) -> None:
        job_id = self.serialized_fields["job_id"]
        hook = await self.ready_hook()
        async with await hook.get_async_conn() as client:
            jobs = (await client.describe_jobs(jobs=[job_id]))["jobs"]
            if not jobs or jobs[0]["status"] in ("SUCCEEDED", "FAILED"):
                self.log.info("job %s already ended: nothing to cancel", job_id)
                return
            await client.terminate_job(jobId=job_id, reason=CANCELLED + cause)
        self.log.info("terminated Batch job %s: %s%s", job_id, CANCELLED, cause)

    async def on_kill(self) -> None:
        await asyncio.shield(self.terminate(STOPPED_IN_AIRFLOW))

    async def run(self):
        job_id = self.serialized_fields["job_id"]
        self.log.info("waiting for Batch job %s (stopping the task terminates it)", job_id)
        hook = await self.ready_hook()  # with its connection: on_kill has no time to ask for it
        account = (self.aws_conn_id, self.serialized_fields.get("role_arn", ""), self.region_name)
        watch = job_watch.watch_for(account, hook, self.waiter_delay)
        try:
            # The provider's limit, waiter_delay x waiter_max_attempts, whatever the shared loop's pace.
            limit = self.waiter_delay * self.attempts
            job = await asyncio.wait_for(watch.wait(job_id), limit)
        except TimeoutError:
            yield self.error(job_id, "Waiter error: max attempts reached")
            return
        except asyncio.CancelledError:
            timeout = getattr(self, "timeout_after", None)  # set by the triggerer
            if timeout is not None and timeout.replace(tzinfo=timeout.tzinfo or UTC) < datetime.now(UTC):
                await asyncio.shield(self.terminate(TIMED_OUT))
            raise
        if job["status"] != "SUCCEEDED":
            reason = job.get("statusReason") or job["status"]
            yield self.error(job_id, f"{self.failure_message}: {reason}")
        elif self.ends_task_on_success:
            yield await self.task_success(job_id)
        else:
            yield TriggerEvent({"status": "success", "job_id": job_id})

    @staticmethod
    def error(job_id: str, message: str) -> TriggerEvent:
        """The provider trigger's event for a job that failed or was waited on too long."""
        return TriggerEvent({"status": "error", "message": message, "job_id": job_id})

    async def task_success(self, job_id: str) -> TaskSuccessEvent:
        """The event that ends the task here, with what BatchOperator.execute_complete would have stored:
        the job id (return value) and its CloudWatch log stream link."""
        xcoms = {"return_value": job_id}
        hook = await self.ready_hook()
        try:  # boto's sync calls, in a worker thread
            link = await sync_to_async(self._log_link)(hook, job_id)
        except Exception as err:  # noqa: BLE001 — a missing link never fails a job that succeeded
            self.log.warning("no CloudWatch link for Batch job %s: %s", job_id, err)
            link = None
        if link:
            xcoms[CloudWatchEventsLink.key] = link
        self.log.info("Batch job %s succeeded: the task ends here, without resuming in a worker", job_id)
        return TaskSuccessEvent(xcoms=xcoms)

    @staticmethod
    def _log_link(hook, job_id: str) -> dict | None:
        awslogs = hook.get_job_all_awslogs_info(job_id)
        if not awslogs:
            return None
        return {
            "region_name": hook.conn_region_name,
            "aws_domain": CloudWatchEventsLink.get_aws_domain(hook.conn_partition),
            **awslogs[0],
        }


def cancellable(trigger: BatchJobTrigger, role_arn: str = "") -> CancellableBatchJobTrigger:
    """The same trigger (same job, waits, connection and role), cancelling its job when its task stops."""
    _, kwargs = trigger.serialize()
    return CancellableBatchJobTrigger(**kwargs, role_arn=role_arn)
