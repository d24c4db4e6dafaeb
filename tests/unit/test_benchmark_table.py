"""benchmarks/run.py's table, from the `BENCHMARK {json}` lines the benchmarks end with."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import harness  # noqa: E402
import run  # noqa: E402


def test_the_last_benchmark_line_is_the_one_read(capsys):
    harness.emit("first", {"seconds": 9.0}, "< 1 s", False)
    harness.emit("P1 orchestration", {"overhead_seconds": 12.5, "sdks": 8}, "overhead < 15 s", True)
    output = "some output\n" + capsys.readouterr().out + "trailing line\n"
    found = harness.parse_benchmark_line(output)
    assert found == {
        "benchmark": "P1 orchestration",
        "figures": {"overhead_seconds": 12.5, "sdks": 8},
        "target": "overhead < 15 s",
        "met": True,
    }
    assert harness.parse_benchmark_line("no line here\n") is None


def test_the_table_shows_each_benchmark_its_figures_target_and_verdict():
    table = run.table(
        [
            {
                "benchmark": "P1 orchestration",
                "figures": {"overhead_seconds": 12.5},
                "target": "< 15 s",
                "met": True,
            },
            {
                "benchmark": "P3 results",
                "figures": {"ratio": 1.72, "nested": {"a": 1}},
                "target": "<= 1.0",
                "met": False,
            },
        ]
    )
    lines = table.splitlines()
    assert lines[0].split() == ["benchmark", "met", "figures", "target"]
    assert (
        "P1 orchestration  yes" in lines[2]
        and "overhead_seconds=12.5" in lines[2]
        and lines[2].endswith("< 15 s")
    )
    assert "NO" in lines[3] and "ratio=1.72" in lines[3] and "nested" not in lines[3]


def test_unknown_benchmarks_are_refused_with_the_known_ones(capsys):
    assert run.main(["nonesuch"]) == 2
    assert "unknown benchmark(s) nonesuch.py; known: results_pipeline.py" in capsys.readouterr().err


@pytest.mark.parametrize("name", run.BENCHMARKS)
def test_every_listed_benchmark_exists_and_emits_its_line(name):
    source = (Path(run.__file__).with_name(name)).read_text()
    assert "harness.emit(" in source
