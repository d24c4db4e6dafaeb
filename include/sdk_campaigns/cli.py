"""The `sdk-campaigns` command: the local stack and a demo campaign."""

from __future__ import annotations

import argparse
import sys

from sdk_campaigns import local_stack


def _local(args: argparse.Namespace) -> int:
    try:
        if args.action == "up":
            print("starting the local stack (idempotent)")
            local_stack.up(install=not args.no_install)
        elif args.action == "down":
            local_stack.down()
        else:
            checks = local_stack.status()
            for check in checks:
                print(f"  {'✔' if check.ok else '✘'} {check.name:<34} {check.detail}")
            return 0 if all(c.ok for c in checks) else 1
    except local_stack.StackError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sdk-campaigns", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="manage the local stack (Docker, moto, registry, Airflow home)")
    local.add_argument("action", choices=["up", "down", "status"])
    local.add_argument(
        "--no-install", action="store_true", help="use what runs already; never apt-get or start dockerd"
    )
    local.set_defaults(func=_local)

    from sdk_campaigns import demo

    demo_parser = commands.add_parser(
        "demo", help="run a real campaign on the local stack and print the results"
    )
    demo_parser.add_argument("--sdks", nargs="*", default=None, help="SDKs to test (default: all configured)")
    demo_parser.add_argument("--ref", default=None, help="git ref to record with the results")
    demo_parser.set_defaults(func=demo.run_demo)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
