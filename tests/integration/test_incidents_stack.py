"""Cross-SDK incidents and owner routing through the real publish task: six SDKs' outcomes written to the
stack's results bucket on moto server over HTTP (as collect writes them), publish_run with the Airflow
identity, and alerts caught by real HTTP servers on 127.0.0.1 behind Airflow HTTP connections."""

from __future__ import annotations

import json
import threading
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from sdk_campaigns import history
from sdk_campaigns import publish as publishing
from sdk_campaigns.campaign import outcomes
from sdk_campaigns.campaign.aws import AwsContext
from sdk_campaigns.campaign.collect import SdkOutcome, count_rows, result_row
from sdk_campaigns.campaign.junit import TestCase
from sdk_campaigns.campaign.plan import plan_run
from sdk_campaigns.config import DEFAULT_CONFIG_PATH, load_config
from sdk_campaigns.dev import local_stack

pytestmark = pytest.mark.stack

SDKS = ("python", "javascript", "java", "go", "ruby", "rust")
SCENARIO_TEST = {  # each SDK's own name for the one scenario
    "python": ("suite.test_s3", "test_list_buckets"),
    "javascript": ("s3", "lists buckets"),
    "java": ("com.example.S3Test", "listBuckets"),
    "go": ("sdk", "TestListBuckets"),
    "ruby": ("S3", "lists buckets"),
    "rust": ("", "s3::list_buckets"),
}
SCENARIOS = {
    "scenarios": {"s3.list_buckets": {sdk: [".".join(filter(None, t))] for sdk, t in SCENARIO_TEST.items()}}
}
DAYS = ("2026-11-20T06:00:00+00:00", "2026-11-21T06:00:00+00:00")


class _Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.payloads: list[dict] = []


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.payloads.append(json.loads(body))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        pass


@pytest.fixture
def receivers(monkeypatch):
    """Two webhook receivers: the campaign's channel (AIRFLOW_CONN_CAMPAIGN_ALERTS) and an owner's
    (AIRFLOW_CONN_PYTHON_OWNERS)."""
    servers = {name: _Receiver() for name in ("campaign_alerts", "python_owners")}
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers.values()]
    for thread in threads:
        thread.start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name, server in servers.items():
        connection = {
            "conn_type": "http",
            "host": "127.0.0.1",
            "port": server.server_address[1],
            "schema": "http",
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{name.upper()}", json.dumps(connection))
    yield servers
    for server in servers.values():
        server.shutdown()
        server.server_close()


@pytest.fixture
def campaign(tmp_path, monkeypatch, stack_home):
    """A campaign config of the six SDKs in a folder of its own, beside its scenarios.yaml and TESTOWNERS."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(local_stack.aws_connection()))
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    raw["sdks"] = {sdk: raw["sdks"][sdk] for sdk in SDKS}
    raw["campaign"].update(history_uri=str(tmp_path / "history"), report_dir=str(tmp_path / "reports"))
    raw["alerts"] = {"http_conn_id": "campaign_alerts", "incident_min_sdks": 3}
    (tmp_path / "campaign.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "scenarios.yaml").write_text(yaml.safe_dump(SCENARIOS))
    (tmp_path / "TESTOWNERS").write_text(
        "*       *                 @sdk-platform\n"
        "python  suite.test_sqs.*  @python-team  webhook:python_owners\n"
    )
    monkeypatch.setenv("SDK_CAMPAIGNS_CONFIG", str(tmp_path / "campaign.yaml"))
    return load_config()


def _publish(config, run_id: str, day: str, failing: dict[str, list[tuple[str, str]]]) -> str:
    """Each SDK's outcome.json in the results bucket as collect writes it (a passing test, the scenario's
    test, and the tests `failing` names failing), then the publish task's body."""
    aws = AwsContext("aws_default")
    s3 = aws.client("s3")
    run = plan_run(config, {}, run_id=run_id, logical_date=day)
    for plan in run.sdks:
        tests = [("sample", "test_ok"), SCENARIO_TEST[plan.sdk], ("suite.test_sqs", "test_send")]
        cases = [
            TestCase(
                suite="suite",
                classname=classname,
                name=name,
                status="failed" if (classname, name) in failing.get(plan.sdk, []) else "passed",
                duration=0.1,
                message="AccessDenied" if (classname, name) in failing.get(plan.sdk, []) else "",
            )
            for classname, name in tests
        ]
        rows = [
            result_row(c, sdk=plan.sdk, run_id=run_id, logical_date=day, digest="sha256:x") for c in cases
        ]
        counts = count_rows(rows)
        failed = counts["failed"]
        outcome = SdkOutcome(
            sdk=plan.sdk,
            status="tests_failed" if failed else "passed",
            reason=f"{failed} of 3 tests failed" if failed else "all 3 tests passed or were skipped",
            job_id=f"job-{plan.sdk}",
            job_status="SUCCEEDED",
            exit_code=0,
            image_digest="sha256:x",
            results_uri=f"s3://{config.campaign.results_bucket}/{plan.results_prefix}",
            counts=counts,
            rows=rows,
        )
        document = {**outcome.to_dict(), "ref": plan.ref, "metrics": {}}
        outcomes.write_outcome(s3, config.campaign.results_bucket, plan, document, config.limits)
    history.use_airflow_connection("aws_default")
    return publishing.publish_run(config, run, {"summary": "ok"}, defaultdict(SimpleNamespace), aws)


