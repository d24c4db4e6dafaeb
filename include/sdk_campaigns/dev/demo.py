"""`sdk-campaigns demo`: one real campaign through `airflow dags test` on the local stack.

Images missing from the stack's ECR are built first, several at once with progress
(dev/image_builds.py); `airflow dags test` alone would build them one after another."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sdk_campaigns import history
from sdk_campaigns.config import load_config
from sdk_campaigns.dev import airflow_services, image_builds, local_stack

# What of `airflow dags test`'s output is shown live; everything goes to the log file.
TASK_STARTED = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=(-?\d+)")
CAMPAIGN_NEWS = re.compile(
    r"\[(?:info|warning|error)\s*\] (.+?)\s+\[sdk_campaigns\.(?:tasks|publish|campaign\.\w+)\]"
)
JOB_LOG_LINE = re.compile(r"\[\S+ job\] ")


def progress_line(line: str) -> str | None:
    if match := TASK_STARTED.search(line):
        task, index = match.groups()
        return f"  ▸ {task}" + (f" [{index}]" if index != "-1" else "")
    if JOB_LOG_LINE.search(line):
        return None  # the job's own log: in the report and the log file
    if match := CAMPAIGN_NEWS.search(line):
        return f"      {match.group(1)[:160]}"
    if "Task failed with exception" in line:
        return "      ✘ task failed (details in the log file)"
    return None


def campaign_summaries(uri: str, dag_id: str, logical_date: datetime) -> list[dict]:
    """The run's summaries, in whichever lane it went (a demo with --ref is an ad hoc run)."""
    return [
        s
        for lane in history.LANES
        for s in history.read_summaries(uri, dag_id, lane=lane)
        if datetime.fromisoformat(s["logical_date"]) == logical_date
    ]


def format_table(summaries: list[dict]) -> str:
    header = f"{'SDK':<12} {'passed':>6} {'failed':>6} {'error':>5} {'skipped':>7} {'duration':>9}  status"
    lines = [header, "-" * (len(header) + 14)]
    for s in summaries:
        c = s.get("counts") or {}
        duration = f"{s['job_seconds']:.1f} s" if s.get("job_seconds") is not None else "–"
        lines.append(
            f"{s['sdk']:<12} {c.get('passed', 0):>6} {c.get('failed', 0):>6} {c.get('error', 0):>5} "
            f"{c.get('skipped', 0):>7} {duration:>9}  {s['status']}: {s['reason']}"
        )
    return "\n".join(lines)


def live_components() -> list[str]:
    """This home's Airflow components that are running (`sdk-campaigns local up` starts them)."""
    return [c for c in airflow_services.COMPONENTS if local_stack.background_running(f"airflow-{c}")]


def run_demo(args: argparse.Namespace) -> int:
    config = load_config()
    # `airflow dags test` runs its tasks and triggers in this process, on the same metadata database: a
    # live scheduler would schedule the run's tasks too, and a live triggerer would pick up run_tests'
    # trigger and, once `dags test` moves on, take its removal for a user's stop and terminate the job.
    if running := live_components():
        print(
            f"error: this home's Airflow is running ({', '.join(running)}), and `airflow dags test` must "
            f"not share its database. Trigger the campaign in the UI ({airflow_services.base_url()}) or "
            f"with `airflow dags trigger {config.campaign.dag_id}`, or stop them first: "
            f"`sdk-campaigns local down`, then `make demo`",
            file=sys.stderr,
        )
        return 2
    logical_date = datetime.now(UTC).replace(microsecond=0)
    conf = {"sdks": args.sdks or [], **({"ref": args.ref} if args.ref else {})}
    log_dir = local_stack.stack_dir() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"demo-{logical_date:%Y%m%dT%H%M%S}.log"
    airflow = Path(sys.executable).with_name("airflow")
    argv = [
        str(airflow),
        "dags",
        "test",
        config.campaign.dag_id,
        logical_date.isoformat(),
        "-c",
        json.dumps(conf),
    ]
    started = time.monotonic()
    build_results = image_builds.build_missing_images(
        config, list(conf["sdks"] or config.sdk_names), jobs=getattr(args, "build_jobs", None)
    )
    built = [r for r in build_results if r.outcome == "built"]
    if built:
        each = ", ".join(f"{r.sdk} {r.seconds:.0f} s" for r in built)
        print(f"images built in {time.monotonic() - started:.0f} s: {each}")
    print(f"running {config.campaign.dag_id} for {conf['sdks'] or config.sdk_names} (full log: {log_path})")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            argv,
            env={**os.environ, **local_stack.airflow_env()},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for line in process.stdout:
            log.write(line)
            if shown := progress_line(line):
                print(shown, flush=True)
        returncode = process.wait()
    elapsed = time.monotonic() - started

    # As the DAG wrote it: through the stack's Airflow connection (the history is on S3 by default).
    os.environ.update(local_stack.airflow_env())
    history.use_airflow_connection("aws_default")
    summaries = campaign_summaries(config.history_uri(), config.campaign.dag_id, logical_date)
    if not summaries:
        print(f"no results were published (airflow exited {returncode}); see {log_path}", file=sys.stderr)
        return 1
    print()
    print(format_table(summaries))
    print()
    print(f"report:  {summaries[0]['report']}")
    print(f"history: {config.history_uri()}")
    print(f"campaign wall time: {elapsed:.1f} s; airflow exited {returncode}")
    return 0 if returncode == 0 else 1
