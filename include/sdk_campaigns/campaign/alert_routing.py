"""Who hears about a run, and what: the run's findings (history.analytics.run_findings) less what the
quarantine holds back and what a cross-SDK incident already says, split by owner (TESTOWNERS).

1. the run's cross-SDK incidents, not yet alerted for its date: one alert, on the campaign's channels;
2. each owner's alert target: the findings of what that owner owns;
3. the campaign's channels (config `alerts`): every finding, or with `alerts.default_receives: unowned`
   only those no owner's target took.

A channel that fails is logged, not raised (history and report are already published), and never
stops the others.
"""

from __future__ import annotations

import logging

from sdk_campaigns.campaign import incidents as incident_rules
from sdk_campaigns.campaign import owners as owner_rules
from sdk_campaigns.campaign import quarantine
from sdk_campaigns.campaign.alerts import AlertError, deliver, send_alert
from sdk_campaigns.config import CampaignConfig, beside_config

log = logging.getLogger(__name__)


def load_owners(config: CampaignConfig) -> owner_rules.Owners:
    """TESTOWNERS, or no owners (logged) when the file is wrong: alerts then go to the campaign's channels."""
    try:
        return owner_rules.load_owners(beside_config(config.alerts.owners_file))
    except owner_rules.OwnersError as err:
        log.error("%s: every alert goes to the campaign's own channels until it is fixed", err)
        return owner_rules.Owners()


def load_scenarios(config: CampaignConfig) -> dict:
    try:
        return incident_rules.load_scenarios(beside_config(config.alerts.scenarios_file))
    except incident_rules.ScenariosError as err:
        log.error("%s: no scenario incidents until it is fixed", err)
        return {}


def official(run) -> bool:
    """Whether the run is in the official lane (runs without overrides; see the history's lanes). An ad hoc
    run's incidents are shown in its report, but neither kept with the official history nor alerted."""
    return getattr(run, "lane", "official") == "official"


def record_incidents(config: CampaignConfig, run, found: list[dict]) -> dict:
    """Detect the run's cross-SDK incidents and keep them with the history; returns the date's document."""
    detected = incident_rules.detect(found, load_scenarios(config), config.alerts.incident_min_sdks)
    for incident in detected:
        log.warning(
            "cross-SDK incident: %s %s in %s", incident["kind"], incident["key"], ", ".join(incident["sdks"])
        )
    if not official(run):
        return {"logical_date": run.logical_date, "run_id": run.run_id, "incidents": detected, "alerted": []}
    return incident_rules.record(
        config.history_uri(), run.dag_id, logical_date=run.logical_date, run_id=run.run_id, incidents=detected
    )


def _campaign_channels(config: CampaignConfig, aws_conn_id: str) -> dict:
    return {
        "sns_topic_arn": config.alerts.sns_topic_arn or None,
        "http_conn_id": config.alerts.http_conn_id or None,
        "aws_conn_id": aws_conn_id,
    }


def announce(
    config: CampaignConfig, run, findings: dict, found: list[dict], incidents_document: dict, aws_conn_id: str
) -> dict[str, list[str]]:
    """Send the run's alerts (see the module doc); returns where each went: {"incident": [...],
    "<owner target>": [...], "campaign": [...]}."""
    sent: dict[str, list[str]] = {}
    top = {k: findings.get(k) for k in ("dag_id", "logical_date", "run_id", "report")}
    findings = quarantine.without_quarantined(findings, quarantine.quarantined_tests(found))
    incidents = incidents_document.get("incidents", [])
    if incidents:
        findings = incident_rules.explained(findings, incidents, load_scenarios(config), found)
        fresh = [i for i in incidents if incident_rules.identity(i) not in incidents_document["alerted"]]
        if fresh and not official(run):
            log.info("an ad hoc run's cross-SDK incidents are in its report, not alerted")
        elif fresh:
            alert = incident_rules.build_incident_alert(fresh, **top)
            sent["incident"] = _try(
                "cross-SDK incident", lambda: deliver(alert, **_campaign_channels(config, aws_conn_id))
            )
            if sent["incident"]:
                incident_rules.mark_alerted(config.history_uri(), run.dag_id, incidents_document, fresh)
        else:
            log.info("the run's cross-SDK incidents were alerted already: not sent again")
    owners = load_owners(config)
    findings = owner_rules.with_owners(findings, owners)
    routes, unowned = owner_rules.route(findings, owners)
    for rule, routed in routes:
        channels = {**rule.channels(), "aws_conn_id": aws_conn_id}
        sent[rule.target] = _try(f"owner {rule.owner}", lambda r=routed, c=channels: send_alert(r, **c))
    everything = findings if config.alerts.default_receives == "all" else unowned
    sent["campaign"] = _try(
        "the campaign", lambda: send_alert(everything, **_campaign_channels(config, aws_conn_id))
    )
    return sent


def _try(whose: str, send) -> list[str]:
    try:
        channels = send()
    except AlertError as err:
        log.error("alert for %s not delivered: %s", whose, err)
        return []
    log.info("alert for %s sent via %s", whose, ", ".join(channels) if channels else "no channel")
    return channels
