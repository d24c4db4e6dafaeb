"""Smoke test of docker-compose.yaml: build the stack's images, bring it up (aws-init deploys the
campaign's CloudFormation stack into moto, IAM enforced), find the DAG through the REST API and run
a three-SDK campaign to success with the LocalExecutor, which builds and pushes the SDK images.
Then the same stack again as the `celery` profile: CeleryExecutor, Redis, two workers and no
Docker socket anywhere in Airflow; the same campaign runs to success on both workers. Everything
is torn down with its volumes.

Slow on a cold machine (the Airflow image installs the lock: about 5 minutes); a rerun reuses
Docker's layer cache and takes a few minutes, most of it Airflow starting and the campaigns.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sdk_campaigns.config import REPO_ROOT
from sdk_campaigns.dev import airflow_services, local_stack

pytestmark = [pytest.mark.stack, pytest.mark.compose]

# One compose project (and network) per test process, so concurrent runs on one Docker
# Engine never tear down each other's stack.
PROJECT_PREFIX = "sdkc-smoke-"
DAG_ID = "sdk_test_campaign"
# The three smallest SDK images (python, ruby, php: about 0.4 GB each; go is 1 GB): this stack's
# registry starts empty, so every run pushes them.
SDKS = ["python", "ruby", "php"]
CELERY = {"SDKC_EXECUTOR": "CeleryExecutor", "SDKC_DOCKER_SOCKET": "/dev/null"}
ADMIN_USER = "admin"
HEALTH_TIMEOUT = 300
RUN_TIMEOUT = 20 * 60


def _say(message: str) -> None:
    print(f"[compose smoke] {message}", flush=True)


def _port(preferred: int) -> int:
    """The documented default port when it is free, so reruns reuse the same image names."""
    with socket.socket() as probe:
        # As servers do: a port whose last connections linger in TIME_WAIT is still free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


class Compose:
    def __init__(self, project: str, env: dict[str, str]):
        self.project = project
        # The networks' names are the project's.
        self.env = {**env, "SDKC_NETWORK": project, "SDKC_JOBS_NETWORK": f"{project}-jobs"}
        self.jobs_bridge = f"sdkc-cj{project.rsplit('-', 1)[-1]}"[:15]
        self.env["SDKC_JOBS_BRIDGE"] = self.jobs_bridge

    def run(self, *args: str, timeout: float, check: bool = True) -> str:
        result = subprocess.run(
            ["docker-compose", "--ansi", "never", "-p", self.project, "-f", "docker-compose.yaml", *args],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker-compose {' '.join(args)} exited {result.returncode}:\n{result.stdout[-4000:]}"
            )
        return result.stdout

    def down(self, check: bool = True) -> None:
        """Stop the stack, then remove the Batch job containers its moto started but did not
        clean up (a job still running when moto stopped), which would keep the network alive."""
        # Every profile's services, so the celery ones go too.
        self.run("--profile", "celery", "stop", timeout=300, check=check)
        client = local_stack.docker_client()
        for network in (self.project, f"{self.project}-jobs"):
            for container in client.containers.list(all=True, filters={"network": network}):
                if container.labels.get("com.docker.compose.project") != self.project:
                    container.remove(force=True)
        self.run("--profile", "celery", "down", "--volumes", "--remove-orphans", timeout=300, check=check)


def _remove_stale_stacks(env: dict[str, str]) -> None:
    """Stacks of smoke tests whose process is gone (killed before its teardown)."""
    import psutil

    containers = local_stack.docker_client().containers.list(
        all=True, filters={"label": "com.docker.compose.project"}
    )
    for project in {c.labels["com.docker.compose.project"] for c in containers}:
        owner = project.removeprefix(PROJECT_PREFIX)
        if project.startswith(PROJECT_PREFIX) and owner.isdigit() and not psutil.pid_exists(int(owner)):
            _say(f"removing {project}, left by a test process that no longer runs")
            Compose(project, env).down(check=False)


class AirflowApi:
    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=30, trust_env=False)
        self.token = ""

    def login(self, username: str, password: str) -> httpx.Response:
        response = self.http.post("/auth/token", json={"username": username, "password": password})
        if response.status_code == 201:
            self.token = response.json()["access_token"]
            self.http.headers["Authorization"] = f"Bearer {self.token}"
        return response

    def get(self, path: str, **params) -> dict:
        response = self.http.get(f"/api/v2{path}", params=params)
        response.raise_for_status()
        return response.json()

    def task_instances(self, run_id: str) -> list[dict]:
        return self.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", limit=100)["task_instances"]

    def log_lines(self, run_id: str, ti: dict) -> list[str]:
        document = self.get(
            f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}",
            map_index=ti["map_index"],
        )
        return [line if isinstance(line, str) else str(line.get("event")) for line in document["content"]]


def _states(task_instances: list[dict]) -> str:
    return ", ".join(
        f"{ti['task_id']}[{ti.get('rendered_map_index') or ti['map_index']}]={ti['state']}"
        if ti["map_index"] >= 0
        else f"{ti['task_id']}={ti['state']}"
        for ti in sorted(task_instances, key=lambda t: (t["task_id"], t["map_index"]))
    )


def _wait_for_run(api: AirflowApi, run_id: str) -> dict:
    """Poll the run to its end. Unpausing also makes the scheduler start the cron schedule's
    latest run (every SDK): it is failed as soon as it shows up, so it does not slow this run down.
    (Deleting it instead would make the scheduler create it again.)"""
    last = ""

    def meanwhile() -> None:
        nonlocal last
        for other in api.get(f"/dags/{DAG_ID}/dagRuns", limit=100)["dag_runs"]:
            if other["dag_run_id"] != run_id and other["state"] in ("queued", "running"):
                path = f"/api/v2/dags/{DAG_ID}/dagRuns/{other['dag_run_id']}"
                stopped = api.http.patch(path, json={"state": "failed"})
                _say(f"failed the schedule's run {other['dag_run_id']}: HTTP {stopped.status_code}")
        states = _states(api.task_instances(run_id))
        if states != last:
            _say(states)
            last = states

    return airflow_services.wait_for_run(
        DAG_ID, run_id, api.token, timeout=RUN_TIMEOUT, server=api.base_url, on_poll=meanwhile
    )


def _failed_task_logs(api: AirflowApi, run_id: str) -> str:
    report = []
    for ti in api.task_instances(run_id):
        if ti["state"] not in ("success", "skipped") and ti["try_number"]:
            lines = api.log_lines(run_id, ti)
            report.append(f"--- {ti['task_id']}[{ti['map_index']}] {ti['state']}:\n" + "\n".join(lines[-30:]))
    return "\n".join(report)


def _run_campaign(api: AirflowApi, sdks: list[str]) -> list[dict]:
    """Trigger a campaign for `sdks`, wait for its success and check every SDK's outcome; returns
    the run's task instances."""
    mark = time.monotonic()
    body = {"logical_date": None, "conf": {"sdks": sdks}}
    trigger = api.http.post(f"/api/v2/dags/{DAG_ID}/dagRuns", json=body)
    assert trigger.status_code == 200, trigger.text
    run_id = trigger.json()["dag_run_id"]
    unpause = api.http.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": False})
    assert unpause.status_code == 200, unpause.text
    run = _wait_for_run(api, run_id)
    assert run["state"] == "success", _failed_task_logs(api, run_id)
    _say(f"campaign {run_id} succeeded in {time.monotonic() - mark:.0f} s")

    task_instances = api.task_instances(run_id)
    # start_culprit_finder maps over the run's breaks: with none, Airflow skips it.
    states = {ti["state"] for ti in task_instances if ti["task_id"] != "start_culprit_finder"}
    assert states == {"success"}, _states(task_instances)
    (culprit_finder,) = [ti for ti in task_instances if ti["task_id"] == "start_culprit_finder"]
    assert culprit_finder["state"] == "skipped", _states(task_instances)  # no break in a first run
    for task_id in ("build_image", "run_tests", "collect"):
        mapped = sorted(ti["rendered_map_index"] for ti in task_instances if ti["task_id"] == task_id)
        assert mapped == sorted(sdks), f"{task_id}: {mapped}"
    for ti in task_instances:
        if ti["task_id"] != "collect":
            continue
        outcome = api.get(
            f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/collect/xcomEntries/return_value",
            map_index=ti["map_index"],
        )["value"]
        assert outcome["status"] in ("passed", "tests_failed"), outcome
        assert outcome["counts"]["total"] > 0, outcome
        assert any("SDK_CAMPAIGN_SUMMARY" in line for line in api.log_lines(run_id, ti)), (
            f"{outcome['sdk']}: the job's own log is not in the collect task's log"
        )
        _say(f"{outcome['sdk']}: {outcome['status']} ({outcome['reason']})")
    return task_instances


