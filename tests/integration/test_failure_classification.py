"""Infrastructure failures on the local stack are classified as such, never as test failures.

Real jobs on moto's Batch (real Docker containers from the base image), collected with the
product's own collect_outcome."""

import time
import uuid

import boto3
import pytest

from sdk_campaigns.campaign import collect
from sdk_campaigns.campaign import environment as infrastructure
from sdk_campaigns.config import BatchSettings
from sdk_campaigns.dev import local_stack

from .batch_support import register_tiny_job_definition

pytestmark = pytest.mark.stack

SETTINGS = BatchSettings(compute_environment="it-fargate", job_queue="it-queue")
BUCKET = "it-classification"


def client(service):
    return boto3.client(service, endpoint_url=local_stack.moto_url(), region_name="us-east-1")


@pytest.fixture(scope="module")
def queue(stack_home):
    iam, batch = client("iam"), client("batch")
    subnets, groups = infrastructure.default_network(client("ec2"), SETTINGS)
    role = infrastructure.ensure_role(iam, "it-batch-service", service="batch.amazonaws.com")
    infrastructure.ensure_compute_environment(batch, SETTINGS, subnets, groups, role)
    infrastructure.ensure_job_queue(batch, SETTINGS)
    client("s3").create_bucket(Bucket=BUCKET)
    return SETTINGS.job_queue


def run_job(queue, command, timeout_seconds=None):
    batch = client("batch")
    name = f"it-{uuid.uuid4().hex[:10]}"
    definition = register_tiny_job_definition(batch, name, command, timeout_seconds)
    job_id = batch.submit_job(jobName=name, jobQueue=queue, jobDefinition=definition)["jobId"]
    deadline = time.monotonic() + 120
    while batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] not in ("SUCCEEDED", "FAILED"):
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.5)
    return collect.collect_outcome(
        batch=batch,
        logs=client("logs"),
        s3=client("s3"),
        sdk="it",
        job_queue=queue,
        job_name=name,
        bucket=BUCKET,
        prefix=f"{name}/",
        image=local_stack.BASE_IMAGE,
        digest="",
        run_id="r",
        logical_date="2026-11-21T00:00:00+00:00",
        max_junit_bytes=1_000_000,
    )


def test_a_job_that_uploads_nothing_is_an_infrastructure_failure(queue):
    outcome = run_job(queue, ["sh", "-c", "echo ran the suite but wrote no results"])
    assert outcome.job_status == "SUCCEEDED"
    assert outcome.status == collect.SDK_INFRA_FAILED
    assert "uploaded no JUnit results" in outcome.reason
    assert "ran the suite but wrote no results" in outcome.log_excerpt


def test_a_job_over_its_time_limit_is_an_infrastructure_failure(queue):
    outcome = run_job(queue, ["sleep", "30"], timeout_seconds=2)
    assert outcome.job_status == "FAILED"
    assert outcome.status == collect.SDK_INFRA_FAILED
    assert outcome.reason.startswith("timed out") and "raise timeout_seconds" in outcome.reason


def test_a_job_exiting_non_zero_is_an_infrastructure_failure_with_its_code(queue):
    outcome = run_job(queue, ["sh", "-c", "echo harness broke >&2; exit 3"])
    assert outcome.status == collect.SDK_INFRA_FAILED
    assert outcome.exit_code == 3
    assert "harness failed (exit 3)" in outcome.reason


def test_a_job_killed_for_memory_is_an_infrastructure_failure(queue):
    """512 MiB job; the suite buffers ~1.5 GB. The local stack applies Fargate's memory limit
    (sdk_campaigns.dev.fargate_limits), so the kernel kills it with exit 137, as Fargate would."""
    outcome = run_job(queue, ["sh", "-c", "sleep 2; head -c 1500000000 /dev/zero | tail > /dev/null"])
    assert outcome.job_status == "FAILED"
    assert outcome.exit_code == 137
    assert outcome.status == collect.SDK_INFRA_FAILED
    assert "killed for memory" in outcome.reason and "raise memory_mib" in outcome.reason
