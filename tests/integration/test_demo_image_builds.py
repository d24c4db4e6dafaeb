"""The demo's image builds on the local stack: real Docker, the real registry, moto's ECR."""

from __future__ import annotations

import secrets

import pytest

pytestmark = pytest.mark.stack


def test_images_in_ecr_are_reused_and_missing_ones_are_built_with_progress(stack_home, aws_client):
    from sdk_campaigns.config import load_config
    from sdk_campaigns.dev import image_builds, local_stack
    from tests.image_support import python_image_present

    config = load_config()
    python_image_present(config, aws_client("ecr"))  # in the stack's ECR under the DAG's content tag
    lines: list[str] = []
    [reused] = image_builds.build_missing_images(config, ["python"], jobs=1, say=lines.append)
    assert reused.outcome == "reused", lines

    # A namespace of the test's own: nothing there yet, so the image is built (cache warm) and pushed.
    namespace = f"sdkc-test-{secrets.token_hex(3)}"
    lines.clear()
    [built] = image_builds.build_missing_images(
        config, ["python"], jobs=1, namespace=namespace, say=lines.append
    )
    assert built.outcome == "built", lines
    steps = [line for line in lines if " step " in line]
    assert steps and all("%" in line for line in steps), lines
    assert lines[-1].startswith("  [100% of the images] python: built in ")
    tags = local_stack.docker_client().images.list(name=f"{local_stack.registry_host()}/{namespace}/python")
    assert tags, "the image was not built under the namespace"
    for image in tags:
        local_stack.docker_client().images.remove(image.id, force=True, noprune=True)
