"""The Batch trigger never fetches its connection in the triggerer's event loop: there a sync lookup
can deadlock the triggerer (Python 3.11's cached_property lock, held by another trigger's thread that
waits for this loop; seen in CI: every thread on a futex, "event loop appears deadlocked")."""

from __future__ import annotations

import asyncio
import json
import threading

from sdk_campaigns.campaign.batch_jobs import CancellableBatchJobTrigger


def test_the_connection_is_fetched_off_the_event_loop(monkeypatch):
    from airflow.sdk.bases.hook import BaseHook

    extra = {"endpoint_url": "http://127.0.0.1:1", "region_name": "eu-west-1"}
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_LOOP",
        json.dumps({"conn_type": "aws", "login": "AKIALOOP", "password": "secret", "extra": extra}),
    )
    fetched_on = []
    real = BaseHook.get_connection.__func__

    def recording(cls, conn_id):
        fetched_on.append(threading.current_thread())
        return real(cls, conn_id)

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(recording))
    trigger = CancellableBatchJobTrigger(job_id="job-1", aws_conn_id="aws_loop")

    async def in_the_loop():
        hook = await trigger.ready_hook()
        return hook, threading.current_thread()

    hook, loop_thread = asyncio.run(in_the_loop())
    assert hook.conn_config.region_name == "eu-west-1"
    assert fetched_on and loop_thread not in fetched_on
