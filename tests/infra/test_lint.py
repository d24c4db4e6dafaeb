"""cfn-lint and checkov on the synthesized template, run from their own venv (scripts/tools-venv.sh)."""

from __future__ import annotations

import json
import os
import subprocess

# cfn-lint warnings accepted, each with its reason (none today): {"W1234": "why it is fine"}.
ACCEPTED_CFN_LINT_WARNINGS: dict[str, str] = {}


def env_without_aws() -> dict:
    """The linters need no AWS access: give them none."""
    return {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}


def test_cfn_lint_finds_no_errors(tools_bin, template_file):
    done = subprocess.run(
        [str(tools_bin / "cfn-lint"), "--format", "json", str(template_file)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env_without_aws(),
    )
    assert done.returncode in (0, 4, 8, 12), done.stderr  # 2: errors; 4: warnings; 8: informational
    findings = json.loads(done.stdout or "[]")
    unexpected = [
        f"{f['Rule']['Id']} {f['Level']}: {f['Message']} ({f['Location']['Path']})"
        for f in findings
        if f["Level"] == "Error"
        or (f["Level"] == "Warning" and f["Rule"]["Id"] not in ACCEPTED_CFN_LINT_WARNINGS)
    ]
    assert not unexpected, "\n".join(unexpected)


def test_checkov_passes_and_every_skip_has_a_reason(tools_bin, template_file, template):
    done = subprocess.run(
        [
            str(tools_bin / "checkov"),
            "--file",
            str(template_file),
            "--framework",
            "cloudformation",
            "--skip-download",  # no calls to the vendor's API: offline and repeatable
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env_without_aws(),
    )
    assert done.stdout.strip(), done.stderr[-3000:]
    report = json.loads(done.stdout)
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in report["results"]["failed_checks"]
    ]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    assert report["summary"]["parsing_errors"] == 0
    assert done.returncode == 0, done.stderr[-3000:]

    # Every skip in the template carries a one-line reason, and checkov saw each one.
    skips = [
        (name, skip)
        for name, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for name, skip in skips:
        assert skip.get("comment", "").strip() and "\n" not in skip["comment"], (name, skip)
    seen = {(c["resource"].split(".", 1)[1], c["check_id"]) for c in report["results"]["skipped_checks"]}
    assert seen == {(name, skip["id"]) for name, skip in skips}
