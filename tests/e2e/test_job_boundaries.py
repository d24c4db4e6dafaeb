"""A job that runs code of its choice (the product's purpose) stays inside Fargate's boundaries on the
local stack: its role may write its own results and nothing else, it reaches AWS and nothing on the
host, and it cannot start a privileged container. Its own results still land; the other SDK's run
is unaffected."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sdk_campaigns import history
from sdk_campaigns.config import load_config

from .conftest import run_airflow

pytestmark = pytest.mark.stack

LOGICAL_DATE = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0).isoformat()
PROBES = Path(__file__).with_name("job_probes.py")
ARGUMENT_CHARS = 1000  # campaign.sources allows 1024 per argument


def probe_command() -> list[str]:
    source = PROBES.read_text()
    chunks = [source[i : i + ARGUMENT_CHARS] for i in range(0, len(source), ARGUMENT_CHARS)]
    return ["python3", "-c", "import sys; exec(''.join(sys.argv[1:]))", *chunks]


@pytest.fixture(scope="module")
def hostile_campaign(stack_home):
    conf = {"sdks": ["python", "go"], "overrides": {"python": {"test_command": probe_command()}}}
    result = run_airflow(["dags", "test", "sdk_test_campaign", LOGICAL_DATE, "-c", json.dumps(conf)])
    (stack_home / "hostile-campaign.log").write_text(result.stdout + result.stderr)
    # a test_command override makes the run ad hoc: its partitions are in the ad hoc lane
    partitions = history.read_run(
        load_config().history_uri(), "sdk_test_campaign", LOGICAL_DATE, lane="adhoc"
    )
    assert partitions, f"nothing published; airflow said:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return {p["summary"]["sdk"]: p for p in partitions}


def test_every_attempt_to_leave_the_job_is_refused(hostile_campaign):
    python = hostile_campaign["python"]
    rows = {row["name"]: row for row in python["rows"]}
    assert {
        "register_privileged_job_definition",
        "submit_job",
        "write_another_sdks_results",
        "forge_outcome_json",
        "read_another_sdks_results",
        "switch_iam_off",
        "reach_postgresql_on_the_host",
        "reach_airflow_api_on_the_host",
        "reach_registry_on_the_host",
        "no_docker_socket",
    } <= set(rows)
    allowed = {name: row["message"] for name, row in rows.items() if row["status"] != "passed"}
    assert allowed == {}
    # Its own results landed (they are what we just read), and what the DAG wrote is the DAG's.
    assert python["summary"]["status"] == "passed", python["summary"]["reason"]


def test_the_other_sdk_is_unaffected(hostile_campaign):
    go = hostile_campaign["go"]["summary"]
    assert go["status"] == "tests_failed" and go["counts"]["total"] == 6, go["reason"]


def test_a_privileged_container_is_not_started_and_its_job_says_why(aws_client, stack_home):
    """What Fargate refuses (privileged, host mounts), the local stack refuses too, at the container."""
    import time

    batch = aws_client("batch")
    definition = batch.register_job_definition(
        jobDefinitionName="sdk-campaigns-privileged-probe",
        type="container",
        containerProperties={
            "image": "debian:bookworm-slim",
            "command": ["true"],
            "privileged": True,
            "resourceRequirements": [{"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "512"}],
        },
    )["jobDefinitionArn"]
    job = batch.submit_job(jobName="privileged-probe", jobQueue="sdk-campaigns", jobDefinition=definition)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        (described,) = batch.describe_jobs(jobs=[job["jobId"]])["jobs"]
        if described["status"] in ("SUCCEEDED", "FAILED"):
            break
        time.sleep(1)
    assert described["status"] == "FAILED"
    assert "Fargate does not run containers with privileged mode" in described.get("statusReason", "")
