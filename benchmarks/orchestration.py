"""P1: orchestration overhead under a real scheduler, all 8 SDKs, vs `airflow dags test`, same stack.

Overhead = campaign wall time minus the longest job (DESIGN.md): what Airflow, the DAG's tasks and
the AWS stand-ins add around the test suites themselves. Target: under 15 s for all 8 SDKs on the
local stack, with every image already in the registry (a warm-up run builds any that are missing).
The obvious alternative is the single-process `airflow dags test`, which runs every task, and each
SDK's job wait, one after another.

The overhead is split along the campaign's critical path (the job that ended last): before its
job was submitted (plan, image step: ours), Batch's submit-to-start (moto's job state machine and
Docker creating the container: moto's), and from the job's end to the run's end (the trigger's poll,
collect, publish, verdict: ours). Starts Airflow's components in a home of its own, on a free port;
stops them at the end. `--sdks a b` picks SDKs; `--no-dags-test` skips the alternative.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import harness

ALL_SDKS = ["python", "javascript", "ruby", "php", "java", "cpp", "go", "rust"]
DAG_ID = "sdk_test_campaign"
TARGET_SECONDS = 15.0


def _summaries(logical_date: str, sdks: list[str]) -> list[dict]:
    from sdk_campaigns import history
    from sdk_campaigns.config import load_config
    from sdk_campaigns.dev import local_stack

    # As the DAG wrote it: through the stack's Airflow connection (the history is on S3 by default).
    os.environ.update(local_stack.airflow_env())
    history.use_airflow_connection("aws_default")
    config = load_config()
    partitions = history.read_run(config.history_uri(), DAG_ID, logical_date)
    summaries = [p["summary"] for p in partitions]
    assert {s["sdk"] for s in summaries} == set(sdks), "not every SDK was published"
    return summaries


def _jobs(summaries: list[dict]) -> list[dict]:
    from sdk_campaigns.dev import local_aws

    ids = [s["job_id"] for s in summaries if s.get("job_id")]
    return local_aws.admin_client("batch").describe_jobs(jobs=ids)["jobs"] if ids else []


def critical_path(run: dict, jobs: list[dict]) -> dict:
    """The overhead split along the job that ended last (seconds)."""
    start = datetime.fromisoformat(run["start_date"]).timestamp()
    end = datetime.fromisoformat(run["end_date"]).timestamp()
    last = max(jobs, key=lambda j: j["stoppedAt"])
    created, started, stopped = (last[k] / 1000 for k in ("createdAt", "startedAt", "stoppedAt"))
    return {
        "before_submit": round(created - start, 2),
        "moto_submit_to_start": round(started - created, 2),
        "job": round(stopped - started, 2),
        "after_job": round(end - stopped, 2),
        "slowest_submit_to_start": round(max(j["startedAt"] - j["createdAt"] for j in jobs) / 1000, 2),
    }


def scheduler_runs(sdks: list[str]) -> dict:
    from sdk_campaigns.dev import airflow_services, stack

    stack.up()
    airflow_services.ensure_services(extra_env={"SDK_CAMPAIGNS_CONFIG": os.environ["SDK_CAMPAIGNS_CONFIG"]})
    try:
        airflow_services.wait_for_dag(DAG_ID)
        token = airflow_services.access_token()
        airflow_services.api("PATCH", f"dags/{DAG_ID}", token, {"is_paused": False})
        print(f"warm-up run ({len(sdks)} SDKs; builds images missing from the registry)", flush=True)
        harness.trigger_and_wait(DAG_ID, token, {"sdks": sdks}, minutes_ago=10)
        harness.wait_for_quiet(DAG_ID, token)
        print(f"measured run ({harness.load_average()})", flush=True)
        run = harness.trigger_and_wait(DAG_ID, token, {"sdks": sdks})
        assert run["state"] == "success", run
        timeline = harness.stage_timeline(run, harness.task_instances(DAG_ID, run["dag_run_id"], token))
        # Memory on a run of its own: sampling PSS costs CPU the timed run would lose (MemorySampler).
        print(f"memory run ({harness.load_average()})", flush=True)
        with harness.MemorySampler() as memory:
            sampled = harness.trigger_and_wait(DAG_ID, token, {"sdks": sdks}, minutes_ago=1)
        assert sampled["state"] == "success", sampled
    finally:
        airflow_services.stop_services()
    summaries = _summaries(run["logical_date"], sdks)
    jobs = _jobs(summaries)
    return {
        "wall": harness.run_seconds(run),
        "longest_job": max(s.get("job_seconds") or 0.0 for s in summaries),
        "timeline": timeline,
        "critical_path": critical_path(run, jobs),
        "memory_mb": memory.peak_mb,
        "sampler_cpu_seconds": memory.cpu_seconds,
    }


def dags_test_run(sdks: list[str]) -> dict:
    from sdk_campaigns.dev import local_stack

    logical_date = (datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)).isoformat()
    airflow = str(Path(sys.executable).with_name("airflow"))
    started = time.monotonic()
    subprocess.run(
        [airflow, "dags", "test", DAG_ID, logical_date, "-c", json.dumps({"sdks": sdks})],
        env={**os.environ, **local_stack.airflow_env()},
        check=True,
        capture_output=True,
    )
    wall = time.monotonic() - started
    summaries = _summaries(logical_date, sdks)
    return {"wall": wall, "longest_job": max(s.get("job_seconds") or 0.0 for s in summaries)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdks", nargs="+", default=ALL_SDKS)
    parser.add_argument("--no-dags-test", action="store_true", help="skip the `airflow dags test` run")
    args = parser.parse_args()

    def only_these(config: dict) -> dict:
        config["sdks"] = {name: config["sdks"][name] for name in args.sdks}
        config["campaign"]["schedule"] = "0 0 1 1 *"  # yearly: unpausing starts no run of its own
        # A history of its own: the shared bucket's may hold partitions other versions wrote.
        config["campaign"]["history_uri"] = str(Path(os.environ["SDK_CAMPAIGNS_HOME"]) / "history")
        return config

    harness.prepare_home("sdkc-bench-orchestration-", only_these)
    ours = scheduler_runs(args.sdks)
    overhead = ours["wall"] - ours["longest_job"]
    print(f"\n{len(args.sdks)} SDKs ({', '.join(args.sdks)}), images already in the registry")
    print("timeline of the measured run (seconds from the run's start):")
    harness.print_timeline(ours["timeline"])
    path = ours["critical_path"]
    print(
        f"critical path (the job that ended last): {path['before_submit']:.1f} s to its submission (ours), "
        f"{path['moto_submit_to_start']:.1f} s submitted to started (moto + Docker), "
        f"{path['job']:.1f} s job, "
        f"{path['after_job']:.1f} s from its end to the run's end (ours)"
    )
    print(
        f"scheduler (LocalExecutor): wall {ours['wall']:.1f} s, longest job {ours['longest_job']:.1f} s, "
        f"overhead {overhead:.1f} s"
    )
    peaks = ", ".join(f"{k} {v:.0f}" for k, v in ours["memory_mb"].items())
    sampler = ours["sampler_cpu_seconds"]
    print(f"peak memory (MB; sampled on a run of its own, the sampler used {sampler:.1f} CPU s): {peaks}")
    figures = {
        "sdks": len(args.sdks),
        "wall_seconds": round(ours["wall"], 1),
        "longest_job_seconds": round(ours["longest_job"], 1),
        "overhead_seconds": round(overhead, 1),
        "critical_path": path,
        "stages": len(ours["timeline"]),
        "peak_memory_mb": {k: round(v) for k, v in ours["memory_mb"].items()},
    }
    if not args.no_dags_test:
        alt = dags_test_run(args.sdks)
        alt_overhead = alt["wall"] - alt["longest_job"]
        print(
            f"airflow dags test:         wall {alt['wall']:.1f} s, longest job {alt['longest_job']:.1f} s, "
            f"overhead {alt_overhead:.1f} s"
        )
        print(f"dags test overhead / scheduler overhead: {alt_overhead / overhead:.2f}x")
        figures |= {
            "dags_test_wall_seconds": round(alt["wall"], 1),
            "dags_test_overhead_seconds": round(alt_overhead, 1),
            "dags_test_over_scheduler": round(alt_overhead / overhead, 2),
        }
    met = overhead < TARGET_SECONDS and len(args.sdks) == len(ALL_SDKS)
    print(f"target: overhead under {TARGET_SECONDS:.0f} s for all 8 SDKs -> {'met' if met else 'MISSED'}")
    harness.emit("P1 orchestration", figures, f"overhead < {TARGET_SECONDS:.0f} s, 8 SDKs, scheduler", met)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
