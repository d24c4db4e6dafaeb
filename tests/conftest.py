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
    from sdk_campaigns.dev import stack

    stack.up()
    yield home
    if previous is None:
        os.environ.pop("SDK_CAMPAIGNS_HOME", None)
    else:
        os.environ["SDK_CAMPAIGNS_HOME"] = previous


@pytest.fixture(scope="session")
def airflow_ui(stack_home, tmp_path_factory):
    """Airflow's api-server, scheduler, dag-processor and triggerer on the test stack, on a free
    port, with a campaign of the two quickest SDKs and a history and reports of their own."""
    import socket

    import yaml

    from sdk_campaigns.config import DEFAULT_CONFIG_PATH
    from sdk_campaigns.dev import airflow_services, local_stack

    folder = tmp_path_factory.mktemp("scheduler")
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    config["sdks"] = {name: config["sdks"][name] for name in ("python", "go")}
    config["campaign"]["history_uri"] = str(folder / "history")
    config["campaign"]["report_dir"] = str(folder / "reports")
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
