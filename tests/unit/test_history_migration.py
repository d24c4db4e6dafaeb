"""Schema version 3 over a history written by version 2 (tests/fixtures/history-v2, written by that
code): it reads with explicit "unknown" commits in the official lane, and `history migrate` rewrites
it idempotently, moving the one run whose ref was not the configured one to the ad hoc lane."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from sdk_campaigns import history
from sdk_campaigns.history import analytics, migration

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "history-v2"
DAG = "sdk_test_campaign"
FEATURE_RUN = "2026-11-03T12:00:00+00:00"
REFS = {"python": "main", "go": "main"}


@pytest.fixture
def v2_history(tmp_path) -> str:
    shutil.copytree(FIXTURE, tmp_path / "history")
    return str(tmp_path / "history")


def _versions(uri: str) -> set[int]:
    return {
        int(pq.read_schema(path).metadata[history.VERSION_KEY])
        for path in Path(uri).rglob("summary-*.parquet")
    }


def test_the_fixture_is_version_2():
    assert _versions(str(FIXTURE)) == {2}


def test_a_version_2_history_reads_with_unknown_commits_in_the_official_lane(v2_history):
    summaries = history.read_summaries(v2_history, DAG)
    assert len(summaries) == 6
    for summary in summaries:
        assert (summary["commit"], summary["commit_kind"], summary["repo_url"]) == (
            "unknown",
            "unknown",
            None,
        )
        assert (summary["lane"], summary["overrides"]) == ("official", "{}")
    python_2 = next(
        s for s in summaries if s["sdk"] == "python" and s["logical_date"].startswith("2026-11-02")
    )
    assert (python_2["status"], python_2["counts"]["failed"], python_2["ref"]) == ("tests_failed", 1, "main")
    assert history.read_summaries(v2_history, DAG, lane="adhoc") == []
    # the analytics answer as before; no commit is guessed, so none is named and nothing is flaky
    board = analytics.dashboard(v2_history, DAG)
    assert board["broken_since"]["go"]["broken_since"] == "2026-11-02T06:00:00+00:00"
    assert board["broken_since"]["go"]["first_failing_commit"] is None
    assert board["flaky_tests"] == []
    assert [r["commit"] for r in board["pass_fail_history"]] == ["unknown"] * 6


def test_migrate_rewrites_version_2_and_moves_the_overridden_run_to_the_adhoc_lane(v2_history):
    before = {(s["sdk"], s["logical_date"]): s for s in history.read_summaries(v2_history, DAG)}
    rows_before = history.read_run(v2_history, DAG, FEATURE_RUN)[0]["rows"]

    planned = migration.migrate(v2_history, DAG, configured_refs=REFS, dry_run=True)
    assert len(planned) == 6 and _versions(v2_history) == {2}
    assert [m.partition for m in planned if m.moved] == ["2026-11-03T120000Z/python"]

    done = migration.migrate(v2_history, DAG, configured_refs=REFS)
    assert done == planned
    assert _versions(v2_history) == {history.SCHEMA_VERSION}
    official = history.read_summaries(v2_history, DAG)
    assert len(official) == 5 and FEATURE_RUN not in {s["logical_date"] for s in official}
    (moved,) = history.read_summaries(v2_history, DAG, lane="adhoc")
    assert (moved["lane"], json.loads(moved["overrides"]), moved["commit"]) == (
        "adhoc",
        {"ref": "feature-x"},
        "unknown",
    )
    assert history.read_run(v2_history, DAG, FEATURE_RUN, lane="adhoc")[0]["rows"] == rows_before
    for summary in official:
        old = before[(summary["sdk"], summary["logical_date"])]
        keep = ("run_id", "status", "reason", "ref", "counts", "image_digest", "job_id", "commit", "lane")
        assert {k: summary[k] for k in keep} == {k: old[k] for k in keep}

    assert migration.migrate(v2_history, DAG, configured_refs=REFS) == []  # idempotent


def test_migrate_command(v2_history, tmp_path):
    config = {
        "campaign": {
            "dag_id": DAG,
            "results_bucket": "results-bucket",
            "history_uri": v2_history,
            "default_ref": "main",
        },
        "sdks": {sdk: {"image": sdk, "test_command": ["make"]} for sdk in REFS},
    }
    (tmp_path / "campaign.yaml").write_text(yaml.safe_dump(config))
    cli = Path(sys.executable).with_name("sdk-campaigns")
    env = {**os.environ, "SDK_CAMPAIGNS_CONFIG": str(tmp_path / "campaign.yaml")}

    def run(*args):
        return subprocess.run(
            [str(cli), "history", *args], capture_output=True, text=True, env=env, timeout=60
        )

    first = run("migrate")
    assert first.returncode == 0, first.stderr
    assert "migrated 6 partitions" in first.stdout and "moved to the ad hoc lane" in first.stdout
    assert "migrated 0 partitions" in run("migrate").stdout
    shown = json.loads(run("--json").stdout)
    assert len(shown["runs"]) == 5 and {r["commit"] for r in shown["runs"]} == {"unknown"}
    adhoc = json.loads(run("--json", "--lane", "adhoc").stdout)
    assert [(r["sdk"], r["lane"]) for r in adhoc["runs"]] == [("python", "adhoc")]
