"""Per-language pass/fail history: one partition per (DAG, logical date, SDK).

A rerun or backfill of the same logical date replaces its own partitions and nothing
else, so history never holds duplicates. Each partition is one file written to a
temporary name and renamed into place: readers see the old file or the new one,
never half of either.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

SCHEMA_VERSION = 1


class HistoryError(ValueError):
    pass


def _root(uri: str) -> Path:
    if "://" in uri and not uri.startswith("file://"):
        raise HistoryError(
            f"history_uri {uri!r}: only local directories are supported by this version; "
            f"use a path (or file://) in campaign.history_uri"
        )
    return Path(uri.removeprefix("file://"))


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", part)


def partition_path(uri: str, dag_id: str, logical_date: str, sdk: str) -> Path:
    return _root(uri) / _safe(dag_id) / _safe(logical_date) / f"{_safe(sdk)}.json"


def write_partition(uri: str, summary: dict, rows: list[dict]) -> Path:
    """Atomically write (or replace) the partition of summary's dag_id, logical_date and sdk."""
    path = partition_path(uri, summary["dag_id"], summary["logical_date"], summary["sdk"])
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"schema_version": SCHEMA_VERSION, "summary": summary, "rows": rows}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_partition(path: Path) -> dict:
    document = json.loads(path.read_text())
    if document.get("schema_version") != SCHEMA_VERSION:
        raise HistoryError(f"{path}: schema version {document.get('schema_version')} is not {SCHEMA_VERSION}")
    return document


def read_summaries(uri: str, dag_id: str, sdk: str | None = None) -> list[dict]:
    """Every SDK summary of the DAG, oldest logical date first."""
    base = _root(uri) / _safe(dag_id)
    if not base.is_dir():
        return []
    pattern = f"*/{_safe(sdk)}.json" if sdk else "*/*.json"
    summaries = [read_partition(p)["summary"] for p in base.glob(pattern)]
    return sorted(summaries, key=lambda s: (s["logical_date"], s["sdk"]))


def read_run(uri: str, dag_id: str, logical_date: str) -> list[dict]:
    """The partitions of one logical date: [{summary, rows}, ...] sorted by SDK."""
    folder = _root(uri) / _safe(dag_id) / _safe(logical_date)
    return [read_partition(p) for p in sorted(folder.glob("*.json"))]
