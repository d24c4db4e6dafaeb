"""Whether a campaign run fails, as its failure and validation policies say (plan.FAILURE_POLICIES).

'infrastructure' fails on infrastructure failures and invalid results, 'tests' on failed tests
too, 'never' not at all. Broken expectations count when the validation policy is 'fail'. Every
SDK's results are published before the verdict, whatever it says.
"""

from __future__ import annotations

import logging

from sdk_campaigns.campaign.collect import SDK_INFRA_FAILED, SDK_RESULTS_INVALID, SDK_TESTS_FAILED
from sdk_campaigns.campaign.plan import RunPlan

log = logging.getLogger(__name__)

FAILING_STATUSES = (SDK_INFRA_FAILED, SDK_RESULTS_INVALID)


class CampaignFailed(RuntimeError):
    """The campaign itself failed (infrastructure, or invalid results under policy 'fail')."""


def failures(run: RunPlan, outcomes: list[dict], validation: dict) -> list[str]:
    """What counts against the run under its policies, one line each."""
    failing = (*FAILING_STATUSES, SDK_TESTS_FAILED) if run.failure_policy == "tests" else FAILING_STATUSES
    found = [f"{o['sdk']}: {o['status']} ({o['reason']})" for o in outcomes if o["status"] in failing]
    if run.validation_policy == "fail" and not validation.get("success", False):
        found.append(f"validation {validation.get('summary', 'did not run')}")
    return found


def decide(run: RunPlan, outcomes: list[dict], validation: dict) -> None:
    """Log every SDK's outcome; raise CampaignFailed when the policies say the run fails."""
    for outcome in outcomes:
        log.info("%-12s %-22s %s", outcome["sdk"], outcome["status"], outcome["reason"])
    broken = failures(run, outcomes, validation)
    if broken and run.failure_policy == "never":
        log.warning("failure policy 'never': the run succeeds despite: %s", "; ".join(broken))
    elif broken:
        raise CampaignFailed(f"campaign failed (failure policy {run.failure_policy!r}): " + "; ".join(broken))
