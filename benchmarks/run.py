"""Run every benchmark in this folder (make benchmark). Each prints its own figures."""

import subprocess
import sys
from pathlib import Path

BENCHMARKS = ["image_step.py", "results_pipeline.py", "history_queries.py", "orchestration.py"]

if __name__ == "__main__":
    failed = 0
    for name in BENCHMARKS:
        print(f"=== {name}", flush=True)
        failed += subprocess.run([sys.executable, str(Path(__file__).with_name(name))]).returncode != 0
    sys.exit(1 if failed else 0)