def test_one_scenario_failing_in_four_of_six_sdks_is_one_incident_alert_naming_them(campaign, receivers):
    suffix = uuid.uuid4().hex[:8]
    _publish(campaign, f"it_incident_{suffix}_1", DAYS[0], {})
    assert receivers["campaign_alerts"].payloads == []  # all passed: nothing to say
    broken = ("go", "java", "python", "rust")
    failing = {sdk: [SCENARIO_TEST[sdk]] for sdk in broken}
    report_file = _publish(campaign, f"it_incident_{suffix}_2", DAYS[1], failing)

    (alert,) = receivers["campaign_alerts"].payloads  # the 4 regressions and 4 broken SDKs: not sent
    assert alert["kind"] == "cross_sdk_incident"
    (incident,) = alert["incidents"]
    assert incident["key"] == "s3.list_buckets" and incident["sdks"] == list(broken)
    assert "Scenario `s3.list_buckets` fails in 4 SDKs: go, java, python, rust" in alert["text"]
    assert "cross-SDK incident: s3.list_buckets fails in 4 SDKs" in alert["subject"]
    assert receivers["python_owners"].payloads == []

    page = Path(report_file).read_text(encoding="utf-8")
    assert page.index("Cross-SDK incidents") < page.index("<h2>Per SDK</h2>")
    assert "scenario s3.list_buckets fails" in page

    # A retried publish of the same run sends no second incident alert.
    _publish(campaign, f"it_incident_{suffix}_2", DAYS[1], failing)
    assert len(receivers["campaign_alerts"].payloads) == 1


def test_an_owners_regression_goes_to_the_owner_and_the_campaign(campaign, receivers):
    suffix = uuid.uuid4().hex[:8]
    _publish(campaign, f"it_owners_{suffix}_1", DAYS[0], {})
    _publish(campaign, f"it_owners_{suffix}_2", DAYS[1], {"python": [("suite.test_sqs", "test_send")],
                                                         "go": [("sample", "test_ok")]})  # fmt: skip

    (owned,) = receivers["python_owners"].payloads
    assert [(r["sdk"], r["name"], r["owner"]) for r in owned["regressions"]] == [
        ("python", "test_send", "@python-team")
    ]
    assert owned["broken"] == []  # python as a whole is @sdk-platform's, which has no target of its own
    (everything,) = receivers["campaign_alerts"].payloads  # alerts.default_receives: all
    assert sorted((r["sdk"], r["owner"]) for r in everything["regressions"]) == [
        ("go", "@sdk-platform"),
        ("python", "@python-team"),
    ]


def test_quarantine_changes_and_incidents_live_in_an_s3_history(stack_home):
    """The page's changes and a date's incidents in an s3:// history on moto (as the default history_uri)."""
    from datetime import UTC, datetime, timedelta

    from sdk_campaigns.campaign import incidents, quarantine

    uri = f"s3://{load_config(DEFAULT_CONFIG_PATH).campaign.results_bucket}/it-history-{uuid.uuid4().hex[:8]}"
    expires = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    entry = {"sdk": "go", "test": "sdk.TestX", "reason": "flaky", "owner": "@go", "expires": expires}
    quarantine.record_change(uri, "d", action="add", entry=entry, why="flaky", by="alice")
    quarantine.record_change(uri, "d", action="remove", entry=entry, why="fixed", by="bob")
    assert [(c["by"], c["action"]) for c in quarantine.audit_log(uri, "d")] == [
        ("alice", "add"),
        ("bob", "remove"),
    ]
    incident = {"kind": "scenario", "key": "s3.list_buckets", "sdks": ["go", "java", "php"], "tests": {}}
    document = incidents.record(uri, "d", logical_date=DAYS[1], run_id="r", incidents=[incident])
    incidents.mark_alerted(uri, "d", document, [incident])
    (kept,) = incidents.recent(uri, "d")
    assert kept["alerted"] == [incidents.identity(incident)]
    assert history.list_partitions(uri, "d") == []  # the documents' folders are never partitions
