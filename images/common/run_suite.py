#!/usr/bin/env python3
"""Runner glue shared by every language image: the results contract of DESIGN.md.

1. runs the SDK's test command (an argv list in SDK_TEST_COMMAND, never a shell string),
   in the image's own sample SDK or, when SDK_REPO_URL is set, in a fresh clone of that
   repository at SDK_REF;
2. converts the runner's output to JUnit when it can't write JUnit itself
   (SDK_RESULTS_FORMAT: go_test_json, libtest, tap; see converters/);
3. uploads every JUnit XML file in RESULTS_DIR to RESULTS_S3_URI, honouring
   AWS_ENDPOINT_URL when it is set (local stack) and plain AWS otherwise;
4. prints one summary line, `SDK_CAMPAIGN_SUMMARY {json}`, so the log alone tells the story
   (with `commit`, the resolved SHA, and `repo_url` when it cloned a repository);
5. exits 0 when the suite ran (whatever the tests said), non-zero only when the harness failed.

Standard library plus boto3 only: the same file runs in every image.
"""

import importlib
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlparse

HARNESS_FAILED = 3  # distinct from any test runner's "tests failed" code
GLUE_DIR = Path(__file__).resolve().parent
SOURCE_DIR = Path("/tmp/src")
# The DAG validates these too; the image checks again because it must not trust its caller.
REPO_URL = re.compile(r"^(https?|git)://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%+-]+)+/?$")
GIT_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")


def fail(message: str) -> NoReturn:
    print(f"sdk-campaign harness error: {message}", file=sys.stderr, flush=True)
    sys.exit(HARNESS_FAILED)


def count_junit(paths):
    """Counts for the summary line only; the DAG parses the uploaded files itself."""
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for path in paths:
        try:
            root = ElementTree.parse(path).getroot()
        except ElementTree.ParseError as err:
            counts["unparsable"] = counts.get("unparsable", 0) + 1
            print(f"warning: {path.name} is not valid XML: {err}", file=sys.stderr)
            continue
        for case in root.iter("testcase"):
            counts["tests"] += 1
            if case.find("failure") is not None:
                counts["failures"] += 1
            elif case.find("error") is not None:
                counts["errors"] += 1
            elif case.find("skipped") is not None:
                counts["skipped"] += 1
    return counts


def upload(paths, destination: str):
    import boto3

    parsed = urlparse(destination)
    if parsed.scheme != "s3" or not parsed.netloc:
        fail(f"RESULTS_S3_URI must look like s3://bucket/prefix/, got {destination!r}")
    prefix = parsed.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
    uris = []
    for path in paths:
        key = prefix + path.name
        s3.upload_file(str(path), parsed.netloc, key)
        uris.append(f"s3://{parsed.netloc}/{key}")
    return uris


def checkout(repo_url: str, ref: str) -> str:
    """Clone repo_url at ref (branch, tag or commit) into SOURCE_DIR; argv only, no shell.

    Returns the resolved commit SHA: a branch moves, so the ref alone doesn't say what was tested.
    """
    if not REPO_URL.fullmatch(repo_url):
        fail(f"SDK_REPO_URL {repo_url!r} is not an http(s):// or git:// repository URL")
    if not GIT_REF.fullmatch(ref) or ".." in ref:
        fail(f"SDK_REF {ref!r} is not a git branch, tag or commit name")
    git = ["git", "-c", "advice.detachedHead=false", "-C", str(SOURCE_DIR)]
    SOURCE_DIR.mkdir(parents=True, exist_ok=True)
    steps = [
        git + ["init", "-q"],
        git + ["remote", "add", "origin", repo_url],
        git + ["fetch", "-q", "--depth", "1", "origin", ref],
        git + ["checkout", "-q", "FETCH_HEAD"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            fail(f"cannot check out {ref!r} of {repo_url}: {done.stderr.strip() or done.stdout.strip()}")
    head = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", head):
        fail(f"cannot resolve the commit of {ref!r} in {repo_url}: git rev-parse HEAD said {head!r}")
    print(f"sdk-campaign: testing {repo_url} at {ref} ({head})", flush=True)
    return head


def run_and_capture(command: list[str], cwd: Path | None) -> tuple[int, str]:
    """Run the suite, echoing its output line by line (the job log) and keeping it for conversion."""
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    kept = []
    for line in process.stdout:
        sys.stdout.write(line)
        kept.append(line)
    sys.stdout.flush()
    return process.wait(), "".join(kept)


def convert(results_format: str, output: str, suite: str, results_dir: Path) -> None:
    sys.path.insert(0, str(GLUE_DIR))
    try:
        converter = importlib.import_module(f"converters.{results_format}")
    except ModuleNotFoundError:
        fail(f"SDK_RESULTS_FORMAT {results_format!r} has no converter in {GLUE_DIR / 'converters'}")
    (results_dir / f"junit-{results_format}.xml").write_bytes(converter.to_junit(output, suite))


def main() -> int:
    sdk = os.environ.get("SDK_NAME", "unknown")
    results_dir = Path(os.environ.get("RESULTS_DIR", "/tmp/results"))
    destination = os.environ.get("RESULTS_S3_URI", "")
    results_format = os.environ.get("SDK_RESULTS_FORMAT", "junit")
    repo_url = os.environ.get("SDK_REPO_URL", "")
    raw_command = os.environ.get("SDK_TEST_COMMAND", "")
    try:
        command = json.loads(raw_command)
    except json.JSONDecodeError:
        fail(f"SDK_TEST_COMMAND must be a JSON list of strings, got {raw_command!r}")
    if not (isinstance(command, list) and command and all(isinstance(a, str) for a in command)):
        fail(f"SDK_TEST_COMMAND must be a non-empty JSON list of strings, got {raw_command!r}")
    if not destination:
        fail("RESULTS_S3_URI is not set: the DAG passes it in the container overrides")

    results_dir.mkdir(parents=True, exist_ok=True)
    commit = checkout(repo_url, os.environ.get("SDK_REF", "main")) if repo_url else None
    cwd = SOURCE_DIR if repo_url else None
    print(f"sdk-campaign: running {sdk} suite: {command}", flush=True)
    started = time.monotonic()
    try:
        returncode, output = run_and_capture(command, cwd)
    except OSError as err:
        fail(f"cannot start test command {command[0]!r}: {err.strerror}")
    duration = time.monotonic() - started
    if results_format != "junit":
        convert(results_format, output, sdk, results_dir)

    reports = sorted(results_dir.glob("*.xml"))
    if not reports:
        fail(f"the test command exited {returncode} and wrote no JUnit XML to {results_dir}")
    uris = upload(reports, destination)
    summary = {
        "sdk": sdk,
        "runner_exit_code": returncode,
        "duration_seconds": round(duration, 3),
        **count_junit(reports),
        "results": uris,
    }
    if commit:
        # The code under test; without a clone the DAG records the image's own content tag.
        summary.update(commit=commit, repo_url=repo_url)
    print("SDK_CAMPAIGN_SUMMARY " + json.dumps(summary, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
