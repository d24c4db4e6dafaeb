"""The demo's image builds: every SDK image missing from the stack's ECR, built concurrently before the
campaign starts, with progress (a percentage and an estimated time left per image).

`airflow dags test` runs the DAG's tasks one after another, so a cold demo would build the 8 images
one by one inside it (about 13 minutes on 2 cores). Builds wait on downloads as much as on CPU, so a
few at once finish sooner: as many as there are cores, and no more than memory holds
(BUILD_MEMORY_BYTES each). The images are the ones the DAG's build_image asks for (same content
tags, same registry, registered in the stand-in ECR), so the campaign then reuses them in well
under a second each.

Progress comes from Docker's own build stream (`Step N/M`, logged by campaign.images) and from
how long each SDK's image took the last time (kept in the stack's folder).
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sdk_campaigns.campaign import images
from sdk_campaigns.config import CampaignConfig
from sdk_campaigns.dev import local_aws, local_stack

BUILD_MEMORY_BYTES = 1536 * 1024 * 1024  # the biggest build (rust, java) peaks about there
STEP = re.compile(r"^Step (\d+)/(\d+) :")
DURATIONS_FILE = "image-build-seconds.json"
MIN_ELAPSED_FOR_ETA = 5.0  # seconds


def build_jobs(cpus: int | None = None, available_bytes: int | None = None) -> int:
    """How many builds at once: one per core, as many as memory holds, at least one."""
    cpus = cpus or os.cpu_count() or 1
    if available_bytes is None:
        try:
            import psutil

            available_bytes = psutil.virtual_memory().available
        except ImportError:  # psutil comes with Airflow; without it, cores decide alone
            available_bytes = cpus * BUILD_MEMORY_BYTES
    return max(1, min(cpus, available_bytes // BUILD_MEMORY_BYTES))


@dataclass
class ImageProgress:
    """One image's build: its Docker steps so far and what the last build of it took."""

    sdk: str
    expected_seconds: float | None = None  # the last build's duration, if known
    started: float | None = None
    finished: float | None = None
    step: int = 0
    steps: int = 0
    outcome: str = "waiting"  # waiting, building, built, reused, failed: <reason>

    def fraction(self, now: float) -> float:
        if self.finished is not None:
            return 1.0
        if self.started is None:
            return 0.0
        by_steps = (self.step - 1) / self.steps if self.steps else 0.0
        if self.expected_seconds:
            by_time = (now - self.started) / self.expected_seconds
            return max(0.0, min(0.99, max(by_time, by_steps) if by_steps else by_time))
        return max(0.0, min(0.99, by_steps))

    def seconds_left(self, now: float) -> float | None:
        """The estimated time left: from the last build's duration, else from the steps done."""
        if self.finished is not None or self.started is None:
            return 0.0 if self.finished is not None else self.expected_seconds
        elapsed = now - self.started
        if self.expected_seconds:
            return max(self.expected_seconds - elapsed, 1.0)
        done = self.fraction(now)
        # Early steps (FROM, ARG, COPY) take no time: too soon to extrapolate from them.
        return elapsed * (1 - done) / done if done > 0.05 and elapsed >= MIN_ELAPSED_FOR_ETA else None


@dataclass
class BuildBoard:
    """Every image's progress, printed as a line whenever an image moves on."""

    images: dict[str, ImageProgress]
    say: Callable[[str], None] = print
    lock: threading.Lock = field(default_factory=threading.Lock)

    def overall(self, now: float) -> float:
        return sum(p.fraction(now) for p in self.images.values()) / max(1, len(self.images))

    def update(self, sdk: str, **changes) -> None:
        with self.lock:
            progress = self.images[sdk]
            for name, value in changes.items():
                setattr(progress, name, value)
            now = time.monotonic()
            self.say(f"  [{self.overall(now):>4.0%} of the images] {self.describe(progress, now)}")

    @staticmethod
    def describe(progress: ImageProgress, now: float) -> str:
        if progress.outcome in ("built", "reused") or progress.outcome.startswith("failed"):
            took = f" in {progress.finished - progress.started:.0f} s" if progress.outcome != "reused" else ""
            return f"{progress.sdk}: {progress.outcome}{took}"
        left = progress.seconds_left(now)
        eta = f", ~{left:.0f} s left" if left is not None else ""
        step = f" step {progress.step}/{progress.steps}" if progress.steps else ""
        elapsed = now - progress.started if progress.started is not None else 0.0
        return f"{progress.sdk}:{step} ({progress.fraction(now):.0%}), {elapsed:.0f} s{eta}"


