"""What a campaign runs on, as the CDK stack deployed it (infra/): read from the stack's outputs and
checked, never created. The DAG's Airflow role may describe these resources; it cannot create IAM
roles, buckets, queues or compute environments, and nothing here tries.

A missing or broken resource fails the check naming each one and the fix:
`sdk-campaigns infra deploy` (see docs/deploying.md).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field

from botocore.exceptions import ClientError

log = logging.getLogger(__name__)

RESOURCES_OUTPUT = "CampaignResources"  # the stack's JSON output (infra/sdk_campaigns_infra/stack.py)
DEPLOY_FIX = "deploy the campaign's stack: `sdk-campaigns infra deploy` (docs/deploying.md)"
USABLE_STACK_STATES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE")


class MissingInfrastructure(RuntimeError):
    """Resources the campaign needs are missing or broken; the message names each and the fix."""


@dataclass(frozen=True)
class SdkResources:
    repository_uri: str
    job_role_arn: str  # "" for an SDK in its own account: its account stack makes its job role


@dataclass(frozen=True)
class JobEnvironment:
    """Where one SDK's jobs run: the campaign's stack's resources, or its own account's stack's
    (docs/accounts.md)."""

    stack_name: str
    job_queue: str
    job_queue_arn: str
    compute_environment_arn: str
    execution_role_arn: str
    job_role_arn: str
    log_group: str
    assign_public_ip: str


@dataclass(frozen=True)
class CampaignResources:
    """The stack's `CampaignResources` output: every resource the DAG uses."""

    stack_name: str
    results_bucket: str
    job_queue: str
    job_queue_arn: str
    compute_environment_arn: str
    execution_role_arn: str
    log_group: str
    alerts_topic_arn: str
    image_build_project: str
    assign_public_ip: str
    subnets: list[str] = field(default_factory=list)
    security_groups: list[str] = field(default_factory=list)
    sdks: dict[str, SdkResources] = field(default_factory=dict)
    # SDKs the stack lets another account pull and write for (their sdks.<name>.role_arn when deployed)
    sdk_accounts: dict[str, str] = field(default_factory=dict)
    # SDKs in their own account: where their jobs run (checked through their connection).
    accounts: dict[str, JobEnvironment] = field(default_factory=dict)

    def to_xcom(self) -> dict:
        return asdict(self)

    @classmethod
    def from_xcom(cls, value: dict) -> CampaignResources:
        sdks = {name: SdkResources(**sdk) for name, sdk in value["sdks"].items()}
        accounts = {name: JobEnvironment(**env) for name, env in value.get("accounts", {}).items()}
        return cls(**{**value, "sdks": sdks, "accounts": accounts})

    def campaign_environment(self, job_role_arn: str = "") -> JobEnvironment:
        return JobEnvironment(
            stack_name=self.stack_name,
            job_queue=self.job_queue,
            job_queue_arn=self.job_queue_arn,
            compute_environment_arn=self.compute_environment_arn,
            execution_role_arn=self.execution_role_arn,
            job_role_arn=job_role_arn,
            log_group=self.log_group,
            assign_public_ip=self.assign_public_ip,
        )

    def job_environment(self, sdk: str) -> JobEnvironment:
        """Where this SDK's jobs run: its own account's resources, else the campaign stack's."""
        if sdk in self.accounts:
            return self.accounts[sdk]
        return self.campaign_environment(self.sdks[sdk].job_role_arn)

    @classmethod
    def from_output(cls, stack_name: str, output: str) -> CampaignResources:
        value = json.loads(output)
        known = {f for f in cls.__dataclass_fields__ if f not in ("stack_name", "sdks", "accounts")}
        return cls.from_xcom(
            {
                **{k: v for k, v in value.items() if k in known},
                "stack_name": stack_name,
                "sdks": value.get("sdks", {}),
            }
        )


def stack_output(cloudformation, stack_name: str, output: str, fix: str) -> str:
    """One output of a deployed stack; MissingInfrastructure (with `fix`) when it is not deployed."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as err:
        if "does not exist" in str(err):
            raise MissingInfrastructure(
                f"the CloudFormation stack {stack_name!r} does not exist: {fix}"
            ) from None
        raise
    stack = stacks[0]
    if stack["StackStatus"] not in USABLE_STACK_STATES:
        raise MissingInfrastructure(
            f"the CloudFormation stack {stack_name!r} is {stack['StackStatus']}: {fix}"
        )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if output not in outputs:
        raise MissingInfrastructure(
            f"the CloudFormation stack {stack_name!r} has no {output} output (deployed by an older "
            f"sdk-campaigns?): {fix}"
        )
    return outputs[output]


def stack_resources(cloudformation, stack_name: str) -> CampaignResources:
    """The stack's resources from its outputs; MissingInfrastructure when it is not deployed."""
    return CampaignResources.from_output(
        stack_name, stack_output(cloudformation, stack_name, RESOURCES_OUTPUT, DEPLOY_FIX)
    )


