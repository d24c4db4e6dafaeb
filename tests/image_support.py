"""Shared by tests that need an SDK image in the local stack's ECR before a campaign runs."""

from sdk_campaigns.campaign import images
from sdk_campaigns.config import CampaignConfig
from sdk_campaigns.dev import local_stack

TINY_REPOSITORY = "sdkc-it/tiny"  # the image tests' own ECR repository, beside the stack's


def python_image_present(config: CampaignConfig, ecr_admin) -> images.ImageSpec:
    """The python SDK's image for the config's current inputs, built once with the docker builder if
    this stack has not built it yet (a campaign without a Docker daemon must find it in ECR)."""
    spec, context = images.plan_image(
        sdk="python",
        folder=config.sdks["python"].image,
        repository=f"{config.campaign.ecr_repository_prefix}/python",
        registry=local_stack.registry_host(),
        base_image=config.images.base_image,
    )
    if not images.ecr_image_digest(ecr_admin, spec.repository, spec.content_tag):
        auth = images.RegistryAuth(registry=local_stack.registry_host(), username="AWS", password="local")
        images.docker_build_and_push(local_stack.docker_client(), spec, context, auth, stand_in_ecr=ecr_admin)
    return spec
