"""An SDK in its own account (docs/accounts.md), one function at a time: the config keys, the SDK's
connection and role, hooks acting as that role (operator and trigger), its job definition's roles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_stand_ins import campaign_resources

from sdk_campaigns.campaign import accounts
from sdk_campaigns.campaign.resources import CampaignResources, JobEnvironment, SdkResources
from sdk_campaigns.config import ConfigError, parse_config

GO_ROLE = "arn:aws:iam::210987654321:role/sdk-campaigns-account-airflow"
BASE = """
campaign: {results_bucket: sdk-results}
infra: {campaign_account_id: "123456789012"}
sdks:
  python: {image: python, test_command: [pytest]}
  go: {image: go, test_command: [go, test], %s}
"""


def config(go_settings: str = "", text: str = BASE):
    return parse_config(text % go_settings, Path("campaign.yaml"))


def test_no_role_or_connection_means_the_campaign_s_account_and_connection():
    loaded = config()
    assert accounts.sdk_account(loaded, "go", "aws_default") == accounts.SdkAccount("go", "aws_default", "")
    assert accounts.sdk_account(loaded, "go", "aws_default").account_id == ""
    assert accounts.distinct_accounts(loaded, loaded.sdk_names, "aws_default") == [
        accounts.SdkAccount("", "aws_default", "")
    ]


def test_a_role_puts_the_sdk_in_the_role_s_account_through_the_campaign_s_connection():
    loaded = config(f"role_arn: {GO_ROLE}")
    go = accounts.sdk_account(loaded, "go", "aws_default")
    assert (go.aws_conn_id, go.role_arn, go.account_id) == ("aws_default", GO_ROLE, "210987654321")
    assert "sdks.go.role_arn" in go.describe() and "'aws_default'" in go.describe()
    assert [a.role_arn for a in accounts.distinct_accounts(loaded, loaded.sdk_names, "aws_default")] == [
        "",
        GO_ROLE,
    ]
    with_connection = accounts.sdk_account(
        config(f"role_arn: {GO_ROLE}, aws_conn_id: aws_go"), "go", "aws_default"
    )
    assert with_connection.aws_conn_id == "aws_go"


def test_a_role_arn_that_is_no_role_is_named_with_an_example():
    with pytest.raises(ConfigError) as failure:
        config("role_arn: arn:aws:iam::210987654321:user/someone")
    assert "key 'sdks.go.role_arn'" in str(failure.value)
    assert "is not an IAM role ARN" in str(failure.value) and "arn:aws:iam::210987654321:role/" in str(
        failure.value
    )


def test_a_role_needs_the_campaign_account_and_another_account():
    without = BASE.replace('infra: {campaign_account_id: "123456789012"}\n', "")
    with pytest.raises(
        ConfigError, match="sdks.go.role_arn puts go in account 210987654321: set infra.campaign_acc"
    ):
        config(f"role_arn: {GO_ROLE}", without)
    same = "role_arn: arn:aws:iam::123456789012:role/x"
    with pytest.raises(
        ConfigError, match="is in the campaign's own account .*leave role_arn empty to run go there"
    ):
        config(same)
    with pytest.raises(ConfigError, match="infra.campaign_account_id"):
        config("", BASE.replace('"123456789012"', '"12345"'))


def test_a_connection_id_is_checked_like_airflow_s():
    with pytest.raises(ConfigError, match="sdks.go.aws_conn_id"):
        config("aws_conn_id: 'aws go'")


@pytest.fixture
def connection(monkeypatch):
    extra = {"endpoint_url": "http://127.0.0.1:1", "region_name": "eu-west-1", "service_config": {"sts": {}}}
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_UNIT",
        json.dumps({"conn_type": "aws", "login": "AKIAUNIT", "password": "secret", "extra": extra}),
    )
    return "aws_unit"


def test_a_hook_acts_as_the_role_with_its_connection_s_credentials_and_endpoints(connection):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from sdk_campaigns.campaign.aws import assume_role

    hook = assume_role(AwsBaseHook(aws_conn_id=connection, client_type="sts"), GO_ROLE)
    config_ = hook.conn_config
    assert (config_.role_arn, config_.assume_role_method) == (GO_ROLE, "assume_role")
    assert (config_.aws_access_key_id, config_.endpoint_url, config_.region_name) == (
        "AKIAUNIT",
        "http://127.0.0.1:1",
        "eu-west-1",
    )
    plain = AwsBaseHook(aws_conn_id=connection, client_type="sts")
    assert assume_role(plain, "") is plain and plain.conn_config.role_arn is None


def test_run_tests_and_its_trigger_act_in_the_sdk_s_account(connection):
    from airflow.providers.amazon.aws.triggers.batch import BatchJobTrigger

    from sdk_campaigns.campaign.batch_jobs import (
        CancellableBatchJobTrigger,
        ReattachingBatchOperator,
        cancellable,
    )

    operator = ReattachingBatchOperator(
        task_id="run",
        job_name="j",
        job_definition="d",
        job_queue="q",
        aws_conn_id=connection,
        role_arn=GO_ROLE,
    )
    assert operator.hook.conn_config.role_arn == GO_ROLE
    trigger = cancellable(BatchJobTrigger(job_id="job-1", aws_conn_id=connection), GO_ROLE)
    classpath, kwargs = trigger.serialize()
    assert kwargs["role_arn"] == GO_ROLE and kwargs["job_id"] == "job-1"
    moved = CancellableBatchJobTrigger(**kwargs)  # another triggerer: the same account
    assert moved.hook().conn_config.role_arn == GO_ROLE
    _, campaign_kwargs = cancellable(BatchJobTrigger(job_id="job-2", aws_conn_id=connection)).serialize()
    assert "role_arn" not in campaign_kwargs


def test_run_tests_takes_its_job_and_account_from_the_submission_build_image_registered(connection):
    """In the DAG, run_tests' submission is the SDK's build_image XCom: set when templates render."""
    from sdk_campaigns.campaign.batch_jobs import ReattachingBatchOperator

    submission = {
        "aws_conn_id": connection,
        "role_arn": GO_ROLE,
        "job_name": "campaign-go",
        "job_definition": "arn:aws:batch:eu-west-1:210987654321:job-definition/go:3",
        "container_overrides": {"environment": [{"name": "SDK", "value": "go"}]},
        "tags": {"sdk": "go"},
    }
    operator = ReattachingBatchOperator(task_id="run", job_queue="q", submission=submission)
    operator.render_template_fields({})
    assert (operator.job_name, operator.job_definition, operator.tags) == (
        "campaign-go",
        submission["job_definition"],
        {"sdk": "go"},
    )
    assert operator.container_overrides == submission["container_overrides"]
    assert operator.hook.conn_config.role_arn == GO_ROLE

    hostile = ReattachingBatchOperator(
        task_id="run", job_queue="q", submission={**submission, "job_queue": "x"}
    )
    with pytest.raises(ValueError, match=r"unknown fields \['job_queue'\]"):
        hostile.render_template_fields({})


def test_the_job_definition_names_the_sdk_account_s_roles_and_log_group():
    from sdk_campaigns.campaign.job_definitions import job_definition_spec
    from sdk_campaigns.config import SdkSettings

    go_account = JobEnvironment(
        stack_name="sdk-campaigns-account",
        job_queue="sdk-campaigns",
        job_queue_arn="arn:aws:batch:us-east-1:210987654321:job-queue/sdk-campaigns",
        compute_environment_arn="arn:ce-go",
        execution_role_arn="arn:aws:iam::210987654321:role/exec",
        job_role_arn="arn:aws:iam::210987654321:role/job-go",
        log_group="/aws/batch/go-account",
        assign_public_ip="ENABLED",
    )
    resources = campaign_resources(
        job_queue="sdk-campaigns",
        execution_role_arn="arn:aws:iam::123456789012:role/exec",
        assign_public_ip="DISABLED",
        sdks={
            "go": SdkResources("1.dkr.ecr.us-east-1.amazonaws.com/p/go", ""),
            "python": SdkResources("u", "arn:j"),
        },
        accounts={"go": go_account},
    )
    assert CampaignResources.from_xcom(json.loads(json.dumps(resources.to_xcom()))) == resources
    spec = job_definition_spec(
        image="reg/go:c1",
        sdk="go",
        settings=SdkSettings(image="go", test_command=["go", "test"]),
        resources=resources,
        region="us-east-1",
    )
    container = spec["containerProperties"]
    assert (container["executionRoleArn"], container["jobRoleArn"]) == (
        go_account.execution_role_arn,
        go_account.job_role_arn,
    )
    assert container["logConfiguration"]["options"]["awslogs-group"] == "/aws/batch/go-account"
    assert container["networkConfiguration"] == {"assignPublicIp": "ENABLED"}
    assert resources.job_environment("python").job_role_arn == "arn:j"
    assert resources.job_environment("python").execution_role_arn == "arn:aws:iam::123456789012:role/exec"


def test_a_campaign_stack_granting_another_account_than_the_config_fails_the_check():
    """go moved back to the campaign's account, but the stack still lets go's old account in (and its
    repository and bucket do not grant the new place): `sdk-campaigns infra deploy` is the fix."""
    from sdk_campaigns.campaign.resources import MissingInfrastructure

    stack = campaign_resources(
        execution_role_arn="arn:aws:iam::123456789012:role/exec",
        sdks={"go": SdkResources("u", ""), "python": SdkResources("u", "arn:j")},
        sdk_accounts={"go": "210987654321"},
    )
    with pytest.raises(MissingInfrastructure) as failure:
        accounts.check_sdk_accounts(config(), ["python", "go"], "aws_default", stack)
    message = str(failure.value)
    assert (
        "SDK go: sdks.go.role_arn puts it in the campaign account, but stack 'sdk-campaigns' lets " in message
    )
    assert (
        "account 210987654321 pull its image and write its results: run `sdk-campaigns infra deploy`"
        in message
    )
    assert "SDK python" not in message
    assert accounts.check_sdk_accounts(config(), ["python"], "aws_default", stack).sdks == stack.sdks
