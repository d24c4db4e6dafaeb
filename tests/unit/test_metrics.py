import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from sdk_campaigns.campaign import metrics

LOGICAL_DATE = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def _outcome(**overrides):
    outcome = {
        "sdk": "python",
        "status": "tests_failed",
        "reason": "2 of 10 tests failed",
        "job_seconds": 600.0,
        "counts": {"passed": 7, "failed": 1, "error": 1, "skipped": 1, "total": 10},
    }
    return {**outcome, **overrides}


def _by_name(data):
    return {d["MetricName"]: d for d in data}


def test_tests_failed_outcome_gives_every_metric():
    data = metrics.campaign_metrics(
        _outcome(),
        dag_id="sdk_test_campaign",
        vcpu=0.5,
        memory_gib=1.0,
        prices=metrics.FargatePrices(),
        queue_wait_seconds=12.5,
        logical_date=LOGICAL_DATE,
    )
    by_name = _by_name(data)
    assert list(by_name) == [spec.name for spec in metrics.SDK_METRICS]
    values = {name: d["Value"] for name, d in by_name.items()}
    assert values["TestsPassed"] == 7
    assert values["TestsFailed"] == 2  # failed + error
    assert values["TestsSkipped"] == 1
    assert values["PassRate"] == pytest.approx(100 * 7 / 9)  # skipped tests did not run
    assert values["JobDuration"] == 600
    assert values["QueueWait"] == 12.5
    assert values["InfrastructureFailure"] == 0
    assert {d["Unit"] for d in data} <= {"Count", "Percent", "Seconds", "None"}
    assert by_name["PassRate"]["Unit"] == "Percent"
    assert by_name["EstimatedCost"]["Unit"] == "None"
    for datum in data:
        assert datum["Timestamp"] == LOGICAL_DATE
        assert datum["Dimensions"] == [
            {"Name": "Campaign", "Value": "sdk_test_campaign"},
            {"Name": "Sdk", "Value": "python"},
        ]


def test_infrastructure_failure_without_counts():
    outcome = {"sdk": "go", "status": "infrastructure_failed", "reason": "never started", "counts": {}}
    values = {
        d["MetricName"]: d["Value"]
        for d in metrics.campaign_metrics(
            outcome, dag_id="d", vcpu=0.5, memory_gib=1, queue_wait_seconds=None, logical_date=LOGICAL_DATE
        )
    }
    assert values == {"TestsPassed": 0, "TestsFailed": 0, "TestsSkipped": 0, "InfrastructureFailure": 1}


def test_pass_rate_is_omitted_when_every_test_was_skipped():
    outcome = _outcome(status="passed", counts={"passed": 0, "failed": 0, "error": 0, "skipped": 4})
    names = {
        d["MetricName"]
        for d in metrics.campaign_metrics(
            outcome, dag_id="d", vcpu=0.5, memory_gib=1, logical_date=LOGICAL_DATE
        )
    }
    assert "PassRate" not in names
    assert "TestsSkipped" in names


def test_cost_arithmetic():
    prices = metrics.FargatePrices()
    assert prices.per_vcpu_second == pytest.approx(0.04048 / 3600)
    assert prices.per_gib_second == pytest.approx(0.004445 / 3600)
    # 10 minutes of 0.5 vCPU and 1 GiB: 600 × (0.5 × 0.04048 + 1 × 0.004445) / 3600
    assert prices.job_cost(600, vcpu=0.5, memory_gib=1) == pytest.approx(0.00411416667, rel=1e-6)
    # one hour of 1 vCPU and 2 GiB is the hourly price list, added up
    assert prices.job_cost(3600, vcpu=1, memory_gib=2) == pytest.approx(0.04048 + 2 * 0.004445)
    # billed per second, rounded up, with a one-minute minimum
    assert prices.job_cost(10, vcpu=1, memory_gib=2) == prices.job_cost(60, vcpu=1, memory_gib=2)
    assert prices.job_cost(60.2, vcpu=1, memory_gib=2) == prices.job_cost(61, vcpu=1, memory_gib=2)
    free_minimum = metrics.FargatePrices(minimum_seconds=0)
    assert free_minimum.job_cost(10, vcpu=1, memory_gib=2) == pytest.approx(10 * (0.04048 + 0.00889) / 3600)

    data = metrics.campaign_metrics(
        _outcome(job_seconds=600), dag_id="d", vcpu=0.5, memory_gib=1024 / 1024, logical_date=LOGICAL_DATE
    )
    assert _by_name(data)["EstimatedCost"]["Value"] == pytest.approx(0.00411416667, rel=1e-6)


def test_no_job_duration_means_no_duration_and_no_cost():
    data = metrics.campaign_metrics(
        _outcome(job_seconds=None), dag_id="d", vcpu=0.5, memory_gib=1, logical_date=LOGICAL_DATE
    )
    assert not {"JobDuration", "EstimatedCost", "QueueWait"} & set(_by_name(data))


