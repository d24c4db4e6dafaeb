"""The dispatcher's task bodies: one campaign per message across folded asset events, duplicates
dropped, rejected messages to the dead-letter queue with their reason, handled messages deleted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError
from test_events_messages import RELEASE_PUBLISHED, eventbridge

from sdk_campaigns.events import dispatch
from sdk_campaigns.events.watcher import ASSET_NAME, events_asset, events_queue_url

START = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def asset_event(messages: list[dict], seconds: int) -> SimpleNamespace:
    """An asset event as the watcher's trigger makes it: the trigger's payload under `payload`."""
    extra = {"from_trigger": True, "payload": {"status": "success", "message_batch": messages}}
    return SimpleNamespace(extra=extra, timestamp=START + timedelta(seconds=seconds))


def triggering(*events) -> dict:
    from airflow.sdk import Asset

    return {Asset(name=ASSET_NAME): list(events)}


class FakeTi:
    def __init__(self):
        self.pushed = {}

    def xcom_push(self, key, value):
        self.pushed[key] = json.loads(json.dumps(value))  # XCom keeps JSON


def plain(sdk: str, ref: str, event_id: str) -> dict:
    return eventbridge(
        "campaign requested", {"sdk": sdk, "ref": ref}, source="sdk-campaigns", event_id=event_id
    )


def test_every_message_of_every_folded_event_starts_its_own_campaign(sample_config):
    # Three asset events folded into one run (apache/airflow#55956), the later one listed first.
    later = asset_event([plain("go", "v2", "e-3")], seconds=20)
    first = asset_event(
        [eventbridge("release", RELEASE_PUBLISHED, event_id="e-1"), plain("rust", "v9", "e-2")], 0
    )
    bad = asset_event([{"MessageId": "m-x", "ReceiptHandle": "r-x", "Body": "{nope"}], seconds=10)
    ti = FakeTi()
    campaigns = dispatch.read_events(sample_config, triggering(later, first, bad), "asset_triggered__1", ti)
    assert [c["conf"] for c in campaigns] == [
        {"sdks": ["python"], "ref": "v1.4.0"},
        {"sdks": ["rust"], "ref": "v9"},
        {"sdks": ["go"], "ref": "v2"},
    ]
    assert len({c["trigger_run_id"] for c in campaigns}) == 3
    assert campaigns[0]["note"].startswith("Started by GitHub release v1.4.0 of example-org/sdk-python")
    assert "asset_triggered__1" in campaigns[0]["note"]
    (rejected,) = ti.pushed[dispatch.DEAD_LETTERS_XCOM_KEY]
    assert rejected["message_id"] == "m-x" and rejected["body"] == "{nope"
    assert rejected["reason"].startswith("malformed: the body is not JSON")
    # Every message is deleted once handled: the campaigns' and the rejected one.
    receipts = ti.pushed[dispatch.RECEIPTS_XCOM_KEY]
    assert [r["receipt_handle"] for r in receipts] == ["r-e-1", "r-e-2", "r-x", "r-e-3"]


def test_duplicates_in_one_run_start_one_campaign_and_are_deleted_too(sample_config):
    # SQS delivered the same message twice, and GitHub redelivered the release (a new EventBridge id).
    original = eventbridge("release", RELEASE_PUBLISHED, event_id="e-1")
    resent = {**original, "ReceiptHandle": "r-again"}
    redelivered = eventbridge("release", RELEASE_PUBLISHED, event_id="e-2")
    ti = FakeTi()
    events = triggering(asset_event([original, resent], 0), asset_event([redelivered], 5))
    campaigns = dispatch.read_events(sample_config, events, "asset_triggered__2", ti)
    assert len(campaigns) == 1
    assert len(ti.pushed[dispatch.RECEIPTS_XCOM_KEY]) == 3
    assert ti.pushed[dispatch.DEAD_LETTERS_XCOM_KEY] == []


def test_events_of_other_shapes_and_other_assets_bring_no_messages(sample_config):
    from airflow.sdk import Asset

    made_by_hand = SimpleNamespace(extra={"note": "created in the UI"}, timestamp=START)
    other_asset = {Asset(name="sdk_test_campaign_history"): [asset_event([plain("go", "v2", "e-5")], 0)]}
    assert dispatch.queue_messages({**triggering(made_by_hand), **other_asset}) == []
    assert dispatch.queue_messages(None) == []


class FakeSqs:
    """The two SQS calls the dispatcher makes, with boto3's shapes and its error for a stale receipt."""

    def __init__(self, stale: set[str] = frozenset()):
        self.sent, self.deleted, self.stale = [], [], stale

    def send_message(self, **kwargs):
        self.sent.append(kwargs)
        return {"MessageId": f"dlq-{len(self.sent)}"}

    def delete_message(self, QueueUrl, ReceiptHandle):  # noqa: N803 (boto3's names)
        if ReceiptHandle in self.stale:
            error = {"Error": {"Code": "ReceiptHandleIsInvalid", "Message": "expired"}}
            raise ClientError(error, "DeleteMessage")
        self.deleted.append((QueueUrl, ReceiptHandle))


