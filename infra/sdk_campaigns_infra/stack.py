"""The CloudFormation stack: everything a campaign needs, made once, from the campaign config.

The DAG only describes these resources and registers job definitions; it never creates roles,
buckets, queues or compute environments. The Airflow role gets `AirflowPolicy` and nothing more.
"""

from __future__ import annotations

import re

import aws_cdk as cdk
from aws_cdk import aws_batch as batch
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from sdk_campaigns.campaign.images import IMAGE_BUILDSPEC
from sdk_campaigns.config import CampaignConfig
from sdk_campaigns_infra.layout import (
    job_results_pattern,
    nested_results_pattern,
    raw_results_prefix,
    role_account,
)

CAMPAIGN_TAG = "sdk-campaigns:campaign"
RESOURCES_OUTPUT = "CampaignResources"  # one JSON output: the whole map the DAG reads
ECS_TASKS = "ecs-tasks.amazonaws.com"
BATCH_SERVICE_POLICY = "service-role/AWSBatchServiceRole"
CODEBUILD_IMAGE = "aws/codebuild/standard:7.0"
# The events that start a campaign (docs/events.md): GitHub releases published and pushes to a branch,
# as EventBridge's GitHub inbound webhook sends them (source github.com, detail-type the X-GitHub-Event
# header), and plain requests. Whether a push is to the default branch only the payload says: the
# dispatcher checks it (a pattern cannot compare two fields).
CAMPAIGN_EVENTS_PATTERN = {
    "$or": [
        {"source": ["github.com"], "detail-type": ["release"], "detail": {"action": ["published"]}},
        {
            "source": ["github.com"],
            "detail-type": ["push"],
            "detail": {"ref": [{"prefix": "refs/heads/"}], "deleted": [False]},
        },
        {"source": ["sdk-campaigns"]},
    ]
}
EVENTS_MAX_RECEIVES = 5  # then SQS moves a message the dispatcher keeps failing on to the dead-letter queue
# Jobs reach AWS APIs, registries and source hosts over HTTPS; plain HTTP for Debian mirrors.
JOB_EGRESS_PORTS = (443, 80)
# What Fargate's execution role does with an image: the repository policy of an SDK in its own account.
ECR_PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


class InfraConfigError(ValueError):
    """The campaign config cannot be turned into a stack; the message names the keys to change."""


def output_key(sdk: str) -> str:
    """The alphanumeric part of an SDK's output keys: `python` -> `Python`, `node-js` -> `NodeJs`."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", sdk) if part)


def sdk_output_keys(sdks: list[str]) -> dict[str, str]:
    keys = {sdk: output_key(sdk) for sdk in sdks}
    seen: dict[str, str] = {}
    for sdk, key in keys.items():
        if key in seen:
            raise InfraConfigError(
                f"SDKs {seen[key]!r} and {sdk!r} both make the output key {key!r}: rename one of them"
            )
        seen[key] = sdk
    return keys


def skip_checks(resource: cdk.CfnResource, reasons: dict[str, str]) -> None:
    """Checkov's in-template skips: every skipped check carries its reason."""
    existing = resource.get_metadata("checkov") or {"skip": []}
    existing["skip"].extend({"id": check, "comment": reason} for check, reason in reasons.items())
    resource.add_metadata("checkov", existing)


def log_group_arns(group: logs.CfnLogGroup) -> list[str]:
    """A log group's ARN with and without ':*': streams lie below the first, some calls name the second.

    Written out from the name: GetAtt Arn is the ':*' form on AWS but the bare one on moto.
    """
    bare = f"arn:{cdk.Aws.PARTITION}:logs:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:log-group:{group.ref}"
    return [bare, f"{bare}:*"]


