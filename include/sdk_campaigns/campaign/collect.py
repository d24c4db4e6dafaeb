"""Collect one SDK's outcome: the Batch job, its own log stream, and its JUnit from S3.

Pass/fail comes from JUnit, never from the exit code alone, and the three kinds of
failure stay apart: tests failed, infrastructure failed, results invalid.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from sdk_campaigns.campaign.junit import STATUSES, JUnitError, TestCase, parse_junit_stream, summarize
from sdk_campaigns.campaign.metrics import queue_wait_seconds
from sdk_campaigns.campaign.plan import JOB_RESULTS_FOLDER

log = logging.getLogger(__name__)

SDK_PASSED = "passed"
SDK_TESTS_FAILED = "tests_failed"
SDK_INFRA_FAILED = "infrastructure_failed"
SDK_RESULTS_INVALID = "results_invalid"
HARNESS_EXIT_CODE = 3
HARNESS_ERROR_PREFIX = "sdk-campaign harness error:"  # printed by images/common/run_suite.py
OOM_EXIT_CODE = 137
LOG_EXCERPT_LINES = 200


@dataclass
class SdkOutcome:
    sdk: str
    status: str
    reason: str
    job_id: str | None = None
    job_status: str | None = None
    exit_code: int | None = None
    image: str | None = None
    image_digest: str | None = None
    job_seconds: float | None = None
    queue_seconds: float | None = None
    results_uri: str = ""
    log_stream: str | None = None
    log_excerpt: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def test_id(sdk: str, classname: str, name: str) -> str:
    """Stable across runs: the same test keeps its id while its class and name stay."""
    return hashlib.sha256(f"{sdk}\x1f{classname}\x1f{name}".encode()).hexdigest()[:16]


def find_job(batch, queue: str, job_name: str) -> dict | None:
    """The newest job of that name in the queue, described in full."""
    summaries = []
    for page in batch.get_paginator("list_jobs").paginate(
        jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [job_name]}]
    ):
        summaries.extend(page["jobSummaryList"])
    if not summaries:
        return None
    newest = max(summaries, key=lambda s: s.get("createdAt", 0))
    job = batch.describe_jobs(jobs=[newest["jobId"]])["jobs"][0]
    # moto's DescribeJobs omits container.exitCode (its ListJobs summary has it) and the
    # job definition's timeout; AWS returns both. Fill them in so failures explain themselves.
    container = job.setdefault("container", {})
    if container.get("exitCode") is None and (newest.get("container") or {}).get("exitCode") is not None:
        container["exitCode"] = newest["container"]["exitCode"]
    if job["status"] == "FAILED" and not job.get("timeout"):
        definitions = batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])["jobDefinitions"]
        job["timeout"] = definitions[0].get("timeout") if definitions else None
    return job


def job_log_stream(job: dict) -> tuple[str, str] | None:
    """(group, stream) of this job's own log stream: its last attempt's, else the container's."""
    container = job.get("container") or {}
    attempts = job.get("attempts") or []
    stream = None
    if attempts:
        stream = (attempts[-1].get("container") or {}).get("logStreamName")
    stream = stream or container.get("logStreamName")
    if not stream:
        return None
    options = (container.get("logConfiguration") or {}).get("options") or {}
    return options.get("awslogs-group", "/aws/batch/job"), stream


def read_log_stream(logs, group: str, stream: str, max_events: int = 100_000) -> list[str]:
    """Every event of one stream, oldest first, following nextForwardToken to the end."""
    lines: list[str] = []
    kwargs = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    while len(lines) < max_events:
        response = logs.get_log_events(**kwargs)
        lines.extend(event["message"] for event in response["events"])
        token = response.get("nextForwardToken")
        if not token or token == kwargs.get("nextToken"):
            break
        kwargs["nextToken"] = token
    return lines


def fetch_junit(s3, bucket: str, prefix: str, max_bytes: int) -> tuple[list[TestCase], list[str]]:
    """Parse every .xml under the prefix; return the cases and one error per bad file."""
    cases: list[TestCase] = []
    errors: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if not key.endswith(".xml"):
                continue
            if item["Size"] > max_bytes:
                errors.append(f"s3://{bucket}/{key}: {item['Size']} bytes is over the {max_bytes} byte limit")
                continue
            source = f"s3://{bucket}/{key}"
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"]
                try:
                    cases.extend(parse_junit_stream(body, source, max_bytes=max_bytes))
                finally:
                    body.close()
            except JUnitError as err:
                errors.append(str(err))
            except (BotoCoreError, ClientError) as err:  # one unreadable object never sinks the others
                errors.append(f"{source}: could not be read: {err}")
    return cases, errors


