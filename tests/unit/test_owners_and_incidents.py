"""TESTOWNERS (who owns what broke, where their alerts go) and scenarios.yaml (cross-SDK incidents):
parsing with errors that name the line, last-match-wins routing, incident detection, what incidents
take out of the run's alert, and the incident alert itself."""

from __future__ import annotations

import pytest

from sdk_campaigns.campaign import incidents, owners
from sdk_campaigns.campaign.collect import test_id as make_test_id

TESTOWNERS = """
# <sdk> <test pattern> <owner> [<alert target>]
*        *                    @sdk-platform
python   *                    @python-team    webhook:python_alerts
python   suite.test_s3.*      @storage-team   sns:arn:aws:sns:us-east-1:123456789012:storage
go       *                    @go-team        -
"""
SCENARIOS = """
scenarios:
  s3.list_buckets:
    python: suite.test_s3.test_list_buckets
    go: ["sdk.TestListBuckets", "sdk.TestListBucketsPaged"]
    java: ["*S3Test.listBuckets"]
    ruby: ["*list buckets*"]
    rust: ["s3::list_buckets"]
    php: ["S3Test.testListBuckets"]
"""


def _row(sdk, classname, name, status, quarantined=False):
    return {
        "sdk": sdk,
        "classname": classname,
        "name": name,
        "test_id": make_test_id(sdk, classname, name),
        "status": status,
        "quarantined": quarantined,
    }


# --- TESTOWNERS -----------------------------------------------------------------------------------------


def test_the_last_matching_line_wins():
    rules = owners.parse_owners(TESTOWNERS)
    assert rules.owner_of("python", "suite.test_s3.test_put").owner == "@storage-team"
    assert rules.owner_of("python", "suite.test_sqs.test_send").owner == "@python-team"
    assert rules.owner_of("rust", "anything").owner == "@sdk-platform"
    assert rules.owner_of_sdk("python").owner == "@python-team"  # the whole SDK: its broken runs
    assert rules.owner_of_sdk("go").target == ""  # '-': the campaign's channels


def test_targets_become_channels():
    rules = owners.parse_owners(TESTOWNERS)
    assert rules.owner_of_sdk("python").channels() == {"http_conn_id": "python_alerts"}
    assert rules.owner_of("python", "suite.test_s3.x").channels() == {
        "sns_topic_arn": "arn:aws:sns:us-east-1:123456789012:storage"
    }


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("python *", "has 2 fields"),
        ("python * @team mailto:me", "alert target 'mailto:me' is none of"),
        ("Python * @team", "sdk 'Python' is not an SDK name"),
        ("python * @team webhook:x extra", "has 5 fields"),
    ],
)
def test_a_bad_line_is_named_with_the_fix(line, error):
    with pytest.raises(owners.OwnersError, match=rf"TESTOWNERS:3: .*{error}"):
        owners.parse_owners(f"# owners\n\n{line}\n", "TESTOWNERS")


def test_a_missing_file_means_no_owners(tmp_path):
    assert owners.load_owners(tmp_path / "TESTOWNERS").rules == ()


def test_findings_go_to_the_owners_of_what_broke():
    rules = owners.parse_owners(TESTOWNERS)
    findings = {
        "dag_id": "d",
        "regressions": [
            {"sdk": "python", "classname": "suite.test_s3", "name": "test_put", "test_id": "1"},
            {"sdk": "python", "classname": "suite.test_sqs", "name": "test_send", "test_id": "2"},
            {"sdk": "rust", "classname": "", "name": "s3::put", "test_id": "3"},
        ],
        "new_flaky": [],
        "fixed": [],
        "broken": [{"sdk": "python", "since": "2026-11-21"}, {"sdk": "go", "since": "2026-11-21"}],
    }
    routes, unowned = owners.route(owners.with_owners(findings, rules), rules)
    by_target = {rule.target: routed for rule, routed in routes}
    storage = by_target["sns:arn:aws:sns:us-east-1:123456789012:storage"]
    python = by_target["webhook:python_alerts"]
    assert [i["name"] for i in storage["regressions"]] == ["test_put"] and storage["broken"] == []
    assert [i["name"] for i in python["regressions"]] == ["test_send"]
    assert [i["sdk"] for i in python["broken"]] == ["python"]
    assert [i["name"] for i in unowned["regressions"]] == ["s3::put"]  # @sdk-platform: no target of its own
    assert [i["sdk"] for i in unowned["broken"]] == ["go"]
    assert python["regressions"][0]["owner"] == "@python-team" and python["dag_id"] == "d"


