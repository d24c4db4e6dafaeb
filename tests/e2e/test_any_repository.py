"""Any repository, the commit it tested, and the two lanes; a harness failure that stays an
infrastructure failure.

First three official runs of python, whose configured repository (a real git daemon on the jobs
network) moves its `main` branch between them: commit A passes, commit B breaks a test, commit C
fixes it. The history records each run's resolved commit, the alert for B names A as the last
passing and B as the first failing commit, and the dashboard says the same.

Then one ad hoc campaign (overrides), three SDKs: python tests the same repository at a tag, with a
test the image does not have; javascript gets a test command that does not exist, so its harness
fails; ruby uploads hostile JUnit (an XXE). Python's results must still land — in the ad hoc lane,
leaving the official dashboard, badges, latest.html and alerts as they were, and listed on the
health page's ad hoc runs.
"""

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from markupsafe import escape

from sdk_campaigns import history
from sdk_campaigns.config import REPO_ROOT
from sdk_campaigns.dev import local_stack
from sdk_campaigns.history import analytics
from sdk_campaigns.reporting import test_pages
from tests.git_repos import ScriptedRepo, git_daemon

from .conftest import run_airflow

pytestmark = pytest.mark.stack

WRITE_HOSTILE_JUNIT = (
    "open('/tmp/results/junit-evil.xml', 'w').write('<?xml version=\"1.0\"?>"
    '<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<testsuite name="s"><testcase name="&x;"/></testsuite>\')'
)
LOGICAL_DATE = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0).isoformat()
# The official runs, one per commit of main, before the ad hoc one.
OFFICIAL_DATES = [
    (datetime.now(UTC) - timedelta(hours=5 - n)).replace(microsecond=0).isoformat() for n in range(3)
]
PASSING_SUITE = "def test_stable():\n    assert True\n\n\ndef test_breaks():\n    assert 1 + 1 == 2\n"
BROKEN_SUITE = PASSING_SUITE.replace("1 + 1 == 2", "1 + 1 == 3, 'B broke it'")


class GitServer(ScriptedRepo):
    """The python sample SDK as a repository served by `git daemon` on the jobs network's gateway."""

    def __init__(self, root: Path, url: str):
        super().__init__(root, template=REPO_ROOT / "images" / "python")
        self.url = f"{url}/{self.name}.git"

    def commit_suite(self, text: str, message: str) -> str:
        """Commit suite/test_commits.py with `text` (and no other test file) on main, push it: the SHA."""
        for old in (self.work / "suite").glob("test_*.py"):
            old.unlink()
        self.commit(message, {"suite/test_commits.py": text})
        return self.push()

    def remote_head(self, ref: str) -> str:
        """What a job resolves `ref` to, asked of the daemon as a job asks it."""
        return subprocess.run(
            ["git", "ls-remote", self.url, ref], check=True, capture_output=True, text=True
        ).stdout.split()[0]


@pytest.fixture(scope="module")
def git_server(stack_home, tmp_path_factory):
    """The python sample SDK plus one extra test, tagged v1-test, over git://; main moves later."""
    root = tmp_path_factory.mktemp("git")
    # On this host's side of the jobs network, where job containers reach it (as a Fargate task
    # reaches a forge); they reach nothing on loopback.
    with git_daemon(root, host=local_stack.JOBS_GATEWAY) as url:
        server = GitServer(root, url)
        server.commit(
            "sample sdk",
            {"suite/test_from_repository.py": "def test_only_in_the_repository():\n    assert True\n"},
        )
        server.git("tag", "v1-test")
        server.publish()  # with the tag
        yield server


@pytest.fixture(scope="module")
def alert_queue(aws_client, git_server, tmp_path_factory):
    """An SNS topic (moto) with an SQS queue subscribed, and a campaign config alerting to it."""
    name = f"sdkc-alerts-{int(time.time())}"
    topic = aws_client("sns").create_topic(Name=name)["TopicArn"]
    queue_url = aws_client("sqs").create_queue(QueueName=name)["QueueUrl"]
    queue_arn = aws_client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws_client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    folder = tmp_path_factory.mktemp("config")
    # Its own history and reports, so these runs are the first of their SDKs whatever other tests ran
    # before: their failing streaks start here, which is what the alert announces. Python's
    # configured source is the git daemon's main branch: its runs are official.
    config = yaml.safe_load((REPO_ROOT / "include" / "campaign.yaml").read_text())
    config["alerts"]["sns_topic_arn"] = topic
    config["campaign"]["history_uri"] = str(folder / "history")
    config["campaign"]["report_dir"] = str(folder / "reports")
    config["sdks"]["python"].update(repo_url=git_server.url, ref="main")
    (folder / "campaign.yaml").write_text(yaml.safe_dump(config))
    return {
        "config": str(folder / "campaign.yaml"),
        "history_uri": str(folder / "history"),
        "report_dir": folder / "reports" / "sdk_test_campaign",
        "sqs": aws_client("sqs"),
        "queue_url": queue_url,
    }


