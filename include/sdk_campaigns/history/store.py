"""Per-language pass/fail history: append-only Parquet partitions, one per (DAG, logical date, SDK).

Layout under the history location (a local directory, ``file://…``, or ``s3://bucket/prefix``)::

    <dag_id>/
      _summaries.parquet                      a cache of every partition's summary (see below)
      2026-11-21T060000Z/                     the logical date, in UTC (one folder per date)
        python/                               the SDK
          summary-<write id>.parquet          one row: status, counts, run id, image digest, …
          rows-<write id>.parquet             the normalised test rows (validation.RESULT_COLUMNS)
          .lock                               local only: serialises writers of this partition

Idempotency: the partition key is (DAG, logical date, SDK), never the run id (a rerun or
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

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sdk_campaigns.campaign.validation import RESULT_COLUMNS

SCHEMA_VERSION = 2
VERSION_KEY = b"sdk_campaigns.schema_version"
KIND_KEY = b"sdk_campaigns.kind"
INDEX_FILE = "_summaries.parquet"
FAILING_STATUSES = ("tests_failed", "infrastructure_failed", "results_invalid")
# Files of an uncommitted write younger than this are left alone where no lock protects them
# (S3 partitions; the summary cache's temp files).
ORPHAN_GRACE = timedelta(hours=1)

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
)
_FLOAT_FIELDS = ("job_seconds", "queue_seconds")
_UTC_US = pa.timestamp("us", tz="UTC")

SUMMARY_SCHEMA = pa.schema(
    [
        ("schema_version", pa.int16()),
        ("write_id", pa.string()),
        ("written_at", _UTC_US),
        ("dag_id", pa.string()),
        ("logical_date", pa.string()),
        ("logical_time", _UTC_US),
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
ROWS_SCHEMA = pa.schema([(c, pa.float64() if c == "duration" else pa.string()) for c in RESULT_COLUMNS])
INDEX_SCHEMA = SUMMARY_SCHEMA.append(pa.field("partition", pa.string()))
_INTERNAL = ("schema_version", "logical_time", "extra")

_DATE_DIR = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d)(\d\d)(\d\d)(?:\.(\d{6}))?Z$")
_SUMMARY_FILE = re.compile(r"^summary-(\d{8}T\d{12}Z-[0-9a-f]{8})\.parquet$")
_ROWS_FILE = re.compile(r"^rows-(\d{8}T\d{12}Z-[0-9a-f]{8})\.parquet$")


class HistoryError(ValueError):
    pass


# ---------------------------------------------------------------- keys and names


def _safe(part: str) -> str:
    """A DAG id or SDK name as one folder name: never empty, hidden, '.' or '..'."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", part)
    if not safe or safe.startswith("."):
        raise HistoryError(f"{part!r} cannot name a history folder: use letters, digits, '_', '-' or '.'")
    return safe


def logical_time(logical_date: str | datetime) -> datetime:
    """The logical date as an aware UTC datetime (naive values are taken as UTC)."""
    if isinstance(logical_date, str):
        try:
            moment = datetime.fromisoformat(logical_date)
        except ValueError:
            raise HistoryError(f"logical_date {logical_date!r} is not an ISO 8601 date or datetime") from None
    else:
        moment = logical_date
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def date_key(logical_date: str | datetime) -> str:
    """The folder of a logical date: the same instant always gets the same folder."""
    moment = logical_time(logical_date)
    return (
        moment.strftime("%Y-%m-%dT%H%M%S")
        + (f".{moment.microsecond:06d}" if moment.microsecond else "")
        + "Z"
    )


def _parse_date_key(name: str) -> datetime | None:
    match = _DATE_DIR.match(name)
    if not match:
        return None
    year, month, day, hour, minute, second, micro = match.groups()
    return datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), int(micro or 0), tzinfo=UTC
    )


