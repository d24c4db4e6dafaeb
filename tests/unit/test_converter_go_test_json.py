"""Unit tests of images/common/converters/go_test_json.py.

The fixtures in tests/fixtures/converters/go/ are real `go test -json` outputs (stdout and stderr
interleaved, as run_suite.py captures them) from go1.19.8 in the go image:
sample-failures-on/off.jsonl (the sample suite), edge-cases.txt (subtests, parallel
tests, a panic, a TestMain that exits 1, build and vet failures printed as plain text,
a package without tests), timeout.txt (`-timeout 2s` killing a hanging test) and
imported-build-failure.txt (two test packages importing a package that does not compile).
"""

from pathlib import Path

import pytest
from converters.go_test_json import to_junit

from sdk_campaigns.campaign.junit import parse_junit

TESTS = Path(__file__).resolve().parents[1]
FIXTURES = TESTS / "fixtures" / "converters" / "go"


def convert(text: str) -> dict:
    cases = parse_junit(to_junit(text, "go"), "junit-go_test_json.xml")
    return {(c.classname, c.name): c for c in cases}


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


SUITE = "example.com/sdkcampaigns/sample/suite"


def test_sample_suite_with_failures():
    cases = convert(fixture("sample-failures-on.jsonl"))
    assert len(cases) == 6  # the package-level events of sdk/ (no test files) and suite/ make no cases
    statuses = sorted(c.status for c in cases.values())
    assert statuses == ["failed", "passed", "passed", "passed", "passed", "skipped"]
    failed = cases[(SUITE, "TestRetryDelaysAreCapped")]
    assert failed.status == "failed"
    assert failed.message.startswith("examples_test.go:")
    assert "retry delay example expects exponential growth without a cap" in failed.message
    assert cases[(SUITE, "TestListBucketsLive")].message == "needs real AWS credentials"


def test_sample_suite_without_failures():
    cases = convert(fixture("sample-failures-off.jsonl"))
    assert sorted(c.status for c in cases.values()) == ["passed"] * 5 + ["skipped"]


def test_failure_output_is_the_tests_own_lines():
    root_xml = to_junit(fixture("sample-failures-on.jsonl"), "go").decode()
    assert "--- FAIL: TestRetryDelaysAreCapped" in root_xml
    assert "TestBucketARN (0.00s)" not in root_xml  # passing tests carry no output


def test_edge_cases():
    cases = convert(fixture("edge-cases.txt"))
    status = {key: c.status for key, c in cases.items()}
    assert status[("example.com/fx/subtests", "TestTable")] == "failed"
    assert status[("example.com/fx/subtests", "TestTable/one")] == "passed"
    assert status[("example.com/fx/subtests", "TestTable/two")] == "skipped"
    assert cases[("example.com/fx/subtests", "TestTable/two")].message == "flaky on CI"
    assert cases[("example.com/fx/subtests", "TestTable")].message == "a subtest failed"
    assert cases[("example.com/fx/subtests", "TestMultiline")].message == "s_test.go:29: first line"
    assert status[("example.com/fx/parallel", "TestPar/b")] == "failed"
    assert cases[("example.com/fx/parallel", "TestPar/b")].message == "par_test.go:15: parallel b failed"
    assert cases[("example.com/fx/parallel", "TestSlow")].duration == pytest.approx(0.3)
    boom = cases[("example.com/fx/panics", "TestBoom")]
    assert boom.status == "failed" and boom.message.startswith("panic: assignment to entry in nil map")


def test_package_failures_without_a_failed_test_are_errors():
    cases = convert(fixture("edge-cases.txt"))
    build = cases[("example.com/fx/buildfail", "example.com/fx/buildfail")]  # plain-text build failure
    assert build.status == "error"
    assert build.message.startswith("build failed: buildfail/b_test.go:6:17: cannot use Answer()")
    vet = cases[("example.com/fx/vetfail", "example.com/fx/vetfail")]
    assert vet.status == "error" and "fmt.Printf format %d" in vet.message
    main = cases[("example.com/fx/mainexit", "example.com/fx/mainexit")]
    assert main.status == "error" and main.message == "package failed: leaked goroutines detected"
    assert cases[("example.com/fx/mainexit", "TestOK")].status == "passed"
    # packages whose failure a failed test explains get no extra case
    for package in ("example.com/fx/panics", "example.com/fx/parallel", "example.com/fx/subtests"):
        assert (package, package) not in cases
    assert not any(classname == "example.com/fx/notests" for classname, _ in cases)


