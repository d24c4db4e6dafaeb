"""The DAG's environment check against a stack deployed through CloudFormation: it passes on the
deployed stack, and fails naming each resource deleted from it and the fix. A stack of its own
(other names throughout), so the shared campaign stack is never broken."""

from __future__ import annotations

import uuid

import pytest
import yaml

from sdk_campaigns import stack_deploy
from sdk_campaigns.campaign import resources
from sdk_campaigns.config import DEFAULT_CONFIG_PATH, parse_config
from sdk_campaigns.dev import local_aws

pytestmark = pytest.mark.stack

# Its own names each session: moto outlives sessions, and a test here deletes resources.
NAME = f"sdkc-check-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def check_stack(aws_client, tmp_path_factory):
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    raw["sdks"] = {sdk: raw["sdks"][sdk] for sdk in ("python", "go")}
    local_aws.with_own_names(raw, NAME)
    path = tmp_path_factory.mktemp("check") / "campaign.yaml"
    path.write_text(yaml.safe_dump(raw))
    config = parse_config(path.read_text(), path)
    # Not deleted after: moto's DeleteStack fails on the stack's VPC ("has dependencies", a moto gap);
    # the session's own names keep it apart from the next.
    stack_deploy.deploy(aws_client("cloudformation"), config, stack_deploy.synthesize(config), progress=print)
    return config


def test_the_deployed_stack_passes_the_check(check_stack, aws_client):
    found = resources.check_environment(aws_client, NAME, ["python", "go"])
    assert found.results_bucket == f"{NAME}-results"
    assert set(found.sdks) == {"python", "go"} and found.job_queue == NAME


def test_an_sdk_the_stack_lacks_is_named(check_stack, aws_client):
    with pytest.raises(resources.MissingInfrastructure, match="SDK.s. rust are configured but not in stack"):
        resources.check_environment(aws_client, NAME, ["python", "rust"])


def test_a_missing_stack_names_the_fix(aws_client):
    with pytest.raises(resources.MissingInfrastructure, match="does not exist: deploy the campaign's stack"):
        resources.check_environment(aws_client, "sdkc-never-deployed", ["python"])


def test_deleted_resources_fail_the_check_each_named_with_the_fix(check_stack, aws_client):
    batch, ecr = aws_client("batch"), aws_client("ecr")
    batch.update_job_queue(jobQueue=NAME, state="DISABLED")
    batch.delete_job_queue(jobQueue=NAME)
    ecr.delete_repository(repositoryName=f"{NAME}/go", force=True)
    with pytest.raises(resources.MissingInfrastructure) as failure:
        resources.check_environment(aws_client, NAME, ["python", "go"])
    message = str(failure.value)
    assert f"Batch job queue {NAME} does not exist" in message
    assert f"ECR repository {NAME}/go (go) does not exist" in message
    assert f"ECR repository {NAME}/python" not in message  # only what is missing
    assert "Fix: deploy the campaign's stack: `sdk-campaigns infra deploy`" in message


def test_a_second_local_up_reuses_the_cached_template(stack_home):
    """`local up` again (the template cached by the first, so nothing is synthesized): the stack step
    still fills moto's gaps, whose code lives in infra/, beside the venv's packages."""
    import subprocess
    import sys

    script = "from sdk_campaigns.dev import local_aws; print(local_aws.ensure_campaign_stack())"
    # A process of its own: this one put infra/ on sys.path when the session's stack was deployed.
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert output.returncode == 0, output.stderr[-2000:]
    assert "sdk-campaigns in 123456789012: stack sdk-campaigns is up to date" in output.stdout
