"""The SVG heatmap and trend charts over the scripted four-week history of test_analytics
(python, go, rust, java; 28 days), and over hostile names and links."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from test_analytics import DAG, DAYS, SCRIPT, day, write_scripted_history

from sdk_campaigns.history import analytics
from sdk_campaigns.reporting import charts

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> list[dict]:
    uri = str(tmp_path_factory.mktemp("history"))
    write_scripted_history(uri)
    return analytics.dashboard(uri, DAG)["pass_fail_history"]


def _svg(markup: str) -> ET.Element:
    """Our SVG parses as XML as it stands (so it is well formed wherever it is embedded)."""
    return ET.fromstring(markup)


def _cells(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}rect") if e.get("class") == "heat-cell"]


def test_heatmap_has_one_cell_per_sdk_and_date_coloured_by_status(history):
    root = _svg(charts.heatmap_svg(history))
    cells = _cells(root)
    assert len(cells) == len(SCRIPT) * DAYS == 112
    assert (root.get("data-sdks"), root.get("data-dates")) == ("4", "28")
    by_key = {(c.get("data-sdk"), c.get("data-date")): c for c in cells}
    python_28 = by_key[("python", day(28))]
    assert python_28.get("data-status") == "tests_failed"
    assert python_28.get("fill") == charts.STATUS_COLOUR["tests_failed"]
    assert python_28.find(f"{SVG}title").text == f"python · {day(28)}: tests failed, 7 of 9 passed (77.8%)"
    go_10 = by_key[("go", day(10))]
    assert go_10.get("data-status") == "infrastructure_failed"
    assert go_10.find(f"{SVG}title").text == f"go · {day(10)}: infrastructure failed"
    assert by_key[("rust", day(26))].get("data-status") == "results_invalid"
    # python fails on 22-28; go on 16, 26, 27 and has no results on 10; rust from 25
    assert Counter(c.get("data-status") for c in cells) == {
        "passed": 112 - 7 - 4 - 4,
        "tests_failed": 7 + 3 + 1,
        "infrastructure_failed": 1 + 2,
        "results_invalid": 1,
    }
    # rows in SDK order, columns oldest first
    assert [c.get("data-sdk") for c in cells[::DAYS]] == ["go", "java", "python", "rust"]
    assert [c.get("data-date") for c in cells[:DAYS]] == [day(n) for n in range(1, DAYS + 1)]


def test_heatmap_marks_dates_without_a_run(history):
    # ruby started on day 27: its first 26 dates are "no run" cells
    ruby = [
        {**e, "sdk": "ruby", "run_id": f"ruby-{e['logical_date']}"}
        for e in history
        if e["sdk"] == "java" and e["logical_date"] >= day(27)
    ]
    cells = _cells(_svg(charts.heatmap_svg(history + ruby)))
    assert len(cells) == 5 * DAYS
    missing = [c for c in cells if c.get("data-status") == charts.NO_RUN]
    assert len(missing) == 26 and {c.get("data-sdk") for c in missing} == {"ruby"}
    assert missing[0].find(f"{SVG}title").text == f"ruby · {day(1)}: no run"
    assert missing[0].get("fill") == charts.STATUS_COLOUR[charts.NO_RUN]


def test_heatmap_cells_link_to_the_runs_given(history):
    run_id = f"scheduled__{day(28)}"
    markup = charts.heatmap_svg(history, run_links={run_id: f"../{run_id}/report.html"})
    links = [a for a in _svg(markup).iter(f"{SVG}a") if a.get("class") == "heat-link"]
    assert len(links) == len(SCRIPT)  # every SDK ran on day 28
    assert {a.get("href") for a in links} == {f"../{run_id}/report.html"}
    assert {a.find(f"{SVG}rect").get("data-date") for a in links} == {day(28)}


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "\x01javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>x</script>",
        "vbscript:x",
    ],
)
def test_links_that_could_run_code_are_dropped(history, href):
    markup = charts.heatmap_svg(history, run_links={f"scheduled__{day(1)}": href})
    assert "heat-link" not in markup and "alert" not in markup


def test_trend_has_one_line_per_sdk_through_the_runs_with_a_pass_rate(history):
    root = _svg(charts.trend_svg(history))
    lines = {e.get("data-sdk"): e for e in root.iter(f"{SVG}polyline") if e.get("class") == "trend-line"}
    assert list(lines) == ["go", "java", "python", "rust"]
    points = {sdk: line.get("points").split() for sdk, line in lines.items()}
    # go's day 10 and rust's days 26-28 ran no test: no pass rate, no point
    assert {sdk: len(p) for sdk, p in points.items()} == {"go": 27, "java": 28, "python": 28, "rust": 25}
    # x: 44 + 640 px across the 28 dates; y: 10 + (1 - pass rate) * 200 px
    assert points["python"][0] == "44.0,10.0"
    assert points["python"][-1] == f"684.0,{10 + (1 - round(7 / 9, 6)) * 200:.1f}" == "684.0,54.4"
    assert points["rust"][-1] == f"{44 + 24 * 640 / 27:.1f},{10 + (1 - 2 / 3) * 200:.1f}"  # day 25: 2 of 3
    markers = [e for e in root.iter(f"{SVG}circle") if e.get("class") == "trend-point"]
    assert len(markers) == 27 + 28 + 28 + 25
    legend = [e.get("data-sdk") for e in root.iter(f"{SVG}g") if e.get("class") == "trend-legend"]
    assert legend == ["go", "java", "python", "rust"]
    axis = [e.text for e in root.iter(f"{SVG}text") if e.get("class") == "trend-date"]
    assert axis[0] == "2026-10-01" and len(axis) >= 5


def test_series_styles_are_distinct_for_many_sdks():
    styles = [charts.series_style(i) for i in range(30)]
    assert len(set(styles)) == 30


def test_hostile_sdk_names_and_dates_are_escaped():
    sdk = "<script>alert(1)</script>\"'&\x07"
    entry = {
        "sdk": sdk,
        "logical_date": "2026-10-01T06:00:00+00:00",
        "status": "<img src=x onerror=alert(2)>",
        "run_id": "r",
        "passed": 1,
        "failed": 0,
        "error": 0,
        "pass_rate": 1.0,
    }
    for markup in (charts.heatmap_svg([entry], run_links={"r": "a'b\"c<d>.html"}), charts.trend_svg([entry])):
        assert "<script" not in markup and "<img" not in markup and "\x07" not in markup
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;" in markup
        root = _svg(markup)  # still well formed: nothing broke out of an attribute
        assert {e.get("data-sdk") for e in root.iter() if e.get("data-sdk")} == {sdk.replace("\x07", "")}
    heat = _svg(charts.heatmap_svg([entry], run_links={"r": "a'b\"c<d>.html"}))
    assert next(e for e in heat.iter(f"{SVG}a")).get("href") == "a'b\"c<d>.html"
    assert _cells(heat)[0].get("fill") == charts.UNKNOWN_STATUS_COLOUR


def test_long_sdk_names_are_shortened_on_the_chart_but_complete_in_the_tooltip():
    sdk = "a-very-long-sdk-name-that-goes-on-and-on"
    entry = {"sdk": sdk, "logical_date": "2026-10-01", "status": "passed", "run_id": "r", "pass_rate": None}
    label = next(
        e for e in _svg(charts.heatmap_svg([entry])).iter(f"{SVG}text") if e.get("class") == "heat-sdk"
    )
    assert label.find(f"{SVG}title").text == sdk
    assert label.find(f"{SVG}title").tail == sdk[:23] + "…"


def test_empty_history_renders_empty_charts():
    assert _cells(_svg(charts.heatmap_svg([]))) == []
    assert list(_svg(charts.trend_svg([])).iter(f"{SVG}polyline")) == []
