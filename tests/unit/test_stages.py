"""stages.py runs several of tasks.py's bodies in one task, in their order; the unit under test is the
ordering and what passes between them (the bodies themselves have their own tests)."""

from __future__ import annotations

import pytest

from sdk_campaigns import stages, task_ids


class FakeTi:
    task_id = task_ids.PUBLISH

    def __init__(self):
        self.pushed: dict = {}

    def xcom_push(self, key, value):
        self.pushed[key] = value


@pytest.fixture
def ti(monkeypatch):
    import airflow.sdk

    found = FakeTi()
    monkeypatch.setattr(airflow.sdk, "get_current_context", lambda: {"ti": found})
    return found


def test_publish_validates_first_and_hands_the_summary_on(ti, monkeypatch):
    calls = []
    monkeypatch.setattr(stages.tasks, "validate", lambda *a: calls.append("validate") or {"success": True})

    def publish(*args):
        calls.append("publish")
        assert ti.pushed[task_ids.VALIDATION_XCOM_KEY] == {"success": True}  # there before publish reads it
        return "/reports/run/report.html"

    monkeypatch.setattr(stages.tasks, "publish", publish)
    assert stages.publish(None, {}, [], None, "aws_default") == "/reports/run/report.html"
    assert calls == ["validate", "publish"]


def test_a_crashing_validation_still_publishes_then_fails_the_task(ti, monkeypatch):
    def validate(*args):
        raise RuntimeError("GX broke")

    published = []
    monkeypatch.setattr(stages.tasks, "validate", validate)
    monkeypatch.setattr(stages.tasks, "publish", lambda *a: published.append(True) or "report")
    with pytest.raises(RuntimeError, match="GX broke"):
        stages.publish(None, {}, [], None, "aws_default")
    assert published == [True]
    summary = ti.pushed[task_ids.VALIDATION_XCOM_KEY]
    assert summary == {"success": False, "summary": "validation did not run: RuntimeError: GX broke"}
