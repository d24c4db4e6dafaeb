"""Campaigns started by events: GitHub releases and pushes (EventBridge's GitHub inbound webhook) and
plain requests reach the stack's events queue through an EventBridge rule; an Airflow AssetWatcher on
the queue drives the dispatcher DAG, which starts one campaign per message (docs/events.md).

- messages: what one queue message asks for (a campaign, nothing, or the dead-letter queue);
- watcher: the events asset and the SQS trigger that watches the queue;
- dispatch: the dispatcher's task bodies.
"""
