"""Fixtures of the image tests (content-hash tags with the docker builder, the daemonless image step):
an ECR repository of the tests' own and a tiny image whose content no registry holds yet."""

import contextlib
import shutil
import uuid

import pytest

from sdk_campaigns.campaign import images
from tests.image_support import TINY_REPOSITORY


@pytest.fixture(scope="module")
def ecr(aws_client):
    client = aws_client("ecr")
    with contextlib.suppress(client.exceptions.RepositoryAlreadyExistsException):
        client.create_repository(repositoryName=TINY_REPOSITORY)
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
