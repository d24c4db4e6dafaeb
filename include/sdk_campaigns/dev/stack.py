"""The whole local stack at once: `sdk-campaigns local up|down|status` (and the tests' fixture).

The pieces live in local_stack (AWS stand-ins, Docker, PostgreSQL, the Airflow home) and
airflow_services (Airflow's own components); this module only runs them in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sdk_campaigns.dev import airflow_services, local_aws, local_stack
from sdk_campaigns.dev.local_stack import StackError

__all__ = ["Check", "StackError", "down", "status", "up"]


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


STEPS: list[tuple[str, Callable[[], str]]] = [
    ("docker engine", local_stack.ensure_docker),
    (f"base image {local_stack.BASE_IMAGE}", local_stack.ensure_base_image),
    ("oci registry", local_stack.ensure_registry),
    ("jobs network", local_stack.ensure_jobs_network),
    ("moto server", local_stack.ensure_moto),
    ("campaign stack (CloudFormation)", local_aws.ensure_campaign_stack),
    ("airflow identity", local_aws.ensure_airflow_identity),
    ("postgresql", local_stack.ensure_postgres),
    ("airflow home", local_stack.ensure_airflow_home),
]


def up(install: bool = True, ui: bool = False) -> None:
    """Start every piece; with `ui`, also Airflow's components and print the UI's login."""
    local_stack.stack_dir().mkdir(parents=True, exist_ok=True)
    steps = STEPS + ([("airflow ui + scheduler", airflow_services.ensure_services)] if ui else [])
    for name, step in steps:
        started = time.monotonic()
        detail = local_stack.ensure_docker(install) if step is local_stack.ensure_docker else step()
        local_stack.say(f"  ✔ {name:<34} {detail} ({time.monotonic() - started:.1f} s)")
    local_stack.say(f"  ✔ {'environment file':<34} source {local_stack.write_env_file()}")
    if ui:
        user, password = airflow_services.login()
        local_stack.say(f"\nAirflow UI: {airflow_services.base_url()}  login: {user} / {password}")
        local_stack.say(f"(the password is in {airflow_services.passwords_file()})")


def down() -> None:
    names = [f"airflow-{c}" for c in airflow_services.COMPONENTS]
    for name in [*names, "moto", "registry", "dockerd"]:
        stopped = local_stack.stop_background(name)
        local_stack.say(f"  {'stopped' if stopped else 'not started by sdk-campaigns:'} {name}")
    local_stack.say(
        f"  {'stopped' if local_stack.stop_postgres() else 'not started by sdk-campaigns:'} postgresql"
    )


def status() -> list[Check]:
    docker_ok = local_stack.docker_ping()
    return [
        Check("docker engine", docker_ok, "reachable" if docker_ok else "not reachable"),
        Check(
            f"base image {local_stack.BASE_IMAGE}",
            docker_ok and local_stack.image_exists(local_stack.BASE_IMAGE),
            "present" if docker_ok and local_stack.image_exists(local_stack.BASE_IMAGE) else "missing",
        ),
        Check("oci registry", local_stack.registry_ready(), local_stack.registry_host()),
        Check("moto server", local_stack.moto_ready(), local_stack.moto_url()),
        Check("jobs network", docker_ok and local_stack.jobs_network_ready(), local_stack.JOBS_NETWORK),
        Check(
            "postgresql", local_stack.postgres_ready(), local_stack.airflow_database_url().rsplit("@", 1)[-1]
        ),
        Check("airflow home", local_stack.migrated_marker().exists(), str(local_stack.airflow_home())),
        Check("airflow ui + scheduler", airflow_services.healthy(), airflow_services.base_url()),
    ]
