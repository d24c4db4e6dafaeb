"""Cancelling a campaign stops its work, under Airflow's real scheduler and triggerer.

A run whose job sleeps is marked failed while run_tests is deferred: within 30 s the Batch job is
no longer running and its reason names the cancellation. A triggerer restarted while a job runs
cancels nothing: the run completes.
"""

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sdk_campaigns.campaign.batch_jobs import STOPPED_IN_AIRFLOW
from sdk_campaigns.campaign.plan import job_name
from sdk_campaigns.config import load_config
from sdk_campaigns.dev import airflow_services, local_stack

pytestmark = pytest.mark.stack

DAG_ID = "sdk_test_campaign"
CANCELLED_WITHIN_SECONDS = 30


def _trigger(token: str, conf: dict) -> str:
    run_id = f"manual__cancel-{uuid.uuid4().hex[:8]}"
    airflow_services.api(
        "POST",
        f"dags/{DAG_ID}/dagRuns",
        token,
        {"dag_run_id": run_id, "logical_date": datetime.now(UTC).isoformat(), "conf": conf},
    )
    return run_id


def _run_tests_state(token: str, run_id: str) -> str | None:
    instances = airflow_services.api(
        "GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances?task_id=run_tests", token
    )["task_instances"]
    return instances[0]["state"] if instances else None


def _trigger_started(home: Path, run_id: str) -> bool:
    """Whether the triggerer runs run_tests' trigger (it writes the trigger's own log file)."""
    folder = home / "airflow" / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / "task_id=run_tests"
    return any(
        "waiting for Batch job" in log.read_text() for log in folder.glob("map_index=0/*.trigger.*.log")
    )


def _job(aws_client, config, run_id: str) -> dict | None:
    batch = aws_client("batch")
    name = job_name(config, "python", run_id)
    summaries = batch.list_jobs(
        jobQueue=config.batch.job_queue, filters=[{"name": "JOB_NAME", "values": [name]}]
    )
    if not summaries["jobSummaryList"]:
        return None
    newest = max(summaries["jobSummaryList"], key=lambda s: s["createdAt"])
    return batch.describe_jobs(jobs=[newest["jobId"]])["jobs"][0]


@pytest.fixture(scope="module")
def campaign(airflow_ui):
    token = airflow_services.access_token()
    airflow_services.api("PATCH", f"dags/{DAG_ID}", token, {"is_paused": False})
    return {
        "token": token,
        "config": load_config(Path(airflow_ui["config"])),
        "env": airflow_ui,
        "home": local_stack.airflow_home().parent,
    }


def test_a_run_marked_failed_terminates_its_running_job(campaign, aws_client):
    token, config = campaign["token"], campaign["config"]
    run_id = _trigger(
        token, {"sdks": ["python"], "overrides": {"python": {"test_command": ["sleep", "300"]}}}
    )
    airflow_services.wait_until(
        lambda: _run_tests_state(token, run_id) == "deferred", 240, "run_tests deferred"
    )
    job = airflow_services.wait_until(
        lambda: (found := _job(aws_client, config, run_id)) and found["status"] == "RUNNING" and found,
        120,
        "the sleeping job to run",
    )
    # Cancelled before the triggerer picked the trigger up, the job would go on: see docs/cancellation.md.
    airflow_services.wait_until(lambda: _trigger_started(campaign["home"], run_id), 60, "the trigger to run")

    airflow_services.api("PATCH", f"dags/{DAG_ID}/dagRuns/{run_id}", token, {"state": "failed"})
    marked = time.monotonic()
    stopped = airflow_services.wait_until(
        lambda: (
            (found := _job(aws_client, config, run_id))["status"] not in ("RUNNING", "STARTING", "RUNNABLE")
            and found
        ),
        CANCELLED_WITHIN_SECONDS,
        "the job to stop after its run was marked failed",
    )
    assert time.monotonic() - marked <= CANCELLED_WITHIN_SECONDS
    assert stopped["jobId"] == job["jobId"] and stopped["status"] == "FAILED"
    assert stopped["statusReason"] == f"cancelled: {STOPPED_IN_AIRFLOW}", stopped["statusReason"]


def test_a_restarted_triggerer_cancels_nothing(campaign, aws_client):
    token, config = campaign["token"], campaign["config"]
    slow_suite = "sleep 20 && python3 -m pytest -q suite --junitxml=/tmp/results/junit-pytest.xml"
    run_id = _trigger(
        token, {"sdks": ["python"], "overrides": {"python": {"test_command": ["sh", "-c", slow_suite]}}}
    )
    airflow_services.wait_until(
        lambda: _run_tests_state(token, run_id) == "deferred", 240, "run_tests deferred"
    )

    airflow_services.wait_until(lambda: _trigger_started(campaign["home"], run_id), 60, "the trigger to run")
    local_stack.stop_background("airflow-triggerer")  # a graceful stop: its triggers are cancelled
    airflow_services.ensure_services(extra_env={"SDK_CAMPAIGNS_CONFIG": campaign["env"]["config"]})

    (run,) = airflow_services.wait_for_runs(DAG_ID, [run_id], token, timeout=600).values()
    job = _job(aws_client, config, run_id)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    assert run["state"] == "success"


def test_sdk_campaigns_cancel_terminates_the_runs_jobs_and_fails_the_run(campaign, aws_client):
    import os
    import subprocess
    import sys

    token, config = campaign["token"], campaign["config"]
    run_id = _trigger(
        token, {"sdks": ["python"], "overrides": {"python": {"test_command": ["sleep", "300"]}}}
    )
    airflow_services.wait_until(
        lambda: (found := _job(aws_client, config, run_id)) and found["status"] == "RUNNING", 240, "the job"
    )
    cli = Path(sys.executable).with_name("sdk-campaigns")
    done = subprocess.run(
        [str(cli), "cancel", run_id, "--api-url", airflow_services.base_url()],
        env={**os.environ, **campaign["env"]["env"], "AIRFLOW_API_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "terminated python job" in done.stdout and "marked failed" in done.stdout
    stopped = airflow_services.wait_until(
        lambda: (found := _job(aws_client, config, run_id))["status"] == "FAILED" and found,
        CANCELLED_WITHIN_SECONDS,
        "the job to stop",
    )
    assert stopped["statusReason"] == "cancelled: sdk-campaigns cancel"
    (run,) = airflow_services.wait_for_runs(DAG_ID, [run_id], token, timeout=60).values()
    assert run["state"] == "failed"
