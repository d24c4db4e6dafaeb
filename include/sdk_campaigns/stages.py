"""The campaign's stages that run more than one of tasks.py's bodies in one task.

Each task pays a process start, the DAG file's parse and its own imports, and the scheduler adds a
second or so between dependent tasks; what needs no task of its own shares one, in the order the
bodies always ran (docs/performance.md has the figures):
- plan: the plan, then the environment check (describe only) of the planned SDKs;
- build_image (per SDK): the image, then the SDK's job definition for it (image_step.py calls
  tasks.register_job) — the same SDK's run_tests submits what it registered
  (image_step.SUBMISSION_XCOM_KEY);
- publish: Great Expectations over every SDK's results, then history, report and alerts.
The verdict stays a task of its own: publish carries the history Asset's event, which a failing
task would not send.
"""

from __future__ import annotations

import logging

from sdk_campaigns import task_ids, tasks
from sdk_campaigns.campaign.plan import RUN_XCOM_KEY
from sdk_campaigns.config import CampaignConfig

log = logging.getLogger(__name__)


def plan(config: CampaignConfig, params: dict, dag_run, aws_conn_id: str) -> list[dict]:
    """tasks.plan, then tasks.check_environment; the stack's resources go to STACK_XCOM_KEY."""
    from airflow.sdk import get_current_context

    sdk_plans = tasks.plan(config, params, dag_run)
    ti = get_current_context()["ti"]
    run = ti.xcom_pull(task_ids=ti.task_id, key=RUN_XCOM_KEY)
    stack = tasks.check_environment(config, run, sdk_plans, aws_conn_id)
    ti.xcom_push(key=task_ids.STACK_XCOM_KEY, value=stack)
    return sdk_plans


def publish(config: CampaignConfig, run: dict, sdk_plans: list[dict], outlet_events, aws_conn_id: str) -> str:
    """tasks.validate, then tasks.publish, which reads the validation summary back (VALIDATION_XCOM_KEY).

    Validation that crashes never costs the run its history and report: they are published with
    the validation marked as not run, and the crash then fails this task."""
    from airflow.sdk import get_current_context

    from sdk_campaigns.campaign import arrow_memory

    arrow_memory.use_malloc()
    ti = get_current_context()["ti"]
    crashed = None
    try:
        summary = tasks.validate(config, run, sdk_plans, aws_conn_id)
    except Exception as err:  # noqa: BLE001 — re-raised once history and report are written
        log.exception("validation did not run to its end; publishing without it")
        crashed = err
        summary = {"success": False, "summary": f"validation did not run: {type(err).__name__}: {err}"}
    ti.xcom_push(key=task_ids.VALIDATION_XCOM_KEY, value=summary)
    report = tasks.publish(config, run, sdk_plans, outlet_events, aws_conn_id)
    if crashed is not None:
        raise crashed
    return report
