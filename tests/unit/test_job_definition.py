from sdk_campaigns.campaign.environment import job_definition_spec
from sdk_campaigns.config import SdkSettings


def _spec(**settings):
    sdk = SdkSettings(image="python", test_command=["pytest"], **settings)
    return job_definition_spec(
        image="reg/x:c1", sdk=sdk, execution_role_arn="arn:exec", job_role_arn="arn:job"
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


def test_only_infrastructure_failures_are_retried():
    rules = _spec()["retryStrategy"]["evaluateOnExit"]
    assert rules[-1] == {"onReason": "*", "action": "EXIT"}
    assert all(r["action"] == "RETRY" for r in rules[:-1])
    assert not any("onExitCode" in r for r in rules), "an exit code retry would re-run failed suites"
