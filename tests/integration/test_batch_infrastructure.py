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
