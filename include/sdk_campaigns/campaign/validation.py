"""Great Expectations (1.x library API) over the normalised results of one campaign run.

Two suites, built in code: one over the test rows (schema, status values, ids, the
requested SDKs present, durations within each SDK's limit) and one over the per-SDK
summary (pass rate at or above the SDK's SLO). great_expectations is imported inside
the functions: it takes seconds to import and must never slow DAG parsing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sdk_campaigns.campaign.junit import STATUSES

RESULT_COLUMNS = [
    "run_id",
    "logical_date",
    "sdk",
    "suite",
    "classname",
    "name",
    "test_id",
    "status",
    "duration",
    "message",
    "image_digest",
]

# One value per run, SDK or suite: categoricals. Test ids, names and messages stay strings (a category
# per row would cost more than it saves).
FEW_VALUES = ("run_id", "logical_date", "sdk", "suite", "classname", "status", "image_digest")


@dataclass
class ValidationOutcome:
    success: bool
    failed_expectations: list[str]
    report: dict  # the GX validation results, JSON-ready

    def summary(self) -> str:
        if self.success:
            return "all expectations met"
        return "failed: " + "; ".join(self.failed_expectations)


def _describe(result: dict) -> str:
    config = result["expectation_config"]
    kwargs = {k: v for k, v in config["kwargs"].items() if k not in ("batch_id", "result_format")}
    observed = result.get("result", {})
    detail = observed.get("partial_unexpected_list") or observed.get("observed_value")
    return f"{config['type']}({kwargs}) observed {detail!r}"


def results_frame(rows):
    """The test rows as the pandas DataFrame GX validates: from an Arrow table (collect.normalise_table)
    without a Python object per row, or from row dicts (RESULT_COLUMNS; missing keys are nulls).
    From Arrow, the columns with few distinct values become categoricals: the same values, but GX's
    row filters and its frame fingerprint then move integer codes instead of strings."""
    import pandas as pd
    import pyarrow as pa

    if not hasattr(rows, "to_pandas"):
        return pd.DataFrame(rows, columns=RESULT_COLUMNS)
    missing = [c for c in RESULT_COLUMNS if c not in rows.column_names]
    if missing:  # still validated: the column-set expectation names what is missing
        return rows.to_pandas().reindex(columns=[*rows.column_names, *missing])
    rows = rows.select(RESULT_COLUMNS)
    for column in FEW_VALUES:
        index = rows.schema.get_field_index(column)
        if rows.schema.field(index).type in (pa.string(), pa.large_string()):
            rows = rows.set_column(index, column, rows[column].dictionary_encode())
    return rows.to_pandas()


def validate_results(
    rows, requested_sdks: list[str], slos: dict[str, dict], docs_dir: Path | None = None
) -> ValidationOutcome:
    """`rows`: the normalised test rows, a list of dicts or an Arrow table. `slos` maps each SDK to
    {"min_pass_rate": float, "max_test_seconds": float}; with `docs_dir`, GX's Data Docs HTML
    (index.html) is written there too, self-contained and inert (campaign.data_docs)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd

    tests = results_frame(rows)
    summary = pd.DataFrame(
        [
            {
                "sdk": sdk,
                "pass_rate": _pass_rate(tests[tests["sdk"] == sdk]),
                "min_pass_rate": slos[sdk]["min_pass_rate"],
            }
            for sdk in requested_sdks
        ]
    )

    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # task logs, not a TTY
    source = context.data_sources.add_pandas("campaign")

    test_suite = gx.ExpectationSuite(name="sdk_test_results")
    test_suite.add_expectation(gxe.ExpectTableColumnsToMatchSet(column_set=RESULT_COLUMNS, exact_match=True))
    test_suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column="status", value_set=list(STATUSES)))
    for column in ("run_id", "sdk", "test_id", "status", "duration"):
        test_suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column))
    test_suite.add_expectation(gxe.ExpectCompoundColumnsToBeUnique(column_list=["run_id", "sdk", "test_id"]))
    test_suite.add_expectation(
        gxe.ExpectColumnDistinctValuesToContainSet(column="sdk", value_set=list(requested_sdks))
    )
    # One expectation per limit, not per SDK: GX filters the whole frame for every row_condition.
    by_limit: dict[float, list[str]] = {}
    for sdk in requested_sdks:
        by_limit.setdefault(slos[sdk]["max_test_seconds"], []).append(sdk)
    for limit, sdks in by_limit.items():
        if len(by_limit) == 1:  # one limit for every SDK: no row filter (a copy of the whole frame)
            condition = {}
        else:
            condition = {
                "row_condition": f'sdk=="{sdks[0]}"' if len(sdks) == 1 else f"sdk in {sdks!r}",
                "condition_parser": "pandas",
            }
        test_suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(column="duration", min_value=0, max_value=limit, **condition)
        )

    slo_suite = gx.ExpectationSuite(name="sdk_pass_rate_slos")
    slo_suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="pass_rate", column_B="min_pass_rate", or_equal=True
        )
    )

    actions = []
    if docs_dir is not None:
        # Data Docs: GX's own HTML of the suites and this run's results, kept with the run.
        context.add_data_docs_site(
            site_name="run",
            site_config={
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
            },
        )
        actions = [gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=["run"])]

    results = []
    for name, frame, suite in (("tests", tests, test_suite), ("slos", summary, slo_suite)):
        batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"validate_{name}", data=batch, suite=context.suites.add(suite))
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(name=f"check_{name}", validation_definitions=[definition], actions=actions)
        )
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
        results.extend(outcome.run_results.values())

    if docs_dir is not None:
        from sdk_campaigns.campaign.data_docs import make_self_contained

        make_self_contained(docs_dir)  # no CDN, no script, no failing value as markup

    report = {"results": [r.to_json_dict() for r in results]}
    failed = [
        _describe(expectation)
        for suite_result in report["results"]
        for expectation in suite_result["results"]
        if not expectation["success"]
    ]
    return ValidationOutcome(
        success=all(r.success for r in results), failed_expectations=failed, report=report
    )


def _pass_rate(rows) -> float:
    ran = rows[rows["status"] != "skipped"]
    if ran.empty:
        return 0.0
    return float((ran["status"] == "passed").sum() / len(ran))
