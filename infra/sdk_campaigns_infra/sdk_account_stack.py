"""The SDK account stack: what an SDK's own AWS account needs to run its jobs (docs/accounts.md).

Deployed into each account that `sdks.<name>.role_arn` names, with that account's credentials
(`sdk-campaigns infra deploy --sdk-account ACCOUNT`). It makes the same Batch parts as the campaign's
stack, under the same names (a Fargate compute environment and queue in a small VPC of its own, the
execution role, one job role per SDK, the job log group) and the Airflow role of `role_arn`, which the
campaign's account may assume and which may do exactly the DAG's calls here. Images stay in the campaign's
ECR and results go to its bucket: the campaign stack's repository and bucket policies let this account's
execution and job roles in (stack.py, _grant_sdk_accounts).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from sdk_campaigns.campaign.accounts import ACCOUNT_RESOURCES_OUTPUT, account_stack_name
from sdk_campaigns.config import CampaignConfig
from sdk_campaigns_infra.layout import role_account
from sdk_campaigns_infra.stack import (
    CAMPAIGN_TAG,
    CampaignStack,
    InfraConfigError,
    batch_job_statements,
    log_group_arns,
    sdk_output_keys,
)


def account_sdks(config: CampaignConfig, account: str) -> tuple[list[str], str]:
    """The SDKs configured in `account`, and the one Airflow role they share."""
    sdks = [sdk for sdk, s in config.sdks.items() if s.role_arn and role_account(s.role_arn) == account]
    if not sdks:
        in_accounts = sorted({role_account(s.role_arn) for s in config.sdks.values() if s.role_arn})
        raise InfraConfigError(
            f"no SDK has a role_arn in account {account}; SDK accounts in the config: "
            f"{', '.join(in_accounts) or 'none'} (set sdks.<name>.role_arn: docs/accounts.md)"
        )
    roles = {config.sdks[sdk].role_arn for sdk in sdks}
    if len(roles) > 1:
        raise InfraConfigError(
            f"SDKs {', '.join(sdks)} are in account {account} with different role_arn values: its stack "
            f"makes one Airflow role, so give them the same one"
        )
    return sdks, roles.pop()


class SdkAccountStack(CampaignStack):
    """CampaignStack's Batch, network, log and role parts (the same methods), for an SDK account: the
    campaign's repositories and bucket are imported by ARN from its own account, never made here."""

    def __init__(self, scope: Construct, config: CampaignConfig, account: str, **kwargs) -> None:
        sdks, airflow_role_arn = account_sdks(config, account)
        campaign_account = config.infra.campaign_account_id
        cdk.Stack.__init__(
            self,
            scope,
            account_stack_name(config),
            stack_name=account_stack_name(config),
            description=f"sdk-campaigns: Fargate Batch, job roles and logs of {', '.join(sdks)} "
            f"for {config.campaign.dag_id} (campaign account {campaign_account})",
            **kwargs,
        )
        # batch.subnets and infra.vpc_id name the campaign account's network: this account gets its own VPC.
        self.config = config.model_copy(
            update={
                "batch": config.batch.model_copy(update={"subnets": (), "security_groups": ()}),
                "infra": config.infra.model_copy(update={"vpc_id": ""}),
            }
        )
        self.sdk_names = sdks
        self.campaign_account = campaign_account
        self.keys = sdk_output_keys(sdks)
        self.log_group = self._log_group()
        self.bucket = s3.Bucket.from_bucket_name(self, "ResultsBucket", config.campaign.results_bucket)
        self.repositories = {sdk: self._campaign_repository(sdk) for sdk in sdks}
        self.execution_role = self._execution_role()
        self.job_roles = {sdk: self._job_role(sdk) for sdk in sdks}
        self.service_role = self._service_role()
        subnets, security_groups = self._network()
        self.compute_environment = self._compute_environment(subnets, security_groups)
        self.job_queue = self._job_queue()
        self.airflow_role = self._airflow_role(airflow_role_arn)
        self._account_outputs(subnets, security_groups)
        cdk.Tags.of(self).add(CAMPAIGN_TAG, config.campaign.dag_id)
        for key, value in config.infra.tags.items():
            cdk.Tags.of(self).add(key, value)

    def _campaign_repository(self, sdk: str) -> ecr.IRepository:
        name = f"{self.config.campaign.ecr_repository_prefix}/{sdk}"
        arn = f"arn:{cdk.Aws.PARTITION}:ecr:{cdk.Aws.REGION}:{self.campaign_account}:repository/{name}"
        return ecr.Repository.from_repository_attributes(
            self, f"Repository{self.keys[sdk]}", repository_arn=arn, repository_name=name
        )

    def _airflow_role(self, role_arn: str) -> iam.Role:
        """The role the campaign's Airflow assumes here (sdks.<name>.role_arn): exactly the DAG's calls in
        this account. Trusted by the campaign's account, whose Airflow policy may assume this role only."""
        path_and_name = role_arn.split(":role", 1)[1]
        path, name = path_and_name.rsplit("/", 1)
        arn, region_account = f"arn:{cdk.Aws.PARTITION}", f"{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}"
        passed_roles = [self.execution_role.role_arn, *(r.role_arn for r in self.job_roles.values())]
        statements = [
            *batch_job_statements(self.config.batch.job_definition_prefix, self.job_queue.ref, passed_roles),
            iam.PolicyStatement(
                sid="JobLogs",
                actions=["logs:DescribeLogStreams", "logs:GetLogEvents"],
                resources=log_group_arns(self.log_group),
            ),
            iam.PolicyStatement(
                sid="CheckLogGroup",  # DescribeLogGroups is authorized on the account's groups, not one
                actions=["logs:DescribeLogGroups"],
                resources=[f"{arn}:logs:{region_account}:log-group:*"],
            ),
            iam.PolicyStatement(
                sid="StackOutputs",
                actions=["cloudformation:DescribeStacks"],
                resources=[f"{arn}:cloudformation:{region_account}:stack/{self.stack_name}/*"],
            ),
            iam.PolicyStatement(sid="WhoAmI", actions=["sts:GetCallerIdentity"], resources=["*"]),
        ]
        return iam.Role(
            self,
            "AirflowRole",
            role_name=name,
            path=f"{path}/" if path else None,
            description=f"The campaign's Airflow (account {self.campaign_account}): the DAG's calls here",
            assumed_by=iam.AccountPrincipal(self.campaign_account),
            max_session_duration=cdk.Duration.hours(1),
            inline_policies={"campaign-dag": iam.PolicyDocument(statements=statements)},
        )

    def _account_outputs(self, subnets: list[str], security_groups: list[str]) -> None:
        values = {
            "job_queue": self.config.batch.job_queue,
            "job_queue_arn": self.job_queue.ref,
            "compute_environment_arn": self.compute_environment.ref,
            "execution_role_arn": self.execution_role.role_arn,
            "log_group": self.log_group.ref,
            "assign_public_ip": "ENABLED",  # its own VPC: public subnets, no NAT
            "airflow_role_arn": self.airflow_role.role_arn,
            "subnets": subnets,
            "security_groups": security_groups,
            "sdks": {sdk: {"job_role_arn": self.job_roles[sdk].role_arn} for sdk in self.sdk_names},
        }
        cdk.CfnOutput(self, "AirflowRoleArn", value=self.airflow_role.role_arn)
        cdk.CfnOutput(
            self,
            ACCOUNT_RESOURCES_OUTPUT,
            value=self.to_json_string(values),
            description="JSON: where this account's SDKs run, read by the DAG through the SDK's connection",
        )
