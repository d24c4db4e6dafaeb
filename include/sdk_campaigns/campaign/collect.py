"""Collect one SDK's outcome: the Batch job, its own log stream, and its JUnit from S3.

Pass/fail comes from JUnit, never from the exit code alone, and the three kinds of
failure stay apart: tests failed, infrastructure failed, results invalid.

Everything the job hands over is hostile and bounded by the campaign config's `limits:`: result
files and test cases are counted (over a cap, the SDK is results_invalid, naming the cap, and none of
its rows are kept), names, messages and log lines are cut with a marker, and the job log is streamed
to job.log with only its last lines in memory.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from botocore.exceptions import BotoCoreError, ClientError

from sdk_campaigns.campaign.junit import (
    STATUSES,
    JUnitError,
    TestCase,
    TextLimits,
    cyclic_gc_paused,
    iter_junit_stream,
    summarize,
    truncate_text,
)
from sdk_campaigns.campaign.metrics import queue_wait_seconds
from sdk_campaigns.campaign.plan import JOB_RESULTS_FOLDER
from sdk_campaigns.config import LimitSettings

log = logging.getLogger(__name__)

SDK_PASSED = "passed"
SDK_TESTS_FAILED = "tests_failed"
SDK_INFRA_FAILED = "infrastructure_failed"
SDK_RESULTS_INVALID = "results_invalid"
SDK_STATUSES = (SDK_PASSED, SDK_TESTS_FAILED, SDK_INFRA_FAILED, SDK_RESULTS_INVALID)
HARNESS_EXIT_CODE = 3
HARNESS_ERROR_PREFIX = "sdk-campaign harness error:"  # printed by images/common/run_suite.py
OOM_EXIT_CODE = 137
CANCELLED = "cancelled: "  # statusReason of a job terminated because Airflow stopped its task
LOG_EXCERPT_LINES = 200
MAX_REASON_CHARS = 4_000  # one error per bad file can make a long reason


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
        # Shallow on purpose: asdict would deep-copy every test row (hundreds of MB at the case cap).
        return {f.name: getattr(self, f.name) for f in fields(self)}


def test_id(sdk: str, classname: str, name: str) -> str:
    """Stable across runs: the same test keeps its id while its class and name stay."""
    return hashlib.sha256(f"{sdk}\x1f{classname}\x1f{name}".encode()).hexdigest()[:16]


def newest_job_summary(batch, queue: str, job_name: str) -> dict | None:
    """ListJobs' summary of the newest job of that name in the queue, if any."""
    summaries = []
    for page in batch.get_paginator("list_jobs").paginate(
        jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [job_name]}]
    ):
        summaries.extend(page["jobSummaryList"])
    return max(summaries, key=lambda s: s.get("createdAt", 0)) if summaries else None


def find_job(batch, queue: str, job_name: str) -> dict | None:
    """The newest job of that name in the queue, described in full."""
    newest = newest_job_summary(batch, queue, job_name)
    if newest is None:
        return None
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


def read_log_stream(logs, group: str, stream: str, sink, *, max_events: int, line_chars: int) -> list[str]:
    """Every event of one stream, oldest first (nextForwardToken to the end), written to `sink` (a
    binary file) one per line, up to `max_events`; returns the last LOG_EXCERPT_LINES lines, each cut
    to `line_chars`. Only those lines are held in memory, however long the log."""
    tail: collections.deque[str] = collections.deque(maxlen=LOG_EXCERPT_LINES)
    kept = 0
    kwargs = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    while True:
        response = logs.get_log_events(**kwargs)
        events = response["events"][: max_events - kept]
        for event in events:
            sink.write(event["message"].encode("utf-8", "replace") + b"\n")
            tail.append(truncate_text(event["message"], line_chars))
        kept += len(events)
        token = response.get("nextForwardToken")
        if not token or token == kwargs.get("nextToken"):
            break
        if kept >= max_events:
            marker = f"… [job log cut after {max_events:,} events: limits.max_log_events]"
            sink.write(marker.encode() + b"\n")
            tail.append(marker)
            break
        kwargs["nextToken"] = token
    return list(tail)


