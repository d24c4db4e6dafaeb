"""Shared by the Batch integration tests: a Fargate queue on moto and the smallest job definition
it accepts. Test scaffolding only: in a deployment the campaign's CDK stack (infra/) makes the
queue, and the DAG only checks that it exists."""

import json

from sdk_campaigns.dev import airflow_services, local_stack

SERVICE_ROLE = "it-batch-service"


def _service_role(iam) -> str:
    try:
        return iam.get_role(RoleName=SERVICE_ROLE)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        service = {"Service": "batch.amazonaws.com"}
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": service, "Action": "sts:AssumeRole"}],
        }
        role = iam.create_role(RoleName=SERVICE_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
        return role["Role"]["Arn"]


def _valid(describe, key: str) -> bool:
    found = describe()[key]
    return bool(found) and found[0].get("status") == "VALID"


def fargate_queue(aws_client, name: str) -> str:
    """A Fargate compute environment and job queue, both called `name`, on the default VPC;
    made once and reused."""
    batch, ec2 = aws_client("batch"), aws_client("ec2")

    def environments():
        return batch.describe_compute_environments(computeEnvironments=[name])

    def queues():
        return batch.describe_job_queues(jobQueues=[name])

    if not environments()["computeEnvironments"]:
        vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        in_vpc = [{"Name": "vpc-id", "Values": [vpc]}]
        batch.create_compute_environment(
            computeEnvironmentName=name,
            type="MANAGED",
            state="ENABLED",
            serviceRole=_service_role(aws_client("iam")),
            computeResources={
                "type": "FARGATE",
                "maxvCpus": 16,
                "subnets": [s["SubnetId"] for s in ec2.describe_subnets(Filters=in_vpc)["Subnets"]],
                "securityGroupIds": [
                    g["GroupId"]
                    for g in ec2.describe_security_groups(
                        Filters=[*in_vpc, {"Name": "group-name", "Values": ["default"]}]
                    )["SecurityGroups"]
                ],
            },
        )
    airflow_services.wait_until(lambda: _valid(environments, "computeEnvironments"), 120, f"Batch env {name}")
    if not queues()["jobQueues"]:
        batch.create_job_queue(
            jobQueueName=name,
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": name}],
        )
    airflow_services.wait_until(lambda: _valid(queues, "jobQueues"), 120, f"job queue {name}")
    return name


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
