"""Task links and the failure policy on a real campaign run (`airflow dags test`, local stack).

One run of the python SDK under failure policy "tests" serves both: its deliberately failing
sample test must fail the run, and every task page must still link to what that run made. The
links are asked for as the api-server's extra-links endpoint asks, through the plugin."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from sdk_campaigns import history
from sdk_campaigns.config import load_config
from sdk_campaigns.reporting.links import data_docs_link

from .conftest import run_airflow

pytestmark = pytest.mark.stack

DAG_ID = "sdk_test_campaign"
LOGICAL_DATE = (datetime.now(UTC) - timedelta(hours=5)).replace(microsecond=0).isoformat()
CLOUDWATCH, ECR, S3, DATA_DOCS = (
    "Job log (CloudWatch)",
    "Test image (ECR)",
    "Results (S3)",
    "Data Docs (Great Expectations)",
)

# Runs in a process with the stack's Airflow home: every task instance of the run and the links
# that Airflow's extra-links endpoint returns for it.
LINKS_SCRIPT = """
import json, sys
from datetime import datetime
from sqlalchemy import select
from airflow.api_fastapi.core_api.routes.public.extra_links import get_extra_links
from airflow.models.dagbag import DBDagBag
from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from airflow.utils.session import create_session

dag_id, logical_date = sys.argv[1:]
with create_session() as session:
    run = session.scalar(
        select(DagRun).where(
            DagRun.dag_id == dag_id, DagRun.logical_date == datetime.fromisoformat(logical_date)
        )
    )
    found = []
    for ti in session.scalars(select(TaskInstance).where(TaskInstance.run_id == run.run_id)):
        links = get_extra_links(
            dag_id=dag_id, dag_run_id=run.run_id, task_id=ti.task_id, session=session,
            dag_bag=DBDagBag(), map_index=ti.map_index,
        ).extra_links
        found.append({"task_id": ti.task_id, "sdk": ti.rendered_map_index, "links": links})
print(json.dumps({"run_id": run.run_id, "task_instances": found}))
"""


@pytest.fixture(scope="module")
def campaign(stack_home):
    result = run_airflow(
        [
            "dags",
            "test",
            DAG_ID,
            LOGICAL_DATE,
            "-c",
            json.dumps({"sdks": ["python"], "failure_policy": "tests"}),
        ]
    )
    (stack_home / "links-campaign.log").write_text(result.stdout + result.stderr)
    partitions = history.read_run(load_config().history_uri(), DAG_ID, LOGICAL_DATE)
    assert partitions, f"no history was published; airflow said:\n{(result.stdout + result.stderr)[-4000:]}"
    return result, partitions[0]["summary"]


@pytest.fixture(scope="module")
def links(campaign):
    """{(task_id, sdk or None): {link name: URL or None}} for every task instance of the run."""
    from sdk_campaigns.dev import local_stack

    found = subprocess.run(
        [sys.executable, "-c", LINKS_SCRIPT, DAG_ID, LOGICAL_DATE],
        env={**os.environ, **local_stack.airflow_env()},
        capture_output=True,
        text=True,
    )
    assert found.returncode == 0, found.stderr[-4000:]
    answer = json.loads(found.stdout.strip().splitlines()[-1])
    return answer["run_id"], {(t["task_id"], t["sdk"]): t["links"] for t in answer["task_instances"]}


def test_failure_policy_tests_fails_the_run_on_a_failed_test_after_publishing(campaign):
    result, summary = campaign
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "campaign failed (failure policy 'tests'): python: tests_failed (1 of 6 tests failed)" in output
    assert summary["status"] == "tests_failed"


def test_collect_links_to_the_jobs_own_log_stream(campaign, links):
    _, summary = campaign
    _, by_task = links
    url = by_task[("collect", "python")][CLOUDWATCH]
    assert url.startswith("https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:")
    group, stream = url.split("log-groups/log-group/")[1].split("/log-events/")
    assert unquote(group.replace("$25", "%")) == "/aws/batch/job"
    assert f"/aws/batch/job/{unquote(stream.replace('$25', '%'))}" == summary["log_stream"]
    assert summary["job_id"] in unquote(stream.replace("$25", "%"))


def test_collect_links_to_the_sdks_results_in_s3(campaign, links):
    _, summary = campaign
    _, by_task = links
    url = urlsplit(by_task[("collect", "python")][S3])
    bucket, _, prefix = summary["results_uri"].removeprefix("s3://").partition("/")
    assert (
        f"{url.scheme}://{url.netloc}{url.path}" == f"https://s3.console.aws.amazon.com/s3/buckets/{bucket}"
    )
    assert parse_qs(url.query) == {"region": ["us-east-1"], "prefix": [prefix]}


def test_build_image_links_to_the_image_digest_in_ecr(campaign, links):
    _, summary = campaign
    _, by_task = links
    url = by_task[("build_image", "python")][ECR]
    assert url == (
        "https://us-east-1.console.aws.amazon.com/ecr/repositories/private/123456789012/"
        f"sdk-campaigns/python/_/image/{summary['image_digest']}/details?region=us-east-1"
    )


def test_publish_links_to_the_data_docs_the_run_wrote(links):
    run_id, by_task = links
    url = by_task[("publish", None)][DATA_DOCS]
    assert url == data_docs_link(DAG_ID, run_id)
    # The SDK Health plugin serves /sdk-health/reports/<dag_id>/<path> from <report dir>/<dag_id>/<path>.
    served = load_config().report_dir() / DAG_ID / url.removeprefix(f"/sdk-health/reports/{DAG_ID}/")
    assert served.name == "index.html" and served.is_file()


def test_links_show_only_where_they_apply(links):
    _, by_task = links
    ours = {CLOUDWATCH, ECR, S3, DATA_DOCS}
    shown = {
        key: {name for name, url in task_links.items() if url and name in ours}
        for key, task_links in by_task.items()
    }
    assert shown == {
        ("plan", None): set(),
        ("build_image", "python"): {ECR},
        ("run_tests", "python"): set(),
        ("collect", "python"): {CLOUDWATCH, S3},
        ("publish", None): {DATA_DOCS},
        ("verdict", None): set(),
        ("find_breaks", None): set(),
        ("start_culprit_finder", None): set(),  # mapped over no breaks: one skipped instance
    }


def test_run_tests_keeps_the_amazon_providers_job_links(campaign, links):
    """run_tests needs no links of ours: BatchOperator links its job and log stream itself."""
    _, summary = campaign
    _, by_task = links
    run_tests = by_task[("run_tests", "python")]
    assert run_tests["Batch Job Details"].endswith(f"#jobs/detail/{summary['job_id']}")
    assert summary["job_id"] in run_tests["CloudWatch Events"]
