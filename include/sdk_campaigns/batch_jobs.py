"""BatchOperator that never submits the same job twice.

A retried BatchOperator submits a second job (apache/airflow#33016). Job names are
unique per run and SDK (see plan.job_name), so before submitting we look for an
active job of that name in the queue and re-attach to it instead.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.batch import BatchOperator

ACTIVE_STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")


def active_job_id(client, queue: str, job_name: str) -> str | None:
    """The newest active job with this name in the queue, if any."""
    found = []
    for page in client.get_paginator("list_jobs").paginate(
        jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [job_name]}]
    ):
        found.extend(s for s in page["jobSummaryList"] if s.get("status") in ACTIVE_STATES)
    if not found:
        return None
    return max(found, key=lambda s: s.get("createdAt", 0))["jobId"]


class ReattachingBatchOperator(BatchOperator):
    """BatchOperator whose submission is idempotent per job name."""

    def submit_job(self, context):
        existing = active_job_id(self.hook.client, self.job_queue, self.job_name)
        if existing:
            self.log.info(
                "re-attaching to active job %s (%s) instead of submitting again", existing, self.job_name
            )
            self.job_id = existing
            return
        super().submit_job(context)