def batch_job_statements(job_definition_prefix: str, job_queue: str, passed_roles: list[str]) -> list:
    """The Airflow role's Batch calls, as the campaign stack and an SDK account's stack grant them: describe,
    register and submit its job definitions on its queue, tag and terminate its jobs, pass (to ECS tasks
    only) and check the jobs' roles."""
    arn, region_account = f"arn:{cdk.Aws.PARTITION}", f"{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}"
    job_definitions = f"{arn}:batch:{region_account}:job-definition/{job_definition_prefix}-*"
    jobs = f"{arn}:batch:{region_account}:job/*"
    return [
        iam.PolicyStatement(
            sid="BatchDescribe",  # the Describe*/List* calls have no resource-level permissions
            actions=[
                "batch:DescribeComputeEnvironments",
                "batch:DescribeJobDefinitions",
                "batch:DescribeJobQueues",
                "batch:DescribeJobs",
                "batch:ListJobs",
            ],
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="BatchJobDefinitions",
            actions=["batch:DeregisterJobDefinition", "batch:RegisterJobDefinition"],
            resources=[job_definitions],
        ),
        iam.PolicyStatement(
            sid="BatchSubmit", actions=["batch:SubmitJob"], resources=[job_definitions, job_queue]
        ),
        iam.PolicyStatement(
            sid="BatchJobs",
            actions=["batch:TagResource", "batch:TerminateJob"],
            resources=[jobs, job_definitions],
        ),
        iam.PolicyStatement(
            sid="PassJobRoles",
            actions=["iam:PassRole"],
            resources=passed_roles,
            conditions={"StringEquals": {"iam:PassedToService": ECS_TASKS}},
        ),
        iam.PolicyStatement(
            sid="CheckJobRoles",  # the DAG's environment check: the roles it passes exist
            actions=["iam:GetRole"],
            resources=passed_roles,
        ),
    ]


def _check_prefixes(config: CampaignConfig) -> None:
    """The lifecycle expires whole prefixes: the ones it keeps must not lie under them."""
    expired = {
        "raw results": raw_results_prefix(config.campaign.dag_id),
        "build contexts": config.infra.build_context_prefix,
    }
    kept = {"infra.history_prefix": config.infra.history_prefix}
    for kept_key, kept_prefix in kept.items():
        for what, prefix in expired.items():
            if kept_prefix.startswith(prefix) or prefix.startswith(kept_prefix):
                raise InfraConfigError(
                    f"{kept_key} {kept_prefix!r} overlaps the {what} prefix {prefix!r}, which expires: "
                    f"choose a prefix outside it"
                )