def _exists(call, missing_codes: tuple[str, ...]) -> bool:
    try:
        call()
        return True
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in missing_codes:
            return False
        raise


def problems(clients, resources: CampaignResources, sdks: list[str]) -> list[str]:
    """Every resource the planned SDKs need that is missing or unusable, one line each.

    `clients(service)` returns a boto3 client; describe calls only."""
    found: list[str] = []
    unknown = [sdk for sdk in sdks if sdk not in resources.sdks]
    if unknown:
        found.append(
            f"SDK(s) {', '.join(unknown)} are configured but not in stack {resources.stack_name!r} "
            f"(added after the last deploy)"
        )
    planned = {sdk: resources.sdks[sdk] for sdk in sdks if sdk in resources.sdks}

    ecr = clients("ecr")
    for sdk, sdk_resources in planned.items():
        name = sdk_resources.repository_uri.split("/", 1)[1]
        if not _exists(
            lambda n=name: ecr.describe_repositories(repositoryNames=[n]), ("RepositoryNotFoundException",)
        ):
            found.append(f"ECR repository {name} ({sdk}) does not exist")

    s3 = clients("s3")
    if not _exists(lambda: s3.head_bucket(Bucket=resources.results_bucket), ("404", "NoSuchBucket", "403")):
        found.append(f"results bucket {resources.results_bucket} does not exist or is not readable")

    found += batch_problems(clients("batch"), resources.campaign_environment())
    roles = {"execution role": resources.execution_role_arn}
    # An SDK in its own account has its job role there (accounts.py checks it).
    roles.update({f"job role of {sdk}": r.job_role_arn for sdk, r in planned.items() if r.job_role_arn})
    return found + role_problems(clients("iam"), roles)


def batch_problems(batch, environment: JobEnvironment) -> list[str]:
    """The compute environment and job queue jobs run on, if missing or unusable."""
    found = []
    environments = batch.describe_compute_environments(
        computeEnvironments=[environment.compute_environment_arn]
    )
    described = (environments.get("computeEnvironments") or [None])[0]
    if described is None:
        found.append(f"Batch compute environment {environment.compute_environment_arn} does not exist")
    elif described.get("state") != "ENABLED" or described.get("status") not in ("VALID", "UPDATING"):
        name, reason = described["computeEnvironmentName"], described.get("statusReason", "no reason")
        found.append(
            f"Batch compute environment {name} is {described.get('state')}/{described.get('status')} "
            f"({reason})"
        )
    queues = batch.describe_job_queues(jobQueues=[environment.job_queue_arn]).get("jobQueues") or []
    if not queues:
        found.append(f"Batch job queue {environment.job_queue} does not exist")
    elif queues[0].get("state") != "ENABLED" or queues[0].get("status") not in ("VALID", "UPDATING"):
        found.append(
            f"Batch job queue {environment.job_queue} is {queues[0].get('state')}/{queues[0].get('status')}"
        )
    return found


def role_problems(iam, roles: dict[str, str]) -> list[str]:
    """The IAM roles (what -> ARN) that do not exist."""
    found = []
    for what, arn in roles.items():
        name = arn.rsplit("/", 1)[-1]
        if not _exists(lambda n=name: iam.get_role(RoleName=n), ("NoSuchEntity",)):
            found.append(f"IAM {what} {name} does not exist")
    return found


def check_environment(clients, stack_name: str, sdks: list[str]) -> CampaignResources:
    """The stack's resources, once every one the planned SDKs need is found usable."""
    resources = stack_resources(clients("cloudformation"), stack_name)
    found = problems(clients, resources, sdks)
    if found:
        raise MissingInfrastructure(
            f"the campaign's infrastructure (stack {stack_name!r}) is incomplete:\n  - "
            + "\n  - ".join(found)
            + f"\nFix: {DEPLOY_FIX}"
        )
    log.info("stack %s: every resource for %s is in place", stack_name, ", ".join(sdks))
    return resources
