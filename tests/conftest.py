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
