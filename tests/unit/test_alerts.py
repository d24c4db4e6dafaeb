"""build_alert: when a run alerts, what the subject/text/payload say, and hostile test names."""

import json

import pytest

from sdk_campaigns.campaign import alerts
from sdk_campaigns.campaign.alerts import MAX_SUBJECT_CHARS, build_alert

RUN = {
    "dag_id": "sdk_test_campaign",
    "logical_date": "2026-11-21T06:00:00+00:00",
    "run_id": "scheduled__2026-11-21T06:00:00+00:00",
    "report": "/reports/sdk_test_campaign/scheduled__2026-11-21/report.html",
}


def _test(sdk, n, **extra):
    return {"sdk": sdk, "test_id": f"id{n}", "name": f"Test{n}", "classname": "pkg", **extra}


def _findings(**categories):
    return {**RUN, "regressions": [], "new_flaky": [], "broken": [], "fixed": [], **categories}


def _assert_subject_is_sns_safe(subject):
    assert 0 < len(subject) <= MAX_SUBJECT_CHARS <= 100
    assert all(32 <= ord(ch) < 127 for ch in subject), subject


def test_no_findings_no_alert():
    assert build_alert(_findings()) is None
    assert build_alert(RUN) is None  # categories absent altogether
    assert build_alert({**RUN, "regressions": None, "new_flaky": None}) is None


def test_fixed_only_runs_do_not_alert():
    assert build_alert(_findings(fixed=[_test("go", 1)])) is None


def test_regressions_only():
    alert = build_alert(
        _findings(
            regressions=[
                _test("go", 1, message="expected 1, got 2"),
                _test("python", 2, message="AssertionError"),
                _test("go", 3, message="panic"),
            ]
        )
    )
    assert alert.subject == "sdk_test_campaign 2026-11-21: 3 regressions in go, python"
    _assert_subject_is_sns_safe(alert.subject)
    assert "3 regressions (newly failing since the previous run):" in alert.text
    assert "  - [go] `pkg.Test1`: `expected 1, got 2`" in alert.text
    assert "  - [python] `pkg.Test2`: `AssertionError`" in alert.text
    assert "flaky" not in alert.text and "broken" not in alert.text
    assert alert.text.rstrip().endswith(f"Report: {RUN['report']}")
    assert "run `scheduled__2026-11-21T06:00:00+00:00`" in alert.text
    payload = json.loads(json.dumps(alert.payload))
    assert payload["counts"] == {"regressions": 3, "new_flaky": 0, "broken": 0, "fixed": 0}
    assert payload["regressions"][0] == _test("go", 1, message="expected 1, got 2")
    assert payload["truncated"]["regressions"] is False
    assert payload["dag_id"] == "sdk_test_campaign" and payload["report"] == RUN["report"]
    assert payload["subject"] == alert.subject and payload["text"] == alert.text


def test_every_category_in_subject_and_text():
    alert = build_alert(
        _findings(
            regressions=[_test("go", 1)],
            new_flaky=[_test("python", 2)],
            broken=[
                {
                    "sdk": "rust",
                    "since": "2026-11-19T06:00:00+00:00",
                    "status": "infrastructure_failed",
                    "reason": "OOM",
                }
            ],
            fixed=[_test("java", 4)],
        )
    )
    assert alert.subject == (
        "sdk_test_campaign 2026-11-21: 1 regression in go; 1 new flaky test in python; 1 broken SDK: rust"
    )
    _assert_subject_is_sns_safe(alert.subject)
    assert "1 new flaky test:\n  - [python] `pkg.Test2`" in alert.text
    assert "  - rust: infrastructure_failed since 2026-11-19T06:00:00+00:00 (`OOM`)" in alert.text
    assert "1 fixed test (passing again):\n  - [java] `pkg.Test4`" in alert.text


@pytest.mark.parametrize("only", ["new_flaky", "broken"])
def test_flaky_or_broken_alone_alerts(only):
    item = _test("python", 1) if only == "new_flaky" else {"sdk": "ruby", "status": "infrastructure_failed"}
    assert build_alert(_findings(**{only: [item]})) is not None


def test_many_items_are_truncated_in_the_text_and_counted_in_full():
    regressions = [_test(sdk, n) for n in range(500) for sdk in ("go", "python", "rust")]
    alert = build_alert(_findings(regressions=regressions), max_items=5)
    listed = [line for line in alert.text.splitlines() if line.startswith("  - ")]
    assert len(listed) == 5
    assert "  … and 1495 more" in alert.text
    assert alert.subject.startswith("sdk_test_campaign 2026-11-21: 1500 regressions in go, python, rust")
    assert alert.payload["counts"]["regressions"] == 1500
    assert len(alert.payload["regressions"]) == alerts.MAX_PAYLOAD_ITEMS
    assert alert.payload["truncated"]["regressions"] is True
    assert len(json.dumps(alert.payload)) < 200_000  # well inside SNS's and webhooks' limits


