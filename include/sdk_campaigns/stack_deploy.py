"""`sdk-campaigns infra template|deploy`: the CDK app (infra/) as a CloudFormation template, and
that template deployed as the campaign's stack, idempotently (create, update, or nothing to do).

The DAG reads the stack's outputs straight from CloudFormation (campaign.resources), so deploying
is the only step: nothing is recorded anywhere else. `cdk deploy` from infra/ makes the same stack.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable

from sdk_campaigns.config import REPO_ROOT, CampaignConfig

INFRA_DIR = REPO_ROOT / "infra"
# CloudFormation takes a template body up to this size; a larger one must come from S3.
TEMPLATE_BODY_LIMIT = 51_200
FAILED_STATES = ("CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE",
                 "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED", "DELETE_COMPLETE")  # fmt: skip
NO_UPDATES = "No updates are to be performed"
USABLE_STATES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
TEMPLATE_TAG = "sdk-campaigns:template"  # the deployed template's hash: the same one is not sent again


class DeployError(RuntimeError):
    """The stack could not be synthesized or deployed; the message says why (CloudFormation's events)."""


def infra_importable() -> None:
    """The CDK app's package (infra/sdk_campaigns_infra) importable in this process: it lives beside
    the DAG package in a checkout, not in the venv."""
    if str(INFRA_DIR) not in sys.path:
        sys.path.insert(0, str(INFRA_DIR))


def synthesize(config: CampaignConfig, sdk_account: str | None = None) -> dict:
    """The stack's template for this config (needs aws-cdk-lib and Node.js; no AWS account); with
    `sdk_account`, the stack of that SDK account (docs/accounts.md)."""
    infra_importable()
    try:
        from sdk_campaigns_infra import InfraConfigError, synth_template
    except ImportError as err:
        raise DeployError(
            f"the CDK app cannot be loaded ({err}): run from a checkout with infra/, in the project's venv "
            f"(`make install` installs aws-cdk-lib)"
        ) from err
    try:
        return synth_template(config, sdk_account)
    except InfraConfigError as err:
        raise DeployError(str(err)) from err


def _stack(cloudformation, name: str) -> dict | None:
    try:
        return cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except cloudformation.exceptions.ClientError as err:
        if "does not exist" in str(err):
            return None
        raise


def _failure_reasons(cloudformation, name: str) -> str:
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    reasons = [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', e['ResourceStatus'])}"
        for e in events
        if e["ResourceStatus"].endswith("_FAILED")
    ]
    return "; ".join(reasons[:10]) or "no failure events recorded"


def deploy(
    cloudformation,
    config: CampaignConfig,
    template: dict,
    *,
    timeout: float = 1800,
    progress: Callable[[str], None] = print,
    stack_name: str | None = None,
) -> dict[str, str]:
    """Create or update the campaign's stack (or `stack_name`) from `template` and wait; returns its
    outputs."""
    name = stack_name or config.infra.stack_name
    body = json.dumps(template, separators=(",", ":"), sort_keys=True)
    template_hash = hashlib.sha256(body.encode()).hexdigest()[:16]
    if len(body) > TEMPLATE_BODY_LIMIT:
        raise DeployError(
            f"the template is {len(body)} bytes, over CloudFormation's {TEMPLATE_BODY_LIMIT}-byte limit "
            f"for a template body: deploy with `cdk deploy` from infra/ (it uploads the template to S3)"
        )
    arguments = {
        "StackName": name,
        "TemplateBody": body,
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "Tags": [
            {"Key": "sdk-campaigns:campaign", "Value": config.campaign.dag_id},
            {"Key": TEMPLATE_TAG, "Value": template_hash},
            *({"Key": k, "Value": v} for k, v in sorted(config.infra.tags.items())),
        ],
    }
    existing = _stack(cloudformation, name)
    if existing is not None and existing["StackStatus"] == "ROLLBACK_COMPLETE":
        # A stack whose creation failed can only be deleted, then created again.
        progress(f"stack {name} is ROLLBACK_COMPLETE from a failed create: deleting it first")
        cloudformation.delete_stack(StackName=name)
        _wait(cloudformation, name, ("DELETE_COMPLETE",), timeout, progress, gone_ok=True)
        existing = None
    if existing is not None and existing["StackStatus"] in USABLE_STATES:
        tags = {t["Key"]: t["Value"] for t in existing.get("Tags", [])}
        if tags.get(TEMPLATE_TAG) == template_hash:
            progress(f"stack {name} is up to date")
            return outputs(existing)
    if existing is None:
        progress(f"creating stack {name}")
        cloudformation.create_stack(**arguments)
        done = ("CREATE_COMPLETE",)
    else:
        try:
            cloudformation.update_stack(**arguments)
        except cloudformation.exceptions.ClientError as err:
            if NO_UPDATES not in str(err):
                raise
            progress(f"stack {name} is up to date")
            return outputs(_stack(cloudformation, name))
        progress(f"updating stack {name}")
        done = ("UPDATE_COMPLETE",)
    return outputs(_wait(cloudformation, name, done, timeout, progress))


def _wait(
    cloudformation, name: str, done: tuple[str, ...], timeout: float, progress, *, gone_ok=False
) -> dict:
    deadline, status = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        stack = _stack(cloudformation, name)
        if stack is None and gone_ok:
            return {}
        if stack["StackStatus"] != status:
            status = stack["StackStatus"]
            progress(f"  {name}: {status}")
        if status in done:
            return stack
        if status in FAILED_STATES:
            raise DeployError(f"stack {name} is {status}: {_failure_reasons(cloudformation, name)}")
        time.sleep(2)
    raise DeployError(f"stack {name} still {status} after {timeout:.0f} s")


def outputs(stack: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
