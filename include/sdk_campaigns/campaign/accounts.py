"""Each SDK's AWS account (docs/accounts.md).

An SDK with `role_arn` in the campaign config runs in an account of its own: its job definition, jobs
and logs live there, reached through its connection (`aws_conn_id`, default the campaign's) acting as
that role. Its images stay in the campaign's ECR (a repository policy lets that account's execution
role pull them) and its results land in the campaign's bucket under its own prefix (a bucket policy
lets its job role write there and nowhere else). What it runs on in its account comes from the SDK
account stack (infra/, `sdk-campaigns infra deploy --sdk-account ACCOUNT`), whose output the
environment check reads through the SDK's connection, as it reads the campaign stack's.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from sdk_campaigns.campaign.aws import AwsContext
from sdk_campaigns.campaign.resources import (
    CampaignResources,
    JobEnvironment,
    MissingInfrastructure,
    batch_problems,
    role_problems,
    stack_output,
)
from sdk_campaigns.config import ROLE_ARN, CampaignConfig

log = logging.getLogger(__name__)

ACCOUNT_RESOURCES_OUTPUT = "SdkAccountResources"  # the SDK account stack's JSON output
ACCOUNT_STACK_SUFFIX = "-account"
DOCS = "docs/accounts.md"


@dataclass(frozen=True)
class SdkAccount:
    """Where one SDK's jobs run and the connection the DAG reaches them through."""

    sdk: str
    aws_conn_id: str
    role_arn: str = ""  # empty: the connection as it is (the campaign's account)

    @property
    def account_id(self) -> str:
        """The SDK's own account; "" when it runs in the campaign's."""
        match = re.fullmatch(ROLE_ARN, self.role_arn)
        return match.group(1) if match else ""

    @cached_property
    def _context(self) -> AwsContext:
        return AwsContext(self.aws_conn_id, self.role_arn)

    def context(self) -> AwsContext:
        """The account's AwsContext, kept: its clients share one session (one AssumeRole)."""
        return self._context

    def client(self, service: str):
        return self.context().client(service)

    def describe(self) -> str:
        if self.role_arn:
            return f"role {self.role_arn} (sdks.{self.sdk}.role_arn) through connection {self.aws_conn_id!r}"
        return f"connection {self.aws_conn_id!r} (sdks.{self.sdk}.aws_conn_id)"


def sdk_account(config: CampaignConfig, sdk: str, campaign_conn_id: str) -> SdkAccount:
    settings = config.sdks[sdk]
    return SdkAccount(sdk, settings.aws_conn_id or campaign_conn_id, settings.role_arn)


def distinct_accounts(config: CampaignConfig, sdks: list[str], campaign_conn_id: str) -> list[SdkAccount]:
    """One SdkAccount per connection and role the SDKs use (the campaign's first): for calls made once
    per account, such as cancelling a run's jobs."""
    seen: dict[tuple[str, str], SdkAccount] = {(campaign_conn_id, ""): SdkAccount("", campaign_conn_id)}
    for sdk in sdks:
        account = sdk_account(config, sdk, campaign_conn_id)
        seen.setdefault((account.aws_conn_id, account.role_arn), account)
    return list(seen.values())


def account_stack_name(config: CampaignConfig) -> str:
    """The SDK account stack's name, the same in every SDK account."""
    return f"{config.infra.stack_name}{ACCOUNT_STACK_SUFFIX}"


def deploy_fix(config: CampaignConfig, account: SdkAccount) -> str:
    return (
        f"deploy the SDK account's stack {account_stack_name(config)!r} into account {account.account_id} "
        f"(`sdk-campaigns infra deploy --sdk-account {account.account_id}` with that account's credentials; "
        f"it makes the role), then `sdk-campaigns infra deploy` so the campaign's Airflow policy may "
        f"assume it ({DOCS})"
    )


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _connection_missing(conn_id: str) -> bool:
    from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook

    try:
        BaseHook.get_connection(conn_id)
        return False
    except AirflowNotFoundException:
        return True