def _up(compose: Compose, api: AirflowApi, *args: str) -> None:
    mark = time.monotonic()
    compose.run(*args, "up", "-d", timeout=900)
    # The local stack's jobs bridge holds 169.254.170.2 on this host: without this the host would
    # answer ARP for it on the compose jobs network too, in place of moto (docs/compose.md).
    Path(f"/proc/sys/net/ipv4/conf/{compose.jobs_bridge}/arp_ignore").write_text("1")
    airflow_services.wait_until(
        lambda: airflow_services.healthy(api.base_url), HEALTH_TIMEOUT, f"Airflow of {compose.project}"
    )
    _say(f"{compose.project} {' '.join(args)} up and healthy in {time.monotonic() - mark:.0f} s")


def test_compose_stack_runs_campaigns_with_local_and_celery_executors():
    started = time.monotonic()
    local_stack.ensure_docker()
    local_stack.ensure_base_image()
    # The CLI of the venv running the tests: CI's venv lives outside the clone.
    cli = Path(sys.executable).parent / "sdk-campaigns"
    subprocess.run(
        [str(REPO_ROOT / "images" / "stack" / "prepare.sh")],
        check=True,
        env={**os.environ, "SDK_CAMPAIGNS_CLI": str(cli)},
    )

    project = f"{PROJECT_PREFIX}{os.getpid()}"
    api_port, registry_port = _port(8280), _port(5001)
    admin_password = secrets.token_urlsafe(16)
    env = {
        **os.environ,
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "AIRFLOW_FERNET_KEY": _fernet_key(),
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(64),
        "AIRFLOW_ADMIN_USER": ADMIN_USER,
        "AIRFLOW_ADMIN_PASSWORD": admin_password,
        "SDKC_BASE_IMAGE": local_stack.BASE_IMAGE,
        "SDKC_API_PORT": str(api_port),
        "SDKC_REGISTRY_PORT": str(registry_port),
    }
    _remove_stale_stacks(env)
    compose = Compose(project, env)
    api = AirflowApi(f"http://127.0.0.1:{api_port}")
    passed = False
    try:
        mark = time.monotonic()
        compose.run("--profile", "celery", "build", "--force-rm", timeout=3600)
        _say(f"images built in {time.monotonic() - mark:.0f} s")

        _up(compose, api)
        assert api.http.get(f"/api/v2/dags/{DAG_ID}").status_code == 401, "the API must require a login"
        assert api.login(ADMIN_USER, "admin").status_code == 401, "no default password"
        login = api.login(ADMIN_USER, admin_password)
        assert login.status_code == 201, login.text

        dag = airflow_services.wait_for_dag(DAG_ID, HEALTH_TIMEOUT, token=api.token, server=api.base_url)
        import_errors = api.get("/importErrors")
        assert import_errors["total_entries"] == 0, import_errors["import_errors"]
        _say(f"DAG {dag['dag_id']} parsed from {dag['fileloc']}, no import errors")

        # LocalExecutor: the scheduler builds the SDK images with the host's engine and pushes them.
        _run_campaign(api, SDKS)

        # The celery profile on the same volumes: the images are in the registry and moto's ECR now.
        compose.env.update(CELERY)
        _up(compose, api, "--profile", "celery")
        assert api.login(ADMIN_USER, admin_password).status_code == 201
        task_instances = _run_campaign(api, SDKS)
        hostnames = {ti["hostname"] for ti in task_instances}
        _say(f"tasks ran on {sorted(hostnames)}")
        assert len({h for h in hostnames if h.startswith("airflow-worker-")}) >= 2, hostnames
        passed = True
    finally:
        if not passed:
            _say("docker-compose logs (tail):\n" + compose.run("logs", "--tail=40", timeout=120, check=False))
        mark = time.monotonic()
        compose.down(check=passed)  # after a failure, that failure is the one to report
        _say(f"torn down in {time.monotonic() - mark:.0f} s; whole test {time.monotonic() - started:.0f} s")
