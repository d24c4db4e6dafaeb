"""At most one bisection per SDK at a time: a lock object per SDK in the results bucket.

Why not max_active_runs or pools: max_active_runs=1 would serialise every SDK's bisections behind one
another, and a task's pool is fixed when the DAG is parsed, not per run's `sdk`. Workers of Airflow 3
cannot query the metadata database for "running runs with the same conf" either. So the lock is an
S3 object, `<culprit.results_prefix><sdk>/lock.json`, created with a conditional PUT (If-None-Match:
*): S3 lets exactly one writer create it. It names the run holding it; the run's teardown deletes it.
A lock older than culprit.lock_stale_minutes (its run died without teardown) is taken over with a
PUT conditional on the stale object's ETag (If-Match), so two runs cannot both take it over.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

log = logging.getLogger(__name__)

LOCK_FILE = "lock.json"
_LOST = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")


def lock_key(results_prefix: str, sdk: str) -> str:
    return f"{results_prefix}{sdk}/{LOCK_FILE}"


@dataclass(frozen=True)
class LockHolder:
    run_id: str
    acquired_at: datetime
    etag: str


def read_holder(s3, bucket: str, key: str) -> LockHolder | None:
    try:
        got = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if err.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise
    try:
        body = json.loads(got["Body"].read())
        return LockHolder(body["run_id"], datetime.fromisoformat(body["acquired_at"]), got["ETag"])
    except (ValueError, KeyError, TypeError):
        # Unreadable: as old as can be, so it is taken over rather than blocking the SDK for good.
        return LockHolder("", datetime.min.replace(tzinfo=UTC), got["ETag"])


def _put(s3, bucket: str, key: str, run_id: str, now: datetime, **condition) -> bool:
    body = json.dumps({"run_id": run_id, "acquired_at": now.isoformat()}).encode()
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **condition)
        return True
    except ClientError as err:
        if err.response["Error"]["Code"] in _LOST or err.response.get("ResponseMetadata", {}).get(
            "HTTPStatusCode"
        ) in (409, 412):
            return False
        raise


def acquire(
    s3, bucket: str, key: str, run_id: str, *, stale_after: timedelta, now: datetime | None = None
) -> tuple[bool, str]:
    """(True, why) when this run holds the lock now (already held by it counts: a retried task);
    (False, who holds it) otherwise."""
    now = now or datetime.now(UTC)
    if _put(s3, bucket, key, run_id, now, IfNoneMatch="*"):
        return True, "acquired"
    holder = read_holder(s3, bucket, key)
    if holder is None:  # released between our PUT and GET: try once more
        return (_put(s3, bucket, key, run_id, now, IfNoneMatch="*"), "acquired after a release")
    if holder.run_id == run_id:
        return True, "already held by this run"
    if now - holder.acquired_at > stale_after:
        taken = _put(s3, bucket, key, run_id, now, IfMatch=holder.etag)
        if taken:
            log.warning("took over a stale lock of %s (held since %s)", holder.run_id, holder.acquired_at)
            return True, f"took over the stale lock of {holder.run_id}"
    return False, f"held by run {holder.run_id} since {holder.acquired_at.isoformat()}"


def release(s3, bucket: str, key: str, run_id: str) -> bool:
    """Delete the lock if this run holds it; True when it did."""
    holder = read_holder(s3, bucket, key)
    if holder is None or holder.run_id != run_id:
        return False
    s3.delete_object(Bucket=bucket, Key=key)
    return True
