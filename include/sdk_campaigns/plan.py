"""Plan a campaign run: which SDKs, which ref, and everything each SDK's job needs."""

from __future__ import annotations

import hashlib
import json
import re

from sdk_campaigns.config import CampaignConfig

REF_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")


class PlanError(ValueError):
    """Trigger parameters that do not fit the configuration; the message says what does."""


def validate_sdks(requested: list[str] | None, config: CampaignConfig) -> list[str]:
    if requested is None or requested == []:
        return config.sdk_names
    if not isinstance(requested, list) or not all(isinstance(s, str) for s in requested):
        raise PlanError(
            f"'sdks' must be a list of SDK names, got {requested!r}; known SDKs: {config.sdk_names}"
        )
    unknown = [s for s in requested if s not in config.sdks]
    if unknown:
        raise PlanError(
            f"unknown SDK(s) {unknown} in 'sdks'; known SDKs: {', '.join(config.sdk_names)} "
            f"(add new ones under 'sdks:' in the campaign config)"
        )
    return list(dict.fromkeys(requested))  # de-duplicated, order kept


def validate_ref(ref: str | None, config: CampaignConfig) -> str:
    ref = ref or config.campaign.default_ref
    if not isinstance(ref, str) or not REF_PATTERN.match(ref) or ".." in ref:
        raise PlanError(f"'ref' {ref!r} is not a git branch, tag or commit name (letters, digits, . _ / -)")
    return ref


def job_name(config: CampaignConfig, sdk: str, run_id: str) -> str:
    """Unique per run and SDK, so a retried or re-attached task finds its own job."""
    run_key = hashlib.sha256(f"{config.campaign.dag_id}/{run_id}".encode()).hexdigest()[:12]
    return f"{config.batch.job_definition_prefix}-{sdk}-{run_key}"


def plan_campaign(
    config: CampaignConfig, *, sdks: list[str] | None, ref: str | None, run_id: str, logical_date: str
) -> list[dict]:
    selected = validate_sdks(sdks, config)
    ref = validate_ref(ref, config)
    plans = []
    for sdk in selected:
        settings = config.sdks[sdk]
        prefix = f"{config.campaign.dag_id}/{run_id}/{sdk}/"
        plans.append(
            {
                "sdk": sdk,
                "ref": ref,
                "image_folder": settings.image,
                "repository": f"{config.campaign.ecr_repository_prefix}/{sdk}",
                "job_definition": f"{config.batch.job_definition_prefix}-{sdk}",
                "job_name": job_name(config, sdk, run_id),
                "results_prefix": prefix,
                "run_id": run_id,
                "logical_date": logical_date,
                "environment": {
                    **settings.environment,
                    "SDK_NAME": sdk,
                    "SDK_REF": ref,
                    "SDK_TEST_COMMAND": json.dumps(list(settings.test_command)),
                    "RESULTS_S3_URI": f"s3://{config.campaign.results_bucket}/{prefix}",
                },
            }
        )
    return plans
