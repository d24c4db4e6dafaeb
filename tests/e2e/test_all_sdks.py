"""A full campaign over every configured SDK: each image builds in real Docker, runs its
sample suite as a Batch job on moto, and its JUnit parses to the expected counts."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from sdk_campaigns import history
from sdk_campaigns.config import load_config

from .conftest import run_airflow

pytestmark = pytest.mark.stack

LOGICAL_DATE = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0).isoformat()
# Every sample suite: six tests, one skipped, one failing on purpose (SDK_SAMPLE_FAILURES=on).
SAMPLE_COUNTS = {"passed": 4, "failed": 1, "error": 0, "skipped": 1, "total": 6}


@pytest.fixture(scope="module")
def campaign(stack_home):
    result = run_airflow(["dags", "test", "sdk_test_campaign", LOGICAL_DATE, "-c", json.dumps({"sdks": []})])
    partitions = history.read_run(load_config().history_uri(), "sdk_test_campaign", LOGICAL_DATE)
    assert partitions, (result.stdout + result.stderr)[-4000:]
    return result, {p["summary"]["sdk"]: p for p in partitions}


def test_every_configured_sdk_is_published(campaign):
    result, partitions = campaign
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert sorted(partitions) == sorted(load_config().sdk_names)


@pytest.mark.parametrize("sdk", load_config().sdk_names)
def test_each_image_runs_its_suite_to_the_expected_counts(campaign, sdk):
    _, partitions = campaign
    summary = partitions[sdk]["summary"]
    assert summary["status"] == "tests_failed", summary["reason"]
    assert summary["counts"] == SAMPLE_COUNTS
    failed = [row for row in partitions[sdk]["rows"] if row["status"] == "failed"]
    assert len(failed) == 1
    assert "retry delay example expects exponential growth" in failed[0]["message"]
