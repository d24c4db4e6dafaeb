"""The local stack's AWS account, as production has it: the campaign's CloudFormation stack deployed
into moto (the same template `sdk-campaigns infra deploy` sends to AWS), IAM enforced, and one
identity per actor:

- the administrator (dev/moto_server.py makes it): deploys the stack; tests look around with it;
- Airflow: an IAM user with the stack's Airflow policy and nothing else, in the `aws_default`
  connection, so a call missing from that policy fails locally as it would in production;
- each Batch job: its SDK's job role, served by the container credentials endpoint.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from functools import cache
from pathlib import Path

from sdk_campaigns.config import REPO_ROOT, CampaignConfig, data_home, load_config
from sdk_campaigns.dev.moto_server import ACCOUNT, ADMIN_PATH
from sdk_campaigns.dev.moto_server import url as moto_url

REGION = "us-east-1"
AIRFLOW_KEYS_FILE = "airflow-keys.json"


@cache
def _admin_keys(url: str) -> dict:
    with urllib.request.urlopen(f"{url}{ADMIN_PATH}", timeout=5) as response:
        return json.load(response)


def admin_session():
    """A boto3 session as the local account's administrator (moto's endpoint: see `client`)."""
    import boto3

    keys = _admin_keys(moto_url())
    return boto3.session.Session(
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        region_name=REGION,
    )


# moto gap: with IAM enforced it checks the signature over the decompressed body, so a request
# botocore gzips (PutMetricData over 10 KB) fails with SignatureDoesNotMatch. Local clients send
# plain bodies; AWS takes either.
NO_COMPRESSION = {"AWS_DISABLE_REQUEST_COMPRESSION": "true"}


def admin_client(service: str):
    from botocore.config import Config

    return admin_session().client(
        service, endpoint_url=moto_url(), config=Config(disable_request_compression=True)
    )


def admin_s3_filesystem():
    """A pyarrow S3 filesystem as the administrator: tests read the s3:// history with it."""
    from pyarrow import fs as pafs

    keys = _admin_keys(moto_url())
    return pafs.S3FileSystem(
        access_key=keys["AccessKeyId"],
        secret_key=keys["SecretAccessKey"],
        region=REGION,
        endpoint_override=moto_url().removeprefix("http://"),
        scheme="http",
    )


def admin_environment() -> dict[str, str]:
    """Environment variables for a process that acts as the administrator (the Fargate-limits
    watcher, `sdk-campaigns infra deploy` against the local stack)."""
    keys = _admin_keys(moto_url())
    return {
        "AWS_ACCESS_KEY_ID": keys["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_url(),
        **NO_COMPRESSION,
    }


def with_own_names(raw: dict, name: str) -> dict:
    """A campaign config (as read from its YAML) whose every AWS name is made from `name`: its stack
    lives beside the local stack's in one moto account (tests and benchmarks). Changed in place."""
    raw["campaign"].update(results_bucket=f"{name}-results", ecr_repository_prefix=name)
    raw["batch"].update(
        compute_environment=f"{name}-fargate",
        job_queue=name,
        job_definition_prefix=name,
        execution_role_name=f"{name}-batch-execution",
        job_role_name=f"{name}-batch-job",
        service_role_name=f"{name}-batch-service",
    )
    raw.setdefault("events", {}).update(
        queue_name=f"{name}-events", dead_letter_queue_name=f"{name}-events-dead-letters"
    )
    raw.setdefault("infra", {}).update(stack_name=name, log_group=f"/aws/batch/{name}")
    return raw


def _infra_sources_hash(config_text: str) -> str:
    digest = hashlib.sha256(config_text.encode())
    for path in sorted((REPO_ROOT / "infra" / "sdk_campaigns_infra").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def campaign_template(config: CampaignConfig, config_text: str, sdk_account: str | None = None) -> dict:
    """The synthesized template (with `sdk_account`: that SDK account's stack), kept per config and infra
    source (a synth takes ~10 s)."""
    from sdk_campaigns import stack_deploy

    suffix = f"-{sdk_account}" if sdk_account else ""
    cache_file = data_home() / "stack" / f"template-{_infra_sources_hash(config_text)}{suffix}.json"
    if cache_file.exists():
        return json.loads(cache_file.read_text())
    template = stack_deploy.synthesize(config, sdk_account)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    cache_file.write_text(json.dumps(template))
    return template


def ensure_campaign_stack(
    config_path: Path | None = None, account: str = ACCOUNT, sdk_account: str | None = None
) -> str:
    """Deploy the campaign's stack (with `sdk_account`: that SDK account's stack, into it) into moto as
    the administrator of `account`, then make what moto's CloudFormation leaves out (moto gaps:
    infra/sdk_campaigns_infra/moto_gaps.py)."""
    from sdk_campaigns import stack_deploy
    from sdk_campaigns.campaign.accounts import account_stack_name
    from sdk_campaigns.config import config_path as default_config_path

    path = config_path or default_config_path()
    config = load_config(path)
    template = campaign_template(config, path.read_text(), sdk_account)
    account = sdk_account or account
    client = admin_client if account == ACCOUNT else account_admin_client(account)
    name = account_stack_name(config) if sdk_account else config.infra.stack_name
    lines: list[str] = []
    outputs = stack_deploy.deploy(
        client("cloudformation"), config, template, progress=lines.append, stack_name=name
    )
    # Not only after a synthesis: a template cached by an earlier `local up` needs none.
    stack_deploy.infra_importable()
    from sdk_campaigns_infra.moto_gaps import fill_moto_gaps

    fill_moto_gaps(template, client, account=account, region=REGION)
    state = lines[-1].strip() if lines else "deployed"
    return f"{name} in {account}: {state} ({len(outputs)} outputs)"


# --- other accounts: an SDK in its own (docs/accounts.md), or a campaign of its own in tests ----------

ACCOUNT_ADMIN_ROLE = "sdk-campaigns-account-admin"


def _account_admin_template() -> dict:
    return {
        "Resources": {
            "AdminRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": ACCOUNT_ADMIN_ROLE,
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    },
                },
            },
            "Everything": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "ManagedPolicyName": f"{ACCOUNT_ADMIN_ROLE}-everything",
                    "Roles": [{"Ref": "AdminRole"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                    },
                },
            },
        }
    }


