"""Alerts delivered for real: SNS on moto server over HTTP (read back from a subscribed SQS
queue), and a webhook served by a real HTTP server on 127.0.0.1. Airflow connections come
from the environment, as in a deployment."""

import json
import logging
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sdk_campaigns.campaign import alerts
from sdk_campaigns.campaign.alerts import AlertError, WebhookError, send_alert
from sdk_campaigns.dev import local_stack

pytestmark = pytest.mark.stack

SECRET_PASSWORD = "hunter2-do-not-log"
SECRET_PATH = "/hooks/T000/B000/path-token-do-not-log"

FINDINGS = {
    "dag_id": "sdk_test_campaign",
    "logical_date": "2026-11-21T06:00:00+00:00",
    "run_id": "scheduled__2026-11-21T06:00:00+00:00",
    "report": "/reports/sdk_test_campaign/report.html",
    "regressions": [
        {"sdk": "go", "test_id": "ab12", "name": "TestX", "classname": "pkg", "message": "want 1\ngot 2"},
        {"sdk": "python", "test_id": "ef56", "name": "test_z\x1b[2J", "classname": "m", "message": "boom"},
    ],
    "new_flaky": [{"sdk": "python", "test_id": "cd34", "name": "test_y", "classname": "m"}],
    "broken": [],
    "fixed": [],
}
SUBJECT = "sdk_test_campaign 2026-11-21: 2 regressions in go, python; 1 new flaky test in python"


@pytest.fixture
def aws_connection(monkeypatch, stack_home):
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(local_stack.aws_connection()))


@pytest.fixture
def topic_and_queue(aws_client, aws_connection):
    """An SNS topic with an SQS queue subscribed to it (raw delivery off: SNS envelopes)."""
    sns, sqs = aws_client("sns"), aws_client("sqs")
    name = f"it-alerts-{uuid.uuid4().hex[:12]}"
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    yield topic_arn, queue_url
    sns.unsubscribe(SubscriptionArn=subscription)
    sns.delete_topic(TopicArn=topic_arn)
    sqs.delete_queue(QueueUrl=queue_url)


def _receive_sns_messages(sqs, queue_url, expected=1):
    envelopes = []
    for _ in range(5):
        response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
        for message in response.get("Messages", []):
            envelopes.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if len(envelopes) >= expected:
            break
    return envelopes


class _Webhook(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _WebhookHandler)
        self.requests: list[dict] = []
        self.status = 204

    @property
    def port(self) -> int:
        return self.server_address[1]


class _WebhookHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.server.requests.append(
            {"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)}
        )
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        pass


@pytest.fixture
def webhook(monkeypatch):
    """A real HTTP server on a free port, and AIRFLOW_CONN_ALERTS_WEBHOOK pointing at it."""
    server = _Webhook()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALERTS_WEBHOOK",
        json.dumps(
            {
                "conn_type": "http",
                "host": "127.0.0.1",
                "port": server.port,
                "schema": "http",
                "login": "alerts",
                "password": SECRET_PASSWORD,
            }
        ),
    )
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_sns_alert_reaches_a_subscribed_queue(aws_client, topic_and_queue):
    topic_arn, queue_url = topic_and_queue

    assert send_alert(FINDINGS, sns_topic_arn=topic_arn, aws_conn_id="aws_default") == ["sns"]

    envelopes = _receive_sns_messages(aws_client("sqs"), queue_url)
    assert len(envelopes) == 1
    envelope = envelopes[0]
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == topic_arn
    assert envelope["Subject"] == SUBJECT
    text = envelope["Message"]
    assert "2 regressions (newly failing since the previous run):" in text
    assert "  - [go] `pkg.TestX`: `want 1 got 2`" in text  # untrusted values in code spans
    assert "  - [python] `m.test_z[2J`: `boom`" in text  # the escape sequence lost its ESC
    assert "1 new flaky test:\n  - [python] `m.test_y`" in text
    assert text.rstrip().endswith("Report: /reports/sdk_test_campaign/report.html")


def test_no_findings_publish_nothing(aws_client, topic_and_queue):
    topic_arn, queue_url = topic_and_queue
    quiet = {**FINDINGS, "regressions": [], "new_flaky": [], "fixed": FINDINGS["regressions"]}

    assert send_alert(quiet, sns_topic_arn=topic_arn) == []

    response = aws_client("sqs").receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)
    assert response.get("Messages", []) == []


