"""SDKs in their own accounts (docs/accounts.md), as templates: the campaign stack's ECR repository policy
and its bucket policy per prefix, its Airflow policy's AssumeRole; the SDK account stack's roles, network and
outputs; both linted."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from sdk_campaigns_infra import synth_template
from sdk_campaigns_infra.render import Renderer, airflow_policy, resources_of_type
from sdk_campaigns_infra.stack import InfraConfigError
from test_lint import env_without_aws
from test_template import as_list, iam_matches, statements

from sdk_campaigns.config import parse_config

CAMPAIGN = "123456789012"
GO_ACCOUNT = "210987654321"
GO_ROLE = f"arn:aws:iam::{GO_ACCOUNT}:role/sdk-campaigns-account-airflow"
BUCKET = "sdk-campaigns-results"
RUN = f"arn:aws:s3:::{BUCKET}/sdk_test_campaign/scheduled__2026-11-02T06:00:00+00:00/attempt-1"


def config_with(tmp_path_factory, **sdk_roles):
    from sdk_campaigns.config import DEFAULT_CONFIG_PATH

    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    for sdk, role in sdk_roles.items():
        raw["sdks"][sdk]["role_arn"] = role
    raw["infra"]["campaign_account_id"] = CAMPAIGN
    path = tmp_path_factory.mktemp("accounts") / "campaign.yaml"
    path.write_text(yaml.safe_dump(raw))
    return parse_config(path.read_text(), path)


@pytest.fixture(scope="module")
def go_elsewhere(tmp_path_factory):
    return config_with(tmp_path_factory, go=GO_ROLE)


@pytest.fixture(scope="module")
def central(go_elsewhere) -> dict:
    return synth_template(go_elsewhere)


@pytest.fixture(scope="module")
def account_template(go_elsewhere) -> dict:
    return synth_template(go_elsewhere, GO_ACCOUNT)


def render(template, account=CAMPAIGN):
    return Renderer(template, account=account, region="us-east-1")


def principal_matches(statement: dict, principal_arn: str) -> bool:
    principal = statement.get("Principal", {})
    principals = as_list(principal.get("AWS", principal) if isinstance(principal, dict) else principal)
    account = principal_arn.split(":")[4]
    if not any(p == "*" or p == principal_arn or p == f"arn:aws:iam::{account}:root" for p in principals):
        return False
    for operator, keys in statement.get("Condition", {}).items():
        for key, expected in keys.items():
            if key == "aws:PrincipalArn":
                assert operator == "ArnEquals"
                if principal_arn not in as_list(expected):
                    return False
            elif key == "aws:SecureTransport":
                return False  # requests arrive over TLS: the TLS-only Deny does not apply
    return True


def bucket_allows(document: dict, principal_arn: str, action: str, arn: str) -> bool:
    """A resource policy's answer for a principal of another account (which needs an Allow here)."""

    def matched(effect):
        return any(
            iam_matches(resource, arn)
            for s in statements(document)
            if s["Effect"] == effect
            and action in as_list(s["Action"])
            and principal_matches(s, principal_arn)
            for resource in as_list(s["Resource"])
        )

    return matched("Allow") and not matched("Deny")


def bucket_policy(template) -> dict:
    (policy,) = resources_of_type(template, "AWS::S3::BucketPolicy").values()
    return render(template)(policy["Properties"]["PolicyDocument"])


