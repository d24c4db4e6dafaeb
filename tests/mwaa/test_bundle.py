"""The Amazon MWAA bundle (`make mwaa-bundle`), installed as MWAA installs it: a virtualenv of its own
(scripts/mwaa-venv.sh: Airflow 3.3.1, providers-amazon 9.34.0 from the bundle's requirements.txt
under MWAA's constraints; Python 3.11 here, 3.12 on MWAA), reused across runs. The DAGs and plugins
load from the bundle's layout (dags/, plugins.zip unpacked as MWAA does, startup.sh's environment)
with no import errors, and a campaign runs end to end on the local stack with that Airflow, with no
Docker daemon and no sdk_campaigns but the bundle's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from sdk_campaigns.config import DEFAULT_CONFIG_PATH, load_config
from tests.image_support import python_image_present

pytestmark = pytest.mark.stack

REPO_ROOT = Path(__file__).resolve().parents[2]
# Beside the project's venv (CI keeps it outside its fresh clone, so a later run reuses this one too).
PROJECT_VENV = os.path.abspath(os.environ.get("VENV") or REPO_ROOT / ".venv")
MWAA_VENV = Path(os.environ.get("SDK_CAMPAIGNS_MWAA_VENV") or f"{PROJECT_VENV}-mwaa")
DEV_ONLY = ("moto", "pytest", "playwright", "ruff", "aws-cdk-lib", "constructs", "junitparser")
NO_DOCKER = {"DOCKER_HOST": "tcp://127.0.0.1:1"}  # MWAA's workers have no Docker daemon


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """The bundle of a production-shaped config: the codebuild builder (the local registry's base
    image stays, since its campaign runs on the local stack)."""
    folder = tmp_path_factory.mktemp("mwaa")
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    config["images"] = {**config.get("images", {}), "builder": "codebuild"}
    config_path = folder / "campaign.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    for name in ("TESTOWNERS", "scenarios.yaml"):  # alerts.owners_file and scenarios_file: beside the config
        (folder / name).write_bytes((DEFAULT_CONFIG_PATH.parent / name).read_bytes())
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "mwaa_bundle.py"), "--out", str(folder / "bundle"),
         "--config", str(config_path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return folder / "bundle"


@pytest.fixture(scope="module")
def mwaa_venv(bundle) -> Path:
    started = datetime.now()
    done = subprocess.run(
        [str(REPO_ROOT / "scripts" / "mwaa-venv.sh"), str(bundle / "requirements.txt")],
        env={**os.environ, "MWAA_VENV": str(MWAA_VENV)},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"MWAA venv ready in {(datetime.now() - started).total_seconds():.0f} s: {done.stderr.strip()}")
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def mwaa_home(bundle, tmp_path_factory) -> dict:
    """An Airflow home laid out as MWAA's (/usr/local/airflow): dags/, plugins/ from plugins.zip, and
    the environment startup.sh exports."""
    home = tmp_path_factory.mktemp("usr-local-airflow")
    (home / "dags").mkdir()
    for dag_file in (bundle / "dags").iterdir():
        (home / "dags" / dag_file.name).write_bytes(dag_file.read_bytes())
    with zipfile.ZipFile(bundle / "plugins.zip") as archive:
        archive.extractall(home / "plugins")
    exported = subprocess.run(
        ["sh", "-c", f". {bundle / 'startup.sh'} && env"],
        env={"AIRFLOW_HOME": str(home), "PATH": os.environ["PATH"]},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    startup = dict(line.split("=", 1) for line in exported.splitlines() if line.startswith("SDK_CAMPAIGNS_"))
    return {
        "home": home,
        "env": {
            **startup,
            "AIRFLOW_HOME": str(home / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # One process at a time here (dags test): SQLite holds, and 3.3.2's migrations stay out of it.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        },
    }


def test_the_bundle_holds_dags_plugins_the_package_and_runtime_requirements(bundle):
    assert sorted(p.name for p in (bundle / "dags").iterdir()) == sorted(
        p.name for p in (REPO_ROOT / "dags").glob("*.py")
    )
    names = zipfile.ZipFile(bundle / "plugins.zip").namelist()
    assert {".airflowignore", "sdk_campaigns_links.py", "sdk_health.py", "sdk_campaigns/__init__.py"} <= set(
        names
    )
    assert "sdk_campaigns/reporting/templates/report.html.j2" in names
    assert (
        "sdk_campaigns_files/campaign.yaml" in names
        and "sdk_campaigns_files/images/python/Dockerfile" in names
    )
    assert {"sdk_campaigns_files/TESTOWNERS", "sdk_campaigns_files/scenarios.yaml"} <= set(names)  # beside it
    assert not [n for n in names if n.startswith("sdk_campaigns/dev/") or n.endswith(".pyc")]
    lines = [
        line for line in (bundle / "requirements.txt").read_text().splitlines() if not line.startswith("#")
    ]
    assert lines[0] == (
        '--constraint "https://raw.githubusercontent.com/apache/airflow/constraints-3.3.1/constraints-3.12.txt"'
    )
    names_required = {line.split("[")[0].split("=")[0].lower() for line in lines[1:]}
    assert not names_required & set(DEV_ONLY)
    assert "apache-airflow" not in names_required  # MWAA's own
    assert "apache-airflow-providers-amazon[aiobotocore]" in lines  # version: MWAA's constraints
    assert "great-expectations==1.24.1" in lines  # not in MWAA's constraints: our pin
    assert os.access(bundle / "startup.sh", os.X_OK)


def test_dags_and_plugins_load_from_the_bundle_layout_with_mwaa_s_versions(mwaa_venv, mwaa_home):
    probe = """
