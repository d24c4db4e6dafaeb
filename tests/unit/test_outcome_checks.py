"""The readers of outcome.json distrust it: a forged or broken outcome becomes results_invalid with the
reason, none of its rows go further (validate, history, report), and the other SDKs are unaffected.

Outcomes are made by the real collect_outcome (stand-ins for Batch and CloudWatch Logs, S3 on a local
folder), written by outcomes.write_outcome and read back by outcomes.read_outcomes, as the tasks do."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest
from aws_stand_ins import FolderS3, OneJobBatch, PagedLogs

from sdk_campaigns import history
from sdk_campaigns.campaign import collect, outcomes
from sdk_campaigns.campaign.outcome_checks import OutcomeRejected, check_outcome
from sdk_campaigns.campaign.plan import plan_run
from sdk_campaigns.config import LimitSettings
from sdk_campaigns.publish import store_history

BUCKET = "results-bucket"
RUN_ID = "scheduled__2026-11-21T06:00:00+00:00"
DAY = "2026-11-21T06:00:00+00:00"
DIGEST = "sha256:" + "ab" * 32
LIMITS = LimitSettings()
JUNIT = b"""<testsuite name="suite">
<testcase classname="pkg.Mod" name="test_ok" time="0.5"/>
<testcase classname="pkg.Mod" name="test_broken"><failure message="expected 1, got 2"/></testcase>
<testcase classname="pkg.Mod" name="test_later"><skipped/></testcase>
</testsuite>"""


@pytest.fixture
def run(sample_config):
    return plan_run(sample_config, {"sdks": ["python", "go"]}, run_id=RUN_ID, logical_date=DAY)


@pytest.fixture
def s3(tmp_path):
    return FolderS3(tmp_path / "s3")


def collect_and_write(s3, run, sdk_plan, junit: bytes = JUNIT, limits: LimitSettings = LIMITS) -> dict:
    """What tasks.collect does for one SDK: collect, add ref and metrics, write outcome.json."""
    s3.put_object(Bucket=BUCKET, Key=f"{sdk_plan.job_results_prefix}junit.xml", Body=junit)
    outcome = collect.collect_outcome(
        batch=OneJobBatch(),
        logs=PagedLogs(["collecting", "3 tests ran"]),
        s3=s3,
        sdk=sdk_plan.sdk,
        job_queue="queue",
        job_name=sdk_plan.job_name,
        bucket=BUCKET,
        prefix=sdk_plan.results_prefix,
        image="123456789012.dkr.ecr.us-east-1.amazonaws.com/sdk-campaigns/x:abc",
        digest=DIGEST,
        run_id=run.run_id,
        logical_date=run.logical_date,
        limits=limits,
    )
    document = {**outcome.to_dict(), "ref": sdk_plan.ref, "metrics": {"TestsPassed": 1.0, "PassRate": 50.0}}
    outcomes.write_outcome(s3, BUCKET, sdk_plan, document, limits)
    return document


def overwrite(s3, sdk_plan, document) -> None:
    """What a job could do if its role let it write beside results/: replace outcome.json."""
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    s3.put_object(Bucket=BUCKET, Key=f"{sdk_plan.results_prefix}outcome.json", Body=body)


def test_what_collect_writes_reads_back_unchanged(s3, run):
    written = [collect_and_write(s3, run, sdk_plan) for sdk_plan in run.sdks]
    found = outcomes.read_outcomes(s3, BUCKET, run, LIMITS)
    assert found == json.loads(json.dumps(written))
    assert [o["status"] for o in found] == ["tests_failed", "tests_failed"]
    assert found[0]["counts"] == {"passed": 1, "failed": 1, "error": 0, "skipped": 1, "total": 3}


def _forge_status(o):
    o["rows"][1]["status"] = "<img src=x onerror=alert(1)>"


def _forge_passed(o):
    o["status"], o["reason"] = "passed", "all 3 tests passed"


def _forge_counts(o):
    o["counts"]["passed"] = 1000
    o["counts"]["total"] = 1002


def _forge_other_sdk(o):
    for row in o["rows"]:
        row["sdk"] = "go"


def _forge_other_run(o):
    o["rows"][0]["run_id"] = "manual__2026-01-01T00:00:00+00:00"


def _forge_test_id(o):
    o["rows"][0]["test_id"] = "0123456789abcdef"


def _forge_sdk_status(o):
    o["status"] = "mostly_passed"


def _forge_long_name(o):
    o["rows"][0]["name"] = "n" * (LIMITS.max_name_chars + 1)


def _forge_extra_row_column(o):
    o["rows"][0]["owner"] = "mallory"


def _forge_duration(o):
    o["rows"][0]["duration"] = float("nan")


def _forge_unknown_key(o):
    o["history_uri"] = "s3://elsewhere/"


def _forge_row_type(o):
    o["rows"][0]["message"] = {"nested": ["object"]}


def _forge_too_many_rows(o):
    o["rows"] = o["rows"] * (LIMITS.max_cases_per_sdk // 3 + 1)


def _forge_results_uri(o):
    o["results_uri"] = "s3://elsewhere/prefix/"


def _forge_reason(o):
    o["reason"] = "r" * 100_000


def _forge_log_excerpt(o):
    o["log_excerpt"] = ["line"] * 10_000


def _forge_exit_code(o):
    o["exit_code"] = "0; rm -rf /"


@pytest.mark.parametrize(
    ("forge", "why"),
    [
        (_forge_status, "test row 1: status '<img src=x onerror=alert(1)>' is none of passed, failed"),
        (_forge_passed, "status passed with 1 failing of 3 tests"),
        (_forge_counts, "counts {'passed': 1000"),
        (_forge_other_sdk, "test row 0: SDK 'go' is not 'python'"),
        (_forge_other_run, "test row 0: run_id or logical_date is not this run's"),
        (_forge_test_id, "test row 0: test_id is not the id of its class and name"),
        (_forge_sdk_status, "status 'mostly_passed' is none of passed, tests_failed"),
        (_forge_long_name, "name is not a text of at most limits.max_name_chars (1,000)"),
        (_forge_extra_row_column, "test row 0: not an object with exactly the columns"),
        (_forge_duration, "test row 0: duration is not a finite number of seconds"),
        (_forge_unknown_key, "unknown keys ['history_uri']"),
        (_forge_row_type, "message is not a text"),
        (_forge_too_many_rows, "test rows is over limits.max_cases_per_sdk (200,000)"),
        (_forge_results_uri, "results_uri is not this attempt's results folder"),
        (_forge_reason, "the reason is not a text of at most 4,500 characters"),
        (_forge_log_excerpt, "log_excerpt is not a list of at most 200 lines"),
        (_forge_exit_code, "exit_code is not an integer"),
    ],
    ids=lambda value: getattr(value, "__name__", "")[len("_forge_") :],
)
def test_a_forged_outcome_is_results_invalid_and_the_other_sdk_is_unaffected(s3, run, forge, why):
    python, go = (collect_and_write(s3, run, sdk_plan) for sdk_plan in run.sdks)
    forged = copy.deepcopy(python)
    forge(forged)
    overwrite(s3, run.sdks[0], forged)

    found_python, found_go = outcomes.read_outcomes(s3, BUCKET, run, LIMITS)

    assert found_python["status"] == "results_invalid"
    assert found_python["reason"].startswith("outcome.json was refused: ")
    assert why in found_python["reason"]
    assert found_python["rows"] == []
    assert found_python["counts"] == {"passed": 0, "failed": 0, "error": 0, "skipped": 0, "total": 0}
    assert (found_python["sdk"], found_python["ref"]) == ("python", run.sdks[0].ref)
    assert found_go == json.loads(json.dumps(go))


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{not json", "not JSON (JSONDecodeError)"),
        (b"[1, 2]", "the outcome is a list, not an object"),
        (b'{"sdk": "\xc3\x28"}', "not JSON (UnicodeDecodeError)"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON (RecursionError)"),
        (json.dumps({"sdk": "go"}).encode(), "it is SDK 'go''s, not 'python''s"),
    ],
)
def test_an_outcome_that_is_no_outcome_is_results_invalid(s3, run, body, why):
    collect_and_write(s3, run, run.sdks[0])
    overwrite(s3, run.sdks[0], body)
    [found] = outcomes.read_outcomes(s3, BUCKET, dataclasses.replace(run, sdks=run.sdks[:1]), LIMITS)
    assert (found["status"], found["reason"]) == ("results_invalid", f"outcome.json was refused: {why}")


def test_an_outcome_over_the_byte_cap_is_refused_without_reading_it(s3, run):
    limits = LimitSettings(max_outcome_bytes=1024 * 1024)
    collect_and_write(s3, run, run.sdks[0])
    overwrite(s3, run.sdks[0], b" " * (2 * 1024 * 1024) + b"{}")
    [found, _] = outcomes.read_outcomes(s3, BUCKET, run, limits)
    assert found["status"] == "results_invalid"
    assert found["reason"] == (
        "outcome.json was refused: 2,097,154 bytes is over limits.max_outcome_bytes (1,048,576)"
    )


def test_a_missing_outcome_is_an_infrastructure_failure_not_a_refusal(s3, run):
    found = outcomes.read_outcomes(s3, BUCKET, run, LIMITS)
    assert [o["status"] for o in found] == ["infrastructure_failed", "infrastructure_failed"]


def test_refused_rows_never_reach_the_history(s3, run, tmp_path):
    """Through publish's own step: the forged SDK's summary is stored as results_invalid with no rows,
    and the other SDK's rows are all there."""
    python, _ = (collect_and_write(s3, run, sdk_plan) for sdk_plan in run.sdks)
    forged = copy.deepcopy(python)
    _forge_status(forged)
    overwrite(s3, run.sdks[0], forged)
    uri = str(tmp_path / "history")

    store_history(uri, run, outcomes.read_outcomes(s3, BUCKET, run, LIMITS), {}, tmp_path / "r.html")

    stored = {p["summary"]["sdk"]: p for p in history.read_run(uri, run.dag_id, run.logical_date)}
    assert stored["python"]["summary"]["status"] == "results_invalid"
    assert stored["python"]["rows"] == []
    assert stored["go"]["summary"]["status"] == "tests_failed"
    assert sorted(r["name"] for r in stored["go"]["rows"]) == ["test_broken", "test_later", "test_ok"]


def test_check_outcome_accepts_the_outcome_of_an_sdk_never_collected(run):
    document = outcomes.never_collected(run.sdks[0])
    assert check_outcome(
        json.loads(json.dumps(document)), run=run, sdk_plan=run.sdks[0], bucket=BUCKET, limits=LIMITS
    )
    with pytest.raises(OutcomeRejected, match="it is SDK 'python''s, not 'go''s"):
        check_outcome(document, run=run, sdk_plan=run.sdks[1], bucket=BUCKET, limits=LIMITS)
