"""The readers of outcome.json distrust it: every outcome and every test row is checked before validate,
publish or the verdict use it.

collect writes outcome.json beside the job's results/ folder, which the job writes. The job's role may
not write outside results/ on AWS, but the DAG does not rely on that: a document that is not what collect
writes for this SDK of this run (unknown keys, wrong types, texts over the limits, a status that is none
of the four, counts that do not add up to the rows, another SDK's or run's rows, forged test ids) is
rejected with the reason, and the SDK becomes results_invalid with none of its rows.
"""

from __future__ import annotations

import math

from sdk_campaigns.campaign.collect import (
    LOG_EXCERPT_LINES,
    MAX_REASON_CHARS,
    SDK_PASSED,
    SDK_STATUSES,
    SDK_TESTS_FAILED,
    count_rows,
    test_id,
)
from sdk_campaigns.campaign.commits import check_code_under_test
from sdk_campaigns.campaign.junit import STATUSES
from sdk_campaigns.campaign.plan import RunPlan, SdkPlan
from sdk_campaigns.campaign.validation import RESULT_COLUMNS
from sdk_campaigns.config import LimitSettings

MAX_FIELD_CHARS = 2_048  # job ids, images, digests, URIs, stream names: AWS's own are far shorter
MAX_REASON_WITH_PREFIX = MAX_REASON_CHARS + 500  # the collect task may put what it knows first
MAX_METRICS = 64
COUNT_KEYS = (*STATUSES, "total")
_TEXT_FIELDS = ("job_id", "job_status", "image", "image_digest", "log_stream")
_SECONDS_FIELDS = ("job_seconds", "queue_seconds")
OUTCOME_KEYS = frozenset(
    {
        "sdk",
        "status",
        "reason",
        "job_id",
        "job_status",
        "exit_code",
        "image",
        "image_digest",
        "job_seconds",
        "queue_seconds",
        "results_uri",
        "log_stream",
        "log_excerpt",
        "counts",
        "rows",
        "ref",
        "metrics",
        "commit",
        "commit_kind",
        "repo_url",
    }
)
_ROW_KEYS = frozenset(RESULT_COLUMNS)


class OutcomeRejected(ValueError):
    """An outcome document that is not what collect writes; the message says what is wrong."""


def _is_text(value: object, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit


def _is_seconds(value: object) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    )


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_outcome(
    document: object, *, run: RunPlan, sdk_plan: SdkPlan, bucket: str, limits: LimitSettings
) -> dict:
    """`document` when it is an outcome collect could have written for this SDK of this run within the
    limits; else OutcomeRejected naming the first thing wrong."""
    if not isinstance(document, dict):
        raise OutcomeRejected(f"the outcome is a {type(document).__name__}, not an object")
    unknown = set(document) - OUTCOME_KEYS
    if unknown:
        raise OutcomeRejected(f"unknown keys {sorted(unknown)[:5]}")
    if document.get("sdk") != sdk_plan.sdk:
        raise OutcomeRejected(f"it is SDK {str(document.get('sdk'))[:80]!r}'s, not {sdk_plan.sdk!r}'s")
    status = document.get("status")
    if status not in SDK_STATUSES:
        raise OutcomeRejected(f"status {str(status)[:80]!r} is none of {', '.join(SDK_STATUSES)}")
    if status in (SDK_PASSED, SDK_TESTS_FAILED) and document.get("job_status") != "SUCCEEDED":
        raise OutcomeRejected(f"status {status} without a job that succeeded")
    if not _is_text(document.get("reason"), MAX_REASON_WITH_PREFIX):
        raise OutcomeRejected(f"the reason is not a text of at most {MAX_REASON_WITH_PREFIX:,} characters")
    for key in _TEXT_FIELDS:
        if document.get(key) is not None and not _is_text(document[key], MAX_FIELD_CHARS):
            raise OutcomeRejected(f"{key} is not a text of at most {MAX_FIELD_CHARS:,} characters")
    if document.get("ref") != sdk_plan.ref:
        raise OutcomeRejected(f"ref {str(document.get('ref'))[:80]!r} is not the planned {sdk_plan.ref!r}")
    wrong_commit = check_code_under_test(document, planned_repo_url=sdk_plan.repo_url)
    if wrong_commit:
        raise OutcomeRejected(wrong_commit)
    if document.get("results_uri") not in ("", f"s3://{bucket}/{sdk_plan.results_prefix}"):
        raise OutcomeRejected("results_uri is not this attempt's results folder")
    exit_code = document.get("exit_code")
    if exit_code is not None and (not isinstance(exit_code, int) or isinstance(exit_code, bool)):
        raise OutcomeRejected("exit_code is not an integer")
    for key in _SECONDS_FIELDS:
        if document.get(key) is not None and not _is_seconds(document[key]):
            raise OutcomeRejected(f"{key} is not a finite number of seconds")
    _check_log_excerpt(document.get("log_excerpt", []), limits)
    _check_metrics(document.get("metrics", {}))
    rows = document.get("rows")
    if not isinstance(rows, list):
        raise OutcomeRejected("rows is not a list")
    if len(rows) > limits.max_cases_per_sdk:
        raise OutcomeRejected(
            f"{len(rows):,} test rows is over limits.max_cases_per_sdk ({limits.max_cases_per_sdk:,})"
        )
    digest = document.get("image_digest") or ""
    for number, row in enumerate(rows):
        problem = _row_problem(row, run=run, sdk=sdk_plan.sdk, digest=digest, limits=limits)
        if problem:
            raise OutcomeRejected(f"test row {number}: {problem}")
    _check_counts(document.get("counts"), rows, status)
    return document


