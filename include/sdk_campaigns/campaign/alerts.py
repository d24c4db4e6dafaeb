"""Alerts on a campaign's regressions: an SNS message and/or a JSON webhook, built from the run's findings.

The findings come from the campaign's analytics (JSON-ready)::

    {"dag_id", "logical_date", "run_id", "report",
     "regressions": [{"sdk", "test_id", "name", "classname", "message",     # newly failing
                      "last_passed_commit", "first_failing_commit", "compare_url"}],
     "new_flaky":   [{"sdk", "test_id", "name", "classname"}],
     "broken":      [{"sdk", "since", "status", "reason",
                      "last_passed_commit", "first_failing_commit", "compare_url"}],
     "fixed":       [same shape as regressions]}

A regression or broken SDK whose commits are known says "(last passed at `<sha>`, first failed
at `<sha>`: <compare link>)"; the link only for a repository on GitHub or GitLab.

Test names, class names and messages come from the containers under test: they are
untrusted. Every string is stripped of control and format characters (including bidi
overrides) and bounded before it reaches a subject, a text line or the webhook payload;
the subject is ASCII only, one line, at most 99 characters (SNS refuses longer ones).
In the text, which chat webhooks (Slack, Teams, Discord, Mattermost) show as markup, they
are inert: `<` and `>` become `‹ ›` (no Slack control sequence: `<!channel>`, `<@U123>`,
`<https://x|y>`), `@` becomes `＠` (no mention), and names, messages, reasons and run ids
sit in code spans with their backticks replaced (no Markdown: emphasis, links, headings).

A webhook call has a total deadline (`timeout`, retries included), not a per-read one: a
server trickling its answer cannot hold it longer. 5xx, 429 and connection failures are
retried with backoff while the deadline allows.

Nothing here logs a connection's password or a webhook URL: errors name the status and
the URL's host only (webhook URLs often carry their secret in the path).
"""

from __future__ import annotations

import abc
import ast
import contextlib
import json
import logging
import re
import socket
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from airflow.sdk import BaseNotifier
from requests.adapters import HTTPAdapter

log = logging.getLogger(__name__)

MAX_SUBJECT_CHARS = 99  # SNS: "must be less than 100 characters"
MAX_TEXT_ITEMS = 10  # per category in the plain-text message
MAX_PAYLOAD_ITEMS = 200  # per category in the webhook payload; counts always give the totals
DEFAULT_TIMEOUT_SECONDS = 10.0  # a webhook call's total deadline, retries included
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
FIRST_RETRY_SECONDS = 0.5  # then doubling
MIN_ATTEMPT_SECONDS = 0.5  # no new attempt with less time than this left

# Bounds per field, in characters, after sanitising.
FIELD_LIMITS = {
    "sdk": 40,
    "test_id": 80,
    "name": 300,
    "classname": 300,
    "message": 500,
    "status": 40,
    "since": 40,
    "reason": 500,
    "first_failing_commit": 64,
    "last_passed_commit": 64,
    "compare_url": 400,
    "owner": 100,
}
DEFAULT_FIELD_LIMIT = 200
TOP_LEVEL_LIMITS = {"dag_id": 250, "logical_date": 40, "run_id": 250, "report": 2000}
MAX_EXTRA_FIELDS = 10  # unknown keys kept per item, so a huge item cannot bloat the payload

CATEGORIES = ("regressions", "new_flaky", "broken", "fixed")
ALERTING = ("regressions", "new_flaky", "broken")  # a fixed-only run does not alert

_WHITESPACE = re.compile(r"\s+")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_DROPPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


class AlertError(RuntimeError):
    """An alert could not be delivered; the message is safe to log."""


class WebhookError(AlertError):
    """The webhook did not accept the alert (non-2xx, timeout, connection refused)."""


# --- sanitising ------------------------------------------------------------------------------------