def test_sns_notifier_called_as_an_airflow_callback(aws_client, topic_and_queue):
    topic_arn, queue_url = topic_and_queue
    notifier = alerts.SnsAlertNotifier(
        target_arn="{{ params.topic }}", findings="{{ params.findings | tojson }}"
    )

    notifier({"params": {"topic": topic_arn, "findings": FINDINGS}})

    envelopes = _receive_sns_messages(aws_client("sqs"), queue_url)
    assert [e["Subject"] for e in envelopes] == [SUBJECT]


def test_webhook_receives_the_json_payload(webhook):
    assert send_alert(FINDINGS, http_conn_id="alerts_webhook", webhook_endpoint="/sdk-alerts") == ["webhook"]

    assert len(webhook.requests) == 1
    request = webhook.requests[0]
    assert request["path"] == "/sdk-alerts"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["Authorization"].startswith("Basic ")  # the connection's login/password
    payload = json.loads(request["body"])
    assert payload["subject"] == SUBJECT
    assert payload["counts"] == {"regressions": 2, "new_flaky": 1, "broken": 0, "fixed": 0}
    assert payload["regressions"][0] == {
        "sdk": "go",
        "test_id": "ab12",
        "name": "TestX",
        "classname": "pkg",
        "message": "want 1 got 2",
    }
    assert payload["regressions"][1]["name"] == "test_z[2J"
    assert payload["new_flaky"] == FINDINGS["new_flaky"]
    assert payload["run_id"] == FINDINGS["run_id"] and payload["report"] == FINDINGS["report"]
    assert payload["text"].startswith("sdk_test_campaign: run `scheduled__2026-11-21T06:00:00+00:00`")


def test_webhook_answering_500_is_a_clear_error_without_secrets(webhook, caplog):
    # INFO, as Airflow's task logs (at DEBUG, urllib3 itself logs every request's path).
    caplog.set_level(logging.INFO)
    webhook.status = 500

    with pytest.raises(AlertError) as raised:
        send_alert(FINDINGS, http_conn_id="alerts_webhook", webhook_endpoint=SECRET_PATH)

    message = str(raised.value)
    assert "HTTP 500" in message and "127.0.0.1" in message and "alerts_webhook" in message
    assert len(webhook.requests) >= 2  # it was really asked, and retried within the deadline
    for leaked in (SECRET_PASSWORD, "path-token-do-not-log"):
        assert leaked not in message
        assert leaked not in caplog.text


def test_webhook_error_from_the_notifier_names_the_status(webhook):
    webhook.status = 503
    notifier = alerts.WebhookAlertNotifier(http_conn_id="alerts_webhook", findings=FINDINGS)

    with pytest.raises(WebhookError, match=r"at 127\.0\.0\.1 answered HTTP 503"):
        notifier.send()


def test_unreachable_webhook_names_the_host_only(monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again at once: nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv(
        "AIRFLOW_CONN_DEAD_WEBHOOK",
        json.dumps({"conn_type": "http", "host": f"http://127.0.0.1:{port}{SECRET_PATH}"}),
    )

    with pytest.raises(WebhookError) as raised:
        alerts.post_json("dead_webhook", {"x": 1}, timeout=2)

    assert "127.0.0.1" in str(raised.value) and "ConnectionError" in str(raised.value)
    assert "path-token-do-not-log" not in str(raised.value)
    assert "path-token-do-not-log" not in caplog.text


def test_both_channels_and_a_failing_one_does_not_stop_the_other(aws_client, topic_and_queue, webhook):
    topic_arn, queue_url = topic_and_queue

    assert send_alert(FINDINGS, sns_topic_arn=topic_arn, http_conn_id="alerts_webhook") == ["sns", "webhook"]
    assert len(webhook.requests) == 1
    assert [e["Subject"] for e in _receive_sns_messages(aws_client("sqs"), queue_url)] == [SUBJECT]

    webhook.status = 500
    with pytest.raises(AlertError, match=r"webhook: .*HTTP 500.*\(delivered via sns\)"):
        send_alert(FINDINGS, sns_topic_arn=topic_arn, http_conn_id="alerts_webhook")
    assert [e["Subject"] for e in _receive_sns_messages(aws_client("sqs"), queue_url)] == [SUBJECT]


def test_webhook_notifier_awaited_as_in_the_triggerer(webhook):
    import asyncio

    notifier = alerts.WebhookAlertNotifier(
        http_conn_id="alerts_webhook",
        findings="{{ params.findings | tojson }}",
        context={"params": {"findings": FINDINGS}},
    )

    async def awaited():
        await notifier

    asyncio.run(awaited())
    assert json.loads(webhook.requests[0]["body"])["subject"] == SUBJECT