def test_a_rejected_message_goes_to_the_dead_letter_queue_with_its_reason():
    sqs = FakeSqs()
    rejected = {"message_id": "m-x", "body": "{nope", "reason": "malformed: the body is not JSON: '{nope'"}
    assert dispatch.send_to_dead_letter_queue(sqs, "https://dlq", rejected, "dispatcher/run-1") == "dlq-1"
    (sent,) = sqs.sent
    assert sent["QueueUrl"] == "https://dlq" and sent["MessageBody"] == "{nope"
    attributes = {name: value["StringValue"] for name, value in sent["MessageAttributes"].items()}
    assert attributes == {
        "reason": rejected["reason"],
        "source_message_id": "m-x",
        "rejected_by": "dispatcher/run-1",
    }


def test_handled_messages_are_deleted_and_a_stale_receipt_is_left_for_its_next_delivery():
    sqs = FakeSqs(stale={"r-2"})
    receipts = [{"message_id": f"m-{i}", "receipt_handle": f"r-{i}"} for i in (1, 2, 3)]
    assert dispatch.delete_messages(sqs, "https://events", receipts) == 2
    assert sqs.deleted == [("https://events", "r-1"), ("https://events", "r-3")]


def test_the_dead_letter_queue_comes_from_the_stacks_outputs():
    resources = {"results_bucket": "b", "events_dead_letter_queue_url": "https://sqs/1/dlq"}

    class Stacks:
        def __init__(self, outputs):
            self.outputs = outputs

        def describe_stacks(self, StackName):  # noqa: N803
            return {"Stacks": [{"StackName": StackName, "Outputs": self.outputs}]}

    with_dlq = Stacks([{"OutputKey": "CampaignResources", "OutputValue": json.dumps(resources)}])
    assert dispatch.dead_letter_queue_url(with_dlq, "sdk-campaigns") == "https://sqs/1/dlq"
    older = Stacks([{"OutputKey": "CampaignResources", "OutputValue": json.dumps({"results_bucket": "b"})}])
    with pytest.raises(dispatch.DeadLetterQueueUnknown, match="sdk-campaigns infra deploy"):
        dispatch.dead_letter_queue_url(older, "sdk-campaigns")


def test_the_watcher_polls_the_configured_queue_and_leaves_deleting_to_the_dispatcher(
    sample_config, monkeypatch
):
    monkeypatch.delenv("SDK_CAMPAIGNS_EVENTS_QUEUE_URL", raising=False)
    assert events_asset(sample_config, "aws_default").watchers == []  # no queue: nothing watched
    url = "http://127.0.0.1:5100/123456789012/sdk-campaigns-events"  # moto's own form passes too
    monkeypatch.setenv("SDK_CAMPAIGNS_EVENTS_QUEUE_URL", url)
    assert events_queue_url(sample_config) == url
    (watcher,) = events_asset(sample_config, "aws_default").watchers
    trigger = watcher.trigger
    assert trigger.sqs_queue == url
    assert trigger.delete_message_on_reception is False
    assert trigger.waiter_delay == sample_config.events.poll_interval_seconds
    configured = sample_config.events.model_copy(
        update={"queue_url": "https://sqs.eu-west-1.amazonaws.com/210987654321/q"}
    )
    assert events_queue_url(sample_config.model_copy(update={"events": configured})).endswith("/q")
