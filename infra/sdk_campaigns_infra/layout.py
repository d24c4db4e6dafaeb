"""Where things live in the results bucket: the one definition the stack's policies are built from.

Keys under a campaign's results bucket:

    <dag_id>/<run_id>/<sdk>/results/...   the job writes here (JUnit, its summary): its job role may
                                          PutObject nothing else
    <dag_id>/<run_id>/<sdk>/outcome.json  written by the DAG beside it (as are job.log and the like):
                                          the job must not be able to forge them
    <history_prefix>...                   the published history, never expired
    <build_context_prefix>...             image build inputs for CodeBuild

The run part is matched by a wildcard so that the DAG may put the attempt in it (or below
`results/`) without a change to the roles.
"""

from __future__ import annotations

RESULTS_FOLDER = "results"


def job_results_pattern(dag_id: str, sdk: str) -> str:
    """The keys one SDK's job may write, as an IAM resource pattern relative to the bucket."""
    return f"{dag_id}/*/{sdk}/{RESULTS_FOLDER}/*"


def job_results_resource(bucket: str, dag_id: str, sdk: str, partition: str = "aws") -> str:
    """The S3 object ARN pattern of `job_results_pattern`."""
    return f"arn:{partition}:s3:::{bucket}/{job_results_pattern(dag_id, sdk)}"


def nested_results_pattern(dag_id: str) -> str:
    """Keys with a results folder inside a results folder.

    IAM's `*` also matches `/`, so `<dag_id>/*/python/results/*` alone would let the python job
    write `<dag_id>/<run>/go/results/python/results/junit.xml`, inside go's results. Every such
    key has two results folders: the job roles deny this pattern explicitly.
    """
    return f"{dag_id}/*/{RESULTS_FOLDER}/*/{RESULTS_FOLDER}/*"


def raw_results_prefix(dag_id: str) -> str:
    """Everything a campaign's runs write: the lifecycle expires it (history lives elsewhere)."""
    return f"{dag_id}/"


def role_account(role_arn: str) -> str:
    """The account of an IAM role's ARN (arn:aws:iam::<account>:role/<name>)."""
    return role_arn.split(":")[4]
