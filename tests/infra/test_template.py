"""The synthesized template for include/campaign.yaml: least privilege, storage, logs, tags, outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sdk_campaigns_infra import job_results_resource
from sdk_campaigns_infra.layout import nested_results_pattern
from sdk_campaigns_infra.render import Renderer, airflow_policy, resources_of_type
from sdk_campaigns_infra.stack import CAMPAIGN_TAG, RESOURCES_OUTPUT, InfraConfigError, output_key

REPO_ROOT = Path(__file__).resolve().parents[2]

# The Describe/List calls and these have no resource-level permissions: the only "*" resources allowed.
UNSCOPED_ACTIONS = {
    "batch:DescribeComputeEnvironments",
    "batch:DescribeJobDefinitions",
    "batch:DescribeJobQueues",
    "batch:DescribeJobs",
    "batch:ListJobs",
    "ecr:GetAuthorizationToken",
    "cloudwatch:GetMetricData",
    "cloudwatch:PutMetricData",
    "sts:GetCallerIdentity",
}
AIRFLOW_ACTIONS = UNSCOPED_ACTIONS | {
    "batch:RegisterJobDefinition",
    "batch:DeregisterJobDefinition",
    "batch:SubmitJob",
    "batch:TerminateJob",
    "batch:TagResource",
    "ecr:DescribeRepositories",
    "ecr:DescribeImages",
    "ecr:BatchGetImage",
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "s3:GetBucketLocation",
    "s3:ListBucket",
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "logs:GetLogEvents",
    "logs:DescribeLogStreams",
    "sns:Publish",
    "codebuild:StartBuild",
    "codebuild:BatchGetBuilds",
    "cloudformation:DescribeStacks",
    "iam:PassRole",
    "iam:GetRole",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:SendMessage",
}
# CloudFormation has no Tags property for these types.
UNTAGGABLE = {
    "AWS::S3::BucketPolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::IAM::ManagedPolicy",
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::EC2::Route",
    "AWS::EC2::SubnetRouteTableAssociation",
}


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def iam_matches(pattern: str, value: str) -> bool:
    """IAM's wildcard matching: `*` is any run of characters (slashes included), `?` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


def statements(document: dict) -> list[dict]:
    return as_list(document["Statement"])


def may_write(document: dict, arn: str) -> bool:
    """Whether the policy lets s3:PutObject through for `arn` (an explicit Deny wins)."""

    def matched(effect: str) -> bool:
        return any(
            iam_matches(resource, arn)
            for s in statements(document)
            if s["Effect"] == effect and "s3:PutObject" in as_list(s["Action"])
            for resource in as_list(s["Resource"])
        )

    return matched("Allow") and not matched("Deny")


@pytest.fixture(scope="module")
def render(template):
    return Renderer(template)


def job_role_policy(template, render, role_name: str) -> dict:
    (role,) = [
        r
        for r in resources_of_type(template, "AWS::IAM::Role").values()
        if r["Properties"]["RoleName"] == role_name
    ]
    (policy,) = role["Properties"]["Policies"]
    return render(policy["PolicyDocument"])


def test_template_deploys_without_bootstrap_or_custom_resources(template):
    assert "Parameters" not in template and "Rules" not in template  # no bootstrap-version check
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert not [k for k in kinds if k.startswith("Custom::") or k.startswith("AWS::Lambda::")], kinds
    assert "AWS::CDK::Metadata" not in kinds
    # Small enough for CreateStack's TemplateBody (51,200 bytes): no S3 staging bucket needed.
    assert len(json.dumps(template, separators=(",", ":"))) < 51_200


