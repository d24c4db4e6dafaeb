"""The culprit finder for real: `airflow dags test sdk_culprit_finder`, each step a Batch job on moto
server running the python SDK's image against a real git repository (a git daemon on the jobs
network's gateway, where job containers reach this host), with scripted commits of a tiny pytest
project.

- a break at the 5th of 8 commits is named, in at most ceil(log2(8)) + 1 = 4 jobs, each running only
  the newly failing test (an unrelated test that fails at every commit is not selected);
- a break that does not reproduce at the bad commit ends "not reproducible" after one job, and its
  test is recorded as flaky beside the history.
"""

import json
import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sdk_campaigns.campaign import job_definitions, resources
from sdk_campaigns.config import REPO_ROOT, load_config
from sdk_campaigns.culprit import lock
from sdk_campaigns.dev import local_stack
from sdk_campaigns.history import culprits
from tests.git_repos import ScriptedRepo, git_daemon
from tests.image_support import python_image_present

from .conftest import run_airflow

pytestmark = pytest.mark.stack

DAG_ID = "sdk_culprit_finder"
TEST = "suite.test_widget::test_widget_adds"
WIDGET_OK = "def add(a, b):\n    return a + b\n"
WIDGET_BROKEN = "def add(a, b):\n    return a + b + 1\n"
SUITE = {
    "suite/__init__.py": "",
    "suite/conftest.py": "import sys, pathlib\nsys.path.insert(0, str(pathlib.Path(__file__).parents[1]))\n",
    "suite/test_widget.py": (
        "from widget import add\n\n\n"
        "def test_widget_adds():\n    assert add(2, 2) == 4\n\n\n"
        "def test_unrelated_fails_everywhere():\n    assert False, 'not what is being bisected'\n"
    ),
}


@pytest.fixture(scope="module")
def repos(stack_home, tmp_path_factory):
    """'broken': good, then 8 commits, the 5th breaking add(); 'flaky': good, then 3 passing commits."""
    root = tmp_path_factory.mktemp("culprit-repos")
    broken = ScriptedRepo(root, "broken")
    shas = {"good": broken.commit("good", {**SUITE, "widget.py": WIDGET_OK})}
    after = []
    for i in range(1, 9):
        files = {"notes.txt": f"change {i}\n"}
        if i == 5:
            files["widget.py"] = WIDGET_BROKEN
        after.append(broken.commit(f"change {i}", files))
    shas["after"] = after
    broken.publish()
    flaky = ScriptedRepo(root, "flaky")
    shas["flaky_good"] = flaky.commit("good", {**SUITE, "widget.py": WIDGET_OK})
    shas["flaky_bad"] = [flaky.commit(f"change {i}", {"notes.txt": f"{i}\n"}) for i in range(3)][-1]
    flaky.publish()
    # On the jobs network's gateway: job containers reach this host there, as a Fargate task reaches a forge.
    with git_daemon(root, host=local_stack.JOBS_GATEWAY) as url:
        yield url, shas


@pytest.fixture(scope="module")
def finder_config(stack_home, aws_client, tmp_path_factory):
    """A config with a history of its own; the python job definition registered for the current image
    (what the campaign's register_jobs does)."""
    folder = tmp_path_factory.mktemp("culprit-config")
    text = (REPO_ROOT / "include" / "campaign.yaml").read_text()
    text = text.replace('history_uri: ""', f'history_uri: "{folder / "history"}"')
    (folder / "campaign.yaml").write_text(text)
    config = load_config(folder / "campaign.yaml")
    image = python_image_present(config, aws_client("ecr"))
    batch = aws_client("batch")
    found = resources.stack_resources(aws_client("cloudformation"), config.infra.stack_name)
    spec = job_definitions.job_definition_spec(
        image=image.image,
        sdk="python",
        settings=config.sdks["python"],
        resources=found,
        region=batch.meta.region_name,
    )
    job_definitions.register(batch, f"{config.batch.job_definition_prefix}-python", spec)
    return {"path": str(folder / "campaign.yaml"), "history_uri": str(folder / "history"), "config": config}


def bisect(finder_config, conf: dict, logical_date: str):
    result = run_airflow(
        ["dags", "test", DAG_ID, logical_date, "-c", json.dumps(conf)],
        env={"SDK_CAMPAIGNS_CONFIG": finder_config["path"]},
    )
    records = [
        r
        for r in culprits.read_bisections(finder_config["history_uri"], "sdk_test_campaign", sdk=conf["sdk"])
        if r["bad"] == conf["bad"]
    ]
    assert records, (result.stdout + result.stderr)[-6000:]
    return result, records[-1]


