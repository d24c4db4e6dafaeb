"""Helpers for end-to-end tests on the local stack (the `stack_home` and `aws_client` fixtures are in
tests/conftest.py)."""

import os
import subprocess
import sys
from pathlib import Path


def run_airflow(args: list[str], timeout: int = 1500, env: dict | None = None) -> subprocess.CompletedProcess:
    from sdk_campaigns.dev import local_stack

    airflow = Path(sys.executable).with_name("airflow")
    return subprocess.run(
        [str(airflow), *args],
        env={**os.environ, **local_stack.airflow_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
