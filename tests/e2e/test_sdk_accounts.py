"""An SDK in its own AWS account (docs/accounts.md), on moto: a campaign account and an SDK account, each
a fresh moto account of this session. python runs in the campaign's account, go in its own through the
role its config names: each job definition and job exists only in its account, both results land in the
campaign's bucket, and go's log is read through go's role. A role or connection that cannot be used fails
the environment check, naming the SDK, the role or connection, and the fix.

The stacks are the production templates: the campaign's (`sdk-campaigns infra deploy`) in the campaign
account, the SDK account's (`--sdk-account`) in the SDK account, deployed by each account's administrator;
Airflow is an IAM user with the campaign stack's Airflow policy only."""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from sdk_campaigns.config import DEFAULT_CONFIG_PATH, parse_config

from .conftest import run_airflow

pytestmark = pytest.mark.stack

# Fresh accounts each session: moto outlives sessions, and these stacks keep the default names.
CAMPAIGN_ACCOUNT = f"91{random.randrange(10**10):010d}"
GO_ACCOUNT = f"92{random.randrange(10**10):010d}"
BUCKET = f"sdkc-accounts-{CAMPAIGN_ACCOUNT}"
GO_ROLE = f"arn:aws:iam::{GO_ACCOUNT}:role/sdk-campaigns-account-airflow"
LOGICAL_DATE = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()


def write_config(folder, **go_settings):
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    raw["sdks"] = {sdk: raw["sdks"][sdk] for sdk in ("python", "go")}
    raw["sdks"]["go"].update(go_settings)
    raw["campaign"].update(
        results_bucket=BUCKET, history_uri=str(folder / "history"), report_dir=str(folder / "reports")
    )
    raw["infra"]["campaign_account_id"] = CAMPAIGN_ACCOUNT
    path = folder / f"campaign-{len(list(folder.glob('campaign-*')))}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def accounts(stack_home, tmp_path_factory):
    """Both stacks deployed, and Airflow's connection: a user of the campaign account with its policy."""
    from sdk_campaigns.dev import local_aws, local_stack

    folder = tmp_path_factory.mktemp("accounts")
    path = write_config(folder, role_arn=GO_ROLE)
    print(local_aws.ensure_campaign_stack(path, account=CAMPAIGN_ACCOUNT))
    print(local_aws.ensure_campaign_stack(path, sdk_account=GO_ACCOUNT))
    campaign = local_aws.account_admin_client(CAMPAIGN_ACCOUNT)
    iam = campaign("iam")
    iam.create_user(UserName="airflow")
    iam.attach_user_policy(
        UserName="airflow", PolicyArn=f"arn:aws:iam::{CAMPAIGN_ACCOUNT}:policy/sdk-campaigns-airflow"
    )
    key = iam.create_access_key(UserName="airflow")["AccessKey"]
    connection = {
        **local_stack.aws_connection(),
        "login": key["AccessKeyId"],
        "password": key["SecretAccessKey"],
    }
    env = {
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        "SDK_CAMPAIGNS_CONFIG": str(path),
    }
    return {
        "folder": folder,
        "config": path,
        "env": env,
        "campaign": campaign,
        "go": local_aws.account_admin_client(GO_ACCOUNT),
    }


@pytest.fixture
def airflow_identity(accounts, monkeypatch):
    """This process as Airflow: the campaign account's user, through aws_default."""
    for name, value in accounts["env"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DISABLE_REQUEST_COMPRESSION", "true")


def check(config_path, sdks=("python", "go")):
    from sdk_campaigns import tasks
    from sdk_campaigns.campaign import resources

    config = parse_config(config_path.read_text(), config_path)
    central = resources.check_environment(
        tasks.AwsContext("aws_default").client, config.infra.stack_name, list(sdks)
    )
    return tasks.accounts.check_sdk_accounts(config, list(sdks), "aws_default", central)


def test_the_environment_check_reads_go_s_account_through_its_role(accounts, airflow_identity):
    found = check(accounts["config"])
    go = found.job_environment("go")
    assert go.stack_name == "sdk-campaigns-account"
    assert f":{GO_ACCOUNT}:" in go.job_queue_arn and f"::{GO_ACCOUNT}:role/" in go.job_role_arn
    python = found.job_environment("python")
    assert f":{CAMPAIGN_ACCOUNT}:" in python.job_queue_arn and f"::{CAMPAIGN_ACCOUNT}:" in python.job_role_arn


def test_a_role_without_its_account_stack_fails_the_check_naming_sdk_role_and_fix(accounts, airflow_identity):
    from sdk_campaigns.campaign.resources import MissingInfrastructure

    elsewhere = f"arn:aws:iam::93{random.randrange(10**10):010d}:role/sdk-campaigns-account-airflow"
    path = write_config(accounts["folder"], role_arn=elsewhere)
    with pytest.raises(MissingInfrastructure) as failure:
        check(path)
    message = str(failure.value)
    assert "SDK(s) go" in message and elsewhere in message and "sdks.go.role_arn" in message
    assert "sdk-campaigns infra deploy --sdk-account 93" in message
    assert "python" not in message.split("\n", 1)[1]  # only the SDK whose role is wrong


def test_an_sdk_moved_after_the_campaign_stack_was_deployed_fails_the_check(accounts, airflow_identity):
    """python moved to go's account in the config only: the campaign's stack grants it nothing yet."""
    from sdk_campaigns.campaign.resources import MissingInfrastructure

    raw = yaml.safe_load(accounts["config"].read_text())
    raw["sdks"]["python"]["role_arn"] = GO_ROLE
    path = accounts["folder"] / "python-moved.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(MissingInfrastructure) as failure:
        check(path)
    message = str(failure.value)
    assert (
        f"SDK python: sdks.python.role_arn puts it in account {GO_ACCOUNT}, but stack 'sdk-campaigns' "
        in message
    )
    assert (
        "lets no other account pull its image and write its results: run `sdk-campaigns infra deploy`"
        in message
    )
    assert f"python is not in stack 'sdk-campaigns-account' of account {GO_ACCOUNT}" in message


def test_a_missing_connection_fails_the_check_naming_it(accounts, airflow_identity):
    from sdk_campaigns.campaign.resources import MissingInfrastructure

    path = write_config(accounts["folder"], role_arn=GO_ROLE, aws_conn_id="aws_go_missing")
    with pytest.raises(MissingInfrastructure, match=r"SDK\(s\) go: the Airflow connection 'aws_go_missing'"):
        check(path)


def test_a_role_arn_without_the_campaign_account_fails_the_config(tmp_path):
    from sdk_campaigns.config import ConfigError

    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    raw["sdks"]["go"]["role_arn"] = GO_ROLE
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="sdks.go.role_arn puts go in account .*infra.campaign_account_id"):
        parse_config(path.read_text(), path)


