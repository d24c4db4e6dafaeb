from __future__ import annotations

import re
from pathlib import Path

import pytest

from sdk_campaigns.reporting import report
from sdk_campaigns.reporting.dashboard import FLAKY_RULE, render_dashboard_html
from sdk_campaigns.reporting.report import render_report

HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
DAY_1, DAY_2 = "2026-11-20T06:00:00+00:00", "2026-11-21T06:00:00+00:00"
RUN_1, RUN_2 = f"scheduled__{DAY_1}", f"scheduled__{DAY_2}"


def _hostile_partition() -> dict:
    return {
        "summary": {"sdk": "python", "status": "tests_failed", "reason": "1 of 1 tests failed", "counts": {}},
        "rows": [
            {"classname": "c", "name": HOSTILE, "status": "failed", "duration": 0.1, "message": "<b>x</b>"}
        ],
    }


def _history_entry(sdk: str, date: str, run_id: str, status: str, passed: int, failed: int) -> dict:
    return {
        "sdk": sdk,
        "logical_date": date,
        "status": status,
        "run_id": run_id,
        "passed": passed,
        "failed": failed,
        "error": 0,
        "skipped": 0,
        "total": passed + failed,
        "pass_rate": passed / (passed + failed),
    }


def _dashboard() -> dict:
    """Two runs of python (newly failing: a hostile test name) and of a hostile SDK name."""
    hostile_test = {"test_id": "t1", "classname": "c", "name": HOSTILE}
    return {
        "dag_id": "d",
        "pass_fail_history": [
            _history_entry("python", DAY_1, RUN_1, "passed", 2, 0),
            _history_entry("python", DAY_2, RUN_2, "tests_failed", 1, 1),
            _history_entry("<i>evil</i>", DAY_1, RUN_1, "passed", 1, 0),
            _history_entry("<i>evil</i>", DAY_2, RUN_2, "passed", 1, 0),
        ],
        "broken_since": {
            "python": {
                "status": "tests_failed",
                "latest": DAY_2,
                "broken_since": DAY_2,
                "failing_runs": 1,
                "last_passed": DAY_1,
            },
            "<i>evil</i>": {
                "status": "passed",
                "latest": DAY_2,
                "broken_since": None,
                "failing_runs": 0,
                "last_passed": DAY_2,
            },
        },
        "test_changes": {
            "python": {
                "logical_date": DAY_2,
                "previous_logical_date": DAY_1,
                "newly_failing": [{**hostile_test, "previous": "passed", "message": "<b>boom</b>"}],
                "newly_fixed": [],
            }
        },
        "flaky_tests": [
            {
                "sdk": "python",
                **hostile_test,
                "passes": 3,
                "failures": 1,
                "last_failed": DAY_1,
                "passes_since_last_failure": 1,
                "commits": ["sha256:<x>"],
            }
        ],
        "slowest_tests": {
            "python": [{**hostile_test, "logical_date": DAY_2, "outcome": "failed", "duration": 2.0}]
        },
        "duration_regressions": [
            {
                "sdk": "python",
                **hostile_test,
                "logical_date": DAY_2,
                "duration": 2.0,
                "median": 0.0,
                "samples": 3,
                "ratio": None,
            }
        ],
    }


def _summaries() -> list[dict]:
    """history.read_summaries of the two runs, as publish_run writes them (with a report)."""
    return [
        {
            "sdk": sdk,
            "logical_date": date,
            "run_id": run,
            "status": "passed",
            "report": f"/r/d/{run}/report.html",
        }
        for date, run in ((DAY_1, RUN_1), (DAY_2, RUN_2))
        for sdk in ("python", "<i>evil</i>")
    ]


def test_hostile_test_names_are_escaped():
    html = render_report(
        dag_id="d",
        run_id="r",
        logical_date="2026-11-21",
        partitions=[_hostile_partition()],
        validation={"summary": "ok"},
        history=[],
    )
    assert HOSTILE not in html
    assert ESCAPED in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_the_report_embeds_the_dashboard_with_links_between_reports():
    html = render_report(
        dag_id="d",
        run_id=RUN_2,
        logical_date=DAY_2,
        partitions=[_hostile_partition()],
        validation={"summary": "ok", "data_docs": "/r/d/run/data-docs/index.html"},
        history=_summaries(),
        dashboard=_dashboard(),
    )
    assert "<script" not in html and "<i>" not in html and "<b>" not in html
    assert html.count("class='sdk-health'") == 1
    assert html.count("class='heat-cell'") == 4 and html.count("class='trend-line'") == 2
    assert ESCAPED in html and "&lt;i&gt;evil&lt;/i&gt;" in html and "&lt;b&gt;boom&lt;/b&gt;" in html
    run_1_folder = report.run_folder(RUN_1)
    assert f"<a class='heat-link' href='../{run_1_folder}/report.html'>" in html
    # the newest python run's report and its python section (job log tail)
    run_2_report = f"../{report.run_folder(RUN_2)}/report.html"
    assert f"<a href='{run_2_report}'>run</a> · <a href='{run_2_report}#sdk-python'>logs</a>" in html
    assert f"<a href='{run_2_report}#sdk-%3Ci%3Eevil%3C%2Fi%3E'>logs</a>" in html
    # everything the report showed before is still there
    for kept in ("<h2>Per SDK</h2>", "<h2>History</h2>", "id='sdk-python'", "data-docs/index.html"):
        assert kept in html