class _StepWatcher(logging.Handler):
    """Turns campaign.images' build log lines (`[sdk build] Step N/M : ...`) into progress."""

    def __init__(self, board: BuildBoard):
        super().__init__(logging.INFO)
        self.board = board

    def emit(self, record: logging.LogRecord) -> None:
        if not isinstance(record.args, tuple) or len(record.args) != 3 or record.args[1] != "build":
            return
        sdk, _, text = record.args
        match = STEP.match(str(text))
        if match and sdk in self.board.images:
            self.board.update(sdk, step=int(match.group(1)), steps=int(match.group(2)))


def _durations_path():
    return local_stack.stack_dir() / DURATIONS_FILE


def known_durations() -> dict[str, float]:
    try:
        return {k: float(v) for k, v in json.loads(_durations_path().read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _remember(durations: dict[str, float]) -> None:
    path = _durations_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**known_durations(), **durations}, indent=1, sort_keys=True))


@dataclass
class BuildResult:
    sdk: str
    outcome: str  # built, reused or failed: <reason>
    seconds: float


def build_missing_images(
    config: CampaignConfig,
    sdks: list[str],
    *,
    jobs: int | None = None,
    nocache: bool = False,
    namespace: str | None = None,
    say: Callable[[str], None] = print,
) -> list[BuildResult]:
    """Build (and push, and register in the stand-in ECR) every image of `sdks` that ECR lacks,
    `jobs` at a time (default: build_jobs()). A failed build is reported and left to the campaign's
    build_image, which retries it and reports it as an infrastructure failure.

    For measurements (benchmarks/cold_demo.py): `nocache` builds without Docker's layer cache, and
    `namespace` pushes every image, missing or not, to `<registry>/<namespace>/<sdk>` instead (a fresh
    place: no existing layer, nothing registered in ECR)."""
    jobs = jobs or build_jobs()
    registry = local_stack.registry_host()
    auth = images.RegistryAuth(registry=registry, username="AWS", password="local")
    ecr = local_aws.admin_client("ecr")
    durations = {} if nocache else known_durations()
    board = BuildBoard({sdk: ImageProgress(sdk, durations.get(sdk)) for sdk in sdks}, say=say)
    watcher = _StepWatcher(board)
    images_log = logging.getLogger(images.__name__)
    images_log.addHandler(watcher)
    previous_level = images_log.level
    if not images_log.isEnabledFor(logging.INFO):
        images_log.setLevel(logging.INFO)
    images_log.propagate, propagated = False, images_log.propagate  # progress lines, not the build's

    def build(sdk: str) -> BuildResult:
        started = time.monotonic()
        board.update(sdk, started=started, outcome="building")
        try:
            spec, context = images.plan_image(
                sdk=sdk,
                folder=config.sdks[sdk].image,
                repository=f"{config.campaign.ecr_repository_prefix}/{sdk}",
                registry=registry,
                base_image=config.images.base_image,
            )
            if namespace:
                repository = f"{namespace}/{sdk}"
                image = f"{registry}/{repository}:{spec.content_tag}"
                spec = replace(spec, repository=repository, image=image)
            elif images.ecr_image_digest(ecr, spec.repository, spec.content_tag):
                board.update(sdk, finished=time.monotonic(), outcome="reused")
                return BuildResult(sdk, "reused", time.monotonic() - started)
            images.docker_build_and_push(
                images.docker_client(),
                spec,
                context,
                auth,
                stand_in_ecr=None if namespace else ecr,
                nocache=nocache,
            )
        except Exception as err:  # reported; the campaign's build_image tries again
            board.update(sdk, finished=time.monotonic(), outcome=f"failed: {err}")
            return BuildResult(sdk, f"failed: {err}", time.monotonic() - started)
        board.update(sdk, finished=time.monotonic(), outcome="built")
        return BuildResult(sdk, "built", time.monotonic() - started)

    say(f"images: {len(sdks)} SDKs, up to {jobs} builds at once ({os.cpu_count()} cores)")
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="image") as pool:
            # Longest first (by the last build), so the slowest image never starts last.
            order = sorted(sdks, key=lambda sdk: -(durations.get(sdk) or 0))
            results = list(pool.map(build, order))
    finally:
        images_log.removeHandler(watcher)
        images_log.setLevel(previous_level)
        images_log.propagate = propagated
    if not namespace:
        _remember({r.sdk: round(r.seconds, 1) for r in results if r.outcome == "built"})
    return sorted(results, key=lambda r: sdks.index(r.sdk))
