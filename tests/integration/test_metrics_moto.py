"""Campaign metrics published to and read back from moto server's CloudWatch, over HTTP."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sdk_campaigns.campaign import metrics

pytestmark = pytest.mark.stack

PRICES = metrics.FargatePrices()


@pytest.fixture(scope="module")
def cloudwatch(aws_client):
    return aws_client("cloudwatch")


@pytest.fixture
def dag_id():
    return f"it-metrics-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def logical_date():
    """A few minutes ago, on the minute: well inside what CloudWatch accepts."""
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)


def _window(moment):
    return {"start": moment - timedelta(minutes=5), "end": moment + timedelta(minutes=4)}


def test_metrics_of_two_sdks_read_back_per_sdk(cloudwatch, dag_id, logical_date):
    python = {
        "sdk": "python",
        "status": "tests_failed",
        "job_seconds": 600.0,
        "counts": {"passed": 7, "failed": 1, "error": 1, "skipped": 1, "total": 10},
        "logical_date": logical_date.isoformat(),
    }
    rust = {  # killed for memory after 45 s: no results, but a job that was billed
        "sdk": "rust",
        "status": "infrastructure_failed",
        "job_seconds": 45.0,
        "counts": {},
        "logical_date": logical_date.isoformat(),
    }
    python_job = {"createdAt": 1_700_000_000_000, "startedAt": 1_700_000_030_000}
    data = [
        *metrics.campaign_metrics(
            python,
            dag_id=dag_id,
            vcpu=0.5,
            memory_gib=1024 / 1024,
            prices=PRICES,
            queue_wait_seconds=metrics.queue_wait_seconds(python_job),
        ),
        *metrics.campaign_metrics(
            rust, dag_id=dag_id, vcpu=1.0, memory_gib=2048 / 1024, prices=PRICES, queue_wait_seconds=None
        ),
        *metrics.campaign_summary_metrics([python, rust], dag_id=dag_id),
    ]

    assert metrics.publish(cloudwatch, data) == len(data) == 8 + 6 + 3

    found = metrics.read_back(
        cloudwatch, dag_id=dag_id, sdks=["python", "rust", "go"], **_window(logical_date)
    )
    assert found["python"] == pytest.approx(
        {
            "TestsPassed": 7,
            "TestsFailed": 2,
            "TestsSkipped": 1,
            "PassRate": 100 * 7 / 9,
            "JobDuration": 600,
            "QueueWait": 30,
            "EstimatedCost": 600 * (0.5 * 0.04048 + 1 * 0.004445) / 3600,
            "InfrastructureFailure": 0,
        }
    )
    assert found["rust"] == pytest.approx(
        {
            "TestsPassed": 0,
            "TestsFailed": 0,
            "TestsSkipped": 0,
            "JobDuration": 45,
            "EstimatedCost": 60 * (1 * 0.04048 + 2 * 0.004445) / 3600,  # the one-minute minimum
            "InfrastructureFailure": 1,
        }
    )
    assert found["go"] == {}  # not published: nothing made up

    summary = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": f"c{i}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": metrics.NAMESPACE,
                        "MetricName": spec.name,
                        "Dimensions": [{"Name": "Campaign", "Value": dag_id}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
            for i, spec in enumerate(metrics.CAMPAIGN_METRICS)
        ],
        StartTime=_window(logical_date)["start"],
        EndTime=_window(logical_date)["end"],
    )
    sums = {r["Id"]: sum(r["Values"]) for r in summary["MetricDataResults"]}
    assert sums == {"c0": 2, "c1": 1, "c2": 1}  # SdksTested, SdksFailing (python), SdksBroken (rust)


def test_more_than_one_request_of_metric_data_arrives_whole(cloudwatch, dag_id, logical_date):
    one_test = {
        "sdk": "bulk",
        "status": "passed",
        "counts": {"passed": 1},
        "logical_date": logical_date.isoformat(),
    }
    data = [
        datum
        for _ in range(1100)
        for datum in metrics.campaign_metrics(one_test, dag_id=dag_id, vcpu=0.5, memory_gib=1)
        if datum["MetricName"] == "TestsPassed"
    ]
    assert metrics.publish(cloudwatch, data) == 1100  # two PutMetricData requests: 1000 + 100

    found = metrics.read_back(cloudwatch, dag_id=dag_id, sdks=["bulk"], **_window(logical_date))
    assert found == {"bulk": {"TestsPassed": 1100}}


def test_window_without_data_reads_back_nothing_for_any_sdk_name(cloudwatch, dag_id, logical_date):
    outcome = {"sdk": "c++ (gcc 14)", "status": "passed", "counts": {"passed": 3}, "job_seconds": 5}
    data = metrics.campaign_metrics(outcome, dag_id=dag_id, vcpu=0.5, memory_gib=1, logical_date=logical_date)
    assert metrics.publish(cloudwatch, data) == len(data)

    found = metrics.read_back(cloudwatch, dag_id=dag_id, sdks=["c++ (gcc 14)"], **_window(logical_date))
    assert found["c++ (gcc 14)"]["TestsPassed"] == 3
    assert found["c++ (gcc 14)"]["PassRate"] == 100

    earlier = logical_date - timedelta(hours=1)
    assert metrics.read_back(cloudwatch, dag_id=dag_id, sdks=["c++ (gcc 14)"], **_window(earlier)) == {
        "c++ (gcc 14)": {}
    }
