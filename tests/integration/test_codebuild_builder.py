"""`images.builder: codebuild` on the local stack: a missing image goes through StartBuild on moto with the
request that builds exactly its content tag, the task waits in the triggerer, and links to the build log.

moto gap: its CodeBuild accepts StartBuild and reports SUCCEEDED without building anything. So the
test stands in for CodeBuild's build machine, visibly: a recording proxy between Airflow and moto's
CodeBuild runs each StartBuild's buildspec (with bash and the Docker CLI, in a folder holding what the
request's S3 source location holds, with the request's environment) before moto sees the request. The
image the campaign then runs is the one the requested buildspec built from the uploaded context. The
pushed manifest is registered with moto's ECR as the docker builder does (moto keeps no layers)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from sdk_campaigns.campaign import images
from sdk_campaigns.config import DEFAULT_CONFIG_PATH, load_config
from sdk_campaigns.dev import local_stack
from sdk_campaigns.reporting import links

pytestmark = pytest.mark.stack

AWS_SHIM = """#!/bin/sh
# CodeBuild's images have the AWS CLI; the local registry takes any login.
[ "$1 $2" = "ecr get-login-password" ] && echo local && exit 0
echo "aws $*: not in the local CodeBuild stand-in" >&2; exit 1
"""


class LocalCodeBuild:
    """What CodeBuild's build machine would do with a StartBuild request: fetch the S3 source folder,
    run the buildspec's phases with the request's environment, then (moto gap) register the pushed
    manifest with moto's ECR."""

    def __init__(self, s3, ecr, workdir: Path):
        self.s3, self.ecr, self.workdir = s3, ecr, workdir
        self.transcripts: list[str] = []

    def build(self, request: dict) -> None:
        folder = self.workdir / uuid.uuid4().hex[:8]
        bin_dir = folder / ".bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "aws").write_text(AWS_SHIM)
        (bin_dir / "aws").chmod(0o755)
        bucket, _, prefix = request["sourceLocationOverride"].partition("/")
        for item in self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
            target = folder / item["Key"][len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        variables = {v["name"]: v["value"] for v in request["environmentVariablesOverride"]}
        env = {
            **os.environ,
            **variables,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "DOCKER_CONFIG": str(folder / ".docker"),  # the login stays in this folder
        }
        buildspec = yaml.safe_load(request["buildspecOverride"])
        transcript = []
        for phase in ("install", "pre_build", "build", "post_build"):
            for command in buildspec["phases"].get(phase, {}).get("commands", []):
                done = subprocess.run(
                    ["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True
                )
                transcript.append(f"[{phase}] $ {command}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
                if done.returncode != 0:
                    self.transcripts.append("\n".join(transcript) + f"\nexit {done.returncode}")
                    return
        self.transcripts.append("\n".join(transcript) + "\nbuildspec done")
        image = variables["IMAGE_URI"]
        spec = images.ImageSpec(
            sdk=variables["SDK"],
            folder=variables["DOCKERFILE"].split("/")[0],
            repository=image.split("/", 1)[1].rsplit(":", 1)[0],
            image=image,
            content_tag=variables["CONTENT_TAG"],
            base_image=variables["BASE_IMAGE"],
            context_sha256=variables["CONTEXT_SHA256"],
        )
        auth = images.RegistryAuth(registry=local_stack.registry_host(), username="AWS", password="local")
        images.register_in_stand_in_ecr(self.ecr, spec, auth, images.registry_digest(image))


class CodeBuildWiretap(ThreadingHTTPServer):
    """Forwards CodeBuild API calls to moto unchanged (the Host header too, so SigV4 signatures hold),
    keeping each call's target, body and user agent; a StartBuild is built by `builder` first."""

    def __init__(self, moto_url: str, builder: LocalCodeBuild):
        super().__init__(("127.0.0.1", 0), _WiretapHandler)
        self.moto = urlparse(moto_url)
        self.builder = builder
        self.calls: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _WiretapHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        server: CodeBuildWiretap = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        action = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
        request = json.loads(body or b"{}")
        server.calls.append(
            {"action": action, "request": request, "agent": self.headers.get("User-Agent", "")}
        )
        if action == "StartBuild":
            server.builder.build(request)
        upstream = http.client.HTTPConnection(server.moto.hostname, server.moto.port, timeout=60)
        upstream.request("POST", self.path, body, headers=dict(self.headers))
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def campaign(stack_home, aws_client, tmp_path_factory):
    """One campaign of the python SDK with builder codebuild, its image inputs new (a file of this run's
    own in a copy of images/), through `airflow dags test` (the trigger runs inline there)."""
    folder = tmp_path_factory.mktemp("codebuild")
    images_dir = folder / "images"
    shutil.copytree(images.IMAGES_DIR, images_dir, ignore=shutil.ignore_patterns("stack", "__pycache__"))
    (images_dir / "python" / "sdkc-run.txt").write_text(f"codebuild test {uuid.uuid4()}\n")
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    config["images"] = {**config.get("images", {}), "builder": "codebuild", "codebuild_poll_seconds": 1}
    config_path = folder / "campaign.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    builder = LocalCodeBuild(aws_client("s3"), aws_client("ecr"), folder / "builds")
    wiretap = CodeBuildWiretap(local_stack.moto_url(), builder)
    threading.Thread(target=wiretap.serve_forever, daemon=True).start()
    connection = local_stack.aws_connection()
    connection["extra"]["service_config"]["codebuild"] = {"endpoint_url": wiretap.url}
    logical_date = (datetime.now(UTC) - timedelta(minutes=30)).replace(microsecond=0).isoformat()
    try:
        result = subprocess.run(
            [str(Path(sys.executable).with_name("airflow")), "dags", "test", "sdk_test_campaign",
             logical_date, "-c", json.dumps({"sdks": ["python"]})],
            env={
                **os.environ,
                **local_stack.airflow_env(),
                "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
                "SDK_CAMPAIGNS_CONFIG": str(config_path),
                "SDK_CAMPAIGNS_IMAGES_DIR": str(images_dir),
            },
            capture_output=True, text=True, timeout=1200,
        )  # fmt: skip
    finally:
        wiretap.shutdown()
    output = result.stdout + result.stderr
    (stack_home / "codebuild-campaign.log").write_text(output)
    return {
        "result": result,
        "output": output,
        "calls": wiretap.calls,
        "builds": builder.transcripts,
        "images_dir": images_dir,
        "config": load_config(config_path),
        "logical_date": logical_date,
    }


def start_build(campaign) -> dict:
    starts = [c["request"] for c in campaign["calls"] if c["action"] == "StartBuild"]
    assert len(starts) == 1, f"expected one StartBuild, got {len(starts)}:\n{campaign['output'][-3000:]}"
    return starts[0]


def test_the_campaign_runs_the_image_the_requested_build_made(campaign, aws_client):
    from sdk_campaigns import history

    assert campaign["builds"] and campaign["builds"][0].endswith("buildspec done"), campaign["builds"]
    assert campaign["result"].returncode == 0, campaign["output"][-4000:]
    (partition,) = history.read_run(
        campaign["config"].history_uri(), "sdk_test_campaign", campaign["logical_date"]
    )
    summary = partition["summary"]
    assert summary["status"] == "tests_failed", summary["reason"]  # the sample's deliberate failure
    variables = {v["name"]: v["value"] for v in start_build(campaign)["environmentVariablesOverride"]}
    repository, tag = variables["IMAGE_URI"].split("/", 1)[1].rsplit(":", 1)
    ecr_digest = aws_client("ecr").describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    assert summary["image_digest"] == ecr_digest["imageDetails"][0]["imageDigest"]


def test_start_build_names_the_stack_project_the_uploaded_context_the_buildspec_and_the_tag(
    campaign, aws_client
):
    config = campaign["config"]
    request = start_build(campaign)
    variables = {v["name"]: v["value"] for v in request["environmentVariablesOverride"]}
    tag = variables["CONTENT_TAG"]
    bucket, prefix = config.campaign.results_bucket, config.infra.build_context_prefix
    assert request["projectName"] == f"{config.infra.stack_name}-image-build"
    assert request["sourceTypeOverride"] == "S3"
    assert request["sourceLocationOverride"] == f"{bucket}/{prefix}python/{tag}/"
    assert request["buildspecOverride"] == images.IMAGE_BUILDSPEC
    assert request["timeoutInMinutesOverride"] == config.images.codebuild_timeout_minutes
    assert variables["IMAGE_URI"] == f"{local_stack.registry_host()}/sdk-campaigns/python:{tag}"
    assert variables["DOCKERFILE"] == "python/Dockerfile"

    # The uploaded context is exactly the bytes the tag hashes, and the build checked them.
    uploaded = aws_client("s3").get_object(Bucket=bucket, Key=f"{prefix}python/{tag}/{images.CONTEXT_FILE}")
    context = uploaded["Body"].read()
    assert context == images.build_context("python", campaign["images_dir"])
    assert hashlib.sha256(context).hexdigest() == variables["CONTEXT_SHA256"]
    base_digest = variables["BASE_IMAGE"].rsplit("@", 1)[1]
    assert base_digest == images.registry_digest(config.images.base_image)
    assert images.content_tag(context, base_digest, {"BASE_IMAGE": variables["BASE_IMAGE"]}) == tag
    assert "context.tar: OK" in campaign["builds"][0]


def test_the_wait_happens_in_the_triggerer(campaign):
    calls = [c["action"] for c in campaign["calls"]]
    start = calls.index("StartBuild")
    waits = [c for c in campaign["calls"][start + 1 :] if c["action"] == "BatchGetBuilds"]
    assert waits, calls
    # The trigger's client is aiobotocore's (the triggerer's event loop), not a worker's botocore.
    assert "aiobotocore" in waits[0]["agent"], waits[0]["agent"]
    assert "new_state=deferred" in campaign["output"]
    # ... and the task resumed from it found the image (not a retry that found it later).
    assert "python: built by CodeBuild and pushed" in campaign["output"]
    assert "new_state=up_for_retry" not in campaign["output"]


def test_build_image_links_to_the_build_log_and_the_image(campaign, stack_home):
    import sqlalchemy

    engine = sqlalchemy.create_engine(local_stack.airflow_database_url())
    with engine.connect() as db:
        (value,) = db.execute(
            sqlalchemy.text(
                "SELECT x.value FROM xcom x JOIN dag_run dr ON dr.dag_id = x.dag_id AND dr.run_id = x.run_id "
                "WHERE x.task_id = 'build_image' AND x.key = :key AND dr.logical_date = :logical_date"
            ),
            {"key": links.LINKS_XCOM_KEY, "logical_date": datetime.fromisoformat(campaign["logical_date"])},
        ).one()
    engine.dispose()
    parts = json.loads(value) if isinstance(value, str | bytes) else value
    build_id = next(c for c in campaign["calls"] if c["action"] == "BatchGetBuilds")["request"]["ids"][0]
    project, _, uuid_part = build_id.partition(":")
    assert parts["build_logs"] == {
        "region": "us-east-1",
        "group": f"/aws/codebuild/{project}",
        "stream": uuid_part,
    }
    url = links.ImageBuildLogLink().url(parts["build_logs"])
    assert url.endswith(f"log-group/$252Faws$252Fcodebuild$252F{project}/log-events/{uuid_part}")
    assert parts["ecr"]["digest"].startswith("sha256:")