def test_one_job_role_per_sdk_writes_only_its_own_results(template, render, campaign_config):
    bucket, dag_id = campaign_config.campaign.results_bucket, campaign_config.campaign.dag_id
    role_names = {r["Properties"]["RoleName"] for r in resources_of_type(template, "AWS::IAM::Role").values()}
    for sdk in campaign_config.sdk_names:
        assert f"{campaign_config.batch.job_role_name}-{sdk}" in role_names
    for sdk in campaign_config.sdk_names:
        document = job_role_policy(template, render, f"{campaign_config.batch.job_role_name}-{sdk}")
        allowed = [s for s in statements(document) if s["Effect"] == "Allow"]
        denied = [s for s in statements(document) if s["Effect"] == "Deny"]
        assert len(allowed) == 1
        assert set(as_list(allowed[0]["Action"])) == {"s3:PutObject", "s3:AbortMultipartUpload"}
        assert as_list(allowed[0]["Resource"]) == [job_results_resource(bucket, dag_id, sdk)]
        (deny,) = denied
        assert as_list(deny["Resource"]) == [f"arn:aws:s3:::{bucket}/{nested_results_pattern(dag_id)}"]

        run = f"arn:aws:s3:::{bucket}/{dag_id}/scheduled__2026-11-02T06:00:00+00:00"
        assert may_write(document, f"{run}/{sdk}/results/junit.xml")
        assert may_write(document, f"{run}/{sdk}/results/attempt-2/junit.xml")
        assert not may_write(document, f"{run}/{sdk}/outcome.json")  # the DAG's files beside results/
        assert not may_write(document, f"{run}/{sdk}/job.log")
        assert not may_write(document, f"{run}/validation.json")
        assert not may_write(document, f"arn:aws:s3:::{bucket}/history/sdk={sdk}/part-0.parquet")
        for other in campaign_config.sdk_names:
            if other != sdk:
                assert not may_write(document, f"{run}/{other}/results/junit.xml")
                assert not may_write(document, f"{run}/{other}/outcome.json")
                # IAM's * crosses slashes: the Deny keeps a job out of the other SDKs' results folders
                assert not may_write(document, f"{run}/{other}/results/{sdk}/results/junit.xml")


def test_airflow_policy_is_exactly_the_dags_calls(template, render, campaign_config):
    document = airflow_policy(template)
    actions = [a for s in statements(document) for a in as_list(s["Action"])]
    assert all(s["Effect"] == "Allow" for s in statements(document))
    assert set(actions) == AIRFLOW_ACTIONS
    assert not [a for a in actions if "*" in a]
    assert not [a for a in actions if a.startswith(("iam:Create", "iam:Put", "iam:Attach", "iam:Update"))]
    assert sorted(a for a in actions if a.startswith("iam:")) == ["iam:GetRole", "iam:PassRole"]
    (get_role,) = [s for s in statements(document) if "iam:GetRole" in as_list(s["Action"])]
    for statement in statements(document):
        if "*" in as_list(statement["Resource"]):
            assert as_list(statement["Resource"]) == ["*"]
            assert set(as_list(statement["Action"])) <= UNSCOPED_ACTIONS, statement

    (pass_role,) = [s for s in statements(document) if "iam:PassRole" in as_list(s["Action"])]
    assert as_list(pass_role["Action"]) == ["iam:PassRole"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    batch = campaign_config.batch
    expected_roles = [batch.execution_role_name] + [
        f"{batch.job_role_name}-{sdk}" for sdk in campaign_config.sdks
    ]
    assert sorted(as_list(pass_role["Resource"])) == sorted(
        f"arn:aws:iam::<account>:role/{name}" for name in expected_roles
    )
    assert sorted(as_list(get_role["Resource"])) == sorted(as_list(pass_role["Resource"]))

    # Every scoped resource is one of this stack's.
    scoped = {r for s in statements(document) for r in as_list(s["Resource"]) if r != "*"}
    bucket = campaign_config.campaign.results_bucket
    for resource in scoped:
        assert (
            f"{campaign_config.campaign.ecr_repository_prefix}/" in resource
            or f":::{bucket}" in resource
            or campaign_config.infra.stack_name in resource
            or campaign_config.infra.log_group in resource
            or f"/{batch.job_definition_prefix}" in resource
            or resource.endswith(":job/*")
            or "role/sdk-campaigns-batch-" in resource
        ), resource


def test_results_bucket_is_private_encrypted_tls_only_and_expires_raw_results(
    template, render, campaign_config
):
    ((name, bucket),) = resources_of_type(template, "AWS::S3::Bucket").items()
    props = bucket["Properties"]
    assert props["BucketName"] == campaign_config.campaign.results_bucket
    assert bucket["DeletionPolicy"] == "Retain"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]

    (policy,) = resources_of_type(template, "AWS::S3::BucketPolicy").values()
    assert policy["Properties"]["Bucket"] == {"Ref": name}
    (tls,) = statements(policy["Properties"]["PolicyDocument"])
    assert tls["Effect"] == "Deny" and tls["Action"] == "s3:*" and tls["Principal"] == {"AWS": "*"}
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    bucket_arn = f"arn:aws:s3:::{campaign_config.campaign.results_bucket}"
    assert sorted(render(tls["Resource"])) == [bucket_arn, f"{bucket_arn}/*"]

    rules = {rule["Id"]: rule for rule in props["LifecycleConfiguration"]["Rules"]}
    raw = rules["expire-raw-results"]
    assert raw["Prefix"] == f"{campaign_config.campaign.dag_id}/"
    assert raw["ExpirationInDays"] == campaign_config.infra.results_retention_days
    assert rules["expire-build-contexts"]["Prefix"] == campaign_config.infra.build_context_prefix
    # The history prefix is kept: no expiring rule covers it.
    history_key = f"{campaign_config.infra.history_prefix}sdk=python/part-0.parquet"
    for rule in rules.values():
        if "ExpirationInDays" in rule:
            assert rule.get("Prefix") and not history_key.startswith(rule["Prefix"]), rule


