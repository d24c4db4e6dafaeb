"""`sdk-campaigns junit summarize`, run as the installed console script."""

import json
import subprocess
import sys
from pathlib import Path

CLI = Path(sys.executable).with_name("sdk-campaigns")
CORPUS = Path(__file__).parents[1] / "fixtures" / "junit"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), "junit", "summarize", *args], capture_output=True, text=True, timeout=60)


def test_json_summary_of_a_corpus_file():
    path = CORPUS / "surefire" / "rerun-flaky.xml"
    result = run(str(path), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    expected = json.loads((CORPUS / "expected.json").read_text())["surefire/rerun-flaky.xml"]
    assert {key: summary[key] for key in expected} == expected
    assert summary["file"] == str(path)
    assert 0 < summary["total_time"] < 1


def test_human_summary_of_a_corpus_file():
    result = run(str(CORPUS / "pytest" / "basic.xml"))
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()[1:]]
    assert lines[:5] == [
        ["testcases", "17"],
        ["passed", "6"],
        ["failed", "6"],
        ["error", "2"],
        ["skipped", "3"],
    ]
    assert lines[5][:2] == ["total", "time"] and lines[5][-1] == "s"
    assert result.stderr == ""


def test_bad_file_exits_2_with_the_reason(tmp_path):
    bad = tmp_path / "junit.xml"
    bad.write_bytes(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    for args in ([str(bad)], [str(bad), "--json"]):
        result = run(*args)
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr.strip() == (
            f"error: {bad}: refused unsafe XML: it declares the entity 'e' "
            "(entity expansion and external entities are not allowed)"
        )


def test_missing_file_exits_2(tmp_path):
    result = run(str(tmp_path / "absent.xml"))
    assert result.returncode == 2
    assert "absent.xml: cannot be read" in result.stderr