def _new_write_id(after: str | None = None) -> str:
    stamp = datetime.now(UTC)
    if after is not None:
        previous = datetime.strptime(after[:22], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
        stamp = max(stamp, previous + timedelta(microseconds=1))  # the wall clock may step back
    return f"{stamp:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Partition:
    """One committed partition, as found by listing (nothing read yet)."""

    dag_id: str
    date_key: str
    sdk_key: str
    logical_time: datetime
    write_id: str
    summary_path: str  # absolute: a local path, or a path in the remote filesystem
    rows_path: str

    @property
    def name(self) -> str:
        return f"{self.date_key}/{self.sdk_key}"


# ---------------------------------------------------------------- storage backends


class _LocalStore:
    """A local directory: temp file + fsync + os.replace, and a lock per partition."""

    remote = False

    def __init__(self, root: Path):
        self.root = root

    def join(self, *parts: str) -> str:
        return str(self.root.joinpath(*parts))

    def list_dir(self, path: str) -> list[tuple[str, bool]]:
        try:
            with os.scandir(path) as entries:
                return [(e.name, e.is_dir()) for e in entries]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def list_partition_dirs(
        self, dag_dir: str, keep_date: Callable[[str], bool] | None = None, sdk_key: str | None = None
    ) -> Iterator[tuple[str, str, list[str]]]:
        # Plain listdir: a year is ~3,300 folders and this is most of a dashboard's open time.
        try:
            dates = os.listdir(dag_dir)
        except (FileNotFoundError, NotADirectoryError):
            return
        for date_name in dates:
            if not _DATE_DIR.match(date_name) or (keep_date is not None and not keep_date(date_name)):
                continue
            date_dir = os.path.join(dag_dir, date_name)
            try:
                sdk_names = [sdk_key] if sdk_key is not None else os.listdir(date_dir)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for sdk_name in sdk_names:
                try:
                    files = os.listdir(os.path.join(date_dir, sdk_name))
                except (FileNotFoundError, NotADirectoryError):
                    continue
                yield date_name, sdk_name, files

    def list_partition_files(self, partition_dir: str) -> list[tuple[str, datetime | None]]:
        return [(name, None) for name, is_dir in self.list_dir(partition_dir) if not is_dir]

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    @contextlib.contextmanager
    def lock(self, partition_dir: str) -> Iterator[None]:
        import fcntl

        fd = os.open(os.path.join(partition_dir, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock; so does the process dying

    def write_table(self, path: str, table: pa.Table, *, sync: bool) -> None:
        folder, name = os.path.split(path)
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            pq.write_table(table, tmp, compression="zstd")
            if sync:
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if sync:
            fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def read_table(self, path: str, columns: list[str] | None = None) -> pa.Table:
        return pq.ParquetFile(path).read(columns=columns, use_threads=False)

    def delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def remove_dir_if_empty(self, path: str) -> None:
        with contextlib.suppress(OSError):
            os.rmdir(path)

    def cleanup_stale(
        self, partition_dir: str, keep_id: str, files: list[tuple[str, datetime | None]]
    ) -> None:
        # Under the partition lock nobody else writes here: every other file is dead.
        for name, _ in sorted(files, key=lambda f: not f[0].startswith("summary-")):
            if name == ".lock" or keep_id in name:
                continue
            if _SUMMARY_FILE.match(name) or _ROWS_FILE.match(name) or name.endswith(".tmp"):
                self.delete(os.path.join(partition_dir, name))


class _RemoteStore:
    """Any pyarrow filesystem (S3 in production): an object PUT is atomic, so no temp names."""

    remote = True

    def __init__(self, filesystem, base: str):
        self.fs = filesystem
        self.base = base.rstrip("/")

    def join(self, *parts: str) -> str:
        return "/".join([self.base, *parts])

    def _infos(self, path: str, recursive: bool):
        from pyarrow import fs as pafs

        return self.fs.get_file_info(pafs.FileSelector(path, recursive=recursive, allow_not_found=True))

    def list_partition_dirs(
        self, dag_dir: str, keep_date: Callable[[str], bool] | None = None, sdk_key: str | None = None
    ) -> Iterator[tuple[str, str, list[str]]]:
        from pyarrow import fs as pafs

        found: dict[tuple[str, str], list[str]] = {}
        prefix = dag_dir.rstrip("/") + "/"
        for info in self._infos(dag_dir, recursive=True):
            if info.type != pafs.FileType.File or not info.path.startswith(prefix):
                continue
            parts = info.path[len(prefix) :].split("/")
            if len(parts) != 3 or not _DATE_DIR.match(parts[0]) or sdk_key not in (None, parts[1]):
                continue
            if keep_date is None or keep_date(parts[0]):
                found.setdefault((parts[0], parts[1]), []).append(parts[2])
        for (date_name, sdk_name), files in found.items():
            yield date_name, sdk_name, files

    def list_partition_files(self, partition_dir: str) -> list[tuple[str, datetime | None]]:
        from pyarrow import fs as pafs

        return [
            (info.base_name, info.mtime)
            for info in self._infos(partition_dir, recursive=False)
            if info.type == pafs.FileType.File
        ]

    def makedirs(self, path: str) -> None:
        self.fs.create_dir(path, recursive=True)

    @contextlib.contextmanager
    def lock(self, partition_dir: str) -> Iterator[None]:
        yield  # no locks on object stores: cleanup below never touches newer writes

    def write_table(self, path: str, table: pa.Table, *, sync: bool) -> None:
        pq.write_table(table, path, filesystem=self.fs, compression="zstd")

    def read_table(self, path: str, columns: list[str] | None = None) -> pa.Table:
        with self.fs.open_input_file(path) as source:
            return pq.ParquetFile(source).read(columns=columns, use_threads=False)

    def delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(path)

    def remove_dir_if_empty(self, path: str) -> None:
        with contextlib.suppress(OSError):
            if not self._infos(path, recursive=True):
                self.fs.delete_dir(path)

    def cleanup_stale(
        self, partition_dir: str, keep_id: str, files: list[tuple[str, datetime | None]]
    ) -> None:
        # No lock here: delete only what a newer write cannot need — older committed ids, and
        # uncommitted leftovers past a grace period (they may belong to a writer still running).
        now = datetime.now(UTC)
        for name, mtime in sorted(files, key=lambda f: not f[0].startswith("summary-")):
            match = _SUMMARY_FILE.match(name) or _ROWS_FILE.match(name)
            if not match or match.group(1) >= keep_id:
                continue
            if mtime is None or now - mtime > ORPHAN_GRACE or _committed_elsewhere(files, match.group(1)):
                self.delete(f"{partition_dir}/{name}")


def _committed_elsewhere(files: list[tuple[str, datetime | None]], write_id: str) -> bool:
    # An older id whose summary exists was committed and is now superseded: safe to delete.
    return any(name == f"summary-{write_id}.parquet" for name, _ in files)


def _store(uri: str) -> _LocalStore | _RemoteStore:
    if not uri:
        raise HistoryError("no history location: set campaign.history_uri (a path, file://… or s3://…)")
    if "://" not in uri:
        return _LocalStore(Path(uri))
    if uri.startswith("file://"):
        return _LocalStore(Path(uri.removeprefix("file://")))
    from pyarrow import fs as pafs

    try:
        filesystem, base = pafs.FileSystem.from_uri(uri)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as err:
        raise HistoryError(
            f"history_uri {uri!r} is not a location pyarrow can open ({err}); "
            f"use a local path, file://… or s3://bucket/prefix"
        ) from err
    return _RemoteStore(filesystem, base)


# ---------------------------------------------------------------- schema handling


def _check_version(schema: pa.Schema, where: str, kind: str) -> None:
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


def _with_metadata(table: pa.Table, kind: str) -> pa.Table:
    return table.replace_schema_metadata({VERSION_KEY: str(SCHEMA_VERSION).encode(), KIND_KEY: kind.encode()})


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
    known = set(RESULT_COLUMNS)
    unknown = {key for row in rows for key in row} - known
    if unknown:
        raise HistoryError(f"test rows have columns outside the results schema: {sorted(unknown)}")
    try:
        return pa.table(
            {column: [row.get(column) for row in rows] for column in RESULT_COLUMNS}, schema=ROWS_SCHEMA
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise HistoryError(f"test rows do not fit the results schema: {err}") from err


# ---------------------------------------------------------------- writing


def _committed_id(files: list[str]) -> str | None:
    summaries = {m.group(1) for name in files if (m := _SUMMARY_FILE.match(name))}
    rows = {m.group(1) for name in files if (m := _ROWS_FILE.match(name))}
    committed = summaries & rows
    return max(committed) if committed else None


def partition_path(uri: str, dag_id: str, logical_date: str, sdk: str) -> str:
    """The folder of one (DAG, logical date, SDK) partition."""
    return _store(uri).join(_safe(dag_id), date_key(logical_date), _safe(sdk))


def write_partition(uri: str, summary: dict, rows: list[dict], *, sync: bool = True) -> Partition:
    """Write (or replace) the partition of summary's dag_id, logical_date and sdk; see the module doc."""
    return write_partition_table(uri, summary, rows_table(rows), sync=sync)


def write_partition_table(uri: str, summary: dict, rows: pa.Table, *, sync: bool = True) -> Partition:
    """write_partition for rows already in Arrow form (ROWS_SCHEMA, or castable to it)."""
    store = _store(uri)
    if rows.schema != ROWS_SCHEMA:
        try:
            rows = rows.select(RESULT_COLUMNS).cast(ROWS_SCHEMA)
        except (KeyError, pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise HistoryError(f"test rows do not fit the results schema: {err}") from err
    summary_record(summary, write_id="", row_count=0)  # validate before touching storage
    dag_key, sdk_key = _safe(summary["dag_id"]), _safe(summary["sdk"])
    key = date_key(summary["logical_date"])
    folder = store.join(dag_key, key, sdk_key)
    store.makedirs(folder)
    with store.lock(folder):
        before = store.list_partition_files(folder)
        ids = [m.group(1) for name, _ in before if (m := _SUMMARY_FILE.match(name) or _ROWS_FILE.match(name))]
        write_id = _new_write_id(max(ids) if ids else None)
        record = summary_record(summary, write_id=write_id, row_count=rows.num_rows)
        summary_table = _with_metadata(pa.Table.from_pylist([record], schema=SUMMARY_SCHEMA), "summary")
        rows_path = f"{folder}/rows-{write_id}.parquet"
        summary_path = f"{folder}/summary-{write_id}.parquet"
        store.write_table(rows_path, _with_metadata(rows, "rows"), sync=sync)
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
    )


# ---------------------------------------------------------------- reading


def list_partitions(
    uri: str, dag_id: str, *, sdk: str | None = None, since: datetime | None = None
) -> list[Partition]:
    """The committed partitions of a DAG (optionally one SDK, logical dates >= since), by date then SDK."""
    store = _store(uri)
    dag_dir = store.join(_safe(dag_id))
    since = logical_time(since) if since is not None else None
    partitions = []
    moments: dict[str, datetime] = {}

    def keep_date(name: str) -> bool:
        moments[name] = moment = _parse_date_key(name)
        return since is None or moment >= since

    sdk_key = _safe(sdk) if sdk is not None else None
    for date_name, sdk_name, files in store.list_partition_dirs(dag_dir, keep_date, sdk_key):
        moment = moments[date_name]
        write_id = _committed_id(files)
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
            )
        )
    return sorted(partitions, key=lambda p: (p.logical_time, p.sdk_key))


def _read_checked(store, path: str, kind: str, columns: list[str] | None = None) -> pa.Table:
    try:
        table = store.read_table(path, columns=columns)
    except FileNotFoundError:
        raise  # superseded and cleaned up while we read: the caller lists again
    except (pa.ArrowInvalid, OSError) as err:
        raise HistoryError(f"{path}: unreadable history {kind} file: {err}") from err
    _check_version(table.schema, path, kind)
    return table


def _read_summary_table(store, partition: Partition) -> pa.Table:
    table = _read_checked(store, partition.summary_path, "summary")
    if table.schema.remove_metadata() != SUMMARY_SCHEMA:
        table = _conform(table, SUMMARY_SCHEMA)
    return table.replace_schema_metadata(None)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """An older file of this major layout: missing columns become nulls, extra ones are dropped."""
    columns = [
        table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def read_partition(uri: str, partition: Partition) -> dict:
    """{"summary": {...}, "rows": [...]} of one committed partition."""
    store = _store(uri)
    summary = _read_summary_table(store, partition).to_pylist()[0]
    rows = _read_checked(store, partition.rows_path, "rows")
    return {"summary": summary_dict(summary), "rows": rows.to_pylist()}


def read_run(uri: str, dag_id: str, logical_date: str) -> list[dict]:
    """The partitions of one logical date: [{summary, rows}, ...] sorted by SDK."""
    key = date_key(logical_date)
    moment = logical_time(logical_date)
    for attempt in range(3):
        partitions = [p for p in list_partitions(uri, dag_id, since=moment) if p.date_key == key]
        try:
            documents = [read_partition(uri, p) for p in partitions]
        except FileNotFoundError:
            if attempt == 2:
                raise
            continue  # a newer write superseded a partition while we read it: list again
        return sorted(documents, key=lambda d: d["summary"]["sdk"])
    return []


def _read_index(store, dag_dir: str) -> pa.Table | None:
    try:
        table = store.read_table(f"{dag_dir}/{INDEX_FILE}")
        _check_version(table.schema, INDEX_FILE, "index")
    except (OSError, pa.ArrowInvalid, HistoryError):
        return None  # a cache: missing, unreadable or from another version means "rebuild"
    if table.schema.remove_metadata() != INDEX_SCHEMA:
        return None
    return table.replace_schema_metadata(None)


def _write_index(store, dag_dir: str, table: pa.Table) -> None:
    with contextlib.suppress(OSError, pa.ArrowException):
        store.write_table(f"{dag_dir}/{INDEX_FILE}", _with_metadata(table, "index"), sync=False)
    if not store.remote:  # a refresher that crashed left its temp file: gone once clearly abandoned
        stale_before = datetime.now().timestamp() - ORPHAN_GRACE.total_seconds()
        for name, _ in store.list_dir(dag_dir):
            if name.startswith(f".{INDEX_FILE}.") and name.endswith(".tmp"):
                path = os.path.join(dag_dir, name)
                with contextlib.suppress(OSError):
                    if os.stat(path).st_mtime < stale_before:
                        os.unlink(path)


def summaries_table(
    uri: str, dag_id: str, *, sdk: str | None = None, since: datetime | None = None
) -> pa.Table:
    """Every committed summary as an Arrow table (SUMMARY_SCHEMA + partition + rows_path), by date, SDK.

    `rows_path` is the partition's rows file (a local path, or a path in the remote filesystem).
    """
    store = _store(uri)
    dag_dir = store.join(_safe(dag_id))
    for attempt in range(3):
        partitions = list_partitions(uri, dag_id, sdk=sdk, since=since)
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
            pool.map(lambda p: _read_summary_table(store, p[0]), missing),
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
        mask = pc.equal(sdk_part, _safe(sdk))
    if since is not None:
        after = pc.greater_equal(index.column("logical_time"), pa.scalar(logical_time(since), _UTC_US))
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
) -> list[dict]:
    """Every SDK summary of the DAG (optionally one SDK, optionally logical dates in the last N days
    before `now`), oldest logical date first, then by SDK."""
    since = None
    if days is not None:
        since = (now or datetime.now(UTC)) - timedelta(days=days)
    table = summaries_table(uri, dag_id, sdk=sdk, since=since)
    return [summary_dict(record) for record in table.to_pylist()]


# ---------------------------------------------------------------- retention


def prune(uri: str, dag_id: str, retention_days: int, *, now: datetime | None = None) -> list[str]:
    """Delete the partitions whose logical date is more than retention_days before now.

    Returns the removed partitions as "<date folder>/<sdk>". Each goes invisible first (its
    summary files are deleted before its rows), so a reader never sees a summary without rows.
    """
    if isinstance(retention_days, bool) or not isinstance(retention_days, int) or retention_days < 1:
        raise HistoryError(f"retention_days must be a whole number of days >= 1; got {retention_days!r}")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    store = _store(uri)
    dag_dir = store.join(_safe(dag_id))
    removed = []
    old_dates = set()
    for date_name, sdk_name, _files in list(store.list_partition_dirs(dag_dir)):
        moment = _parse_date_key(date_name)
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


# ---------------------------------------------------------------- for analytics


def is_local(uri: str) -> bool:
    return isinstance(_store(uri), _LocalStore)


def read_rows_files(uri: str, paths: list[str], columns: list[str]) -> pa.Table:
    """The rows files' `columns`, plus `file_index` (the position in `paths` of each row's file)."""
    store = _store(uri)
    pieces = []
    for position, path in enumerate(paths):
        table = _read_checked(store, path, "rows", columns=columns).replace_schema_metadata(None)
        pieces.append(
            table.append_column("file_index", pa.repeat(pa.scalar(position, pa.int64()), table.num_rows))
        )
    if not pieces:
        fields = [ROWS_SCHEMA.field(c) for c in columns]
        return pa.schema([*fields, pa.field("file_index", pa.int64())]).empty_table()
    return pa.concat_tables(pieces)
