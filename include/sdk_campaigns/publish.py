"""The publish task, step by step: what one finished campaign run leaves behind.

1. send_run_metrics     the run's CloudWatch summary (SDKs tested, failing, broken)
2. store_history        one history partition per SDK (idempotent per logical date and SDK)
3. write_reports        the run's report, latest.html, feed.json and badges
4. upload_reports       production: the published folder to report_s3_uri
5. record_asset_event   the history Asset's event, naming the date and statuses it brought
6. announce_findings    alerts on regressions, new flaky tests and newly broken SDKs, to their owners
                        (TESTOWNERS), and one per cross-SDK incident (campaign/alert_routing.py)
7. apply_retention      history partitions older than history_retention_days are deleted
"""

from __future__ import annotations

import logging
from pathlib import Path

from sdk_campaigns import history
from sdk_campaigns.campaign import alert_routing, metrics, outcomes, quarantine
from sdk_campaigns.campaign import collect as collecting
from sdk_campaigns.campaign.assets import history_asset
from sdk_campaigns.campaign.aws import AwsContext
from sdk_campaigns.campaign.plan import RunPlan
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
    send_run_metrics(aws.client("cloudwatch"), run, found)
    incidents = alert_routing.record_incidents(config, run, found)
    store_history(config.history_uri(), run, [dict(o) for o in found], validation, report_file)
    write_reports(config, run, validation, report_file, incidents.get("incidents", []))
    if config.campaign.report_s3_uri:
        upload_reports(config, aws.client("s3"), run, report_file)
    record_asset_event(config, outlet_events, run, found)
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
    for outcome in found:
        rows = outcome.pop("rows")
        summary = {
            **outcome,
            "dag_id": run.dag_id,
            "run_id": run.run_id,
            "logical_date": run.logical_date,
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
    from sdk_campaigns.reporting import feed

    uri = config.history_uri()
    summaries = history.read_summaries(uri, run.dag_id)
    dashboard = analytics.dashboard(uri, run.dag_id)
    html = report.render_report(
        dag_id=run.dag_id,
        run_id=run.run_id,
        logical_date=run.logical_date,
        partitions=history.read_run(uri, run.dag_id, run.logical_date),
        validation=validation,
        history=summaries,
        dashboard=dashboard,
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
