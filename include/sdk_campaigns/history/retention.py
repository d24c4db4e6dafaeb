"""Retention: partitions older than the configured number of days are deleted, each made
invisible first (its summaries go before its rows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sdk_campaigns.history.layout import HistoryError, parse_date_key, safe_name
from sdk_campaigns.history.storage import open_store


def prune(uri: str, dag_id: str, retention_days: int, *, now: datetime | None = None) -> list[str]:
    """Delete the partitions whose logical date is more than retention_days before now.

    Returns the removed partitions as "<date folder>/<sdk>". Each goes invisible first (its
    summary files are deleted before its rows), so a reader never sees a summary without rows.
    """
    if isinstance(retention_days, bool) or not isinstance(retention_days, int) or retention_days < 1:
        raise HistoryError(f"retention_days must be a whole number of days >= 1; got {retention_days!r}")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    store = open_store(uri)
    dag_dir = store.join(safe_name(dag_id))
    removed = []
    old_dates = set()
    for date_name, sdk_name, _files in list(store.list_partition_dirs(dag_dir)):
        moment = parse_date_key(date_name)
        if moment is None or moment >= cutoff:
            continue
        folder = f"{dag_dir}/{date_name}/{sdk_name}"
        with store.lock(folder):
            files = store.list_partition_files(folder)
            for name, _ in sorted(files, key=lambda f: not f[0].startswith("summary-")):
                if name != ".lock":
                    store.delete(f"{folder}/{name}")
            store.delete(f"{folder}/.lock")
        store.remove_dir_if_empty(folder)
        old_dates.add(date_name)
        removed.append(f"{date_name}/{sdk_name}")
    for date_name in old_dates:
        store.remove_dir_if_empty(f"{dag_dir}/{date_name}")
    return sorted(removed)
