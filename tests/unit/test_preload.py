"""sdk_campaigns.preload: an Airflow command started with the tasks' imports already made."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sdk_campaigns import preload


def test_every_module_it_names_exists():
    import importlib.util

    missing = [name for name in preload.CHOICES["all"] if importlib.util.find_spec(name) is None]
    assert missing == []


def test_an_unknown_choice_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("SDK_CAMPAIGNS_PRELOAD", "some")
    with pytest.raises(SystemExit, match="SDK_CAMPAIGNS_PRELOAD='some' is not one of all, tasks, none"):
        preload.preload()


def test_the_command_runs_airflow_after_the_imports(tmp_path):
    env = {**os.environ, "SDK_CAMPAIGNS_PRELOAD": "tasks", "AIRFLOW_HOME": str(tmp_path)}
    probe = (
        "import sys, runpy; sys.argv = ['x', 'version'];"
        "import airflow.__main__ as m;"
        "m.main = lambda: print('modules', 'airflow.providers.amazon.aws.operators.batch' in sys.modules);"
        "runpy.run_module('sdk_campaigns.preload', run_name='__main__')"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[-2].startswith("sdk-campaigns preload: 15 modules in ")
    assert lines[-1] == "modules True"


def test_tasks_other_than_publish_import_no_results_pipeline_module():
    """plan, build_image, run_tests, collect and verdict import the DAG file and tasks.py; neither may
    pull in what only publish needs (seconds of CPU per task process without a preloading worker)."""
    repo = preload.__file__.rsplit("/include/", 1)[0]
    probe = (
        f"import runpy, sys; runpy.run_path({repo + '/dags/sdk_test_campaign.py'!r});"
        "import sdk_campaigns.tasks, sdk_campaigns.stages, sdk_campaigns.image_step;"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'great_expectations', 'duckdb') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