def test_a_test_killed_by_the_timeout_is_an_error():
    cases = convert(fixture("timeout.txt"))
    hang = cases[("example.com/fx2/hang", "TestHangs")]
    assert hang.status == "error"
    assert hang.message == "TestHangs did not finish: panic: test timed out after 2s"
    assert cases[("example.com/fx2/hang", "TestQuick")].status == "passed"
    assert ("example.com/fx2/hang", "example.com/fx2/hang") not in cases


def test_a_broken_imported_package_fails_each_importer():
    cases = convert(fixture("imported-build-failure.txt"))
    assert cases[("example.com/fx3/fine", "TestFine")].status == "passed"
    for package in ("example.com/fx3/importer", "example.com/fx3/importer2"):
        case = cases[(package, package)]
        assert case.status == "error"
        assert case.message.startswith('build failed: brokenlib/l.go:3:23: cannot use "x"')
    assert len(cases) == 3


def test_go_1_24_json_build_events():
    # From Go 1.24, build output is JSON too (build-output / build-fail, FailedBuild).
    text = "\n".join(
        [
            '{"ImportPath":"example.com/m/p [example.com/m/p.test]","Action":"build-output",'
            '"Output":"# example.com/m/p [example.com/m/p.test]\\n"}',
            '{"ImportPath":"example.com/m/p [example.com/m/p.test]","Action":"build-output",'
            '"Output":"p/p_test.go:6:17: undefined: Nope\\n"}',
            '{"ImportPath":"example.com/m/p [example.com/m/p.test]","Action":"build-fail"}',
            '{"Action":"start","Package":"example.com/m/p"}',
            '{"Action":"output","Package":"example.com/m/p",'
            '"Output":"FAIL\\texample.com/m/p [build failed]\\n"}',
            '{"Action":"fail","Package":"example.com/m/p","Elapsed":0,'
            '"FailedBuild":"example.com/m/p [example.com/m/p.test]"}',
        ]
    )
    (case,) = convert(text).values()
    assert (case.classname, case.name, case.status) == ("example.com/m/p", "example.com/m/p", "error")
    assert case.message == "build failed: p/p_test.go:6:17: undefined: Nope"


def test_go_1_24_json_build_failure_of_an_imported_package():
    text = "\n".join(
        [
            '{"ImportPath":"m/lib","Action":"build-output","Output":"# m/lib\\n"}',
            '{"ImportPath":"m/lib","Action":"build-output","Output":"lib/main.go:3:11: undefined: y\\n"}',
            '{"ImportPath":"m/lib","Action":"build-fail"}',
            '{"Action":"start","Package":"m/user"}',
            '{"Action":"output","Package":"m/user","Output":"FAIL\\tm/user [build failed]\\n"}',
            '{"Action":"fail","Package":"m/user","Elapsed":0,"FailedBuild":"m/lib"}',
        ]
    )
    (case,) = convert(text).values()
    assert (case.name, case.status) == ("m/user", "error")
    assert case.message == "build failed: lib/main.go:3:11: undefined: y"


def test_garbage_and_stray_lines_are_ignored():
    text = "\n".join(
        [
            "go: downloading example.com/x v1.0.0",
            "{not json",
            '{"no":"action"}',
            "[1, 2]",
            '{"Action":"run","Package":"p","Test":"TestA"}',
            "stray stderr line",
            '{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0.25}',
            '{"Action":"pass","Package":"p","Elapsed":0.3}',
        ]
    )
    (case,) = convert(text).values()
    assert (case.name, case.status, case.duration) == ("TestA", "passed", 0.25)
    assert convert("") == {}
    odd = (
        '{"Action":"output","Package":7,"Test":8,"Output":9}\n'
        '{"Action":"fail","Package":7,"Test":8,"Elapsed":"x"}'
    )
    (case,) = convert(odd).values()
    assert (case.classname, case.name, case.status, case.message) == ("7", "8", "failed", "9")