def test_subject_shortens_to_counts_when_sdk_lists_do_not_fit():
    sdks = [f"language-number-{n}" for n in range(12)]
    alert = build_alert(
        _findings(regressions=[_test(s, 1) for s in sdks], new_flaky=[_test(s, 2) for s in sdks])
    )
    assert alert.subject == "sdk_test_campaign 2026-11-21: 12 regressions; 12 new flaky tests"


def test_hostile_names_are_cleaned_and_bounded():
    hostile = "Test\x00\x1b[31mRED\x1b[0m\r\nInjected: line\u202egnp.exe\u200b" + "x" * 10_000
    alert = build_alert(
        {
            **RUN,
            "dag_id": "dag\nBcc: victim@example.com" + "d" * 500,
            "logical_date": "\x07" * 5000,
            "regressions": [
                {
                    "sdk": "go\u2028evil",
                    "test_id": "a" * 10_000,
                    "name": hostile,
                    "classname": hostile,
                    "message": "{{ conn.aws_default.password }}\n" * 2000,
                },
                "not a dict \x00",
                {"sdk": "py", "name": {"nested": ["objects"]}, **{f"k{i}": "v" for i in range(100)}},
            ],
        }
    )
    _assert_subject_is_sns_safe(alert.subject)
    assert "\n" not in alert.subject and "Bcc" in alert.subject  # one line: no header injection
    for line in alert.text.splitlines():
        assert len(line) < 1500
        assert not any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in line), repr(line)
        assert "\u202e" not in line and "\u200b" not in line and "\u2028" not in line
    assert "Test[31mRED[0m Injected: line" in alert.text
    item = alert.payload["regressions"][0]
    assert len(item["name"]) <= alerts.FIELD_LIMITS["name"] and item["name"].endswith("…")
    assert len(item["test_id"]) <= alerts.FIELD_LIMITS["test_id"]
    assert len(item["message"]) <= alerts.FIELD_LIMITS["message"]
    assert item["sdk"] == "go evil"
    assert alert.payload["regressions"][1] == {"name": "not a dict"}
    third = alert.payload["regressions"][2]
    assert third["name"] == "{'nested': ['objects']}"
    assert len(third) <= 3 + alerts.MAX_EXTRA_FIELDS
    # Templates in untrusted text stay text (nothing here renders them).
    assert "{{ conn.aws_default.password }}" in item["message"]
    json.dumps(alert.payload)  # JSON-ready


def test_non_ascii_sdk_names_are_replaced_in_the_subject_only():
    alert = build_alert(_findings(regressions=[_test("pythön", 1)]))
    _assert_subject_is_sns_safe(alert.subject)
    assert "pyth?n" in alert.subject
    assert "[pythön]" in alert.text


def test_a_category_that_is_not_a_list_is_an_error():
    with pytest.raises(ValueError, match="regressions"):
        build_alert({**RUN, "regressions": "everything"})


def test_clean_text():
    assert alerts.clean_text(None) == ""
    assert alerts.clean_text(" a\t\tb\n\nc ") == "a b c"
    assert alerts.clean_text("abcdef", 4) == "abc…"
    assert alerts.clean_text(12) == "12"


@pytest.mark.parametrize(
    "rendered",
    [
        json.dumps(_findings(regressions=[_test("go", 1)])),
        repr(_findings(regressions=[_test("go", 1)])),  # a template rendered without `| tojson`
    ],
)
def test_notifier_reads_findings_rendered_from_a_template(rendered):
    sent = []

    class Recording(alerts.WebhookAlertNotifier):
        def send_alert(self, alert):
            sent.append(alert)

    notifier = Recording(http_conn_id="unused", findings="{{ params.findings }}")
    notifier({"params": {"findings": rendered}})
    assert len(sent) == 1 and sent[0].payload["counts"]["regressions"] == 1


def test_notifier_does_not_render_templates_inside_a_findings_dict():
    sent = []

    class Recording(alerts.SnsAlertNotifier):
        def send_alert(self, alert):
            sent.append(alert)

    findings = _findings(regressions=[_test("go", 1, name="{{ params.secret }}")])
    Recording(target_arn="arn:aws:sns:us-east-1:123456789012:t", findings=findings)(
        {"params": {"secret": "s3cr3t"}}
    )
    assert "{{ params.secret }}" in sent[0].text and "s3cr3t" not in sent[0].text


def test_notifier_without_findings_to_alert_sends_nothing():
    class Failing(alerts.WebhookAlertNotifier):
        def send_alert(self, alert):
            raise AssertionError("must not send")

    assert Failing(http_conn_id="unused", findings=_findings(fixed=[_test("go", 1)])).send() is False


def test_send_alert_without_channels_or_findings_sends_nothing():
    assert alerts.send_alert(_findings()) == []
    assert alerts.send_alert(_findings(regressions=[_test("go", 1)])) == []
