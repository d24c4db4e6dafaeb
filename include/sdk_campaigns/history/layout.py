"""Where history files live and what their names mean (see the package docstring for the layout).

Folder names for DAGs, logical dates and SDKs, sortable write ids, and the Partition a listing
finds. No I/O here."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sdk_campaigns.campaign.plan import ADHOC_LANE, OFFICIAL_LANE

INDEX_FILE = "_summaries.parquet"
# Files of an uncommitted write younger than this are left alone where no lock protects them
# (S3 partitions; the summary cache's temp files).
ORPHAN_GRACE = timedelta(hours=1)
DATE_DIR = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d)(\d\d)(\d\d)(?:\.(\d{6}))?Z$")
SUMMARY_FILE = re.compile(r"^summary-(\d{8}T\d{12}Z-[0-9a-f]{8})\.parquet$")
ROWS_FILE = re.compile(r"^rows-(\d{8}T\d{12}Z-[0-9a-f]{8})\.parquet$")
# Runs with overrides (another repository, ref or command) are the "adhoc" lane (campaign/plan.py): kept
# in a folder of their own beside the DAG's, so they can never replace or mix with an official partition.
LANES = (OFFICIAL_LANE, ADHOC_LANE)
LANE_SEPARATOR = "~"  # never in a safe_name: "<dag>~adhoc" cannot be another DAG's folder


class HistoryError(ValueError):
    pass


def safe_name(part: str) -> str:
    """A DAG id or SDK name as one folder name: never empty, hidden, '.' or '..'."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", part)
    if not safe or safe.startswith("."):
        raise HistoryError(f"{part!r} cannot name a history folder: use letters, digits, '_', '-' or '.'")
    return safe


def lane_dir_name(dag_id: str, lane: str = OFFICIAL_LANE) -> str:
    """The folder of one lane of a DAG's history: the DAG's own folder for the official lane."""
    if lane not in LANES:
        raise HistoryError(f"lane {lane!r} is not a history lane; lanes: {', '.join(LANES)}")
    dag_key = safe_name(dag_id)
    return dag_key if lane == OFFICIAL_LANE else f"{dag_key}{LANE_SEPARATOR}{lane}"


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


def parse_date_key(name: str) -> datetime | None:
    match = DATE_DIR.match(name)
    if not match:
        return None
    year, month, day, hour, minute, second, micro = match.groups()
    return datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), int(micro or 0), tzinfo=UTC
    )


def new_write_id(after: str | None = None) -> str:
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
    lane: str = OFFICIAL_LANE

    @property
    def name(self) -> str:
        return f"{self.date_key}/{self.sdk_key}"


def committed_id(files: list[str]) -> str | None:
    summaries = {m.group(1) for name in files if (m := SUMMARY_FILE.match(name))}
    rows = {m.group(1) for name in files if (m := ROWS_FILE.match(name))}
    committed = summaries & rows
    return max(committed) if committed else None
