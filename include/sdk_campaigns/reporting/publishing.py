"""Putting published files in place: locally, atomically; on S3, with their content types.

The published folder of a DAG (see report.py and feed.py)::

    <report_dir>/<dag_id>/
      latest.html                 the newest run's report
      feed.json                   the JSON feed
      badges/<sdk>.json           shields.io endpoint badges
      <run>/report.html           one folder per run
      <run>/data-docs/…           its Great Expectations Data Docs

On S3 the same tree goes under ``s3://bucket/prefix/``. Readers may fetch at any moment, so
the run's own files go first and the files that point at them (badges, feed.json,
latest.html) last: nothing published ever links to a file not uploaded yet.
"""

from __future__ import annotations

import mimetypes
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
# Files that change on every run: caches (a CDN, shields.io) must revalidate them.
POINTER_FILES = ("latest.html", "feed.json")
POINTER_FOLDERS = ("badges",)
POINTER_CACHE_CONTROL = "no-cache"
TEMPORARY_SUFFIX = ".tmp"


class PublishingError(ValueError):
    pass


def write_atomically(path: Path, content: str) -> None:
    """Write `content` to `path` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the file from a web server's user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def content_type(path: Path | str) -> str:
    suffix = Path(path).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(str(path))[0] or "application/octet-stream"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/prefix` as (bucket, prefix without slashes at either end)."""
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise PublishingError(f"{uri!r} is not an S3 location: use s3://bucket/prefix")
    return parts.netloc, parts.path.strip("/")


def _is_pointer(relative: Path) -> bool:
    return relative.as_posix() in POINTER_FILES or relative.parts[0] in POINTER_FOLDERS


def published_files(published_dir: Path, run_dir: Path | None = None) -> list[Path]:
    """The files to upload, relative to `published_dir`, in upload order (pointers last).

    With `run_dir` (a run's folder inside `published_dir`): that run's files and the pointers;
    without it: every file. Temporary files of writes in progress are never included."""
    published_dir = published_dir.resolve()
    roots = [published_dir] if run_dir is None else [run_dir.resolve(), published_dir]
    found: set[Path] = set()
    for root in roots:
        if root != published_dir and published_dir not in root.parents:
            raise PublishingError(f"{root} is not inside the published folder {published_dir}")
        for path in root.rglob("*"):
            if not path.is_file() or path.name.endswith(TEMPORARY_SUFFIX):
                continue
            relative = path.relative_to(published_dir)
            if root == published_dir and run_dir is not None and not _is_pointer(relative):
                continue
            found.add(relative)
    order = {name: i for i, name in enumerate(("badges", "feed.json", "latest.html"))}
    return sorted(found, key=lambda p: (_is_pointer(p), order.get(p.parts[0], -1), p.as_posix()))


def upload_published(s3, published_dir: Path, destination: str, *, run_dir: Path | None = None) -> list[str]:
    """Upload the published folder (or, with `run_dir`, one run's folder and the pointers) to
    `destination` (s3://bucket/prefix) with each file's Content-Type. `s3` is a boto3 S3 client.

    Returns the keys written, in upload order."""
    bucket, prefix = parse_s3_uri(destination)
    keys = []
    for relative in published_files(published_dir, run_dir):
        key = f"{prefix}/{relative.as_posix()}" if prefix else relative.as_posix()
        extra = {"CacheControl": POINTER_CACHE_CONTROL} if _is_pointer(relative) else {}
        with open(published_dir / relative, "rb") as body:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type(relative), **extra)
        keys.append(key)
    return keys
