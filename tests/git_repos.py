"""Real git repositories with scripted commits, served by `git daemon` over git:// (the culprit
finder's, commit attribution's and any-repository tests): every commit is a real commit."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sdk_campaigns.dev import airflow_services

IDENTITY = ["-c", "user.name=culprit-test", "-c", "user.email=culprit@example.com"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ScriptedRepo:
    """A work tree whose commits the test scripts, served as the bare repository `<root>/<name>.git`:
    `publish()` copies the whole work tree's history there (every branch and tag), `push()` adds the
    new commits of main to it (a branch that moves while it is served)."""

    def __init__(self, root: Path, name: str = "sdk", template: Path | None = None):
        self.root, self.name = root, name
        self.work = root / f"{name}-work"
        self.bare = root / f"{name}.git"
        if template is None:
            self.work.mkdir(parents=True)
        else:  # starts from a copy of a folder (its first commit is the test's)
            shutil.copytree(template, self.work, ignore=shutil.ignore_patterns("__pycache__"))
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.work), *IDENTITY, *args], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def commit(self, message: str, files: dict[str, str]) -> str:
        for path, text in files.items():
            target = self.work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        self.git("add", "-A")
        self.git("commit", "-qm", message)
        return self.git("rev-parse", "HEAD")

    def publish(self) -> None:
        if self.bare.exists():
            shutil.rmtree(self.bare)
        subprocess.run(["git", "clone", "-q", "--bare", str(self.work), str(self.bare)], check=True)

    def push(self) -> str:
        """main's new commits to the served repository (published first if it is not yet); main's SHA."""
        if not self.bare.exists():
            self.publish()
        if "origin" not in self.git("remote").split():
            self.git("remote", "add", "origin", str(self.bare))
        self.git("push", "-q", "origin", "HEAD:main")
        return self.git("rev-parse", "HEAD")


def _listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


@contextmanager
def git_daemon(base: Path, host: str = "127.0.0.1") -> Iterator[str]:
    """Serves every repository under `base` over git://; yields the URL prefix (git://host:port)."""
    port = free_port(host)
    daemon = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            f"--base-path={base}",
            f"--listen={host}",
            f"--port={port}",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"git://{host}:{port}"
    try:
        airflow_services.wait_until(lambda: _listening(host, port), 10, "git daemon")
        yield url
    finally:
        daemon.terminate()
        daemon.wait()
