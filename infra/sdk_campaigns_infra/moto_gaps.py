"""After a CloudFormation deploy into moto: make what moto's CloudFormation skipped, as AWS would have.

The template is the production one, unchanged; each step below names the moto (5.2) gap it covers
and applies the template's own values through the service APIs. Call it only against moto.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from sdk_campaigns_infra.render import Renderer, resources_of_type

log = logging.getLogger(__name__)

# Types moto's CloudFormation does not create (it logs "No Moto CloudFormation support" and goes on).
MOTO_SKIPPED_TYPES = {
    "AWS::CodeBuild::Project",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueuePolicy",  # moto's EventBridge delivers to SQS in-process, asking no queue policy
}
# moto gap: it checks SQS's batch calls as actions of their own; IAM authorizes each as its single call.
SQS_BATCH_ACTIONS = {
    "sqs:DeleteMessage": "sqs:DeleteMessageBatch",
    "sqs:SendMessage": "sqs:SendMessageBatch",
    "sqs:ChangeMessageVisibility": "sqs:ChangeMessageVisibilityBatch",
}


def fill_moto_gaps(template: dict, client: Callable[[str], object], account: str, region: str) -> list[str]:
    """Apply what moto left out; returns one line per step taken (for logs and tests)."""
    render = Renderer(template, account=account, region=region)
    steps: list[str] = []
    for resource in resources_of_type(template, "AWS::CodeBuild::Project").values():
        steps.append(_create_codebuild_project(client("codebuild"), render(resource["Properties"])))
    for resource in resources_of_type(template, "AWS::S3::Bucket").values():
        steps.extend(_bucket_settings(client("s3"), render(resource["Properties"])))
    for resource in resources_of_type(template, "AWS::ECR::Repository").values():
        steps.extend(_repository_settings(client("ecr"), render(resource["Properties"])))
    for resource in resources_of_type(template, "AWS::IAM::Role").values():
        steps.extend(_inline_policies(client("iam"), render(resource["Properties"])))
        steps.extend(_managed_policies(client("iam"), render(resource["Properties"])))
    for resource in resources_of_type(template, "AWS::IAM::ManagedPolicy").values():
        steps.append(_enforceable_managed_policy(client("iam"), render(resource["Properties"]), account))
    # Not applied: the bucket's and topic's TLS-only policies (moto's gap: no BucketPolicy or
    # TopicPolicy in CloudFormation). Locally the endpoint is plain HTTP, so aws:SecureTransport is
    # false on every request and those Deny statements would refuse everything they cover.
    return steps


def moto_enforceable(document: dict) -> dict:
    """The same policy, in the form moto's IAM enforcement can evaluate (AWS would grant the same).

    moto gaps: it compares action names case-sensitively, and names Batch's actions in lower case
    (`batch:describejobqueues`) while IAM itself ignores case: each action is listed in lower case too.
    It names CloudWatch's actions `monitoring:*`, checks HeadBucket as `s3:HeadBucket` (AWS: ListBucket)
    and SQS's batch calls as `sqs:DeleteMessageBatch` etc. (AWS: the single call's action): those are
    listed too.
    It checks every service but S3 against resource "*" only, so a statement scoped to ARNs never
    matches there: those statements get "*". S3 statements keep their resources, which moto does
    check: the job roles' per-SDK prefixes hold locally exactly as on AWS.
    """
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    widened = []
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        # moto gap: it names CloudWatch's actions by the API's endpoint prefix (monitoring:PutMetricData).
        aliases = [f"monitoring:{a.split(':', 1)[1]}" for a in actions if a.startswith("cloudwatch:")]
        # moto gap: it asks HeadBucket as "s3:HeadBucket", an action IAM lacks (AWS asks s3:ListBucket).
        aliases += ["s3:HeadBucket" for a in actions if a == "s3:ListBucket"]
        aliases += [SQS_BATCH_ACTIONS[a] for a in actions if a in SQS_BATCH_ACTIONS]
        statement = {**statement, "Action": sorted({*actions, *aliases, *(a.lower() for a in actions)})}
        if not all(action.startswith("s3:") for action in actions):
            statement["Resource"] = "*"
        widened.append(statement)
    return {**document, "Statement": widened}


def _enforceable_managed_policy(iam, props: dict, account: str) -> str:
    """The Airflow policy as moto can enforce it (see moto_enforceable), as its default version."""
    arn = f"arn:aws:iam::{account}:policy/{props['ManagedPolicyName']}"
    document = moto_enforceable(props["PolicyDocument"])
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    default = next(v for v in versions if v["IsDefaultVersion"])
    current = iam.get_policy_version(PolicyArn=arn, VersionId=default["VersionId"])["PolicyVersion"][
        "Document"
    ]
    if current == document:
        return f"iam {props['ManagedPolicyName']}: enforceable by moto already"
    for old in versions:  # IAM keeps five versions at most
        if not old["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=arn, VersionId=old["VersionId"])
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True)
    return f"iam {props['ManagedPolicyName']}: default version enforceable by moto"


def _create_codebuild_project(codebuild, props: dict) -> str:
    """moto gap: AWS::CodeBuild::Project is not supported by its CloudFormation."""
    name = props["Name"]
    if codebuild.batch_get_projects(names=[name])["projects"]:
        return f"codebuild project {name}: exists"
    source, environment = props["Source"], props["Environment"]
    logs = props["LogsConfig"]["CloudWatchLogs"]
    codebuild.create_project(
        name=name,
        description=props.get("Description", ""),
        source={"type": source["Type"], "location": source["Location"], "buildspec": source["BuildSpec"]},
        artifacts={"type": props["Artifacts"]["Type"]},
        environment={
            "type": environment["Type"],
            "image": environment["Image"],
            "computeType": environment["ComputeType"],
            "privilegedMode": environment["PrivilegedMode"],
            "environmentVariables": [
                {"name": v["Name"], "value": v["Value"], "type": v.get("Type", "PLAINTEXT")}
                for v in environment.get("EnvironmentVariables", [])
            ],
        },
        serviceRole=props["ServiceRole"],
        timeoutInMinutes=props["TimeoutInMinutes"],
        logsConfig={"cloudWatchLogs": {"status": logs["Status"], "groupName": logs["GroupName"]}},
        tags=[{"key": t["Key"], "value": t["Value"]} for t in props.get("Tags", [])],
    )
    return f"codebuild project {name}: created"


def _lifecycle_rule(rule: dict) -> dict:
    converted = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": rule["ExpirationInDays"]}
    if "NoncurrentVersionExpiration" in rule:
        converted["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        }
    if "AbortIncompleteMultipartUpload" in rule:
        converted["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return converted


def _bucket_settings(s3, props: dict) -> list[str]:
    """moto gap: its CloudFormation ignores a bucket's public access block, ownership and lifecycle."""
    bucket, steps = props["BucketName"], []
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
        steps.append(f"s3 {bucket}: public access block")
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=props["OwnershipControls"])
        steps.append(f"s3 {bucket}: ownership controls")
    if "LifecycleConfiguration" in props:
        rules = [_lifecycle_rule(rule) for rule in props["LifecycleConfiguration"]["Rules"]]
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
        steps.append(f"s3 {bucket}: lifecycle")
    return steps


