"""Shared fixtures. `stack_home` starts the local stack: real Docker, moto server over HTTP,
a real OCI registry. Tests get their own SDK_CAMPAIGNS_HOME (Airflow home, history,
reports), so they never mix with a developer's demo runs; moto and the registry are
shared on their ports."""

import os

import pytest

# Tests must never touch a developer's real AWS account.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def sample_config():
    from sdk_campaigns.config import load_config

    return load_config()


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
