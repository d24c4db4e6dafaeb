"""The publish task, step by step: what one finished campaign run leaves behind.

1. send_run_metrics     the run's CloudWatch summary (SDKs tested, failing, broken)
2. store_history        one history partition per SDK (idempotent per lane, logical date and SDK)
3. write_reports        the run's report with its tests' history pages, latest.html, feed.json, badges
4. upload_reports       production: the published folder to report_s3_uri
5. record_asset_event   the history Asset's event, naming the date, lane and statuses it brought
6. announce_findings    alerts on regressions, new flaky tests and newly broken SDKs, to their owners
                        (TESTOWNERS), and one per cross-SDK incident (campaign/alert_routing.py)
7. apply_retention      history partitions older than history_retention_days are deleted

An ad hoc run (one with overrides: campaign/plan.py) gets its history partitions in the ad hoc lane
and its own report, and nothing else: no run metrics, no latest.html, feed or badges, no alerts.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from sdk_campaigns import history
from sdk_campaigns.campaign import alert_routing, metrics, outcomes, quarantine
from sdk_campaigns.campaign import collect as collecting
from sdk_campaigns.campaign.assets import history_asset
from sdk_campaigns.campaign.aws import AwsContext
from sdk_campaigns.campaign.plan import OFFICIAL_LANE, RunPlan
from sdk_campaigns.config import CampaignConfig
from sdk_campaigns.reporting import report

log = logging.getLogger(__name__)


def publish_run(
    config: CampaignConfig, run: RunPlan, validation: dict, outlet_events, aws: AwsContext
) -> str:
    """Every step above, in order; returns the run's report path."""
    validation = validation or {"summary": "validation did not run"}
    # Checked as they are read: a refused outcome is results_invalid here, and none of its rows are stored.
    # Quarantined tests are marked and not counted (campaign/quarantine.py).
    s3 = aws.client("s3")
    found = outcomes.read_outcomes(s3, config.campaign.results_bucket, run, config.limits)
    found = quarantine.apply_to_run(found, quarantine.run_entries(s3, config, run))
    report_file = report.report_path(config.report_dir(), run.dag_id, run.run_id)
    official = run.lane == OFFICIAL_LANE
    if official:
        send_run_metrics(aws.client("cloudwatch"), run, found)
    incidents = alert_routing.record_incidents(config, run, found)
    store_history(config.history_uri(), run, [dict(o) for o in found], validation, report_file)
    if official:
        write_reports(config, run, validation, report_file, incidents.get("incidents", []))
    else:
        write_adhoc_report(config, run, validation, report_file)
    if config.campaign.report_s3_uri:
        upload_reports(config, aws.client("s3"), run, report_file)
    record_asset_event(config, outlet_events, run, found)
    if not official:
        log.info("ad hoc run: no alerts; the official record is unchanged")
    elif history.logical_time(run.logical_date) > datetime.now(UTC):
        log.info(
            "logical date %s is still to come: no alerts (it is not the current state)", run.logical_date
        )
    else:
        announce_findings(config, run, report_file, aws, found, incidents)
    if config.campaign.history_retention_days:  # after the report: an old backfill still gets one
        apply_retention(config)
    return str(report_file)


def send_run_metrics(cloudwatch, run: RunPlan, found: list[dict]) -> None:
    """Informative: CloudWatch refusing them never stops the history and the report."""
    from botocore.exceptions import BotoCoreError, ClientError

    data = metrics.campaign_summary_metrics(found, dag_id=run.dag_id, logical_date=run.logical_date)
    try:
        metrics.publish(cloudwatch, data)
    except (BotoCoreError, ClientError) as err:
        log.warning("the run's CloudWatch metrics were not published: %s", err)


def store_history(uri: str, run: RunPlan, found: list[dict], validation: dict, report_file: Path) -> None:
    """One partition per SDK. One SDK's unstorable rows never cost the others their history: that
    SDK keeps its summary, marked results_invalid with the reason."""
    overrides = {sdk_plan.sdk: sdk_plan.overrides for sdk_plan in run.sdks}
    for outcome in found:
        rows = outcome.pop("rows")
        summary = {
            **outcome,
            "dag_id": run.dag_id,
            "run_id": run.run_id,
            "logical_date": run.logical_date,
            "lane": run.lane,
            "overrides": overrides.get(outcome["sdk"], {}),
            "validation": validation.get("summary"),
            "report": str(report_file),
        }
        try:
            history.write_partition(uri, summary, rows)
        except history.HistoryError as err:
            log.error("%s: the history refused its test rows: %s", outcome["sdk"], err)
            summary.update(
                status=collecting.SDK_RESULTS_INVALID, reason=f"{summary['reason']}; rows not stored: {err}"
            )
            history.write_partition(uri, summary, [])
    log.info("history written under %s", uri)


def write_reports(
    config: CampaignConfig, run: RunPlan, validation: dict, report_file: Path, incidents: list[dict] = ()
) -> None:
    """The run's report with the campaign's dashboard, latest.html (unless this run is a backfill
    of an older date), feed.json and badges."""
    from sdk_campaigns.history import analytics
    from sdk_campaigns.reporting import feed, test_pages

    uri = config.history_uri()
    summaries = history.read_summaries(uri, run.dag_id)
    dashboard = analytics.dashboard(uri, run.dag_id)
    partitions = history.read_run(uri, run.dag_id, run.logical_date)
    pages = write_test_pages(uri, run, report_file, summaries, dashboard, partitions)
    html = report.render_report(
        dag_id=run.dag_id,
        run_id=run.run_id,
        logical_date=run.logical_date,
        partitions=partitions,
        validation=validation,
        history=summaries,
        dashboard=dashboard,
        test_link=lambda sdk, test_id: (
            test_pages.offline_link(sdk, test_id) if (sdk, test_id) in pages else None
        ),
        triage=report_triage(config, incidents),
    )
    report.write_report(report_file, html, update_latest=report.is_newest_run(summaries, run.logical_date))
    base_url = config.campaign.report_base_url.rstrip("/")
    feed.write_feed(
        config.report_dir(),
        dashboard,
        run_links=report.run_report_links(summaries),
        base_url=f"{base_url}/{run.dag_id}/" if base_url else "",
    )
    log.info("report at %s", report_file)


