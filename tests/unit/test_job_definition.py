from aws_stand_ins import campaign_resources

from sdk_campaigns.campaign.job_definitions import KEEP_REVISIONS, job_definition_spec, register
from sdk_campaigns.config import SdkSettings

RESOURCES = campaign_resources()


def _spec(**settings):
    sdk = SdkSettings(image="python", test_command=["pytest"], **settings)
    return job_definition_spec(
        image="reg/x:c1", sdk="python", settings=sdk, resources=RESOURCES, region="eu-west-1"
    )


def test_resources_timeout_and_retries_come_from_the_config():
    spec = _spec(vcpu=2, memory_mib=8192, timeout_seconds=1200, retry_attempts=4)
    assert spec["containerProperties"]["resourceRequirements"] == [
        {"type": "VCPU", "value": "2"},
        {"type": "MEMORY", "value": "8192"},
    ]
    assert spec["timeout"] == {"attemptDurationSeconds": 1200}
    assert spec["retryStrategy"]["attempts"] == 4
    assert spec["platformCapabilities"] == ["FARGATE"]


def test_roles_network_and_logs_come_from_the_stack():
    container = _spec()["containerProperties"]
    assert (container["executionRoleArn"], container["jobRoleArn"]) == ("arn:exec", "arn:job-python")
    assert container["networkConfiguration"] == {"assignPublicIp": "ENABLED"}
    assert container["logConfiguration"]["options"] == {
        "awslogs-group": "/aws/batch/job",
        "awslogs-region": "eu-west-1",
        "awslogs-stream-prefix": "python",
    }


def test_only_infrastructure_failures_are_retried():
    rules = _spec()["retryStrategy"]["evaluateOnExit"]
    assert rules[-1] == {"onReason": "*", "action": "EXIT"}
    assert all(r["action"] == "RETRY" for r in rules[:-1])
    assert not any("onExitCode" in r for r in rules), "an exit code retry would re-run failed suites"


class _Batch:
    """Batch's job-definition calls, as a unit test's stand-in for the registry of revisions."""

    def __init__(self):
        self.definitions: list[dict] = []

    def describe_job_definitions(self, jobDefinitionName, status):
        return {"jobDefinitions": [d for d in self.definitions if d["status"] == status]}

    def register_job_definition(self, jobDefinitionName, tags, **spec):
        revision = len(self.definitions) + 1
        arn = f"arn:jd/{jobDefinitionName}:{revision}"
        self.definitions.append(
            {"jobDefinitionArn": arn, "revision": revision, "tags": tags, "status": "ACTIVE"}
        )
        return {"jobDefinitionArn": arn}

    def deregister_job_definition(self, jobDefinition):
        next(d for d in self.definitions if d["jobDefinitionArn"] == jobDefinition)["status"] = "INACTIVE"


def test_a_revision_is_registered_only_when_the_spec_changes_and_old_ones_are_deregistered():
    batch = _Batch()
    first = register(batch, "sdkc-python", _spec())
    assert register(batch, "sdkc-python", _spec()) == first
    for timeout in range(100, 900, 100):  # eight more specs
        register(batch, "sdkc-python", _spec(timeout_seconds=timeout))
    active = [d for d in batch.definitions if d["status"] == "ACTIVE"]
    assert len(batch.definitions) == 9 and len(active) == KEEP_REVISIONS + 1
    assert max(d["revision"] for d in active) == 9