def test_timestamp_from_the_outcome_logical_date():
    outcome = _outcome(logical_date="2026-11-20T06:00:00+00:00")
    data = metrics.campaign_metrics(outcome, dag_id="d", vcpu=0.5, memory_gib=1)
    assert {d["Timestamp"] for d in data} == {LOGICAL_DATE}
    shifted = metrics.as_timestamp("2026-11-20T08:00:00+02:00")
    assert shifted == LOGICAL_DATE and shifted.utcoffset() == timedelta(hours=2)


def test_timestamp_must_be_known_and_timezone_aware():
    with pytest.raises(ValueError, match="no logical date"):
        metrics.campaign_metrics(_outcome(), dag_id="d", vcpu=0.5, memory_gib=1)
    with pytest.raises(ValueError, match="no timezone"):
        metrics.campaign_metrics(
            _outcome(), dag_id="d", vcpu=0.5, memory_gib=1, logical_date=datetime(2026, 11, 20, 6)
        )


def test_campaign_summary_counts_sdks_by_kind_of_failure():
    outcomes = [
        {"sdk": "python", "status": "passed"},
        {"sdk": "go", "status": "tests_failed"},
        {"sdk": "rust", "status": "tests_failed"},
        {"sdk": "java", "status": "infrastructure_failed"},
        {"sdk": "php", "status": "results_invalid"},
    ]
    data = metrics.campaign_summary_metrics(outcomes, dag_id="d", logical_date="2026-11-20T06:00:00Z")
    assert {d["MetricName"]: d["Value"] for d in data} == {"SdksTested": 5, "SdksFailing": 2, "SdksBroken": 2}
    for datum in data:
        assert datum["Dimensions"] == [{"Name": "Campaign", "Value": "d"}]
        assert datum["Unit"] == "Count"
        assert datum["Timestamp"] == LOGICAL_DATE


def test_queue_wait_from_a_batch_job_description():
    assert metrics.queue_wait_seconds({"createdAt": 1_000_000, "startedAt": 1_042_500}) == 42.5
    assert metrics.queue_wait_seconds({"createdAt": 1_000_000}) is None
    assert metrics.queue_wait_seconds({}) is None


def test_batches_split_more_than_a_thousand_entries():
    entries = list(range(2501))
    chunks = list(metrics.batches(entries))
    assert [len(c) for c in chunks] == [1000, 1000, 501]
    assert [e for chunk in chunks for e in chunk] == entries
    assert list(metrics.batches([])) == []
    assert [len(c) for c in metrics.batches(list(range(1000)))] == [1000]


def test_points_cloudwatch_would_refuse_are_set_aside():
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    fresh = {"MetricName": "TestsPassed", "Value": 1.0, "Timestamp": now - timedelta(days=13, hours=23)}
    stale = {**fresh, "Timestamp": now - timedelta(days=15)}
    ahead = {**fresh, "Timestamp": now + timedelta(hours=1)}
    too_far_ahead = {**fresh, "Timestamp": now + timedelta(hours=3)}
    accepted, refused = metrics.publishable([fresh, stale, ahead, too_far_ahead], now)
    assert accepted == [fresh, ahead]
    assert refused == [stale, too_far_ahead]


def test_query_ids_are_valid_and_map_back_for_odd_sdk_names():
    sdks = ["c++", "Python 3.12", "9lives", "", "naïve-sdk", "c++"]
    queries, ids = metrics.metric_queries("d", sdks)
    assert len(queries) == 5 * len(metrics.SDK_METRICS)  # the duplicate is asked for once
    assert len({q["Id"] for q in queries}) == len(queries)
    for query in queries:
        assert re.fullmatch(r"[a-z][a-zA-Z0-9_]*", query["Id"])
        sdk, metric = ids[query["Id"]]
        stat = query["MetricStat"]
        assert stat["Metric"]["MetricName"] == metric
        assert stat["Metric"]["Dimensions"][1] == {"Name": "Sdk", "Value": sdk}
        assert stat["Stat"] == ("Average" if metric in ("PassRate", "JobDuration", "QueueWait") else "Sum")
        assert "Expression" not in query
    assert {sdk for sdk, _ in ids.values()} == set(sdks)


def test_combine_sums_additive_metrics_and_averages_the_rest():
    assert metrics.combine("TestsPassed", [3, 4]) == 7
    assert metrics.combine("EstimatedCost", [0.5, 0.25]) == 0.75
    assert metrics.combine("PassRate", [50, 100]) == 75


def test_docstring_table_names_every_metric():
    for spec in metrics.SDK_METRICS + metrics.CAMPAIGN_METRICS:
        assert re.search(rf"\| {spec.name} +\| {spec.unit} +\| {spec.statistic} ", metrics.__doc__), spec.name


def test_naive_window_is_refused():
    start = datetime(2026, 11, 20, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(ValueError, match="end"):
        metrics.read_back(None, dag_id="d", sdks=["python"], start=start, end=datetime(2026, 11, 21))