@cache
def account_admin_session(account: str):
    """A boto3 session as an administrator of another moto account, reached as an AWS Organizations
    management account reaches a member account: by assuming a role there.

    moto gaps: a fresh moto account has no identity, and the OrganizationAccountAccessRole moto's
    Organizations makes in a new account has no policy, so under IAM enforcement nothing could act
    there. A StackSet instance (which moto, like AWS, deploys into the target account) makes that role
    with an administrator policy; the local administrator then assumes it."""
    import boto3
    from botocore.exceptions import ClientError

    cloudformation = admin_client("cloudformation")
    stack_set = f"{ACCOUNT_ADMIN_ROLE}-{account}"
    try:
        cloudformation.describe_stack_set(StackSetName=stack_set)
    except ClientError:
        cloudformation.create_stack_set(
            StackSetName=stack_set,
            TemplateBody=json.dumps(_account_admin_template()),
            Capabilities=["CAPABILITY_NAMED_IAM"],
            PermissionModel="SELF_MANAGED",
        )
    cloudformation.create_stack_instances(StackSetName=stack_set, Accounts=[account], Regions=[REGION])
    credentials = admin_client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{ACCOUNT_ADMIN_ROLE}", RoleSessionName="local-stack-admin"
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def account_admin_client(account: str):
    """`client(service)` as the administrator of `account` (see account_admin_session)."""
    from botocore.config import Config

    def client(service: str):
        return account_admin_session(account).client(
            service, endpoint_url=moto_url(), config=Config(disable_request_compression=True)
        )

    return client


def _airflow_user() -> str:
    # One user per SDK_CAMPAIGNS_HOME: homes share moto, and IAM allows two keys per user.
    home = hashlib.sha256(str(data_home().resolve()).encode()).hexdigest()[:10]
    return f"sdk-campaigns-airflow-{home}"


def airflow_keys() -> dict | None:
    """The Airflow user's keys, once ensure_airflow_identity made them (None before)."""
    path = data_home() / "stack" / AIRFLOW_KEYS_FILE
    return json.loads(path.read_text()) if path.exists() else None


def _keys_work(keys: dict) -> bool:
    import boto3
    from botocore.exceptions import ClientError

    sts = boto3.client(
        "sts",
        endpoint_url=moto_url(),
        region_name=REGION,
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
    )
    try:
        return sts.get_caller_identity()["Arn"].endswith(f"user/{_airflow_user()}")
    except ClientError:
        return False


def ensure_airflow_identity(stack_name: str | None = None) -> str:
    """An IAM user with the stack's Airflow policy only: the `aws_default` connection's keys."""
    keys = airflow_keys()
    if keys and _keys_work(keys):
        return f"user {_airflow_user()} (the stack's Airflow policy)"
    stack_name = stack_name or load_config().infra.stack_name
    # moto gap: after an update_stack, a managed policy's Ref resolves to None, so the AirflowPolicyArn
    # output goes missing; the policy itself keeps its name (<stack>-airflow, as the template sets it).
    policy_arn = f"arn:aws:iam::{ACCOUNT}:policy/{stack_name}-airflow"
    iam, user = admin_client("iam"), _airflow_user()
    try:
        iam.create_user(UserName=user)
    except iam.exceptions.EntityAlreadyExistsException:
        for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    iam.attach_user_policy(UserName=user, PolicyArn=policy_arn)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    path = data_home() / "stack" / AIRFLOW_KEYS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(
        json.dumps({"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]})
    )
    return f"user {user} with {stack_name}-airflow only"
