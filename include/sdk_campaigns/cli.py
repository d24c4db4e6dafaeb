"""The `sdk-campaigns` command: the local stack, a demo campaign, JUnit files and the history."""

from __future__ import annotations

import argparse
import json
import os
import sys


def _local(args: argparse.Namespace) -> int:
    from sdk_campaigns.dev import stack

    try:
        if args.action == "up":
            print("starting the local stack (idempotent)")
            stack.up(install=not args.no_install, ui=not args.no_ui)
        elif args.action == "down":
            stack.down()
        else:
            checks = stack.status()
            for check in checks:
                print(f"  {'✔' if check.ok else '✘'} {check.name:<34} {check.detail}")
            return 0 if all(c.ok for c in checks) else 1
    except stack.StackError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _demo(args: argparse.Namespace) -> int:
    from sdk_campaigns.dev import demo

    return demo.run_demo(args)


def _infra(args: argparse.Namespace) -> int:
    from sdk_campaigns import stack_deploy
    from sdk_campaigns.campaign.accounts import account_stack_name
    from sdk_campaigns.config import ConfigError, load_config

    try:
        config = load_config()
        template = stack_deploy.synthesize(config, args.sdk_account)
        if args.action == "template":
            print(json.dumps(template, indent=1))
            return 0
        import boto3

        session = boto3.session.Session(region_name=args.region) if args.region else boto3.session.Session()
        name = account_stack_name(config) if args.sdk_account else config.infra.stack_name
        found = stack_deploy.deploy(session.client("cloudformation"), config, template, stack_name=name)
    except (ConfigError, stack_deploy.DeployError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"stack {name} deployed; its outputs (the DAG reads them from CloudFormation):")
    for key, value in sorted(found.items()):
        if key not in ("CampaignResources", "SdkAccountResources"):
            print(f"  {key:<24} {value}")
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from sdk_campaigns.campaign import cancel
    from sdk_campaigns.config import ConfigError, load_config

    try:
        config = load_config()
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    # In the campaign's account and each SDK's own (docs/accounts.md).
    stopped, unreachable = cancel.terminate_in_every_account(
        config, args.aws_conn_id, args.run_id, "sdk-campaigns cancel"
    )
    for job_id, sdk in stopped:
        print(f"  terminated {sdk} job {job_id}")
    print(f"{len(stopped)} active job(s) of {args.run_id} terminated")
    for line in unreachable:
        print(f"error: jobs not looked for through {line}", file=sys.stderr)
    if args.api_url:
        token = os.environ.get("AIRFLOW_API_TOKEN")
        if not token:
            print("error: --api-url needs a token in AIRFLOW_API_TOKEN (POST /auth/token)", file=sys.stderr)
            return 2
        cancel.mark_run_failed(args.api_url, token, config.campaign.dag_id, args.run_id)
        print(f"run {args.run_id} marked failed")
    else:
        print("mark the run failed in the Airflow UI (or pass --api-url) so no task starts new work")
    return 1 if unreachable else 0


def _junit_summarize(args: argparse.Namespace) -> int:
    from sdk_campaigns.campaign.junit import JUnitError, parse_junit_file, summarize

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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days >= 1")
    return value


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{100 * rate:.1f}%"


def _short(commit: str | None) -> str:
    if not commit or commit == "unknown":
        return "unknown"
    return commit[:12] if len(commit) > 20 else commit


def _load_config():
    from sdk_campaigns.config import ConfigError, load_config

    try:
        return load_config()
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return None


