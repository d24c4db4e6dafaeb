"""Fixtures of the infra tests: the template synthesized once, the linters' venv, a moto server of
their own (a free port, never the shared local stack's)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "infra"))


def pytest_configure(config):
    config.addinivalue_line("markers", "infra: the CDK stack: synthesized, linted, deployed into moto")


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(item.fspath).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.infra)


@pytest.fixture(scope="session")
def campaign_config():
    from sdk_campaigns.config import load_config

    return load_config(REPO_ROOT / "include" / "campaign.yaml")


@pytest.fixture(scope="session")
def template(campaign_config) -> dict:
    from sdk_campaigns_infra import synth_template

    return synth_template(campaign_config)


@pytest.fixture(scope="session")
def template_file(template, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("infra") / "template.json"
    path.write_text(json.dumps(template, indent=1))
    return path


@pytest.fixture(scope="session")
def tools_bin() -> Path:
    """cfn-lint and checkov, from their own venv (scripts/tools-venv.sh makes it when missing)."""
    script = REPO_ROOT / "scripts" / "tools-venv.sh"
    done = subprocess.run([str(script)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        pytest.fail(
            f"could not create the linters' venv: run scripts/tools-venv.sh (TOOLS_VENV=...) and see why\n"
            f"{done.stderr[-3000:]}"
        )
    venv = Path(done.stdout.strip().splitlines()[-1])
    return (venv if venv.is_absolute() else REPO_ROOT / venv) / "bin"


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory):
    """A moto server over HTTP, started for these tests on a free port and stopped after them."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"moto server did not start on {url}; see {log.name}")
            time.sleep(0.2)
    try:
        yield url
    finally:
        server.terminate()
        server.wait(10)
        log.close()


@pytest.fixture(scope="session")
def aws(moto_endpoint):
    """boto3 clients of the test's moto server (dummy credentials: never a real account)."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return lambda service: session.client(service, endpoint_url=moto_endpoint)
