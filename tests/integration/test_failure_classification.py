"""Infrastructure failures on the local stack are classified as such, never as test failures.

Real jobs on moto's Batch (real Docker containers from the base image), collected with the
product's own collect_outcome."""

import uuid

import pytest

from sdk_campaigns.campaign import collect
from sdk_campaigns.config import LimitSettings
from sdk_campaigns.dev import airflow_services, local_stack

from .batch_support import fargate_queue, register_tiny_job_definition

pytestmark = pytest.mark.stack

BUCKET = "it-classification"


# Waits until the job's own cgroup has a memory limit (cgroup v2, else v1; "max" or a 19-digit
# number mean none yet): the local stack's fargate-limits watcher applies it just after the
# container starts, so a job that must be killed for memory waits for it before allocating.
AWAIT_MEMORY_LIMIT = """
tries=0
until limit=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes)
      [ "$limit" != max ] && [ ${#limit} -lt 16 ]; do
  tries=$((tries + 1))
  [ $tries -le 300 ] || { echo "no memory limit was applied to this job within 30 s" >&2; exit 3; }
  sleep 0.1
done
echo "memory limit: $limit bytes"
"""


@pytest.fixture(scope="module")
def queue(aws_client):
    aws_client("s3").create_bucket(Bucket=BUCKET)
    return fargate_queue(aws_client, "it-queue")


@pytest.fixture
def run_job(aws_client, queue):
    """Runs `command` as a Batch job to its end and collects it as the campaign does."""

    def run(command, timeout_seconds=None):
        batch = aws_client("batch")
        name = f"it-{uuid.uuid4().hex[:10]}"
        definition = register_tiny_job_definition(batch, name, command, timeout_seconds)
        job_id = batch.submit_job(jobName=name, jobQueue=queue, jobDefinition=definition)["jobId"]
        airflow_services.wait_until(
            lambda: batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] in ("SUCCEEDED", "FAILED"),
            120,
            f"job {name} to finish",
        )
        return collect.collect_outcome(
            batch=batch,
            logs=aws_client("logs"),
            s3=aws_client("s3"),
            sdk="it",
            job_queue=queue,
            job_name=name,
            bucket=BUCKET,
            prefix=f"{name}/",
            image=local_stack.BASE_IMAGE,
            digest="",
            run_id="r",
            logical_date="2026-11-21T00:00:00+00:00",
            limits=LimitSettings(max_junit_bytes=1_000_000),
        )

    return run


def test_a_job_that_uploads_nothing_is_an_infrastructure_failure(run_job):
    outcome = run_job(["sh", "-c", "echo ran the suite but wrote no results"])
    assert outcome.job_status == "SUCCEEDED"
    assert outcome.status == collect.SDK_INFRA_FAILED
    assert "uploaded no JUnit results" in outcome.reason
    assert "ran the suite but wrote no results" in outcome.log_excerpt


def test_a_job_over_its_time_limit_is_an_infrastructure_failure(run_job):
    outcome = run_job(["sleep", "30"], timeout_seconds=2)
    assert outcome.job_status == "FAILED"
    assert outcome.status == collect.SDK_INFRA_FAILED
    assert outcome.reason.startswith("timed out") and "raise timeout_seconds" in outcome.reason


def test_a_job_exiting_non_zero_is_an_infrastructure_failure_with_its_code(run_job):
    outcome = run_job(["sh", "-c", "echo harness broke >&2; exit 3"])
    assert outcome.status == collect.SDK_INFRA_FAILED
    assert outcome.exit_code == 3
    assert "harness failed (exit 3)" in outcome.reason


def test_a_job_killed_for_memory_is_an_infrastructure_failure(run_job):
    """512 MiB job; the suite buffers ~1.5 GB. The local stack applies Fargate's memory limit
    (sdk_campaigns.dev.fargate_limits), so the kernel kills it with exit 137, as Fargate would.
    The job allocates only once its limit is in place, so the kill does not depend on timing."""
    outcome = run_job(["sh", "-c", AWAIT_MEMORY_LIMIT + "head -c 1500000000 /dev/zero | tail > /dev/null"])
    assert outcome.job_status == "FAILED"
    assert outcome.exit_code == 137, (outcome.reason, outcome.log_excerpt)
    assert f"memory limit: {512 * 1024 * 1024} bytes" in outcome.log_excerpt  # Fargate's, before allocating
    assert outcome.status == collect.SDK_INFRA_FAILED
    assert "killed for memory" in outcome.reason and "raise memory_mib" in outcome.reason
