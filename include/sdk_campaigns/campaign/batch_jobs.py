"""BatchOperator that never submits the same job twice.

A retried BatchOperator submits a second job (apache/airflow#33016). Job names are
unique per run attempt and SDK (see plan.job_name), so before submitting we look for a
job of that name in the queue and re-attach to it instead: an active one is waited for,
a finished one gives its result. That also makes retries the cure for a scheduler race
that fails deferred tasks whose trigger fires quickly (apache/airflow#67287, #72716):
the retry adopts the job that already ran instead of running it again.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.batch import BatchOperator


def existing_job_id(client, queue: str, job_name: str) -> tuple[str, str] | None:
    """(job id, status) of the newest job with this name in the queue, if any."""
    found = []
    for page in client.get_paginator("list_jobs").paginate(
        jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [job_name]}]
    ):
        found.extend(page["jobSummaryList"])
    if not found:
        return None
    newest = max(found, key=lambda s: s.get("createdAt", 0))
    return newest["jobId"], newest.get("status", "")


class ReattachingBatchOperator(BatchOperator):
    """BatchOperator whose submission is idempotent per job name."""

    def submit_job(self, context):
        existing = existing_job_id(self.hook.client, self.job_queue, self.job_name)
        if existing:
            job_id, status = existing
            self.log.info(
                "re-attaching to job %s (%s, %s) instead of submitting again", job_id, self.job_name, status
            )
            self.job_id = job_id
            return
        super().submit_job(context)
