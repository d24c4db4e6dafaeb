"""Collect's memory is bounded by the case cap, not by what the job uploads: a 16 MiB JUnit file with
~800,000 test cases goes through collect (parse, rows, outcome.json) in a fresh process within 300 MB
of peak RSS, and comes out results_invalid naming the cap, without ever holding 800,000 rows. A file at
the default cap (200,000 cases) is kept whole, within the same bound."""

from __future__ import annotations

import json
import string
import subprocess
import sys
from pathlib import Path

import pytest

MAX_RSS_MB = 300
FILE_BYTES = 16 * 1024 * 1024
UNIT_TESTS = Path(__file__).resolve().parent

# Runs in its own process, which reports its peak RSS (VmHWM), imports included. Not ru_maxrss: Linux
# carries it over exec from the process that spawned it, and pytest's own can be over the bound already.
COLLECT = """
import json, sys
sys.path.insert(0, {unit_tests!r})
from pathlib import Path
from aws_stand_ins import FolderS3, OneJobBatch, PagedLogs
from sdk_campaigns.campaign import collect, outcomes
from sdk_campaigns.campaign.plan import SdkPlan
from sdk_campaigns.config import LimitSettings

s3, prefix, limits = FolderS3(Path({root!r})), "dag/run/attempt-1/python/", LimitSettings()
outcome = collect.collect_outcome(
    batch=OneJobBatch(), logs=PagedLogs(["ran"] * 5_000), s3=s3, sdk="python", job_queue="q", job_name="j",
    bucket="bucket", prefix=prefix, image="image", digest="sha256:" + "0" * 64,
    run_id="scheduled__2026-11-21T06:00:00+00:00", logical_date="2026-11-21T06:00:00+00:00", limits=limits,
)
plan = SdkPlan(sdk="python", ref="main", repo_url="", image_folder="python", repository="r",
               job_definition="d", job_name="j", results_prefix=prefix, environment={{}})
outcomes.write_outcome(s3, "bucket", plan, {{**outcome.to_dict(), "ref": "main", "metrics": {{}}}}, limits)
peak_kib = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:")).split()[1]
print(json.dumps({{
    "status": outcome.status, "reason": outcome.reason, "rows": len(outcome.rows),
    "peak_rss_mb": int(peak_kib) / 1024,
}}))
"""


def write_junit(path: Path, max_bytes: int) -> int:
    """As many `<testcase name="xy"/>` as fit in `max_bytes` (21 bytes each); returns how many."""
    names = [
        a + b for a in string.ascii_letters + string.digits for b in string.ascii_letters + string.digits
    ]
    head, tail = b'<testsuite name="suite">', b"</testsuite>"
    cases = (max_bytes - len(head) - len(tail)) // 21
    path.parent.mkdir(parents=True)
    with open(path, "wb") as out:
        out.write(head)
        for start in range(0, cases, 10_000):
            chunk = range(start, min(start + 10_000, cases))
            out.write("".join(f'<testcase name="{names[n % len(names)]}"/>' for n in chunk).encode())
        out.write(tail)
    return cases


def collect_in_a_fresh_process(root: Path) -> dict:
    script = COLLECT.format(unit_tests=str(UNIT_TESTS), root=str(root))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("file_bytes", "status"),
    [(FILE_BYTES, "results_invalid"), (200_000 * 21 + 36, "passed")],
    ids=["800k-cases-over-the-cap", "200k-cases-at-the-cap"],
)
def test_collect_memory_is_bounded_by_the_case_cap(tmp_path, file_bytes, status):
    junit = tmp_path / "s3" / "bucket" / "dag/run/attempt-1/python/results/junit.xml"
    cases = write_junit(junit, file_bytes)

    result = collect_in_a_fresh_process(tmp_path / "s3")

    print(f"{cases:,} cases in {junit.stat().st_size:,} bytes: peak RSS {result['peak_rss_mb']:.0f} MB")
    assert result["status"] == status
    assert result["peak_rss_mb"] < MAX_RSS_MB
    if status == "results_invalid":
        assert cases > 790_000 and junit.stat().st_size <= FILE_BYTES
        assert result["reason"] == f"{cases:,} test cases is over limits.max_cases_per_sdk (200,000)"
        assert result["rows"] == 0
    else:
        assert result["rows"] == cases == 200_000