def _messages(alert_queue) -> list[dict]:
    found = []
    while True:
        got = alert_queue["sqs"].receive_message(
            QueueUrl=alert_queue["queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        if not got.get("Messages"):
            return found
        for message in got["Messages"]:
            found.append(json.loads(message["Body"]))
            alert_queue["sqs"].delete_message(
                QueueUrl=alert_queue["queue_url"], ReceiptHandle=message["ReceiptHandle"]
            )


def _official_state(alert_queue) -> dict:
    """What the official lane shows: the dashboard's answers, latest.html, feed and badges."""
    reports = alert_queue["report_dir"]
    files = [reports / "latest.html", reports / "feed.json", *sorted((reports / "badges").glob("*"))]
    return {
        "dashboard": analytics.dashboard(alert_queue["history_uri"], "sdk_test_campaign"),
        "files": {path.name: path.read_bytes() for path in files if path.is_file()},
    }


@pytest.fixture(scope="module")
def official_runs(stack_home, git_server, alert_queue):
    """Python's official runs at commits A (passes), B (breaks test_breaks), C (fixes it) of main."""
    runs = []
    for logical_date, (suite, message) in zip(
        OFFICIAL_DATES,
        [(PASSING_SUITE, "A"), (BROKEN_SUITE, "B"), (PASSING_SUITE, "C")],
        strict=True,
    ):
        sha = git_server.commit_suite(suite, message)
        assert git_server.remote_head("main") == sha
        result = run_airflow(
            ["dags", "test", "sdk_test_campaign", logical_date, "-c", json.dumps({"sdks": ["python"]})],
            env={"SDK_CAMPAIGNS_CONFIG": alert_queue["config"]},
        )
        partitions = history.read_run(alert_queue["history_uri"], "sdk_test_campaign", logical_date)
        assert partitions, (result.stdout + result.stderr)[-4000:]
        runs.append({"sha": sha, "summary": partitions[0]["summary"], "alerts": _messages(alert_queue)})
    return runs


@pytest.fixture(scope="module")
def campaign(stack_home, git_server, alert_queue, official_runs):
    before = _official_state(alert_queue)
    conf = {
        "sdks": ["python", "javascript", "ruby"],
        "overrides": {
            "python": {"repo_url": git_server.url, "ref": "v1-test"},
            "javascript": {"test_command": ["no-such-test-runner"]},
            # The suite "runs" and uploads JUnit that tries an external entity (XXE).
            "ruby": {"test_command": ["python3", "-c", WRITE_HOSTILE_JUNIT]},
        },
    }
    result = run_airflow(
        ["dags", "test", "sdk_test_campaign", LOGICAL_DATE, "-c", json.dumps(conf)],
        env={"SDK_CAMPAIGNS_CONFIG": alert_queue["config"]},
    )
    partitions = history.read_run(alert_queue["history_uri"], "sdk_test_campaign", LOGICAL_DATE, lane="adhoc")
    assert partitions, (result.stdout + result.stderr)[-4000:]
    return result, {p["summary"]["sdk"]: p for p in partitions}, before


def test_each_official_run_records_the_commit_it_resolved(official_runs, git_server):
    assert [r["summary"]["status"] for r in official_runs] == ["passed", "tests_failed", "passed"]
    for run in official_runs:
        summary = run["summary"]
        assert (summary["commit"], summary["commit_kind"], summary["repo_url"]) == (
            run["sha"],
            "git",
            git_server.url,
        )
        assert (summary["lane"], summary["overrides"], summary["ref"]) == ("official", "{}", "main")


def test_the_alert_names_the_last_passing_and_first_failing_commits(official_runs):
    a, b, c = official_runs
    assert a["alerts"] == [] and c["alerts"] == []  # a first pass, and a fix, are no news
    (alert,) = b["alerts"]
    text = alert["Message"]
    assert "python" in alert["Subject"] and "broken" in alert["Subject"]
    assert "test_breaks" in text
    assert f"last passed at `{a['sha'][:12]}`" in text and f"first failed at `{b['sha'][:12]}`" in text


def test_the_test_page_shows_it_broke_at_b_and_was_fixed_at_c(official_runs, alert_queue):
    a, b, c = official_runs
    test_id = next(r["test_id"] for r in _rows(alert_queue, b) if r["name"] == "test_breaks")
    entries = analytics.test_history(alert_queue["history_uri"], "sdk_test_campaign", "python", test_id)
    assert [(e["outcome"], e["commit"]) for e in entries] == [
        ("passed", a["sha"]),
        ("failed", b["sha"]),
        ("passed", c["sha"]),
    ]
    assert "B broke it" in entries[1]["message"]
    # the report of run B links its failing test to that page, written beside it
    report = Path(b["summary"]["report"])
    page = report.parent / "tests" / test_pages.page_file_name("python", test_id)
    assert f"href='tests/{page.name}'" in report.read_text()
    html = page.read_text()
    assert a["sha"][:12] in html and b["sha"][:12] in html and "broke" in html and "fixed" in html


def _rows(alert_queue, run) -> list[dict]:
    (partition,) = history.read_run(
        alert_queue["history_uri"], "sdk_test_campaign", run["summary"]["logical_date"]
    )
    return partition["rows"]


def test_the_repository_at_the_ref_is_what_was_tested(campaign, git_server):
    _, partitions, _ = campaign
    python = partitions["python"]
    names = {row["name"] for row in python["rows"]}
    assert "test_only_in_the_repository" in names
    assert python["summary"]["counts"]["total"] == 7
    assert python["summary"]["ref"] == "v1-test"
    assert any(f"testing {git_server.url} at v1-test" in line for line in python["summary"]["log_excerpt"])
    # the tag's commit, as the daemon resolves it, is the one recorded; the run is ad hoc
    summary = python["summary"]
    assert (summary["commit"], summary["commit_kind"]) == (git_server.remote_head("v1-test"), "git")
    assert (summary["lane"], json.loads(summary["overrides"])) == (
        "adhoc",
        {"repo_url": git_server.url, "ref": "v1-test"},
    )


def test_the_images_own_suite_records_the_images_content_tag(campaign):
    _, partitions, _ = campaign
    javascript = partitions["javascript"]["summary"]
    assert javascript["commit_kind"] == "image_source" and javascript["repo_url"] is None
    assert javascript["image"].endswith(f":{javascript['commit']}")
    assert json.loads(javascript["overrides"]) == {"test_command": ["no-such-test-runner"]}


def test_a_failed_harness_is_an_infrastructure_failure_and_others_still_publish(campaign):
    result, partitions, _ = campaign
    javascript = partitions["javascript"]["summary"]
    assert javascript["status"] == "infrastructure_failed"
    assert "harness" in javascript["reason"] and "no-such-test-runner" in javascript["reason"]
    assert partitions["javascript"]["rows"] == []
    assert partitions["python"]["summary"]["status"] == "tests_failed"
    # The run itself fails, naming the SDK, because infrastructure failed.
    assert result.returncode != 0
    assert "javascript: infrastructure_failed" in result.stdout + result.stderr


def test_report_shows_the_harness_failure_and_the_repositorys_own_test(campaign):
    _, partitions, _ = campaign
    html = Path(partitions["python"]["summary"]["report"]).read_text()
    assert "infrastructure failed" in html and "test_only_in_the_repository" in html
    assert "Ad hoc run" in html and partitions["python"]["summary"]["commit"][:12] in html


def test_hostile_junit_is_results_invalid_and_never_read(campaign):
    _, partitions, _ = campaign
    ruby = partitions["ruby"]
    assert ruby["summary"]["status"] == "results_invalid"
    assert "refused unsafe XML" in ruby["summary"]["reason"] and "junit-evil.xml" in ruby["summary"]["reason"]
    assert ruby["rows"] == []
    assert "root:" not in json.dumps(ruby)


def test_the_adhoc_run_leaves_the_official_record_and_alerts_as_they_were(campaign, alert_queue):
    _, _, before = campaign
    assert _messages(alert_queue) == [], "an ad hoc run sends no alert"
    assert _official_state(alert_queue) == before
    official = history.read_summaries(alert_queue["history_uri"], "sdk_test_campaign")
    assert {s["sdk"] for s in official} == {"python"} and LOGICAL_DATE not in {
        s["logical_date"] for s in official
    }


def test_the_health_page_lists_the_adhoc_run(campaign, alert_queue, monkeypatch):
    from fastapi.testclient import TestClient

    from sdk_campaigns.config import load_config
    from sdk_campaigns.reporting import health_app

    monkeypatch.setenv("SDK_CAMPAIGNS_CONFIG", alert_queue["config"])
    # The history is local: this process's s3:// reads stay as the stack fixture set them.
    monkeypatch.setattr(history, "use_airflow_connection", lambda aws_conn_id: None)
    app = health_app.create_app(load_config())
    (authorized,) = app.router.dependencies
    app.dependency_overrides[authorized.dependency] = lambda: None
    run_id = campaign[1]["python"]["summary"]["run_id"]
    with TestClient(app) as client:
        page = client.get("/").text
    adhoc = page[page.index("<section class='adhoc-runs'>") :]
    assert str(escape(run_id)) in adhoc and "no-such-test-runner" in adhoc
    dashboard = page[: page.index("<section class='adhoc-runs'>")]
    assert str(escape(run_id)) not in dashboard and "javascript" not in dashboard