class ResultRows:
    """Test rows kept up to the case cap, and every case counted. Past the cap the SDK's results are
    invalid and none of its rows are stored, so none are held either: memory stays bounded by the
    cap however many cases the files hold."""

    def __init__(self, *, sdk: str, run_id: str, logical_date: str, digest: str, max_cases: int):
        self._row_fields = {"run_id": run_id, "logical_date": logical_date, "sdk": sdk, "digest": digest}
        self.max_cases = max_cases
        self.rows: list[dict] = []
        self.seen = 0

    def add(self, case: TestCase) -> None:
        self.seen += 1
        if self.seen <= self.max_cases:
            self.rows.append(result_row(case, **self._row_fields))
        elif self.rows:
            self.rows = []

    @property
    def over_cap(self) -> str:
        """Why the cases are too many, or "" when they are not."""
        if self.seen <= self.max_cases:
            return ""
        return f"{self.seen:,} test cases is over limits.max_cases_per_sdk ({self.max_cases:,})"


def list_result_files(s3, bucket: str, prefix: str, max_files: int) -> tuple[list[dict], str]:
    """The objects under the job's results prefix, and why they are too many ("" when they are not).
    Listing stops past the cap: a job writing millions of files costs one page more, not millions."""
    found: list[dict] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.extend(page.get("Contents", []))
        if len(found) > max_files:
            return found[: max_files + 1], (
                f"more than {max_files:,} files under {JOB_RESULTS_FOLDER}/ is over "
                f"limits.max_files_per_sdk ({max_files:,})"
            )
    return found, ""


def read_results(
    s3, bucket: str, files: Iterable[dict], rows: ResultRows, limits: LimitSettings
) -> list[str]:
    """Parse every .xml file into `rows`, streaming; return one error per bad file."""
    text_limits = TextLimits(name_chars=limits.max_name_chars, message_chars=limits.max_message_chars)
    errors: list[str] = []
    with cyclic_gc_paused():  # see junit.cyclic_gc_paused
        for item in files:
            key = item["Key"]
            if not key.endswith(".xml"):
                continue
            source = f"s3://{bucket}/{key}"
            if item["Size"] > limits.max_junit_bytes:
                cap = limits.max_junit_bytes
                errors.append(f"{source}: {item['Size']:,} bytes is over limits.max_junit_bytes ({cap:,})")
                continue
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"]
                try:
                    for case in iter_junit_stream(
                        body, source, max_bytes=limits.max_junit_bytes, limits=text_limits
                    ):
                        rows.add(case)
                finally:
                    body.close()
            except JUnitError as err:
                errors.append(str(err))
            except (BotoCoreError, ClientError) as err:  # one unreadable object never sinks the others
                errors.append(f"{source}: could not be read: {err}")
    return errors


def explain_job_failure(job: dict) -> str:
    container = job.get("container") or {}
    exit_code = container.get("exitCode")
    reason = job.get("statusReason") or container.get("reason") or ""
    if reason.startswith(CANCELLED):  # stopped from Airflow (see batch_jobs): say so, whatever it exited
        return reason
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


def classify(job: dict | None, counts: dict[str, int], errors: list[str]) -> tuple[str, str]:
    """The SDK's status and why, from its job, the counts of its test rows (see `count`) and the
    errors of its results (files that could not be read, caps exceeded)."""
    if job is None:
        return SDK_INFRA_FAILED, "no Batch job was found for this run: the job never started"
    if job["status"] != "SUCCEEDED":
        return SDK_INFRA_FAILED, explain_job_failure(job)
    if errors:
        return SDK_RESULTS_INVALID, "; ".join(errors)
    total = counts.get("total", 0)
    if not total:
        return SDK_INFRA_FAILED, "the job succeeded but uploaded no JUnit results"
    failed = counts.get("failed", 0) + counts.get("error", 0)
    if failed:
        return SDK_TESTS_FAILED, f"{failed} of {total} tests failed"
    return SDK_PASSED, f"all {total} tests passed or were skipped"