def _check_log_excerpt(lines: object, limits: LimitSettings) -> None:
    # The excerpt's last line may be collect's own marker of a cut log, a little longer than a log line.
    line_chars = max(limits.max_message_chars, 200)
    if not (
        isinstance(lines, list)
        and len(lines) <= LOG_EXCERPT_LINES
        and all(_is_text(line, line_chars) for line in lines)
    ):
        raise OutcomeRejected(
            f"log_excerpt is not a list of at most {LOG_EXCERPT_LINES} lines "
            f"of at most {line_chars:,} characters"
        )


def _check_metrics(metrics: object) -> None:
    if not (
        isinstance(metrics, dict)
        and len(metrics) <= MAX_METRICS
        and all(_is_text(name, 256) and _is_number(value) for name, value in metrics.items())
    ):
        raise OutcomeRejected(f"metrics is not a map of at most {MAX_METRICS} metric names to numbers")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _row_problem(row: object, *, run: RunPlan, sdk: str, digest: str, limits: LimitSettings) -> str:
    """What is wrong with one test row, or "" when nothing is."""
    if not isinstance(row, dict) or row.keys() != _ROW_KEYS:
        return f"not an object with exactly the columns {', '.join(RESULT_COLUMNS)}"
    if row["sdk"] != sdk:
        return f"SDK {str(row['sdk'])[:80]!r} is not {sdk!r}"
    if row["run_id"] != run.run_id or row["logical_date"] != run.logical_date:
        return "run_id or logical_date is not this run's"
    if row["status"] not in STATUSES:
        return f"status {str(row['status'])[:80]!r} is none of {', '.join(STATUSES)}"
    for key in ("suite", "classname", "name"):
        if not _is_text(row[key], limits.max_name_chars):
            return f"{key} is not a text of at most limits.max_name_chars ({limits.max_name_chars:,})"
    if not _is_text(row["message"], limits.max_message_chars):
        return f"message is not a text of at most limits.max_message_chars ({limits.max_message_chars:,})"
    if not _is_seconds(row["duration"]):
        return "duration is not a finite number of seconds"
    if row["image_digest"] != digest:
        return "image_digest is not the outcome's image"
    if row["test_id"] != test_id(sdk, row["classname"], row["name"]):
        return "test_id is not the id of its class and name"
    return ""


def _check_counts(counts: object, rows: list[dict], status: str) -> None:
    if not (
        isinstance(counts, dict) and counts.keys() == set(COUNT_KEYS) and all(map(_is_count, counts.values()))
    ):
        raise OutcomeRejected(f"counts is not a map of {', '.join(COUNT_KEYS)} to counts")
    tally = count_rows(rows)
    if counts != tally:
        raise OutcomeRejected(f"counts {counts} do not add up to the rows' {tally}")
    failing = tally["failed"] + tally["error"]
    if status == SDK_PASSED and (failing or not tally["total"]):
        raise OutcomeRejected(f"status passed with {failing} failing of {tally['total']} tests")
    if status == SDK_TESTS_FAILED and not failing:
        raise OutcomeRejected("status tests_failed with no failing test")
