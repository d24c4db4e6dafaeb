"""Job submission against moto server over HTTP (real Docker runs the jobs): a retried or re-run
task re-attaches to its job instead of submitting a second one. (Creating the Batch environment
is the CDK stack's job now, tested under infra/; the DAG registers only job definitions, tested
in tests/unit/test_job_definition.py.)"""

import json
import time
import uuid

import pytest

from sdk_campaigns.campaign.batch_jobs import ReattachingBatchOperator
from sdk_campaigns.dev import airflow_services, local_stack

from .batch_support import fargate_queue, register_tiny_job_definition

pytestmark = pytest.mark.stack


@pytest.fixture
def airflow_connection(monkeypatch, stack_home):
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(local_stack.aws_connection()))


@pytest.fixture(scope="module")
def queue(aws_client):
    return fargate_queue(aws_client, "it-queue")


def test_a_retried_submission_reattaches_to_the_active_job(aws_client, queue, airflow_connection):
    batch = aws_client("batch")
    definition = register_tiny_job_definition(batch, "it-sleep", ["sleep", "6"])
    name = f"it-reattach-{int(time.time())}"
    first = batch.submit_job(jobName=name, jobQueue=queue, jobDefinition=definition)["jobId"]

    operator = ReattachingBatchOperator(
        task_id="run_tests", job_name=name, job_queue=queue, job_definition=definition
    )
    operator.submit_job({})

    assert operator.job_id == first
    same_name = batch.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [name]}])
    assert [j["jobId"] for j in same_name["jobSummaryList"]] == [first]


def test_a_retry_after_the_job_finished_adopts_it_instead_of_running_it_again(
    aws_client, queue, airflow_connection
):
    """The scheduler can fail a deferred task whose job already succeeded (apache/airflow#67287);
    its retry must take that job's result, not run the suite a second time."""
    batch = aws_client("batch")
    definition = register_tiny_job_definition(batch, "it-quick", ["true"])
    name = f"it-adopt-{uuid.uuid4().hex[:8]}"
    first = batch.submit_job(jobName=name, jobQueue=queue, jobDefinition=definition)["jobId"]
    airflow_services.wait_until(
        lambda: batch.describe_jobs(jobs=[first])["jobs"][0]["status"] == "SUCCEEDED", 60, "the quick job"
    )

    operator = ReattachingBatchOperator(
        task_id="run_tests", job_name=name, job_queue=queue, job_definition=definition,
        deferrable=True,
    )  # fmt: skip
    assert operator.execute({}) == first  # finished: no deferral, no second job
    same_name = batch.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [name]}])
    assert [j["jobId"] for j in same_name["jobSummaryList"]] == [first]


def test_the_triggers_of_one_account_wait_through_one_describe_loop(aws_client, queue, airflow_connection):
    """Three run_tests triggers, as the triggerer runs them (one event loop): one succeeded job ends
    its task there, a failed one resumes its task with the provider's error event, and all three are
    described together, one DescribeJobs per second, not one per job and poll."""
    import asyncio

    from sdk_campaigns.campaign import job_watch
    from sdk_campaigns.campaign.batch_jobs import CancellableBatchJobTrigger

    batch = aws_client("batch")
    tag = uuid.uuid4().hex[:8]
    commands = {"passes": ["true"], "fails": ["false"], "sleeps": ["sleep", "4"]}
    jobs = {
        name: batch.submit_job(
            jobName=f"it-watch-{name}-{tag}",
            jobQueue=queue,
            jobDefinition=register_tiny_job_definition(batch, f"it-watch-{name}", command),
        )["jobId"]
        for name, command in commands.items()
    }

    async def first_events():
        triggers = [
            CancellableBatchJobTrigger(job_id=j, waiter_delay=1, waiter_max_attempts=120)
            for j in jobs.values()
        ]
        started = time.monotonic()
        events = await asyncio.gather(*(anext(trigger.run()) for trigger in triggers))
        watch = job_watch.watch_for(("aws_default", "", None), None, 1)
        return dict(zip(jobs, events, strict=True)), watch.calls, time.monotonic() - started

    events, calls, seconds = asyncio.run(first_events())

    assert type(events["passes"]).__name__ == "TaskSuccessEvent"
    assert events["passes"].xcoms["return_value"] == jobs["passes"]
    assert events["fails"].payload["status"] == "error"
    assert events["fails"].payload["job_id"] == jobs["fails"]
    assert events["fails"].payload["message"].startswith(f"Failure while running batch job {jobs['fails']}")
    assert type(events["sleeps"]).__name__ == "TaskSuccessEvent"
    assert seconds >= 4
    assert calls <= seconds + 2  # per job and poll, it would have been 3 calls a second at first
