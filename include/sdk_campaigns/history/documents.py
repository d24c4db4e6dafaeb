"""Small JSON documents kept beside a DAG's history partitions, in folders whose names start with
'_' (never a logical date, so partition listings pass them by):

    <dag_id>/_quarantine/<change id>.json     one quarantine change each, never rewritten (the audit log)
    <dag_id>/_incidents/<date key>.json       one run's cross-SDK incidents

Local histories write through a temporary file and os.replace; object stores PUT (atomic by itself).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets

from sdk_campaigns.history.layout import HistoryError, safe_name
from sdk_campaigns.history.storage import LocalStore, open_store

_DOCUMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.json$")
MAX_DOCUMENT_BYTES = 1024 * 1024


def _path(store, dag_id: str, folder: str, name: str = "") -> str:
    if not folder.startswith("_") or not re.fullmatch(r"_[a-z]+", folder):
        raise HistoryError(f"history document folder {folder!r} must be '_' and lower-case letters")
    if name and not _DOCUMENT_NAME.match(name):
        raise HistoryError(f"history document name {name!r} must be letters, digits, '.', '_', '-' + .json")
    parts = [safe_name(dag_id), folder, *([name] if name else [])]
    return store.join(*parts)


def write_document(uri: str, dag_id: str, folder: str, name: str, document: dict) -> str:
    """Write (or replace) `<dag_id>/<folder>/<name>`; returns its path."""
    store = open_store(uri)
    path = _path(store, dag_id, folder, name)
    body = json.dumps(document, sort_keys=True, ensure_ascii=False).encode()
    if len(body) > MAX_DOCUMENT_BYTES:
        raise HistoryError(f"{name}: {len(body):,} bytes is over the {MAX_DOCUMENT_BYTES:,} of a document")
    if isinstance(store, LocalStore):
        folder_path = os.path.dirname(path)
        os.makedirs(folder_path, exist_ok=True)
        tmp = os.path.join(folder_path, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            with open(tmp, "wb") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    else:
        with store.fs.open_output_stream(path) as out:
            out.write(body)
    return path


def read_document(uri: str, dag_id: str, folder: str, name: str) -> dict | None:
    """The document, or None when there is none."""
    store = open_store(uri)
    path = _path(store, dag_id, folder, name)
    try:
        if isinstance(store, LocalStore):
            with open(path, "rb") as source:
                body = source.read(MAX_DOCUMENT_BYTES + 1)
        else:
            with store.fs.open_input_stream(path) as source:
                body = source.read(MAX_DOCUMENT_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:  # pyarrow's S3 says "Path does not exist" as an OSError
        if "does not exist" in str(err) or "NoSuchKey" in str(err):
            return None
        raise
    if len(body) > MAX_DOCUMENT_BYTES:
        raise HistoryError(f"{path}: over the {MAX_DOCUMENT_BYTES:,} bytes of a history document")
    try:
        document = json.loads(body)
    except ValueError as err:
        raise HistoryError(f"{path}: not JSON: {err}") from err
    if not isinstance(document, dict):
        raise HistoryError(f"{path}: not a JSON object")
    return document


def list_documents(uri: str, dag_id: str, folder: str) -> list[str]:
    """The names of the folder's documents, sorted (temporary files left out)."""
    store = open_store(uri)
    path = _path(store, dag_id, folder)
    if isinstance(store, LocalStore):
        names = [name for name, is_dir in store.list_dir(path) if not is_dir]
    else:
        names = [name for name, _ in store.list_partition_files(path)]
    return sorted(name for name in names if _DOCUMENT_NAME.match(name))
