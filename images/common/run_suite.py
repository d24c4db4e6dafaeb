#!/usr/bin/env python3
"""Runner glue shared by every language image: the results contract of DESIGN.md.

1. runs the SDK's test command (an argv list in SDK_TEST_COMMAND, never a shell string);
2. uploads every JUnit XML file it wrote (RESULTS_DIR) to RESULTS_S3_URI, honouring
   AWS_ENDPOINT_URL when it is set (local stack) and plain AWS otherwise;
3. prints one summary line, `SDK_CAMPAIGN_SUMMARY {json}`, so the log alone tells the story;
4. exits 0 when the suite ran (whatever the tests said), non-zero only when the harness failed.

Standard library plus boto3 only: the same file runs in every image.
"""

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlparse

HARNESS_FAILED = 3  # distinct from any test runner's "tests failed" code


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


def main() -> int:
    sdk = os.environ.get("SDK_NAME", "unknown")
    results_dir = Path(os.environ.get("RESULTS_DIR", "/tmp/results"))
    destination = os.environ.get("RESULTS_S3_URI", "")
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
    print(f"sdk-campaign: running {sdk} suite: {command}", flush=True)
    started = time.monotonic()
    try:
        runner = subprocess.run(command, check=False)
    except OSError as err:
        fail(f"cannot start test command {command[0]!r}: {err.strerror}")
    duration = time.monotonic() - started

    reports = sorted(results_dir.glob("*.xml"))
    if not reports:
        fail(f"the test command exited {runner.returncode} and wrote no JUnit XML to {results_dir}")
    uris = upload(reports, destination)
    summary = {
        "sdk": sdk,
        "runner_exit_code": runner.returncode,
        "duration_seconds": round(duration, 3),
        **count_junit(reports),
        "results": uris,
    }
    print("SDK_CAMPAIGN_SUMMARY " + json.dumps(summary, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
