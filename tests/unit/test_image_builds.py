"""The demo's concurrent image builds: how many at once, and the progress they print."""

from __future__ import annotations

import logging
import time

import pytest

from sdk_campaigns.dev import image_builds
from sdk_campaigns.dev.image_builds import BuildBoard, ImageProgress

GIB = 1024**3


@pytest.mark.parametrize(
    ("cpus", "available", "jobs"),
    [
        (2, 24 * GIB, 2),  # cores decide
        (16, 4 * GIB, 2),  # memory decides: 4 GiB holds two 1.5 GiB builds
        (8, 1 * GIB, 1),  # never none
        (1, 64 * GIB, 1),
    ],
)
def test_builds_at_once_are_bounded_by_cores_and_memory(cpus, available, jobs):
    assert image_builds.build_jobs(cpus, available) == jobs


def test_progress_follows_the_last_builds_duration_when_known():
    progress = ImageProgress("java", expected_seconds=100, started=0.0, step=2, steps=10)
    assert progress.fraction(40.0) == pytest.approx(0.4)
    assert progress.seconds_left(40.0) == pytest.approx(60.0)
    # A build slower than the last one never reads 100 % or a negative time left.
    assert progress.fraction(250.0) == pytest.approx(0.99)
    assert progress.seconds_left(250.0) == 1.0


def test_progress_falls_back_on_dockers_steps():
    progress = ImageProgress("rust", started=0.0, step=5, steps=9)
    assert progress.fraction(30.0) == pytest.approx(4 / 9)
    assert progress.seconds_left(30.0) == pytest.approx(30.0 * (5 / 9) / (4 / 9))
    assert ImageProgress("go", started=0.0, step=1, steps=9).seconds_left(30.0) is None  # too early to say
    assert ImageProgress("go", started=0.0, step=4, steps=9).seconds_left(1.0) is None  # the quick steps


def test_the_board_prints_a_percentage_and_an_eta_per_image():
    lines: list[str] = []
    board = BuildBoard({"java": ImageProgress("java", 100.0), "go": ImageProgress("go")}, say=lines.append)
    board.update("go", started=0.0, finished=0.0, outcome="reused")
    watcher = image_builds._StepWatcher(board)
    board.update("java", started=time.monotonic(), outcome="building")
    args = ("java", "build", "Step 3/7 : RUN x")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "[%s %s] %s", args, None)
    watcher.emit(record)
    assert lines[0] == "  [ 50% of the images] go: reused"
    # go done (100 %), java at step 3 of 7 (2 of 7 done: 29 %): 64 % of the images
    assert lines[-1].startswith("  [ 64% of the images] java: step 3/7 (29%), 0 s, ~")
    assert "s left" in lines[-1]
    # Other log lines (pushes, other SDKs) move nothing.
    other = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "[%s %s] %s", ("java", "push", "Step 9/9"), None
    )
    watcher.emit(other)
    assert board.images["java"].step == 3
