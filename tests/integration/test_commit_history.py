"""Commit attribution over real git: a repository on a loopback `git daemon`, scripted commits, and
the image's own harness (images/common/run_suite.py, run on this host as a job runs it: it clones
from the daemon, runs the suite, uploads JUnit to the stack's S3 and prints its summary line). The
DAG's readers take it from there: the summary line gives the commit (campaign/commits.py), the JUnit
gives the rows (campaign/collect.py), and publish_run stores, reports and finds, as in a campaign.

- a test fixed, broken and fixed again across commits: the last passing and first failing commits;
- flaky detection: fail-then-pass on one commit is flaky; on a moving branch it is not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from sdk_campaigns import history
from sdk_campaigns import publish as publishing
from sdk_campaigns.campaign import collect, commits
from sdk_campaigns.campaign.alerts import build_alert
from sdk_campaigns.campaign.plan import plan_run
from sdk_campaigns.config import REPO_ROOT, CampaignConfig, LimitSettings
from sdk_campaigns.history import analytics
from sdk_campaigns.reporting import test_pages
from tests.git_repos import ScriptedRepo, git_daemon

pytestmark = pytest.mark.stack

BUCKET = "sdk-campaigns-results"
FIRST_DAY = datetime(2026, 11, 1, 6, tzinfo=UTC)
SUITE = """
import os


def test_stable():
    assert True


def test_x():
    assert {x_passes}, "test_x fails at this commit"


def test_sometimes():
    # fails while the marker file exists: a flaky test, whatever the commit
    assert not os.path.exists({marker!r}), "flaked"
"""


class Repository(ScriptedRepo):
    """The SDK's repository on a loopback `git daemon`; each commit moves the served main."""

    def __init__(self, root: Path, url: str):
        super().__init__(root)
        self.url = f"{url}/{self.name}.git"
        self.marker = root / "flake-now"

    def commit_suite(self, *, x_passes: bool, message: str) -> str:
        suite = SUITE.format(x_passes=x_passes, marker=str(self.marker))
        self.commit(message, {"suite/test_sdk.py": suite, "suite/history.txt": message})
        return self.push()


@pytest.fixture
def repository(tmp_path):
    with git_daemon(tmp_path) as url:
        repo = Repository(tmp_path, url)
        repo.commit_suite(x_passes=True, message="initial")
        yield repo


@pytest.fixture
def campaign(tmp_path, aws_client):
    """publish_run over a local history; each `run(sdk, day)` runs the harness and publishes."""
    config = CampaignConfig.model_validate(
        {
            "campaign": {
                "results_bucket": BUCKET,
                "history_uri": str(tmp_path / "history"),
                "report_dir": str(tmp_path / "reports"),
            },
            "sdks": {
                sdk: {"image": "python", "test_command": ["pytest"], "repo_url": "git://placeholder/x"}
                for sdk in ("python", "go")
            },
        }
    )
    s3 = aws_client("s3")
    prefix = f"it-commits/{uuid.uuid4().hex}"
    outlet_events = defaultdict(SimpleNamespace)

    def run(sdk: str, day: int, repo: Repository, monkeypatch) -> dict:
        """One official campaign run of `sdk` on logical day `day`, testing main of `repo`."""
        settings = config.sdks[sdk].model_copy(update={"repo_url": repo.url, "ref": "main"})
        day_config = config.model_copy(update={"sdks": {**config.sdks, sdk: settings}})
        logical_date = (FIRST_DAY + timedelta(days=day)).isoformat()
        run_plan = plan_run(
            day_config, {"sdks": [sdk]}, run_id=f"scheduled__{logical_date}", logical_date=logical_date
        )
        results = f"{prefix}/{sdk}/{day}/"
        outcome = _run_harness(repo, sdk, f"s3://{BUCKET}/{results}", tmp_path / f"{sdk}-{day}")
        rows = collect.ResultRows(
            sdk=sdk, run_id=run_plan.run_id, logical_date=logical_date, digest="", max_cases=1000
        )
        files = s3.list_objects_v2(Bucket=BUCKET, Prefix=results)["Contents"]
        assert not collect.read_results(s3, BUCKET, files, rows, LimitSettings())
        counts = collect.count_rows(rows.rows)
        status, reason = collect.classify({"status": "SUCCEEDED"}, counts, [])
        document = {
            "sdk": sdk,
            "status": status,
            "reason": reason,
            "job_status": "SUCCEEDED",
            "counts": counts,
            "rows": rows.rows,
            "ref": "main",
            "log_excerpt": outcome["log"][-20:],
            **commits.code_under_test(outcome["log"], planned_repo_url=repo.url, content_tag=""),
        }
        monkeypatch.setattr(publishing.outcomes, "read_outcomes", lambda *a: [dict(document)])
        monkeypatch.setattr(publishing.metrics, "publish", lambda cloudwatch, data: len(data))
        report = publishing.publish_run(day_config, run_plan, {"summary": "ok"}, outlet_events, _NoAws())
        return {"document": document, "report": Path(report), "logical_date": logical_date}

    run.config = config
    return run


class _NoAws:
    aws_conn_id = "aws_default"

    def client(self, name):
        return None


