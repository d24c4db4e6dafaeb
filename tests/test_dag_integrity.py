"""Every DAG file loads with no import errors, has tags and docs (the DAG's and each task's),
and parses fast."""

import subprocess
import sys
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[1] / "dags"
PARSE_BUDGET_SECONDS = 0.3


@pytest.fixture(scope="module")
def dagbag():
    # In the session's Airflow home (tests/conftest.py), with no example DAGs.
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_in_process_airflow_uses_the_tests_own_home_and_throwaway_credentials(session_airflow_home):
    """conftest.py sets both before collection imports Airflow or boto3: nothing reads or writes
    ~/airflow, and no developer's AWS profile, token or credentials file is seen."""
    import boto3
    from airflow import configuration

    home = session_airflow_home.resolve()
    assert home != (Path.home() / "airflow").resolve()
    assert Path(configuration.AIRFLOW_HOME).resolve() == home
    assert Path(configuration.conf.get("logging", "base_log_folder")).resolve().is_relative_to(home)
    assert configuration.conf.get("database", "sql_alchemy_conn") == f"sqlite:///{home}/airflow.db"
    assert not configuration.conf.getboolean("core", "load_examples")
    assert Path(configuration.AIRFLOW_CONFIG).resolve().is_relative_to(home)

    credentials = boto3.Session().get_credentials()
    assert (credentials.access_key, credentials.secret_key, credentials.token) == ("testing", "testing", None)
    assert credentials.method == "env"
    assert boto3.Session().region_name == "us-east-1"
    assert boto3.Session().profile_name == "default"


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.dags, "no DAG was found in dags/"


def test_every_dag_has_tags_and_docs(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md) > 100, f"{dag_id} has no doc_md"


def test_campaign_params_are_documented(dagbag):
    dag = dagbag.dags["sdk_test_campaign"]
    for name, param in dag.params.items():
        assert param.description, f"param {name} has no description"


def test_every_task_has_docs_and_mapped_tasks_are_named_by_sdk(dagbag):
    dag = dagbag.dags["sdk_test_campaign"]
    for task in dag.tasks:
        assert task.doc_md and len(task.doc_md) > 40, f"{task.task_id} has no doc_md"
    named_by = {
        task.task_id: task.partial_kwargs.get("map_index_template")
        if hasattr(task, "partial_kwargs")  # a mapped operator
        else task.map_index_template  # a task of the mapped group
        for task in dag.tasks
        if hasattr(task, "partial_kwargs") or task.get_closest_mapped_task_group()
    }
    assert named_by == {
        "build_image": "{{ sdk }}",
        "run_tests": "{{ task.tags['sdk'] }}",
        "collect": "{{ sdk }}",
        "start_culprit_finder": "{{ task.conf['sdk'] }}",
    }


def test_each_sdk_goes_from_image_to_results_on_its_own(dagbag):
    """build_image, run_tests and collect are mapped together (one task group over the SDK plans): an
    SDK's job waits for its own image only, and its results for its own job, not for every SDK's."""
    dag = dagbag.dags["sdk_test_campaign"]
    per_sdk = {task_id: dag.get_task(task_id) for task_id in ("build_image", "run_tests", "collect")}
    groups = {getattr(task.get_closest_mapped_task_group(), "group_id", None) for task in per_sdk.values()}
    assert groups == {"sdk"}
    assert per_sdk["run_tests"].upstream_task_ids == {"build_image"}
    assert per_sdk["collect"].upstream_task_ids == {"run_tests", "plan"}
    assert per_sdk["collect"].trigger_rule == "all_done"  # an SDK whose image or job failed is still reported
    assert dag.get_task("publish").upstream_task_ids == {"collect", "plan"}


def test_every_task_has_an_execution_timeout(dagbag):
    """A hung task (a stuck AWS call, a webhook that never answers) fails instead of holding its slot."""
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            timeout = (
                task.partial_kwargs.get("execution_timeout") if hasattr(task, "partial_kwargs") else None
            )
            timeout = timeout or task.execution_timeout
            assert timeout is not None and timeout.total_seconds() > 0, f"{dag.dag_id}.{task.task_id}"
            assert timeout <= dag.dagrun_timeout, f"{dag.dag_id}.{task.task_id}: longer than the run may take"


@pytest.mark.parametrize("dag_file", sorted(DAGS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_parse_time(dag_file):
    """Time to parse the file in a process where Airflow and the providers are already imported,
    as in the DAG processor; the best of three runs, to measure the file and not the machine."""
    script = f"""
import time, runpy, importlib
import airflow.sdk, airflow.providers.amazon.aws.operators.batch
best = 1e9
for _ in range(3):
    started = time.perf_counter()
    runpy.run_path({str(dag_file)!r})
    best = min(best, time.perf_counter() - started)
print(best)
"""
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    seconds = float(output.stdout.strip().splitlines()[-1])
    assert seconds < PARSE_BUDGET_SECONDS, f"{dag_file.name} parsed in {seconds:.3f} s"
