"""Shared by the Batch integration tests: the smallest Fargate job definition moto accepts."""

from sdk_campaigns.dev import local_stack


def register_tiny_job_definition(
    batch, name: str, command: list[str], timeout_seconds: int | None = None
) -> str:
    return batch.register_job_definition(
        jobDefinitionName=name,
        type="container",
        platformCapabilities=["FARGATE"],
        containerProperties={
            "image": local_stack.BASE_IMAGE,
            "command": command,
            "resourceRequirements": [{"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "512"}],
            "executionRoleArn": "arn:aws:iam::123456789012:role/x",
        },
        **({"timeout": {"attemptDurationSeconds": timeout_seconds}} if timeout_seconds else {}),
    )["jobDefinitionArn"]
