"""Airflow's own components on the local stack: api-server (the UI), scheduler, dag-processor and
triggerer, each a background process on the stack's Airflow home (PostgreSQL, LocalExecutor).

This is what `make up` gives a user (the UI with a printed login) and what the scheduler tests
run against: real scheduling, backfills and parallel mapped tasks, which `airflow dags test`
(one process, tasks one after another) cannot show.

The REST API helpers at the end (`api`, `wait_for_dag`, `wait_for_run(s)`, `wait_until`) are what
tests and benchmarks use to drive a deployment: this stack's api-server by default, or any other
(the docker-compose one) through `server`.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from sdk_campaigns.dev import local_stack

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
HEALTHY_COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")
ADMIN_USER = "admin"
VIEWER_USER = "viewer"  # reads DAGs, changes none: what the pages show people without edit access
ENDED = ("success", "failed")
T = TypeVar("T")
# The api-server is on loopback: never ask it through a developer's HTTP proxy.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


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
        # Bytecode caches written, as in any deployment: with PYTHONDONTWRITEBYTECODE set in the shell,
        # every task process compiled this package's modules and the DAG file from source again.
        "PYTHONDONTWRITEBYTECODE": "",
        # As many task processes as the campaign DAG runs at once (max_active_tasks): with 8, the image
        # steps of 8 SDKs held every slot, and the last SDKs' jobs were submitted seconds late.
        "AIRFLOW__CORE__PARALLELISM": "16",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin,{VIEWER_USER}:viewer",
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


def health(server: str | None = None) -> dict[str, str]:
    """Each component's status as the api-server reports it ({} while it is not answering)."""
    try:
        with _http.open(f"{server or base_url()}/api/v2/monitor/health", timeout=3) as response:
            body = json.load(response)
    except (OSError, ValueError):
        return {}
    return {name: (body.get(name) or {}).get("status", "unknown") for name in HEALTHY_COMPONENTS}


def healthy(server: str | None = None) -> bool:
    states = health(server)
    return bool(states) and all(state == "healthy" for state in states.values())


def ensure_services(timeout: float = 180, extra_env: dict[str, str] | None = None) -> str:
    ours = [c for c in COMPONENTS if local_stack.background_running(f"airflow-{c}")]
    if healthy():
        if "api-server" not in ours:
            raise local_stack.StackError(
                f"an Airflow api-server of another home already answers on {base_url()}: stop it, "
                "or set SDK_CAMPAIGNS_AIRFLOW_PORT to a free port"
            )
        if len(ours) == len(COMPONENTS):
            return f"running at {base_url()}"
    # (a component just stopped still counts as healthy until its heartbeat goes stale: start it anyway)
    env = {**services_env(), **(extra_env or {})}
    airflow = str(Path(sys.executable).with_name("airflow"))
    for component in COMPONENTS:
        if not local_stack.background_running(f"airflow-{component}"):
            local_stack.start_background(f"airflow-{component}", component_argv(component, airflow), env)
    local_stack.wait_until(healthy, timeout, f"Airflow ({', '.join(COMPONENTS)})")
    return f"started at {base_url()}"


def component_argv(component: str, airflow: str) -> list[str]:
    """The scheduler starts with the tasks' imports made (sdk_campaigns.preload): the LocalExecutor's
    task processes are its forks and inherit them."""
    if component == "scheduler":
        return [sys.executable, "-m", "sdk_campaigns.preload", component]
    return [airflow, component]


def stop_services() -> list[str]:
    return [c for c in COMPONENTS if local_stack.stop_background(f"airflow-{c}")]


def login(user: str = ADMIN_USER) -> tuple[str, str]:
    """A login the simple auth manager generated on first start (the admin's unless told)."""
    passwords = json.loads(passwords_file().read_text())
    return user, passwords[user]