def _run_harness(repo: Repository, sdk: str, results_uri: str, workdir: Path) -> dict:
    """images/common/run_suite.py as a job runs it (its clone goes to `workdir`, not /tmp/src)."""
    from sdk_campaigns.dev import local_aws

    results_dir = workdir / "results"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "suite",
        f"--junitxml={results_dir}/junit.xml",
    ]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **local_aws.admin_environment(),
        "SDK_NAME": sdk,
        "SDK_REPO_URL": repo.url,
        "SDK_REF": "main",
        "SDK_TEST_COMMAND": json.dumps(command),
        "RESULTS_DIR": str(results_dir),
        "RESULTS_S3_URI": results_uri,
    }
    glue = REPO_ROOT / "images" / "common"
    script = (
        f"import sys; from pathlib import Path; sys.path.insert(0, {str(glue)!r}); import run_suite; "
        f"run_suite.SOURCE_DIR = Path({str(workdir / 'src')!r}); sys.exit(run_suite.main())"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return {"log": done.stdout.splitlines()}


def _test_id(sdk: str, name: str) -> str:
    return collect.test_id(sdk, "suite.test_sdk", name)  # pytest's JUnit classname


def test_a_test_fixed_broken_and_fixed_again_names_its_commits(repository, campaign, monkeypatch):
    shas, runs = [], []
    for day, x_passes in enumerate([False, True, False, True], start=1):
        shas.append(repository.commit_suite(x_passes=x_passes, message=f"day {day}"))
        runs.append(campaign("python", day, repository, monkeypatch))
        # what the harness cloned is what the daemon's main pointed at, and that is what is recorded
        assert (runs[-1]["document"]["commit"], runs[-1]["document"]["commit_kind"]) == (shas[-1], "git")
    uri, dag = campaign.config.history_uri(), campaign.config.campaign.dag_id
    test_x = _test_id("python", "test_x")

    # as of day 3, test_x broke again: last passed at day 2's commit, first failed at day 3's
    with analytics.HistoryAnalytics(uri, dag, as_of=runs[2]["logical_date"]) as answers:
        (failing,) = answers.test_changes()["python"]["newly_failing"]
        broken = answers.broken_since()["python"]
    assert failing["test_id"] == test_x and "test_x fails at this commit" in failing["message"]
    assert (failing["last_passed"], failing["last_passed_commit"], failing["first_failing_commit"]) == (
        runs[1]["logical_date"],
        shas[1],
        shas[2],
    )
    assert failing["compare_url"] is None  # git:// on no known forge: no compare page to link
    assert (broken["broken_since"], broken["last_passed_commit"], broken["first_failing_commit"]) == (
        runs[2]["logical_date"],
        shas[1],
        shas[2],
    )
    findings = analytics.run_findings(uri, dag, runs[2]["logical_date"])
    alert = build_alert({**findings, "dag_id": dag, "logical_date": runs[2]["logical_date"]})
    assert f"last passed at `{shas[1][:12]}`, first failed at `{shas[2][:12]}`" in alert.text

    # day 4 fixed it again: the page of test_x, beside day 4's report, tells the whole story
    entries = analytics.test_history(uri, dag, "python", test_x)
    assert [(e["outcome"], e["commit"]) for e in entries] == list(
        zip(["failed", "passed", "failed", "passed"], shas, strict=True)
    )
    page = runs[3]["report"].parent / "tests" / test_pages.page_file_name("python", test_x)
    html = page.read_text()
    assert html.count("<tr class='passed'><td>fixed</td>") == 2 and html.count("<td>broke</td>") == 1
    for sha in shas:
        assert sha[:12] in html
    assert f"href='tests/{page.name}'" in runs[3]["report"].read_text()


def test_flaky_on_one_commit_but_not_on_a_moving_branch(repository, campaign, monkeypatch):
    # go: main stays at one commit; test_sometimes fails on days 1 and 3 and passes between
    repository.commit_suite(x_passes=True, message="go's commit")
    for day in (1, 2, 3, 4):
        if day in (1, 3):
            repository.marker.write_text("on")
        else:
            repository.marker.unlink(missing_ok=True)
        campaign("go", day, repository, monkeypatch)
    # python: main moves every day, and test_x's outcome with it: a changing test, not a flaky one
    for day, x_passes in zip((1, 2, 3, 4), (True, False, True, False), strict=True):
        repository.marker.unlink(missing_ok=True)
        repository.commit_suite(x_passes=x_passes, message=f"python day {day}")
        campaign("python", day, repository, monkeypatch)
    uri, dag = campaign.config.history_uri(), campaign.config.campaign.dag_id
    go_commits = {s["commit"] for s in history.read_summaries(uri, dag, sdk="go")}
    python_commits = {s["commit"] for s in history.read_summaries(uri, dag, sdk="python")}
    assert len(go_commits) == 1 and len(python_commits) == 4
    with analytics.HistoryAnalytics(uri, dag, as_of=FIRST_DAY + timedelta(days=4)) as answers:
        flaky = answers.flaky_tests()
    assert [(f["sdk"], f["name"], f["commits"]) for f in flaky] == [
        ("go", "test_sometimes", sorted(go_commits))
    ]
