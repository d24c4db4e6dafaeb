"""SDK test images: content-hash tags, looked up in ECR, built only when missing.

An image's tag is a hash of its build context (images/common + images/<folder>), its build args and
the base image's registry digest, asked of the base image's registry over HTTP (the OCI distribution
API). Whether the tag exists is asked of ECR (DescribeImages). Neither needs a Docker daemon, so a
worker without one runs a campaign whose images exist. A missing image is built by the config's
builder: `docker` (docker-py next to Airflow, the local stack: `docker_build_and_push`) or `codebuild`
(the stack's CodeBuild project runs IMAGE_BUILDSPEC on the same context bytes: campaign/codebuild.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from dataclasses import asdict, dataclass
from pathlib import Path

from sdk_campaigns.config import REPO_ROOT

# The SDK image folders; SDK_CAMPAIGNS_IMAGES_DIR where they are not beside the package (MWAA's bundle).
IMAGES_DIR = Path(os.environ.get("SDK_CAMPAIGNS_IMAGES_DIR") or REPO_ROOT / "images")
# The base image's public name: what the local stack pulls or builds with debootstrap into the daemon
# (and pushes to its registry, where the campaign config's images.base_image finds it).
BASE_IMAGE = os.environ.get("SDK_CAMPAIGNS_BASE_IMAGE", "debian:bookworm-slim")
SHARED_GLUE_DIR = "common"
# Extra CA certificates the builds must trust (a TLS-inspecting proxy in front of the
# package registries, for instance). Copied into every image as extra-ca/.
EXTRA_CA_DIR = Path(os.environ.get("SDK_CAMPAIGNS_EXTRA_CA_DIR", "/usr/local/share/ca-certificates"))
CONTEXT_FILE = "context.tar"  # the build context's name in a CodeBuild source folder
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
DOCKER_HUB = "registry-1.docker.io"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
REGISTRY_SECONDS = 15
log = logging.getLogger(__name__)

# What a CodeBuild build runs (the stack's project default, and the DAG's buildspec override): exactly
# the docker builder's build, on the exact context bytes the tag hashes (checked), pushed under IMAGE_URI.
IMAGE_BUILDSPEC = """\
version: 0.2
env:
  shell: bash
phases:
  pre_build:
    on-failure: ABORT
    commands:
      - echo "$CONTEXT_SHA256  context.tar" | sha256sum --check --strict
      - aws ecr get-login-password | docker login --username AWS --password-stdin "${IMAGE_URI%%/*}"
  build:
    on-failure: ABORT
    commands:
      - >-
        docker build --file "$DOCKERFILE" --build-arg "BASE_IMAGE=$BASE_IMAGE"
        --label "sdk-campaigns.sdk=$SDK" --label "sdk-campaigns.content-tag=$CONTENT_TAG"
        --tag "$IMAGE_URI" - < context.tar
      - docker push "$IMAGE_URI"
"""


class ImageBuildError(RuntimeError):
    """An image could not be built or pushed: an infrastructure failure, not a test failure."""


@dataclass(frozen=True)
class RegistryAuth:
    registry: str  # host[:port], no scheme
    username: str
    password: str

    def docker_auth(self) -> dict:
        return {"username": self.username, "password": self.password, "serveraddress": self.registry}

    def basic(self) -> str:
        return "Basic " + b64encode(f"{self.username}:{self.password}".encode()).decode()


@dataclass(frozen=True)
class ImageSpec:
    """One SDK's image as the content tag defines it; travels to a deferred task's resumption."""

    sdk: str
    folder: str
    repository: str  # ECR repository name
    image: str  # registry/repository:tag
    content_tag: str
    base_image: str  # pinned: name@sha256:...
    context_sha256: str

    @property
    def build_args(self) -> dict[str, str]:
        return {"BASE_IMAGE": self.base_image}

    @property
    def dockerfile(self) -> str:
        return f"{self.folder}/Dockerfile"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PushedImage:
    sdk: str
    image: str  # registry/repository:tag
    digest: str  # sha256:..., as ECR holds it
    content_tag: str
    built: bool
    seconds: float
    base_image: str = ""  # name@sha256:... the image was built FROM

    def to_dict(self) -> dict:
        return asdict(self)


def docker_client():
    """The Docker Engine of DOCKER_HOST (or the local socket): the `docker` builder's engine."""
    import docker

    return docker.from_env(timeout=300)


# --- the build context -------------------------------------------------------------------------------


