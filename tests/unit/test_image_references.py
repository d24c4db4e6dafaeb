"""Image references read as `docker pull` reads them, the CodeBuild request for one image, and the
build log link."""

from __future__ import annotations

import pytest

from sdk_campaigns.campaign import images
from sdk_campaigns.config import ConfigError, parse_config
from sdk_campaigns.reporting import links

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("reference", "registry", "path", "tag", "url"),
    [
        (
            "debian:bookworm-slim",
            "registry-1.docker.io",
            "library/debian",
            "bookworm-slim",
            "https://registry-1.docker.io/v2/library/debian",
        ),
        (
            "org/tool",
            "registry-1.docker.io",
            "org/tool",
            "latest",
            "https://registry-1.docker.io/v2/org/tool",
        ),
        (
            "public.ecr.aws/docker/library/debian:bookworm-slim",
            "public.ecr.aws",
            "docker/library/debian",
            "bookworm-slim",
            "https://public.ecr.aws/v2/docker/library/debian",
        ),
        (
            "127.0.0.1:5000/library/debian:bookworm-slim",
            "127.0.0.1:5000",
            "library/debian",
            "bookworm-slim",
            "http://127.0.0.1:5000/v2/library/debian",
        ),
        ("localhost/base", "localhost", "base", "latest", "http://localhost/v2/base"),
    ],
)
def test_references_are_read_as_docker_reads_them(reference, registry, path, tag, url):
    parsed = images.ImageReference.parse(reference)
    assert (parsed.registry, parsed.path, parsed.tag, parsed.digest) == (registry, path, tag, "")
    assert parsed.base_url == url


def test_a_pinned_reference_keeps_its_digest_and_pins_by_name():
    parsed = images.ImageReference.parse(f"127.0.0.1:5000/library/debian:bookworm-slim@{DIGEST}")
    assert parsed.digest == DIGEST
    assert parsed.pinned(DIGEST) == f"127.0.0.1:5000/library/debian@{DIGEST}"
    assert images.ImageReference.parse("debian").pinned(DIGEST) == f"docker.io/library/debian@{DIGEST}"
    # Already pinned: no registry is asked.
    assert images.resolve_base_image(f"registry.invalid/x@{DIGEST}") == (
        DIGEST,
        f"registry.invalid/x@{DIGEST}",
    )


def test_a_bad_digest_is_refused():
    with pytest.raises(images.ImageBuildError, match="sha256"):
        images.ImageReference.parse("debian@sha256:short")


def test_the_config_refuses_a_base_image_that_is_no_reference_and_a_builder_it_does_not_know():
    base = "campaign: {results_bucket: results}\nsdks: {python: {image: python, test_command: [pytest]}}\n"
    assert parse_config(base, "c.yaml").images.builder == "docker"
    with pytest.raises(ConfigError, match="images.base_image"):
        parse_config(base + "images: {base_image: 'Debian Bookworm'}\n", "c.yaml")
    with pytest.raises(ConfigError, match="images.builder"):
        parse_config(base + "images: {builder: kaniko}\n", "c.yaml")


SPEC = images.ImageSpec(
    sdk="python",
    folder="python",
    repository="sdk-campaigns/python",
    image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/sdk-campaigns/python:c0123456789abcdef01234567",
    content_tag="c0123456789abcdef01234567",
    base_image=f"public.ecr.aws/docker/library/debian@{DIGEST}",
    context_sha256="b" * 64,
)


def test_the_codebuild_request_builds_exactly_the_tag_from_the_uploaded_context():
    key = images.context_key("build-context/", SPEC)
    assert key == "build-context/python/c0123456789abcdef01234567/context.tar"
    request = images.codebuild_request(SPEC, "results", key, 45)
    assert request["sourceTypeOverride"] == "S3"
    assert request["sourceLocationOverride"] == "results/build-context/python/c0123456789abcdef01234567/"
    assert request["buildspecOverride"] == images.IMAGE_BUILDSPEC
    assert request["timeoutInMinutesOverride"] == 45
    variables = {v["name"]: v["value"] for v in request["environmentVariablesOverride"]}
    assert variables == {
        "IMAGE_URI": SPEC.image,
        "BASE_IMAGE": SPEC.base_image,
        "DOCKERFILE": "python/Dockerfile",
        "CONTEXT_SHA256": "b" * 64,
        "SDK": "python",
        "CONTENT_TAG": SPEC.content_tag,
    }
    # The buildspec checks the context against the hash and builds from exactly that file.
    assert 'echo "$CONTEXT_SHA256  context.tar" | sha256sum --check' in images.IMAGE_BUILDSPEC
    assert '--tag "$IMAGE_URI" - < context.tar' in images.IMAGE_BUILDSPEC
    assert 'docker push "$IMAGE_URI"' in images.IMAGE_BUILDSPEC


def test_the_build_log_link_comes_from_the_build_or_codebuilds_defaults():
    arn = "arn:aws:codebuild:eu-west-1:123456789012:build/sdk-campaigns-image-build:0b6c3f4e"
    given = {"id": "sdk-campaigns-image-build:0b6c3f4e", "arn": arn}
    logs = {"groupName": "/aws/codebuild/sdk-campaigns-image-build", "streamName": "0b6c3f4e"}
    assert links.build_links({**given, "logs": logs}) == {
        "build_logs": {"region": "eu-west-1", **{"group": logs["groupName"], "stream": "0b6c3f4e"}}
    }
    # moto names no group: CodeBuild's default one for the project, the stream the build's UUID.
    assert links.build_links(given) == links.build_links({**given, "logs": logs})
    url = links.ImageBuildLogLink().url(links.build_links(given)["build_logs"])
    assert url == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/"
        "log-group/$252Faws$252Fcodebuild$252Fsdk-campaigns-image-build/log-events/0b6c3f4e"
    )
    assert links.build_links({"id": "no-uuid", "arn": arn}) == {}