def _repository_settings(ecr, props: dict) -> list[str]:
    """moto gap: its CloudFormation ignores a repository's lifecycle policy and scan-on-push."""
    name, steps = props["RepositoryName"], []
    if "LifecyclePolicy" in props:
        text = props["LifecyclePolicy"]["LifecyclePolicyText"]
        ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=text)
        steps.append(f"ecr {name}: lifecycle ({len(json.loads(text)['rules'])} rule)")
    if "ImageScanningConfiguration" in props:
        ecr.put_image_scanning_configuration(
            repositoryName=name,
            imageScanningConfiguration={"scanOnPush": props["ImageScanningConfiguration"]["ScanOnPush"]},
        )
        steps.append(f"ecr {name}: scan on push")
    return steps


def _inline_policies(iam, props: dict) -> list[str]:
    """moto gap: its CloudFormation stores a role's inline policies as Python reprs, not JSON, which
    its own IAM enforcement cannot read. Put them again as JSON, in the form moto can enforce."""
    steps = []
    for policy in props.get("Policies", []):
        iam.put_role_policy(
            RoleName=props["RoleName"],
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(moto_enforceable(policy["PolicyDocument"])),
        )
        steps.append(f"iam {props['RoleName']}: inline policy {policy['PolicyName']} as JSON")
    return steps


def _managed_policies(iam, props: dict) -> list[str]:
    """moto gap: its CloudFormation does not attach a role's ManagedPolicyArns."""
    steps = []
    for arn in props.get("ManagedPolicyArns", []):
        try:
            iam.attach_role_policy(RoleName=props["RoleName"], PolicyArn=arn)
            steps.append(f"iam {props['RoleName']}: attached {arn}")
        except iam.exceptions.NoSuchEntityException:
            # moto knows AWS-managed policies only with MOTO_IAM_LOAD_MANAGED_POLICIES=true.
            steps.append(f"iam {props['RoleName']}: {arn} unknown to this moto, not attached")
    return steps
