"""The whole campaign through `airflow dags test` on the local stack."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sdk_campaigns import history
from sdk_campaigns.config import load_config

from .conftest import run_airflow

pytestmark = pytest.mark.stack

# Recent, so CloudWatch (and moto) accept the run's metrics; after the config's start_date.
LOGICAL_DATE = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()


@pytest.fixture(scope="module")
def campaign(stack_home, metrics_before, infrastructure_before):
    result = run_airflow(
        [
            "dags",
            "test",
            "sdk_test_campaign",
            LOGICAL_DATE,
            "-c",
            json.dumps({"sdks": ["python", "javascript"]}),
        ]
    )
    (stack_home / "campaign.log").write_text(result.stdout + result.stderr)
    config = load_config()
    partitions = history.read_run(config.history_uri(), "sdk_test_campaign", LOGICAL_DATE)
    assert partitions, (
        f"no history was published; airflow said:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    )
    return result, {p["summary"]["sdk"]: p for p in partitions}


def test_run_succeeds_with_a_history_partition_per_sdk(campaign):
    result, partitions = campaign
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert set(partitions) == {"python", "javascript"}
    for partition in partitions.values():
        summary = partition["summary"]
        assert summary["status"] == "tests_failed", summary["reason"]
        assert summary["counts"] == {"passed": 4, "failed": 1, "error": 0, "skipped": 1, "total": 6}
        assert summary["image_digest"].startswith("sha256:")
        # the image's own sample suite: the code under test is the image's content tag; no overrides
        assert summary["commit_kind"] == "image_source" and summary["image"].endswith(f":{summary['commit']}")
        assert (summary["lane"], summary["overrides"], summary["repo_url"]) == ("official", "{}", None)
        assert datetime.fromisoformat(summary["logical_date"]) == datetime.fromisoformat(LOGICAL_DATE)
        assert len(partition["rows"]) == 6


def test_failing_sample_test_is_recorded_with_its_message(campaign):
    _, partitions = campaign
    python_rows = {r["name"]: r for r in partitions["python"]["rows"]}
    failing = python_rows["test_retry_delays_are_capped"]
    assert failing["status"] == "failed"
    assert "retry delay example expects exponential growth" in failing["message"]
    assert python_rows["test_list_buckets_live"]["status"] == "skipped"
    js_failed = [r for r in partitions["javascript"]["rows"] if r["status"] == "failed"]
    assert [r["name"] for r in js_failed] == ["sdk examples caps retry delays"]


def test_report_lists_both_sdks(campaign):
    _, partitions = campaign
    report = partitions["python"]["summary"]["report"]
    html = Path(report).read_text()
    assert "id='sdk-python'" in html and "id='sdk-javascript'" in html
    assert "test_retry_delays_are_capped" in html
    assert (Path(report).parent / "data-docs" / "index.html").exists(), "GX Data Docs missing from the run"


def test_jobs_own_log_lines_are_collected(campaign, aws_client):
    _, partitions = campaign
    for sdk, partition in partitions.items():
        summary = partition["summary"]
        assert summary["log_stream"].startswith("/aws/batch/job/")
        assert summary["job_id"] in summary["log_stream"]
        assert any(line.startswith("SDK_CAMPAIGN_SUMMARY ") for line in summary["log_excerpt"])
        bucket, _, prefix = summary["results_uri"].removeprefix("s3://").partition("/")
        job_log = aws_client("s3").get_object(Bucket=bucket, Key=prefix + "job.log")["Body"].read().decode()
        assert f"sdk-campaign: running {sdk} suite" in job_log


def test_mapped_tasks_are_named_by_sdk(campaign, stack_home):
    """Each mapped task instance's rendered_map_index (the name the UI shows) is its SDK."""
    import sqlalchemy

    from sdk_campaigns.dev import local_stack

    engine = sqlalchemy.create_engine(local_stack.airflow_database_url())
    with engine.connect() as db:
        rows = db.execute(
            sqlalchemy.text(
                "SELECT ti.task_id, ti.rendered_map_index FROM task_instance ti "
                "JOIN dag_run dr ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id "
                "WHERE ti.map_index >= 0 AND dr.logical_date = :logical_date"
            ),
            {"logical_date": datetime.fromisoformat(LOGICAL_DATE)},
        ).fetchall()
    engine.dispose()
    by_task = {}
    for task_id, label in rows:
        by_task.setdefault(task_id, set()).add(label)
    for task_id in ("build_image", "run_tests", "collect"):
        assert by_task[task_id] == {"python", "javascript"}, by_task


def infrastructure_counts(aws_client) -> dict[str, int]:
    return {
        "IAM roles": len(aws_client("iam").list_roles()["Roles"]),
        "compute environments": len(
            aws_client("batch").describe_compute_environments()["computeEnvironments"]
        ),
        "job queues": len(aws_client("batch").describe_job_queues()["jobQueues"]),
        "buckets": len(aws_client("s3").list_buckets()["Buckets"]),
        "repositories": len(aws_client("ecr").describe_repositories()["repositories"]),
    }


@pytest.fixture(scope="module")
def infrastructure_before(aws_client):  # requested by `campaign`, so it counts before the run
    return infrastructure_counts(aws_client)


def test_the_campaign_runs_on_the_stacks_resources_and_creates_none(
    campaign, infrastructure_before, aws_client
):
    """Roles, compute environments, queues, buckets and repositories come from the CloudFormation stack
    only (the Airflow identity may not create them): the campaign leaves their number as it found it."""
    result, _ = campaign
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert infrastructure_counts(aws_client) == infrastructure_before


@pytest.fixture(scope="module")
def metrics_before(aws_client):  # requested by `campaign`, so it reads before the run
    """What CloudWatch (moto, shared across runs) already holds for the campaign's minute:
    a rerun within the same minute adds to the sums, as CloudWatch would."""
    from sdk_campaigns.campaign import metrics

    moment = datetime.fromisoformat(LOGICAL_DATE).replace(second=0)
    return metrics.read_back(
        aws_client("cloudwatch"),
        dag_id="sdk_test_campaign",
        sdks=["python", "javascript"],
        start=moment,
        end=moment + timedelta(minutes=1),
    )


def test_cloudwatch_metrics_are_published_and_read_back(campaign, metrics_before):
    _, partitions = campaign
    for sdk, partition in partitions.items():
        found, before = partition["summary"]["metrics"], metrics_before[sdk]
        added = {
            name: found[name] - before.get(name, 0) for name in ("TestsPassed", "TestsFailed", "TestsSkipped")
        }
        assert added == {"TestsPassed": 4, "TestsFailed": 1, "TestsSkipped": 1}, sdk
        assert found["PassRate"] == 80.0
        assert found["InfrastructureFailure"] == 0
        assert found["EstimatedCost"] > 0
