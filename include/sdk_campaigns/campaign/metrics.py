"""CloudWatch metrics of a campaign run: built from the SDK outcomes, published, and read back.

Namespace ``SdkCampaigns``. Every data point carries the run's logical date as its
timestamp, so a backfill lands on the date it stands for, not on the day it ran.

Per SDK, dimensions ``Campaign`` (the DAG id) and ``Sdk`` (the SDK name); Statistic is how
``read_back`` aggregates a metric over its window:

| Metric                | Unit    | Statistic | Meaning                                                    |
|-----------------------|---------|-----------|------------------------------------------------------------|
| TestsPassed           | Count   | Sum       | test cases that passed                                     |
| TestsFailed           | Count   | Sum       | test cases that failed or errored                          |
| TestsSkipped          | Count   | Sum       | test cases that were skipped                               |
| PassRate              | Percent | Average   | passed ÷ (passed + failed + errored) %; absent if none ran |
| JobDuration           | Seconds | Average   | the Batch job's startedAt → stoppedAt; absent when unknown |
| QueueWait             | Seconds | Average   | the Batch job's createdAt → startedAt; absent when unknown |
| EstimatedCost         | None    | Sum       | USD the job cost on Fargate (below); absent when unknown   |
| InfrastructureFailure | Count   | Sum       | 1 when the SDK's outcome is infrastructure_failed, else 0  |

EstimatedCost = billed seconds × (vCPU × price per vCPU-second + memory GiB × price per
GiB-second), billed seconds being the job's duration rounded up, at least 60 (Fargate
bills Linux tasks per second with a one-minute minimum); prices from `FargatePrices`.

Per run, dimension ``Campaign`` only:

| Metric                | Unit    | Statistic | Meaning                                                   |
|-----------------------|---------|-----------|-----------------------------------------------------------|
| SdksTested            | Count   | Sum       | SDKs in the run (every planned SDK, whatever its outcome) |
| SdksFailing           | Count   | Sum       | SDKs whose suite ran and had failing tests (tests_failed) |
| SdksBroken            | Count   | Sum       | SDKs with infrastructure_failed or results_invalid        |

CloudWatch keeps what it is sent: PutMetricData is not idempotent, so a rerun of the
same logical date adds a second sample at the same timestamp (Sum doubles, Average
does not move). Read SampleCount when that matters.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

log = logging.getLogger(__name__)

NAMESPACE = "SdkCampaigns"
CAMPAIGN_DIMENSION = "Campaign"
SDK_DIMENSION = "Sdk"

# AWS limits: PutMetricData takes at most 1000 metrics per request, GetMetricData at most
# 500 queries per request; data points may be at most two weeks old and two hours ahead.
PUT_METRIC_DATA_LIMIT = 1000
GET_METRIC_DATA_QUERY_LIMIT = 500
MAX_DATAPOINT_AGE = timedelta(days=14)
MAX_DATAPOINT_LEAD = timedelta(hours=2)

# Outcome statuses (the values of sdk_campaigns.campaign.collect's SDK_* constants; kept literal here
# so this module imports nothing heavier than the standard library).
TESTS_FAILED = "tests_failed"
INFRA_FAILED = "infrastructure_failed"
RESULTS_INVALID = "results_invalid"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    unit: str
    statistic: str  # how read_back aggregates it: Sum for additive values, Average for the rest


SDK_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("TestsPassed", "Count", "Sum"),
    MetricSpec("TestsFailed", "Count", "Sum"),
    MetricSpec("TestsSkipped", "Count", "Sum"),
    MetricSpec("PassRate", "Percent", "Average"),
    MetricSpec("JobDuration", "Seconds", "Average"),
    MetricSpec("QueueWait", "Seconds", "Average"),
    # Cost adds up over runs, as counts do: the Sum over a window is what was spent in it.
    MetricSpec("EstimatedCost", "None", "Sum"),
    MetricSpec("InfrastructureFailure", "Count", "Sum"),
)
CAMPAIGN_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("SdksTested", "Count", "Sum"),
    MetricSpec("SdksFailing", "Count", "Sum"),
    MetricSpec("SdksBroken", "Count", "Sum"),
)
_SDK_UNITS = {spec.name: spec.unit for spec in SDK_METRICS}
_CAMPAIGN_UNITS = {spec.name: spec.unit for spec in CAMPAIGN_METRICS}


@dataclass(frozen=True)
class FargatePrices:
    """On-demand Fargate prices in USD, per second.

    Defaults: the public price list at https://aws.amazon.com/fargate/pricing/ for
    US East (N. Virginia), Linux/x86: $0.04048 per vCPU-hour and $0.004445 per GB-hour
    (Fargate's "GB" of memory is the GiB that task sizes use). Linux tasks are billed
    per second, rounded up, with a one-minute minimum. Pass other values for another
    region, ARM (Graviton), Spot or a price change.
    """

    per_vcpu_second: float = 0.04048 / 3600
    per_gib_second: float = 0.004445 / 3600
    minimum_seconds: float = 60.0

    def job_cost(self, seconds: float, *, vcpu: float, memory_gib: float) -> float:
        billed = max(self.minimum_seconds, math.ceil(seconds))
        return billed * (vcpu * self.per_vcpu_second + memory_gib * self.per_gib_second)


DEFAULT_PRICES = FargatePrices()


def as_timestamp(value: datetime | str, what: str = "logical date") -> datetime:
    """A timezone-aware datetime from a datetime or an ISO 8601 string (a logical date)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} {value!r} has no timezone: CloudWatch needs an absolute time")
    return moment


