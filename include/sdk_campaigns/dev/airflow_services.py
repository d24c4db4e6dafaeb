"""Airflow's own components on the local stack: api-server (the UI), scheduler, dag-processor and
triggerer, each a background process on the stack's Airflow home (SQLite, LocalExecutor).

This is what `make up` gives a user (the UI with a printed login) and what the scheduler tests
run against: real scheduling, backfills and parallel mapped tasks, which `airflow dags test`
(one process, tasks one after another) cannot show.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

from sdk_campaigns.dev import local_stack

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
HEALTHY_COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")
ADMIN_USER = "admin"


def api_port() -> int:
    return int(os.environ.get("SDK_CAMPAIGNS_AIRFLOW_PORT", "8080"))


def base_url() -> str:
    return f"http://127.0.0.1:{api_port()}"


def passwords_file() -> Path:
    return local_stack.airflow_home() / "simple_auth_manager_passwords.json.generated"


def _jwt_secret() -> str:
    # One secret shared by every component (the scheduler signs task tokens the api-server checks);
    # kept in the stack's own folder, never in the env file users source.
    path = local_stack.stack_dir() / "jwt-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def services_env() -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {
        **local_stack.airflow_env(),
        # Components start task runners as `airflow …` by name: the venv's bin must come first.
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__API__BASE_URL": base_url(),
        "AIRFLOW__API__PORT": str(api_port()),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url()}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": _jwt_secret(),
        # The DAG file exists before the processor starts; pick up edits within seconds.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
    }


def health() -> dict[str, str]:
    """Each component's status as the api-server reports it ({} while it is not answering)."""
    try:
        with urllib.request.urlopen(f"{base_url()}/api/v2/monitor/health", timeout=3) as response:
            body = json.load(response)
    except (OSError, ValueError):
        return {}
    return {name: (body.get(name) or {}).get("status", "unknown") for name in HEALTHY_COMPONENTS}


def healthy() -> bool:
    states = health()
    return bool(states) and all(state == "healthy" for state in states.values())


def ensure_services(timeout: float = 180, extra_env: dict[str, str] | None = None) -> str:
    if healthy():
        if not local_stack.background_running("airflow-api-server"):
            raise local_stack.StackError(
                f"an Airflow api-server of another home already answers on {base_url()}: stop it, "
                "or set SDK_CAMPAIGNS_AIRFLOW_PORT to a free port"
            )
        return f"running at {base_url()}"
    env = {**services_env(), **(extra_env or {})}
    airflow = str(Path(sys.executable).with_name("airflow"))
    for component in COMPONENTS:
        if not local_stack.background_running(f"airflow-{component}"):
            local_stack.start_background(f"airflow-{component}", [airflow, component], env)
    local_stack.wait_until(healthy, timeout, f"Airflow ({', '.join(COMPONENTS)})")
    return f"started at {base_url()}"


def stop_services() -> list[str]:
    return [c for c in COMPONENTS if local_stack.stop_background(f"airflow-{c}")]


def login() -> tuple[str, str]:
    """The admin login the simple auth manager generated on first start."""
    passwords = json.loads(passwords_file().read_text())
    return ADMIN_USER, passwords[ADMIN_USER]


def access_token(username: str | None = None, password: str | None = None) -> str:
    """A JWT for the REST API and the plugin pages, as the UI's login form gets one."""
    if username is None:
        username, password = login()
    request = urllib.request.Request(
        f"{base_url()}/auth/token",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


def api(method: str, path: str, token: str, body: dict | None = None) -> dict:
    """One call to Airflow's REST API (v2) as the holder of `token`."""
    request = urllib.request.Request(
        f"{base_url()}/api/v2/{path.lstrip('/')}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def wait_for_dag(dag_id: str, timeout: float = 120) -> None:
    """Until the dag-processor has serialized `dag_id` (the scheduler and backfills need that)."""
    token = access_token()

    def serialized() -> bool:
        try:
            return bool(api("GET", f"dags/{dag_id}/details", token).get("dag_id"))
        except OSError:
            return False

    local_stack.wait_until(serialized, timeout, f"DAG {dag_id} in the api-server")


def wait_for_run(dag_id: str, run_id: str, token: str, timeout: float = 900, poll: float = 3) -> dict:
    """The DAG run once it ended (success or failed), printing each state it passes through."""
    deadline, state = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        run = api("GET", f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}", token)
        if run["state"] != state:
            state = run["state"]
            print(f"[{time.strftime('%X')}] {run_id}: {state}", flush=True)
        if state in ("success", "failed"):
            return run
        time.sleep(poll)
    raise local_stack.StackError(f"{dag_id} run {run_id} still {state} after {timeout:.0f} s")
