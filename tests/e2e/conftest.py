"""The local stack for end-to-end tests: real Docker, moto server over HTTP, a real registry.

Tests get their own SDK_CAMPAIGNS_HOME (Airflow home, history, reports), so they never
mix with a developer's demo runs; moto and the registry are shared on their ports.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def stack_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("sdkc-home")
    previous = os.environ.get("SDK_CAMPAIGNS_HOME")
    os.environ["SDK_CAMPAIGNS_HOME"] = str(home)
    from sdk_campaigns import local_stack

    local_stack.up()
    yield home
    if previous is None:
        os.environ.pop("SDK_CAMPAIGNS_HOME", None)
    else:
        os.environ["SDK_CAMPAIGNS_HOME"] = previous


def run_airflow(args: list[str], timeout: int = 1500) -> subprocess.CompletedProcess:
    from sdk_campaigns import local_stack

    airflow = Path(sys.executable).with_name("airflow")
    return subprocess.run(
        [str(airflow), *args],
        env={**os.environ, **local_stack.airflow_env()},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def s3_client():
    import boto3
    from sdk_campaigns import local_stack

    return boto3.client("s3", endpoint_url=local_stack.moto_url(), region_name="us-east-1")
