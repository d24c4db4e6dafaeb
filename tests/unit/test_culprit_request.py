"""The culprit finder's conf, its test selection and the first step's commit list, checked."""

import re

import pytest

from sdk_campaigns.campaign.collect import test_id as make_test_id
from sdk_campaigns.culprit import commits, request

GOOD, BAD = "a" * 40, "b" * 40


def conf(**changes):
    return {
        "sdk": "python",
        "repo_url": "https://github.com/example-org/sdk-python",
        "good": GOOD,
        "bad": BAD,
        "tests": ["suite.test_s3::test_list_buckets"],
        **changes,
    }


def test_a_good_conf_names_its_tests_by_the_historys_test_id(sample_config):
    checked = request.validate_request(
        conf(tests=["suite.test_s3::test_list_buckets", "0123456789abcdef"]), sample_config
    )
    named, by_id = checked.tests
    assert named.test_id == make_test_id("python", "suite.test_s3", "test_list_buckets")
    assert (named.classname, named.name) == ("suite.test_s3", "test_list_buckets")
    assert by_id.test_id == "0123456789abcdef" and by_id.label == "0123456789abcdef"
    assert request.BisectionRequest.from_xcom(checked.to_xcom()) == checked


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"sdk": "cobol"}, "'cobol' is not an SDK of the campaign; known SDKs: python"),
        ({"repo_url": "file:///etc"}, "repo_url 'file:///etc' is not a repository URL"),
        ({"good": "a..b"}, "good 'a..b' is not a git branch"),
        ({"bad": "$(reboot)"}, "bad '$(reboot)' is not a git branch"),
        ({"bad": GOOD}, "the same commit"),
        ({"tests": []}, "tests must list 1 to 50"),
        ({"tests": ["just a name"]}, "'just a name' must be a history test id"),
        ({"tests": [f"c::t{i}" for i in range(51)]}, "culprit.max_tests"),
    ],
)
def test_a_bad_conf_is_refused_naming_the_value(sample_config, changes, named):
    with pytest.raises(request.RequestError, match=re.escape(named)):
        request.validate_request(conf(**changes), sample_config)


def tracked(*labels):
    return tuple(request.parse_test("python", label) for label in labels)


def test_selection_fills_the_sdks_template():
    tests = tracked("suite.test_a::test_one", "suite.test_b::test_two[param-1]", "suite.test_a::test_one")
    assert request.selection_args(("-k", "{names}"), tests) == ["-k", "test_one or test_two"]
    assert request.selection_args(("-run", "{regex}"), tracked("p::TestOne/sub", "p::TestTwo")) == [
        "-run",
        "^(TestOne|TestTwo)$",
    ]


def test_without_a_template_or_with_an_id_only_or_an_odd_name_the_whole_suite_runs():
    assert request.selection_args((), tracked("c::test_one")) == []
    assert request.selection_args(("-k", "{names}"), tracked("c::test_one", "0123456789abcdef")) == []
    assert request.selection_args(("-k", "{names}"), tracked("c::test one or not")) == []
    many = tracked(*(f"c::test_{'x' * 60}_{i}" for i in range(50)))
    assert request.selection_args(("-k", "{names}"), many) == []  # over one argv element's limit


def commit_list(*props):
    body = "".join(f'<property name="{k}" value="{v}"/>' for k, v in props)
    suite = f'<testsuite name="sdk-culprit-commits" tests="0"><properties>{body}</properties></testsuite>'
    return f'<?xml version="1.0"?>{suite}'.encode()


def test_a_commit_list_is_read_and_checked():
    listed = [f"{i:040x}" for i in range(1, 4)] + [BAD]
    body = commit_list(("bad", BAD), ("good", GOOD), *(("commit", c) for c in listed))
    assert commits.parse_commit_list(body, max_commits=10) == (GOOD, BAD, listed)
    with pytest.raises(commits.CommitListError, match="over culprit.max_commits"):
        commits.parse_commit_list(body, max_commits=3)
    with pytest.raises(commits.CommitListError, match="not the bad commit"):
        commits.parse_commit_list(
            commit_list(("bad", BAD), ("good", GOOD), ("commit", GOOD[:-1] + "c")), max_commits=9
        )
    with pytest.raises(commits.CommitListError, match="not a full commit SHA"):
        commits.parse_commit_list(
            commit_list(("bad", BAD), ("good", GOOD), ("commit", "; rm -rf /")), max_commits=9
        )
    with pytest.raises(commits.CommitListError, match="not an ancestor"):
        commits.parse_commit_list(
            commit_list(("bad", BAD), ("error", "good x is not an ancestor of bad")), max_commits=9
        )
    with pytest.raises(commits.CommitListError, match="not readable XML"):
        commits.parse_commit_list(
            b'<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]><t>&x;</t>', max_commits=9
        )


def test_the_first_steps_command_lists_then_runs_the_tests():
    command = commits.list_then_test_command(
        ["python3", "-m", "pytest", "-k", "a or b"], GOOD, 1024, "/tmp/results"
    )
    assert command[:2] == ["python3", "-c"]
    assert command[3:] == [
        GOOD,
        "1024",
        "/tmp/results/culprit-commits.xml",
        "--",
        "python3",
        "-m",
        "pytest",
        "-k",
        "a or b",
    ]
    compile(command[2], "<list-then-test>", "exec")  # the program is valid Python


def test_steps_name_jobs_and_folders_safely_whatever_the_ref(sample_config):
    from sdk_campaigns.culprit import steps

    sha = "0123456789abcdef" * 2 + "01234567"
    assert (
        steps.step_job_name(sample_config, "k", sha, "python")
        == "sdk-campaigns-python-culprit-k-0123456789abcdef"
    )
    name = steps.step_job_name(sample_config, "k", "release/v1.2", "python")
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,128}", name)
    assert steps.step_prefix(sample_config, "k", "release/v1.2", "python").count("/") == 4
    assert (
        steps.step_prefix(sample_config, "k", sha, "python") == f"sdk_test_campaign/culprit-k/{sha}/python/"
    )


def test_a_step_is_judged_on_the_tracked_tests_only():
    from sdk_campaigns.campaign.collect import SdkOutcome
    from sdk_campaigns.culprit import bisect, steps

    tracked = make_test_id("python", "suite.t", "test_tracked")

    def outcome(job_status="SUCCEEDED", status="tests_failed", **results):
        rows = [
            {"test_id": make_test_id("python", "suite.t", n), "classname": "suite.t", "name": n, "status": s}
            for n, s in results.items()
        ]
        return SdkOutcome(
            sdk="python", status=status, reason="", job_id="j", job_status=job_status, rows=rows
        )

    verdict, detail = steps.verdict(outcome(test_tracked="failed", test_other="passed"), {tracked})
    assert verdict == bisect.BAD and detail["failing_tests"] == ["suite.t::test_tracked"]
    assert steps.verdict(outcome(test_tracked="error"), {tracked})[0] == bisect.BAD
    assert steps.verdict(outcome(test_tracked="passed", test_other="failed"), {tracked})[0] == bisect.GOOD
    absent, detail = steps.verdict(outcome(status="infrastructure_failed"), {tracked})  # not yet written
    assert absent == bisect.GOOD and detail["tracked_found"] == 0
    assert steps.verdict(outcome(job_status="FAILED", status="infrastructure_failed"), {tracked})[0] == (
        bisect.NO_VERDICT
    )
    assert steps.verdict(outcome(status="results_invalid"), {tracked})[0] == bisect.NO_VERDICT
