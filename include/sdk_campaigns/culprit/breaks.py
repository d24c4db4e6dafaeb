"""Which SDKs of a campaign run broke between two known commits: the bisections the campaign starts.

A break: in this run the SDK's official lane is `tests_failed` at commit B, and its previous official
run that ran the tests (passed or tests_failed; infrastructure failures and invalid results say
nothing about the code) `passed` at commit A, A != B, both real git commits of the same repository.
Its newly failing tests are every test failing at B (all passed at A).

The history's commit fields (`commit`, `commit_kind`, `repo_url`, `lane`: history schema v3) are read
defensively: a summary without them (older partitions, or before commit attribution) counts as
"unknown" and starts nothing, never a guess.
"""

from __future__ import annotations

import hashlib
import re

from sdk_campaigns import history
from sdk_campaigns.config import CampaignConfig

OFFICIAL = "official"
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


def _commit(summary: dict) -> str | None:
    """The summary's git commit, or None when unknown (or the image's own source)."""
    commit = summary.get("commit") or "unknown"
    if summary.get("commit_kind", "git") != "git" or not FULL_SHA.fullmatch(commit):
        return None
    return commit


def _official(summary: dict) -> bool:
    return summary.get("lane") == OFFICIAL


def bisection_requests(config: CampaignConfig, dag_id: str, logical_date: str) -> list[dict]:
    """One trigger (kwargs for TriggerDagRunOperator: conf, trigger_run_id, note) per broken SDK."""
    uri = config.history_uri()
    requests = []
    for partition in history.read_run(uri, dag_id, logical_date):
        now = partition["summary"]
        sdk = now["sdk"]
        bad = _commit(now)
        if sdk not in config.sdks or now.get("status") != "tests_failed" or not _official(now) or not bad:
            continue
        before = [
            s
            for s in history.read_summaries(uri, dag_id, sdk=sdk)
            if _official(s)
            and s.get("status") in ("passed", "tests_failed")
            and history.logical_time(s["logical_date"]) < history.logical_time(logical_date)
        ]
        if not before or before[-1].get("status") != "passed":
            continue
        good = _commit(before[-1])
        repo_url = now.get("repo_url") or ""
        if not good or good == bad or not repo_url or before[-1].get("repo_url") != repo_url:
            continue
        failing = sorted(
            {
                f"{r['classname']}::{r['name']}"
                for r in partition["rows"]
                if r["status"] in ("failed", "error")
            }
        )[: config.culprit.max_tests]
        if not failing:
            continue
        digest = hashlib.sha256(f"{sdk}/{repo_url}/{good}/{bad}".encode()).hexdigest()[:10]
        requests.append(
            {
                "conf": {
                    "sdk": sdk,
                    "repo_url": repo_url,
                    "good": good,
                    "bad": bad,
                    "tests": failing,
                    "logical_date": logical_date,
                },
                # One bisection per break: a rerun of the campaign's publish finds the run already there.
                "trigger_run_id": f"culprit__{sdk}__{bad[:12]}__{digest}",
                "note": f"{sdk}: passed at {good[:12]}, tests failed at {bad[:12]} ({len(failing)} tests)",
            }
        )
    return requests
