"""Content-hash image builds against the real Docker Engine and the real local registry."""

import io
import shutil
import uuid

import pytest

from sdk_campaigns.campaign import images
from sdk_campaigns.dev import local_stack

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


@pytest.fixture
def auth():
    return images.RegistryAuth(registry=local_stack.registry_host(), username="AWS", password="local")


def _build(docker, auth, images_dir, base=local_stack.BASE_IMAGE):
    return images.build_and_push(
        docker,
        sdk="tiny",
        folder="tiny",
        repository="it/tiny",
        auth=auth,
        base_image=base,
        images_dir=images_dir,
    )


def test_unchanged_inputs_build_and_push_nothing(docker, auth, tiny_images):
    first = _build(docker, auth, tiny_images)
    builds_after_first = docker.api.builds
    second = _build(docker, auth, tiny_images)
    assert (second.image, second.digest) == (first.image, first.digest)
    assert second.built is False
    assert docker.api.builds == builds_after_first, "an unchanged image reached docker build"
    assert images.registry_digest(docker, first.image, auth) == first.digest


def test_a_changed_file_gives_a_new_tag(docker, auth, tiny_images):
    first = _build(docker, auth, tiny_images)
    (tiny_images / "tiny" / "greeting.txt").write_text(f"hello again {uuid.uuid4()}\n")
    changed = _build(docker, auth, tiny_images)
    assert changed.content_tag != first.content_tag
    assert changed.built is True
    assert changed.digest != first.digest


def test_a_changed_base_image_gives_a_new_tag(docker, auth, tiny_images, tmp_path):
    tags = []
    for label in ("one", "two"):
        docker.images.build(
            fileobj=io.BytesIO(f"FROM {local_stack.BASE_IMAGE}\nLABEL variant={label}\n".encode()),
            tag=f"sdkc-it/base:{label}",
        )
        tags.append(_build(docker, auth, tiny_images, base=f"sdkc-it/base:{label}").content_tag)
    assert tags[0] != tags[1]