def test_summaries_with_missing_values_render():
    partition = {
        "summary": {
            "sdk": "go",
            "status": "infrastructure_failed",
            "reason": None,
            "results_uri": None,
            "image_digest": None,
            "counts": {},
        },
        "rows": [{"classname": None, "name": "t", "status": "error", "duration": None, "message": None}],
    }
    html = render_report(
        dag_id="d", run_id="r", logical_date=DAY_1, partitions=[partition], validation={}, history=[]
    )
    assert "None" not in html and "<td>t</td>" in html


def test_dashboard_fragment_sections_and_rules():
    fragment = render_dashboard_html(_dashboard(), run_links={RUN_2: "https://airflow.example/runs/2"})
    assert fragment.startswith("<section class='sdk-health' data-dag-id='d'><style>")
    assert fragment.endswith("</section>")
    for heading in ("Now, and broken since", "Status by logical date", "Pass rate by logical date"):
        assert f"<h3>{heading}</h3>" in fragment
    for heading in ("Newly failing and fixed tests", "Flaky tests", "Duration regressions"):
        assert f"<h3>{heading}</h3>" in fragment
    assert FLAKY_RULE in fragment and "14 days" in FLAKY_RULE and "5 passes in a row" in FLAKY_RULE
    assert "<td>newly failing</td><td>passed</td>" in fragment
    assert "<td class='number'>∞</td>" in fragment  # a median of 0 s: infinite ratio
    assert "<code>sha256:&lt;x&gt;</code>" in fragment
    assert (
        fragment.count("href='https://airflow.example/runs/2'") == 2 + 2 + 1
    )  # 2 cells, 2 SDKs' state, 1 change
    assert "<script" not in fragment and "<i>" not in fragment


def test_dashboard_fragment_drops_unsafe_links():
    fragment = render_dashboard_html(
        _dashboard(),
        run_links={RUN_2: "javascript:alert(1)"},
        log_links={("python", RUN_2): "data:text/html,x", ("<i>evil</i>", RUN_2): "logs/evil.txt"},
    )
    assert "javascript:" not in fragment and "data:text" not in fragment
    assert "<a href='logs/evil.txt'>logs</a>" in fragment


def test_an_empty_dashboard_says_so():
    fragment = render_dashboard_html({"dag_id": "d", "pass_fail_history": []})
    assert "No runs in the history yet." in fragment and "No flaky tests." in fragment


def test_write_report_points_latest_into_the_run_folder(tmp_path):
    path = report.report_path(tmp_path, "d", RUN_2)
    html = "<!doctype html><html><head><meta charset='utf-8'></head><body><a href='data-docs/index.html'>"
    report.write_report(path, html)
    assert path.read_text() == html
    latest = (tmp_path / "d" / "latest.html").read_text()
    folder = report.run_folder(RUN_2)
    assert latest.startswith(f"<!doctype html><html><head><base href='{folder}/'><meta charset='utf-8'>")
    assert re.fullmatch(r"[A-Za-z0-9._-]+", folder)
    old = report.report_path(tmp_path, "d", RUN_1)
    report.write_report(old, html.replace("data-docs", "older"), update_latest=False)
    assert old.exists() and (tmp_path / "d" / "latest.html").read_text() == latest
    assert sorted(p.name for p in Path(tmp_path).rglob("*") if p.is_file()) == [
        "latest.html",
        "report.html",
        "report.html",
    ]


@pytest.mark.parametrize(("date", "newest"), [(DAY_2, True), (DAY_1, False), ("2026-11-22", True)])
def test_is_newest_run(date, newest):
    assert report.is_newest_run(_summaries(), date) is newest


def test_links_only_for_runs_with_a_report():
    summaries = [*_summaries(), {"sdk": "go", "logical_date": DAY_2, "run_id": "manual__x", "report": None}]
    assert report.run_report_links(summaries) == {
        RUN_1: f"{report.run_folder(RUN_1)}/report.html",
        RUN_2: f"{report.run_folder(RUN_2)}/report.html",
    }
    assert set(report.run_log_links(summaries, base="../")) == {
        (sdk, run) for sdk in ("python", "<i>evil</i>") for run in (RUN_1, RUN_2)
    }
