"""Unit tests of images/common/converters/tap.py."""

from converters.tap import to_junit

from sdk_campaigns.campaign.junit import parse_junit

TAP = """TAP version 13
1..5
ok 1 - builds a bucket ARN
not ok 2 - caps retry delays
  ---
  message: 'retry delay example expects exponential growth'
  severity: fail
  ...
ok 3 - lists buckets # SKIP needs real AWS credentials
not ok 4 - flaky upload # TODO investigate
noise printed by the runner
ok 5 names <script> & such
"""


def test_tap_statuses_names_and_messages():
    cases = parse_junit(to_junit(TAP, "ruby"), "junit-tap.xml")
    assert [(c.name, c.status) for c in cases] == [
        ("builds a bucket ARN", "passed"),
        ("caps retry delays", "failed"),
        ("lists buckets", "skipped"),
        ("flaky upload", "skipped"),
        ("names <script> & such", "passed"),
    ]
    assert cases[1].message == "retry delay example expects exponential growth"
    assert cases[2].message == "needs real AWS credentials"


def test_empty_output_gives_an_empty_suite():
    assert parse_junit(to_junit("", "ruby"), "junit-tap.xml") == []
