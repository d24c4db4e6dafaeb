"""`python -m sdk_campaigns_infra template|policy [--config FILE]` (with infra/ on sys.path).

template: the stack's CloudFormation template (JSON), as `cdk synth` makes it.
policy:   the Airflow role's policy from that template, rendered (docs/deploying.md shows it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sdk_campaigns.config import ConfigError, load_config
from sdk_campaigns_infra import InfraConfigError, synth_template
from sdk_campaigns_infra.render import airflow_policy_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sdk_campaigns_infra")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("template", "print the synthesized CloudFormation template (JSON)"),
        ("policy", "print the Airflow role's policy document of that template"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument(
            "--config",
            type=Path,
            help="campaign config (default: SDK_CAMPAIGNS_CONFIG or include/campaign.yaml)",
        )
    args = parser.parse_args(argv)
    try:
        template = synth_template(load_config(args.config))
    except (ConfigError, InfraConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(template, indent=1) if args.command == "template" else airflow_policy_json(template))
    return 0


if __name__ == "__main__":
    sys.exit(main())