def _context_files(folder: str, images_dir: Path) -> list[Path]:
    roots = [images_dir / SHARED_GLUE_DIR, images_dir / folder]
    missing = [r for r in roots if not r.is_dir()]
    if missing:
        raise ImageBuildError(f"image folder {missing[0]} does not exist")
    files = []
    for root in roots:
        files.extend(
            p
            for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and "node_modules" not in p.parts
        )
    return sorted(files)


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    tar.addfile(info, io.BytesIO(data))


def build_context(folder: str, images_dir: Path = IMAGES_DIR) -> bytes:
    """A reproducible tar of the build context: same files, same bytes, same hash."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in _context_files(folder, images_dir):
            mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            _add_file(tar, str(path.relative_to(images_dir)), path.read_bytes(), mode)
        directory = tarfile.TarInfo("extra-ca")
        directory.type, directory.mode, directory.mtime = tarfile.DIRTYPE, 0o755, 0
        tar.addfile(directory)
        for cert in sorted(EXTRA_CA_DIR.glob("*.crt")) if EXTRA_CA_DIR.is_dir() else []:
            _add_file(tar, f"extra-ca/{cert.name}", cert.read_bytes())
    return buffer.getvalue()


def content_tag(context: bytes, base_digest: str, build_args: dict[str, str]) -> str:
    digest = hashlib.sha256()
    digest.update(context)
    digest.update(base_digest.encode())
    digest.update(json.dumps(build_args, sort_keys=True).encode())
    return "c" + digest.hexdigest()[:24]


# --- registries over HTTP (the OCI distribution API) -------------------------------------------------


@dataclass(frozen=True)
class ImageReference:
    registry: str  # host[:port]
    path: str  # repository path in that registry
    tag: str
    digest: str  # "" unless pinned

    @classmethod
    def parse(cls, reference: str) -> ImageReference:
        """`docker pull`'s reading: no registry part means Docker Hub (library/ for one-part names)."""
        name, _, digest = reference.partition("@")
        first, _, rest = name.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            registry, name = first, rest
        else:
            registry = DOCKER_HUB
            name = name if "/" in name else f"library/{name}"
        path, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
        if digest and not DIGEST.match(digest):
            raise ImageBuildError(f"{reference!r}: the digest is not sha256:<64 hex digits>")
        return cls(registry, path, tag or "latest", digest)

    @property
    def base_url(self) -> str:
        host = self.registry.rsplit(":", 1)[0].strip("[]")
        # As Docker does: plain HTTP for a registry on loopback only.
        scheme = "http" if host in ("localhost", "::1") or host.startswith("127.") else "https"
        return f"{scheme}://{self.registry}/v2/{self.path}"

    def pinned(self, digest: str) -> str:
        """name@digest, as FROM takes it: the exact manifest, whatever the tag points at later."""
        shown = self.registry if self.registry != DOCKER_HUB else "docker.io"
        return f"{shown}/{self.path}@{digest}"


def _bearer_token(challenge: str, auth: RegistryAuth | None) -> str | None:
    """A token for a `Bearer realm=...,service=...,scope=...` challenge (anonymous unless auth)."""
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    if not challenge.lower().startswith("bearer") or "realm" not in fields:
        return None
    query = urllib.parse.urlencode({k: v for k, v in fields.items() if k in ("service", "scope")})
    request = urllib.request.Request(f"{fields['realm']}?{query}")
    if auth:
        request.add_header("Authorization", auth.basic())
    with urllib.request.urlopen(request, timeout=REGISTRY_SECONDS) as response:
        body = json.load(response)
    return body.get("token") or body.get("access_token")


def _manifest_request(
    reference: ImageReference, method: str, auth: RegistryAuth | None
) -> tuple[bytes, dict] | None:
    """(body, headers) of the manifest, or None when the registry has no such tag or digest."""
    url = f"{reference.base_url}/manifests/{reference.digest or reference.tag}"
    headers = {"Accept": ", ".join(MANIFEST_TYPES)}
    if auth:
        headers["Authorization"] = auth.basic()
    for _ in range(2):  # the second time with the token a 401's challenge asked for
        request = urllib.request.Request(url, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=REGISTRY_SECONDS) as response:
                return response.read(), dict(response.headers)
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            challenge = err.headers.get("WWW-Authenticate", "")
            token = _bearer_token(challenge, auth) if err.code == 401 else None
            if not token:
                raise ImageBuildError(
                    f"registry {reference.registry} answered {err.code} for {url}: {err.reason}"
                ) from err
            headers["Authorization"] = f"Bearer {token}"
        except OSError as err:
            raise ImageBuildError(f"registry {reference.registry} cannot be reached ({url}): {err}") from err
    raise ImageBuildError(f"registry {reference.registry} refused the token it issued for {url}")