def write_test_pages(
    uri: str, run: RunPlan, report_file: Path, summaries: list[dict], dashboard: dict, partitions: list[dict]
) -> set[tuple[str, str]]:
    """A history page (reporting/test_pages.py) beside the run's report for each test the report
    names: this run's failing tests, then the dashboard's changed, flaky, slow and slowest ones, up to
    MAX_PAGES_PER_RUN. Returns the (sdk, test_id) pages written."""
    from sdk_campaigns.history import analytics
    from sdk_campaigns.reporting import test_pages

    wanted: dict[tuple[str, str], None] = {}
    for partition in partitions:
        for row in partition["rows"]:
            if row["status"] in ("failed", "error"):
                wanted[(row["sdk"], row["test_id"])] = None
    for sdk, change in dashboard.get("test_changes", {}).items():
        for test in change["newly_failing"] + change["newly_fixed"]:
            wanted[(sdk, test["test_id"])] = None
    for test in dashboard.get("flaky_tests", []) + dashboard.get("duration_regressions", []):
        wanted[(test["sdk"], test["test_id"])] = None
    for sdk, tests in dashboard.get("slowest_tests", {}).items():
        for test in tests:
            wanted[(sdk, test["test_id"])] = None
    chosen = list(wanted)[: test_pages.MAX_PAGES_PER_RUN]
    by_sdk: dict[str, list[str]] = {}
    for sdk, test_id in chosen:
        by_sdk.setdefault(sdk, []).append(test_id)
    pages = analytics.many_test_histories(uri, run.dag_id, by_sdk)
    links = (
        report.run_report_links(summaries, base="../../"),
        report.run_log_links(summaries, base="../../"),
    )
    test_pages.write_offline_pages(report_file.parent, pages, summaries_links=links)
    return set(pages)


def write_adhoc_report(config: CampaignConfig, run: RunPlan, validation: dict, report_file: Path) -> None:
    """An ad hoc run's own report: its results and its lane's recent runs; never latest.html, the
    feed or badges, and no official dashboard."""
    uri = config.history_uri()
    html = report.render_report(
        dag_id=run.dag_id,
        run_id=run.run_id,
        logical_date=run.logical_date,
        partitions=history.read_run(uri, run.dag_id, run.logical_date, lane=run.lane),
        validation=validation,
        history=history.read_summaries(uri, run.dag_id, lane=run.lane),
        lane=run.lane,
    )
    report.write_report(report_file, html, update_latest=False)
    log.info("ad hoc report at %s", report_file)


def upload_reports(config: CampaignConfig, s3, run: RunPlan, report_file: Path) -> None:
    from sdk_campaigns.reporting import publishing

    uploaded = publishing.upload_published(
        s3,
        config.report_dir() / run.dag_id,
        f"{config.campaign.report_s3_uri.rstrip('/')}/{run.dag_id}",
        run_dir=report_file.parent,
    )
    log.info("published %d files to %s", len(uploaded), config.campaign.report_s3_uri)


def record_asset_event(config: CampaignConfig, outlet_events, run: RunPlan, found: list[dict]) -> None:
    """Consumers of the history asset learn which date and SDKs this update brought."""
    outlet_events[history_asset(config)].extra = {
        "logical_date": run.logical_date,
        "run_id": run.run_id,
        "lane": run.lane,
        "statuses": {o["sdk"]: o["status"] for o in found},
        "history_uri": config.history_uri(),
    }


def announce_findings(
    config: CampaignConfig,
    run: RunPlan,
    report_file: Path,
    aws: AwsContext,
    found: list[dict],
    incidents: dict,
) -> None:
    """Alert on this run's regressions, new flaky tests and newly broken SDKs, less the quarantined tests
    and what its cross-SDK incidents say (sent once, on their own), each to its owners (see
    campaign/alert_routing.py). A channel that fails is logged, not raised: history and report are out."""
    from sdk_campaigns.history.analytics import run_findings

    findings = run_findings(config.history_uri(), run.dag_id, run.logical_date)
    log.info(
        "findings: %d regressions, %d fixed, %d new flaky, %d newly broken",
        *(len(findings[k]) for k in ("regressions", "fixed", "new_flaky", "broken")),
    )
    top = {
        "dag_id": run.dag_id,
        "logical_date": run.logical_date,
        "run_id": run.run_id,
        "report": str(report_file),
    }
    alert_routing.announce(config, run, {**findings, **top}, found, incidents, aws.aws_conn_id)


def report_triage(config: CampaignConfig, incidents: list[dict]) -> dict:
    """What the report shows of owners, quarantine and the run's cross-SDK incidents."""
    entries = quarantine.current_entries(config, config.history_uri())
    return {
        "incidents": incidents,
        "owners": alert_routing.load_owners(config),
        "quarantine": quarantine.release_status(
            config.history_uri(), config.campaign.dag_id, entries, config.quarantine.ready_after_passes
        ),
    }


def apply_retention(config: CampaignConfig) -> None:
    days = config.campaign.history_retention_days
    removed = history.prune(config.history_uri(), config.campaign.dag_id, days)
    log.info("history retention %d days: removed %d partitions", days, len(removed))
