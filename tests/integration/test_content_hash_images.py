"""Content-hash images with the `docker` builder against the real Docker Engine, the real local
registry and moto's ECR: an unchanged image is found in ECR and never reaches `docker build`."""

import uuid

import pytest

from sdk_campaigns.campaign import images
from sdk_campaigns.dev import local_stack
from tests.image_support import TINY_REPOSITORY

pytestmark = pytest.mark.stack


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


def image_step(docker, ecr, images_dir) -> images.PushedImage:
    """What BuildImageOperator does with the docker builder: look the tag up in ECR, build if missing."""
    spec, context = images.plan_image(
        sdk="tiny",
        folder="tiny",
        repository=TINY_REPOSITORY,
        registry=local_stack.registry_host(),
        base_image=local_stack.local_base_image(),
        images_dir=images_dir,
    )
    digest = images.ecr_image_digest(ecr, TINY_REPOSITORY, spec.content_tag)
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
