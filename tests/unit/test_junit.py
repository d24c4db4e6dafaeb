import pytest

from sdk_campaigns.campaign.junit import JUnitError, parse_junit

PYTEST_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4">
<testcase classname="suite.test_a" name="test_ok" time="0.01"/>
<testcase classname="suite.test_a" name="test_bad" time="0.02">
  <failure message="assert 1 == 2">tb</failure></testcase>
<testcase classname="suite.test_a" name="test_boom"><error message="fixture exploded"/></testcase>
<testcase classname="suite.test_a" name="test_later" time="x"><skipped message="later"/></testcase>
</testsuite></testsuites>"""


def test_statuses_durations_and_messages():
    cases = parse_junit(PYTEST_XML, "junit.xml")
    assert [c.status for c in cases] == ["passed", "failed", "error", "skipped"]
    assert cases[1].message == "assert 1 == 2"
    assert cases[0].duration == 0.01 and cases[3].duration == 0.0


def test_bare_testsuite_root():
    cases = parse_junit(b'<testsuite name="s"><testcase name="t"/></testsuite>', "x.xml")
    assert cases[0].suite == "s" and cases[0].status == "passed"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"<testsuites><testsuite>", "not well-formed"),
        (b"<html/>", "is not <testsuites>"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            b"<testsuites>&b;</testsuites>",
            "refused unsafe XML",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b"<testsuites>&e;</testsuites>",
            "refused unsafe XML",
        ),
    ],
)
def test_bad_input_is_named(data, reason):
    with pytest.raises(JUnitError, match=reason) as err:
        parse_junit(data, "s3://b/k.xml")
    assert "s3://b/k.xml" in str(err.value)


def test_the_cyclic_collector_is_paused_during_a_parse_and_restored_after_it_even_on_error(monkeypatch):
    import gc

    from sdk_campaigns.campaign import junit

    seen, real = [], junit._testcase
    monkeypatch.setattr(junit, "_testcase", lambda *args: seen.append(gc.isenabled()) or real(*args))
    try:
        assert len(parse_junit(PYTEST_XML, "junit.xml")) == 4
        assert seen == [False] * 4 and gc.isenabled()
        with pytest.raises(JUnitError):
            parse_junit(b"<testsuites><testcase", "broken.xml")
        assert gc.isenabled()
        gc.disable()  # a caller that had it off keeps it off
        parse_junit(PYTEST_XML, "junit.xml")
        assert not gc.isenabled()
    finally:
        gc.enable()
