"""The events asset: an AssetWatcher on the stack's events queue, which the dispatcher DAG is scheduled on.

The watcher is the Amazon provider's SqsSensorTrigger, used directly: common-messaging's
MessageQueueTrigger(scheme="sqs") only hands over to it, and would need that provider and a queue URL of
AWS's own form. It runs in the triggerer, never deletes: a message stays invisible for the queue's
visibility timeout while the dispatcher starts its campaign and deletes it, and comes back if the
dispatcher fails, until SQS moves it to the dead-letter queue (at least once, never lost).
"""

from __future__ import annotations

import os

from sdk_campaigns.config import CampaignConfig

ASSET_NAME = "sdk_campaign_events"
WATCHER_NAME = "sdk_campaign_events_queue"
QUEUE_URL_VARIABLE = "SDK_CAMPAIGNS_EVENTS_QUEUE_URL"
LONG_POLL_SECONDS = 20  # SQS's longest: a message arriving during a poll is received at once
MAX_MESSAGES = 10  # SQS's most per receive


def events_queue_url(config: CampaignConfig) -> str:
    """The queue the watcher polls, known at parse time: events.queue_url, else the environment's."""
    return config.events.queue_url or os.environ.get(QUEUE_URL_VARIABLE, "")


def events_asset(config: CampaignConfig, aws_conn_id: str):
    """The asset whose events carry queue messages (extra: {"payload": {"message_batch": [...]}}); no
    watcher when no queue URL is configured."""
    from airflow.providers.amazon.aws.triggers.sqs import SqsSensorTrigger
    from airflow.sdk import Asset, AssetWatcher

    queue_url = events_queue_url(config)
    if not queue_url:
        return Asset(name=ASSET_NAME)
    trigger = SqsSensorTrigger(
        sqs_queue=queue_url,
        aws_conn_id=aws_conn_id,
        max_messages=MAX_MESSAGES,
        wait_time_seconds=LONG_POLL_SECONDS,
        waiter_delay=config.events.poll_interval_seconds,
        delete_message_on_reception=False,  # the dispatcher deletes what it handled
    )
    return Asset(
        name=ASSET_NAME, extra={"queue_url": queue_url}, watchers=[AssetWatcher(WATCHER_NAME, trigger)]
    )
