"""Retention: partitions older than the configured number of days are deleted, each made
invisible first (its summaries go before its rows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sdk_campaigns.history.layout import LANES, HistoryError, lane_dir_name, parse_date_key
from sdk_campaigns.history.storage import open_store


def prune(uri: str, dag_id: str, retention_days: int, *, now: datetime | None = None) -> list[str]:
    """Delete the partitions (of every lane) whose logical date is more than retention_days before now.

    Returns the removed partitions as "<date folder>/<sdk>" ("<lane>:<date folder>/<sdk>" outside the
    official lane). Each goes invisible first (its
    summary files are deleted before its rows), so a reader never sees a summary without rows.
    """
    if isinstance(retention_days, bool) or not isinstance(retention_days, int) or retention_days < 1:
        raise HistoryError(f"retention_days must be a whole number of days >= 1; got {retention_days!r}")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    store = open_store(uri)
    removed = []
    for lane in LANES:
        prefix = "" if lane == LANES[0] else f"{lane}:"
        removed += [
            prefix + name for name in _prune_dir(store, store.join(lane_dir_name(dag_id, lane)), cutoff)
        ]
    return sorted(removed)


def delete_partition(store, folder: str) -> None:
    """One partition folder gone, invisible first: its summaries are deleted before its rows."""
    with store.lock(folder):
        files = store.list_partition_files(folder)
        for name, _ in sorted(files, key=lambda f: not f[0].startswith("summary-")):
            if name != ".lock":
                store.delete(f"{folder}/{name}")
        store.delete(f"{folder}/.lock")
    store.remove_dir_if_empty(folder)


def _prune_dir(store, dag_dir: str, cutoff: datetime) -> list[str]:
    removed = []
    old_dates = set()
    for date_name, sdk_name, _files in list(store.list_partition_dirs(dag_dir)):
        moment = parse_date_key(date_name)
        if moment is None or moment >= cutoff:
            continue
        delete_partition(store, f"{dag_dir}/{date_name}/{sdk_name}")
        old_dates.add(date_name)
        removed.append(f"{date_name}/{sdk_name}")
    for date_name in old_dates:
        store.remove_dir_if_empty(f"{dag_dir}/{date_name}")
    return removed
