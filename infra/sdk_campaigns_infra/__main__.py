"""`python -m sdk_campaigns_infra template [--config FILE]`: print the stack's CloudFormation template."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sdk_campaigns.config import ConfigError, load_config
from sdk_campaigns_infra import InfraConfigError, synth_template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sdk_campaigns_infra")
    commands = parser.add_subparsers(dest="command", required=True)
    template = commands.add_parser("template", help="print the synthesized CloudFormation template (JSON)")
    template.add_argument(
        "--config", type=Path, help="campaign config (default: SDK_CAMPAIGNS_CONFIG or include/campaign.yaml)"
    )
    args = parser.parse_args(argv)
    try:
        document = synth_template(load_config(args.config))
    except (ConfigError, InfraConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    json.dump(document, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
