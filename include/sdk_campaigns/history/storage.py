"""The two places a history can live: a local directory (temp file, fsync, os.replace, a lock
per partition) or any pyarrow filesystem such as S3 (an object PUT is atomic; no locks)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from sdk_campaigns.history.layout import DATE_DIR, ORPHAN_GRACE, ROWS_FILE, SUMMARY_FILE, HistoryError


class LocalStore:
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
            if not DATE_DIR.match(date_name) or (keep_date is not None and not keep_date(date_name)):
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
            if SUMMARY_FILE.match(name) or ROWS_FILE.match(name) or name.endswith(".tmp"):
                self.delete(os.path.join(partition_dir, name))


class RemoteStore:
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
            if len(parts) != 3 or not DATE_DIR.match(parts[0]) or sdk_key not in (None, parts[1]):
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

    @property
    def _object_store(self) -> bool:
        return self.fs.type_name in ("s3", "gcs")

    def makedirs(self, path: str) -> None:
        # An object store has no folders: writing a key is enough. pyarrow's create_dir would also
        # ask HeadBucket (s3:ListBucket on AWS; moto wants an "s3:HeadBucket" action no real policy
        # has) and leave empty marker objects behind.
        if not self._object_store:
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
            match = SUMMARY_FILE.match(name) or ROWS_FILE.match(name)
            if not match or match.group(1) >= keep_id:
                continue
            if mtime is None or now - mtime > ORPHAN_GRACE or _committed_elsewhere(files, match.group(1)):
                self.delete(f"{partition_dir}/{name}")


def _committed_elsewhere(files: list[tuple[str, datetime | None]], write_id: str) -> bool:
    # An older id whose summary exists was committed and is now superseded: safe to delete.
    return any(name == f"summary-{write_id}.parquet" for name, _ in files)


# pyarrow's own S3 filesystem uses the default credential chain: no Airflow connection, no role_arn,
# no endpoint. Tasks, the SDK Health app and the CLI hand it one built from the connection instead.
_s3_filesystem: Callable[[], object] | None = None


def use_s3_filesystem(factory: Callable[[], object] | None) -> Callable[[], object] | None:
    """Open s3:// histories on the pyarrow filesystem `factory()` returns (see
    campaign.aws.AwsContext.s3_filesystem); None goes back to pyarrow's default credential chain.
    Returns the factory used until now, to restore it."""
    global _s3_filesystem
    previous, _s3_filesystem = _s3_filesystem, factory
    return previous


def use_airflow_connection(aws_conn_id: str) -> None:
    """Open s3:// histories with this Airflow AWS connection from now on, in this process."""
    from sdk_campaigns.campaign.aws import AwsContext

    use_s3_filesystem(AwsContext(aws_conn_id).s3_filesystem)


def open_store(uri: str) -> LocalStore | RemoteStore:
    if not uri:
        raise HistoryError("no history location: set campaign.history_uri (a path, file://… or s3://…)")
    if "://" not in uri:
        return LocalStore(Path(uri))
    if uri.startswith("file://"):
        return LocalStore(Path(uri.removeprefix("file://")))
    if uri.startswith("s3://") and _s3_filesystem is not None:
        location = urlsplit(uri)
        if location.query:
            raise HistoryError(
                f"history_uri {uri!r} sets S3 options in its query, but the history is read through the "
                f"Airflow connection: drop the query and set region or endpoint on the connection"
            )
        return RemoteStore(_s3_filesystem(), f"{location.netloc}{location.path}".rstrip("/"))
    from pyarrow import fs as pafs

    try:
        filesystem, base = pafs.FileSystem.from_uri(uri)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as err:
        raise HistoryError(
            f"history_uri {uri!r} is not a location pyarrow can open ({err}); "
            f"use a local path, file://… or s3://bucket/prefix"
        ) from err
    return RemoteStore(filesystem, base)


def is_local(uri: str) -> bool:
    return isinstance(open_store(uri), LocalStore)
