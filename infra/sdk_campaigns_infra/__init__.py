"""The sdk-campaigns CDK app: one CloudFormation stack with everything a campaign needs.

Importable with `infra/` on sys.path. `synth_template(config)` synthesizes in-process with no AWS
account and no `cdk bootstrap`; `python -m sdk_campaigns_infra template` prints the template.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
try:
    import sdk_campaigns  # noqa: F401
except ImportError:  # a checkout without `pip install -e .`: the library lives in include/
    sys.path.insert(0, str(REPO_ROOT / "include"))

# jsii prints a banner on Node 20 (the machine's Node.js), which still runs it; keep output clean.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from sdk_campaigns_infra.layout import job_results_pattern, job_results_resource  # noqa: E402
from sdk_campaigns_infra.stack import RESOURCES_OUTPUT, CampaignStack, InfraConfigError, output_key  # noqa: E402
from sdk_campaigns_infra.synth import build_app, synth_template  # noqa: E402

__all__ = [
    "RESOURCES_OUTPUT",
    "CampaignStack",
    "InfraConfigError",
    "build_app",
    "job_results_pattern",
    "job_results_resource",
    "output_key",
    "synth_template",
]
