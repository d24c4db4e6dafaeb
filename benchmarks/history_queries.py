"""A year of history, 10M test rows (8 SDKs x 365 days x 3,470 tests, less the runs that were
infrastructure failures): the dashboard's queries on the Parquet history with DuckDB, vs
pandas over the same data as CSV.

Target (DESIGN.md): the dashboard's queries answer in under 1 s.

- Generation: vectorised numpy/pyarrow, written through history.write_partition_table (the
  real layout, locks and atomic renames; fsync off), plus the same rows and summaries as CSV.
  A scripted mix: flaky tests (random failures on one commit), tests that break and get
  fixed, errors, skips, infrastructure failures, image digests (each the commit of the image's
  own suite) that change weekly, a few duration regressions on the last day, and SDKs broken at
  the end of the year.
- sdk-campaigns (a fresh process, fresh DuckDB connection): list the partitions + read the
  summaries (via the summary cache, as the publisher leaves it), then each query of
  analytics.HistoryAnalytics, as of the year's last day. The imports (paid once by a dashboard
  process) are timed apart;
  the files are in the page cache, having just been written ("cold-ish").
- The obvious alternative (a fresh process): pandas.read_csv (pyarrow engine, only the
  columns it needs, so a strong baseline) and the same questions in pandas.
Both answers are compared after rounding floats to 6 places; the run fails if they differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import harness

DAG = "sdk_test_campaign"
SDKS = ("python", "javascript", "java", "go", "rust", "ruby", "php", "cpp")
FIRST_DAY = datetime(2026, 1, 1, 6, tzinfo=UTC)
LAST_PASS_LOOKBACK_DAYS = 90  # analytics.LAST_PASS_LOOKBACK_DAYS
STATUS_NAMES = ["passed", "failed", "error", "skipped"]
FAILING = ("tests_failed", "infrastructure_failed", "results_invalid")
QUERIES = (
    "pass_fail_history",
    "broken_since",
    "flaky_tests",
    "test_changes",
    "slowest_tests",
    "duration_regressions",
)


def _peak_mb() -> float:
    # VmHWM is this process's own peak; ru_maxrss would include the parent's size at fork time.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- generation


def _sdk_script(k: int, sdk: str, days: int, tests: int):
    """Statuses (days x tests, codes into STATUS_NAMES), durations, digests, infra days of one SDK."""
    import numpy as np

    rng = np.random.default_rng(1000 + k)
    codes = np.zeros((days, tests), np.int8)
    skipped = rng.random(tests) < 0.02
    codes[:, skipped] = 3
    runnable = np.flatnonzero(~skipped)
    flaky = rng.choice(runnable, 8, replace=False)
    block = codes[:, flaky]
    block[rng.random((days, len(flaky))) < 0.05] = 1
    codes[:, flaky] = block
    for _ in range(4):  # tests that break for a while, then get fixed
        test = rng.choice(runnable)
        start = int(rng.integers(0, days))
        codes[start : start + int(rng.integers(1, 30)), test] = 1
    if k % 3 == 0:  # broken at the end of the year: one test fails on every run since day -6
        codes[days - 6 :, rng.choice(runnable)] = 1
    errors = (codes == 1) & (rng.random((days, tests)) < 0.2)
    codes[errors] = 2

    base = np.clip(rng.lognormal(-2.5, 1.3, tests), 0.001, 60)
    durations = np.round(base * rng.lognormal(0, 0.1, (days, tests)), 3)
    slow = rng.choice(runnable, 3, replace=False)
    durations[days - 1, slow] = np.round(durations[days - 1, slow] * 4 + 2, 3)
    durations[:, skipped] = 0.0

    infra = set(np.flatnonzero(rng.random(days) < 0.01).tolist())
    if k % 4 == 1:
        infra |= {days - 2, days - 1}  # infrastructure failures to end the year
    digests = [
        f"sha256:{hashlib.sha256(f'{sdk}:{week}'.encode()).hexdigest()}" for week in range(days // 7 + 1)
    ]
    return codes, durations, digests, infra


def generate(root: Path, days: int, tests: int) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from sdk_campaigns import history
    from sdk_campaigns.campaign.collect import test_id

    uri = str(root / "history")
    status_names = pa.array(STATUS_NAMES)
    messages = pa.array(["", "assert response.status == 200", "ConnectionResetError: peer reset", ""])
    csv_rows = pacsv.CSVWriter(str(root / "rows.csv"), history.ROWS_SCHEMA)
    summaries = []
    started = time.perf_counter()
    rows_written = 0
    for k, sdk in enumerate(SDKS):
        codes, durations, digests, infra = _sdk_script(k, sdk, days, tests)
        classnames = [f"{sdk}.module{i // 25:03d}" for i in range(tests)]
        names = [f"test_case_{i:05d}" for i in range(tests)]
        classname_array, name_array = pa.array(classnames), pa.array(names)
        id_array = pa.array([test_id(sdk, c, n) for c, n in zip(classnames, names, strict=True)])
        for day in range(days):
            logical_date = (FIRST_DAY + timedelta(days=day)).isoformat()
            run_id = f"scheduled__{logical_date}"
            digest = digests[day // 7]
            summary = {"dag_id": DAG, "logical_date": logical_date, "sdk": sdk, "run_id": run_id}
            summary.update(image_digest=digest, commit=digest, commit_kind="image_source")
            if day in infra:
                summary.update(status="infrastructure_failed", reason="the job timed out", counts={})
                table = history.ROWS_SCHEMA.empty_table()
            else:
                indices = pa.array(codes[day])
                table = pa.Table.from_arrays(
                    [
                        pa.repeat(run_id, tests),
                        pa.repeat(logical_date, tests),
                        pa.repeat(sdk, tests),
                        classname_array,
                        classname_array,
                        name_array,
                        id_array,
                        status_names.take(indices),
                        pa.array(durations[day]),
                        messages.take(indices),
                        pa.repeat(digest, tests),
                        pa.repeat(False, tests),  # quarantined: none (the queries read no quarantine)
                    ],
                    schema=history.ROWS_SCHEMA,
                )
                counts = np.bincount(codes[day], minlength=4)
                summary["counts"] = {name: int(n) for name, n in zip(STATUS_NAMES, counts, strict=True)}
                summary["counts"]["total"] = tests
                failed = int(counts[1] + counts[2])
                summary.update(
                    status="tests_failed" if failed else "passed", reason=f"{failed} of {tests} tests failed"
                )
                csv_rows.write_table(table)
                rows_written += tests
            history.write_partition_table(uri, summary, table, sync=False)
            summaries.append(
                {
                    "sdk": sdk,
                    "logical_date": logical_date,
                    "status": summary["status"],
                    "run_id": run_id,
                    "image_digest": digest,
                    "commit": digest,
                    "row_count": table.num_rows,
                }
            )
    csv_rows.close()
    pacsv.write_csv(pa.Table.from_pylist(summaries), str(root / "summaries.csv"))
    Path(root, "last_day.json").write_text(json.dumps(summaries[-1]["logical_date"]))
    generation = time.perf_counter() - started
    started = time.perf_counter()
    history.summaries_table(uri, DAG)  # what the publisher's own read leaves behind: a warm cache
    cache = time.perf_counter() - started
    parquet_bytes = sum(p.stat().st_size for p in (root / "history").rglob("*.parquet"))
    csv_bytes = sum((root / name).stat().st_size for name in ("rows.csv", "summaries.csv"))
    return {
        "rows": rows_written,
        "partitions": len(summaries),
        "generation_seconds": generation,
        "cache_build_seconds": cache,
        "parquet_mb": parquet_bytes / 1e6,
        "csv_mb": csv_bytes / 1e6,
        "peak_mb": _peak_mb(),
    }


# ---------------------------------------------------------------- sdk-campaigns: DuckDB over Parquet


def ours(root: Path) -> dict:
    started = time.perf_counter()
    import pyarrow as pa

    from sdk_campaigns.history import analytics

    pa.scalar(0)  # pyarrow imports pandas on its first Python conversion: a process pays it once
    import_seconds = time.perf_counter() - started
    timings, answers = {}, {}
    total = time.perf_counter()
    last_day = json.loads(Path(root, "last_day.json").read_text())
    started = time.perf_counter()
    board = analytics.HistoryAnalytics(str(root / "history"), DAG, as_of=last_day)
    timings["open: list partitions + summaries"] = time.perf_counter() - started
    calls = {
        "pass_fail_history": board.pass_fail_history,
        "broken_since": board.broken_since,
        "flaky_tests": board.flaky_tests,
        "test_changes": board.test_changes,
        "slowest_tests": board.slowest_tests,
        "duration_regressions": board.duration_regressions,
    }
    for name in QUERIES:
        started = time.perf_counter()
        answers[name] = calls[name]()
        timings[name] = time.perf_counter() - started
    board.close()
    return {
        "timings": timings,
        "total": time.perf_counter() - total,
        "import_seconds": import_seconds,
        "answers": answers,
        "peak_mb": _peak_mb(),
    }


# ---------------------------------------------------------------- the alternative: pandas over CSV


def _outcome(frame, keys):
    """One outcome per run and test: failed if any row failed/errored, else passed if any passed."""
    import numpy as np

    grouped = frame.assign(
        bad=frame["status"].isin(["failed", "error"]),
        good=frame["status"] == "passed",
        ran_duration=frame["duration"].where(frame["status"] != "skipped"),
        failure=frame["message"].where(frame["status"].isin(["failed", "error"])),
    ).groupby(keys, sort=False, dropna=False)
    result = grouped.agg(
        bad=("bad", "any"),
        good=("good", "any"),
        classname=("classname", "min"),
        name=("name", "min"),
        duration=("ran_duration", "max"),
        message=("failure", "min"),
    )
    result["outcome"] = np.where(result["bad"], "failed", np.where(result["good"], "passed", "skipped"))
    return result.drop(columns=["bad", "good"]).reset_index()


def pandas_answers(root: Path) -> dict:
    timings = {}
    total = time.perf_counter()
    started = time.perf_counter()
    import pandas as pd

    columns = ["sdk", "logical_date", "classname", "name", "test_id", "status", "duration", "message"]
    text = {c: "str" for c in columns if c != "duration"}
    rows = pd.read_csv(root / "rows.csv", engine="pyarrow", usecols=columns, dtype=text)
    summaries = pd.read_csv(
        root / "summaries.csv",
        engine="pyarrow",
        dtype={**text, "run_id": "str", "image_digest": "str", "commit": "str"},
    )
    summaries["t"] = pd.to_datetime(summaries["logical_date"], utc=True)
    timings["read CSV"] = time.perf_counter() - started
    as_of = summaries["t"].max()
    answers = {}

    started = time.perf_counter()
    counts = rows.groupby(["sdk", "logical_date", "status"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=STATUS_NAMES, fill_value=0).reset_index()
    daily = summaries.merge(counts, on=["sdk", "logical_date"], how="left").fillna(
        {s: 0 for s in STATUS_NAMES}
    )
    daily = daily.sort_values(["sdk", "t"])
    entries = []
    for r in daily.itertuples(index=False):
        ran = r.passed + r.failed + r.error
        entries.append(
            {
                "sdk": r.sdk,
                "logical_date": r.logical_date,
                "status": r.status,
                "run_id": r.run_id,
                "commit": r.commit,
                "commit_kind": "image_source",
                "repo_url": None,
                "lane": "official",
                "passed": int(r.passed),
                "failed": int(r.failed),
                "error": int(r.error),
                "skipped": int(r.skipped),
                "total": int(r.passed + r.failed + r.error + r.skipped),
                "pass_rate": round(r.passed / ran, 6) if ran else None,
            }
        )
    answers["pass_fail_history"] = entries
    timings["pass_fail_history"] = time.perf_counter() - started

    started = time.perf_counter()
    broken = {}
    for sdk, runs in summaries.sort_values("t").groupby("sdk"):
        failing = runs["status"].isin(FAILING)
        last_ok = runs.loc[~failing, "t"].max()
        streak = runs[failing & ((runs["t"] > last_ok) if not pd.isna(last_ok) else True)]
        broken[sdk] = {
            "status": runs["status"].iloc[-1],
            "latest": runs["logical_date"].iloc[-1],
            "broken_since": streak["logical_date"].iloc[0] if len(streak) else None,
            "failing_runs": len(streak),
            "last_passed": runs.loc[~failing, "logical_date"].iloc[-1] if (~failing).any() else None,
            "first_failing_commit": streak["commit"].iloc[0] if len(streak) else None,
            "last_passed_commit": runs.loc[~failing, "commit"].iloc[-1] if (~failing).any() else None,
            "compare_url": None,  # the image's own suite: no forge
            "repo_url": None,
        }
    answers["broken_since"] = broken
    timings["broken_since"] = time.perf_counter() - started

    with_rows = summaries[summaries["row_count"] > 0].copy()
    with_rows["rank"] = with_rows.groupby("sdk")["t"].rank(ascending=False, method="first").astype(int)

    started = time.perf_counter()
    window = with_rows[with_rows["t"] > as_of - pd.Timedelta(days=14)]
    window_runs = window[["sdk", "logical_date", "t", "commit"]].rename(columns={"commit": "digest"})
    window_rows = rows.merge(window_runs, on=["sdk", "logical_date"])
    o = _outcome(window_rows, ["sdk", "t", "logical_date", "digest", "test_id"])
    o = o[o["outcome"] != "skipped"]
    known = o[o["digest"].fillna("") != ""]
    first_fail = known[known["outcome"] == "failed"].groupby(["sdk", "test_id", "digest"])["t"].min()
    last_pass = known[known["outcome"] == "passed"].groupby(["sdk", "test_id", "digest"])["t"].max()
    both = pd.concat([first_fail.rename("ff"), last_pass.rename("lp")], axis=1).dropna()
    mixed = both[both["ff"] < both["lp"]].reset_index()
    digests = mixed.groupby(["sdk", "test_id"])["digest"].agg(sorted)
    flaky = []
    candidates = o.merge(digests.reset_index()[["sdk", "test_id"]], on=["sdk", "test_id"])
    for (sdk, test), runs in candidates.sort_values("t").groupby(["sdk", "test_id"]):
        failed = runs[runs["outcome"] == "failed"]
        last_failed = failed["t"].max()
        since = int((runs["t"] > last_failed).sum())
        if since >= 5:
            continue
        flaky.append(
            {
                "sdk": sdk,
                "test_id": test,
                "classname": runs["classname"].iloc[-1],
                "name": runs["name"].iloc[-1],
                "passes": int((runs["outcome"] == "passed").sum()),
                "failures": len(failed),
                "last_failed": failed["logical_date"].iloc[-1],
                "passes_since_last_failure": since,
                "commits": digests.loc[(sdk, test)],
            }
        )
    answers["flaky_tests"] = flaky
    timings["flaky_tests"] = time.perf_counter() - started

    started = time.perf_counter()
    last_two = with_rows[with_rows["rank"] <= 2]
    pair = rows.merge(last_two[["sdk", "logical_date", "rank"]], on=["sdk", "logical_date"])
    o = _outcome(pair, ["sdk", "rank", "test_id"])
    cur = o[o["rank"] == 1]
    prev = o[o["rank"] == 2][["sdk", "test_id", "outcome"]].rename(columns={"outcome": "previous"})
    joined = cur.merge(prev, on=["sdk", "test_id"], how="left")
    joined = joined[joined["sdk"].isin(set(last_two.loc[last_two["rank"] == 2, "sdk"]))]
    changes = {}
    for sdk, runs in last_two.groupby("sdk"):
        changes[sdk] = {
            "logical_date": runs.loc[runs["rank"] == 1, "logical_date"].iloc[0],
            "previous_logical_date": runs.loc[runs["rank"] == 2, "logical_date"].iloc[0]
            if (runs["rank"] == 2).any()
            else None,
            "newly_failing": [],
            "newly_fixed": [],
        }
    # a newly failing test's last pass: the newest earlier run within the lookback where it passed
    current = last_two[last_two["rank"] == 1].set_index("sdk")
    failing_now = joined[(joined["outcome"] == "failed") & (joined["previous"] != "failed")]
    lookback = with_rows[with_rows["t"] >= as_of - pd.Timedelta(days=LAST_PASS_LOOKBACK_DAYS)]
    earlier = lookback.merge(current[["t"]].rename(columns={"t": "now"}), left_on="sdk", right_index=True)
    earlier = earlier[earlier["t"] < earlier["now"]][["sdk", "logical_date", "t", "commit"]]
    candidates = rows[rows["test_id"].isin(set(failing_now["test_id"]))].merge(
        earlier, on=["sdk", "logical_date"]
    )
    passes = _outcome(candidates, ["sdk", "t", "logical_date", "commit", "test_id"])
    passes = passes[passes["outcome"] == "passed"].sort_values("t").groupby(["sdk", "test_id"]).last()
    for r in joined.sort_values(["sdk", "test_id"]).itertuples(index=False):
        previous = None if pd.isna(r.previous) else r.previous
        if r.outcome == "failed" and previous != "failed":
            bucket = "newly_failing"
        elif r.outcome == "passed" and previous == "failed":
            bucket = "newly_fixed"
        else:
            continue
        entry = {"test_id": r.test_id, "classname": r.classname, "name": r.name, "previous": previous}
        if bucket == "newly_failing":
            entry["message"] = r.message
            last = passes.loc[(r.sdk, r.test_id)] if (r.sdk, r.test_id) in passes.index else None
            entry.update(
                first_failing_commit=current.loc[r.sdk, "commit"],
                last_passed=None if last is None else last["logical_date"],
                last_passed_commit=None if last is None else last["commit"],
                repo_url=None,
                compare_url=None,
            )
        changes[r.sdk][bucket].append(entry)
    answers["test_changes"] = changes
    timings["test_changes"] = time.perf_counter() - started

    started = time.perf_counter()
    latest = with_rows[with_rows["rank"] == 1][["sdk", "logical_date"]]
    o = _outcome(rows.merge(latest, on=["sdk", "logical_date"]), ["sdk", "logical_date", "test_id"])
    o = o[o["duration"].notna()]
    o = o.sort_values(["sdk", "duration", "test_id"], ascending=[True, False, True])
    slowest = {}
    for sdk, top in o.groupby("sdk", sort=True):
        slowest[sdk] = [
            {
                "logical_date": r.logical_date,
                "test_id": r.test_id,
                "classname": r.classname,
                "name": r.name,
                "outcome": r.outcome,
                "duration": r.duration,
            }
            for r in top.head(10).itertuples(index=False)
        ]
    answers["slowest_tests"] = slowest
    timings["slowest_tests"] = time.perf_counter() - started

    started = time.perf_counter()
    window = with_rows[with_rows["t"] > as_of - pd.Timedelta(days=14)].copy()
    window["rank"] = window.groupby("sdk")["t"].rank(ascending=False, method="first").astype(int)
    ran = rows[(rows["status"] != "skipped") & rows["duration"].notna()]
    d = ran.merge(window[["sdk", "logical_date", "rank"]], on=["sdk", "logical_date"])
    d = d.groupby(["sdk", "rank", "logical_date", "test_id"], as_index=False).agg(
        classname=("classname", "min"), name=("name", "min"), duration=("duration", "max")
    )
    base = d[d["rank"] > 1].groupby(["sdk", "test_id"])["duration"].agg(["median", "count"]).reset_index()
    latest_d = d[d["rank"] == 1].merge(base, on=["sdk", "test_id"])
    hits = latest_d[
        (latest_d["count"] >= 3)
        & (latest_d["duration"] - latest_d["median"] >= 1.0)
        & ((latest_d["median"] == 0) | (latest_d["duration"] / latest_d["median"] >= 2.0))
    ].sort_values(["sdk", "test_id"])
    answers["duration_regressions"] = [
        {
            "sdk": r.sdk,
            "test_id": r.test_id,
            "classname": r.classname,
            "name": r.name,
            "logical_date": r.logical_date,
            "duration": r.duration,
            "median": r.median,
            "samples": int(r.count),
            "ratio": round(r.duration / r.median, 6) if r.median > 0 else None,
        }
        for r in hits.itertuples(index=False)
    ]
    timings["duration_regressions"] = time.perf_counter() - started
    return {
        "timings": timings,
        "total": time.perf_counter() - total,
        "answers": answers,
        "peak_mb": _peak_mb(),
    }


# ---------------------------------------------------------------- comparison and report


def canonical(value):
    """JSON-comparable: numbers as floats rounded to 6 places, NaN as None, numpy scalars unwrapped."""
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        value = value.item()
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return None if math.isnan(value) else round(float(value), 6)
    return value


def run_one(which: str, root: str) -> None:
    result = (ours if which == "ours" else pandas_answers)(Path(root))
    Path(root, f"{which}.json").write_text(json.dumps(canonical(result)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--tests", type=int, default=3470, help="tests per SDK")
    parser.add_argument("--keep", help="generate into this folder and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sdkc-history-bench-") as tmp:
        root = Path(args.keep or tmp)
        root.mkdir(parents=True, exist_ok=True)
        made = generate(root, args.days, args.tests)
        print(
            f"{made['rows']:,} test rows in {made['partitions']} partitions "
            f"({len(SDKS)} SDKs x {args.days} days): "
            f"generated in {made['generation_seconds']:.1f} s, peak {made['peak_mb']:.0f} MB; "
            f"Parquet {made['parquet_mb']:.0f} MB, CSV {made['csv_mb']:.0f} MB; "
            f"summary cache built from scratch in {made['cache_build_seconds']:.2f} s"
        )
        results = {}
        for which in ("ours", "pandas"):
            output = subprocess.run(
                [sys.executable, __file__, "--one", which, str(root)], capture_output=True, text=True
            )
            if output.returncode:
                print(output.stderr[-3000:])
                return 1
            results[which] = json.loads(Path(root, f"{which}.json").read_text())
    ours_, alt = results["ours"], results["pandas"]
    print(f"\n{'query':<36} {'DuckDB+Parquet':>15} {'pandas+CSV':>12}")
    opened = ours_["timings"]["open: list partitions + summaries"]
    print(f"{'open (summaries) / read CSV':<36} {opened:>13.3f} s {alt['timings']['read CSV']:>10.2f} s")
    for name in QUERIES:
        print(f"{name:<36} {ours_['timings'][name]:>13.3f} s {alt['timings'][name]:>10.2f} s")
    print(f"{'total':<36} {ours_['total']:>13.3f} s {alt['total']:>10.2f} s")
    print(f"{'peak memory':<36} {ours_['peak_mb']:>12.0f} MB {alt['peak_mb']:>9.0f} MB")
    print(
        f"(imports of sdk_campaigns.history.analytics, duckdb, pyarrow and the pandas it loads, not counted: "
        f"{ours_['import_seconds']:.2f} s)"
    )
    print(f"ratio pandas+CSV / sdk-campaigns: {alt['total'] / ours_['total']:.0f}x")
    mismatched = [name for name in QUERIES if ours_["answers"][name] != alt["answers"][name]]
    answers = ours_["answers"]
    print(
        f"answers: {len(answers['pass_fail_history'])} daily entries, "
        f"{sum(b['broken_since'] is not None for b in answers['broken_since'].values())} SDKs broken, "
        f"{len(answers['flaky_tests'])} flaky tests, "
        f"{sum(len(c['newly_failing']) for c in answers['test_changes'].values())} newly failing / "
        f"{sum(len(c['newly_fixed']) for c in answers['test_changes'].values())} newly fixed, "
        f"{len(answers['duration_regressions'])} duration regressions"
    )
    print("same answers from both: " + ("yes" if not mismatched else f"NO, they differ on {mismatched}"))
    met = ours_["total"] < 1.0
    harness.emit(
        "history queries",
        {
            "rows": made["rows"],
            "seconds": round(ours_["total"], 3),
            "pandas_csv_seconds": round(alt["total"], 2),
            "pandas_csv_over_ours": round(alt["total"] / ours_["total"], 1),
            "peak_mb": round(ours_["peak_mb"]),
            "same_answers": not mismatched,
        },
        "a year of history answers the dashboard's queries in < 1 s, same answers as pandas+CSV",
        met and not mismatched,
    )
    print(f"target < 1 s: {'met' if met else 'MISSED'} ({ours_['total']:.3f} s)")
    return 0 if met and not mismatched else 1


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        run_one(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(main())
