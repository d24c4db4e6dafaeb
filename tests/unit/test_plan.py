import json

import pytest
from sdk_campaigns.plan import PlanError, plan_campaign


def _plan(config, **kwargs):
    args = {"sdks": None, "ref": None, "run_id": "manual__1", "logical_date": "2026-11-21T00:00:00+00:00"}
    return plan_campaign(config, **{**args, **kwargs})


def test_empty_selection_means_every_sdk(sample_config):
    assert [p["sdk"] for p in _plan(sample_config, sdks=[])] == sample_config.sdk_names


def test_unknown_sdk_names_the_known_ones(sample_config):
    with pytest.raises(PlanError) as err:
        _plan(sample_config, sdks=["python", "cobol"])
    assert "['cobol']" in str(err.value)
    assert "known SDKs: python, javascript" in str(err.value)


@pytest.mark.parametrize("ref", ["main; rm -rf /", "$(id)", "../etc", "-x", "a b"])
def test_hostile_refs_are_rejected(sample_config, ref):
    with pytest.raises(PlanError, match="is not a git branch"):
        _plan(sample_config, ref=ref)


def test_plan_carries_results_prefix_and_argv_command(sample_config):
    plan = _plan(sample_config, sdks=["python", "python"], ref="release/1.2")
    assert len(plan) == 1
    env = plan[0]["environment"]
    assert env["RESULTS_S3_URI"] == "s3://sdk-campaigns-results/sdk_test_campaign/manual__1/python/"
    assert json.loads(env["SDK_TEST_COMMAND"])[:3] == ["python3", "-m", "pytest"]
    assert env["SDK_REF"] == "release/1.2"


def test_job_names_differ_per_run(sample_config):
    first = _plan(sample_config, run_id="a")[0]["job_name"]
    second = _plan(sample_config, run_id="b")[0]["job_name"]
    assert first != second and first.startswith("sdk-campaigns-python-")
