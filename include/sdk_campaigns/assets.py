"""The campaign's history as an Airflow Asset: `publish` updates it after every run, so other
DAGs can be scheduled on it (e.g. `schedule=[Asset.ref(name="sdk_test_campaign_history")]`)."""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import Asset

from sdk_campaigns.config import CampaignConfig


def history_asset(config: CampaignConfig) -> Asset:
    dag_id, uri = config.campaign.dag_id, config.history_uri()
    if "://" not in uri:
        uri = Path(uri).resolve().as_uri()
    return Asset(uri=f"{uri.rstrip('/')}/{dag_id}", name=f"{dag_id}_history", group="sdk-campaigns")
