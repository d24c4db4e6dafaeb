"""`sdk-campaigns history migrate`: rewrite partitions of an older schema version as the current one.

Reading never needs it (an older file reads with the defaults of schema.SUMMARY_DEFAULTS), but a
migrated history reads without conversion, and a partition that was an ad hoc run before lanes
existed leaves the official record. Idempotent: a partition already at SCHEMA_VERSION is left alone,
so a second run changes nothing.

What a version 2 partition becomes:
- commit "unknown", commit_kind "unknown", repo_url null: the code it tested was never recorded,
  and nothing is guessed;
- lane "official", overrides "{}" — unless its stored ref is not the ref the campaign config gives
  that SDK (the only trace an override left in version 2): then lane "adhoc", overrides
  {"ref": <stored ref>}, and the partition moves to the ad hoc lane's folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from sdk_campaigns.history.layout import ADHOC_LANE, OFFICIAL_LANE
from sdk_campaigns.history.partitions import list_partitions, read_checked, write_partition_table
from sdk_campaigns.history.retention import delete_partition
from sdk_campaigns.history.schema import (
    SCHEMA_VERSION,
    SUMMARY_SCHEMA,
    VERSION_KEY,
    conform,
    summary_dict,
    with_defaults,
)
from sdk_campaigns.history.storage import open_store


@dataclass(frozen=True)
class Migrated:
    partition: str  # "<date folder>/<sdk>"
    from_version: int
    lane: str  # the lane it is in now
    moved: bool  # from the official lane's folder to the ad hoc one


def _version(table) -> int:
    raw = (table.schema.metadata or {}).get(VERSION_KEY, b"0")
    return int(raw) if raw.isdigit() else 0


def migrate(
    uri: str, dag_id: str, *, configured_refs: dict[str, str] | None = None, dry_run: bool = False
) -> list[Migrated]:
    """Rewrite every partition older than SCHEMA_VERSION (see the module doc); returns what it did
    (or, with dry_run, would do). `configured_refs`: SDK -> the ref the campaign config gives it."""
    store = open_store(uri)
    done = []
    for partition in list_partitions(uri, dag_id, lane=OFFICIAL_LANE):
        stored = read_checked(store, partition.summary_path, "summary")
        version = _version(stored)
        if version >= SCHEMA_VERSION:
            continue
        record = with_defaults(conform(stored.replace_schema_metadata(None), SUMMARY_SCHEMA)).to_pylist()[0]
        summary = summary_dict(record)
        configured = (configured_refs or {}).get(summary["sdk"])
        moved = bool(configured and summary.get("ref") and summary["ref"] != configured)
        if moved:
            summary.update(lane=ADHOC_LANE, overrides={"ref": summary["ref"]})
        done.append(Migrated(partition.name, version, summary["lane"], moved))
        if dry_run:
            continue
        rows = read_checked(store, partition.rows_path, "rows").replace_schema_metadata(None)
        write_partition_table(uri, summary, rows)
        if moved:  # written in its new lane first: a crash in between leaves a copy, never nothing
            delete_partition(store, partition.summary_path.rsplit("/", 1)[0])
    return done
