"""Which code a job tested (campaign/commits.py): the commit read from the job's summary line, the
image's content tag for its own suite, the checks on a forged outcome, the forges' compare links;
and which lane a run's plan puts it in (campaign/plan.py)."""

from __future__ import annotations

import json

import pytest

from sdk_campaigns.campaign import commits
from sdk_campaigns.campaign.plan import plan_run
from sdk_campaigns.config import CampaignConfig

SHA_A = "a" * 40
SHA_B = "0123456789abcdef0123456789abcdef01234567"
URL = "git://172.31.170.1:9418/sdk.git"
TAG = "c" + "1" * 24


def _summary_line(**fields) -> str:
    return "SDK_CAMPAIGN_SUMMARY " + json.dumps(
        {"sdk": "python", "results": ["s3://b/k/junit.xml"] * 3, **fields}, sort_keys=True
    )


def test_the_job_summary_line_gives_the_commit_and_the_last_line_wins():
    forged = _summary_line(commit=SHA_B, repo_url=URL)  # printed by the suite itself, before the harness
    log = ["collecting", forged, "1 passed", _summary_line(commit=SHA_A, repo_url=URL)]
    assert commits.summary_commit(log) == (SHA_A, URL)
    assert commits.code_under_test(log, planned_repo_url=URL, content_tag=TAG) == {
        "commit": SHA_A,
        "commit_kind": "git",
        "repo_url": URL,
    }


def test_a_summary_line_cut_at_the_line_limit_still_gives_the_commit():
    line = _summary_line(commit=SHA_A, repo_url=URL)
    cut = line[: line.index('"results"') + 12] + "… [cut]"
    assert commits.summary_commit([cut]) == (SHA_A, URL)


@pytest.mark.parametrize(
    "log",
    [
        [],  # the job never ran, or died before the harness printed its line
        ["sdk-campaign harness error: cannot check out"],
        [_summary_line()],  # the image's own suite: no commit in the line
        [_summary_line(commit="HEAD", repo_url=URL)],  # not a SHA
        [_summary_line(commit=SHA_A, repo_url="git://elsewhere/x.git")],  # not the planned repository
    ],
)
def test_no_commit_is_guessed_when_a_clone_does_not_name_one(log):
    assert commits.code_under_test(log, planned_repo_url=URL, content_tag=TAG) == {
        "commit": "unknown",
        "commit_kind": "unknown",
        "repo_url": URL,
    }


def test_the_images_own_suite_is_its_content_tag():
    found = commits.code_under_test([_summary_line()], planned_repo_url="", content_tag=TAG)
    assert found == {"commit": TAG, "commit_kind": "image_source", "repo_url": None}
    assert commits.code_under_test([], planned_repo_url="", content_tag="")["commit_kind"] == "unknown"


@pytest.mark.parametrize(
    ("document", "repo_url", "problem"),
    [
        ({"commit": SHA_A, "commit_kind": "git", "repo_url": URL}, URL, ""),
        ({"commit": TAG, "commit_kind": "image_source", "repo_url": None}, "", ""),
        ({"commit": "unknown", "commit_kind": "unknown", "repo_url": URL}, URL, ""),
        ({}, URL, ""),  # an outcome from before commits were recorded
        ({"commit": SHA_A, "commit_kind": "git", "repo_url": "git://x/y"}, URL, "not the planned repository"),
        ({"commit": "<b>", "commit_kind": "git", "repo_url": URL}, URL, "is not a git commit"),
        ({"commit": SHA_A, "commit_kind": "svn", "repo_url": URL}, URL, "is none of"),
        ({"commit": TAG, "commit_kind": "image_source", "repo_url": URL}, URL, "does not fit"),
        ({"commit": SHA_A, "commit_kind": "unknown", "repo_url": URL}, URL, "is not a unknown commit"),
    ],
)
def test_an_outcomes_commit_fields_are_checked(document, repo_url, problem):
    found = commits.check_code_under_test(document, planned_repo_url=repo_url)
    assert (problem in found) if problem else found == ""


