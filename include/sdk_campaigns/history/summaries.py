"""Every partition's summary at once, for the dashboard and the CLI: one listing plus the
`_summaries.parquet` cache, which is never the truth (entries are used only where they match the
committed files found by listing, and refreshed when partitions are missing from it)."""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from sdk_campaigns.history.layout import (
    INDEX_FILE,
    OFFICIAL_LANE,
    ORPHAN_GRACE,
    Partition,
    lane_dir_name,
    logical_time,
    safe_name,
)
from sdk_campaigns.history.partitions import list_partitions, read_summary_table
from sdk_campaigns.history.schema import (
    INDEX_SCHEMA,
    UTC_US,
    HistoryError,
    check_version,
    summary_dict,
    with_metadata,
)
from sdk_campaigns.history.storage import open_store


def _read_index(store, dag_dir: str) -> pa.Table | None:
    try:
        table = store.read_table(f"{dag_dir}/{INDEX_FILE}")
        check_version(table.schema, INDEX_FILE, "index")
    except (OSError, pa.ArrowInvalid, HistoryError):
        return None  # a cache: missing, unreadable or from another version means "rebuild"
    if table.schema.remove_metadata() != INDEX_SCHEMA:
        return None
    return table.replace_schema_metadata(None)


def _write_index(store, dag_dir: str, table: pa.Table) -> None:
    with contextlib.suppress(OSError, pa.ArrowException):
        store.write_table(f"{dag_dir}/{INDEX_FILE}", with_metadata(table, "index"), sync=False)
    if not store.remote:  # a refresher that crashed left its temp file: gone once clearly abandoned
        stale_before = datetime.now().timestamp() - ORPHAN_GRACE.total_seconds()
        for name, _ in store.list_dir(dag_dir):
            if name.startswith(f".{INDEX_FILE}.") and name.endswith(".tmp"):
                path = os.path.join(dag_dir, name)
                with contextlib.suppress(OSError):
                    if os.stat(path).st_mtime < stale_before:
                        os.unlink(path)


def summaries_table(
    uri: str,
    dag_id: str,
    *,
    sdk: str | None = None,
    since: datetime | None = None,
    lane: str = OFFICIAL_LANE,
) -> pa.Table:
    """Every committed summary of one lane as an Arrow table (SUMMARY_SCHEMA + partition + rows_path),
    by date, SDK.

    `rows_path` is the partition's rows file (a local path, or a path in the remote filesystem).
    """
    store = open_store(uri)
    dag_dir = store.join(lane_dir_name(dag_id, lane))
    for attempt in range(3):
        partitions = list_partitions(uri, dag_id, sdk=sdk, since=since, lane=lane)
        try:
            return _summaries_for(store, dag_dir, partitions, sdk=sdk, since=since)
        except FileNotFoundError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _summaries_for(store, dag_dir: str, partitions: list[Partition], *, sdk, since) -> pa.Table:
    index = _read_index(store, dag_dir)
    cached: dict[tuple[str, str], int] = {}
    if index is not None:
        names = index.column("partition").to_pylist()
        ids = index.column("write_id").to_pylist()
        cached = {(name, write_id): i for i, (name, write_id) in enumerate(zip(names, ids, strict=True))}
    hits, missing = [], []
    for partition in partitions:
        position = cached.get((partition.name, partition.write_id))
        (missing if position is None else hits).append((partition, position))
    pieces = []
    if hits:
        pieces.append(index.take([position for _, position in hits]))
    fresh = []
    with ThreadPoolExecutor(max_workers=4) as pool:  # pyarrow reads without the GIL
        for partition, table in zip(
            [p for p, _ in missing],
            pool.map(lambda p: read_summary_table(store, p[0]), missing),
            strict=True,
        ):
            fresh.append(
                table.append_column("partition", pa.array([partition.name] * table.num_rows, pa.string()))
            )
    pieces.extend(fresh)
    in_scope = {(p.name, p.write_id) for p in partitions}
    stale = index is not None and _has_stale(index, in_scope, sdk=sdk, since=since)
    table = pa.concat_tables(pieces) if pieces else INDEX_SCHEMA.empty_table()
    if fresh or stale:
        kept = _outside_scope(index, sdk=sdk, since=since) if index is not None else None
        _write_index(store, dag_dir, pa.concat_tables([kept, table]) if kept is not None else table)
    order = pc.sort_indices(table, sort_keys=[("logical_time", "ascending"), ("sdk", "ascending")])
    table = table.take(order)
    folders = {p.name: p for p in partitions}
    rows_paths = [folders[name].rows_path for name in table.column("partition").to_pylist()]
    return table.append_column("rows_path", pa.array(rows_paths, pa.string()))


def _scope_mask(index: pa.Table, *, sdk, since) -> pa.ChunkedArray | None:
    mask = None
    if sdk is not None:
        sdk_part = pc.replace_substring_regex(index.column("partition"), r"^[^/]*/", "")
        mask = pc.equal(sdk_part, safe_name(sdk))
    if since is not None:
        after = pc.greater_equal(index.column("logical_time"), pa.scalar(logical_time(since), UTC_US))
        mask = after if mask is None else pc.and_(mask, after)
    return mask


def _outside_scope(index: pa.Table, *, sdk, since) -> pa.Table | None:
    mask = _scope_mask(index, sdk=sdk, since=since)
    if mask is None:
        return None
    return index.filter(pc.invert(pc.fill_null(mask, False)))


def _has_stale(index: pa.Table, in_scope: set[tuple[str, str]], *, sdk, since) -> bool:
    mask = _scope_mask(index, sdk=sdk, since=since)
    scoped = index if mask is None else index.filter(pc.fill_null(mask, False))
    pairs = zip(scoped.column("partition").to_pylist(), scoped.column("write_id").to_pylist(), strict=True)
    return any(pair not in in_scope for pair in pairs)


def read_summaries(
    uri: str,
    dag_id: str,
    sdk: str | None = None,
    days: int | None = None,
    *,
    now: datetime | None = None,
    lane: str = OFFICIAL_LANE,
) -> list[dict]:
    """Every SDK summary of one lane of the DAG (optionally one SDK, optionally logical dates in the
    last N days before `now`), oldest logical date first, then by SDK."""
    since = None
    if days is not None:
        since = (now or datetime.now(UTC)) - timedelta(days=days)
    table = summaries_table(uri, dag_id, sdk=sdk, since=since, lane=lane)
    return [summary_dict(record) for record in table.to_pylist()]