def _account_environments(
    config: CampaignConfig, account: SdkAccount, sdks: list[str]
) -> tuple[dict[str, JobEnvironment], list[str]]:
    """The SDK account stack's resources for these SDKs, read and checked through the account's role."""
    stack_name = account_stack_name(config)
    output = json.loads(
        stack_output(
            account.client("cloudformation"),
            stack_name,
            ACCOUNT_RESOURCES_OUTPUT,
            deploy_fix(config, account),
        )
    )
    environments, found = {}, []
    for sdk in sdks:
        if sdk not in output.get("sdks", {}):
            found.append(
                f"{sdk} is not in stack {stack_name!r} of account {account.account_id} (added after its last "
                f"deploy): {deploy_fix(config, account)}"
            )
            continue
        environments[sdk] = JobEnvironment(
            stack_name=stack_name,
            job_queue=output["job_queue"],
            job_queue_arn=output["job_queue_arn"],
            compute_environment_arn=output["compute_environment_arn"],
            execution_role_arn=output["execution_role_arn"],
            job_role_arn=output["sdks"][sdk]["job_role_arn"],
            log_group=output["log_group"],
            assign_public_ip=output["assign_public_ip"],
        )
    if environments:
        first = next(iter(environments.values()))
        found += batch_problems(account.client("batch"), first)
        roles = {"execution role": first.execution_role_arn}
        roles.update({f"job role of {sdk}": env.job_role_arn for sdk, env in environments.items()})
        found += role_problems(account.client("iam"), roles)
        groups = account.client("logs").describe_log_groups(logGroupNamePrefix=first.log_group)["logGroups"]
        if not any(g["logGroupName"] == first.log_group for g in groups):
            found.append(f"log group {first.log_group} does not exist")
    return environments, [f"in account {account.account_id}: {line}" for line in found]


def check_sdk_accounts(
    config: CampaignConfig, sdks: list[str], campaign_conn_id: str, campaign: CampaignResources
) -> CampaignResources:
    """The campaign's resources plus, for each planned SDK in its own account, where its jobs run there.

    Each SDK with its own connection or role is reached through it: a connection that does not exist, a
    role that cannot be assumed or acts in another account, or a missing SDK account stack fails here,
    naming the SDK, the role or connection, and the fix."""
    campaign_account = _account_of(campaign.execution_role_arn)
    groups: dict[SdkAccount, list[str]] = defaultdict(list)
    for sdk in sdks:
        account = sdk_account(config, sdk, campaign_conn_id)
        if account.aws_conn_id != campaign_conn_id or account.role_arn:
            groups[SdkAccount("", account.aws_conn_id, account.role_arn)].append(sdk)
    environments: dict[str, JobEnvironment] = {}
    problems: list[str] = []
    for sdk in sdks:  # the campaign's stack grants what the config says, or its pulls and writes fail
        wanted = sdk_account(config, sdk, campaign_conn_id).account_id
        granted = campaign.sdk_accounts.get(sdk, "")
        if wanted != granted:
            where = f"account {wanted}" if wanted else "the campaign account"
            grantee = f"account {granted}" if granted else "no other account"
            problems.append(
                f"SDK {sdk}: sdks.{sdk}.role_arn puts it in {where}, but stack {campaign.stack_name!r} lets "
                f"{grantee} pull its image and write its results: run `sdk-campaigns infra deploy` ({DOCS})"
            )
    for account, members in groups.items():
        named = [SdkAccount(sdk, account.aws_conn_id, account.role_arn) for sdk in members]
        who = "SDK(s) " + ", ".join(members)
        how = named[0].describe()
        if account.aws_conn_id != campaign_conn_id and _connection_missing(account.aws_conn_id):
            problems.append(
                f"{who}: the Airflow connection {account.aws_conn_id!r} (sdks.{members[0]}.aws_conn_id) "
                f"does not exist: add it (an AWS connection whose credentials may assume the SDK's role), "
                f"or remove aws_conn_id to use the campaign's connection ({DOCS})"
            )
            continue
        expected = account.account_id or campaign_account
        try:
            identity = account.client("sts").get_caller_identity()
            if identity["Account"] != expected:
                where = f"account {expected} ({'its role_arn' if account.role_arn else 'the campaign'})"
                problems.append(
                    f"{who}: {how} acts as {identity['Arn']} in account {identity['Account']}, "
                    f"not in {where}: set sdks.{members[0]}.role_arn to the role of the SDK's account, "
                    f"or fix the connection ({DOCS})"
                )
                continue
            if account.role_arn:
                found, lines = _account_environments(config, named[0], members)
                environments.update(found)
                problems += [f"{who} ({how}): {line}" for line in lines]
        except MissingInfrastructure as err:
            problems.append(f"{who} ({how}): {err}")
        # ResponseParserError: an answer that is no AWS answer (moto answers a role that does not exist with
        # HTTP 500; AWS refuses its AssumeRole): the role cannot be used either way.
        except (ClientError, BotoCoreError, ResponseParserError) as err:
            reason = str(err).splitlines()[0]
            fix = deploy_fix(config, account) if account.role_arn else f"fix the connection ({DOCS})"
            problems.append(f"{who}: {how} cannot be used: {reason}. Fix: {fix}")
    if problems:
        raise MissingInfrastructure("the SDKs' own accounts are not ready:\n  - " + "\n  - ".join(problems))
    if environments:
        log.info(
            "SDK accounts: %s",
            ", ".join(f"{sdk} in {env.job_queue_arn}" for sdk, env in environments.items()),
        )
    return dataclasses.replace(campaign, accounts=environments)
