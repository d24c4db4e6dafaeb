"""Bad input gets a clear error naming the bad value and the fix."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import run_airflow

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.stack
@pytest.mark.parametrize(
    ("conf", "message"),
    [
        (
            {"sdks": ["cobol"]},
            "Invalid input for param sdks: 'cobol' is not one of ['python', 'javascript', 'ruby'",
        ),
        (
            {"failure_policy": "sometimes"},
            "Invalid input for param failure_policy: 'sometimes' is not one of "
            "['infrastructure', 'tests', 'never']",
        ),
        ({"ref": "main; rm -rf /"}, "Invalid input for param ref: 'main; rm -rf /' does not match"),
    ],
    ids=["unknown-sdk", "unknown-failure-policy", "hostile-ref"],
)
def test_bad_params_are_refused_before_the_run_naming_the_value_and_the_allowed_ones(
    stack_home, conf, message
):
    """The DAG's param schemas refuse the run as Airflow creates it (as they do for the trigger
    form and the REST API, where it is an HTTP 400); no task runs."""
    result = run_airflow(
        ["dags", "test", "sdk_test_campaign", "2026-11-03T06:00:00+00:00", "-c", json.dumps(conf)],
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert message in output
    assert "ParamValidationError" in output
    assert "task_id=plan" not in output


def test_config_typo_is_an_import_error_naming_the_key(tmp_path):
    bad = tmp_path / "campaign.yaml"
    bad.write_text((REPO / "include" / "campaign.yaml").read_text().replace("  vcpu: 0.5", "  vcpus: 0.5", 1))
    script = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(REPO / 'dags')!r})\n"
        "print(list(bag.import_errors.values()))\n"
    )
    env = {**os.environ, "SDK_CAMPAIGNS_CONFIG": str(bad), "AIRFLOW_HOME": str(tmp_path / "af")}
    output = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True).stdout
    assert "unknown key 'sdks.python.vcpus'" in output
    assert str(bad) in output


def test_no_docker_engine_gives_the_howto():
    cli = Path(sys.executable).with_name("sdk-campaigns")
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    result = subprocess.run(
        [str(cli), "local", "up", "--no-install"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "No Docker Engine is reachable" in result.stderr
    assert "apt-get install -y docker.io" in result.stderr
