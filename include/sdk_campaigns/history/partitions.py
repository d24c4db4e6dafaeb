"""Writing and reading partitions, one per (DAG, logical date, SDK): the commit protocol of the
package docstring (rows first, then the summary that commits them) and the readers that see only
committed writes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pyarrow as pa

from sdk_campaigns.campaign.validation import RESULT_COLUMNS
from sdk_campaigns.history.layout import (
    OFFICIAL_LANE,
    ROWS_FILE,
    SUMMARY_FILE,
    Partition,
    committed_id,
    date_key,
    lane_dir_name,
    logical_time,
    new_write_id,
    parse_date_key,
    safe_name,
)
from sdk_campaigns.history.schema import (
    ROWS_SCHEMA,
    SUMMARY_SCHEMA,
    HistoryError,
    check_version,
    conform,
    rows_table,
    summary_dict,
    summary_record,
    with_defaults,
    with_metadata,
)
from sdk_campaigns.history.storage import open_store


def write_partition(uri: str, summary: dict, rows: list[dict], *, sync: bool = True) -> Partition:
    """Write (or replace) the partition of summary's dag_id, lane, logical_date and sdk (module doc)."""
    return write_partition_table(uri, summary, rows_table(rows), sync=sync)


def write_partition_table(uri: str, summary: dict, rows: pa.Table, *, sync: bool = True) -> Partition:
    """write_partition for rows already in Arrow form (ROWS_SCHEMA, or castable to it)."""
    store = open_store(uri)
    if rows.schema != ROWS_SCHEMA:
        try:
            rows.select(RESULT_COLUMNS)  # KeyError when a results column is missing
            rows = conform(rows, ROWS_SCHEMA)  # the quarantined marker may be
        except (KeyError, pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise HistoryError(f"test rows do not fit the results schema: {err}") from err
    checked = summary_record(summary, write_id="", row_count=0)  # validate before touching storage
    lane = checked["lane"]
    dag_key, sdk_key = lane_dir_name(summary["dag_id"], lane), safe_name(summary["sdk"])
    key = date_key(summary["logical_date"])
    folder = store.join(dag_key, key, sdk_key)
    store.makedirs(folder)
    with store.lock(folder):
        before = store.list_partition_files(folder)
        ids = [m.group(1) for name, _ in before if (m := SUMMARY_FILE.match(name) or ROWS_FILE.match(name))]
        write_id = new_write_id(max(ids) if ids else None)
        record = summary_record(summary, write_id=write_id, row_count=rows.num_rows)
        summary_table = with_metadata(pa.Table.from_pylist([record], schema=SUMMARY_SCHEMA), "summary")
        rows_path = f"{folder}/rows-{write_id}.parquet"
        summary_path = f"{folder}/summary-{write_id}.parquet"
        store.write_table(rows_path, with_metadata(rows, "rows"), sync=sync)
        store.write_table(summary_path, summary_table, sync=sync)  # the commit
        store.cleanup_stale(folder, write_id, store.list_partition_files(folder))
    return Partition(
        dag_id=summary["dag_id"],
        date_key=key,
        sdk_key=sdk_key,
        logical_time=record["logical_time"],
        write_id=write_id,
        summary_path=summary_path,
        rows_path=rows_path,
        lane=lane,
    )


def list_partitions(
    uri: str,
    dag_id: str,
    *,
    sdk: str | None = None,
    since: datetime | None = None,
    lane: str = OFFICIAL_LANE,
) -> list[Partition]:
    """The committed partitions of one lane of a DAG (optionally one SDK, logical dates >= since), by
    date then SDK."""
    store = open_store(uri)
    dag_dir = store.join(lane_dir_name(dag_id, lane))
    since = logical_time(since) if since is not None else None
    partitions = []
    moments: dict[str, datetime] = {}

    def keep_date(name: str) -> bool:
        moments[name] = moment = parse_date_key(name)
        return since is None or moment >= since

    sdk_key = safe_name(sdk) if sdk is not None else None
    for date_name, sdk_name, files in store.list_partition_dirs(dag_dir, keep_date, sdk_key):
        moment = moments[date_name]
        write_id = committed_id(files)
        if write_id is None:
            continue  # only temp files or an uncommitted write: nothing visible yet
        folder = f"{dag_dir}/{date_name}/{sdk_name}"
        partitions.append(
            Partition(
                dag_id=dag_id,
                date_key=date_name,
                sdk_key=sdk_name,
                logical_time=moment,
                write_id=write_id,
                summary_path=f"{folder}/summary-{write_id}.parquet",
                rows_path=f"{folder}/rows-{write_id}.parquet",
                lane=lane,
            )
        )
    return sorted(partitions, key=lambda p: (p.logical_time, p.sdk_key))


def read_checked(store, path: str, kind: str, columns: list[str] | None = None) -> pa.Table:
    try:
        table = store.read_table(path, columns=columns)
    except FileNotFoundError:
        raise  # superseded and cleaned up while we read: the caller lists again
    except (pa.ArrowInvalid, OSError) as err:
        raise HistoryError(f"{path}: unreadable history {kind} file: {err}") from err
    check_version(table.schema, path, kind)
    return table


def read_summary_table(store, partition: Partition) -> pa.Table:
    table = read_checked(store, partition.summary_path, "summary")
    if table.schema.remove_metadata() != SUMMARY_SCHEMA:
        table = with_defaults(conform(table, SUMMARY_SCHEMA))  # an older version's file
    return table.replace_schema_metadata(None)


def read_partition(uri: str, partition: Partition) -> dict:
    """{"summary": {...}, "rows": [...]} of one committed partition."""
    store = open_store(uri)
    summary = read_summary_table(store, partition).to_pylist()[0]
    rows = read_checked(store, partition.rows_path, "rows")
    if "quarantined" in rows.column_names and rows.column("quarantined").null_count == rows.num_rows:
        rows = rows.drop_columns("quarantined")  # written without the marker: read back as written
    return {"summary": summary_dict(summary), "rows": rows.to_pylist()}


def read_run(uri: str, dag_id: str, logical_date: str, *, lane: str = OFFICIAL_LANE) -> list[dict]:
    """The partitions of one logical date in one lane: [{summary, rows}, ...] sorted by SDK."""
    key = date_key(logical_date)
    moment = logical_time(logical_date)
    for attempt in range(3):
        partitions = [p for p in list_partitions(uri, dag_id, since=moment, lane=lane) if p.date_key == key]
        try:
            documents = [read_partition(uri, p) for p in partitions]
        except FileNotFoundError:
            if attempt == 2:
                raise
            continue  # a newer write superseded a partition while we read it: list again
        return sorted(documents, key=lambda d: d["summary"]["sdk"])
    return []


# Reads of rows files at once: on an object store each is a few round trips (size, footer, data),
# which threads overlap (pyarrow releases the GIL while it waits and decodes).
CONCURRENT_READS = 16


def read_rows_tables(uri: str, paths: list[str], columns: list[str]) -> list[pa.Table]:
    """Each rows file's `columns`, in the order of `paths`, read concurrently."""
    if not paths:
        return []
    store = open_store(uri)

    def read(path: str) -> pa.Table:
        return read_checked(store, path, "rows", columns=columns).replace_schema_metadata(None)

    with ThreadPoolExecutor(max_workers=min(CONCURRENT_READS, len(paths))) as pool:
        return list(pool.map(read, paths))


def with_file_index(tables: list[pa.Table], columns: list[str]) -> pa.Table:
    """The tables as one, plus `file_index`: the position in `tables` of each row's table."""
    if not tables:
        fields = [ROWS_SCHEMA.field(c) for c in columns]
        return pa.schema([*fields, pa.field("file_index", pa.int64())]).empty_table()
    return pa.concat_tables(
        table.append_column("file_index", pa.repeat(pa.scalar(position, pa.int64()), table.num_rows))
        for position, table in enumerate(tables)
    )


def read_rows_files(uri: str, paths: list[str], columns: list[str]) -> pa.Table:
    """The rows files' `columns`, plus `file_index` (the position in `paths` of each row's file)."""
    return with_file_index(read_rows_tables(uri, paths, columns), columns)
