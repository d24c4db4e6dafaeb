"""Campaigns started by events, on the local stack: moto's EventBridge and SQS as the campaign's
CloudFormation stack made them, Airflow's real scheduler and triggerer, the dispatcher's watcher
polling the events queue as the Airflow identity (IAM enforced).

A GitHub release published for the python SDK, put on the default bus as EventBridge's GitHub inbound
webhook puts it, reaches the events queue through the stack's rule and starts exactly one campaign, for
python at the release's tag. Delivered again (GitHub's redelivery through EventBridge, and one SQS
message twice) it starts none. A malformed message and a request for an unknown SDK land in the
dead-letter queue with their reason, and start nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from sdk_campaigns.config import load_config
from sdk_campaigns.dev import airflow_services
from sdk_campaigns.events.messages import CampaignRequest, read_message
from sdk_campaigns.events.watcher import ASSET_NAME

pytestmark = pytest.mark.stack

DISPATCHER = "sdk_campaign_dispatcher"
CAMPAIGN = "sdk_test_campaign"
REPOSITORY = {
    "id": 501234567,
    "name": "sdk-python",
    "full_name": "example-org/sdk-python",  # include/campaign.yaml maps it to python
    "html_url": "https://github.com/example-org/sdk-python",
    "clone_url": "https://github.com/example-org/sdk-python.git",
    "default_branch": "main",
}


def release_published(tag: str, release_id: int) -> dict:
    return {
        "action": "published",
        "release": {"id": release_id, "tag_name": tag, "draft": False, "prerelease": False},
        "repository": REPOSITORY,
        "sender": {"login": "release-bot"},
    }


def put_event(events, source: str, detail_type: str, detail: dict) -> str:
    """PutEvents on the default bus, as the inbound webhook's function (or a user) does; the event id."""
    sent = events.put_events(
        Entries=[{"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}]
    )
    assert sent["FailedEntryCount"] == 0, sent
    return sent["Entries"][0]["EventId"]


def queue_is_empty(sqs, url: str) -> bool:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return all(attributes[name] == "0" for name in names)


def campaign_runs(token: str, ref: str | None = None) -> list[dict]:
    runs = airflow_services.api("GET", f"dags/{CAMPAIGN}/dagRuns?limit=100", token)["dag_runs"]
    return [run for run in runs if ref is None or (run.get("conf") or {}).get("ref") == ref]


def dispatcher_runs(token: str) -> list[dict]:
    return airflow_services.api("GET", f"dags/{DISPATCHER}/dagRuns?limit=100", token)["dag_runs"]


def task_instances(token: str, dag_id: str, run_id: str, task_id: str) -> list[dict]:
    found = airflow_services.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100", token)
    return [ti for ti in found["task_instances"] if ti["task_id"] == task_id]


def return_value(token: str, dag_id: str, run_id: str, task_id: str):
    path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value?deserialize=true"
    return airflow_services.api("GET", path, token)["value"]


def dispatcher_settled(token: str, sqs, queue_url: str, after: datetime) -> bool:
    """Every message handled: the queue is empty and every dispatcher run since `after` has ended."""
    runs = [r for r in dispatcher_runs(token) if datetime.fromisoformat(r["run_after"]) >= after]
    return (
        bool(runs)
        and all(r["state"] in airflow_services.ENDED for r in runs)
        and queue_is_empty(sqs, queue_url)
    )


@pytest.fixture(scope="module")
def stack_queues(aws_client):
    config = load_config()
    sqs = aws_client("sqs")
    urls = {
        name: sqs.get_queue_url(QueueName=name)["QueueUrl"]
        for name in (config.events.queue_name, config.events.dead_letter_queue_name)
    }
    # Messages an earlier session left would start their campaigns here: a clean queue.
    sqs.purge_queue(QueueUrl=urls[config.events.queue_name])
    return {
        "sqs": sqs,
        "events": urls[config.events.queue_name],
        "dead_letters": urls[config.events.dead_letter_queue_name],
    }


@pytest.fixture(scope="module")
def dispatcher(airflow_ui, stack_queues):
    """Both DAGs unpaused, and the dispatcher's watcher on the events queue (the dag-processor registers
    it once the DAG is unpaused)."""
    token = airflow_services.access_token()
    airflow_services.wait_for_dag(DISPATCHER, token=token)
    for dag_id in (DISPATCHER, CAMPAIGN):
        airflow_services.api("PATCH", f"dags/{dag_id}", token, {"is_paused": False})

    def watched() -> bool:
        (asset,) = airflow_services.api("GET", f"assets?name_pattern={ASSET_NAME}", token)["assets"]
        return bool(asset["watchers"])

    airflow_services.wait_until(watched, 180, "the events queue's watcher")
    return {"token": token, **stack_queues}


@pytest.fixture(scope="module")
def released(dispatcher, aws_client):
    """A GitHub release of the python SDK, through EventBridge's rule: its campaign once planned."""
    token = dispatcher["token"]
    tag = f"v0.{int(time.time())}.0-rc{uuid.uuid4().hex[:6]}"
    detail = release_published(tag, release_id=int(time.time() * 1000))
    sent_at = datetime.now(UTC)
    event_id = put_event(aws_client("events"), "github.com", "release", detail)
    # The run id the dispatcher derives from the event (release id and repository, not the event id).
    envelope = {"id": event_id, "source": "github.com", "detail-type": "release", "detail": detail}
    request = read_message(load_config(), {"MessageId": "expected", "Body": json.dumps(envelope)})
    assert isinstance(request, CampaignRequest), request

    def planned() -> dict | None:
        runs = campaign_runs(token, tag)
        plans = task_instances(token, CAMPAIGN, runs[0]["dag_run_id"], "plan") if runs else []
        return plans[0] if plans and plans[0]["state"] == "success" else None

    airflow_services.wait_until(planned, 300, f"the campaign of release {tag} to be planned")
    return {"tag": tag, "detail": detail, "event_id": event_id, "run_id": request.run_id, "sent_at": sent_at}


def test_a_release_starts_one_campaign_for_its_sdk_at_its_tag(dispatcher, released):
    token = dispatcher["token"]
    (run,) = campaign_runs(token, released["tag"])
    assert run["dag_run_id"] == released["run_id"]
    assert run["conf"] == {"sdks": ["python"], "ref": released["tag"]}
    assert run["note"].startswith(f"Started by GitHub release {released['tag']} of example-org/sdk-python")
    (python_plan,) = return_value(token, CAMPAIGN, run["dag_run_id"], "plan")
    assert (python_plan["sdk"], python_plan["ref"]) == ("python", released["tag"])
    assert python_plan["environment"]["SDK_REF"] == released["tag"]


def test_a_duplicate_of_the_release_starts_none(dispatcher, released, aws_client):
    token, sqs, queue = dispatcher["token"], dispatcher["sqs"], dispatcher["events"]
    resent_at = datetime.now(UTC)
    # GitHub's redelivery: the same payload through EventBridge again, under a new event id.
    put_event(aws_client("events"), "github.com", "release", released["detail"])
    # SQS's at-least-once delivery: the first event's message twice.
    body = json.dumps(
        {"version": "0", "id": released["event_id"], "detail-type": "release", "source": "github.com",
         "account": "123456789012", "time": resent_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
         "resources": [], "detail": released["detail"]}
    )  # fmt: skip
    for _ in range(2):
        sqs.send_message(QueueUrl=queue, MessageBody=body)

    airflow_services.wait_until(
        lambda: dispatcher_settled(token, sqs, queue, resent_at), 300, "the dispatcher to read the duplicates"
    )
    assert len(campaign_runs(token, released["tag"])) == 1
    starts = [
        ti
        for run in dispatcher_runs(token)
        if datetime.fromisoformat(run["run_after"]) >= resent_at
        for ti in task_instances(token, DISPATCHER, run["dag_run_id"], "start_campaign")
    ]
    # Duplicates in one dispatcher run are dropped before start_campaign (it has nothing to map); one
    # in a later run is skipped by it: the campaign's run id exists.
    assert all(ti["state"] == "skipped" for ti in starts), starts


def test_malformed_messages_land_in_the_dead_letter_queue_with_their_reason(dispatcher, aws_client):
    token, sqs = dispatcher["token"], dispatcher["sqs"]
    marker = uuid.uuid4().hex[:12]
    sent_at = datetime.now(UTC)
    sqs.send_message(QueueUrl=dispatcher["events"], MessageBody=f"{{not json {marker}")
    put_event(
        aws_client("events"), "sdk-campaigns", "campaign requested", {"sdk": f"cobol-{marker}", "ref": "v1"}
    )
    airflow_services.wait_until(
        lambda: dispatcher_settled(token, sqs, dispatcher["events"], sent_at), 300, "the dispatcher"
    )

    landed: dict[str, dict] = {}

    def both_landed() -> bool:
        received = sqs.receive_message(
            QueueUrl=dispatcher["dead_letters"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        for message in received.get("Messages", []):
            if marker in message["Body"]:
                landed[message["Body"]] = message
                sqs.delete_message(
                    QueueUrl=dispatcher["dead_letters"], ReceiptHandle=message["ReceiptHandle"]
                )
        return len(landed) == 2

    airflow_services.wait_until(both_landed, 120, "both messages in the dead-letter queue")
    reasons = {
        ("not-json" if body.startswith("{not json") else "unknown-sdk"): message["MessageAttributes"]
        for body, message in landed.items()
    }
    assert reasons["not-json"]["reason"]["StringValue"].startswith("malformed: the body is not JSON")
    assert reasons["unknown-sdk"]["reason"]["StringValue"].startswith(f"unknown SDK 'cobol-{marker}' (sdk)")
    for attributes in reasons.values():
        assert attributes["rejected_by"]["StringValue"].startswith(f"{DISPATCHER}/")
        assert attributes["source_message_id"]["StringValue"]

    # The dispatcher run shows the reasons (dead_letter's result) and started nothing for them.
    shown = {}
    for run in dispatcher_runs(token):
        if datetime.fromisoformat(run["run_after"]) >= sent_at:
            (dead_letter,) = task_instances(token, DISPATCHER, run["dag_run_id"], "dead_letter")
            if dead_letter["state"] == "success":
                shown.update(return_value(token, DISPATCHER, run["dag_run_id"], "dead_letter"))
    # (only this test's two: messages an earlier session left on the shared moto's queue may come too)
    ours = {attributes["source_message_id"]["StringValue"] for attributes in reasons.values()}
    assert set(shown) >= ours, shown
    assert sorted(shown[message_id].split(" ", 2)[0] for message_id in ours) == ["malformed:", "unknown"]
    assert not [run for run in campaign_runs(token) if marker in json.dumps(run["conf"])]
