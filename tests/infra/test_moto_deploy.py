"""The synthesized template deployed through CloudFormation into a moto server of the test's own."""

from __future__ import annotations

import json
import time
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError
from sdk_campaigns_infra import job_results_resource
from sdk_campaigns_infra.moto_gaps import MOTO_SKIPPED_TYPES, fill_moto_gaps
from sdk_campaigns_infra.render import airflow_policy
from sdk_campaigns_infra.stack import RESOURCES_OUTPUT, output_key

REGION = "us-east-1"


@pytest.fixture(scope="module")
def stack(aws, template, campaign_config):
    cloudformation = aws("cloudformation")
    name = campaign_config.infra.stack_name
    started = time.monotonic()
    cloudformation.create_stack(
        StackName=name, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_NAMED_IAM"]
    )
    while True:
        described = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        if not described["StackStatus"].endswith("_IN_PROGRESS"):
            break
        assert time.monotonic() - started < 60, "stack still in progress after 60 s"
        time.sleep(0.3)
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    failures = [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
        for e in events
        if "FAILED" in e["ResourceStatus"]
    ]
    assert described["StackStatus"] == "CREATE_COMPLETE", failures
    return {
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]},
        "resources": cloudformation.describe_stack_resources(StackName=name)["StackResources"],
        "account": aws("sts").get_caller_identity()["Account"],
    }


def test_stack_creates_every_resource_but_moto_known_gaps(stack, template):
    # (moto lists what it skipped as entries without a logical id)
    created = {r["LogicalResourceId"] for r in stack["resources"] if "LogicalResourceId" in r}
    missing = {name: r["Type"] for name, r in template["Resources"].items() if name not in created}
    # moto gap: its CloudFormation has no CodeBuild projects, bucket policies or topic policies.
    assert set(missing.values()) <= MOTO_SKIPPED_TYPES, missing


def test_roles_repositories_bucket_queue_exist(stack, aws, campaign_config):
    batch_settings, campaign = campaign_config.batch, campaign_config.campaign
    roles = {r["RoleName"]: r["Arn"] for r in aws("iam").list_roles()["Roles"]}
    job_roles = {sdk: f"{batch_settings.job_role_name}-{sdk}" for sdk in campaign_config.sdks}
    expected_roles = {
        batch_settings.execution_role_name,
        batch_settings.service_role_name,
        f"{campaign_config.infra.stack_name}-image-build",
        *job_roles.values(),
    }
    assert expected_roles <= set(roles)
    for sdk, role in job_roles.items():
        assert stack["outputs"][f"JobRoleArn{output_key(sdk)}"] == roles[role]

    repositories = {r["repositoryName"]: r for r in aws("ecr").describe_repositories()["repositories"]}
    for sdk in campaign_config.sdks:
        repository = repositories[f"{campaign.ecr_repository_prefix}/{sdk}"]
        assert repository["imageTagMutability"] == "IMMUTABLE"
        assert stack["outputs"][f"RepositoryUri{output_key(sdk)}"] == repository["repositoryUri"]

    s3 = aws("s3")
    assert campaign.results_bucket in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    encryption = s3.get_bucket_encryption(Bucket=campaign.results_bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

    batch = aws("batch")
    (environment,) = batch.describe_compute_environments(
        computeEnvironments=[batch_settings.compute_environment]
    )["computeEnvironments"]
    assert environment["status"] == "VALID" and environment["computeResources"]["type"] == "FARGATE"
    assert environment["serviceRole"] == roles[batch_settings.service_role_name]
    (queue,) = batch.describe_job_queues(jobQueues=[batch_settings.job_queue])["jobQueues"]
    assert queue["status"] == "VALID"
    assert queue["computeEnvironmentOrder"][0]["computeEnvironment"] == environment["computeEnvironmentArn"]

    (group,) = aws("logs").describe_log_groups(logGroupNamePrefix=campaign_config.infra.log_group)[
        "logGroups"
    ]
    assert group["retentionInDays"] == campaign_config.infra.log_retention_days

    resources = json.loads(stack["outputs"][RESOURCES_OUTPUT])
    assert resources["job_queue_arn"] == queue["jobQueueArn"]
    assert resources["compute_environment_arn"] == environment["computeEnvironmentArn"]
    assert {sdk: v["job_role_arn"] for sdk, v in resources["sdks"].items()} == {
        sdk: roles[role] for sdk, role in job_roles.items()
    }


def test_deployed_policies_are_the_templates(stack, aws, template, campaign_config):
    """What moto holds is what the template says, with this account and region filled in."""
    iam = aws("iam")
    policy = iam.get_policy(PolicyArn=stack["outputs"]["AirflowPolicyArn"])["Policy"]
    # v1: what CloudFormation made (fill_moto_gaps adds a moto-enforceable default version later)
    version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId="v1")
    expected = airflow_policy(template, account=stack["account"], region=REGION)
    assert version["PolicyVersion"]["Document"] == expected