@pytest.mark.parametrize(
    ("repo_url", "expected"),
    [
        ("https://github.com/o/r", f"https://github.com/o/r/compare/{SHA_A}...{SHA_B}"),
        ("https://github.com/o/r.git", f"https://github.com/o/r/compare/{SHA_A}...{SHA_B}"),
        ("https://github.com/o/r/", f"https://github.com/o/r/compare/{SHA_A}...{SHA_B}"),
        ("https://gitlab.com/g/sub/r.git", f"https://gitlab.com/g/sub/r/-/compare/{SHA_A}...{SHA_B}"),
        ("https://github.com/o/r/tree/main", None),
        ("https://github.com/../..", None),
        ("http://github.com/o/r", None),
        ("https://git.example.com/o/r", None),
        (URL, None),
        (None, None),
    ],
)
def test_compare_links_only_for_known_forges(repo_url, expected):
    assert commits.compare_url(repo_url, SHA_A, SHA_B) == expected
    assert commits.commit_url(repo_url, SHA_B) == (
        expected and expected.split("/compare/")[0] + f"/commit/{SHA_B}"
    )


def test_compare_links_only_between_two_shas():
    assert commits.compare_url("https://github.com/o/r", TAG, SHA_B) is None
    assert commits.compare_url("https://github.com/o/r", SHA_A, "main") is None


@pytest.fixture
def config() -> CampaignConfig:
    return CampaignConfig.model_validate(
        {
            "campaign": {"results_bucket": "results-bucket"},
            "sdks": {
                "python": {
                    "image": "python",
                    "test_command": ["pytest"],
                    "repo_url": "https://github.com/o/py",
                },
                "go": {"image": "go", "test_command": ["go", "test"]},
            },
        }
    )


@pytest.mark.parametrize(
    ("params", "lane", "overrides"),
    [
        ({}, "official", {"python": {}, "go": {}}),
        ({"sdks": ["go"]}, "official", {"go": {}}),  # a subset of SDKs is no override
        ({"ref": "v2"}, "adhoc", {"python": {"ref": "v2"}, "go": {"ref": "v2"}}),
        (
            {"overrides": {"go": {"test_command": ["go", "test", "-run", "X"]}}},
            "adhoc",
            {"python": {}, "go": {"test_command": ["go", "test", "-run", "X"]}},
        ),
        (
            {"overrides": {"python": {"repo_url": "https://github.com/fork/py", "ref": "fix"}}},
            "adhoc",
            {"python": {"repo_url": "https://github.com/fork/py", "ref": "fix"}, "go": {}},
        ),
    ],
)
def test_a_run_with_any_override_is_ad_hoc(config, params, lane, overrides):
    plan = plan_run(config, params, run_id="r", logical_date="2026-12-01T06:00:00+00:00")
    assert plan.lane == lane
    assert {p.sdk: p.overrides for p in plan.sdks} == overrides
    again = type(plan).from_xcom(plan.run_xcom(), plan.sdks_xcom())  # through XCom and back
    assert again == plan


def test_the_alert_names_the_commits_and_the_compare_link():
    from sdk_campaigns.campaign.alerts import build_alert

    compare = commits.compare_url("https://github.com/o/r", SHA_A, SHA_B)
    known = {"last_passed_commit": SHA_A, "first_failing_commit": SHA_B, "compare_url": compare}
    alert = build_alert(
        {
            "dag_id": "d",
            "logical_date": "2026-12-01",
            "regressions": [{"sdk": "go", "test_id": "t", "name": "TestX", "message": "boom", **known}],
            "broken": [{"sdk": "go", "since": "2026-12-01", "status": "tests_failed", **known}],
            "new_flaky": [],
            "fixed": [],
        }
    )
    said = f"(last passed at `{SHA_A[:12]}`, first failed at `{SHA_B[:12]}`: {compare})"
    assert alert.text.count(said) == 2  # the regression and the broken SDK
    unknown = build_alert(
        {
            "dag_id": "d",
            "logical_date": "x",
            "broken": [{"sdk": "go", "since": "x", "status": "tests_failed"}],
        }
    )
    assert "last passed at" not in unknown.text
