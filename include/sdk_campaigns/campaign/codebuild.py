"""AWS CodeBuild for Airflow, in the Amazon provider's own style: a hook, an operator that starts a build
and a trigger that waits for it without holding a worker slot.

apache-airflow-providers-amazon (9.34 on MWAA, 9.39 in the lock) has no CodeBuild operator. These use
only what both versions have: AwsBaseHook, AwsBaseOperator, AwsBaseWaiterTrigger (whose `hook()` is
overridden, as 9.34 requires) and the hook's aiobotocore client. CodeBuild has no botocore waiter,
so the trigger polls BatchGetBuilds itself, as the provider's Glue trigger polls GetJobRun.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, conf
from airflow.triggers.base import TriggerEvent

SUCCEEDED = "SUCCEEDED"
# Every buildStatus that ends a build without an image (CodeBuild's BuildStatus enum).
FAILED_STATUSES = ("FAILED", "FAULT", "STOPPED", "TIMED_OUT")
STATUS_MEANINGS = {
    "FAILED": "failed",
    "FAULT": "failed inside CodeBuild (FAULT)",
    "STOPPED": "was stopped before it finished",
    "TIMED_OUT": "timed out",
}


class CodeBuildBuildFailed(AirflowException):
    """A build ended FAILED, FAULT, STOPPED or TIMED_OUT (or the wait for it gave up)."""


class CodeBuildHook(AwsBaseHook):
    """Interact with AWS CodeBuild (boto3's `codebuild` client)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["client_type"] = "codebuild"
        super().__init__(*args, **kwargs)

    def get_build(self, build_id: str) -> dict:
        builds = self.conn.batch_get_builds(ids=[build_id]).get("builds") or []
        if not builds:
            raise CodeBuildBuildFailed(f"CodeBuild knows no build {build_id}")
        return builds[0]


def build_failure_reason(build: dict) -> str:
    """Which build, what status, in which phase and CodeBuild's own words for it."""
    status = build.get("buildStatus", "UNKNOWN")
    what = STATUS_MEANINGS.get(status, f"ended {status}")
    if status == "TIMED_OUT" and build.get("timeoutInMinutes"):
        what += f" after {build['timeoutInMinutes']} minutes"
    failed = [p for p in build.get("phases") or [] if p.get("phaseStatus") in FAILED_STATUSES]
    phase = failed[0] if failed else {"phaseType": build.get("currentPhase", "unknown")}
    details = "; ".join(
        f"{c.get('statusCode', '')}: {c['message']}".strip(": ")
        for c in phase.get("contexts") or []
        if c.get("message")
    )
    reason = (
        f"CodeBuild build {build.get('id', '?')} {what} (buildStatus {status}, phase {phase['phaseType']})"
    )
    return f"{reason}: {details}" if details else reason


class CodeBuildBuildCompleteTrigger(AwsBaseWaiterTrigger):
    """Fires when a CodeBuild build ends: status "success" for SUCCEEDED, "error" with the build's
    failure reason for FAILED, FAULT, STOPPED and TIMED_OUT, or when the attempts run out.

    :param build_id: the build to watch (`project:uuid`, as StartBuild returns it)
    :param waiter_delay: seconds between looks at the build
    :param waiter_max_attempts: looks before giving up
    """

    def __init__(
        self,
        *,
        build_id: str,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 120,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__(
            serialized_fields={"build_id": build_id},
            waiter_name="build_complete",  # no botocore waiter exists: run() below polls
            waiter_args={"ids": [build_id]},
            failure_message="CodeBuild build failed",
            status_message="CodeBuild build status",
            status_queries=["builds[0].buildStatus", "builds[0].currentPhase"],
            return_key="build_id",
            return_value=build_id,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )
        self.build_id = build_id

    def hook(self) -> CodeBuildHook:
        return CodeBuildHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
        )

    def _event(self, status: str, build_status: str, message: str) -> TriggerEvent:
        return TriggerEvent(
            {"status": status, "build_id": self.build_id, "build_status": build_status, "message": message}
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        async with await self.hook().get_async_conn() as client:
            for attempt in range(1, self.attempts + 1):
                builds = (await client.batch_get_builds(ids=[self.build_id])).get("builds") or []
                if not builds:
                    yield self._event("error", "UNKNOWN", f"CodeBuild knows no build {self.build_id}")
                    return
                build = builds[0]
                status = build.get("buildStatus", "")
                if status == SUCCEEDED:
                    yield self._event("success", status, f"CodeBuild build {self.build_id} succeeded")
                    return
                if status in FAILED_STATUSES:
                    yield self._event("error", status, build_failure_reason(build))
                    return
                self.log.info(
                    "CodeBuild build %s: %s, phase %s (look %d of %d)",
                    self.build_id,
                    status,
                    build.get("currentPhase"),
                    attempt,
                    self.attempts,
                )
                await asyncio.sleep(self.waiter_delay)
        yield self._event(
            "error",
            "IN_PROGRESS",
            f"CodeBuild build {self.build_id} still running after {self.attempts} looks "
            f"{self.waiter_delay} s apart: gave up waiting (the build goes on; stop it in CodeBuild)",
        )


class CodeBuildStartBuildOperator(AwsBaseOperator[CodeBuildHook]):
    """Start a build of an AWS CodeBuild project and wait for it to end.

    :param project_name: the CodeBuild project
    :param start_build_kwargs: StartBuild's other parameters (overrides), as boto3 names them
    :param wait_for_completion: wait for the build to end (default), else return once it started
    :param deferrable: wait in the triggerer (CodeBuildBuildCompleteTrigger): no worker slot is held
    :param waiter_delay: seconds between looks at the build
    :param waiter_max_attempts: looks before giving up
    :return: the build's id
    """

    aws_hook_class = CodeBuildHook
    template_fields: Sequence[str] = aws_template_fields("project_name", "start_build_kwargs")
    template_fields_renderers = {"start_build_kwargs": "json"}
    ui_color = "#f6e3c9"

    def __init__(
        self,
        *,
        project_name: str = "",
        start_build_kwargs: dict[str, Any] | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        waiter_delay: int = 30,
        waiter_max_attempts: int = 120,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.project_name = project_name
        self.start_build_kwargs = start_build_kwargs or {}
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def build_started(self, context, build: dict) -> None:
        """Called with StartBuild's build, before any wait: subclasses persist links here."""

    def execute(self, context) -> str:
        build = self.hook.conn.start_build(projectName=self.project_name, **self.start_build_kwargs)["build"]
        build_id = build["id"]
        self.log.info("started CodeBuild build %s of project %s", build_id, self.project_name)
        self.build_started(context, build)
        if not self.wait_for_completion:
            return build_id
        if self.deferrable:
            self.defer(
                trigger=CodeBuildBuildCompleteTrigger(
                    build_id=build_id,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.waiter_delay * self.waiter_max_attempts + 60),
            )
        for _ in range(self.waiter_max_attempts):
            build = self.hook.get_build(build_id)
            if build.get("buildStatus") == SUCCEEDED:
                return build_id
            if build.get("buildStatus") in FAILED_STATUSES:
                raise CodeBuildBuildFailed(build_failure_reason(build))
            self.log.info("CodeBuild build %s: %s", build_id, build.get("currentPhase"))
            time.sleep(self.waiter_delay)
        raise CodeBuildBuildFailed(
            f"CodeBuild build {build_id} still running after {self.waiter_max_attempts} looks"
        )

    def execute_complete(self, context, event: dict[str, Any] | None = None) -> str:
        event = validate_execute_complete_event(event)
        if event.get("status") != "success":
            raise CodeBuildBuildFailed(event.get("message") or f"CodeBuild build ended: {event}")
        self.log.info("%s", event.get("message"))
        return event["build_id"]
