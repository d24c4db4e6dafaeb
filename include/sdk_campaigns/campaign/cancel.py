"""Cancelling a campaign run from outside Airflow (`sdk-campaigns cancel RUN_ID`): its active Batch
jobs, found by the run_id tag every job is submitted with, are terminated; the run itself is marked
failed through Airflow's REST API, which also stops any task still waiting (see batch_jobs). Jobs of
SDKs in their own account are looked for there, through each SDK's connection and role (accounts)."""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from sdk_campaigns.campaign.accounts import distinct_accounts
from sdk_campaigns.campaign.collect import CANCELLED
from sdk_campaigns.config import CampaignConfig

ACTIVE_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")


def run_jobs(batch, queue: str, dag_id: str, run_id: str) -> list[tuple[str, str]]:
    """(job id, SDK) of the run's active jobs in the queue."""
    found = []
    for status in ACTIVE_STATUSES:
        for page in batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status):
            ids = [summary["jobId"] for summary in page["jobSummaryList"]]
            for start in range(0, len(ids), 100):  # DescribeJobs takes 100 at most
                for job in batch.describe_jobs(jobs=ids[start : start + 100])["jobs"]:
                    tags = job.get("tags") or {}
                    if tags.get("dag_id") == dag_id and tags.get("run_id") == run_id:
                        found.append((job["jobId"], tags.get("sdk", "?")))
    return found


def terminate_run_jobs(batch, queue: str, dag_id: str, run_id: str, who: str) -> list[tuple[str, str]]:
    stopped = run_jobs(batch, queue, dag_id, run_id)
    for job_id, _ in stopped:
        batch.terminate_job(jobId=job_id, reason=f"{CANCELLED}{who}")
    return stopped


def terminate_in_every_account(
    config: CampaignConfig, aws_conn_id: str, run_id: str, who: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """The run's active jobs terminated in the campaign's account and in each SDK's own; and one line per
    account that could not be reached (the others are still cancelled)."""
    stopped, errors = [], []
    for account in distinct_accounts(config, config.sdk_names, aws_conn_id):
        try:
            batch = account.client("batch")
            stopped += terminate_run_jobs(batch, config.batch.job_queue, config.campaign.dag_id, run_id, who)
        except (BotoCoreError, ClientError) as err:
            errors.append(f"{account.describe() if account.sdk else 'the campaign account'}: {err}")
    return stopped, errors


def mark_run_failed(api_url: str, token: str, dag_id: str, run_id: str) -> None:
    request = urllib.request.Request(
        f"{api_url.rstrip('/')}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}",
        data=json.dumps({"state": "failed"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="PATCH",
    )
    with urllib.request.urlopen(request, timeout=30):
        pass
