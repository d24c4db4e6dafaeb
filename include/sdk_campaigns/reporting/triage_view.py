"""What the report and the SDK Health page show of triage: the run's (or recent) cross-SDK incidents,
the quarantine with each entry's "ready to release" state, and who owns each SDK (TESTOWNERS).
Plain values for templates/triage.html.j2, which escapes them (they hold test names: untrusted)."""

from __future__ import annotations

from sdk_campaigns.campaign.test_patterns import sdk_matches

SCENARIO = (
    "scenario"  # incidents.SCENARIO: not imported, so that reporting stays light to import (DAG parsing)
)


def incident_rows(incidents: list[dict], logical_date: str = "") -> list[dict]:
    rows = []
    for incident in incidents:
        if incident["kind"] == SCENARIO:
            what = f"scenario {incident['key']} fails"
            details = [
                f"{sdk}: {', '.join(tests)}" for sdk, tests in sorted(incident.get("tests", {}).items())
            ]
        else:
            what = f"infrastructure: {incident['key']}"
            details = [f"{sdk}: {reason}" for sdk, reason in sorted(incident.get("reasons", {}).items())]
        rows.append(
            {
                "logical_date": logical_date,
                "what": what,
                "count": len(incident["sdks"]),
                "sdks": ", ".join(incident["sdks"]),
                "details": details,
            }
        )
    return rows


def recent_incident_rows(documents: list[dict]) -> list[dict]:
    """The rows of several dates' incident documents (incidents.recent), newest first."""
    return [
        row for d in documents for row in incident_rows(d.get("incidents", []), d.get("logical_date", ""))
    ]


def quarantine_rows(status: list[dict]) -> list[dict]:
    """quarantine.release_status's entries as table rows."""
    return [
        {
            "sdk": e["sdk"],
            "test": e["test"],
            "reason": e["reason"],
            "owner": e["owner"],
            "expires": e["expires"],
            "source": "config" if e.get("source") == "config" else f"page ({e.get('changed_by', '?')})",
            "page_entry": e.get("source") == "page",
            "ready": e["ready"],
            "tests": [
                f"{t['test']}: {t['passes_in_a_row']} passes in a row (last {t['last']})" for t in e["tests"]
            ],
        }
        for e in status
    ]


def owner_rows(owners, sdks: list[str]) -> list[dict]:
    """Each SDK's owner (its TESTOWNERS rule for the whole SDK) and narrower rules naming it."""
    rows = []
    for sdk in sdks:
        whole = owners.owner_of_sdk(sdk)
        narrower = [
            f"{r.test} → {r.owner}" for r in owners.rules if r.test != "*" and sdk_matches(r.sdk, sdk)
        ]
        rows.append(
            {
                "sdk": sdk,
                "owner": whole.owner if whole else "",
                "target": _target_label(whole.target) if whole else "",
                "narrower": narrower,
            }
        )
    return rows


def _target_label(target: str) -> str:
    # The kind and the connection or topic name only: webhook URLs live in Airflow connections.
    if target.startswith("sns:"):
        return f"SNS {target.rsplit(':', 1)[-1]}"
    if target.startswith("webhook:"):
        return f"webhook connection {target.removeprefix('webhook:')}"
    return "the campaign's channels"


def triage_view(*, incidents: list[dict], owners, quarantine: list[dict], sdks: list[str]) -> dict:
    return {
        "incidents": incident_rows(incidents),
        "quarantine": quarantine_rows(quarantine),
        "owners": owner_rows(owners, sdks),
    }