def test_moto_gaps_are_filled_from_the_template(stack, aws, template, campaign_config):
    steps = fill_moto_gaps(template, aws, account=stack["account"], region=REGION)
    project = f"{campaign_config.infra.stack_name}-image-build"
    (built,) = aws("codebuild").batch_get_projects(names=[project])["projects"]
    assert built["environment"]["privilegedMode"] is True
    assert built["serviceRole"].endswith(f":role/{project}")
    bucket = campaign_config.campaign.results_bucket
    s3 = aws("s3")
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["expire-raw-results"]["Expiration"]["Days"] == campaign_config.infra.results_retention_days
    repository = f"{campaign_config.campaign.ecr_repository_prefix}/python"
    lifecycle = json.loads(aws("ecr").get_lifecycle_policy(repositoryName=repository)["lifecyclePolicyText"])
    assert lifecycle["rules"][0]["selection"]["countNumber"] == campaign_config.campaign.ecr_keep_images
    # A second call changes nothing and fails on nothing (the local stack may run it on every `up`).
    assert fill_moto_gaps(template, aws, account=stack["account"], region=REGION)[0].endswith(": exists")
    assert steps[0].endswith(": created")

    # Inline policies, as JSON now: the job role writes its own results folder only.
    iam = aws("iam")
    for sdk in campaign_config.sdks:
        name = f"{campaign_config.batch.job_role_name}-{sdk}"
        document = iam.get_role_policy(RoleName=name, PolicyName="write-own-results")["PolicyDocument"]
        allowed = [s["Resource"] for s in document["Statement"] if s["Effect"] == "Allow"]
        assert allowed == [job_results_resource(bucket, campaign_config.campaign.dag_id, sdk)]


@pytest.fixture
def iam_enforced(moto_endpoint):
    """moto checks every request against IAM from now on (its reset-auth API), until the test ends."""

    def enforce(on: bool) -> None:
        request = urllib.request.Request(
            f"{moto_endpoint}/moto-api/reset-auth",
            data=b"0" if on else b"inf",
            method="POST",
            headers={"Content-Type": "text/plain"},  # a form body would reach moto empty
        )
        urllib.request.urlopen(request, timeout=5).close()

    yield enforce
    enforce(False)


def test_least_privilege_holds_with_iam_enforced(
    stack, aws, moto_endpoint, template, campaign_config, iam_enforced
):
    """The job role writes its own results only; the Airflow policy runs the DAG but creates no roles."""
    fill_moto_gaps(template, aws, account=stack["account"], region=REGION)  # inline policies as JSON
    iam = aws("iam")
    job = aws("sts").assume_role(RoleArn=stack["outputs"]["JobRoleArnPython"], RoleSessionName="job-python")
    iam.create_user(UserName="airflow")
    iam.attach_user_policy(UserName="airflow", PolicyArn=stack["outputs"]["AirflowPolicyArn"])
    key = iam.create_access_key(UserName="airflow")["AccessKey"]
    job_s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=job["Credentials"]["AccessKeyId"],
        aws_secret_access_key=job["Credentials"]["SecretAccessKey"],
        aws_session_token=job["Credentials"]["SessionToken"],
    )
    airflow = boto3.session.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )
    bucket, run = campaign_config.campaign.results_bucket, f"{campaign_config.campaign.dag_id}/manual__1"
    iam_enforced(True)

    def denied(call) -> bool:
        try:
            call()
        except ClientError as err:
            return err.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException")
        return False

    job_s3.put_object(Bucket=bucket, Key=f"{run}/python/results/junit.xml", Body=b"<testsuites/>")
    for key in (
        f"{run}/python/outcome.json",
        f"{run}/go/results/junit.xml",
        f"{run}/go/results/python/results/x",
    ):
        assert denied(lambda key=key: job_s3.put_object(Bucket=bucket, Key=key, Body=b"forged")), key

    airflow_iam = airflow.client("iam", endpoint_url=moto_endpoint)
    airflow_s3 = airflow.client("s3", endpoint_url=moto_endpoint)
    airflow_batch = airflow.client("batch", endpoint_url=moto_endpoint)
    airflow_s3.put_object(Bucket=bucket, Key=f"{run}/python/outcome.json", Body=b"{}")
    assert airflow_s3.get_object(Bucket=bucket, Key=f"{run}/python/results/junit.xml")["Body"].read()
    assert airflow_batch.describe_job_queues(jobQueues=[campaign_config.batch.job_queue])["jobQueues"]
    assert denied(lambda: airflow_iam.create_role(RoleName="escalate", AssumeRolePolicyDocument="{}"))
    assert denied(lambda: airflow_s3.create_bucket(Bucket="another-bucket"))
