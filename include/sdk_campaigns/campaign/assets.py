"""The campaign's history as an Airflow Asset: `publish` updates it after every run, so other
DAGs can be scheduled on it (e.g. `schedule=[Asset.ref(name="sdk_test_campaign_history")]`).

Its identity does not depend on where the history is stored: Airflow deactivates an asset whose
name comes back with another URI, so a moved history (or a test's own) would silence it. Each
event names the location instead."""

from __future__ import annotations

from airflow.sdk import Asset

from sdk_campaigns.config import CampaignConfig


def history_asset(config: CampaignConfig) -> Asset:
    dag_id = config.campaign.dag_id
    return Asset(uri=f"sdk-campaigns://history/{dag_id}", name=f"{dag_id}_history", group="sdk-campaigns")
