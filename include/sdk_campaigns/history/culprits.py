"""The culprit finder's results beside the history: one small Parquet file per bisection.

Layout: `<history location>/<campaign dag_id>/_culprits/<finished>-<sdk>-<key>.parquet` (one row;
the folder's name never looks like a logical date, so partition listings skip it). Readers: the flaky
statistics (history/analytics.py counts a "not reproducible" bisection's tests as flaky), the report
and health pages (`read_bisections`), the CLI.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pyarrow as pa

from sdk_campaigns.history.layout import HistoryError, logical_time, safe_name
from sdk_campaigns.history.storage import open_store

log = logging.getLogger(__name__)

CULPRITS_FOLDER = "_culprits"
CULPRIT_SCHEMA = pa.schema(
    [
        ("sdk", pa.string()),
        ("key", pa.string()),  # the bisection run's key (culprit/request.bisection_key)
        ("run_id", pa.string()),
        ("repo_url", pa.string()),
        ("good", pa.string()),
        ("bad", pa.string()),
        ("result", pa.string()),  # first_bad | not_reproducible | inconclusive
        ("first_bad", pa.string()),
        ("last_good", pa.string()),
        ("reason", pa.string()),
        ("logical_date", pa.string()),  # the campaign run that saw the break, when known
        ("finished_at", pa.timestamp("us", tz="UTC")),
        ("test_ids", pa.list_(pa.string())),
        ("tests", pa.list_(pa.string())),  # "<classname>::<name>", or the id when only that was given
        ("jobs", pa.int32()),
        ("steps", pa.string()),  # JSON: [{commit, outcome, job_id, status, failing_tests, ...}]
        ("record_uri", pa.string()),
    ]
)


def _folder(store, dag_id: str) -> str:
    return store.join(safe_name(dag_id), CULPRITS_FOLDER)


def write_bisection(uri: str, dag_id: str, record: dict) -> str:
    """Store one finished bisection's record (culprit/records.bisection_record); returns its path."""
    store = open_store(uri)
    finished = logical_time(record["finished_at"])
    row = {
        **{name: record.get(name) for name in CULPRIT_SCHEMA.names},
        "finished_at": finished,
        "steps": json.dumps(record.get("steps", []), sort_keys=True),
        "jobs": len(record.get("steps", [])),
    }
    try:
        table = pa.Table.from_pylist([row], schema=CULPRIT_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise HistoryError(f"bisection record does not fit the culprit table: {err}") from err
    folder = _folder(store, dag_id)
    store.makedirs(folder)
    path = (
        f"{folder}/{finished:%Y%m%dT%H%M%S%f}Z-{safe_name(record['sdk'])}-{safe_name(record['key'])}.parquet"
    )
    store.write_table(path, table, sync=True)
    return path


def read_bisections(
    uri: str, dag_id: str, *, sdk: str | None = None, since: str | datetime | None = None
) -> list[dict]:
    """Every stored bisection of the campaign (optionally one SDK, optionally finished since a moment),
    oldest first; `steps` parsed back to a list."""
    store = open_store(uri)
    folder = _folder(store, dag_id)
    cutoff = logical_time(since) if since is not None else None
    found = []
    for name, _ in sorted(store.list_partition_files(folder)):
        if not name.endswith(".parquet") or name.startswith("."):
            continue
        try:
            table = store.read_table(f"{folder}/{name}")
        except (OSError, pa.ArrowInvalid) as err:  # one unreadable record never hides the others
            log.warning("culprit record %s/%s is unreadable, skipped: %s", folder, name, err)
            continue
        for row in table.to_pylist():
            if sdk is not None and row["sdk"] != sdk:
                continue
            if cutoff is not None and row["finished_at"] < cutoff:
                continue
            row["steps"] = json.loads(row["steps"] or "[]")
            row["finished_at"] = row["finished_at"].astimezone(UTC).isoformat()
            found.append(row)
    return found


def not_reproducible_tests(
    uri: str, dag_id: str, *, since: str | datetime | None = None, until: str | datetime | None = None
) -> list[dict]:
    """Tests whose failure a bisection could not reproduce (the bad commit passed on rerun): flaky.
    One entry per (sdk, test id), the newest bisection's. A bisection is dated by the campaign run
    that saw the failure (its `logical_date`), else by when it finished; `since` < date <= `until`."""
    newest: dict[tuple[str, str], dict] = {}
    low = logical_time(since) if since is not None else None
    high = logical_time(until) if until is not None else None
    for record in read_bisections(uri, dag_id):
        if record["result"] != "not_reproducible":
            continue
        dated = logical_time(record["logical_date"] or record["finished_at"])
        if (low is not None and dated <= low) or (high is not None and dated > high):
            continue
        labels = record["tests"] or []
        for index, test_id in enumerate(record["test_ids"] or []):
            label = labels[index] if index < len(labels) else test_id
            classname, _, name = label.partition("::") if "::" in label else ("", "", "")
            newest[(record["sdk"], test_id)] = {
                "sdk": record["sdk"],
                "test_id": test_id,
                "classname": classname,
                "name": name,
                "commit": record["bad"],
                "logical_date": record["logical_date"] or record["finished_at"],
                "bisection": record["key"],
                "record_uri": record["record_uri"],
            }
    return [newest[k] for k in sorted(newest)]
