"""Per-language pass/fail history: append-only Parquet partitions, one per (DAG, logical date, SDK).

Layout under the history location (a local directory, ``file://…``, or ``s3://bucket/prefix``)::

    <dag_id>/                                 the official lane (runs without overrides)
      _summaries.parquet                      a cache of every partition's summary (see below)
      2026-11-21T060000Z/                     the logical date, in UTC (one folder per date)
        python/                               the SDK
          summary-<write id>.parquet          one row: status, counts, run id, image digest, …
          rows-<write id>.parquet             the normalised test rows (validation.RESULT_COLUMNS)
          .lock                               local only: serialises writers of this partition
    <dag_id>~adhoc/                           the ad hoc lane: runs with overrides, laid out the same

Idempotency: the partition key is (DAG, lane, logical date, SDK), never the run id (a rerun or
backfill of a date may clear and reuse the old run). The run id is a column. Writing a
partition that exists replaces it for that SDK and touches nothing else.

Atomic, crash-safe writes: a writer picks a write id (UTC time + random, sortable), writes
``rows-<id>`` and then ``summary-<id>``, each to a temporary name in the same folder that is
``os.replace``-d into place (on S3 a PUT is atomic by itself). The summary is the commit:
readers take the newest ``summary-<id>`` whose ``rows-<id>`` exists, so a crash at any point
leaves either the previous partition or none visible, never half of one. After committing,
the writer deletes older ids and leftover temporary files (locally under the partition's
lock, so it never deletes another live writer's files; on S3 only ids older than its own).

Schema: every file carries ``sdk_campaigns.schema_version`` in its Parquet metadata (and the
summary a ``schema_version`` column); a file from a newer version fails with HistoryError
instead of being misread. Version 1 was the JSON store, which this version ignores.

``_summaries.parquet`` is a cache, never the truth: its entries are keyed by (partition,
write id) and used only where they match the committed files found by listing, so reading a
year of summaries is one listing plus one small file instead of thousands of footers.
Readers refresh it when they find partitions it lacks (best effort: a read-only location
just goes without).
"""

from sdk_campaigns.history.layout import (
    ADHOC_LANE,
    INDEX_FILE,
    LANES,
    OFFICIAL_LANE,
    HistoryError,
    Partition,
    date_key,
    logical_time,
)
from sdk_campaigns.history.partitions import (
    list_partitions,
    read_partition,
    read_rows_files,
    read_rows_tables,
    read_run,
    with_file_index,
    write_partition,
    write_partition_table,
)
from sdk_campaigns.history.retention import prune
from sdk_campaigns.history.schema import (
    COMMIT_KINDS,
    FAILING_STATUSES,
    ROWS_SCHEMA,
    SCHEMA_VERSION,
    SUMMARY_SCHEMA,
    UNKNOWN_COMMIT,
    VERSION_KEY,
    rows_table,
    summary_dict,
    summary_record,
)
from sdk_campaigns.history.storage import is_local, use_airflow_connection, use_s3_filesystem
from sdk_campaigns.history.summaries import read_summaries, summaries_table

__all__ = [
    "ADHOC_LANE",
    "COMMIT_KINDS",
    "FAILING_STATUSES",
    "INDEX_FILE",
    "LANES",
    "OFFICIAL_LANE",
    "UNKNOWN_COMMIT",
    "ROWS_SCHEMA",
    "SCHEMA_VERSION",
    "SUMMARY_SCHEMA",
    "VERSION_KEY",
    "HistoryError",
    "Partition",
    "date_key",
    "is_local",
    "list_partitions",
    "logical_time",
    "prune",
    "read_partition",
    "read_rows_files",
    "read_rows_tables",
    "with_file_index",
    "read_run",
    "read_summaries",
    "rows_table",
    "summaries_table",
    "summary_dict",
    "summary_record",
    "write_partition",
    "use_airflow_connection",
    "use_s3_filesystem",
    "write_partition_table",
]
