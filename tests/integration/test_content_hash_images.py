"""Content-hash images with the `docker` builder against the real Docker Engine, the real local
registry and moto's ECR: an unchanged image is found in ECR and never reaches `docker build`."""

import contextlib
import shutil
import uuid

import pytest

from sdk_campaigns.campaign import images
from sdk_campaigns.dev import local_stack

pytestmark = pytest.mark.stack

REPOSITORY = "sdkc-it/tiny"


class CountingApi:
    """The real Docker API client, counting build calls on their way through."""

    def __init__(self, api):
        self._api = api
        self.builds = 0

    def build(self, *args, **kwargs):
        self.builds += 1
        return self._api.build(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._api, name)


@pytest.fixture
def docker(stack_home):
    client = local_stack.docker_client()
    client.api = CountingApi(client.api)
    return client


@pytest.fixture(scope="module")
def ecr(aws_client):
    client = aws_client("ecr")
    with contextlib.suppress(client.exceptions.RepositoryAlreadyExistsException):
        client.create_repository(repositoryName=REPOSITORY)
    return client


@pytest.fixture
def tiny_images(tmp_path):
    """An images/ folder with the shared glue and one tiny image, so builds take a second."""
    shutil.copytree(images.IMAGES_DIR / "common", tmp_path / "common")
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "Dockerfile").write_text(
        "ARG BASE_IMAGE=debian:bookworm-slim\nFROM ${BASE_IMAGE}\nCOPY tiny/greeting.txt /greeting.txt\n"
    )
    # Unique per test, so a registry kept from an earlier run never holds these tags yet.
    (tmp_path / "tiny" / "greeting.txt").write_text(f"hello from {tmp_path.name} {uuid.uuid4()}\n")
    return tmp_path


def image_step(docker, ecr, images_dir) -> images.PushedImage:
    """What BuildImageOperator does with the docker builder: look the tag up in ECR, build if missing."""
    spec, context = images.plan_image(
        sdk="tiny",
        folder="tiny",
        repository=REPOSITORY,
        registry=local_stack.registry_host(),
        base_image=local_stack.local_base_image(),
        images_dir=images_dir,
    )
    digest = images.ecr_image_digest(ecr, REPOSITORY, spec.content_tag)
    if digest:
        return images.PushedImage(spec.sdk, spec.image, digest, spec.content_tag, False, 0.0, spec.base_image)
    auth = images.RegistryAuth(registry=local_stack.registry_host(), username="AWS", password="local")
    return images.build_with_docker(docker, spec, context, auth, ecr=ecr, stand_in_ecr=ecr)


def test_unchanged_inputs_build_and_push_nothing(docker, ecr, tiny_images):
    first = image_step(docker, ecr, tiny_images)
    assert first.built is True
    builds_after_first = docker.api.builds
    second = image_step(docker, ecr, tiny_images)
    assert (second.image, second.digest) == (first.image, first.digest)
    assert second.built is False
    assert docker.api.builds == builds_after_first, "an unchanged image reached docker build"
    assert images.registry_digest(first.image) == first.digest


def test_a_changed_file_gives_a_new_tag(docker, ecr, tiny_images):
    first = image_step(docker, ecr, tiny_images)
    (tiny_images / "tiny" / "greeting.txt").write_text(f"hello again {uuid.uuid4()}\n")
    changed = image_step(docker, ecr, tiny_images)
    assert changed.content_tag != first.content_tag
    assert changed.built is True
    assert changed.digest != first.digest