def test_names_the_first_bad_commit_out_of_eight_within_the_bound(repos, finder_config, aws_client):
    url, shas = repos
    after = shas["after"]
    logical_date = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0).isoformat()
    conf = {
        "sdk": "python",
        "repo_url": f"{url}/broken.git",
        "good": shas["good"],
        "bad": after[-1],
        "tests": [TEST],
    }
    result, record = bisect(finder_config, conf, logical_date)
    output = result.stdout + result.stderr
    assert record["result"] == "first_bad", output[-4000:]
    assert record["first_bad"] == after[4] and record["last_good"] == after[3]
    assert record["jobs"] <= math.ceil(math.log2(8)) + 1 == 4
    steps = record["steps"]
    assert steps[0]["commit"] == after[-1] and steps[0]["outcome"] == "bad"  # the rerun of bad comes first
    assert len({s["job_id"] for s in steps}) == len(steps) and all(s["job_id"] for s in steps)
    for step in steps:
        # only the tracked test ran: the test failing at every commit was not selected
        assert step["counts"]["total"] == 1, step
        assert step["outcome"] == ("bad" if after.index(step["commit"]) >= 4 else "good"), step
    assert f"first bad commit: {after[4]}" in output
    # the record is also in the results bucket, under the culprit finder's prefix
    bucket, _, key = record["record_uri"].removeprefix("s3://").partition("/")
    assert key.startswith("sdk_culprit_finder/python/")
    stored = json.loads(aws_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert stored["first_bad"] == after[4] and [s["job_id"] for s in stored["steps"]] == [
        s["job_id"] for s in steps
    ]
    # the SDK's lock was released by the teardown
    config = finder_config["config"]
    assert (
        lock.read_holder(aws_client("s3"), bucket, lock.lock_key(config.culprit.results_prefix, "python"))
        is None
    )


def flaky_break(url: str, shas: dict) -> dict:
    """A culprit finder conf for the 'flaky' repository: passes at its bad commit too."""
    return {
        "sdk": "python",
        "repo_url": f"{url}/flaky.git",
        "good": shas["flaky_good"],
        "bad": shas["flaky_bad"],
        "tests": [TEST],
    }


def test_a_break_that_does_not_reproduce_is_not_reproducible_and_marks_the_test_flaky(repos, finder_config):
    url, shas = repos
    logical_date = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0).isoformat()
    conf = {**flaky_break(url, shas), "logical_date": logical_date}
    result, record = bisect(finder_config, conf, logical_date)
    assert record["result"] == "not_reproducible", (result.stdout + result.stderr)[-4000:]
    assert record["jobs"] == 1 and record["first_bad"] is None
    assert result.returncode == 0
    flaky = culprits.not_reproducible_tests(finder_config["history_uri"], "sdk_test_campaign")
    assert [(t["sdk"], t["classname"], t["name"], t["commit"]) for t in flaky] == [
        ("python", "suite.test_widget", "test_widget_adds", shas["flaky_bad"])
    ]


def test_a_campaign_run_looks_for_breaks_after_publish(finder_config):
    """The campaign's hook runs after publish. The image's own sample suite has no git commit (and
    before commit attribution no result has one): no break, so no culprit finder run is started."""
    logical_date = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()
    result = run_airflow(
        ["dags", "test", "sdk_test_campaign", logical_date, "-c", json.dumps({"sdks": ["python"]})],
        env={"SDK_CAMPAIGNS_CONFIG": finder_config["path"]},
    )
    output = result.stdout + result.stderr
    assert "[DAG TEST] end task task_id=find_breaks" in output, output[-4000:]
    assert "start_culprit_finder" in output and "break:" not in output
    assert "DagRun Finished: dag_id=sdk_test_campaign" in output and "state=success" in output, output[-4000:]


def test_two_bisections_of_one_sdk_never_run_jobs_at_the_same_time(repos, finder_config, aws_client):
    """Two runs for python started together: one takes the SDK's lock, the other waits (its sensor
    pokes again a minute later) until the first's teardown releases it. Their Batch jobs' lifetimes
    never overlap."""
    url, shas = repos
    conf = flaky_break(url, shas)
    dates = [
        (datetime.now(UTC) - timedelta(minutes=50 - i)).replace(microsecond=0).isoformat() for i in (0, 1)
    ]
    env = {**os.environ, **local_stack.airflow_env(), "SDK_CAMPAIGNS_CONFIG": finder_config["path"]}
    airflow = str(Path(sys.executable).with_name("airflow"))
    processes = [
        subprocess.Popen(
            [airflow, "dags", "test", DAG_ID, date, "-c", json.dumps(conf)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for date in dates
    ]
    outputs = [p.communicate(timeout=1200)[0] for p in processes]
    assert all(p.returncode == 0 for p in processes), "\n".join(o[-3000:] for o in outputs)
    assert sum("held by run manual__" in o for o in outputs) == 1, "exactly one run waited for the lock"
    runs = [
        r
        for r in culprits.read_bisections(finder_config["history_uri"], "sdk_test_campaign", sdk="python")
        if r["bad"] == shas["flaky_bad"] and r["logical_date"] == ""
    ][-2:]
    assert len(runs) == 2 and {r["result"] for r in runs} == {"not_reproducible"}
    batch = aws_client("batch")
    spans = []
    for record in runs:
        jobs = batch.describe_jobs(jobs=[s["job_id"] for s in record["steps"]])["jobs"]
        spans.append((min(j["createdAt"] for j in jobs), max(j["stoppedAt"] for j in jobs)))
    first, second = sorted(spans)
    assert first[1] <= second[0], f"the two bisections' jobs overlapped: {spans}"