def access_token(username: str | None = None, password: str | None = None, server: str | None = None) -> str:
    """A JWT for the REST API and the plugin pages, as the UI's login form gets one."""
    if username is None:
        username, password = login()
    request = urllib.request.Request(
        f"{server or base_url()}/auth/token",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with _http.open(request, timeout=10) as response:
        return json.load(response)["access_token"]


def api(method: str, path: str, token: str, body: dict | None = None, server: str | None = None) -> dict:
    """One call to Airflow's REST API (v2) as the holder of `token`; HTTP errors raise HTTPError."""
    request = urllib.request.Request(
        f"{server or base_url()}/api/v2/{path.lstrip('/')}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method=method,
    )
    with _http.open(request, timeout=30) as response:
        return json.load(response)


def wait_until(predicate: Callable[[], T], timeout: float, what: str) -> T:
    """The predicate's first truthy answer, asked until `timeout` seconds have passed (then
    StackError naming `what`). The one polling loop for tests and benchmarks: local_stack's."""
    answers: list[T] = []

    def answered() -> bool:
        answer = predicate()
        if answer:
            answers.append(answer)
        return bool(answer)

    local_stack.wait_until(answered, timeout, what)
    return answers[0]


def wait_for_dag(
    dag_id: str, timeout: float = 120, token: str | None = None, server: str | None = None
) -> dict:
    """The DAG's details once the dag-processor has serialized it (the scheduler and backfills
    need that)."""
    token = token or access_token(server=server)

    def details() -> dict | None:
        try:
            found = api("GET", f"dags/{dag_id}/details", token, server=server)
        except OSError:  # not parsed yet (404), or the api-server still starting
            return None
        return found if found.get("dag_id") else None

    return wait_until(details, timeout, f"DAG {dag_id} in the api-server")


def dag_run(dag_id: str, run_id: str, token: str, server: str | None = None) -> dict | None:
    """The run as the REST API shows it; None while it does not exist."""
    try:
        return api("GET", f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}", token, server=server)
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def wait_for_runs(
    dag_id: str,
    run_ids: Iterable[str],
    token: str,
    *,
    states: Iterable[str] = ENDED,
    ended_after: datetime | None = None,
    timeout: float = 900,
    server: str | None = None,
    on_poll: Callable[[], None] | None = None,
) -> dict[str, dict]:
    """Each run once it is in one of `states` (by default: ended), by run id. Runs that do not
    exist yet are waited for. With `ended_after`, a run counts only once it ended after that
    moment (a cleared or reprocessed run keeps its id and its old end). `on_poll` runs before
    each look, for what a caller must do meanwhile. Prints the states whenever they change."""
    run_ids, states = sorted(set(run_ids)), set(states)
    shown: list = []

    def reached(run: dict | None) -> bool:
        if not run or run["state"] not in states:
            return False
        return ended_after is None or bool(
            run.get("end_date") and datetime.fromisoformat(run["end_date"]) > ended_after
        )

    def all_reached() -> dict[str, dict] | None:
        if on_poll:
            on_poll()
        runs = {run_id: dag_run(dag_id, run_id, token, server) for run_id in run_ids}
        progress = [(run_id, run and run["state"]) for run_id, run in runs.items()]
        if progress != shown:
            shown[:] = progress
            print(f"[{time.strftime('%X')}] {dag_id}: {progress}", flush=True)
        return runs if all(reached(run) for run in runs.values()) else None

    try:
        return wait_until(all_reached, timeout, f"{dag_id} runs {run_ids} in {sorted(states)}")
    except local_stack.StackError:
        raise local_stack.StackError(
            f"{dag_id} runs not all in {sorted(states)} after {timeout:.0f} s: {shown}"
        ) from None


def wait_for_run(dag_id: str, run_id: str, token: str, **options) -> dict:
    """The DAG run once it ended (success or failed); options as for wait_for_runs."""
    return wait_for_runs(dag_id, [run_id], token, **options)[run_id]
