"""One bisection step: a Batch job testing the tracked tests at one commit, and its verdict.

The job is the campaign's own (campaign/plan.py, job_definitions.py, collect.py): the SDK's newest
ACTIVE job definition (registered by the campaign that saw the break), the campaign's queue, the
image's runner glue with SDK_REPO_URL, SDK_REF (the commit) and SDK_TEST_COMMAND (the SDK's test
command plus its `select_tests`) overridden, and the same results contract.

Where the job writes: under the campaign DAG's own prefix, `<campaign dag_id>/culprit-<key>/<commit>/
<sdk>/results/`, because the stack's job roles may write `<campaign dag_id>/*/<sdk>/results/*` only
(infra/sdk_campaigns_infra/layout.py) and the bucket's lifecycle expires raw results there. The
bisection's record (written by the DAG) goes under culprit.results_prefix.
"""

from __future__ import annotations

import hashlib
import json
import re

from sdk_campaigns.campaign import collect
from sdk_campaigns.campaign.batch_jobs import existing_job_id
from sdk_campaigns.campaign.plan import JOB_RESULTS_FOLDER
from sdk_campaigns.config import CampaignConfig
from sdk_campaigns.culprit import bisect
from sdk_campaigns.culprit.commits import list_then_test_command
from sdk_campaigns.culprit.request import BisectionRequest, selection_args

RESULTS_DIR = "/tmp/results"  # the runner glue's default RESULTS_DIR, where test commands write JUnit


class StepError(RuntimeError):
    """A step that cannot be submitted (no job definition yet, ...); the message says the fix."""


def commit_label(commit: str) -> str:
    """A commit as a job-name and folder part: a SHA as it is; a ref (the first step's `bad` may be
    one, e.g. release/v1.2) by a hash, since '/' and '.' are not allowed in Batch job names."""
    if re.fullmatch(r"[0-9a-f]{4,40}", commit):
        return commit
    return "ref-" + hashlib.sha256(commit.encode()).hexdigest()[:12]


def step_prefix(config: CampaignConfig, key: str, commit: str, sdk: str) -> str:
    """The DAG's folder for one step; the job writes under its results/ only."""
    return f"{config.campaign.dag_id}/culprit-{key}/{commit_label(commit)}/{sdk}/"


def step_job_name(config: CampaignConfig, key: str, commit: str, sdk: str) -> str:
    """Unique per bisection run and commit: a retried task re-attaches instead of submitting again."""
    return f"{config.batch.job_definition_prefix}-{sdk}-culprit-{key}-{commit_label(commit)[:16]}"


def test_command(config: CampaignConfig, request: BisectionRequest, *, first: bool) -> list[str]:
    settings = config.sdks[request.sdk]
    command = [*settings.test_command, *selection_args(settings.select_tests, request.tests)]
    if first:
        return list_then_test_command(command, request.good, config.culprit.max_commits, RESULTS_DIR)
    return command


def step_environment(
    config: CampaignConfig, request: BisectionRequest, commit: str, prefix: str, *, first: bool
) -> dict[str, str]:
    settings = config.sdks[request.sdk]
    return {
        **settings.environment,
        "SDK_NAME": request.sdk,
        "SDK_REPO_URL": request.repo_url,
        "SDK_REF": commit,
        "SDK_TEST_COMMAND": json.dumps(test_command(config, request, first=first)),
        "SDK_RESULTS_FORMAT": settings.results_format,
        "RESULTS_S3_URI": f"s3://{config.campaign.results_bucket}/{prefix}{JOB_RESULTS_FOLDER}/",
    }


def job_definition(batch, config: CampaignConfig, sdk: str) -> dict:
    """The SDK's newest ACTIVE job definition: the campaign registers it for the SDK's current image."""
    name = f"{config.batch.job_definition_prefix}-{sdk}"
    active = batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")["jobDefinitions"]
    if not active:
        raise StepError(
            f"no ACTIVE job definition {name!r}: run the campaign for {sdk} once "
            f'(`airflow dags trigger {config.campaign.dag_id} --conf \'{{"sdks": ["{sdk}"]}}\'`), '
            f"which registers it"
        )
    return max(active, key=lambda d: d["revision"])


def submit(
    batch, config: CampaignConfig, *, job_name: str, definition: str, environment: dict, tags: dict
) -> str:
    """The step's job id: the job of that name already in the queue (a retried task), else a new one."""
    existing = existing_job_id(batch, config.batch.job_queue, job_name)
    if existing:
        return existing[0]
    return batch.submit_job(
        jobName=job_name,
        jobQueue=config.batch.job_queue,
        jobDefinition=definition,
        containerOverrides={"environment": [{"name": k, "value": v} for k, v in sorted(environment.items())]},
        tags=tags,
        propagateTags=True,
    )["jobId"]


def verdict(outcome: collect.SdkOutcome, tracked: set[str]) -> tuple[str, dict]:
    """GOOD / BAD / NO_VERDICT for one step's collected outcome, and what the record keeps of it.

    BAD: a tracked test failed or errored. GOOD: the job ran its suite and none did, including when a
    tracked test did not exist at that commit (as the history's "newly failing" counts a test that did
    not exist before). NO_VERDICT: the job failed (infrastructure) or its results were unreadable.
    """
    detail = {
        "job_id": outcome.job_id,
        "job_status": outcome.job_status,
        "status": outcome.status,
        "reason": outcome.reason,
        "counts": outcome.counts,
        "job_seconds": outcome.job_seconds,
    }
    ran_suite = outcome.job_status == "SUCCEEDED" and outcome.status != collect.SDK_RESULTS_INVALID
    if not ran_suite:
        return bisect.NO_VERDICT, detail
    rows = [r for r in outcome.rows if r["test_id"] in tracked]
    failing = sorted({f"{r['classname']}::{r['name']}" for r in rows if r["status"] in ("failed", "error")})
    detail["failing_tests"] = failing
    detail["tracked_found"] = len({r["test_id"] for r in rows})
    return (bisect.BAD if failing else bisect.GOOD), detail
