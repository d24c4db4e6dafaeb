"""The webhook alert against real HTTP servers on 127.0.0.1: a total deadline per call (a server trickling
its answer a byte at a time cannot hold it), retries with backoff on 5xx and connection failures within
that deadline, none on 4xx; and test names that carry Slack control sequences, Markdown or mentions
reach the chat text inert."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sdk_campaigns.campaign import alerts
from sdk_campaigns.campaign.alerts import WebhookError, build_alert, post_json, send_alert

SECRET_PATH = "/hooks/T000/B000/path-token-do-not-log"
RUN = {
    "dag_id": "sdk_test_campaign",
    "logical_date": "2026-11-21T06:00:00+00:00",
    "run_id": "scheduled__2026-11-21T06:00:00+00:00",
    "report": "/reports/sdk_test_campaign/report.html",
}
HOSTILE_NAMES = [
    "<!channel> deploys are broken",
    "<!here|here> and <!subteam^S123|@oncall>",
    "<@U123ABC> please look",
    "<https://evil.example/login|Click to fix the build>",
    "*URGENT* _rotate_ ~keys~ `now` [here](https://evil.example) # Heading",
    "@channel @here @everyone ping",
    "```\ncode block\n```",
    "> quoted",
]


def _connection(monkeypatch, name: str, port: int) -> str:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{name.upper()}",
        json.dumps({"conn_type": "http", "host": f"http://127.0.0.1:{port}{SECRET_PATH}"}),
    )
    return name


class _Webhook(ThreadingHTTPServer):
    """Answers each POST with the next status of `statuses` (the last one repeats)."""

    def __init__(self, statuses):
        self.statuses, self.requests = list(statuses), []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(handler):  # noqa: N802, N805 (http.server's names)
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                self.requests.append((time.monotonic(), json.loads(body)))
                status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
                handler.send_response(status)
                handler.send_header("Content-Length", "0")
                handler.end_headers()

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture
def webhook():
    servers = []

    def start(*statuses):
        servers.append(_Webhook(statuses))
        return servers[-1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def trickling_server():
    """Reads the request, then sends its answer one byte every 2 s (for at most 40 s)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"[:20]:
                if stop.wait(2):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()


def test_a_trickling_server_cannot_hold_the_call_past_its_deadline(monkeypatch, trickling_server):
    conn_id = _connection(monkeypatch, "slow_webhook", trickling_server)
    started = time.monotonic()
    with pytest.raises(WebhookError) as raised:
        post_json(conn_id, {"text": "x"}, timeout=3)
    elapsed = time.monotonic() - started
    print(f"a server sending a byte every 2 s held the 3 s call for {elapsed:.2f} s")
    # without the deadline the call lasts the trickle's 40 s; the margin absorbs a loaded machine
    assert elapsed < 10
    assert "gave no answer within 3 s" in str(raised.value)
    assert "path-token-do-not-log" not in str(raised.value)


def test_5xx_is_retried_with_backoff_until_it_succeeds(monkeypatch, webhook):
    server = webhook(503, 502, 200)
    conn_id = _connection(monkeypatch, "flaky_webhook", server.server_port)
    assert post_json(conn_id, {"text": "x"}, timeout=10) == 200
    times = [t for t, _ in server.requests]
    assert len(times) == 3
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert gaps[0] >= alerts.FIRST_RETRY_SECONDS * 0.9 and gaps[1] >= 2 * alerts.FIRST_RETRY_SECONDS * 0.9


def test_a_server_that_keeps_failing_is_given_up_within_the_deadline(monkeypatch, webhook):
    server = webhook(500)
    conn_id = _connection(monkeypatch, "broken_webhook", server.server_port)
    started = time.monotonic()
    with pytest.raises(
        WebhookError, match=r"at 127\.0\.0\.1 answered HTTP 500 .*attempts within the 3 s deadline"
    ):
        post_json(conn_id, {"text": "x"}, timeout=3)
    assert time.monotonic() - started < 3.5
    assert 2 <= len(server.requests) <= 4


def test_4xx_is_not_retried(monkeypatch, webhook):
    server = webhook(404)
    conn_id = _connection(monkeypatch, "wrong_webhook", server.server_port)
    with pytest.raises(WebhookError, match=r"at 127\.0\.0\.1 answered HTTP 404"):
        post_json(conn_id, {"text": "x"}, timeout=5)
    assert len(server.requests) == 1


def test_an_unreachable_server_is_retried_then_named_by_host_only(monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again at once: nothing listens there
    conn_id = _connection(monkeypatch, "dead_webhook", port)
    started = time.monotonic()
    with pytest.raises(WebhookError) as raised:
        post_json(conn_id, {"text": "x"}, timeout=2)
    assert time.monotonic() - started < 2.5
    message = str(raised.value)
    assert "127.0.0.1 could not be reached (ConnectionError)" in message and "attempts" in message
    assert "path-token-do-not-log" not in message


def _findings():
    return {
        **RUN,
        "run_id": "manual__<!channel>",
        "regressions": [
            {"sdk": "go", "test_id": f"id{n}", "name": name, "classname": "pkg", "message": name}
            for n, name in enumerate(HOSTILE_NAMES)
        ],
        "broken": [{"sdk": "rust", "status": "infrastructure_failed", "reason": "<!channel> *OOM*"}],
    }


def test_slack_control_sequences_markdown_and_mentions_in_test_names_are_inert():
    alert = build_alert(_findings())
    text = alert.text
    assert alert.payload["text"] == text
    for sequence in ("<!", "<@", "<http", "<#"):
        assert sequence not in text
    assert "<" not in text and ">" not in text
    assert not re.search(r"(?<![\w＠])@\w", text), "a mention survived"
    # Every untrusted value sits in one code span of its own: no Markdown inside takes effect.
    regression_lines = [line for line in text.splitlines() if line.startswith("  - [go] ")]
    assert len(regression_lines) == len(HOSTILE_NAMES)
    for line in regression_lines:
        assert re.fullmatch(r"  - \[go\] `[^`]+`: `[^`]+`", line), line
    assert "  - rust: infrastructure_failed (`‹!channel› *OOM*`)" in text
    assert "run `manual__‹!channel›`" in text
    assert "`pkg.‹https://evil.example/login|Click to fix the build›`" in text
    # The payload's items are data: cleaned, not rewritten.
    assert alert.payload["regressions"][0]["name"] == "<!channel> deploys are broken"


def test_the_webhook_receives_the_inert_text(monkeypatch, webhook):
    server = webhook(200)
    conn_id = _connection(monkeypatch, "chat_webhook", server.server_port)
    assert send_alert(_findings(), http_conn_id=conn_id) == ["webhook"]
    [(_, received)] = server.requests
    assert received["text"] == build_alert(_findings()).text
    assert "<!channel>" not in received["text"] and "@here" not in received["text"]