def result_row(case: TestCase, *, sdk: str, run_id: str, logical_date: str, digest: str) -> dict:
    """One test case as a normalised result row (validation.RESULT_COLUMNS)."""
    return {
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


def normalise(cases: list[TestCase], *, sdk: str, run_id: str, logical_date: str, digest: str) -> list[dict]:
    return [result_row(c, sdk=sdk, run_id=run_id, logical_date=logical_date, digest=digest) for c in cases]


def normalise_table(cases: list[TestCase], *, sdk: str, run_id: str, logical_date: str, digest: str):
    """`normalise` as an Arrow table (validation.RESULT_COLUMNS; duration float64, the rest strings),
    built column by column: no dict per row, and a tenth of the memory for 100,000 rows."""
    import pyarrow as pa

    size = len(cases)
    # One comprehension per field: several times faster than transposing with zip(*cases).
    suites, classnames, names, statuses, durations, messages = ([c[i] for c in cases] for i in range(6))
    sha256, prefix = hashlib.sha256, f"{sdk}\x1f"
    ids = [
        sha256(f"{prefix}{classname}\x1f{name}".encode()).hexdigest()[:16]
        for classname, name in zip(classnames, names, strict=True)
    ]
    string = pa.string()
    return pa.table(
        {
            "run_id": pa.repeat(pa.scalar(run_id, string), size),
            "logical_date": pa.repeat(pa.scalar(logical_date, string), size),
            "sdk": pa.repeat(pa.scalar(sdk, string), size),
            "suite": pa.array(suites, string),
            "classname": pa.array(classnames, string),
            "name": pa.array(names, string),
            "test_id": pa.array(ids, string),
            "status": pa.array(statuses, string),
            "duration": pa.array(durations, pa.float64()),
            "message": pa.array(messages, string),
            "image_digest": pa.repeat(pa.scalar(digest, string), size),
        }
    )


def count(cases: list[TestCase]) -> dict[str, int]:
    """Cases per status, and the total: the counts history, metrics and reports share."""
    summary = summarize(cases)
    return {**{status: summary[status] for status in STATUSES}, "total": summary["testcases"]}


def count_rows(rows: list[dict]) -> dict[str, int]:
    """`count` over normalised rows: what the readers check an outcome's counts against."""
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        counts[row["status"]] += 1
    return {**counts, "total": len(rows)}


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
    limits: LimitSettings,
) -> SdkOutcome:
    """The SDK's outcome, within the campaign config's `limits`."""
    try:
        job = find_job(batch, job_queue, job_name)
        lookup_error = ""
    except ClientError as err:
        job, lookup_error = None, f"the job could not be looked up: {err}"
    outcome = SdkOutcome(
        sdk=sdk, status="", reason="", image=image, image_digest=digest, results_uri=f"s3://{bucket}/{prefix}"
    )
    rows = ResultRows(
        sdk=sdk, run_id=run_id, logical_date=logical_date, digest=digest, max_cases=limits.max_cases_per_sdk
    )
    errors: list[str] = []
    over_cap = ""
    if job is not None:
        outcome.job_id, outcome.job_status = job["jobId"], job["status"]
        outcome.exit_code = (job.get("container") or {}).get("exitCode")
        outcome.job_seconds = job_seconds(job)
        outcome.queue_seconds = queue_wait_seconds(job)
        stream = job_log_stream(job)
        if stream:
            outcome.log_stream = f"{stream[0]}/{stream[1]}"
            # Kept next to the results so the full log outlives CloudWatch retention; on disk, not in memory.
            with tempfile.TemporaryFile() as job_log:
                outcome.log_excerpt = read_log_stream(
                    logs,
                    *stream,
                    job_log,
                    max_events=limits.max_log_events,
                    line_chars=limits.max_message_chars,
                )
                job_log.seek(0)
                s3.put_object(Bucket=bucket, Key=f"{prefix}job.log", Body=job_log)
        # Only what the job wrote, under results/: its role may write nothing else here.
        files, too_many_files = list_result_files(
            s3, bucket, f"{prefix}{JOB_RESULTS_FOLDER}/", limits.max_files_per_sdk
        )
        errors = [] if too_many_files else read_results(s3, bucket, files, rows, limits)
        over_cap = too_many_files or rows.over_cap
        if over_cap:
            errors.insert(0, over_cap)
    outcome.counts = count_rows(rows.rows)
    outcome.status, outcome.reason = classify(job, outcome.counts, errors)
    if over_cap and outcome.status != SDK_RESULTS_INVALID:  # a failed job: still say why no rows are kept
        outcome.reason += f"; {over_cap}"
    harness_errors = [line for line in outcome.log_excerpt if line.startswith(HARNESS_ERROR_PREFIX)]
    if outcome.status == SDK_INFRA_FAILED and harness_errors:
        outcome.reason += f" — {harness_errors[-1]}"
    if lookup_error:
        outcome.reason = lookup_error
    outcome.reason = truncate_text(outcome.reason, MAX_REASON_CHARS)
    outcome.rows = rows.rows
    return outcome