class CampaignStack(cdk.Stack):
    def __init__(self, scope: Construct, config: CampaignConfig, **kwargs) -> None:
        super().__init__(
            scope,
            config.infra.stack_name,
            stack_name=config.infra.stack_name,
            description=f"sdk-campaigns: ECR, Fargate Batch, results and roles for {config.campaign.dag_id}",
            **kwargs,
        )
        _check_prefixes(config)
        self.config = config
        self.keys = sdk_output_keys(config.sdk_names)
        self.log_group = self._log_group()
        self.bucket = self._results_bucket()
        self.repositories = {sdk: self._repository(sdk) for sdk in config.sdk_names}
        self.execution_role = self._execution_role()
        # An SDK with its own account (docs/accounts.md) gets its job role from that account's stack.
        self.sdk_accounts = {sdk: role_account(s.role_arn) for sdk, s in config.sdks.items() if s.role_arn}
        self.job_roles = {
            sdk: self._job_role(sdk) for sdk in config.sdk_names if sdk not in self.sdk_accounts
        }
        self._grant_sdk_accounts()
        self.service_role = self._service_role()
        subnets, security_groups = self._network()
        self.compute_environment = self._compute_environment(subnets, security_groups)
        self.job_queue = self._job_queue()
        self.topic = self._alerts_topic()
        self.build_project = self._image_build_project()
        self.events_queue, self.events_dead_letters = self._events_queues()
        self.airflow_policy = self._airflow_policy()
        self._outputs(subnets, security_groups)
        cdk.Tags.of(self).add(CAMPAIGN_TAG, config.campaign.dag_id)
        for key, value in config.infra.tags.items():
            cdk.Tags.of(self).add(key, value)

    # --- storage and logs ------------------------------------------------------------------------

    def _log_group(self) -> logs.CfnLogGroup:
        group = self._retained_log_group("JobLogGroup", self.config.infra.log_group)
        skip_checks(
            group,
            {
                "CKV_AWS_158": "test logs, not secrets: CloudWatch's default encryption; a CMK needs key "
                "grants for Batch and the readers",
            },
        )
        return group

    def _retained_log_group(self, construct_id: str, name: str) -> logs.CfnLogGroup:
        group = logs.CfnLogGroup(
            self, construct_id, log_group_name=name, retention_in_days=self.config.infra.log_retention_days
        )
        group.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        return group

    def _results_bucket(self) -> s3.Bucket:
        infra = self.config.infra
        bucket = s3.Bucket(
            self,
            "ResultsBucket",
            bucket_name=self.config.campaign.results_bucket,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=infra.versioned_bucket,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                # Raw results expire; the history prefix lies outside this one (checked above).
                s3.LifecycleRule(
                    id="expire-raw-results",
                    prefix=raw_results_prefix(self.config.campaign.dag_id),
                    expiration=cdk.Duration.days(infra.results_retention_days),
                    noncurrent_version_expiration=cdk.Duration.days(1) if infra.versioned_bucket else None,
                ),
                s3.LifecycleRule(
                    id="expire-build-contexts",
                    prefix=infra.build_context_prefix,
                    expiration=cdk.Duration.days(infra.build_context_retention_days),
                    noncurrent_version_expiration=cdk.Duration.days(1) if infra.versioned_bucket else None,
                ),
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                ),
            ],
        )
        reasons = {
            "CKV_AWS_18": "written only by this stack's roles; CloudTrail data events audit it where "
            "required, a log bucket per campaign is cost without a reader",
        }
        if not infra.versioned_bucket:
            reasons["CKV_AWS_21"] = (
                "infra.versioned_bucket is off: history writes are atomic and results re-creatable"
            )
        skip_checks(bucket.node.default_child, reasons)
        return bucket

    def _repository(self, sdk: str) -> ecr.Repository:
        campaign = self.config.campaign
        repository = ecr.Repository(
            self,
            f"Repository{self.keys[sdk]}",
            repository_name=f"{campaign.ecr_repository_prefix}/{sdk}",
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            lifecycle_rules=[
                ecr.LifecycleRule(
                    description=f"keep the newest {campaign.ecr_keep_images} images",
                    max_image_count=campaign.ecr_keep_images,
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        skip_checks(
            repository.node.default_child,
            {"CKV_AWS_136": "AES-256 (the ECR default) by design: a CMK needs grants for Batch and builds"},
        )
        return repository

    # --- roles -----------------------------------------------------------------------------------

    def _execution_role(self) -> iam.Role:
        """ECS task execution for every job: pull this stack's images, write the job log group."""
        repositories = [r.repository_arn for r in self.repositories.values()]
        return iam.Role(
            self,
            "ExecutionRole",
            role_name=self.config.batch.execution_role_name,
            description="Batch on Fargate: pull the campaign's images and write job logs",
            assumed_by=iam.ServicePrincipal(ECS_TASKS),
            inline_policies={
                "pull-images-write-logs": iam.PolicyDocument(
                    statements=[
                        # GetAuthorizationToken has no resource-level permissions.
                        iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
                        iam.PolicyStatement(
                            actions=[
                                "ecr:BatchCheckLayerAvailability",
                                "ecr:BatchGetImage",
                                "ecr:GetDownloadUrlForLayer",
                            ],
                            resources=repositories,
                        ),
                        iam.PolicyStatement(
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=log_group_arns(self.log_group),
                        ),
                    ]
                )
            },
        )

    def _job_role(self, sdk: str) -> iam.Role:
        """What one SDK's test job may do: write its own results folder, and nothing else.

        Results keys are <dag_id>/<run_id>/<sdk>/results/... (layout.py); outcome.json and job.log
        lie beside results/, written by the DAG, so a job can forge neither, nor another SDK's files.
        """
        bucket = self.config.campaign.results_bucket
        dag_id = self.config.campaign.dag_id
        return iam.Role(
            self,
            f"JobRole{self.keys[sdk]}",
            role_name=f"{self.config.batch.job_role_name}-{sdk}",
            description=f"Batch job of {sdk}: writes s3://{bucket}/{job_results_pattern(dag_id, sdk)} only",
            assumed_by=iam.ServicePrincipal(ECS_TASKS),
            inline_policies={
                "write-own-results": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="WriteOwnResults",
                            actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                            resources=[self.bucket.arn_for_objects(job_results_pattern(dag_id, sdk))],
                        ),
                        iam.PolicyStatement(
                            sid="DenyResultsInsideResults",
                            effect=iam.Effect.DENY,
                            actions=["s3:PutObject"],
                            resources=[self.bucket.arn_for_objects(nested_results_pattern(dag_id))],
                        ),
                    ]
                )
            },
        )

    def _grant_sdk_accounts(self) -> None:
        """An SDK in its own account: that account's execution role may pull the SDK's images, and its
        job role may write the SDK's results prefix of the bucket and nothing else (the SDK account's
        own policies say the same, but the campaign's account does not rely on another's).

        Principals are the account with aws:PrincipalArn naming the role: a policy naming a role that
        does not exist yet is refused, and this way either stack can be deployed first."""
        dag_id, batch_settings = self.config.campaign.dag_id, self.config.batch
        for sdk, account in self.sdk_accounts.items():
            role_arn = f"arn:{cdk.Aws.PARTITION}:iam::{account}:role"
            self.repositories[sdk].add_to_resource_policy(
                iam.PolicyStatement(
                    sid="PullFromSdkAccount",
                    principals=[iam.AccountPrincipal(account)],
                    actions=ECR_PULL_ACTIONS,
                    conditions={
                        "ArnEquals": {"aws:PrincipalArn": f"{role_arn}/{batch_settings.execution_role_name}"}
                    },
                )
            )
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"{self.keys[sdk]}WritesOwnResults",
                    principals=[iam.AccountPrincipal(account)],
                    actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                    resources=[self.bucket.arn_for_objects(job_results_pattern(dag_id, sdk))],
                    conditions={
                        "ArnEquals": {"aws:PrincipalArn": f"{role_arn}/{batch_settings.job_role_name}-{sdk}"}
                    },
                )
            )
        for account in sorted(set(self.sdk_accounts.values())):
            # IAM's * matches "/": <dag>/<run>/python/results/go/results/... lies under go's pattern too.
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Account{account}NoResultsInsideResults",
                    effect=iam.Effect.DENY,
                    principals=[iam.AccountPrincipal(account)],
                    actions=["s3:PutObject"],
                    resources=[self.bucket.arn_for_objects(nested_results_pattern(dag_id))],
                )
            )

    def _service_role(self) -> iam.Role:
        # Set explicitly (not the service-linked role): CloudFormation on moto requires it, and AWS
        # accepts it for Fargate compute environments just the same.
        return iam.Role(
            self,
            "BatchServiceRole",
            role_name=self.config.batch.service_role_name,
            description="AWS Batch service role of the campaign's compute environment",
            assumed_by=iam.ServicePrincipal("batch.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(BATCH_SERVICE_POLICY)],
        )

    # --- network and Batch -----------------------------------------------------------------------

    def _network(self) -> tuple[list[str], list[str]]:
        """Subnets and security groups for the jobs.

        - batch.subnets set: used as they are; with batch.security_groups empty the stack makes an
          egress-only group in infra.vpc_id.
        - batch.subnets empty: the stack makes a small VPC (two public subnets, internet gateway, no
          NAT gateway to pay for); jobs then need assignPublicIp ENABLED, which the outputs say.
        No VPC lookups: the template synthesizes with no AWS account.
        """
        settings, infra = self.config.batch, self.config.infra
        if settings.subnets:
            subnets = list(settings.subnets)
            if settings.security_groups:
                return subnets, list(settings.security_groups)
            if not infra.vpc_id:
                raise InfraConfigError(
                    "batch.subnets is set but batch.security_groups is empty: list the security groups, "
                    "or set infra.vpc_id (the subnets' VPC) so the stack makes one"
                )
            return subnets, [self._job_security_group(infra.vpc_id).attr_group_id]
        if infra.vpc_id:
            raise InfraConfigError(
                "infra.vpc_id is set but batch.subnets is empty: list the VPC's subnets in batch.subnets "
                "(the stack does no VPC lookups, so it synthesizes without an AWS account)"
            )
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(infra.vpc_cidr),
            max_azs=2,
            nat_gateways=0,
            # True would add a Lambda-backed custom resource (moto cannot run it); nothing uses that group.
            restrict_default_security_group=False,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="jobs",
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=20,
                    map_public_ip_on_launch=False,
                )
            ],
        )
        subnets = [subnet.subnet_id for subnet in vpc.public_subnets]
        return subnets, [self._job_security_group(vpc.vpc_id).attr_group_id]

    def _job_security_group(self, vpc_id: str) -> ec2.CfnSecurityGroup:
        return ec2.CfnSecurityGroup(
            self,
            "JobSecurityGroup",
            vpc_id=vpc_id,
            group_description="sdk-campaigns Batch jobs: no inbound, HTTPS and HTTP out",
            security_group_egress=[
                ec2.CfnSecurityGroup.EgressProperty(
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_ip="0.0.0.0/0",
                    description=f"jobs fetch sources, packages and AWS APIs (tcp/{port})",
                )
                for port in JOB_EGRESS_PORTS
            ],
        )

    def _compute_environment(self, subnets: list[str], security_groups: list[str]):
        settings = self.config.batch
        return batch.CfnComputeEnvironment(
            self,
            "ComputeEnvironment",
            compute_environment_name=settings.compute_environment,
            type="MANAGED",
            state="ENABLED",
            service_role=self.service_role.role_arn,
            compute_resources=batch.CfnComputeEnvironment.ComputeResourcesProperty(
                type="FARGATE",
                maxv_cpus=settings.max_vcpus,
                subnets=subnets,
                security_group_ids=security_groups,
            ),
        )

    def _job_queue(self) -> batch.CfnJobQueue:
        # Ref of a queue or compute environment is its ARN (moto has no GetAtt for them, Ref works).
        return batch.CfnJobQueue(
            self,
            "JobQueue",
            job_queue_name=self.config.batch.job_queue,
            priority=1,
            state="ENABLED",
            compute_environment_order=[
                batch.CfnJobQueue.ComputeEnvironmentOrderProperty(
                    compute_environment=self.compute_environment.ref, order=1
                )
            ],
        )

    # --- alerts and image builds -----------------------------------------------------------------

    def _alerts_topic(self) -> sns.Topic:
        return sns.Topic(
            self,
            "AlertsTopic",
            topic_name=f"{self.config.infra.stack_name}-alerts",
            display_name="SDK campaign alerts",
            enforce_ssl=True,
            # AWS-managed key: same-account publishers (the Airflow role) need no key grants. AWS services
            # (alarms, EventBridge) cannot publish to it: give the topic a CMK before adding such.
            master_key=kms.Alias.from_alias_name(self, "SnsManagedKey", "alias/aws/sns"),
        )

    def _image_build_project(self) -> codebuild.CfnProject:
        """Builds an SDK's image and pushes it. Each build's source is the folder the DAG uploads its build
        context to (s3://<bucket>/<infra.build_context_prefix><sdk>/<tag>/context.tar); the buildspec is
        the DAG's own (campaign/images.py), which it also sends with each build."""
        infra = self.config.infra
        name = f"{infra.stack_name}-image-build"
        log_group = self._retained_log_group("ImageBuildLogGroup", f"/aws/codebuild/{name}")
        skip_checks(
            log_group,
            {
                "CKV_AWS_158": "build logs, not secrets: CloudWatch's default encryption",
            },
        )
        role = iam.Role(
            self,
            "ImageBuildRole",
            role_name=name,
            description="CodeBuild image builds: read build contexts, push to the campaign's repositories",
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            inline_policies={
                "build-and-push": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
                        iam.PolicyStatement(
                            actions=[
                                "ecr:BatchCheckLayerAvailability",
                                "ecr:BatchGetImage",
                                "ecr:CompleteLayerUpload",
                                "ecr:GetDownloadUrlForLayer",
                                "ecr:InitiateLayerUpload",
                                "ecr:PutImage",
                                "ecr:UploadLayerPart",
                            ],
                            resources=[r.repository_arn for r in self.repositories.values()],
                        ),
                        iam.PolicyStatement(
                            actions=["s3:GetObject", "s3:GetObjectVersion"],
                            resources=[self.bucket.arn_for_objects(f"{infra.build_context_prefix}*")],
                        ),
                        # A folder source is listed before it is downloaded: only under the prefix.
                        iam.PolicyStatement(
                            actions=["s3:ListBucket"],
                            resources=[self.bucket.bucket_arn],
                            conditions={"StringLike": {"s3:prefix": [f"{infra.build_context_prefix}*"]}},
                        ),
                        iam.PolicyStatement(
                            actions=["s3:GetBucketLocation"], resources=[self.bucket.bucket_arn]
                        ),
                        iam.PolicyStatement(
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=log_group_arns(log_group),
                        ),
                    ]
                )
            },
        )
        project = codebuild.CfnProject(
            self,
            "ImageBuildProject",
            name=name,
            description="Builds one SDK's test image and pushes it to its ECR repository",
            service_role=role.role_arn,
            source=codebuild.CfnProject.SourceProperty(
                type="S3",
                location=f"{self.bucket.bucket_name}/{infra.build_context_prefix}",
                build_spec=IMAGE_BUILDSPEC,
            ),
            artifacts=codebuild.CfnProject.ArtifactsProperty(type="NO_ARTIFACTS"),
            environment=codebuild.CfnProject.EnvironmentProperty(
                type="LINUX_CONTAINER",
                compute_type="BUILD_GENERAL1_SMALL",
                image=CODEBUILD_IMAGE,
                privileged_mode=True,
                environment_variables=[
                    codebuild.CfnProject.EnvironmentVariableProperty(name="IMAGE_URI", value="set-per-build")
                ],
            ),
            logs_config=codebuild.CfnProject.LogsConfigProperty(
                cloud_watch_logs=codebuild.CfnProject.CloudWatchLogsConfigProperty(
                    status="ENABLED", group_name=log_group.ref
                )
            ),
            timeout_in_minutes=60,
        )
        return project

    # --- campaigns started by events -------------------------------------------------------------

    def _queue_arn(self, name: str) -> str:
        # Written out from the name (a template the docs and tests can render); GetAtt gives the same.
        return f"arn:{cdk.Aws.PARTITION}:sqs:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:{name}"

    def _events_queues(self) -> tuple[sqs.Queue, sqs.Queue]:
        """An EventBridge rule puts campaign requests on the events queue, which the dispatcher DAG's
        watcher polls; what cannot be delivered, handled or read goes to the dead-letter queue."""
        settings = self.config.events
        dead_letters = sqs.Queue(
            self,
            "EventsDeadLetterQueue",
            queue_name=settings.dead_letter_queue_name,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),  # SQS's longest: time to read, fix and redrive
        )
        queue = sqs.Queue(
            self,
            "EventsQueue",
            queue_name=settings.queue_name,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # While the dispatcher starts a message's campaign and deletes it; then it comes back.
            visibility_timeout=cdk.Duration.minutes(15),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=EVENTS_MAX_RECEIVES),
        )
        rule = events.CfnRule(
            self,
            "CampaignEventsRule",
            name=f"{self.config.infra.stack_name}-campaign-events",
            description="Campaign requests: GitHub releases published, branch pushes, plain sdk-campaigns",
            event_bus_name=settings.event_bus,
            event_pattern=CAMPAIGN_EVENTS_PATTERN,
            state="ENABLED",
            targets=[
                events.CfnRule.TargetProperty(
                    id="events-queue",
                    arn=queue.queue_arn,
                    # Events EventBridge cannot deliver (a queue policy gone wrong) are kept, not dropped.
                    dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=dead_letters.queue_arn),
                )
            ],
        )
        for target in (queue, dead_letters):
            skip_checks(
                target.node.default_child,
                {
                    "CKV_AWS_27": "encrypted by SQS (SqsManagedSseEnabled); EventBridge cannot send under "
                    "alias/aws/sqs, and a CMK needs key grants for EventBridge and Airflow",
                },
            )
            target.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="EventBridgeSends",
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["sqs:SendMessage"],
                    resources=[target.queue_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": rule.attr_arn}},
                )
            )
        return queue, dead_letters

    # --- the Airflow role's policy ---------------------------------------------------------------

    def _build_project_arn(self) -> str:
        # Written out from the name rather than GetAtt: the same ARN, and a template that moto's
        # CloudFormation (which has no CodeBuild projects) can still resolve.
        project = self.build_project.name
        return f"arn:{cdk.Aws.PARTITION}:codebuild:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:project/{project}"

    def _airflow_policy(self) -> iam.ManagedPolicy:
        """Exactly the calls the DAGs make. No iam:Create*/Put*; PassRole only on the jobs' roles."""
        arn, region_account = f"arn:{cdk.Aws.PARTITION}", f"{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}"
        passed_roles = [self.execution_role.role_arn, *(r.role_arn for r in self.job_roles.values())]
        statements = [
            *batch_job_statements(self.config.batch.job_definition_prefix, self.job_queue.ref, passed_roles),
            iam.PolicyStatement(
                sid="EcrLogin",  # no resource-level permissions
                actions=["ecr:GetAuthorizationToken"],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="EcrImages",
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:CompleteLayerUpload",
                    "ecr:DescribeImages",
                    "ecr:DescribeRepositories",
                    "ecr:InitiateLayerUpload",
                    "ecr:PutImage",
                    "ecr:UploadLayerPart",
                ],
                resources=[r.repository_arn for r in self.repositories.values()],
            ),
            iam.PolicyStatement(
                sid="ResultsBucket",  # GetBucketLocation: pyarrow resolves the bucket's region with it
                actions=["s3:GetBucketLocation", "s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="ResultsObjects",
                actions=["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                resources=[self.bucket.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                sid="Metrics",  # no resource-level permissions
                actions=["cloudwatch:GetMetricData", "cloudwatch:PutMetricData"],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="JobLogs",
                actions=["logs:DescribeLogStreams", "logs:GetLogEvents"],
                resources=log_group_arns(self.log_group),
            ),
            iam.PolicyStatement(sid="Alerts", actions=["sns:Publish"], resources=[self.topic.topic_arn]),
            iam.PolicyStatement(
                sid="ImageBuilds",
                actions=["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
                resources=[self._build_project_arn()],
            ),
            iam.PolicyStatement(
                sid="StackOutputs",
                actions=["cloudformation:DescribeStacks"],
                resources=[f"{arn}:cloudformation:{region_account}:stack/{self.stack_name}/*"],
            ),
            iam.PolicyStatement(sid="WhoAmI", actions=["sts:GetCallerIdentity"], resources=["*"]),
            iam.PolicyStatement(
                sid="EventsQueue",  # the dispatcher's watcher receives; the dispatcher deletes what it read
                actions=["sqs:DeleteMessage", "sqs:ReceiveMessage"],
                resources=[self._queue_arn(self.config.events.queue_name)],
            ),
            iam.PolicyStatement(
                sid="EventsDeadLetters",  # rejected messages, with the reason
                actions=["sqs:SendMessage"],
                resources=[self._queue_arn(self.config.events.dead_letter_queue_name)],
            ),
        ]
        sdk_roles = sorted({self.config.sdks[sdk].role_arn for sdk in self.sdk_accounts})
        if sdk_roles:  # the SDK accounts' Airflow roles (docs/accounts.md)
            statements.append(
                iam.PolicyStatement(sid="SdkAccounts", actions=["sts:AssumeRole"], resources=sdk_roles)
            )
        return iam.ManagedPolicy(
            self,
            "AirflowPolicy",
            managed_policy_name=f"{self.config.infra.stack_name}-airflow",
            description="Attach to the Airflow execution role: the calls the sdk-campaigns DAGs make",
            statements=statements,
        )

    # --- outputs ---------------------------------------------------------------------------------

    def _repository_uri(self, sdk: str) -> str:
        # Pseudo parameters, not the L2's split of the repository ARN: a shorter template, same URI.
        name = f"{self.config.campaign.ecr_repository_prefix}/{sdk}"
        return f"{cdk.Aws.ACCOUNT_ID}.dkr.ecr.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}/{name}"

    def _outputs(self, subnets: list[str], security_groups: list[str]) -> None:
        """Stable output keys; `CampaignResources` holds the whole map (SDKs by their config name)."""
        assign_public_ip = "DISABLED" if self.config.batch.subnets else "ENABLED"
        values = {
            "ResultsBucketName": self.bucket.bucket_name,
            "JobQueueArn": self.job_queue.ref,
            "JobQueueName": self.config.batch.job_queue,
            "ComputeEnvironmentArn": self.compute_environment.ref,
            "ComputeEnvironmentName": self.config.batch.compute_environment,
            "ExecutionRoleArn": self.execution_role.role_arn,
            "LogGroupName": self.log_group.ref,
            "AlertsTopicArn": self.topic.topic_arn,
            "ImageBuildProjectName": self.build_project.name,
            "AirflowPolicyArn": self.airflow_policy.managed_policy_arn,
            "AssignPublicIp": assign_public_ip,
            "EventsQueueUrl": self.events_queue.queue_url,
            "EventsDeadLetterQueueUrl": self.events_dead_letters.queue_url,
        }
        for key, value in values.items():
            cdk.CfnOutput(self, key, value=value)
        for sdk, key in self.keys.items():
            cdk.CfnOutput(self, f"RepositoryUri{key}", value=self._repository_uri(sdk))
            if sdk in self.job_roles:
                cdk.CfnOutput(self, f"JobRoleArn{key}", value=self.job_roles[sdk].role_arn)
        resources = {
            "results_bucket": self.bucket.bucket_name,
            "job_queue_arn": self.job_queue.ref,
            "job_queue": self.config.batch.job_queue,
            "compute_environment_arn": self.compute_environment.ref,
            "execution_role_arn": self.execution_role.role_arn,
            "log_group": self.log_group.ref,
            "alerts_topic_arn": self.topic.topic_arn,
            "image_build_project": self.build_project.name,
            "airflow_policy_arn": self.airflow_policy.managed_policy_arn,
            "subnets": subnets,
            "security_groups": security_groups,
            "assign_public_ip": assign_public_ip,
            "events_queue_url": self.events_queue.queue_url,
            "events_queue_arn": self.events_queue.queue_arn,
            "events_dead_letter_queue_url": self.events_dead_letters.queue_url,
            "events_dead_letter_queue_arn": self.events_dead_letters.queue_arn,
            "sdks": {
                sdk: {
                    "repository_uri": self._repository_uri(sdk),
                    "job_role_arn": self.job_roles[sdk].role_arn if sdk in self.job_roles else "",
                }
                for sdk in self.keys
            },
        }
        if (
            self.sdk_accounts
        ):  # SDKs it lets another account pull and write for: the DAG checks the config agrees
            resources["sdk_accounts"] = self.sdk_accounts
        cdk.CfnOutput(
            self,
            RESOURCES_OUTPUT,
            value=self.to_json_string(resources),
            description="JSON: every resource the DAG uses, SDKs keyed by their name in the campaign config",
        )
