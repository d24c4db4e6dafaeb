"""A finished bisection's record: what it was asked, each step (commit, outcome, job), the answer.

Written twice: as JSON to `s3://<results bucket>/<culprit.results_prefix><sdk>/<finished>-<key>.json`
(the run's own record, linked from its logs), and as a row of the culprit table beside the history
(history/culprits.py), which the flaky statistics and the pages read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sdk_campaigns.config import CampaignConfig
from sdk_campaigns.culprit.bisect import Bisection, max_jobs
from sdk_campaigns.culprit.request import BisectionRequest


def bisection_record(
    request: BisectionRequest, bisection: Bisection, *, key: str, dag_id: str, run_id: str, record_uri: str
) -> dict:
    return {
        "sdk": request.sdk,
        "key": key,
        "dag_id": dag_id,
        "run_id": run_id,
        "repo_url": request.repo_url,
        "good": request.good,
        "bad": request.bad,
        "result": bisection.result,
        "first_bad": bisection.first_bad,
        "last_good": bisection.last_good,
        "reason": bisection.reason,
        "logical_date": request.logical_date,
        "finished_at": datetime.now(UTC).isoformat(),
        "test_ids": [t.test_id for t in request.tests],
        "tests": [t.label for t in request.tests],
        "commits": len(bisection.commits or []),
        "max_jobs": max_jobs(len(bisection.commits)) if bisection.commits else 1,
        "steps": [s.to_dict() for s in bisection.steps],
        "record_uri": record_uri,
    }


def record_key(config: CampaignConfig, sdk: str, key: str, started: datetime) -> str:
    return f"{config.culprit.results_prefix}{sdk}/{started:%Y%m%dT%H%M%S}Z-{key}.json"


def write_record(s3, bucket: str, object_key: str, record: dict) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=object_key,
        Body=json.dumps(record, indent=2, sort_keys=True, default=str).encode(),
        ContentType="application/json",
    )


def describe(record: dict) -> list[str]:
    """The record as lines for the run's log: the answer first, then one line per step."""
    answer = {
        "first_bad": f"first bad commit: {record['first_bad']} (last good: {record['last_good']})",
        "not_reproducible": f"not reproducible: {record['bad']} passed on rerun; the tests are marked flaky",
        "inconclusive": f"inconclusive: {record['reason']}",
    }[record["result"]]
    lines = [
        f"{record['sdk']}: {answer}",
        f"  {record['repo_url']} {record['good']}..{record['bad']}: {record['commits']} commits, "
        f"{len(record['steps'])} jobs (bound {record['max_jobs']})",
        f"  tests: {', '.join(record['tests'])}",
    ]
    for number, step in enumerate(record["steps"], 1):
        failing = step.get("failing_tests") or []
        lines.append(
            f"  step {number}: {step['commit']} {step['outcome']:<10} job {step.get('job_id')} "
            f"({step.get('status')}){': ' + ', '.join(failing) if failing else ''}"
        )
    lines.append(f"  record: {record['record_uri']}")
    return lines
