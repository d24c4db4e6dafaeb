"""The files the DAG itself writes beside each run's results in the results bucket.

    <dag_id>/<run_id>/validation.json        validate's summary and the GX results
    <dag_id>/<run_id>/<sdk>/outcome.json     collect's SdkOutcome with its test rows and metrics

Large task outputs travel here, next to the JUnit they came from; XCom carries only summaries.
"""

from __future__ import annotations

import json

from sdk_campaigns.campaign.collect import SDK_INFRA_FAILED, SdkOutcome
from sdk_campaigns.campaign.plan import RunPlan, SdkPlan

OUTCOME_FILE = "outcome.json"
VALIDATION_FILE = "validation.json"


def put_json(s3, bucket: str, key: str, document: dict) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json")


def write_outcome(s3, bucket: str, sdk_plan: SdkPlan, document: dict) -> None:
    put_json(s3, bucket, sdk_plan.results_prefix + OUTCOME_FILE, document)


def write_validation(s3, bucket: str, run: RunPlan, document: dict) -> None:
    put_json(s3, bucket, run.results_prefix + VALIDATION_FILE, document)


def never_collected(sdk_plan: SdkPlan) -> dict:
    """The outcome of an SDK whose collect task died before writing one."""
    outcome = SdkOutcome(
        sdk=sdk_plan.sdk,
        status=SDK_INFRA_FAILED,
        reason="results were never collected (see the collect task log)",
    )
    return {**outcome.to_dict(), "ref": sdk_plan.ref}


def read_outcomes(s3, bucket: str, run: RunPlan) -> list[dict]:
    """Every planned SDK's outcome, in plan order; an SDK never collected gets an explicit one."""
    outcomes = []
    for sdk_plan in run.sdks:
        try:
            body = s3.get_object(Bucket=bucket, Key=sdk_plan.results_prefix + OUTCOME_FILE)["Body"].read()
            outcomes.append(json.loads(body))
        except s3.exceptions.NoSuchKey:
            outcomes.append(never_collected(sdk_plan))
    return outcomes
