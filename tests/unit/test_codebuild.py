"""The CodeBuild trigger and operators on each way a build ends. moto's CodeBuild always answers
SUCCEEDED, so the failure statuses come from a stand-in for the trigger's async client (CodeBuild's
BatchGetBuilds shapes) and, for the image step, from an in-process moto ECR."""

from __future__ import annotations

import asyncio
import json

import pytest

from sdk_campaigns.campaign import codebuild, images
from sdk_campaigns.image_step import BuildImageOperator

BUILD_ID = "sdk-campaigns-image-build:0b6c3f4e-1f0e-4c39-9a55-3d7a4f0f8f2e"


def build(status: str, **extra) -> dict:
    phases = [{"phaseType": "SUBMITTED", "phaseStatus": "SUCCEEDED"}]
    if status in codebuild.FAILED_STATUSES:
        phases.append(
            {
                "phaseType": "BUILD",
                "phaseStatus": status,
                "contexts": [
                    {
                        "statusCode": "COMMAND_EXECUTION_ERROR",
                        "message": "Error while executing command: docker build. Reason: exit status 1",
                    }
                ],
            }
        )
    return {"id": BUILD_ID, "buildStatus": status, "currentPhase": "BUILD", "phases": phases, **extra}


class BuildsClient:
    """CodeBuild's async client as the trigger uses it: BatchGetBuilds answers from a script."""

    def __init__(self, answers: list[dict | None]):
        self.answers = list(answers)
        self.asked = 0

    async def batch_get_builds(self, ids):
        assert ids == [BUILD_ID]
        self.asked += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return {"builds": [answer] if answer else []}

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False


class ScriptedHook:
    def __init__(self, client):
        self.client = client

    async def get_async_conn(self):
        return self.client


def trigger_events(answers: list[dict | None], attempts: int = 5) -> tuple[list[dict], BuildsClient]:
    client = BuildsClient(answers)
    trigger = codebuild.CodeBuildBuildCompleteTrigger(
        build_id=BUILD_ID, waiter_delay=0, waiter_max_attempts=attempts
    )
    trigger.hook = lambda: ScriptedHook(client)

    async def collect():
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect()), client


def test_the_trigger_serializes_what_it_needs_to_resume_in_a_triggerer():
    trigger = codebuild.CodeBuildBuildCompleteTrigger(
        build_id=BUILD_ID, waiter_delay=7, waiter_max_attempts=9
    )
    path, kwargs = trigger.serialize()
    assert path == "sdk_campaigns.campaign.codebuild.CodeBuildBuildCompleteTrigger"
    assert (
        kwargs["build_id"] == BUILD_ID and kwargs["waiter_delay"] == 7 and kwargs["waiter_max_attempts"] == 9
    )
    again = codebuild.CodeBuildBuildCompleteTrigger(**kwargs)
    assert again.serialize() == (path, kwargs)


def test_the_trigger_waits_through_in_progress_until_succeeded():
    events, client = trigger_events([build("IN_PROGRESS"), build("IN_PROGRESS"), build("SUCCEEDED")])
    assert client.asked == 3
    assert events == [
        {
            "status": "success",
            "build_id": BUILD_ID,
            "build_status": "SUCCEEDED",
            "message": f"CodeBuild build {BUILD_ID} succeeded",
        }
    ]


@pytest.mark.parametrize(
    ("status", "says"),
    [
        ("FAILED", "failed"),
        ("FAULT", "failed inside CodeBuild (FAULT)"),
        ("STOPPED", "was stopped before it finished"),
        ("TIMED_OUT", "timed out after 60 minutes"),
    ],
)
def test_each_failure_status_ends_the_wait_with_the_phase_and_codebuilds_own_words(status, says):
    events, _ = trigger_events([build("IN_PROGRESS"), build(status, timeoutInMinutes=60)])
    (event,) = events
    assert event["status"] == "error" and event["build_status"] == status
    assert event["message"] == (
        f"CodeBuild build {BUILD_ID} {says} (buildStatus {status}, phase BUILD): COMMAND_EXECUTION_ERROR: "
        "Error while executing command: docker build. Reason: exit status 1"
    )


