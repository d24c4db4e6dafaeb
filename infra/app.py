#!/usr/bin/env python3
"""`cdk` entry point (cdk.json): the sdk-campaigns stack for the campaign config.

The config is SDK_CAMPAIGNS_CONFIG or include/campaign.yaml; `cdk deploy` needs no `cdk bootstrap`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sdk_campaigns_infra import build_app  # noqa: E402

build_app().synth()
