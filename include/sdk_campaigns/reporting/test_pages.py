"""One test's history as a page: its outcome, duration and failure message in every run of its SDK,
oldest change first, with each run's commit and links to the run's report and job log; and each time
it broke, the last passing commit, the first failing commit and the forge's compare link.

Served by the health app (`/sdk-health/test?sdk=…&test_id=…`) and written beside each official run's
report (`tests/<name>.html`) for the tests that report shows. Test ids, names and messages come from
containers: the template escapes them, page names are hashes, and links carry the id URL-encoded.

Input: analytics.test_histories' entries for one test (oldest first).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlencode

from sdk_campaigns.campaign.commits import commit_url, compare_url
from sdk_campaigns.reporting import templating
from sdk_campaigns.reporting.publishing import write_atomically

TESTS_FOLDER = "tests"
MAX_PAGES_PER_RUN = 300  # the report's failing, changed, flaky and slow tests: never one per test of 100,000
SHORT_SHA = 12


def page_file_name(sdk: str, test_id: str) -> str:
    """The page's file name in a run's tests/ folder: a hash, whatever the SDK and test id hold."""
    digest = hashlib.sha256(f"{sdk}\x1f{test_id}".encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return f"{digest}.html"


def offline_link(sdk: str, test_id: str, base: str = "") -> str:
    """The page's link from the run's folder (base "" ) or from elsewhere (base leading there)."""
    return f"{base}{TESTS_FOLDER}/{page_file_name(sdk, test_id)}"


def app_link(prefix: str, sdk: str, test_id: str) -> str:
    """The health app's page of one test: the ids in the query, URL-encoded."""
    return f"{prefix}/test?{urlencode({'sdk': sdk, 'test_id': test_id})}"


def _short(commit: str | None) -> str:
    if not commit or commit == "unknown":
        return "unknown"
    return commit[:SHORT_SHA] if len(commit) > 20 else commit


def _display_name(entry: dict) -> str:
    classname, name = entry.get("classname") or "", entry.get("name") or entry.get("test_id", "")
    return f"{classname}.{name}" if classname else name


def _duration(value) -> str:
    return f"{value:.2f} s" if isinstance(value, int | float) else "–"


def _change(kind: str, base: dict, head: dict) -> dict:
    """One change of outcome: `base` the last run before it with the other outcome, `head` the run of it."""
    return {
        "change": kind,
        "logical_date": head["logical_date"],
        "from_date": base["logical_date"],
        "from_commit": _short(base["commit"]),
        "to_commit": _short(head["commit"]),
        "compare": _compare(base, head),
    }


def _changes(entries: list[dict]) -> list[dict]:
    """Each time the test went from passed to failed (broke) or back (fixed), oldest first."""
    changes, last_pass, last_fail, previous = [], None, None, None
    for entry in entries:
        outcome = entry["outcome"]
        if outcome == "failed" and previous == "passed":
            changes.append(_change("broke", last_pass, entry))
        elif outcome == "passed" and previous == "failed":
            changes.append(_change("fixed", last_fail, entry))
        if outcome == "passed":
            last_pass = entry
        elif outcome == "failed":
            last_fail = entry
        if outcome in ("passed", "failed"):
            previous = outcome
    return changes


def _compare(base: dict, head: dict) -> str | None:
    if base.get("repo_url") != head.get("repo_url") or base["commit"] == head["commit"]:
        return None
    return compare_url(head.get("repo_url"), base["commit"], head["commit"])


def test_page_view(
    sdk: str, test_id: str, entries: list[dict], *, run_links: dict, log_links: dict, lane: str = "official"
) -> dict:
    """What templates/test_page.html.j2 shows: plain values, escaped by the template."""
    runs = [
        {
            "logical_date": e["logical_date"],
            "run_id": e["run_id"],
            "outcome": e["outcome"] or "",
            "duration": _duration(e.get("duration")),
            "message": e.get("message") or "",
            "commit": _short(e.get("commit")),
            "commit_kind": e.get("commit_kind") or "unknown",
            "commit_href": commit_url(e.get("repo_url"), e.get("commit")),
            "links": [("run", run_links.get(e["run_id"])), ("logs", log_links.get((sdk, e["run_id"])))],
        }
        for e in reversed(entries)
    ]
    counted = [e for e in entries if e["outcome"] in ("passed", "failed")]
    return {
        "sdk": sdk,
        "test_id": test_id,
        "lane": lane,
        "name": _display_name(entries[-1]) if entries else test_id,
        "runs": runs,
        "changes": list(reversed(_changes(entries))),
        "passes": sum(e["outcome"] == "passed" for e in counted),
        "failures": sum(e["outcome"] == "failed" for e in counted),
        "latest": entries[-1]["outcome"] if entries else "no run",
    }


def render_test_page(view: dict) -> str:
    return templating.render("test_page.html.j2", page=view)


def write_offline_pages(run_dir: Path, pages: dict[tuple[str, str], list[dict]], *, summaries_links) -> int:
    """Write one page per (sdk, test_id) into run_dir/tests/; returns how many.
    summaries_links: (run_links, log_links) relative to the tests/ folder."""
    run_links, log_links = summaries_links
    for (sdk, test_id), entries in pages.items():
        view = test_page_view(sdk, test_id, entries, run_links=run_links, log_links=log_links)
        write_atomically(run_dir / TESTS_FOLDER / page_file_name(sdk, test_id), render_test_page(view))
    return len(pages)
