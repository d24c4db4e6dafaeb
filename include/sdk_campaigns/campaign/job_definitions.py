"""The one thing the DAG registers: a Batch job definition per SDK, for the image it tests.

A new revision is registered only when the spec changed (tracked by a hash tag), and older
revisions are deregistered, so a campaign that runs every day does not pile up thousands.
"""

from __future__ import annotations

import hashlib
import json
import logging

from sdk_campaigns.campaign.resources import CampaignResources
from sdk_campaigns.config import SdkSettings

log = logging.getLogger(__name__)

RUNNER_COMMAND = ["python3", "/opt/sdk-campaigns/run_suite.py"]
SPEC_TAG = "sdk-campaigns-spec"
# Revisions kept ACTIVE besides the newest: a concurrent run (a backfill) may still be about to
# submit a job on one of them.
KEEP_REVISIONS = 4

# Retry what a retry can fix (capacity, image pulls, Fargate start-up); exit on anything
# else, so a harness or test failure is never retried into a different answer.
INFRASTRUCTURE_FAILURES = [
    {"onStatusReason": "Task failed to start*", "action": "RETRY"},
    {"onStatusReason": "ResourceInitializationError*", "action": "RETRY"},
    {"onStatusReason": "Host EC2*", "action": "RETRY"},
    {"onReason": "CannotPullContainerError*", "action": "RETRY"},
    {"onReason": "*", "action": "EXIT"},
]


def job_definition_spec(
    *, image: str, sdk: str, settings: SdkSettings, resources: CampaignResources, region: str
) -> dict:
    environment = resources.job_environment(sdk)  # the SDK's own account's roles and logs, if it has one
    return {
        "type": "container",
        "platformCapabilities": ["FARGATE"],
        "containerProperties": {
            "image": image,
            "command": RUNNER_COMMAND,
            "resourceRequirements": [
                {"type": "VCPU", "value": f"{settings.vcpu:g}"},
                {"type": "MEMORY", "value": str(settings.memory_mib)},
            ],
            "executionRoleArn": environment.execution_role_arn,
            "jobRoleArn": environment.job_role_arn,
            "networkConfiguration": {"assignPublicIp": environment.assign_public_ip},
            "fargatePlatformConfiguration": {"platformVersion": "LATEST"},
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": environment.log_group,
                    "awslogs-region": region,
                    "awslogs-stream-prefix": sdk,
                },
            },
        },
        "timeout": {"attemptDurationSeconds": settings.timeout_seconds},
        "retryStrategy": {"attempts": settings.retry_attempts, "evaluateOnExit": INFRASTRUCTURE_FAILURES},
        "propagateTags": True,
    }


def spec_hash(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]


def register(batch, name: str, spec: dict) -> str:
    """The ARN of an ACTIVE revision with exactly this spec, registered if none exists; revisions
    beyond the newest KEEP_REVISIONS + 1 are deregistered."""
    wanted = spec_hash(spec)
    active = sorted(
        batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")["jobDefinitions"],
        key=lambda d: d["revision"],
        reverse=True,
    )
    for definition in active:
        if definition.get("tags", {}).get(SPEC_TAG) == wanted:
            return definition["jobDefinitionArn"]
    arn = batch.register_job_definition(jobDefinitionName=name, tags={SPEC_TAG: wanted}, **spec)[
        "jobDefinitionArn"
    ]
    log.info("registered job definition %s", arn)
    for old in active[KEEP_REVISIONS:]:
        batch.deregister_job_definition(jobDefinition=old["jobDefinitionArn"])
        log.info("deregistered old revision %s", old["jobDefinitionArn"])
    return arn