# --- scenarios and incidents ---------------------------------------------------------------------------


def test_scenarios_are_checked_with_the_fix_named():
    assert incidents.parse_scenarios(SCENARIOS)["s3.list_buckets"]["python"] == (
        "suite.test_s3.test_list_buckets",
    )
    with pytest.raises(incidents.ScenariosError, match=r"scenarios.yaml: .*'s3 list' must match"):
        incidents.parse_scenarios("scenarios: {'s3 list': {python: [x]}}")
    with pytest.raises(incidents.ScenariosError, match="'Python' is not an SDK name"):
        incidents.parse_scenarios("scenarios: {s3.list: {Python: [x]}}")
    with pytest.raises(incidents.ScenariosError, match="Extra inputs"):
        incidents.parse_scenarios("scenario: {}")


def _outcomes(failing: dict[str, tuple[str, str]], passing=("cpp",)) -> list[dict]:
    found = [
        {"sdk": sdk, "status": "tests_failed", "reason": "1 of 2 tests failed",
         "rows": [_row(sdk, classname, name, "failed"), _row(sdk, "other", "test_ok", "passed")]}
        for sdk, (classname, name) in failing.items()
    ]  # fmt: skip
    found += [
        {"sdk": sdk, "status": "passed", "reason": "", "rows": [_row(sdk, "x", "y", "passed")]}
        for sdk in passing
    ]
    return found


FOUR_OF_SIX = {
    "python": ("suite.test_s3", "test_list_buckets"),
    "go": ("sdk", "TestListBucketsPaged"),
    "java": ("com.example.S3Test", "listBuckets"),
    "ruby": ("S3", "can list buckets"),
}


def test_one_scenario_failing_in_four_sdks_is_one_incident_naming_them():
    scenarios = incidents.parse_scenarios(SCENARIOS)
    found = _outcomes(FOUR_OF_SIX, passing=("rust", "php"))
    (incident,) = incidents.detect(found, scenarios, min_sdks=3)
    assert incident["kind"] == "scenario" and incident["key"] == "s3.list_buckets"
    assert incident["sdks"] == ["go", "java", "python", "ruby"]
    assert incident["tests"]["java"] == ["com.example.S3Test.listBuckets"]
    assert incidents.detect(found, scenarios, min_sdks=5) == []


def test_quarantined_failures_make_no_incident():
    scenarios = incidents.parse_scenarios(SCENARIOS)
    found = _outcomes(FOUR_OF_SIX)
    for outcome in found[:2]:
        outcome["rows"][0]["quarantined"] = True
    assert incidents.detect(found, scenarios, min_sdks=3) == []


def test_one_kind_of_infrastructure_failure_in_many_sdks_is_an_incident():
    oom = "killed for memory (exit 137): raise memory_mib"
    pull = "the job failed before its container ran: CannotPullContainerError: pull image manifest {}: 403"
    failed = "infrastructure_failed"
    found = [
        {"sdk": "go", "status": failed, "reason": oom},
        {"sdk": "php", "status": failed, "reason": oom},
        {"sdk": "rust", "status": failed, "reason": pull.format("8f2a9c1e0b")},
        {"sdk": "ruby", "status": failed, "reason": pull.format("77aa01bb99")},
        {"sdk": "java", "status": failed, "reason": "cancelled: stopped from Airflow"},
        {"sdk": "cpp", "status": failed, "reason": "cancelled: stopped from Airflow"},
    ]
    found_kinds = {i["key"]: i["sdks"] for i in incidents.detect(found, {}, min_sdks=2)}
    assert found_kinds == {
        "killed for memory": ["go", "php"],
        "the job failed before its container ran: CannotPullContainerError: pull image manifest #: #": [
            "ruby",
            "rust",
        ],
    }  # a cancelled run is stopped on purpose: no incident


