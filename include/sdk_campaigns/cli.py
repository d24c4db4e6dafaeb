"""The `sdk-campaigns` command: the local stack, a demo campaign, and JUnit files."""

from __future__ import annotations

import argparse
import json
import sys


def _local(args: argparse.Namespace) -> int:
    from sdk_campaigns import local_stack

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


def _demo(args: argparse.Namespace) -> int:
    from sdk_campaigns import demo

    return demo.run_demo(args)


def _junit_summarize(args: argparse.Namespace) -> int:
    from sdk_campaigns.junit import JUnitError, parse_junit_file, summarize

    try:
        summary = summarize(parse_junit_file(args.file))
    except JUnitError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"file": args.file, **summary}))
        return 0
    flaky = f" ({summary['flaky']} flaky: passed on a rerun)" if summary["flaky"] else ""
    print(args.file)
    for key in ("testcases", "passed", "failed", "error", "skipped"):
        print(f"  {key:<10} {summary[key]:>7}{flaky if key == 'passed' else ''}")
    print(f"  {'total time':<10} {summary['total_time']:>9.3f} s")
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

    demo_parser = commands.add_parser(
        "demo", help="run a real campaign on the local stack and print the results"
    )
    demo_parser.add_argument("--sdks", nargs="*", default=None, help="SDKs to test (default: all configured)")
    demo_parser.add_argument("--ref", default=None, help="git ref to record with the results")
    demo_parser.set_defaults(func=_demo)

    junit = commands.add_parser("junit", help="read JUnit XML files the way a campaign does")
    junit_commands = junit.add_subparsers(dest="junit_command", required=True)
    summarize = junit_commands.add_parser(
        "summarize", help="count one file's test cases by status; exit 2 if it cannot be parsed"
    )
    summarize.add_argument("file", help="a JUnit XML file")
    summarize.add_argument("--json", action="store_true", help="print one JSON object instead")
    summarize.set_defaults(func=_junit_summarize)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
