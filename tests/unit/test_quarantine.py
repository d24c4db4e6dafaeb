"""Quarantine: which tests an entry names, when it ends, what it does to an SDK's outcome and the verdict,
the page's changes replayed over the config, and "ready to release" from the history's rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from sdk_campaigns import history
from sdk_campaigns.campaign import collect, quarantine
from sdk_campaigns.campaign import verdict as verdicts
from sdk_campaigns.campaign.plan import RunPlan
from sdk_campaigns.campaign.test_patterns import matches, row_matches
from sdk_campaigns.config import CampaignConfig, ConfigError, parse_config

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
DAG = "sdk_test_campaign"


def _config(tmp_path, tests=(), **settings) -> CampaignConfig:
    return CampaignConfig.model_validate(
        {
            "campaign": {"results_bucket": "bucket", "history_uri": str(tmp_path / "history")},
            "quarantine": {"tests": list(tests), **settings},
            "sdks": {"python": {"image": "python", "test_command": ["pytest"]}},
        }
    )


def _row(sdk: str, classname: str, name: str, status: str) -> dict:
    return {
        "run_id": "r",
        "logical_date": "2026-11-21T06:00:00+00:00",
        "sdk": sdk,
        "suite": "s",
        "classname": classname,
        "name": name,
        "test_id": collect.test_id(sdk, classname, name),
        "status": status,
        "duration": 0.1,
        "message": "boom" if status == "failed" else "",
        "image_digest": "sha256:x",
    }


def _entry(sdk="python", test="suite.test_s3.test_list_buckets", expires="2026-11-30", **more) -> dict:
    return {
        "sdk": sdk,
        "test": test,
        "reason": "flaky on moto",
        "owner": "@storage",
        "expires": expires,
        **more,
    }


def _outcome(rows: list[dict], sdk: str = "python") -> dict:
    failing = sum(r["status"] in ("failed", "error") for r in rows)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("passed", "failed", "error", "skipped")}
    return {
        "sdk": sdk,
        "status": "tests_failed" if failing else "passed",
        "reason": f"{failing} of {len(rows)} tests failed" if failing else f"all {len(rows)} tests passed",
        "counts": {**counts, "total": len(rows)},
        "rows": rows,
        "job_status": "SUCCEEDED",
    }


# --- matching ------------------------------------------------------------------------------------------


def test_a_name_matches_itself_even_with_glob_characters():
    assert matches("suite.test_x[param-1]", name="suite.test_x[param-1]")
    assert matches("suite.test_s3.*", name="suite.test_s3.test_list_buckets")
    assert not matches("suite.test_s3.*", name="suite.test_sqs.test_send")
    assert matches("0123456789abcdef", name="anything", test_id="0123456789abcdef")
    assert not matches("Suite.*", name="suite.test")  # case-sensitive


def test_an_entry_names_rows_by_sdk_and_test():
    row = _row("go", "pkg", "TestListBuckets", "failed")
    assert row_matches("go", "pkg.TestListBuckets", row)
    assert row_matches("*", "*ListBuckets", row)
    assert not row_matches("python", "pkg.TestListBuckets", row)
    assert row_matches("go", row["test_id"], row)


# --- expiry and the page's changes ------------------------------------------------------------------------


def test_an_entry_is_in_force_through_its_expiry_day_and_ends_by_itself():
    entry = _entry(expires="2026-11-21")
    assert quarantine.entries_in_force([entry], NOW) == [entry]
    assert quarantine.entries_in_force([entry], NOW + timedelta(days=1)) == []


def test_config_entries_are_checked_with_the_key_named():
    with pytest.raises(ConfigError, match=r"quarantine\.tests\.0\.expires"):
        parse_config(
            "campaign: {results_bucket: bucket}\nsdks: {python: {image: python, test_command: [pytest]}}\n"
            "quarantine: {tests: [{sdk: python, test: t, reason: r, owner: o, expires: soon}]}\n",
            "campaign.yaml",
        )
    with pytest.raises(ConfigError, match="unknown key 'quarantine.tests.0.why'.*expires"):
        parse_config(
            "campaign: {results_bucket: bucket}\nsdks: {python: {image: python, test_command: [pytest]}}\n"
            "quarantine: {tests: [{sdk: python, test: t, reason: r, owner: o, expires: 2026-12-01,"
            " why: x}]}\n",
            "campaign.yaml",
        )


def test_page_changes_are_audited_and_replayed_over_the_config(tmp_path):
    config = _config(tmp_path, [_entry(test="a.config_one"), _entry(test="a.config_two")])
    uri = config.history_uri()
    add = quarantine.record_change(
        uri, DAG, action="add", entry=_entry(test="a.page_one"), why="flaky on moto", by="alice", now=NOW
    )
    quarantine.record_change(
        uri,
        DAG,
        action="add",
        entry=_entry(test="a.config_two", owner="@bob"),
        why="mine now",
        by="bob",
        now=NOW + timedelta(microseconds=1),
    )
    removal = {"sdk": "python", "test": "a.config_one"}
    later = NOW + timedelta(seconds=1)  # changes replay in time order
    quarantine.record_change(
        uri, DAG, action="remove", entry=removal, why="fixed in #12", by="carol", now=later
    )
    log = quarantine.audit_log(uri, DAG)
    assert [(c["by"], c["action"], c["why"]) for c in log] == [
        ("alice", "add", "flaky on moto"),
        ("bob", "add", "mine now"),
        ("carol", "remove", "fixed in #12"),
    ]
    assert log[0] == add and log[0]["at"] == NOW.isoformat()
    entries = quarantine.current_entries(config, uri)
    assert [(e["test"], e["owner"], e["source"]) for e in entries] == [
        ("a.config_two", "@bob", "page"),
        ("a.page_one", "@storage", "page"),
    ]
    # The audit log is append-only: each change is its own document, none rewritten.
    folder = tmp_path / "history" / DAG / "_quarantine"
    assert len(list(folder.glob("*.json"))) == 3


def test_a_change_needs_a_reason_a_user_and_a_sane_expiry(tmp_path):
    uri = str(tmp_path / "history")
    with pytest.raises(quarantine.QuarantineError, match="say why"):
        quarantine.record_change(uri, DAG, action="remove", entry=_entry(), why="  ", by="alice", now=NOW)
    with pytest.raises(quarantine.QuarantineError, match="in the past"):
        quarantine.record_change(
            uri, DAG, action="add", entry=_entry(expires="2026-11-20"), why="x", by="a", now=NOW
        )
    with pytest.raises(quarantine.QuarantineError, match=r"max_days \(30\).*2026-12-21"):
        quarantine.record_change(
            uri, DAG, action="add", entry=_entry(expires="2027-06-01"), why="x", by="a", max_days=30, now=NOW
        )
    with pytest.raises(quarantine.QuarantineError, match="sdk"):
        quarantine.record_change(uri, DAG, action="add", entry=_entry(sdk="../x"), why="x", by="a", now=NOW)
    assert quarantine.audit_log(uri, DAG) == []


def test_a_document_that_is_not_a_change_is_ignored(tmp_path):
    uri = str(tmp_path / "history")
    folder = tmp_path / "history" / DAG / "_quarantine"
    folder.mkdir(parents=True)
    (folder / "20261121T000000000000Z-deadbeef.json").write_text('{"action": "add", "entry": {"sdk": "*"}}')
    assert quarantine.audit_log(uri, DAG) == []


# --- what it does to a run --------------------------------------------------------------------------------


def test_only_quarantined_failures_leave_the_sdk_passed_with_honest_counts():
    rows = [
        _row("python", "suite.test_s3", "test_list_buckets", "failed"),
        _row("python", "suite.test_s3", "test_put", "passed"),
        _row("python", "suite.test_s3", "test_get", "skipped"),
    ]
    outcome = _outcome(rows)
    judged = quarantine.apply(outcome, [_entry()])
    assert judged["status"] == "passed"
    counted = {"passed": 1, "failed": 0, "error": 0, "skipped": 1, "total": 2}
    assert judged["counts"] == {**counted, "quarantined": 1, "quarantined_failed": 1}
    assert "1 quarantined test not counted (1 failed)" in judged["reason"]
    assert [r["quarantined"] for r in judged["rows"]] == [True, False, False]
    assert outcome["status"] == "tests_failed" and "quarantined" not in outcome["rows"][0]  # not mutated


def test_other_failures_still_count():
    rows = [
        _row("python", "suite.test_s3", "test_list_buckets", "failed"),
        _row("python", "suite.test_s3", "test_put", "error"),
    ]
    judged = quarantine.apply(_outcome(rows), [_entry()])
    assert judged["status"] == "tests_failed"
    assert judged["reason"].startswith("1 of 1 counted tests failed")


def test_an_entry_for_another_sdk_changes_nothing():
    outcome = _outcome([_row("go", "suite.test_s3", "test_list_buckets", "failed")], sdk="go")
    judged = quarantine.apply(outcome, [_entry(sdk="python")])
    assert judged["status"] == "tests_failed" and judged["counts"] == outcome["counts"]
    assert judged["rows"][0]["quarantined"] is False


@pytest.mark.parametrize("policy", ["tests", "infrastructure"])
def test_a_failing_quarantined_test_leaves_the_verdict_passed(policy):
    run = RunPlan(
        dag_id=DAG,
        run_id="r",
        logical_date="2026-11-21T06:00:00+00:00",
        attempt=1,
        failure_policy=policy,
        validation_policy="warn",
        sdks=(),
    )
    failing = _outcome([_row("python", "suite.test_s3", "test_list_buckets", "failed")])
    assert verdicts.failures(run, [failing], {"success": True}) == (
        ["python: tests_failed (1 of 1 tests failed)"] if policy == "tests" else []
    )
    judged = quarantine.apply_to_run([failing], [_entry()])
    assert verdicts.failures(run, judged, {"success": True}) == []
    verdicts.decide(run, judged, {"success": True})  # raises CampaignFailed if the run fails


def test_findings_of_quarantined_tests_alert_nobody():
    judged = quarantine.apply_to_run(
        [_outcome([_row("python", "suite.test_s3", "test_list_buckets", "failed")])], [_entry()]
    )
    held = quarantine.quarantined_tests(judged)
    other = {"sdk": "python", "test_id": "other"}
    findings = {
        "regressions": [{"sdk": "python", "test_id": judged[0]["rows"][0]["test_id"]}, other],
        "new_flaky": [],
        "fixed": [],
        "broken": [],
    }
    assert quarantine.without_quarantined(findings, held)["regressions"] == [other]


# --- ready to release ---------------------------------------------------------------------------------


def _write_runs(uri: str, outcomes: list[str], name: str = "test_list_buckets") -> None:
    start = datetime(2026, 11, 1, 6, tzinfo=UTC)
    for day, status in enumerate(outcomes):
        logical_date = (start + timedelta(days=day)).isoformat()
        run = {"logical_date": logical_date, "run_id": f"r{day}"}
        rows = [
            {**_row("python", "suite.test_s3", name, status), **run},
            {**_row("python", "suite.test_s3", "test_put", "passed"), **run},
        ]
        summary = {
            "dag_id": DAG,
            "logical_date": logical_date,
            "sdk": "python",
            "run_id": f"r{day}",
            "status": "passed",
        }
        history.write_partition(uri, summary, rows, sync=False)


@pytest.mark.parametrize(
    ("outcomes", "streak", "ready"),
    [
        (["failed", "passed", "passed", "passed", "passed", "passed"], 5, True),
        (["passed"] * 6 + ["failed", "passed", "passed", "passed", "passed"], 4, False),
        (["failed", "passed", "passed", "skipped", "passed", "skipped", "passed", "passed"], 5, True),
        (["passed", "passed", "passed", "passed", "passed", "failed"], 0, False),
    ],
)
def test_ready_to_release_after_n_passes_in_a_row(tmp_path, outcomes, streak, ready):
    uri = str(tmp_path / "history")
    _write_runs(uri, outcomes)
    (status,) = quarantine.release_status(uri, DAG, [_entry()], ready_after=5)
    assert status["tests"] == [
        {"test": "[python] suite.test_s3.test_list_buckets", "passes_in_a_row": streak, "last": outcomes[-1]}
    ]
    assert status["ready"] is ready


def test_an_entry_that_matches_no_test_is_not_ready(tmp_path):
    uri = str(tmp_path / "history")
    _write_runs(uri, ["passed"] * 6)
    (status,) = quarantine.release_status(uri, DAG, [_entry(test="suite.nothing.*")], ready_after=5)
    assert status["tests"] == [] and status["ready"] is False


def test_quarantined_rows_are_marked_in_the_history(tmp_path):
    uri = str(tmp_path / "history")
    judged = quarantine.apply(
        _outcome([_row("python", "suite.test_s3", "test_list_buckets", "failed")]), [_entry()]
    )
    summary = {
        "dag_id": DAG,
        "logical_date": "2026-11-21T06:00:00+00:00",
        "sdk": "python",
        "status": "passed",
    }
    history.write_partition(uri, {**summary, "counts": judged["counts"]}, judged["rows"], sync=False)
    (partition,) = history.read_run(uri, DAG, summary["logical_date"])
    assert partition["rows"][0]["quarantined"] is True
    assert partition["summary"]["counts"]["quarantined_failed"] == 1


def test_the_config_default_is_five_passes():
    assert CampaignConfig.model_fields["quarantine"].default.ready_after_passes == 5
    assert date.fromisoformat(_entry()["expires"])