def test_overlapping_prefixes_are_refused(campaign_config):
    from sdk_campaigns_infra.stack import _check_prefixes

    infra = campaign_config.infra.model_copy(
        update={"history_prefix": f"{campaign_config.campaign.dag_id}/h/"}
    )
    with pytest.raises(InfraConfigError, match="history_prefix"):
        _check_prefixes(campaign_config.model_copy(update={"infra": infra}))


def test_log_group_has_the_configured_retention(template, campaign_config):
    groups = {
        g["Properties"]["LogGroupName"]: g
        for g in resources_of_type(template, "AWS::Logs::LogGroup").values()
    }
    job_logs = groups[campaign_config.infra.log_group]
    assert job_logs["Properties"]["RetentionInDays"] == campaign_config.infra.log_retention_days
    assert job_logs["DeletionPolicy"] == "Retain"
    assert all("RetentionInDays" in g["Properties"] for g in groups.values())


def test_one_immutable_scanned_repository_per_sdk_with_a_lifecycle(template, campaign_config):
    campaign = campaign_config.campaign
    repositories = {
        r["Properties"]["RepositoryName"]: r["Properties"]
        for r in resources_of_type(template, "AWS::ECR::Repository").values()
    }
    assert set(repositories) == {f"{campaign.ecr_repository_prefix}/{sdk}" for sdk in campaign_config.sdks}
    for props in repositories.values():
        assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
        assert props["ImageTagMutability"] == "IMMUTABLE"
        (rule,) = json.loads(props["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
        assert rule["selection"]["countType"] == "imageCountMoreThan"
        assert rule["selection"]["countNumber"] == campaign.ecr_keep_images


def test_fargate_compute_environment_and_queue(template, render, campaign_config):
    ((ce_name, ce),) = resources_of_type(template, "AWS::Batch::ComputeEnvironment").items()
    props = ce["Properties"]
    assert props["ComputeEnvironmentName"] == campaign_config.batch.compute_environment
    assert props["ComputeResources"]["Type"] == "FARGATE"
    assert props["ComputeResources"]["MaxvCpus"] == campaign_config.batch.max_vcpus
    # moto requires a ServiceRole; AWS accepts it: the stack's own role.
    assert (
        render(props["ServiceRole"])
        == f"arn:aws:iam::<account>:role/{campaign_config.batch.service_role_name}"
    )
    # include/campaign.yaml lists no subnets: the stack's VPC, two public subnets, its security group.
    subnets = props["ComputeResources"]["Subnets"]
    assert len(subnets) == 2 and all(
        template["Resources"][s["Ref"]]["Type"] == "AWS::EC2::Subnet" for s in subnets
    )
    (group,) = props["ComputeResources"]["SecurityGroupIds"]
    egress = template["Resources"][group["Fn::GetAtt"][0]]["Properties"]["SecurityGroupEgress"]
    assert sorted(rule["FromPort"] for rule in egress) == [80, 443]
    ((_, queue),) = resources_of_type(template, "AWS::Batch::JobQueue").items()
    assert queue["Properties"]["JobQueueName"] == campaign_config.batch.job_queue
    assert queue["Properties"]["ComputeEnvironmentOrder"] == [
        {"ComputeEnvironment": {"Ref": ce_name}, "Order": 1}
    ]


def test_every_taggable_resource_carries_the_cost_allocation_tags(template, campaign_config):
    expected = {CAMPAIGN_TAG: campaign_config.campaign.dag_id, **campaign_config.infra.tags}
    assert campaign_config.infra.tags, "include/campaign.yaml should show an extra tag"
    for name, resource in template["Resources"].items():
        if resource["Type"] in UNTAGGABLE:
            continue
        tags = resource["Properties"].get("Tags")
        assert tags is not None, f"{name} ({resource['Type']}) has no tags"
        found = tags if isinstance(tags, dict) else {tag["Key"]: tag["Value"] for tag in tags}  # Batch: a map
        assert expected.items() <= found.items(), name


def test_outputs_give_the_dag_every_resource(template, render, campaign_config):
    outputs = template["Outputs"]
    for key in (
        "ResultsBucketName",
        "JobQueueArn",
        "JobQueueName",
        "ComputeEnvironmentArn",
        "ExecutionRoleArn",
        "LogGroupName",
        "AlertsTopicArn",
        "ImageBuildProjectName",
        "AirflowPolicyArn",
    ):
        assert key in outputs
    for sdk in campaign_config.sdks:
        assert f"RepositoryUri{output_key(sdk)}" in outputs
        assert f"JobRoleArn{output_key(sdk)}" in outputs
    resources = json.loads(render(outputs[RESOURCES_OUTPUT]["Value"]))
    assert list(resources["sdks"]) == campaign_config.sdk_names
    python = resources["sdks"]["python"]
    assert python["repository_uri"] == "<account>.dkr.ecr.<region>.amazonaws.com/sdk-campaigns/python"
    assert python["job_role_arn"] == "arn:aws:iam::<account>:role/sdk-campaigns-batch-job-python"
    assert resources["results_bucket"] == campaign_config.campaign.results_bucket
    assert resources["log_group"] == campaign_config.infra.log_group
    assert resources["assign_public_ip"] == "ENABLED"


def test_output_keys_are_alphanumeric_and_collisions_refused():
    from sdk_campaigns_infra.stack import sdk_output_keys

    assert output_key("python") == "Python"
    assert output_key("node-js") == "NodeJs"
    assert output_key("c_plus_plus") == "CPlusPlus"
    with pytest.raises(InfraConfigError, match="rename one"):
        sdk_output_keys(["node-js", "node_js"])


def test_the_docs_show_the_airflow_policy_of_the_template(template):
    from sdk_campaigns_infra.render import airflow_policy_json

    docs = (REPO_ROOT / "docs" / "deploying.md").read_text()
    shown = re.search(r"<!-- airflow-policy -->\n```json\n(.*?)\n```", docs, re.DOTALL)
    assert shown, "docs/deploying.md: the policy goes in a ```json block after <!-- airflow-policy -->"
    assert shown.group(1) == airflow_policy_json(template), (
        "docs/deploying.md shows another policy: paste the output of "
        "`python -m sdk_campaigns_infra policy` (run in infra/) into it"
    )


def test_configured_network_and_the_template_command(campaign_config, tmp_path, capsys):
    """Subnets and security groups from the config: no VPC of the stack's; `template` prints JSON."""
    import yaml
    from sdk_campaigns_infra.__main__ import main

    raw = yaml.safe_load((REPO_ROOT / "include" / "campaign.yaml").read_text())
    raw["batch"].update(subnets=["subnet-0a1b2c3d4e5f60718"], security_groups=["sg-0a1b2c3d4e5f60718"])
    raw["sdks"] = {"node-js": raw["sdks"]["javascript"]}
    config_file = tmp_path / "campaign.yaml"
    config_file.write_text(yaml.safe_dump(raw))

    assert main(["template", "--config", str(config_file)]) == 0
    template = json.loads(capsys.readouterr().out)
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert not [k for k in kinds if k.startswith("AWS::EC2::")], kinds
    (environment,) = resources_of_type(template, "AWS::Batch::ComputeEnvironment").values()
    assert environment["Properties"]["ComputeResources"]["Subnets"] == ["subnet-0a1b2c3d4e5f60718"]
    assert environment["Properties"]["ComputeResources"]["SecurityGroupIds"] == ["sg-0a1b2c3d4e5f60718"]
    assert template["Outputs"]["AssignPublicIp"]["Value"] == "DISABLED"
    assert {"RepositoryUriNodeJs", "JobRoleArnNodeJs"} <= set(template["Outputs"])

    # A VPC id without its subnets would need a lookup (an AWS account at synth time): refused.
    raw["batch"]["subnets"] = []
    raw["infra"]["vpc_id"] = "vpc-0a1b2c3d4e5f60718"
    config_file.write_text(yaml.safe_dump(raw))
    assert main(["template", "--config", str(config_file)]) == 2
    assert "batch.subnets" in capsys.readouterr().err


def test_an_eventbridge_rule_feeds_the_events_queue_which_has_a_dead_letter_queue(
    template, render, campaign_config
):
    settings = campaign_config.events
    queues = {
        r["Properties"]["QueueName"]: (name, r)
        for name, r in resources_of_type(template, "AWS::SQS::Queue").items()
    }
    (queue_name, queue), (dlq_name, dlq) = (
        queues[settings.queue_name],
        queues[settings.dead_letter_queue_name],
    )
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_name, "Arn"]},
        "maxReceiveCount": 5,
    }
    # Longer than a dispatcher run takes to start a message's campaign and delete it.
    assert queue["Properties"]["VisibilityTimeout"] >= 300
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["Properties"]["SqsManagedSseEnabled"] and dlq["Properties"]["SqsManagedSseEnabled"]

    ((rule_name, rule),) = resources_of_type(template, "AWS::Events::Rule").items()
    assert rule["Properties"]["EventBusName"] == settings.event_bus
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [queue_name, "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_name, "Arn"]}}

    # Each queue's policy: EventBridge may send, for this rule only; nobody without TLS.
    policies = {
        p["Properties"]["Queues"][0]["Ref"]: p
        for p in resources_of_type(template, "AWS::SQS::QueuePolicy").values()
    }
    assert set(policies) == {queue_name, dlq_name}
    for name, policy in policies.items():
        tls, eventbridge = statements(policy["Properties"]["PolicyDocument"])
        assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert eventbridge["Effect"] == "Allow" and eventbridge["Action"] == "sqs:SendMessage"
        assert eventbridge["Principal"] == {"Service": "events.amazonaws.com"}
        assert eventbridge["Resource"] == {"Fn::GetAtt": [name, "Arn"]}
        assert eventbridge["Condition"] == {
            "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_name, "Arn"]}}
        }

    # Airflow receives and deletes on the events queue, and only sends to the dead-letter queue.
    document = airflow_policy(template)
    arn = "arn:aws:sqs:<region>:<account>:{}".format
    sqs_statements = {
        s["Resource"]: sorted(as_list(s["Action"]))
        for s in statements(document)
        if "sqs:" in str(s["Action"])
    }
    assert sqs_statements == {
        arn(settings.queue_name): ["sqs:DeleteMessage", "sqs:ReceiveMessage"],
        arn(settings.dead_letter_queue_name): ["sqs:SendMessage"],
    }

    resources = json.loads(render(template["Outputs"][RESOURCES_OUTPUT]["Value"]))
    assert resources["events_queue_url"] == f"<{queue_name}>"  # Ref: the queue's URL once deployed
    assert resources["events_dead_letter_queue_url"] == f"<{dlq_name}>"
    assert template["Outputs"]["EventsQueueUrl"]["Value"] == {"Ref": queue_name}


def _github(kind: str, detail: dict) -> dict:
    return {"source": "github.com", "detail-type": kind, "detail": detail}


@pytest.mark.parametrize(
    ("event", "forwarded"),
    [
        (_github("release", {"action": "published", "release": {"tag_name": "v1"}}), True),
        (_github("release", {"action": "created", "release": {"draft": True}}), False),
        (_github("release", {"action": "deleted"}), False),
        (_github("push", {"ref": "refs/heads/main", "deleted": False, "after": "a" * 40}), True),
        (_github("push", {"ref": "refs/heads/feature/x", "deleted": False}), True),  # the dispatcher decides
        (_github("push", {"ref": "refs/tags/v1", "deleted": False}), False),
        (_github("push", {"ref": "refs/heads/old", "deleted": True}), False),
        (_github("ping", {"zen": "Design for failure."}), False),
        ({"source": "sdk-campaigns", "detail-type": "run", "detail": {"sdk": "go", "ref": "v2"}}, True),
        ({"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": "x"}}}, False),
    ],
    ids=["release", "drafted", "deleted-release", "push-main", "push-branch", "push-tag", "branch-deleted",
         "ping", "plain", "other-source"],
)  # fmt: skip
def test_the_rule_forwards_releases_branch_pushes_and_plain_requests_only(template, event, forwarded):
    """The rule's pattern, evaluated by moto's EventBridge matcher (the one the local stack runs)."""
    from moto.events.models import EventPattern

    (rule,) = resources_of_type(template, "AWS::Events::Rule").values()
    pattern = EventPattern.load(json.dumps(rule["Properties"]["EventPattern"]))
    assert pattern.matches_event(event) is forwarded
