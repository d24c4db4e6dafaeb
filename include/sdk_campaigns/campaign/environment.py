"""Idempotent AWS setup for a campaign: ECR repositories, IAM roles, Fargate Batch.

Each `ensure_*` reads first and creates or registers only what is missing or changed,
so every campaign run can call them and a rerun changes nothing. Runs of a backfill set up
at the same moment: a create that loses that race reads back what the winner made.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time

from botocore.exceptions import ClientError

from sdk_campaigns.config import BatchSettings, SdkSettings

log = logging.getLogger(__name__)

RUNNER_COMMAND = ["python3", "/opt/sdk-campaigns/run_suite.py"]
SPEC_TAG = "sdk-campaigns-spec"

# Retry what a retry can fix (capacity, image pulls, Fargate start-up); exit on anything
# else, so a harness or test failure is never retried into a different answer.
INFRASTRUCTURE_FAILURES = [
    {"onStatusReason": "Task failed to start*", "action": "RETRY"},
    {"onStatusReason": "ResourceInitializationError*", "action": "RETRY"},
    {"onStatusReason": "Host EC2*", "action": "RETRY"},
    {"onReason": "CannotPullContainerError*", "action": "RETRY"},
    {"onReason": "*", "action": "EXIT"},
]

EXECUTION_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
BATCH_SERVICE_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AWSBatchServiceRole"


def ensure_ecr_repository(ecr, name: str, keep_images: int) -> str:
    try:
        repository = ecr.create_repository(
            repositoryName=name,
            imageScanningConfiguration={"scanOnPush": True},
            imageTagMutability="IMMUTABLE",
        )["repository"]
        log.info("created ECR repository %s", name)
    except ecr.exceptions.RepositoryAlreadyExistsException:
        repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    policy = {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"keep the last {keep_images} images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": keep_images,
                },
                "action": {"type": "expire"},
            }
        ]
    }
    ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(policy))
    return repository["repositoryUri"]


def ensure_role(
    iam, name: str, managed_policy_arn: str | None = None, service: str = "ecs-tasks.amazonaws.com"
) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        try:
            arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
            log.info("created IAM role %s", name)
        except iam.exceptions.EntityAlreadyExistsException:
            arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    if managed_policy_arn:
        try:
            iam.attach_role_policy(RoleName=name, PolicyArn=managed_policy_arn)
        except iam.exceptions.NoSuchEntityException:
            # Every AWS account has these AWS-managed policies; moto knows only some of them.
            log.warning("managed policy %s not found; role %s left without it", managed_policy_arn, name)
    return arn


def ensure_job_role(iam, name: str, bucket: str) -> str:
    """The job may write its own results and nothing else: no all-powerful job role."""
    arn = ensure_role(iam, name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": f"arn:aws:s3:::{bucket}/*"},
        ],
    }
    iam.put_role_policy(RoleName=name, PolicyName="write-results", PolicyDocument=json.dumps(policy))
    return arn


def default_network(ec2, settings: BatchSettings) -> tuple[list[str], list[str]]:
    subnets, groups = list(settings.subnets), list(settings.security_groups)
    if subnets and groups:
        return subnets, groups
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise RuntimeError(
            "no default VPC: set batch.subnets and batch.security_groups in the campaign config"
        )
    vpc_id = vpcs[0]["VpcId"]
    vpc_filter = [{"Name": "vpc-id", "Values": [vpc_id]}]
    subnets = subnets or [s["SubnetId"] for s in ec2.describe_subnets(Filters=vpc_filter)["Subnets"]]
    groups = groups or [
        g["GroupId"]
        for g in ec2.describe_security_groups(
            Filters=[*vpc_filter, {"Name": "group-name", "Values": ["default"]}]
        )["SecurityGroups"]
    ]
    return subnets, groups


def _wait_valid(describe, key: str, name: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        items = describe()[key]
        if items and items[0].get("status") == "VALID":
            return
        if items and items[0].get("status") == "INVALID":
            raise RuntimeError(f"Batch {key} {name} is INVALID: {items[0].get('statusReason')}")
        time.sleep(2)
    raise RuntimeError(f"Batch {key} {name} did not become VALID within {seconds:.0f} s")


def _create_or_read_back(create, describe, arn_key: str) -> str:
    """Create; if that fails because a concurrent run created it first, return theirs."""
    try:
        return create()
    except ClientError:
        found = describe()
        if not found:
            raise
        return found[0][arn_key]


def ensure_compute_environment(
    batch, settings: BatchSettings, subnets: list[str], groups: list[str], service_role_arn: str
) -> str:
    name = settings.compute_environment

    def describe():
        return batch.describe_compute_environments(computeEnvironments=[name])

    found = describe()["computeEnvironments"]
    if found:
        arn = found[0]["computeEnvironmentArn"]
    else:
        arn = _create_or_read_back(
            lambda: batch.create_compute_environment(
                computeEnvironmentName=name,
                type="MANAGED",
                state="ENABLED",
                serviceRole=service_role_arn,
                computeResources={
                    "type": "FARGATE",
                    "maxvCpus": settings.max_vcpus,
                    "subnets": subnets,
                    "securityGroupIds": groups,
                },
            )["computeEnvironmentArn"],
            lambda: describe()["computeEnvironments"],
            "computeEnvironmentArn",
        )
        log.info("Fargate compute environment %s: %s", name, arn)
    _wait_valid(describe, "computeEnvironments", name)
    return arn


def ensure_job_queue(batch, settings: BatchSettings) -> str:
    name = settings.job_queue

    def describe():
        return batch.describe_job_queues(jobQueues=[name])

    found = describe()["jobQueues"]
    if found:
        arn = found[0]["jobQueueArn"]
    else:
        arn = _create_or_read_back(
            lambda: batch.create_job_queue(
                jobQueueName=name,
                state="ENABLED",
                priority=1,
                computeEnvironmentOrder=[{"order": 1, "computeEnvironment": settings.compute_environment}],
            )["jobQueueArn"],
            lambda: describe()["jobQueues"],
            "jobQueueArn",
        )
        log.info("job queue %s: %s", name, arn)
    _wait_valid(describe, "jobQueues", name)
    return arn


def job_definition_spec(*, image: str, sdk: SdkSettings, execution_role_arn: str, job_role_arn: str) -> dict:
    return {
        "type": "container",
        "platformCapabilities": ["FARGATE"],
        "containerProperties": {
            "image": image,
            "command": RUNNER_COMMAND,
            "resourceRequirements": [
                {"type": "VCPU", "value": f"{sdk.vcpu:g}"},
                {"type": "MEMORY", "value": str(sdk.memory_mib)},
            ],
            "executionRoleArn": execution_role_arn,
            "jobRoleArn": job_role_arn,
            "networkConfiguration": {"assignPublicIp": "ENABLED"},
            "fargatePlatformConfiguration": {"platformVersion": "LATEST"},
        },
        "timeout": {"attemptDurationSeconds": sdk.timeout_seconds},
        "retryStrategy": {"attempts": sdk.retry_attempts, "evaluateOnExit": INFRASTRUCTURE_FAILURES},
        "propagateTags": True,
    }


def ensure_job_definition(batch, name: str, spec: dict) -> str:
    """Register a new revision only when the spec changed (tracked by a hash tag)."""
    spec_hash = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]
    active = batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")["jobDefinitions"]
    for definition in sorted(active, key=lambda d: d["revision"], reverse=True):
        if definition.get("tags", {}).get(SPEC_TAG) == spec_hash:
            return definition["jobDefinitionArn"]
    arn = batch.register_job_definition(jobDefinitionName=name, tags={SPEC_TAG: spec_hash}, **spec)[
        "jobDefinitionArn"
    ]
    log.info("registered job definition %s", arn)
    return arn
