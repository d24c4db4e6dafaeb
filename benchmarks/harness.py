"""What the benchmarks share: the `BENCHMARK {json}` line, a home of their own for campaigns under a
real scheduler, the run's timeline from the REST API, and peak memory of Airflow's processes.

Every benchmark ends with one line `BENCHMARK {json}`: its name, its figures, its target (a sentence)
and whether it was met. benchmarks/run.py (`make benchmark`) reads those lines into one table.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

BENCHMARK_PREFIX = "BENCHMARK "


def emit(name: str, figures: dict, target: str, met: bool) -> None:
    """The benchmark's last line: what run.py collects."""
    line = {"benchmark": name, "figures": figures, "target": target, "met": bool(met)}
    print(BENCHMARK_PREFIX + json.dumps(line), flush=True)


def parse_benchmark_line(output: str) -> dict | None:
    """The last `BENCHMARK {json}` line of a benchmark's output, or None."""
    for line in reversed(output.splitlines()):
        if line.startswith(BENCHMARK_PREFIX):
            return json.loads(line[len(BENCHMARK_PREFIX) :])
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare_home(prefix: str, edit_config: Callable[[dict], dict]) -> Path:
    """A fresh SDK_CAMPAIGNS_HOME (own Airflow database and port) with the default campaign config
    as `edit_config` changes it; set in this process's environment."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["SDK_CAMPAIGNS_HOME"] = str(home)  # (set before edit_config, which may use it)
    os.environ["SDK_CAMPAIGNS_AIRFLOW_PORT"] = str(free_port())
    from sdk_campaigns.config import DEFAULT_CONFIG_PATH

    config = edit_config(yaml.safe_load(DEFAULT_CONFIG_PATH.read_text()))
    (home / "campaign.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    os.environ["SDK_CAMPAIGNS_CONFIG"] = str(home / "campaign.yaml")
    return home


def trigger_and_wait(
    dag_id: str, token: str, conf: dict, minutes_ago: int = 5, timeout: float = 1800
) -> dict:
    """One run through the REST API, waited for; the run as the API shows it at the end."""
    from sdk_campaigns.dev import airflow_services

    logical_date = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)
    run = airflow_services.api(
        "POST", f"dags/{dag_id}/dagRuns", token, {"logical_date": logical_date.isoformat(), "conf": conf}
    )
    return airflow_services.wait_for_run(dag_id, run["dag_run_id"], token, timeout=timeout)


def wait_for_quiet(dag_id: str, token: str, timeout: float = 1800) -> None:
    """Until no run of the DAG is queued or running (unpausing a DAG with a schedule starts its latest
    interval's run: a measured run must not share the machine with it)."""
    from sdk_campaigns.dev import airflow_services

    active = airflow_services.api("GET", f"dags/{dag_id}/dagRuns?state=queued&state=running", token)
    ids = [run["dag_run_id"] for run in active["dag_runs"]]
    if ids:
        airflow_services.wait_for_runs(dag_id, ids, token, timeout=timeout)


def run_seconds(run: dict) -> float:
    started, ended = (datetime.fromisoformat(run[k]) for k in ("start_date", "end_date"))
    return (ended - started).total_seconds()


def task_instances(dag_id: str, run_id: str, token: str) -> list[dict]:
    from urllib.parse import quote

    from sdk_campaigns.dev import airflow_services

    found: list[dict] = []
    while True:
        page = airflow_services.api(
            "GET",
            f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances?limit=100&offset={len(found)}",
            token,
        )
        found.extend(page["task_instances"])
        if len(found) >= page["total_entries"] or not page["task_instances"]:
            return found


def stage_timeline(run: dict, instances: list[dict]) -> list[dict]:
    """Per task id, in the order they started: first start and last end (seconds from the run's
    start), how many instances and their summed durations."""
    origin = datetime.fromisoformat(run["start_date"])
    stages: dict[str, dict] = defaultdict(lambda: {"count": 0, "task_seconds": 0.0})
    for ti in instances:
        if not ti.get("start_date") or not ti.get("end_date"):
            continue
        stage = stages[ti["task_id"]]
        start = (datetime.fromisoformat(ti["start_date"]) - origin).total_seconds()
        end = (datetime.fromisoformat(ti["end_date"]) - origin).total_seconds()
        stage["first_start"] = min(stage.get("first_start", start), start)
        stage["last_end"] = max(stage.get("last_end", end), end)
        stage["count"] += 1
        stage["task_seconds"] += ti.get("duration") or end - start
    ordered = sorted(stages.items(), key=lambda item: item[1]["first_start"])
    return [{"task": name, **{k: round(v, 2) for k, v in s.items()}} for name, s in ordered]


def print_timeline(timeline: list[dict]) -> None:
    print(f"  {'task':<18} {'n':>3} {'start':>7} {'end':>7} {'task s':>8}")
    for stage in timeline:
        print(
            f"  {stage['task']:<18} {stage['count']:>3} {stage['first_start']:>6.1f}s "
            f"{stage['last_end']:>6.1f}s {stage['task_seconds']:>7.1f}s"
        )


def airflow_pids() -> dict[str, int]:
    """The pids of this home's Airflow components (local_stack's pid files)."""
    from sdk_campaigns.dev import airflow_services, local_stack

    pids = {}
    for component in airflow_services.COMPONENTS:
        pid_file = local_stack.stack_dir() / f"airflow-{component}.pid"
        if pid_file.exists():
            pids[component] = int(pid_file.read_text())
    return pids


class MemorySampler:
    """Peak memory, sampled every `interval` seconds: the scheduler's own RSS, and the proportional set
    size (shared pages split between sharers, so forks are not counted twice) of the scheduler's
    descendants (LocalExecutor workers and their task processes) and of the triggerer's tree.

    Not free: a process's PSS walks its page tables (~8 ms for a preloaded worker), so at 0.5 s over
    30 processes the sampler took 6 CPU s of an 8-SDK run (14 % of two cores) and slowed the run it
    watched. `cpu_seconds` says what it took; timed runs are measured without it."""

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self.cpu_seconds = 0.0
        self.peak_mb = {"scheduler_rss": 0.0, "workers_pss": 0.0, "triggerer_pss": 0.0, "workers_count": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _pss(process) -> float:
        try:
            return process.memory_full_info().pss / 1e6
        except Exception:  # gone, or no permission: not counted
            return 0.0

    def _sample(self) -> None:
        import psutil

        pids = airflow_pids()
        if "scheduler" in pids:
            try:
                scheduler = psutil.Process(pids["scheduler"])
                # The pid file names the `airflow scheduler` command; the scheduler loop may be its child.
                tree = [scheduler, *scheduler.children(recursive=True)]
                main = max(tree[:2], key=lambda p: p.memory_info().rss)
                self._peak("scheduler_rss", main.memory_info().rss / 1e6)
                workers = [p for p in tree if p.pid not in (scheduler.pid, main.pid)]
                self._peak("workers_pss", sum(self._pss(p) for p in workers))
                self._peak("workers_count", len(workers))
            except psutil.Error:
                pass
        if "triggerer" in pids:
            try:
                triggerer = psutil.Process(pids["triggerer"])
                tree = [triggerer, *triggerer.children(recursive=True)]
                self._peak("triggerer_pss", sum(self._pss(p) for p in tree))
            except psutil.Error:
                pass

    def _peak(self, key: str, value: float) -> None:
        self.peak_mb[key] = max(self.peak_mb[key], value)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.thread_time()
            self._sample()
            self.cpu_seconds += time.thread_time() - started
            time.sleep(self.interval)


def _tree_cpu_seconds(process) -> float:
    """CPU seconds of a process and its descendants, the reaped ones included (they are in their
    parent's children times: a LocalExecutor worker reaps its task processes)."""
    import psutil

    total = 0.0
    try:
        tree = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for member in tree:
        try:
            times = member.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far: each Airflow component's process tree (the scheduler's holds its
    LocalExecutor workers and their task processes), moto's server, and the whole machine (`busy`)."""
    import psutil

    seconds = {}
    for component, pid in airflow_pids().items():
        try:
            seconds[component] = _tree_cpu_seconds(psutil.Process(pid))
        except psutil.Error:
            seconds[component] = 0.0
    seconds["moto"] = sum(
        _tree_cpu_seconds(p)
        for p in psutil.process_iter(["cmdline"])
        if "sdk_campaigns.dev.moto_server" in " ".join(p.info["cmdline"] or [])
    )
    machine = psutil.cpu_times()
    seconds["busy"] = machine.user + machine.nice + machine.system + machine.irq + machine.softirq
    return seconds


class CpuMeter:
    """Where the CPU went while the block ran: seconds per Airflow component and moto, and `jobs and
    the rest` (the machine's busy time minus those: the jobs' containers, Docker, everything else)."""

    def __enter__(self) -> CpuMeter:
        self._start = cpu_seconds()
        return self

    def __exit__(self, *exc) -> None:
        end = cpu_seconds()
        used = {k: end[k] - self._start.get(k, 0.0) for k in end}
        busy = used.pop("busy")
        self.seconds = {k: round(v, 1) for k, v in used.items()}
        self.seconds["jobs and the rest"] = round(busy - sum(used.values()), 1)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"
