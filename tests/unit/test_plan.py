import json
import re

import pytest

from sdk_campaigns.campaign.plan import PlanError, RunPlan, plan_run


def _run(config, clear_number=0, **params) -> RunPlan:
    return plan_run(
        config,
        params,
        run_id="manual__1",
        logical_date="2026-11-21T00:00:00+00:00",
        clear_number=clear_number,
    )


def _plan(config, run_id="manual__1", clear_number=0, **params) -> list[dict]:
    run = plan_run(
        config, params, run_id=run_id, logical_date="2026-11-21T00:00:00+00:00", clear_number=clear_number
    )
    return run.sdks_xcom()


def test_empty_selection_means_every_sdk(sample_config):
    assert [p["sdk"] for p in _plan(sample_config, sdks=[])] == sample_config.sdk_names


def test_unknown_sdk_names_the_known_ones(sample_config):
    with pytest.raises(PlanError) as err:
        _plan(sample_config, sdks=["python", "cobol"])
    assert "['cobol']" in str(err.value)
    assert "known SDKs: python, javascript" in str(err.value)


HOSTILE_REFS = ["main; rm -rf /", "$(id)", "../etc", "-x", "a b", "main\n", "main\n--upload-pack=x"]


@pytest.mark.parametrize("ref", HOSTILE_REFS)
def test_hostile_refs_are_rejected(sample_config, ref):
    with pytest.raises(PlanError, match="is not a git branch"):
        _plan(sample_config, ref=ref)


def test_plan_carries_results_prefix_and_argv_command(sample_config):
    plan = _plan(sample_config, sdks=["python", "python"], ref="release/1.2")
    assert len(plan) == 1
    env = plan[0]["environment"]
    prefix = "sdk_test_campaign/manual__1/attempt-1/python/"
    assert plan[0]["results_prefix"] == prefix
    assert env["RESULTS_S3_URI"] == f"s3://sdk-campaigns-results/{prefix}results/"
    assert json.loads(env["SDK_TEST_COMMAND"])[:3] == ["python3", "-m", "pytest"]
    assert env["SDK_REF"] == "release/1.2"


def test_job_names_differ_per_run(sample_config):
    first = _plan(sample_config, run_id="a")[0]["job_name"]
    second = _plan(sample_config, run_id="b")[0]["job_name"]
    assert first != second and first.startswith("sdk-campaigns-python-")


def test_overrides_set_repository_ref_and_command_for_one_sdk(sample_config):
    overrides = {
        "python": {"repo_url": "git://127.0.0.1/sdk.git", "ref": "v2", "test_command": ["pytest", "-x"]}
    }
    python, javascript = _plan(sample_config, sdks=["python", "javascript"], overrides=overrides, ref="main")
    assert python["environment"]["SDK_REPO_URL"] == "git://127.0.0.1/sdk.git"
    assert python["environment"]["SDK_REF"] == "v2"
    assert json.loads(python["environment"]["SDK_TEST_COMMAND"]) == ["pytest", "-x"]
    assert "SDK_REPO_URL" not in javascript["environment"]
    assert javascript["environment"]["SDK_REF"] == "main"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cobol": {}}, "unknown SDK 'cobol'; known SDKs: python, javascript"),
        ({"python": {"image": "x"}}, "only repo_url, ref, test_command"),
        ({"python": {"repo_url": "https://h/x; rm -rf /"}}, "is not a repository URL"),
        ({"python": {"repo_url": "file:///etc"}}, "is not a repository URL"),
        ({"python": {"repo_url": "https://host/x\n"}}, "is not a repository URL"),
        ({"python": {"repo_url": "https://user:pw@host/x"}}, "is not a repository URL"),
        ({"python": {"ref": "$(reboot)"}}, "is not a git branch"),
        ({"python": {"test_command": "pytest -x; curl evil"}}, "must be a list of 1 to 64 non-empty strings"),
        ({"python": {"test_command": []}}, "must be a list"),
        ("python", "'overrides' must map SDK names"),
    ],
)
def test_bad_overrides_are_refused_with_the_reason(sample_config, overrides, message):
    with pytest.raises(PlanError, match=re.escape(message)):
        _plan(sample_config, overrides=overrides)


def test_job_names_are_unique_per_run_attempt(sample_config):
    first = _plan(sample_config, sdks=["python"])[0]["job_name"]
    assert _plan(sample_config, sdks=["python"])[0]["job_name"] == first  # a retry finds its job
    assert _plan(sample_config, sdks=["python"], clear_number=1)[0]["job_name"] != first  # a rerun


def test_policies_default_to_infrastructure_and_the_configs_validation_policy(sample_config):
    run = _run(sample_config, sdks=["python", "go"])
    assert (run.failure_policy, run.validation_policy) == (
        "infrastructure",
        sample_config.validation.on_failure,
    )
    empty = _run(sample_config, failure_policy="", validation_policy=None)
    assert (empty.failure_policy, empty.validation_policy) == (
        "infrastructure",
        sample_config.validation.on_failure,
    )


def test_the_run_plan_round_trips_through_xcom_as_plain_values(sample_config):
    run = _run(sample_config, sdks=["python", "go"], failure_policy="tests", validation_policy="fail")
    run_fields, sdk_plans = run.run_xcom(), run.sdks_xcom()
    assert json.loads(json.dumps([run_fields, sdk_plans])) == [run_fields, sdk_plans]  # JSON, no classes
    assert RunPlan.from_xcom(run_fields, sdk_plans) == run
    assert run_fields["failure_policy"] == "tests" and [p["sdk"] for p in sdk_plans] == ["python", "go"]
    assert run.results_prefix == "sdk_test_campaign/manual__1/attempt-1/"
    assert _run(sample_config, clear_number=2).results_prefix == "sdk_test_campaign/manual__1/attempt-3/"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"failure_policy": "sometimes"},
            "failure_policy 'sometimes' is not a known policy; known: infrastructure, tests, never",
        ),
        ({"failure_policy": ["tests"]}, "failure_policy ['tests'] is not a known policy"),
        (
            {"validation_policy": "maybe"},
            "validation_policy 'maybe' is not a known policy; known: warn, fail",
        ),
    ],
)
def test_unknown_policies_are_refused_naming_the_known_ones(sample_config, params, message):
    with pytest.raises(PlanError, match=re.escape(message)):
        _run(sample_config, **params)