def test_an_incident_takes_what_it_explains_out_of_the_run_alert():
    scenarios = incidents.parse_scenarios(SCENARIOS)
    found = _outcomes(FOUR_OF_SIX)
    found[0]["rows"].append(_row("python", "suite.test_sqs", "test_send", "failed"))  # one more in python
    detected = incidents.detect(found, scenarios, min_sdks=3)
    regression = {"sdk": "go", "classname": "sdk", "name": "TestListBucketsPaged", "test_id": "x"}
    other = {"sdk": "python", "classname": "suite.test_sqs", "name": "test_send", "test_id": "y"}
    findings = {
        "regressions": [regression, other],
        "new_flaky": [],
        "broken": [{"sdk": "go"}, {"sdk": "python"}, {"sdk": "cpp"}],
    }
    left = incidents.explained(findings, detected, scenarios, found)
    assert left["regressions"] == [other]
    assert [b["sdk"] for b in left["broken"]] == ["python", "cpp"]  # go broke only by the scenario


def test_the_incident_alert_names_the_sdks_and_is_inert():
    scenarios = incidents.parse_scenarios(SCENARIOS)
    detected = incidents.detect(_outcomes(FOUR_OF_SIX), scenarios, min_sdks=3)
    detected[0]["tests"]["ruby"] = ["<!channel> @here `x`"]
    alert = incidents.build_incident_alert(
        detected,
        dag_id="sdk_test_campaign",
        logical_date="2026-11-21T06:00:00+00:00",
        run_id="r1",
        report="/r.html",
    )
    whole = "sdk_test_campaign 2026-11-21: cross-SDK incident: s3.list_buckets fails in 4 SDKs: go, java, "
    assert alert.subject == (whole + "python, ruby")[:96] + "..."
    assert len(alert.subject) <= 99
    assert "fails in 4 SDKs: go, java, python, ruby" in alert.text
    assert "<!channel>" not in alert.text and "@here" not in alert.text
    assert alert.payload["kind"] == "cross_sdk_incident"
    assert alert.payload["incidents"][0]["sdks"] == ["go", "java", "python", "ruby"]


def test_an_incident_is_alerted_once_per_date(tmp_path):
    uri = str(tmp_path / "history")
    detected = incidents.detect(_outcomes(FOUR_OF_SIX), incidents.parse_scenarios(SCENARIOS), min_sdks=3)
    date = "2026-11-21T06:00:00+00:00"
    document = incidents.record(uri, "d", logical_date=date, run_id="r1", incidents=detected)
    assert document["alerted"] == []
    incidents.mark_alerted(uri, "d", document, detected)
    again = incidents.record(uri, "d", logical_date=date, run_id="r1-rerun", incidents=detected)
    assert again["alerted"] == [incidents.identity(detected[0])] and again["run_id"] == "r1-rerun"
    assert [d["run_id"] for d in incidents.recent(uri, "d")] == ["r1-rerun"]


def test_an_ad_hoc_runs_incidents_are_neither_kept_nor_alerted(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from sdk_campaigns.campaign import alert_routing
    from sdk_campaigns.config import CampaignConfig

    (tmp_path / "scenarios.yaml").write_text(SCENARIOS)
    monkeypatch.setenv("SDK_CAMPAIGNS_CONFIG", str(tmp_path / "campaign.yaml"))
    config = CampaignConfig.model_validate(
        {
            "campaign": {"results_bucket": "bucket", "history_uri": str(tmp_path / "history")},
            "alerts": {"http_conn_id": "never_called"},
            "sdks": {"python": {"image": "python", "test_command": ["pytest"]}},
        }
    )
    run = SimpleNamespace(dag_id="d", run_id="r", logical_date="2026-11-21T06:00:00+00:00", lane="adhoc")
    document = alert_routing.record_incidents(config, run, _outcomes(FOUR_OF_SIX))
    assert [i["key"] for i in document["incidents"]] == ["s3.list_buckets"]  # for the run's own report
    assert incidents.recent(config.history_uri(), "d") == []
    sent = []
    monkeypatch.setattr(alert_routing, "deliver", lambda alert, **channels: sent.append(alert) or ["webhook"])
    monkeypatch.setattr(alert_routing, "send_alert", lambda findings, **channels: [])
    findings = {"dag_id": "d", "logical_date": run.logical_date, "run_id": "r", "report": ""}
    alert_routing.announce(config, run, findings, _outcomes(FOUR_OF_SIX), document, "aws_default")
    assert sent == []
    official = SimpleNamespace(**{**vars(run), "lane": "official"})
    document = alert_routing.record_incidents(config, official, _outcomes(FOUR_OF_SIX))
    alert_routing.announce(config, official, findings, _outcomes(FOUR_OF_SIX), document, "aws_default")
    assert len(sent) == 1 and incidents.recent(config.history_uri(), "d")[0]["alerted"]
