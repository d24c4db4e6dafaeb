"""Shared fixtures. `stack_home` starts the local stack: real Docker, moto server over HTTP,
a real OCI registry. Tests get their own SDK_CAMPAIGNS_HOME (Airflow home, history,
reports), so they never mix with a developer's demo runs; moto and the registry are
shared on their ports.

Before anything imports boto3 or Airflow (this file loads before any test module), the session
gets throwaway AWS credentials and an Airflow home of its own."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# A session Airflow home: in-process DagBags and Airflow's config must never read or write
# ~/airflow (Airflow fixes its home when first imported, which collection does).
SESSION_HOME = Path(tempfile.mkdtemp(prefix="sdkc-tests-"))
AIRFLOW_HOME = SESSION_HOME / "airflow"
AIRFLOW_HOME.mkdir()
os.environ["AIRFLOW_HOME"] = str(AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# A developer's own config file or metadata database must not be the tests' (the default database
# is sqlite in the session home; the stack's fixtures pass PostgreSQL to their processes).
os.environ.pop("AIRFLOW_CONFIG", None)
os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)

# Tests must never touch a developer's real AWS account: forced throwaway keys, and no profile,
# session token or config/credentials file that boto3 could prefer or merge in.
for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(name, None)
for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
    empty = SESSION_HOME / name.lower()
    empty.touch()
    os.environ[name] = str(empty)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
)


def pytest_collection_modifyitems(session, config, items):
    """Tests with Airflow's live scheduler and triggerer (the session fixture airflow_ui) run last.
    They stay up until the session ends, on the stack's metadata database, and `airflow dags test`
    must never share it with them: the scheduler would schedule the test run's tasks too, and the
    triggerer would pick up run_tests' trigger and, once `dags test` moved on, terminate its job as
    if a user had stopped the task (the demo refuses the same, dev/demo.py)."""
    items.sort(key=lambda item: "airflow_ui" in getattr(item, "fixturenames", ()))  # stable sort


def pytest_unconfigure(config):
    shutil.rmtree(SESSION_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def session_airflow_home() -> Path:
    """The Airflow home in-process Airflow uses during the tests (never ~/airflow)."""
    return AIRFLOW_HOME


@pytest.fixture
def sample_config():
    from sdk_campaigns.config import load_config

    return load_config()


@pytest.fixture(scope="session")
def stack_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("sdkc-home")
    previous = os.environ.get("SDK_CAMPAIGNS_HOME")
    os.environ["SDK_CAMPAIGNS_HOME"] = str(home)
    from sdk_campaigns import history
    from sdk_campaigns.dev import local_aws, stack

    stack.up()
    # The campaign's history defaults to s3:// on the stack: tests read it as the administrator.
    history.use_s3_filesystem(local_aws.admin_s3_filesystem)
    yield home
    if previous is None:
        os.environ.pop("SDK_CAMPAIGNS_HOME", None)
    else:
        os.environ["SDK_CAMPAIGNS_HOME"] = previous


@pytest.fixture(autouse=True)
def _history_filesystem_restored():
    """Task bodies a test runs in its own process (publish, collect, validate) point the process's s3://
    history at an Airflow connection (history.use_airflow_connection); the next test gets back the
    filesystem it had (the stack's administrator, from stack_home), whatever the order of tests."""
    from sdk_campaigns.history import storage

    previous = storage.use_s3_filesystem(None)
    storage.use_s3_filesystem(previous)
    yield
    storage.use_s3_filesystem(previous)


@pytest.fixture(scope="session")
def aws_client(stack_home):
    """boto3 clients for the local stack's moto server, as its administrator (moto enforces IAM):
    `aws_client("s3")`. Requesting it starts the stack, so no test depends on an earlier one having
    started moto."""
    from sdk_campaigns.dev import local_aws

    # A session per client (admin_client makes one): boto3's default session is not thread-safe.
    return local_aws.admin_client


@pytest.fixture(scope="session")
def airflow_ui(stack_home, tmp_path_factory):
    """Airflow's api-server, scheduler, dag-processor and triggerer on the test stack, on a free
    port, with a campaign of the two quickest SDKs and a history and reports of their own."""
    import socket
    import uuid
    from datetime import UTC, date, datetime, timedelta

    import yaml

    from sdk_campaigns.config import DEFAULT_CONFIG_PATH
    from sdk_campaigns.dev import airflow_services, local_stack

    folder = tmp_path_factory.mktemp("scheduler")
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    config["sdks"] = {name: config["sdks"][name] for name in ("python", "go")}
    config["campaign"]["history_uri"] = str(folder / "history")
    config["campaign"]["report_dir"] = str(folder / "reports")
    # Started at least a week ago, so backfills of the last days are possible on any date
    # (tests/scheduler/test_backfill.py); catchup is off, so no more runs are scheduled for it.
    configured = date.fromisoformat(str(config["campaign"]["start_date"]))
    week_ago = datetime.now(UTC).date() - timedelta(days=7)
    config["campaign"]["start_date"] = min(configured, week_ago).isoformat()
    # Job names of this session's own: moto outlives test sessions, and a run id seen before (the
    # backfill's dates, on the same day) must not re-attach to an earlier session's finished job.
    # Under the configured prefix, which the infra stack's policies name.
    prefix = config["batch"]["job_definition_prefix"]
    config["batch"]["job_definition_prefix"] = f"{prefix}-test-{uuid.uuid4().hex[:8]}"
    config_path = folder / "campaign.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    os.environ["SDK_CAMPAIGNS_AIRFLOW_PORT"] = str(port)
    try:
        airflow_services.ensure_services(extra_env={"SDK_CAMPAIGNS_CONFIG": str(config_path)})
        airflow_services.wait_for_dag("sdk_test_campaign")
        yield {
            "config": str(config_path),
            "history_uri": str(folder / "history"),
            "report_dir": folder / "reports",
            "env": {**local_stack.airflow_env(), "SDK_CAMPAIGNS_CONFIG": str(config_path)},
        }
    finally:
        airflow_services.stop_services()
        os.environ.pop("SDK_CAMPAIGNS_AIRFLOW_PORT", None)


CHROMIUM = os.environ.get("SDK_CAMPAIGNS_CHROMIUM", "/usr/bin/chromium")
# Headless as root, and no background connections (this network refuses them, many at a time).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, driven by Playwright (never a browser Playwright downloads)."""
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}: apt-get install chromium"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
