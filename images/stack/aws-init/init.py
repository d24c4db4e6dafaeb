"""docker-compose's one-shot `aws-init`: compose's moto made into the campaign's AWS account, as
`sdk-campaigns local up` does for the local stack (dev/local_aws.py), then Airflow pointed at it.

1. the campaign config for compose: include/campaign.yaml with images.base_image in this stack's
   registry, where step 2 pushes it (SDK_CAMPAIGNS_CONFIG names the copy);
2. the base image (SDKC_BASE_IMAGE, in the host's engine: compose built every image on it) pushed
   to the registry, when the Docker socket is mounted here;
3. the CloudFormation stack deployed from the template prepare.sh synthesized on the host (the
   Airflow image has no CDK or Node.js), as the administrator, then moto's gaps filled;
4. an IAM user with the stack's Airflow policy only, whose keys become the `aws_default`
   connection (in the metadata database, which airflow-init migrated).
Every step is idempotent: `docker-compose up` runs it again on each start.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import stat
import subprocess
import sys
import types
import urllib.request
from pathlib import Path

REPO = Path("/opt/sdk-campaigns")
MOTO = os.environ.get("SDKC_MOTO_URL", "http://moto:5000")
REGION = "us-east-1"
REGISTRY = os.environ["SDKC_REGISTRY"]  # host:port, as the host's engine reaches the registry
BASE_REPOSITORY = "library/debian"
BASE_TAG = "bookworm-slim"
TEMPLATE = REPO / "images" / "stack" / "generated" / "template.json"
AIRFLOW_USER = "sdk-campaigns-airflow"


def say(message: str) -> None:
    print(f"[aws-init] {message}", flush=True)


def write_config() -> Path:
    target = Path(os.environ["SDK_CAMPAIGNS_CONFIG"])
    text = (REPO / "include" / "campaign.yaml").read_text()
    base = f"{REGISTRY}/{BASE_REPOSITORY}:{BASE_TAG}"
    text, found = re.subn(r"^(\s*base_image:\s*)\S+", rf"\g<1>{base}", text, count=1, flags=re.M)
    if not found:
        raise SystemExit("include/campaign.yaml has no images.base_image line to point at this registry")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def push_base_image() -> str:
    socket = Path("/var/run/docker.sock")
    if not (socket.exists() and stat.S_ISSOCK(socket.stat().st_mode)):
        return "no Docker socket here: the base image must already be in the registry"
    import docker

    client = docker.from_env()
    source = os.environ["SDKC_BASE_IMAGE"]
    client.images.get(source).tag(f"{REGISTRY}/{BASE_REPOSITORY}", BASE_TAG)
    for line in client.images.push(f"{REGISTRY}/{BASE_REPOSITORY}", BASE_TAG, stream=True, decode=True):
        if "error" in line:
            raise SystemExit(f"pushing the base image: {line['error']}")
    return f"{source} pushed as {REGISTRY}/{BASE_REPOSITORY}:{BASE_TAG}"


def admin_client(service: str):
    import boto3
    from botocore.config import Config

    with urllib.request.urlopen(f"{MOTO}/sdk-campaigns/admin-credentials", timeout=10) as response:
        keys = json.load(response)
    return boto3.client(
        service,
        endpoint_url=MOTO,
        region_name=REGION,
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        config=Config(disable_request_compression=True),
    )


def infra_module(name: str):
    """A module of infra/sdk_campaigns_infra without its package __init__, which imports aws_cdk."""
    if "sdk_campaigns_infra" not in sys.modules:
        package = types.ModuleType("sdk_campaigns_infra")
        package.__path__ = [str(REPO / "infra" / "sdk_campaigns_infra")]
        sys.modules["sdk_campaigns_infra"] = package
    return importlib.import_module(f"sdk_campaigns_infra.{name}")


def deploy_stack(config) -> str:
    from sdk_campaigns import stack_deploy
    from sdk_campaigns.dev.moto_server import ACCOUNT

    if not TEMPLATE.exists():
        raise SystemExit(f"{TEMPLATE} is missing: run images/stack/prepare.sh on the host first")
    template = json.loads(TEMPLATE.read_text())
    lines: list[str] = []
    outputs = stack_deploy.deploy(admin_client("cloudformation"), config, template, progress=lines.append)
    infra_module("moto_gaps").fill_moto_gaps(template, admin_client, account=ACCOUNT, region=REGION)
    return f"{config.infra.stack_name}: {lines[-1].strip() if lines else 'deployed'} ({len(outputs)} outputs)"


def airflow_keys(stack_name: str) -> dict:
    """New keys of the Airflow user (older ones deleted), which has the stack's Airflow policy only."""
    from sdk_campaigns.dev.moto_server import ACCOUNT

    iam = admin_client("iam")
    try:
        iam.create_user(UserName=AIRFLOW_USER)
    except iam.exceptions.EntityAlreadyExistsException:
        for key in iam.list_access_keys(UserName=AIRFLOW_USER)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=AIRFLOW_USER, AccessKeyId=key["AccessKeyId"])
    policy = f"arn:aws:iam::{ACCOUNT}:policy/{stack_name}-airflow"
    iam.attach_user_policy(UserName=AIRFLOW_USER, PolicyArn=policy)
    return iam.create_access_key(UserName=AIRFLOW_USER)["AccessKey"]


def set_connection(keys: dict) -> str:
    connection = {
        "conn_type": "aws",
        "login": keys["AccessKeyId"],
        "password": keys["SecretAccessKey"],
        # The registry extra names ECR's data plane (moto's ECR keeps no layers).
        "extra": {"endpoint_url": MOTO, "region_name": REGION, "sdk_campaigns_registry": REGISTRY},
    }
    subprocess.run(["airflow", "connections", "delete", "aws_default"], capture_output=True)
    subprocess.run(
        ["airflow", "connections", "add", "aws_default", "--conn-json", json.dumps(connection)],
        check=True,
        capture_output=True,
    )
    return f"aws_default: user {AIRFLOW_USER} at {MOTO}"


def main() -> int:
    from sdk_campaigns.config import load_config

    say(f"config {write_config()}")
    say(push_base_image())
    config = load_config()
    say(deploy_stack(config))
    say(set_connection(airflow_keys(config.infra.stack_name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