# --- a whole campaign: `airflow dags test` -----------------------------------------------------------


@pytest.fixture(scope="module")
def campaign(accounts, stack_home):
    result = run_airflow(
        ["dags", "test", "sdk_test_campaign", LOGICAL_DATE, "-c", json.dumps({"sdks": ["python", "go"]})],
        env=accounts["env"],
    )
    (stack_home / "accounts-campaign.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return result


def jobs_in(client, queue="sdk-campaigns"):
    batch = client("batch")
    found = {}
    for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"):
        for job in batch.list_jobs(jobQueue=queue, jobStatus=status)["jobSummaryList"]:
            found[job["jobName"]] = job["jobId"]
    return found


def definitions_in(client):
    batch = client("batch")
    return {d["jobDefinitionName"] for d in batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]}


def test_each_job_and_job_definition_exists_only_in_its_sdk_s_account(accounts, campaign):
    campaign_jobs, go_jobs = jobs_in(accounts["campaign"]), jobs_in(accounts["go"])
    assert [name for name in campaign_jobs if "-python-" in name] and not [
        n for n in campaign_jobs if "-go-" in n
    ]
    assert [name for name in go_jobs if "-go-" in name] and not [n for n in go_jobs if "-python-" in n]
    assert definitions_in(accounts["campaign"]) == {"sdk-campaigns-python"}
    assert definitions_in(accounts["go"]) == {"sdk-campaigns-go"}


