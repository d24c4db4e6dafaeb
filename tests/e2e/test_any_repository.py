"""Any repository at trigger time, and a harness failure that stays an infrastructure failure.

One campaign, three SDKs: python tests a repository served by a real git daemon on the jobs network
(at a tag, with a test the image does not have); javascript gets a test command that does
not exist, so its harness fails; ruby uploads hostile JUnit (an XXE). Python's results must
still land.
"""

import json
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sdk_campaigns import history
from sdk_campaigns.config import REPO_ROOT
from sdk_campaigns.dev import airflow_services, local_stack

from .conftest import run_airflow

pytestmark = pytest.mark.stack

WRITE_HOSTILE_JUNIT = (
    "open('/tmp/results/junit-evil.xml', 'w').write('<?xml version=\"1.0\"?>"
    '<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<testsuite name="s"><testcase name="&x;"/></testsuite>\')'
)
LOGICAL_DATE = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0).isoformat()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def git_server(stack_home, tmp_path_factory):
    """A repository with the python sample SDK plus one extra test, tagged v1-test, over git://."""
    root = tmp_path_factory.mktemp("git")
    work = root / "work"
    shutil.copytree(REPO_ROOT / "images" / "python", work, ignore=shutil.ignore_patterns("__pycache__"))
    (work / "suite" / "test_from_repository.py").write_text(
        "def test_only_in_the_repository():\n    assert True\n"
    )
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "sample sdk"], check=True)
    subprocess.run([*git, "tag", "v1-test"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(root / "sdk.git")], check=True)
    # On this host's side of the jobs network, where job containers reach it (as a Fargate task
    # reaches a forge); they reach nothing on loopback.
    host = local_stack.JOBS_GATEWAY
    port = _free_port()
    daemon = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            f"--base-path={root}",
            f"--listen={host}",
            f"--port={port}",
            str(root),
        ],
    )
    url = f"git://{host}:{port}/sdk.git"

    def serving() -> bool:
        return subprocess.run(["git", "ls-remote", url], capture_output=True).returncode == 0

    airflow_services.wait_until(serving, 10, "git daemon")
    yield url
    daemon.terminate()
    daemon.wait()


@pytest.fixture(scope="module")
def alert_queue(aws_client, tmp_path_factory):
    """An SNS topic (moto) with an SQS queue subscribed, and a campaign config alerting to it."""
    name = f"sdkc-alerts-{int(time.time())}"
    topic = aws_client("sns").create_topic(Name=name)["TopicArn"]
    queue_url = aws_client("sqs").create_queue(QueueName=name)["QueueUrl"]
    queue_arn = aws_client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws_client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    folder = tmp_path_factory.mktemp("config")
    # Its own history, so this run is the first of its SDKs whatever other tests ran before:
    # their failing streaks start here, which is what the alert announces.
    text = (REPO_ROOT / "include" / "campaign.yaml").read_text()
    text = text.replace('sns_topic_arn: ""', f'sns_topic_arn: "{topic}"')
    text = text.replace('history_uri: ""', f'history_uri: "{folder / "history"}"')
    (folder / "campaign.yaml").write_text(text)
    return {
        "config": str(folder / "campaign.yaml"),
        "history_uri": str(folder / "history"),
        "sqs": aws_client("sqs"),
        "queue_url": queue_url,
    }


@pytest.fixture(scope="module")
def campaign(stack_home, git_server, alert_queue):
    conf = {
        "sdks": ["python", "javascript", "ruby"],
        "overrides": {
            "python": {"repo_url": git_server, "ref": "v1-test"},
            "javascript": {"test_command": ["no-such-test-runner"]},
            # The suite "runs" and uploads JUnit that tries an external entity (XXE).
            "ruby": {"test_command": ["python3", "-c", WRITE_HOSTILE_JUNIT]},
        },
    }
    result = run_airflow(
        ["dags", "test", "sdk_test_campaign", LOGICAL_DATE, "-c", json.dumps(conf)],
        env={"SDK_CAMPAIGNS_CONFIG": alert_queue["config"]},
    )
    partitions = history.read_run(alert_queue["history_uri"], "sdk_test_campaign", LOGICAL_DATE)
    assert partitions, (result.stdout + result.stderr)[-4000:]
    return result, {p["summary"]["sdk"]: p for p in partitions}


def test_the_repository_at_the_ref_is_what_was_tested(campaign, git_server):
    _, partitions = campaign
    python = partitions["python"]
    names = {row["name"] for row in python["rows"]}
    assert "test_only_in_the_repository" in names
    assert python["summary"]["counts"]["total"] == 7
    assert python["summary"]["ref"] == "v1-test"
    assert any(f"testing {git_server} at v1-test" in line for line in python["summary"]["log_excerpt"])


def test_a_failed_harness_is_an_infrastructure_failure_and_others_still_publish(campaign):
    result, partitions = campaign
    javascript = partitions["javascript"]["summary"]
    assert javascript["status"] == "infrastructure_failed"
    assert "harness" in javascript["reason"] and "no-such-test-runner" in javascript["reason"]
    assert partitions["javascript"]["rows"] == []
    assert partitions["python"]["summary"]["status"] == "tests_failed"
    # The run itself fails, naming the SDK, because infrastructure failed.
    assert result.returncode != 0
    assert "javascript: infrastructure_failed" in result.stdout + result.stderr


def test_report_shows_the_harness_failure_and_the_repositorys_own_test(campaign):
    _, partitions = campaign
    html = Path(partitions["python"]["summary"]["report"]).read_text()
    assert "infrastructure failed" in html and "test_only_in_the_repository" in html


def test_hostile_junit_is_results_invalid_and_never_read(campaign):
    _, partitions = campaign
    ruby = partitions["ruby"]
    assert ruby["summary"]["status"] == "results_invalid"
    assert "refused unsafe XML" in ruby["summary"]["reason"] and "junit-evil.xml" in ruby["summary"]["reason"]
    assert ruby["rows"] == []
    assert "root:" not in json.dumps(ruby)


def test_newly_broken_sdks_are_announced_on_sns(campaign, alert_queue):
    result, _ = campaign
    messages = alert_queue["sqs"].receive_message(QueueUrl=alert_queue["queue_url"], MaxNumberOfMessages=10)
    bodies = [json.loads(m["Body"]) for m in messages.get("Messages", [])]
    said = [
        line for line in (result.stdout + result.stderr).splitlines() if "findings" in line or "alert" in line
    ]
    assert len(bodies) == 1, said
    assert "broken" in bodies[0]["Subject"] and "sdk_test_campaign" in bodies[0]["Subject"]
    for sdk in ("python", "javascript", "ruby"):
        assert sdk in bodies[0]["Message"]
