"""The image step needs no Docker daemon: the content tag comes from the build context, the build args
and the base image's registry digest (asked of the local registry over HTTP), and whether the image
exists is asked of ECR (moto). Real Docker Engine, registry and moto server throughout."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from docker import errors as docker_errors

from sdk_campaigns.campaign import images
from sdk_campaigns.dev import local_stack
from tests.image_support import TINY_REPOSITORY, python_image_present

pytestmark = pytest.mark.stack


@pytest.fixture
def docker(stack_home):
    return local_stack.docker_client()


@pytest.fixture
def fresh_base(docker):
    """A base image of this test's own in the local registry (a label on the stack's Debian base), so
    the daemon's copy can be removed and brought back without touching what others build on."""
    reference = f"{local_stack.registry_host()}/sdkc-it/base:{uuid.uuid4().hex[:12]}"
    docker.images.build(
        fileobj=io.BytesIO(f"FROM {local_stack.BASE_IMAGE}\nLABEL sdkc-it={reference}\n".encode()),
        tag=reference,
        rm=True,  # docker-py keeps the intermediate container otherwise
    )
    repository, _, tag = reference.rpartition(":")
    for chunk in docker.api.push(repository, tag=tag, stream=True, decode=True):
        assert "error" not in chunk, chunk
    yield reference
    with contextlib.suppress(docker_errors.ImageNotFound):  # gone already after the daemonless step
        docker.images.remove(reference, noprune=True)


def plan(base: str, images_dir: Path) -> images.ImageSpec:
    spec, _ = images.plan_image(
        sdk="tiny",
        folder="tiny",
        repository=TINY_REPOSITORY,
        registry=local_stack.registry_host(),
        base_image=base,
        images_dir=images_dir,
    )
    return spec


def test_the_same_inputs_on_two_machines_give_one_tag(
    docker, ecr, tiny_images, fresh_base, tmp_path, monkeypatch
):
    auth = images.RegistryAuth(registry=local_stack.registry_host(), username="AWS", password="local")
    # Machine A builds and pushes with the docker builder; moto's ECR gets the pushed manifest.
    original_id = docker.images.get(fresh_base).id
    first = plan(fresh_base, tiny_images)
    _, context = images.plan_image(
        sdk="tiny", folder="tiny", repository=TINY_REPOSITORY, registry=local_stack.registry_host(),
        base_image=fresh_base, images_dir=tiny_images,
    )  # fmt: skip
    assert images.ecr_image_digest(ecr, TINY_REPOSITORY, first.content_tag) is None
    pushed = images.docker_build_and_push(docker, first, context, auth, stand_in_ecr=ecr)
    assert images.registry_digest(first.image) == pushed
    assert images.ecr_image_digest(ecr, TINY_REPOSITORY, first.content_tag) == pushed, "moto's ECR disagrees"

    # Machine B got the base image with `docker load` of a saved tar.
    saved = b"".join(docker.images.get(fresh_base).save(named=True))
    docker.images.remove(fresh_base, noprune=True)
    docker.images.load(saved)
    loaded = plan(fresh_base, tiny_images)

    # Machine C pulled it from the registry.
    docker.images.remove(fresh_base, noprune=True)
    docker.images.pull(fresh_base)
    pulled = plan(fresh_base, tiny_images)

    # Machine D holds a stale, different image under that name: the registry's digest still decides.
    docker.images.get(local_stack.BASE_IMAGE).tag(*fresh_base.rsplit(":", 1))
    assert docker.images.get(fresh_base).id != original_id
    stale = plan(fresh_base, tiny_images)

    # Machine E has no Docker daemon at all.
    docker.images.remove(fresh_base, noprune=True)
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    assert not local_stack.docker_ping()
    daemonless = plan(fresh_base, tiny_images)

    assert {s.content_tag for s in (first, loaded, pulled, stale, daemonless)} == {first.content_tag}
    assert {s.base_image for s in (first, loaded, pulled, stale, daemonless)} == {first.base_image}
    assert first.base_image.endswith("@" + images.registry_digest(fresh_base))
    # And so machine E finds machine A's image: no build, no daemon.
    assert images.ecr_image_digest(ecr, TINY_REPOSITORY, daemonless.content_tag) == pushed


def test_a_changed_base_image_in_the_registry_gives_a_new_tag(docker, tiny_images, fresh_base):
    before = plan(fresh_base, tiny_images)
    docker.images.build(
        fileobj=io.BytesIO(f"FROM {fresh_base}\nLABEL changed=yes\n".encode()), tag=fresh_base, rm=True
    )
    repository, _, tag = fresh_base.rpartition(":")
    for chunk in docker.api.push(repository, tag=tag, stream=True, decode=True):
        assert "error" not in chunk, chunk
    after = plan(fresh_base, tiny_images)
    assert after.content_tag != before.content_tag
    assert after.base_image != before.base_image


def test_a_base_image_missing_from_its_registry_is_named_with_the_fix(stack_home, tiny_images):
    missing = f"{local_stack.registry_host()}/sdkc-it/never-pushed:{uuid.uuid4().hex[:8]}"
    with pytest.raises(images.ImageBuildError, match="not in its registry.*images.base_image"):
        plan(missing, tiny_images)


# --- a whole campaign whose images exist, with no Docker daemon next to Airflow --------------------


def test_a_campaign_whose_images_exist_runs_with_no_docker_daemon_next_to_airflow(stack_home, aws_client):
    from sdk_campaigns import history
    from sdk_campaigns.config import load_config

    spec = python_image_present(load_config(), aws_client("ecr"))
    digest = images.ecr_image_digest(aws_client("ecr"), spec.repository, spec.content_tag)
    nowhere = {"DOCKER_HOST": "tcp://127.0.0.1:1"}
    logical_date = (datetime.now(UTC) - timedelta(minutes=40)).replace(microsecond=0).isoformat()
    result = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "dags", "test", "sdk_test_campaign", logical_date,
         "-c", json.dumps({"sdks": ["python"]})],
        env={**os.environ, **local_stack.airflow_env(), **nowhere},
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    output = result.stdout + result.stderr
    (stack_home / "daemonless-campaign.log").write_text(output)
    assert result.returncode == 0, output[-4000:]
    assert f"python: reused {spec.image}" in output
    (partition,) = history.read_run(load_config().history_uri(), "sdk_test_campaign", logical_date)
    assert partition["summary"]["image_digest"] == digest
    assert partition["summary"]["status"] == "tests_failed", partition["summary"]["reason"]
