"""A quarantined failing test through the whole campaign (`airflow dags test` on the local stack): under
failure policy `tests` the python SDK's deliberately failing sample test would fail the run; quarantined,
it still runs and is recorded, marked, and the run succeeds with python `passed`."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from sdk_campaigns import history
from sdk_campaigns.config import DEFAULT_CONFIG_PATH

from .conftest import run_airflow

pytestmark = pytest.mark.stack

LOGICAL_DATE = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0).isoformat()
QUARANTINED = "*test_retry_delays_are_capped"


@pytest.fixture(scope="module")
def campaign(stack_home, tmp_path_factory):
    folder = tmp_path_factory.mktemp("quarantine-campaign")
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    config["sdks"] = {"python": config["sdks"]["python"]}
    config["campaign"].update(history_uri=str(folder / "history"), report_dir=str(folder / "reports"))
    expires = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    config["quarantine"] = {
        "tests": [
            {
                "sdk": "python",
                "test": QUARANTINED,
                "reason": "demo failure",
                "owner": "@py",
                "expires": expires,
            }
        ]
    }
    (folder / "campaign.yaml").write_text(yaml.safe_dump(config))
    result = run_airflow(
        ["dags", "test", "sdk_test_campaign", LOGICAL_DATE, "-c", json.dumps({"failure_policy": "tests"})],
        env={"SDK_CAMPAIGNS_CONFIG": str(folder / "campaign.yaml")},
    )
    partitions = history.read_run(str(folder / "history"), "sdk_test_campaign", LOGICAL_DATE)
    assert partitions, (result.stdout + result.stderr)[-4000:]
    return result, partitions[0], config


def test_a_failing_quarantined_test_leaves_the_verdict_passed(campaign):
    result, python, _ = campaign
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    summary = python["summary"]
    assert summary["status"] == "passed", summary["reason"]
    counted = {"passed": 4, "failed": 0, "error": 0, "skipped": 1, "total": 5}
    assert summary["counts"] == {**counted, "quarantined": 1, "quarantined_failed": 1}
    assert "1 quarantined test not counted (1 failed)" in summary["reason"]


def test_the_quarantined_test_still_ran_and_is_marked_in_the_history(campaign):
    _, python, _ = campaign
    rows = {row["name"]: row for row in python["rows"]}
    assert rows["test_retry_delays_are_capped"]["status"] == "failed"
    assert rows["test_retry_delays_are_capped"]["quarantined"] is True
    assert rows["test_bucket_arn"]["quarantined"] is False


def test_the_run_kept_the_quarantine_it_went_by(campaign, aws_client):
    _, python, config = campaign
    prefix = f"sdk_test_campaign/{python['summary']['run_id']}/attempt-1/quarantine.json"
    body = aws_client("s3").get_object(Bucket=config["campaign"]["results_bucket"], Key=prefix)["Body"].read()
    assert [e["test"] for e in json.loads(body)["entries"]] == [QUARANTINED]


def test_cloudwatch_counts_no_quarantined_test(campaign, aws_client):
    _, python, config = campaign
    key = f"sdk_test_campaign/{python['summary']['run_id']}/attempt-1/python/outcome.json"
    outcome = json.loads(
        aws_client("s3").get_object(Bucket=config["campaign"]["results_bucket"], Key=key)["Body"].read()
    )
    assert outcome["status"] == "tests_failed"  # collect's own classification, kept as the job's record
    assert outcome["metrics"]["PassRate"] == 100.0 and outcome["metrics"]["TestsFailed"] == 0  # read back
