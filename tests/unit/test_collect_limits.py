"""The campaign config's `limits:` on what a job hands over: too many files or test cases make the SDK
results_invalid, naming the cap, with none of its rows; long names, messages and log lines are cut with a
marker saying so; the job log is kept up to its cap. Whatever collect writes, the readers accept."""

from __future__ import annotations

import pytest
from aws_stand_ins import FolderS3, OneJobBatch, PagedLogs, read_text

from sdk_campaigns.campaign import collect, outcomes
from sdk_campaigns.campaign.junit import MAX_JUNIT_BYTES, MAX_MESSAGE_CHARS, MAX_NAME_CHARS, truncate_text
from sdk_campaigns.campaign.plan import plan_run
from sdk_campaigns.config import LimitSettings

BUCKET = "results-bucket"
DAY = "2026-11-21T06:00:00+00:00"
RUN_ID = f"scheduled__{DAY}"


@pytest.fixture
def sdk_run(sample_config):
    return plan_run(sample_config, {"sdks": ["python"]}, run_id=RUN_ID, logical_date=DAY)


@pytest.fixture
def s3(tmp_path):
    return FolderS3(tmp_path / "s3")


def junit(cases: int, *, name: str = "test_{n}", message: str = "") -> bytes:
    failure = f'<failure message="{message}"/>' if message else ""
    body = "".join(
        f'<testcase classname="pkg" name="{name.format(n=n)}">{failure}</testcase>' for n in range(cases)
    )
    return f'<testsuite name="s">{body}</testsuite>'.encode()


def collect_with(s3, sdk_run, limits: LimitSettings, files: dict[str, bytes], log_lines=("ran",), batch=None):
    sdk_plan = sdk_run.sdks[0]
    for name, body in files.items():
        s3.put_object(Bucket=BUCKET, Key=f"{sdk_plan.job_results_prefix}{name}", Body=body)
    outcome = collect.collect_outcome(
        batch=batch or OneJobBatch(),
        logs=PagedLogs(list(log_lines), page=500),
        s3=s3,
        sdk="python",
        job_queue="queue",
        job_name=sdk_plan.job_name,
        bucket=BUCKET,
        prefix=sdk_plan.results_prefix,
        image="image",
        digest="sha256:" + "0" * 64,
        run_id=RUN_ID,
        logical_date=DAY,
        limits=limits,
    )
    document = {**outcome.to_dict(), "ref": sdk_plan.ref, "metrics": {}}
    outcomes.write_outcome(s3, BUCKET, sdk_plan, document, limits)
    [read_back] = outcomes.read_outcomes(s3, BUCKET, sdk_run, limits)
    assert read_back == document, "the readers must accept what collect writes, caps or not"
    return outcome


def test_too_many_test_cases_are_results_invalid_naming_the_cap(s3, sdk_run):
    limits = LimitSettings(max_cases_per_sdk=100)
    outcome = collect_with(s3, sdk_run, limits, {"a.xml": junit(60), "b.xml": junit(65)})
    assert outcome.status == "results_invalid"
    assert outcome.reason == "125 test cases is over limits.max_cases_per_sdk (100)"
    assert outcome.rows == [] and outcome.counts["total"] == 0


def test_cases_at_the_cap_are_kept(s3, sdk_run):
    outcome = collect_with(s3, sdk_run, LimitSettings(max_cases_per_sdk=100), {"a.xml": junit(100)})
    assert (outcome.status, outcome.counts["total"], len(outcome.rows)) == ("passed", 100, 100)


def test_too_many_files_are_results_invalid_without_reading_them(s3, sdk_run):
    files = {f"junit-{n}.xml": b"not even xml" for n in range(7)}
    outcome = collect_with(s3, sdk_run, LimitSettings(max_files_per_sdk=5), files)
    assert outcome.status == "results_invalid"
    assert outcome.reason == "more than 5 files under results/ is over limits.max_files_per_sdk (5)"
    assert outcome.rows == []


def test_a_file_over_the_byte_cap_is_results_invalid_naming_the_cap(s3, sdk_run):
    big = junit(200)
    outcome = collect_with(
        s3, sdk_run, LimitSettings(max_junit_bytes=2048), {"big.xml": big, "small.xml": junit(2)}
    )
    assert outcome.status == "results_invalid"
    assert outcome.reason.endswith(f"big.xml: {len(big):,} bytes is over limits.max_junit_bytes (2,048)")
    assert len(outcome.rows) == 2  # the good file's rows are shown in the report


def test_long_names_and_messages_are_cut_with_an_honest_marker(s3, sdk_run):
    limits = LimitSettings(max_name_chars=100, max_message_chars=80)
    outcome = collect_with(
        s3, sdk_run, limits, {"a.xml": junit(2, name="t{n}" + "n" * 500, message="m" * 12_345)}
    )
    [row, _] = outcome.rows
    assert row["name"] == "t0" + "n" * 75 + "… [truncated 425 chars]"  # 100 characters at most
    assert row["message"] == "m" * 54 + "… [truncated 12,291 chars]"
    assert outcome.status == "tests_failed"


def test_the_job_log_is_kept_up_to_its_cap_and_says_where_it_was_cut(s3, sdk_run):
    lines = [f"line {n} " + "x" * 150 for n in range(2_500)]
    limits = LimitSettings(max_log_events=1_000, max_message_chars=64)
    outcome = collect_with(s3, sdk_run, limits, {"a.xml": junit(1)}, log_lines=lines)
    job_log = read_text(s3, BUCKET, f"{sdk_run.sdks[0].results_prefix}job.log").splitlines()
    marker = "… [job log cut after 1,000 events: limits.max_log_events]"
    assert job_log == [*lines[:1_000], marker]
    assert outcome.log_excerpt[-1] == marker
    assert outcome.log_excerpt[:-1] == [truncate_text(line, 64) for line in lines[801:1_000]]


def test_a_failed_job_over_the_cap_says_so_too(s3, sdk_run):
    failed = OneJobBatch(status="FAILED", exit_code=2)
    outcome = collect_with(s3, sdk_run, LimitSettings(max_cases_per_sdk=3), {"a.xml": junit(5)}, batch=failed)
    assert outcome.status == "infrastructure_failed"
    assert outcome.reason.endswith("; 5 test cases is over limits.max_cases_per_sdk (3)")
    assert outcome.rows == []


def test_truncate_text():
    assert truncate_text("short", 10) == "short"
    assert truncate_text("x" * 100, 40) == "x" * 17 + "… [truncated 83 chars]"
    assert len(truncate_text("x" * 1_000_000, 64)) <= 64
    assert truncate_text("x" * 100, 10) == "x" * 10  # no room for a marker: cut only


def test_the_parser_defaults_are_the_config_defaults():
    defaults = LimitSettings()
    assert (defaults.max_junit_bytes, defaults.max_name_chars, defaults.max_message_chars) == (
        MAX_JUNIT_BYTES,
        MAX_NAME_CHARS,
        MAX_MESSAGE_CHARS,
    )
