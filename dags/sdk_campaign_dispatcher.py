"""
### SDK campaign dispatcher

Starts SDK test campaigns from events: a GitHub release (published) or a push to a repository's
default branch, through EventBridge's GitHub inbound webhook, or a plain request
`{"sdk": "python", "ref": "v1.2.0"}` (source `sdk-campaigns`). An EventBridge rule puts them on the
stack's events queue; an asset watcher on that queue runs this DAG (docs/events.md).

**Each message starts its own campaign** (`start_campaign`, labelled with its SDKs and ref), even when
several messages fold into one run of this DAG. Every delivery of one event gets the same campaign run
id, so a duplicate starts nothing (its `start_campaign` is skipped). A message that cannot be acted on
(a body that is no such event, an unknown SDK, an unmapped repository, a ref that is not plainly a git
name) goes to the dead-letter queue with its reason as a message attribute: `dead_letter` runs, logs
and returns the reasons (it is skipped when nothing was rejected). Handled messages are deleted from
the queue last; if the run fails before, they come back, and a message that keeps failing goes to the
dead-letter queue after five receives.

The queue comes from `events.queue_url` in `include/campaign.yaml` (or `SDK_CAMPAIGNS_EVENTS_QUEUE_URL`):
without one, nothing is watched.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, chain, task
from airflow.task.trigger_rule import TriggerRule

from sdk_campaigns.config import cached_config
from sdk_campaigns.events import dispatch
from sdk_campaigns.events.watcher import events_asset, events_queue_url

CONFIG = cached_config()
AWS_CONN_ID = "aws_default"
QUEUE_URL = events_queue_url(CONFIG)
TASK_TIMEOUT = timedelta(minutes=5)

with DAG(
    dag_id="sdk_campaign_dispatcher",
    schedule=[events_asset(CONFIG, AWS_CONN_ID)],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    dagrun_timeout=timedelta(minutes=30),
    default_args={"retries": 1, "retry_delay": timedelta(seconds=10), "execution_timeout": TASK_TIMEOUT},
    tags=["sdk-campaigns", "events"],
    doc_md=__doc__,
) as dag:

    @task
    def read_events(triggering_asset_events=None, run_id=None, ti=None) -> list[dict]:
        """Every queue message behind this run, read: one campaign to start per message, duplicates
        and ignored events logged, rejected messages (with the reason) for `dead_letter`."""
        from sdk_campaigns.events import dispatch

        return dispatch.read_events(CONFIG, triggering_asset_events, run_id, ti)

    @task
    def dead_letter(rejected: list[dict], dag_run=None) -> dict[str, str]:
        """Each rejected message to the dead-letter queue, its reason as a message attribute; returns
        the reasons by message id. Skipped when no message was rejected."""
        from airflow.exceptions import AirflowSkipException

        from sdk_campaigns.campaign.aws import AwsContext
        from sdk_campaigns.events import dispatch

        if not rejected:
            raise AirflowSkipException("no message was rejected")
        aws = AwsContext(AWS_CONN_ID)
        queue = dispatch.dead_letter_queue_url(aws.client("cloudformation"), CONFIG.infra.stack_name)
        sqs, rejected_by = aws.client("sqs"), f"{dag_run.dag_id}/{dag_run.run_id}"
        for message in rejected:
            dispatch.send_to_dead_letter_queue(sqs, queue, message, rejected_by)
        return {message["message_id"]: message["reason"] for message in rejected}

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def delete_messages(receipts: list[dict]) -> int:
        """Every message of the run, once each is handled, deleted from the events queue."""
        from sdk_campaigns.campaign.aws import AwsContext
        from sdk_campaigns.events import dispatch

        return dispatch.delete_messages(AwsContext(AWS_CONN_ID).client("sqs"), QUEUE_URL, receipts)

    # setup
    events = read_events()

    # body: one campaign per message; a run id seen before is a duplicate, skipped
    start_campaign = TriggerDagRunOperator.partial(
        task_id="start_campaign",
        trigger_dag_id=CONFIG.campaign.dag_id,
        skip_when_already_exists=True,
        openlineage_inject_parent_info=False,  # the campaign's conf is exactly {"sdks", "ref"}
        map_index_template="{{ task.conf['sdks'] | join(',') }} at {{ task.conf['ref'] }}",
        doc_md="Starts one campaign run per message, named by the event (a duplicate is skipped).",
    ).expand_kwargs(events)
    rejected = dead_letter(events[dispatch.DEAD_LETTERS_XCOM_KEY])

    # teardown: acknowledge the messages once every one of them is handled
    chain(events, [start_campaign, rejected], delete_messages(events[dispatch.RECEIPTS_XCOM_KEY]))