def clean_text(value: Any, limit: int = DEFAULT_FIELD_LIMIT) -> str:
    """One line of printable text, at most `limit` characters ("…" marks a cut).

    Control, format (zero-width, bidi overrides), private-use, unassigned and surrogate
    characters are dropped; any run of whitespace (newlines, tabs) becomes one space.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    # Cap the work on hostile input before the per-character pass.
    text = text[: limit * 4 + 16]
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    kept = _WHITESPACE.sub(" ", kept).strip()
    if len(kept) > limit:
        kept = kept[: max(limit - 1, 0)].rstrip() + "…"
    return kept


_CHAT_INERT = str.maketrans({"<": "‹", ">": "›", "@": "＠", "`": "ˋ"})


def inert(text: str) -> str:
    """`text` with no chat control sequence (Slack's `<!channel>`, `<@U123>`, `<url|label>`), no
    mention (`@here`) and no backtick: safe in any chat markup, and still readable as plain text."""
    return text.translate(_CHAT_INERT)


def code(text: str) -> str:
    """Untrusted text as an inert code span: no emphasis, link or heading in chat Markdown."""
    return f"`{inert(text)}`" if text else ""


def _ascii_line(value: str) -> str:
    """For the SNS subject: printable ASCII only."""
    text = value.replace("…", "...")
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)


def _clean_item(item: Any) -> dict[str, str]:
    if not isinstance(item, dict):
        return {"name": clean_text(item, FIELD_LIMITS["name"])}
    cleaned: dict[str, str] = {}
    extra = 0
    for key, value in item.items():
        name = clean_text(key, 40)
        if not name:
            continue
        if name not in FIELD_LIMITS:
            extra += 1
            if extra > MAX_EXTRA_FIELDS:
                continue
        cleaned[name] = clean_text(value, FIELD_LIMITS.get(name, DEFAULT_FIELD_LIMIT))
    return cleaned


def _items(findings: dict, category: str) -> list:
    value = findings.get(category)
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    raise ValueError(f"findings[{category!r}] must be a list, not {type(value).__name__}")


# --- the alert -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    subject: str  # printable ASCII, one line, <= MAX_SUBJECT_CHARS
    text: str  # plain text for people (SNS email/SMS subscribers, chat)
    payload: dict  # JSON-ready: cleaned findings, true counts, subject and text (for webhooks)


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def _sdks(items: list[dict]) -> list[str]:
    return sorted({inert(item.get("sdk", "")) for item in items if item.get("sdk")})


def _commits(item: dict) -> str:
    """ " (last passed at <sha>, first failed at <sha>: <compare link>)", or "" when unknown."""
    short = {k: (item.get(k) or "")[:12] for k in ("last_passed_commit", "first_failing_commit")}
    if not any(short.values()):
        return ""
    parts = [
        f"{label} {code(short[k])}"
        for k, label in (
            ("last_passed_commit", "last passed at"),
            ("first_failing_commit", "first failed at"),
        )
        if short[k]
    ]
    link = f": {inert(item['compare_url'])}" if item.get("compare_url") else ""
    return f" ({', '.join(parts)}{link})"


def _test_label(item: dict) -> str:
    name = item.get("name") or item.get("test_id") or "(unnamed test)"
    classname = item.get("classname")
    label = code(f"{classname}.{name}" if classname else name) + _commits(item)
    label = f"[{inert(item['sdk'])}] {label}" if item.get("sdk") else label
    return f"{label} (owner {inert(item['owner'])})" if item.get("owner") else label


def _broken_label(item: dict) -> str:
    line = inert(item.get("sdk") or "(unknown SDK)")
    if item.get("status"):
        line += f": {inert(item['status'])}"
    if item.get("since"):
        line += f" since {inert(item['since'])}"
    line += _commits(item)
    if item.get("reason"):
        line += f" ({code(item['reason'])})"
    if item.get("owner"):
        line += f" (owner {inert(item['owner'])})"
    return line


def _subject(header: str, counts: dict[str, int], sdks: dict[str, list[str]]) -> str:
    """`<dag> <date>: 3 regressions in go, python; 1 new flaky test; 1 broken SDK: rust`, shortened to fit."""
    detailed, plain = [], []
    if counts["regressions"]:
        text = _plural(counts["regressions"], "regression")
        plain.append(text)
        detailed.append(f"{text} in {', '.join(sdks['regressions'])}" if sdks["regressions"] else text)
    if counts["new_flaky"]:
        text = _plural(counts["new_flaky"], "new flaky test")
        plain.append(text)
        detailed.append(f"{text} in {', '.join(sdks['new_flaky'])}" if sdks["new_flaky"] else text)
    if counts["broken"]:
        text = _plural(counts["broken"], "broken SDK")
        plain.append(text)
        detailed.append(f"{text}: {', '.join(sdks['broken'])}" if sdks["broken"] else text)
    for parts in (detailed, plain):
        subject = _ascii_line(f"{header}: {'; '.join(parts)}")
        if len(subject) <= MAX_SUBJECT_CHARS:
            return subject
    return subject[: MAX_SUBJECT_CHARS - 3].rstrip() + "..."


def _section(title: str, items: list[dict], total: int, label, limit: int) -> list[str]:
    lines = [title]
    for item in items[:limit]:
        line = f"  - {label(item)}"
        if item.get("message"):
            line += f": {code(item['message'])}"
        lines.append(line)
    shown = min(limit, len(items))
    if total > shown:
        lines.append(f"  … and {total - shown} more")
    return [*lines, ""]


def build_alert(findings: dict, *, max_items: int = MAX_TEXT_ITEMS) -> Alert | None:
    """The alert for a run's findings; None when nothing regressed, turned flaky or broke.

    Runs whose only news is fixed tests do not alert; when an alert is sent, fixed tests
    are listed too. `max_items` bounds each category in the text ("… and K more").
    """
    if not isinstance(findings, dict):
        raise ValueError(f"findings must be a dict, not {type(findings).__name__}")
    raw = {category: _items(findings, category) for category in CATEGORIES}
    counts = {category: len(items) for category, items in raw.items()}
    if not any(counts[category] for category in ALERTING):
        return None

    # Clean only what is shown or sent: the text needs max_items, the payload MAX_PAYLOAD_ITEMS.
    keep = max(max_items, MAX_PAYLOAD_ITEMS)
    items = {category: [_clean_item(item) for item in raw[category][:keep]] for category in CATEGORIES}
    top = {key: clean_text(findings.get(key), limit) for key, limit in TOP_LEVEL_LIMITS.items()}
    dag_id = top["dag_id"] or "sdk campaign"
    logical_date = top["logical_date"]
    day = logical_date[:10] if _ISO_DATE.match(logical_date) else logical_date
    # SDK lists for the subject come from every item, not only the ones kept.
    sdks = {
        category: _sdks([{"sdk": clean_text(i.get("sdk"), 40)} for i in raw[category] if isinstance(i, dict)])
        for category in ALERTING
    }
    subject = _subject(clean_text(f"{dag_id[:50]} {day}", 70), counts, sdks)

    run = f"run {code(top['run_id'])}" if top["run_id"] else "run"
    lines = [
        f"{inert(dag_id)}: {run}" + (f" (logical date {inert(logical_date)})" if logical_date else ""),
        "",
    ]
    sections = (
        ("regressions", "regression", " (newly failing since the previous run)", _test_label),
        ("new_flaky", "new flaky test", "", _test_label),
        ("broken", "broken SDK", "", _broken_label),
        ("fixed", "fixed test", " (passing again)", _test_label),
    )
    for category, noun, detail, label in sections:
        if counts[category]:
            title = f"{_plural(counts[category], noun)}{detail}:"
            lines += _section(title, items[category], counts[category], label, max_items)
    lines.append(f"Report: {inert(top['report'])}" if top["report"] else "Report: (none was written)")
    text = "\n".join(lines)

    payload = {
        **top,
        "subject": subject,
        "text": text,  # lets chat webhooks (Slack-style {"text": ...}) show the alert as is
        "counts": counts,
        "truncated": {category: counts[category] > len(items[category]) for category in CATEGORIES},
        **{category: items[category][:MAX_PAYLOAD_ITEMS] for category in CATEGORIES},
    }
    return Alert(subject=subject, text=text, payload=payload)


# --- findings given to a notifier ------------------------------------------------------------------


def _parse_findings(value: Any) -> dict | None:
    """Findings from a notifier's field: a dict, or a rendered template holding one.

    `{{ ti.xcom_pull(task_ids='analyse') | tojson }}` renders JSON; without `| tojson`
    Jinja renders the dict's Python repr, which `ast.literal_eval` reads (literals only).
    """
    if value is None or isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise ValueError(f"findings must be a dict or a JSON string, not {type(value).__name__}")
    if not value.strip() or value.strip() == "None":
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ValueError("findings did not render to a JSON object (use `| tojson`)") from None
    if parsed is not None and not isinstance(parsed, dict):
        raise ValueError(f"findings rendered to a {type(parsed).__name__}, not an object")
    return parsed


class _FindingsNotifier(BaseNotifier, abc.ABC):
    """Findings as a templated field, or given to `send()` at call time.

    A findings *dict* is kept out of template rendering on purpose: Airflow renders every
    string inside a dict field, and a test named `{{ conn.aws_default.password }}` must be
    text, not a template. Only a string (a Jinja template such as an XCom pull) is rendered.
    """

    channel = ""

    def __init__(self, *, findings: dict | str | None = None, **kwargs):
        super().__init__(**kwargs)
        self._literal_findings = None if isinstance(findings, str) else findings
        self.findings = findings if isinstance(findings, str) else None

    def _findings(self, context) -> dict | None:
        if self._literal_findings is not None:
            return self._literal_findings
        return _parse_findings(self.findings)

    def send(self, findings: dict | None = None) -> bool:
        """Send the alert for `findings` (default: the notifier's own); False when there is none."""
        findings = findings if findings is not None else self._findings({})
        if findings is None:
            raise ValueError(f"{type(self).__name__}: no findings were given")
        alert = build_alert(findings)
        if alert is None:
            log.info("%s: no regressions, new flaky tests or broken SDKs: no alert", self.channel)
            return False
        self.send_alert(alert)
        return True

    @abc.abstractmethod
    def send_alert(self, alert: Alert) -> None:
        """Deliver one built alert on this notifier's channel."""

    def notify(self, context) -> None:
        self.send(self._findings(context))

    async def async_notify(self, context) -> None:
        # The sync clients in a worker thread: the triggerer's event loop is never blocked.
        import asyncio

        await asyncio.to_thread(self.notify, context)


class SnsAlertNotifier(_FindingsNotifier):
    """Publish the alert (subject + plain text) to an SNS topic or endpoint through SnsHook."""

    channel = "sns"
    template_fields: Sequence[str] = ("findings", "target_arn", "aws_conn_id", "region_name")

    def __init__(
        self,
        *,
        target_arn: str,
        findings: dict | str | None = None,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        **kwargs,
    ):
        super().__init__(findings=findings, **kwargs)
        self.target_arn = target_arn
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name

    def send_alert(self, alert: Alert) -> None:
        from airflow.providers.amazon.aws.hooks.sns import SnsHook

        hook = SnsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
        response = hook.publish_to_target(
            target_arn=self.target_arn, message=alert.text, subject=alert.subject
        )
        log.info("alert published to SNS %s (message id %s)", self.target_arn, response.get("MessageId"))


class WebhookAlertNotifier(_FindingsNotifier):
    """POST the alert's JSON payload to the URL of an Airflow HTTP connection.

    The connection gives the URL (host with scheme/port, or a full URL in host), optional
    basic auth (login/password) and headers (extra); `endpoint` is appended to it.
    Redirects are not followed (a POST would become a GET); anything but 2xx raises
    WebhookError naming the status and the host, never the full URL or the credentials.
    """

    channel = "webhook"
    template_fields: Sequence[str] = ("findings", "http_conn_id", "endpoint")

    def __init__(
        self,
        *,
        http_conn_id: str,
        findings: dict | str | None = None,
        endpoint: str = "",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        **kwargs,
    ):
        super().__init__(findings=findings, **kwargs)
        self.http_conn_id = http_conn_id
        self.endpoint = endpoint
        self.timeout = timeout

    def send_alert(self, alert: Alert) -> None:
        post_json(self.http_conn_id, alert.payload, endpoint=self.endpoint, timeout=self.timeout)


def post_json(
    http_conn_id: str, payload: dict, *, endpoint: str = "", timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> int:
    """POST `payload` as JSON to the HTTP connection's URL within `timeout` seconds in all; retry 5xx,
    429 and connection failures with backoff while time is left; raise WebhookError unless it answers
    2xx. Returns the status."""
    import requests
    from airflow.providers.http.hooks.http import HttpHook

    deadline = time.monotonic() + timeout
    # Not HttpHook.run(): it logs the full URL and connection errors (which embed the URL),
    # and the response body on errors. The hook still supplies the session: auth, headers,
    # proxies and TLS settings from the connection.
    hook = HttpHook(method="POST", http_conn_id=http_conn_id)
    session = hook.get_conn(headers={"Content-Type": "application/json"})
    adapter = _AbortableAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    url = hook.url_from_endpoint(endpoint)
    host = urlparse(url).hostname or "(no host)"
    where = f"webhook {http_conn_id!r} at {host}"
    body = json.dumps(payload, ensure_ascii=False).encode()
    # requests' timeouts are per socket read: this closes the connection when the deadline passes.
    watchdog = threading.Timer(timeout, adapter.abort)
    watchdog.daemon = True
    watchdog.start()
    attempt, wait = 0, FIRST_RETRY_SECONDS
    try:
        with session:
            while True:
                attempt += 1
                remaining = max(deadline - time.monotonic(), 0.001)
                status, failure = 0, ""
                try:
                    response = session.post(
                        url, data=body, timeout=remaining, allow_redirects=False, stream=True
                    )
                    status, reason = response.status_code, clean_text(response.reason, 60)
                    response.close()
                    if status in RETRY_STATUSES:
                        failure = f"answered HTTP {status} {reason}".rstrip()
                except requests.RequestException as err:
                    if time.monotonic() >= deadline or isinstance(err, requests.Timeout):
                        failure = f"gave no answer within {timeout:g} s"
                    else:
                        failure = f"could not be reached ({type(err).__name__})"
                if not failure:
                    break
                log.warning("%s %s (attempt %d)", where, failure, attempt)
                if deadline - time.monotonic() < wait + MIN_ATTEMPT_SECONDS:
                    tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
                    raise WebhookError(f"{where} {failure} ({tries} within the {timeout:g} s deadline)")
                time.sleep(wait)
                wait *= 2
    finally:
        watchdog.cancel()
    if not 200 <= status < 300:
        raise WebhookError(f"{where} answered HTTP {status} {reason}".rstrip())
    log.info("alert posted to %s: HTTP %d (attempt %d)", where, status, attempt)
    return status


class _AbortableAdapter(HTTPAdapter):
    """A requests adapter that keeps the connections it opens, so that a watchdog can shut them down in
    the middle of a read (requests' own timeouts start again with every byte received)."""

    def __init__(self):
        super().__init__(max_retries=0)
        self.connections: list = []

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        pool = super().get_connection_with_tls_context(request, verify, proxies=proxies, cert=cert)
        if getattr(pool.ConnectionCls, "tracked_by", None) is not self:
            pool.ConnectionCls = _tracked(pool.ConnectionCls, self)
        return pool

    def abort(self) -> None:
        for connection in list(self.connections):
            sock = getattr(connection, "sock", None)
            if sock is not None:
                # The plain socket's shutdown, under any TLS wrapper: a blocked read fails at once.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _tracked(connection_class: type, adapter: _AbortableAdapter) -> type:
    class TrackedConnection(connection_class):
        tracked_by = adapter

        def connect(self):
            adapter.connections.append(self)
            super().connect()

    return TrackedConnection


# --- the call the publish task makes ---------------------------------------------------------------


def send_alert(findings: dict, **channels) -> list[str]:
    """Send the run's alert on every configured channel; return the channels used ("sns", "webhook").
    `channels` are deliver's keywords (the SNS topic, the webhook connection and endpoint, the timeout).

    Returns [] when the findings need no alert or no channel is configured. Every
    configured channel is tried even when one fails; then AlertError names the failures
    (and which channels did deliver).
    """
    alert = build_alert(findings)
    if alert is None:
        log.info("no regressions, new flaky tests or broken SDKs: no alert")
        return []
    return deliver(alert, **channels)


def deliver(
    alert: Alert,
    *,
    sns_topic_arn: str | None = None,
    aws_conn_id: str = "aws_default",
    http_conn_id: str | None = None,
    webhook_endpoint: str = "",
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> list[str]:
    """Send a built alert (send_alert's, or another such as a cross-SDK incident's) on every configured
    channel, as send_alert says."""
    notifiers: list[_FindingsNotifier] = []
    if sns_topic_arn:
        notifiers.append(SnsAlertNotifier(target_arn=sns_topic_arn, aws_conn_id=aws_conn_id))
    if http_conn_id:
        notifiers.append(
            WebhookAlertNotifier(http_conn_id=http_conn_id, endpoint=webhook_endpoint, timeout=timeout)
        )
    if not notifiers:
        log.warning("alert not sent: no SNS topic or webhook connection is configured (%s)", alert.subject)
        return []
    sent, failures = [], []
    for notifier in notifiers:
        try:
            notifier.send_alert(alert)
            sent.append(notifier.channel)
        except Exception as err:  # boto and requests raise many types; one channel must not stop the other
            log.error("alert via %s failed: %s", notifier.channel, err)
            failures.append(f"{notifier.channel}: {err}")
    if failures:
        delivered = f" (delivered via {', '.join(sent)})" if sent else ""
        raise AlertError("alert not delivered: " + "; ".join(failures) + delivered)
    return sent
