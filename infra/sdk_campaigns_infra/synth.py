"""Build the CDK app for a campaign config, and synthesize its template in-process."""

from __future__ import annotations

import tempfile

import aws_cdk as cdk

from sdk_campaigns.config import CampaignConfig, load_config
from sdk_campaigns_infra.sdk_account_stack import SdkAccountStack, account_stack_name
from sdk_campaigns_infra.stack import CampaignStack


def build_app(
    config: CampaignConfig | None = None, outdir: str | None = None, sdk_account: str | None = None
) -> cdk.App:
    """The CDK app of `config` (default: the campaign config file); the `cdk` CLI passes its context.
    With `sdk_account` (or `cdk deploy -c sdk_account=ACCOUNT`): that SDK account's stack instead."""
    # No bootstrap: no bootstrap-version Parameter or Rule (a plain CloudFormation deploy and moto
    # can't satisfy them), and `cdk deploy` uses the caller's credentials. The stack has no assets.
    app = cdk.App(
        outdir=outdir,
        analytics_reporting=False,  # no AWS::CDK::Metadata resource
        default_stack_synthesizer=cdk.BootstraplessSynthesizer(),
    )
    sdk_account = sdk_account or app.node.try_get_context("sdk_account")
    if sdk_account:
        SdkAccountStack(app, config or load_config(), str(sdk_account))
    else:
        CampaignStack(app, config or load_config())
    return app


def synth_template(config: CampaignConfig | None = None, sdk_account: str | None = None) -> dict:
    """The CloudFormation template (a dict) for `config` (default: the campaign config file): the
    campaign's stack, or with `sdk_account` that SDK account's stack (docs/accounts.md)."""
    config = config or load_config()
    name = account_stack_name(config) if sdk_account else config.infra.stack_name
    with tempfile.TemporaryDirectory(prefix="sdkc-cdk-") as outdir:
        assembly = build_app(config, outdir=outdir, sdk_account=sdk_account).synth()
        return assembly.get_stack_by_name(name).template
