"""`sdk-campaigns history`, run as the installed console script over a scripted history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from test_analytics import DAG, SCRIPT, day, write_scripted_history

CLI = Path(sys.executable).with_name("sdk-campaigns")
CONFIGURED = ("python", "go", "rust", "java", "ruby")  # ruby: configured, no history yet


def _config(tmp_path: Path, history_uri: Path) -> Path:
    config = {
        "campaign": {"dag_id": DAG, "results_bucket": "results-bucket", "history_uri": str(history_uri)},
        "sdks": {sdk: {"image": sdk, "test_command": ["make", "test"]} for sdk in CONFIGURED},
    }
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    """The four-week scripted history, its newest day 12 hours ago (so day 26 is 2.5 days ago)."""
    folder = tmp_path_factory.mktemp("cli")
    first = datetime.now(UTC).replace(microsecond=0) - timedelta(days=27, hours=12)
    write_scripted_history(str(folder / "history"), first)
    return _config(folder, folder / "history"), first


def run(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SDK_CAMPAIGNS_CONFIG": str(config)}
    return subprocess.run([str(CLI), "history", *args], capture_output=True, text=True, timeout=60, env=env)


def test_json_history_of_one_sdk(scripted):
    config, first = scripted
    result = run(config, "--sdk", "python", "--days", "3", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["dag_id"], document["sdk"], document["days"]) == (DAG, "python", 3)
    assert [(r["logical_date"], r["status"]) for r in document["runs"]] == [
        (day(n, first), "tests_failed") for n in (26, 27, 28)
    ]
    newest = document["runs"][-1]
    assert (newest["passed"], newest["failed"], newest["skipped"], newest["pass_rate"]) == (7, 2, 1, 0.777778)
    assert document["broken_since"] == {
        "python": {
            "status": "tests_failed",
            "latest": day(28, first),
            "broken_since": day(22, first),
            "failing_runs": 7,
            "last_passed": day(21, first),
            "first_failing_commit": "sha256:py2",
            "last_passed_commit": "sha256:py1",
            "compare_url": None,
            "repo_url": None,
        }
    }
    assert (newest["commit"], newest["commit_kind"], newest["repo_url"], newest["lane"]) == (
        "sha256:py2",
        "image_source",
        None,
        "official",
    )


def test_human_table_of_every_sdk(scripted):
    config, first = scripted
    result = run(config, "--days", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{DAG} history in the last 3 days")
    assert lines[1].split()[:4] == ["SDK", "logical", "date", "status"]
    table = [line.split() for line in lines[3 : 3 + 3 * len(SCRIPT)]]
    assert [(row[0], row[1]) for row in table] == [
        (sdk, day(n, first)) for sdk in sorted(SCRIPT) for n in (26, 27, 28)
    ]
    rust_28 = ["rust", day(28, first), "infrastructure_failed", "0", "0", "0", "0", "–", "sha256:rs1"]
    assert table[-1] == rust_28
    python_28 = table[-4]
    assert python_28 == ["python", day(28, first), "tests_failed", "7", "2", "0", "1", "77.8%", "sha256:py2"]
    tail = lines[3 + 3 * len(SCRIPT) :]
    assert tail[:2] == ["", "broken since:"]
    broken = {line.split()[0]: line.split(maxsplit=1)[1] for line in tail[2:] if " commit " not in line}
    commits = [line.split(maxsplit=1) for line in tail[2:] if " commit " in line]
    # the image's own suite: its content tags are the commits (on no forge, so no compare link)
    assert commits == [
        ["python", "last passing commit sha256:py1, first failing commit sha256:py2"],
        ["rust", "last passing commit sha256:rs1, first failing commit sha256:rs1"],
    ]
    assert broken == {
        "go": f"not broken (last passed {day(28, first)})",
        "java": f"not broken (last passed {day(28, first)})",
        "python": f"broken since {day(22, first)} (7 failing runs; latest tests_failed on {day(28, first)})",
        "rust": f"broken since {day(25, first)} (4 failing runs; "
        f"latest infrastructure_failed on {day(28, first)})",
    }
    assert result.stderr == ""


def test_whole_history_without_days(scripted):
    config, _ = scripted
    result = run(config, "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["runs"]) == 28 * len(SCRIPT)


def test_unknown_sdk_exits_2_naming_the_known_ones(scripted):
    config, _ = scripted
    result = run(config, "--sdk", "cobol")
    assert result.returncode == 2
    assert "unknown SDK 'cobol'" in result.stderr
    assert "known SDKs: go, java, python, ruby, rust" in result.stderr
    assert result.stdout == ""


def test_a_configured_sdk_without_history_is_not_an_error(scripted):
    config, _ = scripted
    result = run(config, "--sdk", "ruby")
    assert result.returncode == 0, result.stderr
    assert "no runs recorded for ruby" in result.stdout


def test_bad_days_and_an_empty_history(tmp_path):
    config = _config(tmp_path, tmp_path / "empty")
    result = run(config, "--days", "0")
    assert result.returncode == 2 and "whole number of days" in result.stderr
    result = run(config, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["runs"] == []


def run_test_history(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SDK_CAMPAIGNS_CONFIG": str(config)}
    return subprocess.run(
        [str(CLI), "test-history", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_one_tests_history_by_id_or_by_name(scripted):
    config, first = scripted
    by_name = run_test_history(config, "python", "tests.test_client.test_flaky", "--json")
    assert by_name.returncode == 0, by_name.stderr
    document = json.loads(by_name.stdout)
    assert (document["sdk"], document["lane"]) == ("python", "official")
    runs = document["runs"]
    assert [r["logical_date"] for r in runs] == [day(n, first) for n in range(1, 29)]
    failed = [(r["logical_date"], r["commit"]) for r in runs if r["outcome"] == "failed"]
    assert failed == [(day(22, first), "sha256:py2"), (day(24, first), "sha256:py2")]
    by_id = run_test_history(config, "python", document["test_id"], "--json")
    assert json.loads(by_id.stdout) == document
    table = run_test_history(config, "python", "test_flaky")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == f"python tests.test_client.test_flaky (test id {document['test_id']}), 28 runs"
    assert lines[3 + 21].split() == [
        day(22, first),
        "failed",
        "0.10",
        "s",
        "sha256:py2",
        "assertion",
        "failed",
    ]


def test_an_unknown_test_exits_2(scripted):
    config, _ = scripted
    result = run_test_history(config, "python", "no_such_test")
    assert result.returncode == 2 and "no official run of 'python' has a test 'no_such_test'" in result.stderr