def test_the_go_account_s_job_role_may_write_go_s_results_prefix_only(central):
    document = bucket_policy(central)
    go_job_role = f"arn:aws:iam::{GO_ACCOUNT}:role/sdk-campaigns-batch-job-go"
    assert bucket_allows(document, go_job_role, "s3:PutObject", f"{RUN}/go/results/junit.xml")
    assert bucket_allows(document, go_job_role, "s3:AbortMultipartUpload", f"{RUN}/go/results/junit.xml")
    for key in (
        f"{RUN}/go/outcome.json",  # the DAG's, beside results/
        f"{RUN}/go/job.log",
        f"{RUN}/python/results/junit.xml",
        f"{RUN}/python/results/go/results/junit.xml",  # IAM's * crosses slashes: the Deny holds
        f"arn:aws:s3:::{BUCKET}/history/sdk=go/part-0.parquet",
    ):
        assert not bucket_allows(document, go_job_role, "s3:PutObject", key), key
    assert not bucket_allows(document, go_job_role, "s3:GetObject", f"{RUN}/python/outcome.json")
    # another role of the go account (its Airflow role, its execution role) writes nothing
    for other in (
        "sdk-campaigns-account-airflow",
        "sdk-campaigns-batch-execution",
        "sdk-campaigns-batch-job-python",
    ):
        arn = f"arn:aws:iam::{GO_ACCOUNT}:role/{other}"
        assert not bucket_allows(document, arn, "s3:PutObject", f"{RUN}/go/results/junit.xml"), other
    # a third account: nothing
    assert not bucket_allows(
        document,
        "arn:aws:iam::333333333333:role/sdk-campaigns-batch-job-go",
        "s3:PutObject",
        f"{RUN}/go/results/x",
    )


def test_only_go_s_repository_lets_the_go_account_s_execution_role_pull(central):
    repositories = {
        r["Properties"]["RepositoryName"]: r["Properties"]
        for r in resources_of_type(central, "AWS::ECR::Repository").values()
    }
    policies = {name: props for name, props in repositories.items() if "RepositoryPolicyText" in props}
    assert list(policies) == ["sdk-campaigns/go"]
    (statement,) = statements(render(central)(policies["sdk-campaigns/go"]["RepositoryPolicyText"]))
    assert statement["Effect"] == "Allow" and "Resource" not in statement
    assert sorted(as_list(statement["Action"])) == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{GO_ACCOUNT}:root"}
    assert statement["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{GO_ACCOUNT}:role/sdk-campaigns-batch-execution"}
    }


def test_the_campaign_s_airflow_may_assume_go_s_role_only_and_go_has_no_job_role_here(central):
    assumable = [s for s in statements(airflow_policy(central)) if "sts:AssumeRole" in as_list(s["Action"])]
    assert [as_list(s["Resource"]) for s in assumable] == [[GO_ROLE]]
    roles = {r["Properties"]["RoleName"] for r in resources_of_type(central, "AWS::IAM::Role").values()}
    assert "sdk-campaigns-batch-job-python" in roles and "sdk-campaigns-batch-job-go" not in roles
    resources = json.loads(json.dumps(render(central)(central["Outputs"]["CampaignResources"]["Value"])))
    assert '"job_role_arn":""' in resources.replace(" ", "")  # go's, in the campaign's map
    assert f'"sdk_accounts":{{"go":"{GO_ACCOUNT}"}}' in resources.replace(
        " ", ""
    )  # the DAG checks the config agrees


def test_the_shipped_config_has_no_cross_account_grants(template):
    """Nothing changes for a config without role_arn: no repository or extra bucket statements."""
    assert not [
        r
        for r in resources_of_type(template, "AWS::ECR::Repository").values()
        if "RepositoryPolicyText" in r["Properties"]
    ]
    (policy,) = resources_of_type(template, "AWS::S3::BucketPolicy").values()
    assert len(statements(policy["Properties"]["PolicyDocument"])) == 1  # TLS only
    assert not [s for s in statements(airflow_policy(template)) if "sts:AssumeRole" in as_list(s["Action"])]


