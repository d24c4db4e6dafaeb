"""Orchestration overhead under a real scheduler vs `airflow dags test`, same SDKs, same stack.

Target (DESIGN.md): campaign wall time minus the longest job, under a real scheduler with 6+
SDKs, well under 20 s on the local stack. The obvious alternative is the single-process
`airflow dags test`, which runs every task (and each SDK's job wait) one after another.
Both runs use images already in the registry (a warm-up run builds any that are missing).
Starts Airflow's components in a home of its own, on a free port; stops them at the end.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

SDKS = ["python", "go", "javascript", "ruby", "php", "cpp"]
DAG_ID = "sdk_test_campaign"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _prepare_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="sdkc-bench-orchestration-"))
    os.environ["SDK_CAMPAIGNS_HOME"] = str(home)
    os.environ["SDK_CAMPAIGNS_AIRFLOW_PORT"] = str(_free_port())
    from sdk_campaigns.config import DEFAULT_CONFIG_PATH

    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    config["sdks"] = {name: config["sdks"][name] for name in SDKS}
    (home / "campaign.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    os.environ["SDK_CAMPAIGNS_CONFIG"] = str(home / "campaign.yaml")
    return home


def _longest_job(logical_date: str) -> float:
    from sdk_campaigns import history
    from sdk_campaigns.config import load_config

    config = load_config()
    partitions = history.read_run(config.history_uri(), DAG_ID, logical_date)
    assert {p["summary"]["sdk"] for p in partitions} == set(SDKS), "not every SDK was published"
    return max(p["summary"].get("job_seconds") or 0.0 for p in partitions)


def _scheduler_run(token: str) -> tuple[float, str]:
    from sdk_campaigns.dev import airflow_services

    logical_date = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    run = airflow_services.api(
        "POST",
        f"dags/{DAG_ID}/dagRuns",
        token,
        {"logical_date": logical_date.isoformat(), "conf": {"sdks": SDKS}},
    )
    run = airflow_services.wait_for_run(DAG_ID, run["dag_run_id"], token)
    assert run["state"] == "success", run
    started, ended = (datetime.fromisoformat(run[k]) for k in ("start_date", "end_date"))
    return (ended - started).total_seconds(), run["logical_date"]


def _dags_test_run() -> tuple[float, str]:
    from sdk_campaigns.dev import local_stack

    logical_date = (datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)).isoformat()
    airflow = str(Path(sys.executable).with_name("airflow"))
    started = time.monotonic()
    subprocess.run(
        [airflow, "dags", "test", DAG_ID, logical_date, "-c", json.dumps({"sdks": SDKS})],
        env={**os.environ, **local_stack.airflow_env()},
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started, logical_date


def main() -> int:
    _prepare_home()
    from sdk_campaigns.dev import airflow_services, stack

    stack.up()
    airflow_services.ensure_services(extra_env={"SDK_CAMPAIGNS_CONFIG": os.environ["SDK_CAMPAIGNS_CONFIG"]})
    try:
        airflow_services.wait_for_dag(DAG_ID)
        token = airflow_services.access_token()
        airflow_services.api("PATCH", f"dags/{DAG_ID}", token, {"is_paused": False})
        print(f"warm-up run ({len(SDKS)} SDKs; builds images missing from the registry)", flush=True)
        _scheduler_run(token)
        wall, logical_date = _scheduler_run(token)
        longest = _longest_job(logical_date)
    finally:
        airflow_services.stop_services()
    test_wall, test_date = _dags_test_run()
    test_longest = _longest_job(test_date)
    overhead, test_overhead = wall - longest, test_wall - test_longest
    print(f"{len(SDKS)} SDKs ({', '.join(SDKS)}), images already in the registry")
    print(
        f"scheduler (LocalExecutor): wall {wall:.1f} s, longest job {longest:.1f} s, "
        f"overhead {overhead:.1f} s"
    )
    print(
        f"airflow dags test:         wall {test_wall:.1f} s, longest job {test_longest:.1f} s, "
        f"overhead {test_overhead:.1f} s"
    )
    print(f"scheduler overhead vs dags test overhead: {test_overhead / overhead:.2f}x less")
    target = 20.0
    print(f"target: overhead under {target:.0f} s -> {'met' if overhead < target else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
