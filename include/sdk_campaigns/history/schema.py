"""The history's Arrow schemas and versions: summary records in and out, test rows, and the
version stamp every file carries (a file from a newer version fails instead of being misread).

Version 3 added to every summary: `commit` (the resolved SHA of the code under test, the image's
content tag for the image's own sample suite, or "unknown"), `commit_kind` ("git", "image_source"
or "unknown"), `repo_url` (the cloned repository, or null), `lane` ("official" or "adhoc") and
`overrides` (a JSON object of the overrides the run used; "{}" for none). A version 2 file reads
with commit "unknown", commit_kind "unknown", lane "official", overrides "{}": never a guessed
commit. `sdk-campaigns history migrate` rewrites such files as version 3 (history/migration.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from sdk_campaigns.campaign.commits import COMMIT_KINDS
from sdk_campaigns.campaign.commits import UNKNOWN as UNKNOWN_COMMIT
from sdk_campaigns.campaign.validation import RESULT_COLUMNS
from sdk_campaigns.history.layout import LANES, OFFICIAL_LANE, HistoryError, logical_time

SCHEMA_VERSION = 3
VERSION_KEY = b"sdk_campaigns.schema_version"
KIND_KEY = b"sdk_campaigns.kind"
FAILING_STATUSES = ("tests_failed", "infrastructure_failed", "results_invalid")
COUNT_KEYS = ("passed", "failed", "error", "skipped", "total")
_STRING_FIELDS = (
    "run_id",
    "status",
    "reason",
    "job_id",
    "job_status",
    "image",
    "image_digest",
    "results_uri",
    "log_stream",
    "ref",
    "validation",
    "report",
    "commit",
    "commit_kind",
    "repo_url",
    "lane",
    "overrides",
)
# What a summary that does not say (a version 2 file, a caller that never knew) reads as.
SUMMARY_DEFAULTS = {
    "commit": UNKNOWN_COMMIT,
    "commit_kind": UNKNOWN_COMMIT,
    "lane": OFFICIAL_LANE,
    "overrides": "{}",
}
_FLOAT_FIELDS = ("job_seconds", "queue_seconds")
UTC_US = pa.timestamp("us", tz="UTC")
SUMMARY_SCHEMA = pa.schema(
    [
        ("schema_version", pa.int16()),
        ("write_id", pa.string()),
        ("written_at", UTC_US),
        ("dag_id", pa.string()),
        ("logical_date", pa.string()),
        ("logical_time", UTC_US),
        ("sdk", pa.string()),
        *[(name, pa.string()) for name in _STRING_FIELDS],
        ("exit_code", pa.int64()),
        *[(name, pa.float64()) for name in _FLOAT_FIELDS],
        *[(name, pa.int64()) for name in COUNT_KEYS],
        ("row_count", pa.int64()),
        ("log_excerpt", pa.list_(pa.string())),
        ("extra", pa.string()),  # JSON: every other key of the summary, kept as given
    ]
)
# `quarantined`: the publish task's marker (campaign/quarantine.py); null in rows written before it.
ROWS_SCHEMA = pa.schema(
    [
        *((c, pa.float64() if c == "duration" else pa.string()) for c in RESULT_COLUMNS),
        ("quarantined", pa.bool_()),
    ]
)
INDEX_SCHEMA = SUMMARY_SCHEMA.append(pa.field("partition", pa.string()))
_INTERNAL = ("schema_version", "logical_time", "extra")


def check_version(schema: pa.Schema, where: str, kind: str) -> None:
    metadata = schema.metadata or {}
    raw = metadata.get(VERSION_KEY, b"")
    if not raw.isdigit() or metadata.get(KIND_KEY, kind.encode()) != kind.encode():
        raise HistoryError(f"{where}: not an sdk-campaigns history {kind} file")
    version = int(raw)
    if version > SCHEMA_VERSION:
        raise HistoryError(
            f"{where}: written with history schema version {version}, but this sdk-campaigns reads "
            f"version {SCHEMA_VERSION} and older; upgrade sdk-campaigns to read this history"
        )


def with_defaults(table: pa.Table) -> pa.Table:
    """Summaries with SUMMARY_DEFAULTS where a file (version 2) has no value."""
    for name, default in SUMMARY_DEFAULTS.items():
        position = table.schema.get_field_index(name)
        column = table.column(position)
        if column.null_count:
            table = table.set_column(position, name, pc.fill_null(column, default))
    return table


def with_metadata(table: pa.Table, kind: str) -> pa.Table:
    return table.replace_schema_metadata({VERSION_KEY: str(SCHEMA_VERSION).encode(), KIND_KEY: kind.encode()})


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """An older file of this major layout: missing columns become nulls, extra ones are dropped."""
    columns = [
        table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _string_or_none(value) -> bool:
    return value is None or isinstance(value, str)


def _number(value) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _integer(value) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def summary_record(summary: dict, *, write_id: str, row_count: int) -> dict:
    """The summary as one SUMMARY_SCHEMA record; keys it has no column for go to `extra` (JSON)."""
    for key in ("dag_id", "logical_date", "sdk"):
        if not isinstance(summary.get(key), str) or not summary[key]:
            raise HistoryError(
                f"a history summary needs a non-empty string {key!r}; got {summary.get(key)!r}"
            )
    record = {
        "schema_version": SCHEMA_VERSION,
        "write_id": write_id,
        "written_at": datetime.now(UTC),
        "dag_id": summary["dag_id"],
        "logical_date": summary["logical_date"],
        "logical_time": logical_time(summary["logical_date"]),
        "sdk": summary["sdk"],
        "row_count": row_count,
    }
    summary = {**summary, "overrides": _overrides_json(summary.get("overrides"), summary["sdk"])}
    for key, default in SUMMARY_DEFAULTS.items():
        if summary.get(key) is None:
            summary[key] = default
    if not isinstance(summary["commit"], str) or not summary["commit"]:
        raise HistoryError(
            f"summary of {summary['sdk']}: commit must be a non-empty string; got {summary['commit']!r}"
        )
    if summary["lane"] not in LANES:
        raise HistoryError(f"summary of {summary['sdk']}: lane {summary['lane']!r} is none of {LANES}")
    if summary["commit_kind"] not in COMMIT_KINDS:
        raise HistoryError(
            f"summary of {summary['sdk']}: commit_kind {summary['commit_kind']!r} is none of {COMMIT_KINDS}"
        )
    extra: dict = {}
    for key, value in summary.items():
        if key in record or key in _INTERNAL or key in ("write_id", "written_at", "row_count"):
            continue  # the key columns, or ours to set
        if key in _STRING_FIELDS and _string_or_none(value):
            record[key] = value
        elif key in _FLOAT_FIELDS and _number(value):
            record[key] = None if value is None else float(value)
        elif (key == "exit_code" and _integer(value)) or (key == "log_excerpt" and _strings(value)):
            record[key] = value
        elif key == "counts" and isinstance(value, dict):
            other = {}
            for name, number in value.items():
                if name in COUNT_KEYS and number is not None and _integer(number):
                    record[name] = number
                else:
                    other[name] = number
            if other:
                extra["counts"] = other
        else:
            extra[key] = value
    try:
        record["extra"] = json.dumps(extra, sort_keys=True) if extra else None
    except TypeError as err:
        raise HistoryError(f"summary of {summary['sdk']}: a value is not JSON-serialisable: {err}") from err
    return record


def _overrides_json(value, sdk: str) -> str:
    """The overrides as the JSON text the history keeps: an object, keys sorted."""
    if value is None or value == "":
        return "{}"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise HistoryError(f"summary of {sdk}: overrides {value[:80]!r} is not JSON") from None
    if not isinstance(value, dict):
        raise HistoryError(f"summary of {sdk}: overrides must be a JSON object, got {value!r}")
    return json.dumps(value, sort_keys=True)


def summary_dict(record: dict) -> dict:
    """The inverse of summary_record: what callers wrote, plus write_id, written_at and row_count."""
    summary = {k: v for k, v in record.items() if k not in _INTERNAL and k not in COUNT_KEYS}
    summary.pop("partition", None)
    summary.pop("rows_path", None)
    if isinstance(summary.get("written_at"), datetime):
        summary["written_at"] = summary["written_at"].isoformat()
    summary["counts"] = {k: record[k] for k in COUNT_KEYS if record.get(k) is not None}
    if summary.get("log_excerpt") is None:
        summary["log_excerpt"] = []
    extra = json.loads(record["extra"]) if record.get("extra") else {}
    if "counts" in extra:
        summary["counts"].update(extra.pop("counts"))
    summary.update(extra)
    return summary


def rows_table(rows: list[dict]) -> pa.Table:
    """Normalised test rows (collect.normalise) as a ROWS_SCHEMA table."""
    known = set(ROWS_SCHEMA.names)
    unknown = {key for row in rows for key in row} - known
    if unknown:
        raise HistoryError(f"test rows have columns outside the results schema: {sorted(unknown)}")
    try:
        return pa.table(
            {column: [row.get(column) for row in rows] for column in ROWS_SCHEMA.names}, schema=ROWS_SCHEMA
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise HistoryError(f"test rows do not fit the results schema: {err}") from err