def _datum(name: str, value: float, unit: str, dimensions: list[dict], timestamp: datetime) -> dict:
    return {
        "MetricName": name,
        "Dimensions": dimensions,
        "Timestamp": timestamp,
        "Value": float(value),
        "Unit": unit,
    }


def _finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def campaign_metrics(
    outcome: dict,
    *,
    dag_id: str,
    vcpu: float,
    memory_gib: float,
    prices: FargatePrices = DEFAULT_PRICES,
    queue_wait_seconds: float | None = None,
    logical_date: datetime | str | None = None,
) -> list[dict]:
    """MetricData entries (namespace NAMESPACE) for one SDK of one run.

    `outcome` is an SdkOutcome dict (sdk, status, counts, job_seconds). The timestamp is
    `logical_date`, else `outcome["logical_date"]`; one of them must be set.
    """
    moment = logical_date if logical_date is not None else outcome.get("logical_date")
    if moment is None:
        raise ValueError(f"{outcome.get('sdk')}: no logical date given and none in the outcome")
    timestamp = as_timestamp(moment)
    dimensions = [
        {"Name": CAMPAIGN_DIMENSION, "Value": dag_id},
        {"Name": SDK_DIMENSION, "Value": outcome["sdk"]},
    ]
    counts = outcome.get("counts") or {}
    passed = int(counts.get("passed", 0))
    failed = int(counts.get("failed", 0)) + int(counts.get("error", 0))
    skipped = int(counts.get("skipped", 0))
    values: dict[str, float] = {"TestsPassed": passed, "TestsFailed": failed, "TestsSkipped": skipped}
    if passed + failed:
        values["PassRate"] = 100.0 * passed / (passed + failed)
    job_seconds = _finite(outcome.get("job_seconds"))
    if job_seconds is not None:
        values["JobDuration"] = max(0.0, job_seconds)
    wait = _finite(queue_wait_seconds)
    if wait is not None:
        values["QueueWait"] = max(0.0, wait)
    if job_seconds is not None:
        values["EstimatedCost"] = prices.job_cost(max(0.0, job_seconds), vcpu=vcpu, memory_gib=memory_gib)
    values["InfrastructureFailure"] = 1 if outcome.get("status") == INFRA_FAILED else 0
    return [
        _datum(name, values[name], _SDK_UNITS[name], dimensions, timestamp)
        for name in _SDK_UNITS
        if name in values
    ]


def campaign_summary_metrics(
    outcomes: list[dict], *, dag_id: str, logical_date: datetime | str | None = None
) -> list[dict]:
    """MetricData entries with only the Campaign dimension: how many SDKs ran, failed, broke."""
    moment = logical_date
    if moment is None:
        moment = next((o["logical_date"] for o in outcomes if o.get("logical_date")), None)
    if moment is None:
        raise ValueError("no logical date given and none in the outcomes")
    timestamp = as_timestamp(moment)
    dimensions = [{"Name": CAMPAIGN_DIMENSION, "Value": dag_id}]
    statuses = [o.get("status") for o in outcomes]
    values = {
        "SdksTested": len(outcomes),
        "SdksFailing": sum(s == TESTS_FAILED for s in statuses),
        "SdksBroken": sum(s in (INFRA_FAILED, RESULTS_INVALID) for s in statuses),
    }
    return [_datum(name, values[name], unit, dimensions, timestamp) for name, unit in _CAMPAIGN_UNITS.items()]


def queue_wait_seconds(job: dict) -> float | None:
    """Seconds a Batch job waited between submission and start (createdAt → startedAt, in ms)."""
    created, started = job.get("createdAt"), job.get("startedAt")
    if not created or not started:
        return None
    return max(0.0, (started - created) / 1000)


def batches(items: list, size: int = PUT_METRIC_DATA_LIMIT) -> Iterator[list]:
    """Consecutive slices of at most `size` items."""
    if size < 1:
        raise ValueError(f"batch size must be positive, got {size}")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def publishable(metric_data: Iterable[dict], now: datetime) -> tuple[list[dict], list[dict]]:
    """(accepted, refused): CloudWatch rejects a whole request holding one data point older
    than two weeks or more than two hours ahead, so such points are set aside instead."""
    accepted, refused = [], []
    for datum in metric_data:
        stamp = datum.get("Timestamp")
        ok = stamp is None or now - MAX_DATAPOINT_AGE <= stamp <= now + MAX_DATAPOINT_LEAD
        (accepted if ok else refused).append(datum)
    return accepted, refused


