"""The Great Expectations suites over normalised results (GX 1.x, real library, in-memory data)."""

import pytest

from sdk_campaigns.campaign.validation import validate_results

SLOS = {sdk: {"min_pass_rate": 0.5, "max_test_seconds": 10} for sdk in ("python", "go")}


def _rows(sdk, statuses):
    return [
        {
            "run_id": "r1",
            "logical_date": "2026-11-21T06:00:00+00:00",
            "sdk": sdk,
            "suite": "s",
            "classname": "c",
            "name": f"t{i}",
            "test_id": f"{sdk}-{i}",
            "status": status,
            "duration": 0.5,
            "message": "",
            "image_digest": "sha256:x",
        }
        for i, status in enumerate(statuses)
    ]


@pytest.fixture(scope="module")
def clean():
    return _rows("python", ["passed", "passed", "failed", "skipped"]) + _rows("go", ["passed", "skipped"])


def test_clean_data_passes(clean):
    outcome = validate_results(clean, ["python", "go"], SLOS)
    assert outcome.success, outcome.summary()


def test_a_wrong_status_value_fails(clean):
    rows = [dict(r) for r in clean]
    rows[0]["status"] = "mostly-passed"
    outcome = validate_results(rows, ["python", "go"], SLOS)
    assert not outcome.success
    assert any(
        "expect_column_values_to_be_in_set" in f and "mostly-passed" in f for f in outcome.failed_expectations
    )


def test_a_missing_sdk_fails(clean):
    rows = [r for r in clean if r["sdk"] != "go"]
    outcome = validate_results(rows, ["python", "go"], SLOS)
    assert not outcome.success
    assert any("expect_column_distinct_values_to_contain_set" in f for f in outcome.failed_expectations)


def test_a_pass_rate_under_the_slo_fails(clean):
    rows = _rows("python", ["failed", "failed", "passed"]) + _rows("go", ["passed"])
    outcome = validate_results(rows, ["python", "go"], SLOS)
    assert not outcome.success
    assert any("pass_rate" in f for f in outcome.failed_expectations)


def test_duplicate_test_ids_fail(clean):
    rows = clean + [dict(clean[0])]
    assert not validate_results(rows, ["python", "go"], SLOS).success


def test_data_docs_are_written_with_the_run(clean, tmp_path):
    validate_results(clean, ["python", "go"], SLOS, docs_dir=tmp_path / "data-docs")
    index = tmp_path / "data-docs" / "index.html"
    assert index.exists()
    assert "sdk_test_results" in index.read_text()
    assert list((tmp_path / "data-docs" / "validations").rglob("*.html"))


def _slow(rows, sdk, seconds):
    """The rows with the sdk's first test taking `seconds`."""
    return [{**r, "duration": seconds} if (r["sdk"], r["name"]) == (sdk, "t0") else r for r in rows]


@pytest.mark.parametrize(
    ("slow_sdk", "limits", "fails"),
    [
        ("python", {"python": 10, "go": 10}, True),  # one expectation for both SDKs' limit
        ("go", {"python": 10, "go": 10}, True),
        ("python", {"python": 10, "go": 20}, True),  # one expectation per limit
        ("go", {"python": 10, "go": 20}, False),  # 12 s is within go's own limit
    ],
)
def test_each_sdks_duration_limit_holds_for_its_own_tests(clean, slow_sdk, limits, fails):
    slos = {sdk: {"min_pass_rate": 0.5, "max_test_seconds": limit} for sdk, limit in limits.items()}
    outcome = validate_results(_slow(clean, slow_sdk, 12.0), ["python", "go"], slos)
    assert outcome.success is not fails, outcome.summary()
    if fails:
        assert "expect_column_values_to_be_between" in outcome.summary()


@pytest.mark.parametrize(
    "breaks",
    [
        lambda rows: rows,  # clean: passes either way
        lambda rows: [{**rows[0], "status": "exploded"}, *rows[1:]],
        lambda rows: [*rows, rows[0]],  # a duplicate test id
        lambda rows: [r for r in rows if r["sdk"] != "go"],  # an SDK missing
        lambda rows: [{**rows[0], "sdk": None}, *rows[1:]],
        lambda rows: _slow(rows, "go", 12.0),
    ],
)
def test_an_arrow_table_is_judged_as_its_rows_are(clean, breaks):
    """Arrow input (what collect writes) reaches GX as categoricals: the same verdicts as row dicts."""
    import pyarrow as pa

    rows = breaks(clean)
    from_dicts = validate_results(rows, ["python", "go"], SLOS)
    from_arrow = validate_results(pa.Table.from_pylist(rows), ["python", "go"], SLOS)
    assert from_arrow.success is from_dicts.success
    assert [f.split("(")[0] for f in from_arrow.failed_expectations] == [
        f.split("(")[0] for f in from_dicts.failed_expectations
    ]
