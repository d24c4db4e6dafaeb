"""Read a synthesized template as it will deploy: intrinsic functions resolved to names and ARNs.

For the docs (the Airflow policy shown in full), for tests that compare the template's ARNs with
`layout.py`, and for filling moto's gaps with the same values CloudFormation would use. Account and
region stay placeholders unless given.
"""

from __future__ import annotations

import json

ACCOUNT = "<account>"
REGION = "<region>"


class Renderer:
    def __init__(self, template: dict, account: str = ACCOUNT, region: str = REGION, partition: str = "aws"):
        self.resources = template["Resources"]
        self.account, self.region, self.partition = account, region, partition
        self.stack_name = ""
        for resource in self.resources.values():  # the stack's name is in the Airflow policy's stack ARN
            if resource["Type"] == "AWS::IAM::ManagedPolicy":
                self.stack_name = resource["Properties"]["ManagedPolicyName"].removesuffix("-airflow")

    def __call__(self, value):
        if isinstance(value, list):
            return [self(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self.ref(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            logical, attribute = value["Fn::GetAtt"]
            return self.get_att(logical, attribute)
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self(part)) for part in parts)
        return {key: self(item) for key, item in value.items()}

    def _arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account if account else ''}:{resource}"
        )

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Partition": self.partition,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
        }
        if name in pseudo:
            return pseudo[name]
        resource = self.resources[name]
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::S3::Bucket":
            return props["BucketName"]
        if kind == "AWS::Logs::LogGroup":
            return props["LogGroupName"]
        if kind == "AWS::ECR::Repository":
            return props["RepositoryName"]
        if kind == "AWS::IAM::Role":
            return props["RoleName"]
        if kind == "AWS::CodeBuild::Project":
            return props["Name"]
        if kind == "AWS::SNS::Topic":
            return self._arn("sns", props["TopicName"])
        if kind == "AWS::IAM::ManagedPolicy":
            return self._arn("iam", f"policy/{props['ManagedPolicyName']}", region=False)
        if kind == "AWS::Batch::JobQueue":
            return self._arn("batch", f"job-queue/{props['JobQueueName']}")
        if kind == "AWS::Batch::ComputeEnvironment":
            return self._arn("batch", f"compute-environment/{props['ComputeEnvironmentName']}")
        return f"<{name}>"  # generated ids (VPC, subnets, security group): known only once deployed

    def get_att(self, name: str, attribute: str) -> str:
        resource = self.resources[name]
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if attribute == "Arn":
            if kind == "AWS::IAM::Role":
                return self._arn("iam", f"role/{props['RoleName']}", region=False)
            if kind == "AWS::S3::Bucket":
                return self._arn("s3", props["BucketName"], region=False, account=False)
            if kind == "AWS::ECR::Repository":
                return self._arn("ecr", f"repository/{props['RepositoryName']}")
            if kind == "AWS::Logs::LogGroup":
                return self._arn("logs", f"log-group:{props['LogGroupName']}:*")
        return f"<{name}.{attribute}>"


def resources_of_type(template: dict, kind: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def airflow_policy(template: dict, **where) -> dict:
    """The Airflow role's policy document, rendered (placeholders for account and region)."""
    (policy,) = resources_of_type(template, "AWS::IAM::ManagedPolicy").values()
    return Renderer(template, **where)(policy["Properties"]["PolicyDocument"])


def airflow_policy_json(template: dict) -> str:
    return json.dumps(airflow_policy(template), indent=2)
