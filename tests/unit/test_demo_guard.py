"""`sdk-campaigns demo` runs `airflow dags test`, which must not share its database with a live
scheduler and triggerer (the triggerer would terminate run_tests' job): it refuses, naming the fix."""

from __future__ import annotations

import argparse
import os

from sdk_campaigns.dev import demo, local_stack


def test_the_demo_refuses_while_this_homes_triggerer_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SDK_CAMPAIGNS_HOME", str(tmp_path))
    local_stack.stack_dir().mkdir(parents=True)
    (local_stack.stack_dir() / "airflow-triggerer.pid").write_text(str(os.getpid()))  # a live process

    assert demo.live_components() == ["triggerer"]
    assert demo.run_demo(argparse.Namespace(sdks=["python"], ref=None)) == 2
    error = capsys.readouterr().err
    assert "this home's Airflow is running (triggerer)" in error and "sdk-campaigns local down" in error


def test_no_live_component_in_a_fresh_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SDK_CAMPAIGNS_HOME", str(tmp_path))
    assert demo.live_components() == []
