"""The dispatcher's task bodies: the queue messages behind a dispatcher run, sorted into campaigns to
start and messages for the dead-letter queue; then each message deleted from the events queue.

Several asset events (each a batch of up to ten messages) can fold into one dispatcher run
(apache/airflow#55956): every message of every triggering event is read, and each starts its own
campaign. Two deliveries of one event make one campaign run id (messages.CampaignRequest.run_id):
the second is dropped here when both are in this run, and skipped by the campaign's trigger when an
earlier run started it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from sdk_campaigns.campaign.resources import RESOURCES_OUTPUT
from sdk_campaigns.config import CampaignConfig
from sdk_campaigns.events.messages import CampaignRequest, Ignored, Rejected, read_message, shown
from sdk_campaigns.events.watcher import ASSET_NAME

log = logging.getLogger(__name__)

DEAD_LETTER_OUTPUT_KEY = "events_dead_letter_queue_url"  # in the stack's CampaignResources output
MAX_REASON_CHARS = 1000  # in the dead-letter message's `reason` attribute


class DeadLetterQueueUnknown(RuntimeError):
    """The stack's outputs name no dead-letter queue; the message says how to fix it."""


@dataclass
class Dispatch:
    """What one dispatcher run does with its messages."""

    campaigns: list[CampaignRequest] = field(default_factory=list)
    duplicates: list[CampaignRequest] = field(default_factory=list)  # of a campaign in this run
    ignored: list[Ignored] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def queue_messages(triggering_asset_events) -> list[dict]:
    """The SQS messages the watcher's trigger received, from every triggering event of the events
    asset, oldest event first. An event of another shape (one made by hand, without a batch) brings
    none."""
    events = [
        event
        for asset, asset_events in (triggering_asset_events or {}).items()
        if getattr(asset, "name", None) == ASSET_NAME
        for event in asset_events
    ]
    messages = []
    for event in sorted(events, key=lambda e: e.timestamp):
        payload = (event.extra or {}).get("payload")
        batch = payload.get("message_batch") if isinstance(payload, dict) else None
        if not isinstance(batch, list):
            log.warning("an events asset event without a message batch, skipped: %s", shown(event.extra))
            continue
        messages.extend(m for m in batch if isinstance(m, dict))
    return messages


def sort_messages(config: CampaignConfig, messages: list[dict]) -> Dispatch:
    dispatch = Dispatch()
    started: set[str] = set()
    for message in messages:
        outcome = read_message(config, message)
        if isinstance(outcome, CampaignRequest):
            if outcome.run_id in started:
                dispatch.duplicates.append(outcome)
                continue
            started.add(outcome.run_id)
            dispatch.campaigns.append(outcome)
        elif isinstance(outcome, Ignored):
            dispatch.ignored.append(outcome)
        else:
            dispatch.rejected.append(outcome)
    return dispatch


DEAD_LETTERS_XCOM_KEY = "dead_letters"  # read_events' XComs beside its return value (the campaigns)
RECEIPTS_XCOM_KEY = "receipts"


def read_events(config: CampaignConfig, triggering_asset_events, dispatcher_run_id: str, ti) -> list[dict]:
    """The read_events task: the run's messages sorted and logged. Returns TriggerDagRunOperator's
    arguments, one campaign each (Airflow maps over a return value only); pushes the rejected messages
    and every message's receipt for the tasks after it."""
    messages = queue_messages(triggering_asset_events)
    dispatch = sort_messages(config, messages)
    for request in dispatch.campaigns:
        log.info("message %s: %s -> campaign %s", request.message_id, request.origin, request.run_id)
    for request in dispatch.duplicates:
        log.info("message %s: %s again, in this run: no second campaign", request.message_id, request.origin)
    for ignored in dispatch.ignored:
        log.info("message %s: ignored, %s", ignored.message_id, ignored.why)
    for rejected in dispatch.rejected:
        log.warning("message %s: to the dead-letter queue: %s", rejected.message_id, rejected.reason)
    log.info(
        "%d message(s): %d campaign(s), %d duplicate(s), %d ignored, %d rejected",
        len(messages),
        len(dispatch.campaigns),
        len(dispatch.duplicates),
        len(dispatch.ignored),
        len(dispatch.rejected),
    )
    dead_letters = [
        {"message_id": r.message_id, "body": r.body, "reason": r.reason} for r in dispatch.rejected
    ]
    ti.xcom_push(key=DEAD_LETTERS_XCOM_KEY, value=dead_letters)
    # Every message: deleted from the events queue once the ones above are handled.
    receipts = [
        {"message_id": str(m.get("MessageId", "")), "receipt_handle": m["ReceiptHandle"]}
        for m in messages
        if isinstance(m.get("ReceiptHandle"), str)
    ]
    ti.xcom_push(key=RECEIPTS_XCOM_KEY, value=receipts)
    return [
        {
            "trigger_run_id": request.run_id,
            "conf": request.conf,
            "note": f"Started by {request.origin} (SQS message {request.message_id}; "
            f"dispatcher run {dispatcher_run_id})",
        }
        for request in dispatch.campaigns
    ]


def dead_letter_queue_url(cloudformation, stack_name: str) -> str:
    """The dead-letter queue, from the stack's CampaignResources output."""
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    url = json.loads(outputs.get(RESOURCES_OUTPUT, "{}")).get(DEAD_LETTER_OUTPUT_KEY)
    if not url:
        raise DeadLetterQueueUnknown(
            f"the stack {stack_name!r} names no {DEAD_LETTER_OUTPUT_KEY} in its {RESOURCES_OUTPUT} output "
            f"(deployed before events existed?): `sdk-campaigns infra deploy` (docs/deploying.md)"
        )
    return url


def send_to_dead_letter_queue(sqs, queue_url: str, rejected: dict, rejected_by: str) -> str:
    """The rejected message's body, with why and by whom as message attributes; its new message id."""

    def attribute(value: str) -> dict:
        return {"DataType": "String", "StringValue": value}

    sent = sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=rejected["body"] or "(no body)",
        MessageAttributes={
            "reason": attribute(rejected["reason"][:MAX_REASON_CHARS]),
            "source_message_id": attribute(rejected["message_id"] or "(none)"),
            "rejected_by": attribute(rejected_by),
        },
    )
    log.warning(
        "message %s to the dead-letter queue as %s: %s",
        rejected["message_id"],
        sent["MessageId"],
        rejected["reason"],
    )
    return sent["MessageId"]


def delete_messages(sqs, queue_url: str, receipts: list[dict]) -> int:
    """Delete the handled messages from the events queue; the number deleted. A receipt that expired
    (the message was received again meanwhile) is left: its next delivery is a duplicate, deduplicated."""
    deleted = 0
    for receipt in receipts:
        try:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt["receipt_handle"])
            deleted += 1
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if "ReceiptHandleIsInvalid" not in code and "InvalidParameterValue" not in code:
                raise
            log.warning("message %s not deleted (%s): it will come again", receipt["message_id"], code)
    log.info("deleted %d of %d message(s) from %s", deleted, len(receipts), queue_url)
    return deleted