def test_both_results_land_in_the_campaign_bucket_and_go_s_log_is_read_through_its_role(accounts, campaign):
    s3 = accounts["campaign"]("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="sdk_test_campaign/")["Contents"]]
    for sdk in ("python", "go"):
        assert [k for k in keys if f"/{sdk}/results/" in k], f"no results of {sdk} in {BUCKET}: {keys}"
        (outcome_key,) = [k for k in keys if k.endswith(f"/{sdk}/outcome.json")]
        outcome = json.loads(s3.get_object(Bucket=BUCKET, Key=outcome_key)["Body"].read())
        assert outcome["status"] == "tests_failed", outcome["reason"]
        assert outcome["counts"]["total"] == 6
        # The job's own log stream, read from its account (moto writes job logs only there).
        assert any(line.startswith("SDK_CAMPAIGN_SUMMARY ") for line in outcome["log_excerpt"]), sdk
    go_job = json.loads(
        s3.get_object(Bucket=BUCKET, Key=next(k for k in keys if k.endswith("/go/outcome.json")))[
            "Body"
        ].read()
    )["job_id"]
    go_streams = [
        s["logStreamName"]
        for s in accounts["go"]("logs").describe_log_streams(logGroupName="/aws/batch/job")["logStreams"]
    ]
    assert any(go_job in name for name in go_streams)
    campaign_streams = [
        s["logStreamName"]
        for s in accounts["campaign"]("logs").describe_log_streams(logGroupName="/aws/batch/job")[
            "logStreams"
        ]
    ]
    assert not any(go_job in name for name in campaign_streams)


def test_the_airflow_identity_cannot_reach_the_go_account_without_the_role(accounts):
    """The campaign account's Airflow user acts in its own account; go's jobs are only through the role."""
    import boto3

    from sdk_campaigns.dev.moto_server import url

    env = accounts["env"]
    batch = boto3.client(
        "batch",
        endpoint_url=url(),
        region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    queues = batch.describe_job_queues()["jobQueues"]
    assert queues and all(f":{CAMPAIGN_ACCOUNT}:" in q["jobQueueArn"] for q in queues)


# --- cancelling reaches the SDK's account ----------------------------------------------------------


def sleeping_go_job(accounts, run_id: str) -> str:
    """A job of the run in go's account, on the definition the campaign registered there, asleep."""
    batch = accounts["go"]("batch")
    definition = batch.describe_job_definitions(jobDefinitionName="sdk-campaigns-go", status="ACTIVE")
    arn = definition["jobDefinitions"][0]["jobDefinitionArn"]
    return batch.submit_job(
        jobName=f"sdk-campaigns-go-cancel-{random.randrange(10**6)}",
        jobQueue="sdk-campaigns",
        jobDefinition=arn,
        containerOverrides={"command": ["sleep", "300"]},
        tags={"sdk": "go", "dag_id": "sdk_test_campaign", "run_id": run_id},
    )["jobId"]


def wait_for_status(batch, job_id: str, wanted: set[str], seconds: float = 60) -> dict:
    import time

    deadline = time.monotonic() + seconds
    while True:
        job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        if job["status"] in wanted or time.monotonic() > deadline:
            return job
        time.sleep(1)


def test_sdk_campaigns_cancel_terminates_the_run_s_job_in_go_s_account(accounts, campaign):
    import subprocess
    import sys
    from pathlib import Path

    from sdk_campaigns.dev import local_stack

    run_id = f"manual__cancel-{random.randrange(10**6)}"
    job_id = sleeping_go_job(accounts, run_id)
    batch = accounts["go"]("batch")
    assert wait_for_status(batch, job_id, {"RUNNING"})["status"] == "RUNNING"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("sdk-campaigns")), "cancel", run_id],
        env={**os.environ, **local_stack.airflow_env(), **accounts["env"]},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"terminated go job {job_id}" in done.stdout
    job = wait_for_status(batch, job_id, {"FAILED", "SUCCEEDED"})
    assert job["status"] == "FAILED" and job["statusReason"] == "cancelled: sdk-campaigns cancel"


def test_a_stopped_run_tests_terminates_its_job_through_go_s_role(accounts, campaign, airflow_identity):
    """What the triggerer does when run_tests is stopped: the trigger's async hook acts as go's role."""
    import asyncio

    from sdk_campaigns.campaign.batch_jobs import CancellableBatchJobTrigger

    job_id = sleeping_go_job(accounts, f"manual__stopped-{random.randrange(10**6)}")
    batch = accounts["go"]("batch")
    assert wait_for_status(batch, job_id, {"RUNNING"})["status"] == "RUNNING"
    trigger = CancellableBatchJobTrigger(job_id=job_id, aws_conn_id="aws_default", role_arn=GO_ROLE)
    asyncio.run(trigger.terminate("test: run_tests stopped"))
    job = wait_for_status(batch, job_id, {"FAILED", "SUCCEEDED"})
    assert job["status"] == "FAILED" and job["statusReason"] == "cancelled: test: run_tests stopped"


# --- the culprit finder bisects in the SDK's account -------------------------------------------------


def test_a_culprit_finder_step_for_go_runs_in_go_s_account(accounts, campaign, airflow_identity):
    """A bisection step of go: its job is submitted in go's account on the definition the campaign
    registered there, and its trigger waits (and would cancel) through go's role."""
    from types import SimpleNamespace

    from airflow.sdk.exceptions import TaskDeferred

    from sdk_campaigns.config import cached_config
    from sdk_campaigns.culprit import bisect
    from sdk_campaigns.culprit.operator import BisectOperator
    from sdk_campaigns.culprit.request import BisectionRequest, TrackedTest

    cached_config.cache_clear()  # this module's config (SDK_CAMPAIGNS_CONFIG), not one read before
    request = BisectionRequest(
        sdk="go", repo_url="", good="v1", bad="v2", tests=(TrackedTest("0123456789abcdef"),)
    )
    key = f"accounts{random.randrange(10**6)}"
    operator = BisectOperator(
        task_id="bisect", plan={"request": request.to_xcom(), "key": key, "record_key": f"{key}.json"}
    )
    context = {"dag": SimpleNamespace(dag_id="sdk_culprit_finder"), "run_id": f"manual__{key}"}
    try:
        with pytest.raises(TaskDeferred) as deferred:
            operator._next(context, bisect.Bisection(good="v1", bad="v2"))
    finally:
        cached_config.cache_clear()
    trigger = deferred.value.trigger
    assert trigger.serialized_fields["role_arn"] == GO_ROLE
    job_id = trigger.serialized_fields["job_id"]
    step_jobs = {name: job for name, job in jobs_in(accounts["go"]).items() if f"-culprit-{key}-" in name}
    assert list(step_jobs.values()) == [job_id]
    assert not [name for name in jobs_in(accounts["campaign"]) if f"-culprit-{key}-" in name]
    accounts["go"]("batch").terminate_job(jobId=job_id, reason="test: the step's placement is checked")
