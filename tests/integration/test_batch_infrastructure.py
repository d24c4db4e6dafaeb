"""Batch setup and job submission against moto server over HTTP (real Docker runs the jobs)."""

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from sdk_campaigns.campaign import environment as infrastructure
from sdk_campaigns.campaign.batch_jobs import ReattachingBatchOperator
from sdk_campaigns.config import BatchSettings
from sdk_campaigns.dev import airflow_services, local_stack

from .batch_support import register_tiny_job_definition

pytestmark = pytest.mark.stack

SETTINGS = BatchSettings(compute_environment="it-fargate", job_queue="it-queue")


@pytest.fixture
def airflow_connection(monkeypatch, stack_home):
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(local_stack.aws_connection()))


def _environment(aws_client):
    iam, batch = aws_client("iam"), aws_client("batch")
    subnets, groups = infrastructure.default_network(aws_client("ec2"), SETTINGS)
    service_role = infrastructure.ensure_role(iam, "it-batch-service", service="batch.amazonaws.com")
    compute = infrastructure.ensure_compute_environment(batch, SETTINGS, subnets, groups, service_role)
    queue = infrastructure.ensure_job_queue(batch, SETTINGS)
    return compute, queue


def test_concurrent_runs_set_up_one_environment(aws_client):
    """Backfills start several runs at once: their setups race and must all succeed, sharing one
    role, compute environment and queue (a read-then-create would fail all but one)."""
    suffix = uuid.uuid4().hex[:8]
    settings = BatchSettings(compute_environment=f"race-{suffix}", job_queue=f"race-q-{suffix}")
    subnets, groups = infrastructure.default_network(aws_client("ec2"), settings)
    barrier = threading.Barrier(4)

    def setup(_):
        iam, batch = aws_client("iam"), aws_client("batch")
        barrier.wait()
        role = infrastructure.ensure_role(iam, f"race-{suffix}", service="batch.amazonaws.com")
        compute = infrastructure.ensure_compute_environment(batch, settings, subnets, groups, role)
        return role, compute, infrastructure.ensure_job_queue(batch, settings)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(setup, range(4)))
    assert len(set(results)) == 1
    queues = aws_client("batch").describe_job_queues(jobQueues=[settings.job_queue])["jobQueues"]
    assert [q["state"] for q in queues] == ["ENABLED"]


def test_setup_is_idempotent(aws_client):
    first = _environment(aws_client)
    assert _environment(aws_client) == first
    ecr = aws_client("ecr")
    uri = infrastructure.ensure_ecr_repository(ecr, "it/python", 7)
    assert infrastructure.ensure_ecr_repository(ecr, "it/python", 7) == uri
    repository = ecr.describe_repositories(repositoryNames=["it/python"])["repositories"][0]
    assert repository["imageScanningConfiguration"]["scanOnPush"] is True
    policy = json.loads(ecr.get_lifecycle_policy(repositoryName="it/python")["lifecyclePolicyText"])
    assert policy["rules"][0]["selection"]["countNumber"] == 7


def test_job_definition_gets_a_new_revision_only_when_the_spec_changes(aws_client):
    batch = aws_client("batch")
    spec = {
        "type": "container",
        "platformCapabilities": ["FARGATE"],
        "containerProperties": {
            "image": local_stack.BASE_IMAGE,
            "command": ["true"],
            "resourceRequirements": [{"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "512"}],
            "executionRoleArn": "arn:aws_client:iam::123456789012:role/x",
        },
    }
    first = infrastructure.ensure_job_definition(batch, "it-spec", spec)
    assert infrastructure.ensure_job_definition(batch, "it-spec", spec) == first
    changed = {**spec, "containerProperties": {**spec["containerProperties"], "command": ["false"]}}
    assert infrastructure.ensure_job_definition(batch, "it-spec", changed) != first


def test_a_retried_submission_reattaches_to_the_active_job(aws_client, airflow_connection):
    _environment(aws_client)
    batch = aws_client("batch")
    definition = register_tiny_job_definition(batch, "it-sleep", ["sleep", "6"])
    name = f"it-reattach-{int(time.time())}"
    first = batch.submit_job(jobName=name, jobQueue=SETTINGS.job_queue, jobDefinition=definition)["jobId"]

    operator = ReattachingBatchOperator(
        task_id="run_tests", job_name=name, job_queue=SETTINGS.job_queue, job_definition=definition
    )
    operator.submit_job({})

    assert operator.job_id == first
    same_name = batch.list_jobs(jobQueue=SETTINGS.job_queue, filters=[{"name": "JOB_NAME", "values": [name]}])
    assert [j["jobId"] for j in same_name["jobSummaryList"]] == [first]


def test_a_retry_after_the_job_finished_adopts_it_instead_of_running_it_again(aws_client, airflow_connection):
    """The scheduler can fail a deferred task whose job already succeeded (apache/airflow#67287);
    its retry must take that job's result, not run the suite a second time."""
    _environment(aws_client)
    batch = aws_client("batch")
    definition = register_tiny_job_definition(batch, "it-quick", ["true"])
    name = f"it-adopt-{uuid.uuid4().hex[:8]}"
    first = batch.submit_job(jobName=name, jobQueue=SETTINGS.job_queue, jobDefinition=definition)["jobId"]
    airflow_services.wait_until(
        lambda: batch.describe_jobs(jobs=[first])["jobs"][0]["status"] == "SUCCEEDED", 60, "the quick job"
    )

    operator = ReattachingBatchOperator(
        task_id="run_tests", job_name=name, job_queue=SETTINGS.job_queue, job_definition=definition,
        deferrable=True,
    )  # fmt: skip
    assert operator.execute({}) == first  # finished: no deferral, no second job
    same_name = batch.list_jobs(jobQueue=SETTINGS.job_queue, filters=[{"name": "JOB_NAME", "values": [name]}])
    assert [j["jobId"] for j in same_name["jobSummaryList"]] == [first]