def registry_digest(reference: str, auth: RegistryAuth | None = None) -> str | None:
    """The manifest digest the registry holds for `reference` (HEAD, Docker-Content-Digest), or None
    when the tag is absent. For a multi-platform image, the index's digest."""
    parsed = ImageReference.parse(reference)
    found = _manifest_request(parsed, "HEAD", auth)
    if found is None:
        return None
    digest = {k.lower(): v for k, v in found[1].items()}.get("docker-content-digest", "")
    if DIGEST.match(digest):
        return digest
    body = registry_manifest(reference, auth)  # registries may leave the header off a HEAD
    return "sha256:" + hashlib.sha256(body[0]).hexdigest() if body else None


def registry_manifest(reference: str, auth: RegistryAuth | None = None) -> tuple[bytes, str] | None:
    """The manifest's exact bytes and media type, or None when absent."""
    found = _manifest_request(ImageReference.parse(reference), "GET", auth)
    if found is None:
        return None
    body, headers = found
    media_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    return body, media_type.split(";")[0].strip() or json.loads(body).get("mediaType", "")


def resolve_base_image(reference: str) -> tuple[str, str]:
    """(digest, pinned reference) of the base image, from its registry."""
    parsed = ImageReference.parse(reference)
    digest = parsed.digest or registry_digest(reference)
    if not digest:
        raise ImageBuildError(
            f"base image {reference} is not in its registry ({parsed.registry}): push it there, or set "
            f"images.base_image in the campaign config to an image that is (the local stack pushes "
            f"its debian:bookworm-slim on `sdk-campaigns local up`)"
        )
    return digest, parsed.pinned(digest)


# --- the image step: tag, lookup ---------------------------------------------------------------------


def image_registry(repository_uri: str, data_plane: str | None = None) -> str:
    """Where images are pushed and pulled: the repository's ECR host, or the registry standing in
    for ECR's data plane (the local stack's `sdk_campaigns_registry` connection extra)."""
    return data_plane or repository_uri.split("/", 1)[0]


def plan_image(
    *,
    sdk: str,
    folder: str,
    repository: str,
    registry: str,
    base_image: str,
    images_dir: Path = IMAGES_DIR,
) -> tuple[ImageSpec, bytes]:
    """The image's spec and its context bytes: files, build args and the base's registry digest."""
    context = build_context(folder, images_dir)
    base_digest, pinned = resolve_base_image(base_image)
    tag = content_tag(context, base_digest, {"BASE_IMAGE": pinned})
    spec = ImageSpec(
        sdk=sdk,
        folder=folder,
        repository=repository,
        image=f"{registry}/{repository}:{tag}",
        content_tag=tag,
        base_image=pinned,
        context_sha256=hashlib.sha256(context).hexdigest(),
    )
    return spec, context


def ecr_image_digest(ecr, repository: str, tag: str) -> str | None:
    """The digest ECR holds for repository:tag (DescribeImages), or None when the tag is absent."""
    try:
        details = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return None
    except ecr.exceptions.RepositoryNotFoundException as err:
        raise ImageBuildError(
            f"ECR repository {repository} does not exist: deploy the campaign stack (`sdk-campaigns infra "
            f"deploy`)"
        ) from err
    return details["imageDetails"][0]["imageDigest"]


# --- the `docker` builder ----------------------------------------------------------------------------


def _stream(lines, sdk: str, what: str) -> dict:
    """Log a Docker build/push stream line by line; raise with the engine's error text."""
    aux: dict = {}
    for chunk in lines:
        if "error" in chunk:
            raise ImageBuildError(f"{what} of the {sdk} image failed: {chunk['error'].strip()}")
        if chunk.get("aux"):
            aux.update(chunk["aux"])
        text = (chunk.get("stream") or "").rstrip()
        if text:
            log.info("[%s %s] %s", sdk, what, text)
    return aux


