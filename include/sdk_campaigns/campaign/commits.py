"""Which code a job tested: the commit the history records with every SDK result.

- A job that cloned a repository (SDK_REPO_URL) names the commit it resolved in its summary line
  (images/common/run_suite.py: `SDK_CAMPAIGN_SUMMARY {"commit": ..., "repo_url": ...}`): commit_kind
  "git". The line is the job's own output, so it is checked: a 40- or 64-hex SHA, for the repository
  the plan asked for; anything else is "unknown", never a guess.
- A job that ran the image's own sample suite tested what the image was built from: its content tag
  (a hash of the build context and base image, campaign/images.py) is the commit, commit_kind
  "image_source".
- Otherwise (the job never ran, or died before cloning): "unknown".
"""

from __future__ import annotations

import json
import re

SUMMARY_PREFIX = "SDK_CAMPAIGN_SUMMARY "
GIT = "git"
IMAGE_SOURCE = "image_source"
UNKNOWN = "unknown"
COMMIT_KINDS = (GIT, IMAGE_SOURCE, UNKNOWN)
GIT_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
CONTENT_TAG = re.compile(r"c[0-9a-f]{24}")
# The summary line may be cut at the excerpt's line length; its keys are sorted, so "commit" and
# "repo_url" come before the long "results" list and survive a cut.
_COMMIT_FIELD = re.compile(r'"commit": "([0-9a-f]{40}|[0-9a-f]{64})"')
_REPO_FIELD = re.compile(r'"repo_url": ("(?:[^"\\]|\\.)*")')


def summary_commit(log_lines: list[str]) -> tuple[str, str] | None:
    """(commit, repo_url) from the job's last summary line, or None when it names none."""
    for line in reversed(log_lines):
        if not line.startswith(SUMMARY_PREFIX):
            continue
        try:
            summary = json.loads(line[len(SUMMARY_PREFIX) :])
            commit, repo_url = summary.get("commit"), summary.get("repo_url")
        except (ValueError, AttributeError):  # cut at the line limit: read the two fields alone
            commit_match, repo_match = _COMMIT_FIELD.search(line), _REPO_FIELD.search(line)
            if not (commit_match and repo_match):
                return None
            commit = commit_match.group(1)
            try:
                repo_url = json.loads(repo_match.group(1))
            except ValueError:
                return None
        if isinstance(commit, str) and isinstance(repo_url, str) and GIT_SHA.fullmatch(commit):
            return commit, repo_url
        return None
    return None


def code_under_test(log_lines: list[str], *, planned_repo_url: str, content_tag: str) -> dict:
    """{"commit", "commit_kind", "repo_url"} of one SDK's result (see the module doc)."""
    if planned_repo_url:
        found = summary_commit(log_lines)
        if found and found[1] == planned_repo_url:
            return {"commit": found[0], "commit_kind": GIT, "repo_url": planned_repo_url}
        return {"commit": UNKNOWN, "commit_kind": UNKNOWN, "repo_url": planned_repo_url}
    if CONTENT_TAG.fullmatch(content_tag or ""):
        return {"commit": content_tag, "commit_kind": IMAGE_SOURCE, "repo_url": None}
    return {"commit": UNKNOWN, "commit_kind": UNKNOWN, "repo_url": None}


def check_code_under_test(document: dict, *, planned_repo_url: str) -> str:
    """What is wrong with an outcome's commit fields (outcome_checks), or "" when nothing is."""
    commit, kind, repo_url = document.get("commit"), document.get("commit_kind"), document.get("repo_url")
    if commit is None and kind is None and repo_url is None:
        return ""  # an outcome written before commits were recorded
    if kind not in COMMIT_KINDS:
        return f"commit_kind {str(kind)[:80]!r} is none of {', '.join(COMMIT_KINDS)}"
    if (repo_url or "") != planned_repo_url:
        return "repo_url is not the planned repository"
    pattern = {GIT: GIT_SHA, IMAGE_SOURCE: CONTENT_TAG, UNKNOWN: re.compile(UNKNOWN)}[kind]
    if not isinstance(commit, str) or not pattern.fullmatch(commit):
        return f"commit {str(commit)[:80]!r} is not a {kind} commit"
    if kind == GIT and not planned_repo_url or kind == IMAGE_SOURCE and planned_repo_url:
        return f"commit_kind {kind} does not fit the plan's source"
    return ""


# Forges whose compare and commit pages we know: https URLs only, path segments as a forge allows.
_GITHUB = re.compile(r"https://github\.com/([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/?")
_GITLAB = re.compile(r"https://gitlab\.com/((?:[A-Za-z0-9_.-]+/)+[A-Za-z0-9_.-]+?)(?:\.git)?/?")


def _forge_page(repo_url: str | None) -> tuple[str, str] | None:
    """(the repository's web page, the path part before compare/commit) on a known forge."""
    if not repo_url:
        return None
    for pattern, host, separator in ((_GITHUB, "github.com", "/"), (_GITLAB, "gitlab.com", "/-/")):
        match = pattern.fullmatch(repo_url)
        if match and all(part.strip(".") for part in match.group(1).split("/")):  # no "." or ".."
            return f"https://{host}/{match.group(1)}", separator
    return None


def compare_url(repo_url: str | None, base: str, head: str) -> str | None:
    """The forge's page comparing two git commits (GitHub: /compare/A...B, GitLab: /-/compare/A...B),
    or None for another host or anything but two SHAs."""
    forge = _forge_page(repo_url)
    if forge is None or not (GIT_SHA.fullmatch(base or "") and GIT_SHA.fullmatch(head or "")):
        return None
    return f"{forge[0]}{forge[1]}compare/{base}...{head}"


def commit_url(repo_url: str | None, commit: str | None) -> str | None:
    """The forge's page of one git commit, or None."""
    forge = _forge_page(repo_url)
    if forge is None or not GIT_SHA.fullmatch(commit or ""):
        return None
    return f"{forge[0]}{forge[1]}commit/{commit}"
