"""What a hostile job tries from inside its container (run as the python SDK's test command): each
attempt is a JUnit test case that passes when the attempt is refused. The JUnit it writes is its
own result, uploaded as any job's, so the campaign reports what held.

Run by `python3 -c "exec(''.join(sys.argv[1:]))" <chunks>`: a test command's arguments are at most
1024 characters each (campaign.sources), so the source travels in pieces."""

import json
import os
import socket
import urllib.request
from xml.sax.saxutils import quoteattr

import boto3
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL")
RESULTS = os.environ["RESULTS_S3_URI"]  # s3://bucket/<dag>/<run>/attempt-<n>/python/results/
BUCKET, PREFIX = RESULTS[len("s3://") :].split("/", 1)
GATEWAY = ENDPOINT.split("//", 1)[1].rsplit(":", 1)[0] if ENDPOINT else "127.0.0.1"
cases = []


def refused(name, attempt):
    try:
        attempt()
        cases.append((name, "it was allowed"))
    except ClientError as err:
        code = err.response["Error"]["Code"]
        denied = code in ("AccessDenied", "AccessDeniedException", "403")
        cases.append((name, None if denied else f"unexpected error {code}"))
    except (OSError, urllib.error.URLError) as err:
        forbidden = isinstance(err, urllib.error.HTTPError) and err.code == 403
        cases.append((name, None if forbidden or not isinstance(err, urllib.error.HTTPError) else str(err)))


def connect(host, port):
    with socket.create_connection((host, port), timeout=3):
        pass


batch = boto3.client("batch", endpoint_url=ENDPOINT)
s3 = boto3.client("s3", endpoint_url=ENDPOINT)
privileged = {"image": "debian:bookworm-slim", "command": ["true"], "privileged": True, "vcpus": 1,
              "memory": 512, "volumes": [{"name": "root", "host": {"sourcePath": "/"}}]}  # fmt: skip
refused("register_privileged_job_definition", lambda: batch.register_job_definition(
    jobDefinitionName="escape", type="container", containerProperties=privileged))  # fmt: skip
refused("submit_job", lambda: batch.submit_job(
    jobName="escape", jobQueue="sdk-campaigns", jobDefinition="sdk-campaigns-python"))  # fmt: skip
other_sdk = PREFIX.replace("/python/results/", "/go/results/")
refused(
    "write_another_sdks_results", lambda: s3.put_object(Bucket=BUCKET, Key=other_sdk + "junit.xml", Body=b"x")
)
outcome = PREFIX.replace("/python/results/", "/python/outcome.json")
refused(
    "forge_outcome_json",
    lambda: s3.put_object(Bucket=BUCKET, Key=outcome, Body=json.dumps({"status": "passed"})),
)
refused("read_another_sdks_results", lambda: s3.get_object(Bucket=BUCKET, Key=other_sdk + "junit.xml"))
reset = urllib.request.Request(f"{ENDPOINT}/moto-api/reset-auth", data=b"inf", method="POST")
refused("switch_iam_off", lambda: urllib.request.urlopen(reset, timeout=5))
for port, service in ((5432, "postgresql"), (8080, "airflow_api"), (5000, "registry"), (2375, "docker_api")):
    refused(f"reach_{service}_on_the_host", lambda port=port: connect(GATEWAY, port))
    refused(f"reach_{service}_on_loopback", lambda port=port: connect("127.0.0.1", port))
cases.append(
    ("no_docker_socket", "the Docker socket is mounted" if os.path.exists("/var/run/docker.sock") else None)
)

os.makedirs("/tmp/results", exist_ok=True)
with open("/tmp/results/junit-probes.xml", "w") as junit:
    junit.write(f'<testsuite name="job-boundaries" tests="{len(cases)}">')
    for name, failure in cases:
        body = f"<failure message={quoteattr(failure)}/>" if failure else ""
        junit.write(f'<testcase classname="probes" name="{name}">{body}</testcase>')
    junit.write("</testsuite>")
print("probes:", json.dumps(dict(cases)))