def register_in_stand_in_ecr(ecr, spec: ImageSpec, auth: RegistryAuth, digest: str) -> None:
    """moto gap (local stack only): ECR's data plane is a separate registry there, so a push does not
    create the image in moto's ECR. Register the pushed manifest (its exact bytes and digest) with
    PutImage, so DescribeImages answers as ECR does after a push. Never called against real ECR."""
    manifest = registry_manifest(spec.image, auth)
    if manifest is None:
        raise ImageBuildError(f"{spec.image} vanished from the registry right after its push")
    body, media_type = manifest
    # ImageAlreadyExists: a concurrent run registered the same tag and manifest.
    with contextlib.suppress(ecr.exceptions.ImageAlreadyExistsException):
        ecr.put_image(
            repositoryName=spec.repository,
            imageManifest=body.decode(),
            imageManifestMediaType=media_type,
            imageTag=spec.content_tag,
            imageDigest=digest,
        )


def docker_build_and_push(
    client,
    spec: ImageSpec,
    context: bytes,
    auth: RegistryAuth,
    *,
    stand_in_ecr=None,
    nocache: bool = False,
) -> str:
    """Build `spec` from `context` with the Docker daemon, push it, and return the registry's digest.
    `stand_in_ecr`: moto's ECR client when the registry only stands in for ECR's data plane;
    `nocache`: no layer from Docker's build cache (a cold build, as on a fresh machine)."""
    log.info("%s: building %s from images/%s (base %s)", spec.sdk, spec.image, spec.folder, spec.base_image)
    _stream(
        client.api.build(
            fileobj=io.BytesIO(context),
            custom_context=True,
            dockerfile=spec.dockerfile,
            tag=spec.image,
            buildargs=spec.build_args,
            labels={"sdk-campaigns.sdk": spec.sdk, "sdk-campaigns.content-tag": spec.content_tag},
            rm=True,
            forcerm=True,
            nocache=nocache,
            decode=True,
        ),
        spec.sdk,
        "build",
    )
    log.info("%s: pushing %s", spec.sdk, spec.image)
    repository = spec.image.rsplit(":", 1)[0]
    aux = _stream(
        client.api.push(
            repository, tag=spec.content_tag, auth_config=auth.docker_auth(), stream=True, decode=True
        ),
        spec.sdk,
        "push",
    )
    pushed = aux.get("Digest")
    held = registry_digest(spec.image, auth)
    if not pushed or pushed != held:
        raise ImageBuildError(
            f"push of {spec.image} not verified: the push reported {pushed}, the registry holds {held}"
        )
    if stand_in_ecr is not None:
        register_in_stand_in_ecr(stand_in_ecr, spec, auth, held)
    return held


def build_with_docker(client, spec: ImageSpec, context: bytes, auth: RegistryAuth, *, ecr, stand_in_ecr):
    """The `docker` builder, timed: built, pushed, and found in ECR under the content tag."""
    started = time.monotonic()
    try:
        docker_build_and_push(client, spec, context, auth, stand_in_ecr=stand_in_ecr)
    except ImageBuildError:
        raise
    except Exception as err:  # docker-py raises several unrelated types for "no engine"
        raise ImageBuildError(f"the docker builder cannot build {spec.image}: {err}") from err
    digest = ecr_image_digest(ecr, spec.repository, spec.content_tag)
    if not digest:
        raise ImageBuildError(f"{spec.image} was pushed but ECR has no {spec.repository}:{spec.content_tag}")
    return PushedImage(
        spec.sdk, spec.image, digest, spec.content_tag, True, time.monotonic() - started, spec.base_image
    )


# --- the `codebuild` builder's request ---------------------------------------------------------------


def context_key(prefix: str, spec: ImageSpec) -> str:
    """The build context's S3 key: a folder per image, which is the build's source location."""
    return f"{prefix}{spec.sdk}/{spec.content_tag}/{CONTEXT_FILE}"


def codebuild_request(spec: ImageSpec, bucket: str, key: str, timeout_minutes: int) -> dict:
    """StartBuild's overrides that build and push exactly `spec` from s3://bucket/key."""
    folder = f"{bucket}/{key.rsplit('/', 1)[0]}/"
    variables = {
        "IMAGE_URI": spec.image,
        "BASE_IMAGE": spec.base_image,
        "DOCKERFILE": spec.dockerfile,
        "CONTEXT_SHA256": spec.context_sha256,
        "SDK": spec.sdk,
        "CONTENT_TAG": spec.content_tag,
    }
    return {
        "sourceTypeOverride": "S3",
        "sourceLocationOverride": folder,
        "buildspecOverride": IMAGE_BUILDSPEC,
        "environmentVariablesOverride": [
            {"name": name, "value": value, "type": "PLAINTEXT"} for name, value in variables.items()
        ],
        "timeoutInMinutesOverride": timeout_minutes,
    }
