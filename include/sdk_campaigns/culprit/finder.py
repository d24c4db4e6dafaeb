"""The bodies of the culprit finder DAG's tasks (dags/sdk_culprit_finder.py) other than the bisection
itself (culprit/operator.py): thin glue between Airflow's context and the library."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sdk_campaigns.campaign.aws import AwsContext
from sdk_campaigns.config import CampaignConfig
from sdk_campaigns.culprit import lock, records
from sdk_campaigns.culprit.bisect import max_jobs
from sdk_campaigns.culprit.request import bisection_key, validate_request

log = logging.getLogger(__name__)


def plan(config: CampaignConfig, params: dict, dag_id: str, run_id: str) -> dict:
    """The checked request, this run's key and where its record goes."""
    request = validate_request(params, config)
    key = bisection_key(dag_id, run_id)
    started = datetime.now(UTC)
    log.info(
        "bisect %s in %s between %s (good) and %s (bad) for: %s; at most ceil(log2(n)) + 1 jobs "
        "for n commits (n <= %d: at most %d)",
        request.sdk,
        request.repo_url,
        request.good,
        request.bad,
        ", ".join(t.label for t in request.tests),
        config.culprit.max_commits,
        max_jobs(config.culprit.max_commits),
    )
    return {
        "request": request.to_xcom(),
        "key": key,
        "record_key": records.record_key(config, request.sdk, key, started),
        "lock_key": lock.lock_key(config.culprit.results_prefix, request.sdk),
    }


def take_sdk_lock(config: CampaignConfig, plan: dict, run_id: str, aws_conn_id: str) -> bool:
    """True once this run holds its SDK's lock; False (poke again) while another run holds it."""
    held, why = lock.acquire(
        AwsContext(aws_conn_id).client("s3"),
        config.campaign.results_bucket,
        plan["lock_key"],
        run_id,
        stale_after=timedelta(minutes=config.culprit.lock_stale_minutes),
    )
    log.info("lock %s: %s", plan["lock_key"], why)
    return held


def release_sdk_lock(config: CampaignConfig, plan: dict, run_id: str, aws_conn_id: str) -> None:
    released = lock.release(
        AwsContext(aws_conn_id).client("s3"), config.campaign.results_bucket, plan["lock_key"], run_id
    )
    log.info("lock %s %s", plan["lock_key"], "released" if released else "was not held by this run")