def test_the_sdk_account_stack_runs_go_with_least_privilege(account_template):
    rendered = render(account_template, GO_ACCOUNT)
    roles = {
        r["Properties"]["RoleName"]: r["Properties"]
        for r in resources_of_type(account_template, "AWS::IAM::Role").values()
    }
    assert set(roles) == {
        "sdk-campaigns-account-airflow",
        "sdk-campaigns-batch-execution",
        "sdk-campaigns-batch-job-go",
        "sdk-campaigns-batch-service",
    }
    # the Airflow role: trusted by the campaign's account, the DAG's calls in this account only
    airflow = roles["sdk-campaigns-account-airflow"]
    (trust,) = statements(rendered(airflow["AssumeRolePolicyDocument"]))
    assert (
        trust["Principal"] == {"AWS": f"arn:aws:iam::{CAMPAIGN}:root"} and trust["Action"] == "sts:AssumeRole"
    )
    (policy,) = airflow["Policies"]
    actions = {a for s in statements(rendered(policy["PolicyDocument"])) for a in as_list(s["Action"])}
    assert not [
        a for a in actions if a.split(":")[0] not in ("batch", "iam", "logs", "cloudformation", "sts")
    ]
    assert not [a for a in actions if a.startswith(("iam:Create", "iam:Put", "iam:Attach", "s3:", "ecr:"))]
    passed = [
        s for s in statements(rendered(policy["PolicyDocument"])) if "iam:PassRole" in as_list(s["Action"])
    ]
    assert sorted(as_list(passed[0]["Resource"])) == [
        f"arn:aws:iam::{GO_ACCOUNT}:role/sdk-campaigns-batch-execution",
        f"arn:aws:iam::{GO_ACCOUNT}:role/sdk-campaigns-batch-job-go",
    ]
    # the execution role pulls go's image from the campaign's ECR, nothing else
    (execution,) = roles["sdk-campaigns-batch-execution"]["Policies"]
    pulls = [
        s
        for s in statements(rendered(execution["PolicyDocument"]))
        if "ecr:BatchGetImage" in as_list(s["Action"])
    ]
    assert as_list(pulls[0]["Resource"]) == [f"arn:aws:ecr:us-east-1:{CAMPAIGN}:repository/sdk-campaigns/go"]
    # the job role writes go's results prefix of the campaign's bucket
    (job,) = roles["sdk-campaigns-batch-job-go"]["Policies"]
    allowed = [s for s in statements(rendered(job["PolicyDocument"])) if s["Effect"] == "Allow"]
    assert [as_list(s["Resource"]) for s in allowed] == [
        [f"arn:aws:s3:::{BUCKET}/sdk_test_campaign/*/go/results/*"]
    ]
    # its own Fargate queue, in a VPC of its own; no bucket or repository is made here
    kinds = {r["Type"] for r in account_template["Resources"].values()}
    assert {
        "AWS::Batch::ComputeEnvironment",
        "AWS::Batch::JobQueue",
        "AWS::EC2::VPC",
        "AWS::Logs::LogGroup",
    } <= kinds
    assert not kinds & {"AWS::S3::Bucket", "AWS::ECR::Repository", "AWS::IAM::ManagedPolicy"}
    text = json.dumps(account_template["Outputs"]["SdkAccountResources"]["Value"])
    for key in (
        "job_queue_arn",
        "compute_environment_arn",
        "execution_role_arn",
        "log_group",
        "job_role_arn",
    ):
        assert key in text


def test_sdk_account_stack_refuses_an_account_without_sdks_or_with_two_roles(go_elsewhere, tmp_path_factory):
    with pytest.raises(
        InfraConfigError, match="no SDK has a role_arn in account 999999999999; .*210987654321"
    ):
        synth_template(go_elsewhere, "999999999999")
    two = config_with(
        tmp_path_factory, go=GO_ROLE, rust=f"arn:aws:iam::{GO_ACCOUNT}:role/another-airflow-role"
    )
    with pytest.raises(
        InfraConfigError, match="SDKs go, rust are in account 210987654321 with different role_arn"
    ):
        synth_template(two, GO_ACCOUNT)


@pytest.mark.parametrize("which", ["central", "account"])
def test_both_templates_pass_cfn_lint_and_checkov(which, central, account_template, tools_bin, tmp_path):
    template = central if which == "central" else account_template
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template, indent=1))
    lint = subprocess.run(
        [str(tools_bin / "cfn-lint"), "--format", "json", str(path)],
        capture_output=True, text=True, timeout=300, env=env_without_aws(),
    )  # fmt: skip
    findings = [f for f in json.loads(lint.stdout or "[]") if f["Level"] in ("Error", "Warning")]
    assert not findings, [f"{f['Rule']['Id']}: {f['Message']}" for f in findings]
    checkov = subprocess.run(
        [str(tools_bin / "checkov"), "--file", str(path), "--framework", "cloudformation", "--skip-download",
         "--output", "json"],
        capture_output=True, text=True, timeout=300, env=env_without_aws(),
    )  # fmt: skip
    report = json.loads(checkov.stdout)
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in report["results"]["failed_checks"]
    ]
    assert not failed, failed
