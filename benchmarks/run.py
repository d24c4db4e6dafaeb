"""Run the benchmarks (make benchmark) and print one table of their `BENCHMARK {json}` lines.

Each benchmark runs in its own process, its output shown as it comes; its last `BENCHMARK` line
(harness.emit: name, figures, target, met) goes into the table at the end. A benchmark that ends
without one counts as failed. `python benchmarks/run.py results_pipeline orchestration` runs some.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import harness

# Cheapest first; cold_demo builds every image from nothing (minutes of both cores).
BENCHMARKS = [
    "results_pipeline.py",
    "history_queries.py",
    "image_step.py",
    "orchestration.py",
    "scale.py",
    "cold_demo.py",
]
HEADLINE_FIGURES = 4  # figures shown per benchmark in the table; all of them are in its line


def run_one(name: str) -> dict:
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name(name))],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    process.wait()
    found = harness.parse_benchmark_line("".join(lines))
    if found is None:
        return {"benchmark": name, "figures": {}, "target": "-", "met": False, "error": process.returncode}
    return found


def _figure(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def table(results: list[dict]) -> str:
    rows = [("benchmark", "met", "figures", "target")]
    for result in results:
        figures = list(result["figures"].items())[:HEADLINE_FIGURES]
        shown = ", ".join(f"{k}={_figure(v)}" for k, v in figures if not isinstance(v, dict))
        rows.append((result["benchmark"], "yes" if result["met"] else "NO", shown, result["target"]))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    chosen = [name if name.endswith(".py") else f"{name}.py" for name in argv] or BENCHMARKS
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    results = []
    for name in chosen:
        print(f"=== {name}", flush=True)
        results.append(run_one(name))
    print("\n" + table(results))
    return 0 if all(r["met"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
