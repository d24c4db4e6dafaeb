"""Real JUnit files written by the tools themselves (tests/fixtures/junit/README.md says how),
parsed to the counts each tool reported."""

import json
from pathlib import Path

import pytest

from sdk_campaigns.campaign import junit
from sdk_campaigns.campaign.junit import parse_junit, parse_junit_file, summarize

CORPUS = Path(__file__).parents[1] / "fixtures" / "junit"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())


def test_every_corpus_file_has_expected_counts():
    files = {
        path.relative_to(CORPUS).as_posix()
        for path in CORPUS.rglob("*.xml")
        if "source" not in path.relative_to(CORPUS).parts
    }
    assert files == set(EXPECTED)
    assert len({name.split("/")[0] for name in files}) >= 10  # producers


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts_match_the_tool(name):
    summary = summarize(parse_junit_file(CORPUS / name))
    expected = EXPECTED[name]
    assert {key: summary[key] for key in expected} == expected
    assert summary["testcases"] == sum(summary[s] for s in junit.STATUSES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bytes_and_file_parse_alike(name):
    path = CORPUS / name
    assert parse_junit(path.read_bytes(), name) == parse_junit_file(path, name)


@pytest.mark.parametrize("chunk", [1, 7, 4096])
@pytest.mark.parametrize(
    "name", ["bats/basic.xml", "node-test/basic.xml", "googletest/latin1-bytes.xml", "phpunit/basic.xml"]
)
def test_chunk_boundaries_change_nothing(monkeypatch, name, chunk):
    """Multi-byte characters, `&#27;` and the XML declaration cut anywhere still read the same."""
    whole = parse_junit_file(CORPUS / name)
    monkeypatch.setattr(junit, "READ_CHUNK_BYTES", chunk)
    assert parse_junit_file(CORPUS / name) == whole


def _by_name(name):
    return {case.name: case for case in parse_junit_file(CORPUS / name)}


def test_pytest_details():
    cases = _by_name("pytest/basic.xml")
    assert cases["test_fail"].message.startswith("AssertionError: lists differ")
    assert cases["test_xfail"].status == "skipped" and cases["test_xfail"].message == "known bug #12"
    assert cases["test_xpass"].status == "passed"
    assert cases["test_xpass_strict"].status == "failed"
    assert cases["test_error_in_teardown"].status == "error"
    assert cases["test_param[\\xfcn\\xefc\\xf6d\\xe9]"].suite == "sample"  # innermost testsuite's name
    assert cases["test_fail"].duration > 0


def test_non_utf8_bytes_are_replaced_not_fatal():
    case = _by_name("googletest/latin1-bytes.xml")["ThrowsLatin1Bytes"]
    assert case.status == "failed"
    assert "caf\ufffd cr\ufffdme" in case.message


def test_control_characters_written_by_tools_are_replaced():
    assert "\ufffd[31mred" in _by_name("node-test/basic.xml")["sub fails"].message  # raw ESC
    libtest = _by_name("libtest/basic.xml")
    assert (
        libtest["panics_with_colour"].status == "failed" and libtest["panics_with_colour"].message == "assert"
    )
    assert _by_name("bats/basic.xml")["prints colour"].status == "failed"  # &#27; in its text


def test_nested_suites_name_the_innermost():
    phpunit = parse_junit_file(CORPUS / "phpunit/basic.xml")
    assert {case.suite for case in phpunit} == {"CalculatorTest", "CalculatorTest::testSums"}
    node = parse_junit_file(CORPUS / "node-test/basic.xml")
    suites = {case.name: case.suite for case in node}
    assert suites["throws a TypeError"] == "nested & <escaped>"
    assert suites["sub fails"] == "top-level with subtests"
    assert suites["same name"] == ""  # directly under an unnamed <testsuites>


def test_duplicate_names_are_kept():
    mocha = [case.name for case in parse_junit_file(CORPUS / "mocha/basic.xml")]
    assert mocha.count("Calculator same name twice") == 2
    jest = [case for case in parse_junit_file(CORPUS / "jest/suite-errors-console.xml")]
    assert [c.status for c in jest if c.name == "broken.test.js"] == ["error", "failed"]


def test_surefire_reruns():
    flaky = _by_name("surefire/rerun-flaky.xml")
    assert flaky["passesOnRerun"].status == "passed" and flaky["passesOnRerun"].flaky
    assert flaky["failsAssertion"].status == "failed" and not flaky["failsAssertion"].flaky
    assert flaky["throwsException"].status == "error"
    assert _by_name("surefire/basic.xml")["passesOnRerun"].status == "failed"


def test_skipped_beside_failure_and_not_run_status():
    assert _by_name("node-test/basic.xml")["is a todo"].status == "skipped"
    assert _by_name("catch2/basic.xml")["skipped by tag"].status == "skipped"
    disabled = _by_name("googletest/basic.xml")["DISABLED_NotRunYet"]
    assert (disabled.status, disabled.message) == ("skipped", "not run (suppressed)")
    assert _by_name("ctest/basic.xml")["disabled_test"].status == "skipped"


def test_messages_are_bounded_first_lines():
    for name in EXPECTED:
        for case in parse_junit_file(CORPUS / name):
            assert len(case.message) <= junit.MAX_MESSAGE_CHARS
    # no message attribute: the first non-empty line of the text
    assert _by_name("catch2/basic.xml")["throws"].message == "FAILED:"
    assert _by_name("jest/basic.xml")["math multiplies wrongly"].message == (
        "Error: expect(received).toBe(expected) // Object.is equality"
    )
    # PHPUnit starts the text with the test's own Class::method line: the next line is the message
    phpunit = _by_name("phpunit/basic.xml")
    assert phpunit["testFailsAssertion"].message == "arrays <differ> & more"
    assert phpunit['testSums with data set "two plus two"'].message == (
        "Failed asserting that 4 is identical to 5."
    )
    assert phpunit["testRisky"].message == "This test did not perform any assertions"