def publish(cloudwatch, metric_data: list[dict], *, now: datetime | None = None) -> int:
    """PutMetricData in requests of at most 1000 entries; returns how many entries were sent.

    Entries CloudWatch would refuse for their age (a backfill of a date over two weeks
    old) are skipped with a warning rather than failing the request they are in.
    """
    accepted, refused = publishable(metric_data, now or datetime.now(UTC))
    if refused:
        log.warning(
            "%d metric data points are older than %s or over %s ahead and are not published "
            "(CloudWatch refuses them); first timestamp %s",
            len(refused),
            MAX_DATAPOINT_AGE,
            MAX_DATAPOINT_LEAD,
            refused[0]["Timestamp"].isoformat(),
        )
    sent = 0
    for batch in batches(accepted):
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=batch)
        sent += len(batch)
    return sent


def metric_queries(
    dag_id: str, sdks: list[str], period: int = 60
) -> tuple[list[dict], dict[str, tuple[str, str]]]:
    """One MetricStat query per (SDK, metric), and the map from query id back to (sdk, metric).

    Ids are built from positions (`m<sdk index>_<metric index>`), never from SDK names,
    so any name yields a valid id (`^[a-z][a-zA-Z0-9_]*$`).
    """
    queries: list[dict] = []
    ids: dict[str, tuple[str, str]] = {}
    for i, sdk in enumerate(dict.fromkeys(sdks)):
        dimensions = [
            {"Name": CAMPAIGN_DIMENSION, "Value": dag_id},
            {"Name": SDK_DIMENSION, "Value": sdk},
        ]
        for j, spec in enumerate(SDK_METRICS):
            query_id = f"m{i}_{j}"
            ids[query_id] = (sdk, spec.name)
            queries.append(
                {
                    "Id": query_id,
                    "MetricStat": {
                        "Metric": {"Namespace": NAMESPACE, "MetricName": spec.name, "Dimensions": dimensions},
                        "Period": period,
                        "Stat": spec.statistic,
                    },
                    "ReturnData": True,
                }
            )
    return queries, ids


_STATISTIC = {spec.name: spec.statistic for spec in SDK_METRICS}


def combine(metric: str, values: list[float]) -> float:
    """One value from a metric's per-period values: their sum for Sum metrics, else their mean.

    The mean of per-period averages is exact when the window holds one period with data
    (one run); across several periods each period weighs the same.
    """
    if _STATISTIC[metric] == "Sum":
        return float(sum(values))
    return float(sum(values) / len(values))


def read_back(
    cloudwatch,
    *,
    dag_id: str,
    sdks: list[str],
    start: datetime,
    end: datetime,
    period: int = 60,
) -> dict[str, dict[str, float]]:
    """{sdk: {metric: value}} over [start, end) from GetMetricData (MetricStat queries only).

    A metric without data in the window is absent from its SDK's dict. One request
    (following NextToken) per 500 queries, AWS's limit: one request up to 62 SDKs.
    """
    as_timestamp(start, "start")
    as_timestamp(end, "end")
    queries, ids = metric_queries(dag_id, sdks, period)
    values: dict[str, list[float]] = {query_id: [] for query_id in ids}
    for chunk in batches(queries, GET_METRIC_DATA_QUERY_LIMIT):
        kwargs = {
            "MetricDataQueries": chunk,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        while True:
            response = cloudwatch.get_metric_data(**kwargs)
            for result in response.get("MetricDataResults", []):
                if result["Id"] in values:
                    values[result["Id"]].extend(result.get("Values", []))
            for message in response.get("Messages", []):
                log.warning("GetMetricData: %s: %s", message.get("Code"), message.get("Value"))
            token = response.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
    found: dict[str, dict[str, float]] = {sdk: {} for sdk in dict.fromkeys(sdks)}
    for query_id, (sdk, metric) in ids.items():
        if values[query_id]:
            found[sdk][metric] = combine(metric, values[query_id])
    return found


def publish_and_read_back(cloudwatch, metric_data: list[dict], *, dag_id: str, sdk: str, logical_date: str):
    """Publish one SDK's metrics and read them back for the run's own minute.

    Returns what CloudWatch answered: empty when the logical date is too old for CloudWatch (as in
    backfills), or the data is not readable yet. Never raises for CloudWatch's errors: metrics are
    informative, the results land either way.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    minute = as_timestamp(logical_date).replace(second=0, microsecond=0)
    try:
        sent = publish(cloudwatch, metric_data)
        found = read_back(
            cloudwatch,
            dag_id=dag_id,
            sdks=[sdk],
            # The run's own minute only: CloudWatch aggregates to minutes, and a neighbouring
            # logical date's points must not add up into this run's numbers.
            start=minute,
            end=minute + timedelta(minutes=1),
        )[sdk]
    except (BotoCoreError, ClientError) as err:
        log.warning("%s: CloudWatch metrics could not be published or read back: %s", sdk, err)
        return {}
    log.info("%s: %d CloudWatch metrics published, %d read back", sdk, sent, len(found))
    return found
