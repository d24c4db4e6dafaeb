"""Start an Airflow component with the campaign tasks' imports already made, so that the task
processes it forks inherit them: `python -m sdk_campaigns.preload scheduler` (LocalExecutor; the
same for `celery worker`).

Every task process parses the DAG file and imports what its task needs: the Amazon provider, boto3,
this package and, for publish, Great Expectations, pandas and DuckDB. That is seconds of CPU per task,
paid again by every task of every run, and on a small machine it is most of a campaign's overhead
(docs/performance.md). Airflow's LocalExecutor and Celery workers fork task processes (Linux), so
modules imported once in the forking process are there, for free, in every task: paid once per
worker, not once per task. The forked pages stay shared until written.

SDK_CAMPAIGNS_PRELOAD chooses: `all` (default), `tasks` (all but the results pipeline's Great
Expectations, pandas and DuckDB, which only publish imports: ~250 MB less in the forking process),
or `none`.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import sys
import time

log = logging.getLogger(__name__)

# Third-party modules only: this package's own (a quarter of a second) stay imported by each task, so
# an edit to include/ reaches the next task without restarting the scheduler or the workers (all but
# campaign.client_overhead, whose warmed botocore loader the forks share).
# What the DAG file and the tasks' bodies import (plan, build_image, run_tests, collect, verdict):
TASK_MODULES = (
    "airflow.sdk",
    "airflow.sdk.definitions.decorators",  # airflow.sdk imports `task` and `task_group` on first use
    "airflow.providers.standard.decorators.python",
    "airflow.providers.standard.operators.trigger_dagrun",
    "airflow.providers.amazon.aws.hooks.base_aws",
    "airflow.providers.amazon.aws.hooks.batch_client",
    "airflow.providers.amazon.aws.operators.base_aws",
    "airflow.providers.amazon.aws.operators.batch",
    "airflow.providers.amazon.aws.triggers.batch",
    "boto3",
    "botocore.session",
    "docker",
    "jinja2",
    "pydantic",
    "yaml",
)
# Only publish needs these (validation, history, the report).
RESULTS_MODULES = ("pyarrow.parquet", "pandas", "great_expectations", "duckdb")
CHOICES = {"all": TASK_MODULES + RESULTS_MODULES, "tasks": TASK_MODULES, "none": ()}


def preload(choice: str | None = None) -> tuple[int, float]:
    """Import the chosen modules; (how many, seconds). A module that fails to import is skipped:
    the task that needs it reports the error, as it would have without preloading."""
    choice = choice or os.environ.get("SDK_CAMPAIGNS_PRELOAD", "all")
    if choice not in CHOICES:
        raise SystemExit(f"SDK_CAMPAIGNS_PRELOAD={choice!r} is not one of {', '.join(CHOICES)}")
    started, done = time.monotonic(), 0
    quiet = logging.getLogger("great_expectations")
    level, quiet.level = quiet.level, logging.WARNING  # GX logs its own registrations at import
    try:
        for name in CHOICES[choice]:
            try:
                importlib.import_module(name)
                done += 1
            except Exception as err:  # noqa: BLE001 — the task itself will say what is wrong
                log.warning("preload: %s not imported: %s", name, err)
    finally:
        quiet.level = level
    if choice != "none":
        try:
            warm_caches()
        except Exception as err:  # noqa: BLE001 — each task fills them itself, as without preloading
            log.warning("preload: caches not warmed: %s", err)
    # What was imported lives as long as the process: out of the cyclic collector's sight, so neither
    # this process nor its forks walk those millions of objects again (and a walk would write to
    # their pages, which forks would then have to copy).
    gc.freeze()
    return done, time.monotonic() - started


def warm_caches() -> None:
    """What tasks compute on first use and keep for their process, made once here for every fork: the
    providers' asset URI handlers (the DAG's history Asset looks them up), and the AWS clients' parsed
    models (campaign.client_overhead: the one module of this package loaded here, because its shared
    botocore loader must be the one the forks inherit)."""
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    from sdk_campaigns.campaign import client_overhead

    if not ProvidersManagerTaskRuntime().asset_uri_handlers:
        log.warning("preload: no asset URI handlers registered")
    client_overhead.install()
    client_overhead.warm()


def main(argv: list[str]) -> None:
    from airflow.__main__ import main as airflow_main  # Airflow initialised first, as its CLI does

    count, seconds = preload()
    print(f"sdk-campaigns preload: {count} modules in {seconds:.1f} s before `airflow {' '.join(argv)}`")
    sys.argv = ["airflow", *argv]
    airflow_main()


if __name__ == "__main__":
    main(sys.argv[1:])
