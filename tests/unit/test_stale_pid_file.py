"""A dockerd killed with SIGKILL (as CI stops what a session left running) leaves /var/run/docker.pid,
and the next dockerd refuses to start. The stack removes the file only when its process is gone."""

from __future__ import annotations

import os
import subprocess

from sdk_campaigns.dev import local_stack


def test_a_pid_file_of_a_dead_process_is_removed(tmp_path):
    finished = subprocess.Popen(["true"])
    finished.wait()
    pid_file = tmp_path / "docker.pid"
    pid_file.write_text(str(finished.pid))
    assert local_stack._clear_stale_pid_file(pid_file) is True
    assert not pid_file.exists()


def test_a_pid_file_of_a_live_process_is_kept(tmp_path):
    pid_file = tmp_path / "docker.pid"
    pid_file.write_text(str(os.getpid()))
    assert local_stack._clear_stale_pid_file(pid_file) is False
    assert pid_file.read_text() == str(os.getpid())


def test_no_pid_file_is_nothing_to_clear(tmp_path):
    assert local_stack._clear_stale_pid_file(tmp_path / "docker.pid") is False