def test_a_build_still_running_when_the_attempts_run_out_is_an_error_not_a_success():
    events, client = trigger_events([build("IN_PROGRESS")], attempts=3)
    assert client.asked == 3
    assert events[0]["status"] == "error" and "still running after 3 looks" in events[0]["message"]


def test_an_unknown_build_is_an_error():
    events, _ = trigger_events([None])
    assert events[0]["status"] == "error" and "knows no build" in events[0]["message"]


def test_the_operator_raises_the_trigger_s_failure_and_returns_the_build_on_success():
    operator = codebuild.CodeBuildStartBuildOperator(task_id="build", project_name="p")
    with pytest.raises(codebuild.CodeBuildBuildFailed, match="was stopped"):
        operator.execute_complete(
            {}, {"status": "error", "build_id": BUILD_ID, "message": "build x was stopped"}
        )
    assert operator.execute_complete({}, {"status": "success", "build_id": BUILD_ID}) == BUILD_ID


# --- the image step on a failed build: an infrastructure failure, named --------------------------------

SPEC = images.ImageSpec(
    sdk="python",
    folder="python",
    repository="sdk-campaigns/python",
    image="127.0.0.1:5000/sdk-campaigns/python:c0123456789abcdef01234567",
    content_tag="c0123456789abcdef01234567",
    base_image="127.0.0.1:5000/library/debian@sha256:" + "a" * 64,
    context_sha256="b" * 64,
)


@pytest.fixture
def moto_ecr(monkeypatch):
    """An in-process moto ECR with the SDK's repository, reached through the aws_default connection."""
    from moto import mock_aws

    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws", "extra": {}}))
    with mock_aws():
        import boto3

        ecr = boto3.client("ecr", region_name="us-east-1")
        ecr.create_repository(repositoryName=SPEC.repository)
        yield ecr


class RequestedImage:
    """The task instance's XCom as execute_complete reads it: the image the build was started for."""

    map_index = 0

    def xcom_pull(self, task_ids, key, map_indexes):
        assert (task_ids, key, map_indexes) == ("build_image", "image_build", 0)
        return {"image": SPEC.to_dict(), "started_at": 0}


def image_step() -> BuildImageOperator:
    return BuildImageOperator(
        task_id="build_image",
        sdk_plan={},
        stack={},
        builder="codebuild",
        base_image="127.0.0.1:5000/library/debian:bookworm-slim",
        build_context_prefix="build-context/",
    )


@pytest.mark.parametrize("status", ["FAILED", "STOPPED", "TIMED_OUT"])
def test_a_failed_build_fails_the_image_step_as_an_infrastructure_failure(moto_ecr, status):
    reason = codebuild.build_failure_reason(build(status, timeoutInMinutes=60))
    event = {"status": "error", "build_id": BUILD_ID, "build_status": status, "message": reason}
    with pytest.raises(images.ImageBuildError) as failure:
        image_step().execute_complete({"ti": RequestedImage()}, event)
    assert str(failure.value) == f"the python image build failed (infrastructure_failed): {reason}"
    assert f"buildStatus {status}" in str(failure.value)


def test_a_succeeded_build_whose_image_is_not_in_ecr_is_an_infrastructure_failure(moto_ecr):
    event = {"status": "success", "build_id": BUILD_ID, "build_status": "SUCCEEDED", "message": "ok"}
    with pytest.raises(
        images.ImageBuildError, match="infrastructure_failed.*ECR has no sdk-campaigns/python"
    ):
        image_step().execute_complete({"ti": RequestedImage()}, event)


def test_builders_are_named_in_config_terms():
    with pytest.raises(ValueError, match="images.builder 'kaniko' is not one of docker, codebuild"):
        BuildImageOperator(
            task_id="t", sdk_plan={}, stack={}, builder="kaniko", base_image="x", build_context_prefix="p/"
        )
