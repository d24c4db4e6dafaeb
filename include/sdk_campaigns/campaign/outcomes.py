"""The files the DAG itself writes beside each run's results in the results bucket.

    <dag_id>/<run_id>/attempt-<n>/validation.json        validate's summary and the GX results
    <dag_id>/<run_id>/attempt-<n>/<sdk>/outcome.json     collect's SdkOutcome with its test rows and metrics

Large task outputs travel here, next to the JUnit they came from; XCom carries only summaries. What is
read back is checked (campaign.outcome_checks): an outcome that is not what collect wrote for this SDK of
this run becomes results_invalid, with none of its rows, and the other SDKs go on.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator

from sdk_campaigns.campaign.collect import SDK_INFRA_FAILED, SDK_RESULTS_INVALID, SdkOutcome, count_rows
from sdk_campaigns.campaign.outcome_checks import OutcomeRejected, check_outcome
from sdk_campaigns.campaign.plan import RunPlan, SdkPlan
from sdk_campaigns.config import LimitSettings

log = logging.getLogger(__name__)

OUTCOME_FILE = "outcome.json"
VALIDATION_FILE = "validation.json"
SPOOL_BYTES = 8 * 1024 * 1024  # a larger outcome goes through a file on disk, not a second copy in memory
WRITE_CHUNK_CHARS = 1024 * 1024


def put_json(s3, bucket: str, key: str, document: dict) -> int:
    """Write `document` as JSON (what json.dumps gives), streamed through a spool file: its test rows are
    never held a second time as one big string. Returns the size in bytes."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as body:
        pending: list[str] = []
        pending_chars = 0
        for piece in _json_pieces(document):
            pending.append(piece)
            pending_chars += len(piece)
            if pending_chars > WRITE_CHUNK_CHARS:
                body.write("".join(pending).encode())
                pending, pending_chars = [], 0
        body.write("".join(pending).encode())
        size = body.tell()
        body.seek(0)
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return size


def _json_pieces(document: dict) -> Iterator[str]:
    """json.dumps(document) in pieces: one per top-level value, one per item of a list value (each
    encoded by json's C encoder, which json.dump would not use)."""
    yield "{"
    for number, (key, value) in enumerate(document.items()):
        yield f"{', ' if number else ''}{json.dumps(key)}: "
        if isinstance(value, list):
            yield "["
            for index, item in enumerate(value):
                yield f", {json.dumps(item)}" if index else json.dumps(item)
            yield "]"
        else:
            yield json.dumps(value)
    yield "}"


def write_outcome(s3, bucket: str, sdk_plan: SdkPlan, document: dict, limits: LimitSettings) -> None:
    size = put_json(s3, bucket, sdk_plan.results_prefix + OUTCOME_FILE, document)
    if size > limits.max_outcome_bytes:
        log.error(
            "%s: outcome.json is %s bytes, over limits.max_outcome_bytes (%s): validate and publish will "
            "report this SDK as results_invalid",
            sdk_plan.sdk,
            f"{size:,}",
            f"{limits.max_outcome_bytes:,}",
        )


def write_validation(s3, bucket: str, run: RunPlan, document: dict) -> None:
    put_json(s3, bucket, run.results_prefix + VALIDATION_FILE, document)


def never_collected(sdk_plan: SdkPlan) -> dict:
    """The outcome of an SDK whose collect task died before writing one."""
    outcome = SdkOutcome(
        sdk=sdk_plan.sdk,
        status=SDK_INFRA_FAILED,
        reason="results were never collected (see the collect task log)",
        counts=count_rows([]),
    )
    return {**outcome.to_dict(), "ref": sdk_plan.ref}


def rejected(sdk_plan: SdkPlan, bucket: str, why: str) -> dict:
    """What stands for an outcome the readers refused: results_invalid, the reason, no rows."""
    outcome = SdkOutcome(
        sdk=sdk_plan.sdk,
        status=SDK_RESULTS_INVALID,
        reason=f"outcome.json was refused: {why}",
        results_uri=f"s3://{bucket}/{sdk_plan.results_prefix}",
        counts=count_rows([]),
    )
    return {**outcome.to_dict(), "ref": sdk_plan.ref}


def read_outcome(s3, bucket: str, run: RunPlan, sdk_plan: SdkPlan, limits: LimitSettings) -> dict:
    """One SDK's outcome as collect wrote it, checked; else an explicit one saying why not."""
    key = sdk_plan.results_prefix + OUTCOME_FILE
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except s3.exceptions.NoSuchKey:
        return never_collected(sdk_plan)
    cap = limits.max_outcome_bytes
    body = response["Body"]
    try:
        size = response.get("ContentLength") or 0
        raw = b"" if size > cap else body.read(cap + 1)  # never more than the cap into memory
    finally:
        body.close()
    size = max(size, len(raw))
    if size > cap:
        why = f"{size:,} bytes is over limits.max_outcome_bytes ({cap:,})"
    else:
        try:
            return check_outcome(json.loads(raw), run=run, sdk_plan=sdk_plan, bucket=bucket, limits=limits)
        except OutcomeRejected as err:
            why = str(err)
        except (ValueError, RecursionError) as err:  # not JSON, or nested past the parser's depth
            why = f"not JSON ({type(err).__name__})"
    log.error("%s: s3://%s/%s refused: %s", sdk_plan.sdk, bucket, key, why)
    return rejected(sdk_plan, bucket, why)


def read_outcomes(s3, bucket: str, run: RunPlan, limits: LimitSettings) -> list[dict]:
    """Every planned SDK's outcome, in plan order, each checked; an SDK never collected gets an explicit
    one, and one whose outcome is refused a results_invalid one."""
    return [read_outcome(s3, bucket, run, sdk_plan, limits) for sdk_plan in run.sdks]