def _history(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from sdk_campaigns import history
    from sdk_campaigns.history import HistoryError, analytics

    config = _load_config()
    if config is None:
        return 2
    if args.action == "migrate":
        return _migrate(config, args)
    uri, dag_id = config.history_uri(), config.campaign.dag_id
    history.use_airflow_connection(args.aws_conn_id)
    since = datetime.now(UTC) - timedelta(days=args.days) if args.days else None
    try:
        with analytics.HistoryAnalytics(uri, dag_id, lane=args.lane) as answers:
            known = sorted(set(config.sdk_names) | set(answers.summaries.column("sdk").to_pylist()))
            if args.sdk is not None and args.sdk not in known:
                print(f"error: unknown SDK {args.sdk!r}; known SDKs: {', '.join(known)}", file=sys.stderr)
                return 2
            runs = [r for r in answers.pass_fail_history(since) if args.sdk in (None, r["sdk"])]
            broken = {s: b for s, b in answers.broken_since().items() if args.sdk in (None, s)}
    except HistoryError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        document = {
            "dag_id": dag_id,
            "history_uri": uri,
            "lane": args.lane,
            "sdk": args.sdk,
            "days": args.days,
        }
        print(json.dumps({**document, "runs": runs, "broken_since": broken}))
        return 0
    window = f" in the last {args.days} days" if args.days else ""
    lane = "" if args.lane == history.OFFICIAL_LANE else f", {args.lane} lane"
    print(f"{dag_id} history{window} ({uri}{lane})")
    if not runs:
        print("  no runs recorded" + (f" for {args.sdk}" if args.sdk else ""))
    else:
        header = (
            f"{'SDK':<12} {'logical date':<26} {'status':<22} {'passed':>6} {'failed':>6} {'error':>5} "
            f"{'skipped':>7} {'pass rate':>9} commit"
        )
        print(header)
        print("-" * len(header))
        for r in runs:
            print(
                f"{r['sdk']:<12} {r['logical_date']:<26} {r['status']:<22} {r['passed']:>6} {r['failed']:>6} "
                f"{r['error']:>5} {r['skipped']:>7} {_percent(r['pass_rate']):>9} {_short(r['commit'])}"
            )
    if broken:
        print()
        print("broken since:")
    for sdk, state in broken.items():
        if state["broken_since"]:
            print(
                f"  {sdk:<12} broken since {state['broken_since']} ({state['failing_runs']} failing runs; "
                f"latest {state['status']} on {state['latest']})"
            )
            if state["last_passed_commit"] or state["first_failing_commit"]:
                print(
                    f"  {sdk:<12} last passing commit {_short(state['last_passed_commit'])}, "
                    f"first failing commit {_short(state['first_failing_commit'])}"
                    + (f": {state['compare_url']}" if state["compare_url"] else "")
                )
        else:
            print(f"  {sdk:<12} not broken (last passed {state['last_passed']})")
    return 0


def _migrate(config, args: argparse.Namespace) -> int:
    from sdk_campaigns import history
    from sdk_campaigns.history import HistoryError, migration

    history.use_airflow_connection(args.aws_conn_id)
    refs = {sdk: s.ref or config.campaign.default_ref for sdk, s in config.sdks.items()}
    try:
        done = migration.migrate(
            config.history_uri(), config.campaign.dag_id, configured_refs=refs, dry_run=args.dry_run
        )
    except HistoryError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    verb = "would migrate" if args.dry_run else "migrated"
    for item in done:
        moved = " (its ref is not the configured one: moved to the ad hoc lane)" if item.moved else ""
        print(f"{verb} {item.partition}: schema {item.from_version} -> {history.SCHEMA_VERSION}{moved}")
    print(f'{verb} {len(done)} partitions; commits of migrated runs are "unknown"')
    return 0


def _test_history(args: argparse.Namespace) -> int:
    from sdk_campaigns import history
    from sdk_campaigns.history import HistoryError, analytics

    config = _load_config()
    if config is None:
        return 2
    uri, dag_id = config.history_uri(), config.campaign.dag_id
    history.use_airflow_connection(args.aws_conn_id)
    try:
        with analytics.HistoryAnalytics(uri, dag_id, sdk=args.sdk, lane=args.lane) as answers:
            test_id = answers.find_test_id(args.sdk, args.test)
            entries = answers.test_history(args.sdk, test_id) if test_id else []
    except HistoryError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not entries:
        print(
            f"error: no {args.lane} run of {args.sdk!r} has a test {args.test!r} (give its test id, or "
            f"classname.name as the report shows it)",
            file=sys.stderr,
        )
        return 2
    if args.json:
        print(
            json.dumps(
                {"dag_id": dag_id, "lane": args.lane, "sdk": args.sdk, "test_id": test_id, "runs": entries}
            )
        )
        return 0
    newest = entries[-1]
    name = f"{newest['classname']}.{newest['name']}" if newest["classname"] else newest["name"]
    print(f"{args.sdk} {name} (test id {test_id}), {len(entries)} runs")
    header = f"{'logical date':<26} {'outcome':<8} {'duration':>9} {'commit':<13} message"
    print(header)
    print("-" * len(header))
    for e in entries:
        duration = "–" if e["duration"] is None else f"{e['duration']:.2f} s"
        message = (e["message"] or "").splitlines()[0][:80] if e["message"] else ""
        print(f"{e['logical_date']:<26} {e['outcome']:<8} {duration:>9} {_short(e['commit']):<13} {message}")
    return 0


def _history_reading_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that reads the history: which lane, JSON output, the connection."""
    parser.add_argument(
        "--lane",
        choices=["official", "adhoc"],
        default="official",
        help="official (default): scheduled and plain runs; adhoc: runs with overrides",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.add_argument(
        "--aws-conn-id",
        default="aws_default",
        help="the Airflow AWS connection an s3:// history is read through (default aws_default)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sdk-campaigns", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser(
        "local", help="manage the local stack (Docker, moto, registry, Airflow and its UI)"
    )
    local.add_argument("action", choices=["up", "down", "status"])
    local.add_argument(
        "--no-install", action="store_true", help="use what runs already; never apt-get or start dockerd"
    )
    local.add_argument(
        "--no-ui",
        action="store_true",
        help="skip Airflow's api-server, scheduler, dag-processor and triggerer (the UI on port "
        "SDK_CAMPAIGNS_AIRFLOW_PORT, default 8080)",
    )
    local.set_defaults(func=_local)

    demo_parser = commands.add_parser(
        "demo", help="run a real campaign on the local stack and print the results"
    )
    demo_parser.add_argument("--sdks", nargs="*", default=None, help="SDKs to test (default: all configured)")
    demo_parser.add_argument("--ref", default=None, help="git ref to record with the results")
    demo_parser.add_argument(
        "--build-jobs",
        type=int,
        default=None,
        help="image builds at once before the campaign (default: one per core, as many as memory holds)",
    )
    demo_parser.set_defaults(func=_demo)

    cancel_parser = commands.add_parser(
        "cancel", help="terminate a campaign run's active Batch jobs (and mark the run failed with --api-url)"
    )
    cancel_parser.add_argument("run_id", help="the DAG run id, e.g. manual__2026-12-02T10:00:00+00:00")
    cancel_parser.add_argument("--aws-conn-id", default="aws_default", help="the Airflow AWS connection")
    cancel_parser.add_argument(
        "--api-url", default=None, help="Airflow's base URL, to mark the run failed through its REST API"
    )
    cancel_parser.set_defaults(func=_cancel)

    infra = commands.add_parser(
        "infra", help="the AWS infrastructure a campaign needs (the CDK app in infra/), as one stack"
    )
    infra.add_argument(
        "action",
        choices=["template", "deploy"],
        help="template: print the synthesized CloudFormation template (JSON); deploy: create or update the "
        "stack in the account of the current AWS credentials (boto3's default chain, AWS_ENDPOINT_URL "
        "included) and print its outputs",
    )
    infra.add_argument("--region", default=None, help="AWS region (default: the credentials' region)")
    infra.add_argument(
        "--sdk-account",
        default=None,
        metavar="ACCOUNT",
        help="the stack of this SDK account instead (its SDKs' sdks.<name>.role_arn names it; deploy it with "
        "that account's credentials): docs/accounts.md",
    )
    infra.set_defaults(func=_infra)

    junit = commands.add_parser("junit", help="read JUnit XML files the way a campaign does")
    junit_commands = junit.add_subparsers(dest="junit_command", required=True)
    summarize = junit_commands.add_parser(
        "summarize", help="count one file's test cases by status; exit 2 if it cannot be parsed"
    )
    summarize.add_argument("file", help="a JUnit XML file")
    summarize.add_argument("--json", action="store_true", help="print one JSON object instead")
    summarize.set_defaults(func=_junit_summarize)

    history = commands.add_parser(
        "history",
        help="the per-language pass/fail history and broken-since, from campaign.history_uri",
    )
    history.add_argument(
        "action",
        nargs="?",
        choices=["show", "migrate"],
        default="show",
        help="show (default): the history; migrate: rewrite partitions of an older schema version as the "
        "current one (idempotent; see docs/history.md)",
    )
    history.add_argument("--dry-run", action="store_true", help="migrate: only say what would change")
    history.add_argument("--sdk", default=None, help="one SDK only (exit 2 if it is unknown)")
    history.add_argument(
        "--days",
        type=_positive_int,
        default=None,
        help="only logical dates in the last N days (default: all)",
    )
    _history_reading_options(history)
    history.set_defaults(func=_history)

    test_history = commands.add_parser(
        "test-history", help="one test's outcome, duration, message and commit in every run of its SDK"
    )
    test_history.add_argument("sdk", help="the SDK")
    test_history.add_argument("test", help="the test id, or classname.name (or name) as the report shows it")
    _history_reading_options(test_history)
    test_history.set_defaults(func=_test_history)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
