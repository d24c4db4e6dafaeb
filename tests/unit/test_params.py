"""The DAG's params as the trigger form, the CLI and the REST API see them (JSON schemas from the
DAG as Airflow loads it), and the failure policy as the verdict applies it."""

import logging
import os
from pathlib import Path

import jsonschema
import pytest

from sdk_campaigns.campaign import verdict as verdicts
from sdk_campaigns.campaign.plan import REF_PARAM_PATTERN, plan_run
from sdk_campaigns.campaign.sources import SourceError, validate_ref

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow")))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    assert bag.import_errors == {}
    return bag.dags["sdk_test_campaign"].params


def _errors(params, name, value) -> list[str]:
    schema = params.get_param(name).schema
    return [error.message for error in jsonschema.Draft202012Validator(schema).iter_errors(value)]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sdks", []),
        ("sdks", None),  # the form's multi-select, cleared
        ("sdks", ["python", "go"]),
        ("ref", ""),
        ("ref", None),  # the form's text field, cleared
        ("ref", "main"),
        ("ref", "release/1.2"),
        ("ref", "v2.1.0-rc.1"),
        ("ref", "0f3c2a9"),
        ("ref", "a" * 200),
        ("failure_policy", "infrastructure"),
        ("failure_policy", "tests"),
        ("failure_policy", "never"),
        ("validation_policy", "warn"),
        ("validation_policy", "fail"),
        ("overrides", {}),
        ("overrides", None),
        ("overrides", {"python": {"repo_url": "https://github.com/org/sdk", "ref": "v2"}}),
    ],
)
def test_good_values_pass_the_schema(params, name, value):
    assert _errors(params, name, value) == []


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("sdks", ["cobol"], "'cobol' is not one of ['python', 'javascript'"),
        ("sdks", "python", "'python' is not of type 'array', 'null'"),
        ("sdks", [1], "1 is not one of"),
        ("ref", "main; rm -rf /", "'main; rm -rf /' does not match"),
        ("ref", "$(id)", "'$(id)' does not match"),
        ("ref", "../etc", "'../etc' does not match"),
        ("ref", "-x", "'-x' does not match"),
        ("ref", "a b", "'a b' does not match"),
        ("ref", "main\n", "'main\\n' does not match"),
        ("ref", "topic/x.lock", "'topic/x.lock' does not match"),
        ("ref", "a" * 201, "does not match"),
        ("failure_policy", "sometimes", "'sometimes' is not one of ['infrastructure', 'tests', 'never']"),
        ("failure_policy", None, "None is not one of"),
        ("validation_policy", "maybe", "'maybe' is not one of ['warn', 'fail']"),
        ("overrides", "python", "'python' is not of type 'object', 'null'"),
    ],
)
def test_bad_values_are_refused_naming_the_value_and_what_is_allowed(params, name, value, named):
    errors = _errors(params, name, value)
    assert errors and any(named in e for e in errors), errors


def test_airflow_itself_refuses_a_bad_value_with_that_message(params):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match=r"'cobol' is not one of \['python', 'javascript'"):
        params.get_param("sdks").resolve(["cobol"])


@pytest.mark.parametrize(
    "ref",
    [
        "main",
        "release/1.2",
        "v1",
        "a..b",
        "x.lock",
        "x.locked",
        "_x",
        ".x",
        "a/b/c",
        "ü",
        "a" * 200,
        "a" * 201,
    ],
)
def test_ref_pattern_accepts_what_validate_ref_accepts(ref):
    try:
        validate_ref(ref)
        accepted = True
    except SourceError:
        accepted = False
    assert jsonschema.Draft202012Validator({"pattern": REF_PARAM_PATTERN}).is_valid(ref) == accepted


def test_the_form_offers_the_configured_sdks_as_a_multi_select(params, sample_config):
    schema = params.get_param("sdks").schema
    # The UI renders an array with `examples` as a multi-select; `items.enum` refuses anything else.
    assert schema["examples"] == sample_config.sdk_names
    assert schema["items"] == {"type": "string", "enum": sample_config.sdk_names}
    assert params["sdks"] == []


def test_policies_label_every_value_and_default_to_infrastructure_and_the_configs_validation(
    params, sample_config
):
    for name in ("failure_policy", "validation_policy"):
        schema = params.get_param(name).schema
        assert set(schema["values_display"]) == set(schema["enum"])
    assert params["failure_policy"] == "infrastructure"
    assert params["validation_policy"] == sample_config.validation.on_failure


def test_params_stay_flat_with_a_title_and_a_description(params):
    for name in params:
        schema = params.get_param(name).schema
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        assert set(types) <= {"string", "array", "object", "null"}, name
        if "array" in types:
            assert schema["items"]["type"] == "string", name
        assert params.get_param(name).description and schema["title"], name


# The verdict under each failure policy: outcomes as collect wrote them, validation as it returned.


@pytest.fixture
def verdict(sample_config):
    def decide(statuses: dict[str, str], validation=None, **policies) -> None:
        outcomes = [
            {"sdk": sdk, "status": status, "reason": f"{sdk} {status}"} for sdk, status in statuses.items()
        ]
        run = plan_run(
            sample_config,
            {"sdks": list(statuses), **policies},
            run_id="manual__1",
            logical_date="2026-11-21T00:00:00+00:00",
        )
        verdicts.decide(run, outcomes, validation or {})

    return decide


PASSING_VALIDATION = {"success": True, "summary": "all expectations met"}


@pytest.mark.parametrize("policy", ["infrastructure", "tests", "never"])
def test_a_clean_run_passes_under_every_policy(verdict, policy):
    verdict({"python": "passed", "go": "passed"}, PASSING_VALIDATION, failure_policy=policy)


def test_failed_tests_fail_the_run_only_under_policy_tests(verdict):
    statuses = {"python": "tests_failed", "go": "passed"}
    verdict(statuses, PASSING_VALIDATION, failure_policy="infrastructure")
    with pytest.raises(verdicts.CampaignFailed, match=r"failure policy 'tests'\): python: tests_failed"):
        verdict(statuses, PASSING_VALIDATION, failure_policy="tests")
    verdict(statuses, PASSING_VALIDATION, failure_policy="never")


@pytest.mark.parametrize("status", ["infrastructure_failed", "results_invalid"])
def test_broken_sdks_fail_the_run_unless_policy_never(verdict, status, caplog):
    for policy in ("infrastructure", "tests"):
        with pytest.raises(verdicts.CampaignFailed, match=f"go: {status}"):
            verdict({"python": "passed", "go": status}, PASSING_VALIDATION, failure_policy=policy)
    with caplog.at_level(logging.WARNING, logger=verdicts.log.name):
        verdict({"python": "passed", "go": status}, PASSING_VALIDATION, failure_policy="never")
    assert f"failure policy 'never': the run succeeds despite: go: {status}" in caplog.text


def test_broken_expectations_fail_the_run_under_validation_policy_fail(verdict, sample_config):
    broken = {"success": False, "summary": "failed: expect_column_values_to_be_between"}
    verdict({"python": "passed"}, broken, failure_policy="infrastructure", validation_policy="warn")
    expected = "validation failed: expect_column_values_to_be_between"
    with pytest.raises(verdicts.CampaignFailed, match=expected):
        verdict({"python": "passed"}, broken, failure_policy="infrastructure", validation_policy="fail")
    verdict({"python": "passed"}, broken, failure_policy="never", validation_policy="fail")
    assert sample_config.validation.on_failure == "warn"
    verdict({"python": "passed"}, broken, failure_policy="infrastructure")  # the config's policy