def explain_job_failure(job: dict) -> str:
    container = job.get("container") or {}
    exit_code = container.get("exitCode")
    reason = job.get("statusReason") or container.get("reason") or ""
    if exit_code == OOM_EXIT_CODE or "OutOfMemory" in reason:
        return f"killed for memory (exit {exit_code}): raise memory_mib for this SDK in the campaign config"
    limit = (job.get("timeout") or {}).get("attemptDurationSeconds")
    ran = job_seconds(job)
    # AWS says so in statusReason; moto only stops the job, so the attempt's length tells.
    if (
        "attempt duration" in reason.lower()
        or "timeout" in reason.lower()
        or (limit and ran and ran >= limit)
    ):
        return (
            f"timed out after {ran or limit:.0f} s (limit {limit} s): raise timeout_seconds for this SDK "
            f"in the campaign config or speed up its suite"
        )
    if exit_code == HARNESS_EXIT_CODE:
        return "the test harness failed (exit 3): see the job log for the harness error"
    if exit_code is not None:
        return f"the job exited {exit_code}: {reason or 'see the job log'}"
    return f"the job failed before its container ran: {reason or 'no reason given'}"


def classify(job: dict | None, cases: list[TestCase], errors: list[str]) -> tuple[str, str]:
    if job is None:
        return SDK_INFRA_FAILED, "no Batch job was found for this run: the job never started"
    if job["status"] != "SUCCEEDED":
        return SDK_INFRA_FAILED, explain_job_failure(job)
    if errors:
        return SDK_RESULTS_INVALID, "; ".join(errors)
    if not cases:
        return SDK_INFRA_FAILED, "the job succeeded but uploaded no JUnit results"
    failed = sum(c.status in ("failed", "error") for c in cases)
    if failed:
        return SDK_TESTS_FAILED, f"{failed} of {len(cases)} tests failed"
    return SDK_PASSED, f"all {len(cases)} tests passed or were skipped"


def normalise(cases: list[TestCase], *, sdk: str, run_id: str, logical_date: str, digest: str) -> list[dict]:
    return [
        {
            "run_id": run_id,
            "logical_date": logical_date,
            "sdk": sdk,
            "suite": case.suite,
            "classname": case.classname,
            "name": case.name,
            "test_id": test_id(sdk, case.classname, case.name),
            "status": case.status,
            "duration": case.duration,
            "message": case.message,
            "image_digest": digest,
        }
        for case in cases
    ]


def count(cases: list[TestCase]) -> dict[str, int]:
    """Cases per status, and the total: the counts history, metrics and reports share."""
    summary = summarize(cases)
    return {**{status: summary[status] for status in STATUSES}, "total": summary["testcases"]}


def job_seconds(job: dict | None) -> float | None:
    if job and job.get("startedAt") and job.get("stoppedAt"):
        return max(0.0, (job["stoppedAt"] - job["startedAt"]) / 1000)
    return None


def collect_outcome(
    *,
    batch,
    logs,
    s3,
    sdk: str,
    job_queue: str,
    job_name: str,
    bucket: str,
    prefix: str,
    image: str,
    digest: str,
    run_id: str,
    logical_date: str,
    max_junit_bytes: int,
) -> SdkOutcome:
    try:
        job = find_job(batch, job_queue, job_name)
        lookup_error = ""
    except ClientError as err:
        job, lookup_error = None, f"the job could not be looked up: {err}"
    outcome = SdkOutcome(
        sdk=sdk, status="", reason="", image=image, image_digest=digest, results_uri=f"s3://{bucket}/{prefix}"
    )
    cases: list[TestCase] = []
    errors: list[str] = []
    if job is not None:
        outcome.job_id, outcome.job_status = job["jobId"], job["status"]
        outcome.exit_code = (job.get("container") or {}).get("exitCode")
        outcome.job_seconds = job_seconds(job)
        outcome.queue_seconds = queue_wait_seconds(job)
        stream = job_log_stream(job)
        if stream:
            outcome.log_stream = f"{stream[0]}/{stream[1]}"
            lines = read_log_stream(logs, *stream)
            outcome.log_excerpt = lines[-LOG_EXCERPT_LINES:]
            # Kept next to the results so the full log outlives CloudWatch retention.
            s3.put_object(Bucket=bucket, Key=f"{prefix}job.log", Body="\n".join(lines).encode())
        # Only what the job wrote, under results/: its role may write nothing else here.
        cases, errors = fetch_junit(s3, bucket, f"{prefix}{JOB_RESULTS_FOLDER}/", max_junit_bytes)
    outcome.status, outcome.reason = classify(job, cases, errors)
    harness_errors = [line for line in outcome.log_excerpt if line.startswith(HARNESS_ERROR_PREFIX)]
    if outcome.status == SDK_INFRA_FAILED and harness_errors:
        outcome.reason += f" — {harness_errors[-1]}"
    if lookup_error:
        outcome.reason = lookup_error
    outcome.counts = count(cases)
    outcome.rows = normalise(cases, sdk=sdk, run_id=run_id, logical_date=logical_date, digest=digest)
    return outcome