import json, sys
from importlib.metadata import version
from airflow import plugins_manager
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
import sdk_campaigns
print(json.dumps({
    "import_errors": bag.import_errors,
    "dags": sorted(bag.dag_ids),
    "plugins": sorted(p["name"] for p in plugins_manager.get_plugin_info()),
    "plugin_errors": plugins_manager.get_import_errors(),
    "package": sdk_campaigns.__file__,
    "airflow": version("apache-airflow"),
    "amazon": version("apache-airflow-providers-amazon"),
    # what the plugin loader would have imported as top-level modules without .airflowignore
    "loaded_as_plugins": [m for m in ("tasks", "config", "images", "run_suite") if m in sys.modules],
}))
"""
    home = mwaa_home["home"]
    done = subprocess.run(
        [str(mwaa_venv / "bin" / "python"), "-c", probe, str(home / "dags")],
        env={**os.environ, **mwaa_home["env"], **NO_DOCKER},
        cwd=home, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert (found["airflow"], found["amazon"]) == ("3.3.1", "9.34.0")
    assert found["import_errors"] == {} and found["plugin_errors"] == {}, found
    assert {"sdk_test_campaign", "sdk_campaign_dispatcher"} <= set(found["dags"])
    assert found["plugins"] == ["sdk_campaigns_links", "sdk_health"]
    assert found["package"] == str(home / "plugins" / "sdk_campaigns" / "__init__.py")
    assert found["loaded_as_plugins"] == []


def test_a_campaign_runs_end_to_end_with_the_bundle_on_mwaa_s_airflow(mwaa_venv, mwaa_home, stack_home):
    from sdk_campaigns import history
    from sdk_campaigns.dev import local_stack

    config = load_config(Path(mwaa_home["env"]["SDK_CAMPAIGNS_CONFIG"]))
    from sdk_campaigns.dev import local_aws

    python_image_present(config, local_aws.admin_client("ecr"))
    airflow = str(mwaa_venv / "bin" / "airflow")
    env = {**os.environ, **local_stack.airflow_env(), **mwaa_home["env"], **NO_DOCKER}
    env.pop("PYTHONPATH", None)  # sdk_campaigns comes from the bundle's plugins/ only
    migrated = subprocess.run(
        [airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=600
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    logical_date = (datetime.now(UTC) - timedelta(minutes=20)).replace(microsecond=0).isoformat()
    result = subprocess.run(
        [airflow, "dags", "test", "sdk_test_campaign", logical_date, "-c", json.dumps({"sdks": ["python"]})],
        env=env, cwd=mwaa_home["home"], capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    output = result.stdout + result.stderr
    (stack_home / "mwaa-bundle-campaign.log").write_text(output)
    assert result.returncode == 0, output[-4000:]
    assert "python: reused" in output  # found in ECR with no Docker daemon, as on MWAA
    (partition,) = history.read_run(config.history_uri(), "sdk_test_campaign", logical_date)
    assert partition["summary"]["status"] == "tests_failed", partition["summary"]["reason"]
    assert partition["summary"]["counts"]["total"] == 6


def test_the_codebuild_trigger_waits_for_a_build_with_mwaa_s_provider(mwaa_venv, mwaa_home, stack_home):
    """The trigger on providers-amazon 9.34 and its aiobotocore, against moto's CodeBuild (which says
    SUCCEEDED at once): it serializes, deserializes and fires as in MWAA's triggerer."""
    from sdk_campaigns.dev import local_aws, local_stack

    config = load_config(Path(mwaa_home["env"]["SDK_CAMPAIGNS_CONFIG"]))
    project = f"{config.infra.stack_name}-image-build"
    build_id = local_aws.admin_client("codebuild").start_build(projectName=project)["build"]["id"]
    probe = """
import asyncio, json, sys
from sdk_campaigns.campaign.codebuild import CodeBuildBuildCompleteTrigger
first = CodeBuildBuildCompleteTrigger(build_id=sys.argv[1], waiter_delay=1, waiter_max_attempts=3)
path, kwargs = first.serialize()
trigger = CodeBuildBuildCompleteTrigger(**kwargs)

async def first_event():
    async for event in trigger.run():
        return event.payload

print(json.dumps(asyncio.run(first_event())))
"""
    env = {**os.environ, **local_stack.airflow_env(), **mwaa_home["env"], **NO_DOCKER}
    env["PYTHONPATH"] = str(mwaa_home["home"] / "plugins")  # as Airflow puts plugins/ on sys.path
    done = subprocess.run(
        [str(mwaa_venv / "bin" / "python"), "-c", probe, build_id],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    event = json.loads(done.stdout.strip().splitlines()[-1])
    assert event == {
        "status": "success",
        "build_id": build_id,
        "build_status": "SUCCEEDED",
        "message": f"CodeBuild build {build_id} succeeded",
    }
