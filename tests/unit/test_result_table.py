"""collect.normalise_table: the same rows as collect.normalise, as an Arrow table that history and
validation take as it is."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sdk_campaigns.campaign.collect import normalise, normalise_table
from sdk_campaigns.campaign.junit import TestCase
from sdk_campaigns.campaign.validation import RESULT_COLUMNS, results_frame
from sdk_campaigns.history.schema import ROWS_SCHEMA

CASES = [
    TestCase("suite", "pkg.Class", "test_ok", "passed", 0.25, ""),
    TestCase("suite", "pkg.Class", "test_bad", "failed", 1.5, "assert 1 == 2"),
    TestCase("other", "", "näme with ünicode", "skipped", 0.0, "not here", True),
]
FIELDS = {"sdk": "python", "run_id": "r1", "logical_date": "2026-12-01T00:00:00", "digest": "sha256:ab"}


@pytest.mark.parametrize("cases", [CASES, []])
def test_the_table_holds_exactly_the_rows_normalise_makes(cases):
    table = normalise_table(cases, **FIELDS)
    # the history's row schema less the quarantine marker, which publish adds (campaign/quarantine.py)
    assert table.schema.equals(pa.schema([f for f in ROWS_SCHEMA if f.name != "quarantined"]))
    assert table.column_names == RESULT_COLUMNS
    assert table.to_pylist() == normalise(cases, **FIELDS)


def test_validation_reads_a_table_as_it_reads_row_dicts():
    table = normalise_table(CASES, **FIELDS)
    from_table, from_dicts = results_frame(table), results_frame(normalise(CASES, **FIELDS))
    assert from_table.to_dict("records") == from_dicts.to_dict("records")


def test_a_table_missing_a_column_still_reaches_the_expectations():
    table = normalise_table(CASES, **FIELDS).drop_columns(["message"])
    frame = results_frame(table)
    assert set(frame.columns) == set(RESULT_COLUMNS)
    assert frame["message"].isna().all()
    assert isinstance(table, pa.Table)
