"""SDK test images: content-hash tags, built with the Docker SDK and pushed to ECR.

An image's tag is a hash of its build context (images/common + images/<folder>), the
base image's id and the build args. When the registry already has that tag, the image
step is a single manifest lookup: no `docker build`, no push.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tarfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sdk_campaigns.config import REPO_ROOT

IMAGES_DIR = REPO_ROOT / "images"
# Every image builds FROM this (build arg BASE_IMAGE); the local stack builds it with debootstrap
# when no public registry can be reached, under the same name.
BASE_IMAGE = os.environ.get("SDK_CAMPAIGNS_BASE_IMAGE", "debian:bookworm-slim")
SHARED_GLUE_DIR = "common"
# Extra CA certificates the builds must trust (a TLS-inspecting proxy in front of the
# package registries, for instance). Copied into every image as extra-ca/.
EXTRA_CA_DIR = Path(os.environ.get("SDK_CAMPAIGNS_EXTRA_CA_DIR", "/usr/local/share/ca-certificates"))
log = logging.getLogger(__name__)


class ImageBuildError(RuntimeError):
    """An image could not be built or pushed: an infrastructure failure, not a test failure."""


@dataclass(frozen=True)
class RegistryAuth:
    registry: str  # host[:port], no scheme
    username: str
    password: str

    def docker_auth(self) -> dict:
        return {"username": self.username, "password": self.password, "serveraddress": self.registry}


@dataclass(frozen=True)
class PushedImage:
    sdk: str
    image: str  # registry/repository:tag
    digest: str  # sha256:..., verified against the registry
    content_tag: str
    built: bool
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def docker_client():
    """The Docker Engine of DOCKER_HOST (or the local socket): the `docker` builder's engine."""
    import docker

    return docker.from_env(timeout=300)


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


def content_tag(context: bytes, base_image_id: str, build_args: dict[str, str]) -> str:
    digest = hashlib.sha256()
    digest.update(context)
    digest.update(base_image_id.encode())
    digest.update(json.dumps(build_args, sort_keys=True).encode())
    return "c" + digest.hexdigest()[:24]


def registry_digest(client, image: str, auth: RegistryAuth) -> str | None:
    """The manifest digest the registry holds for `image`, or None when the tag is absent."""
    import docker.errors

    try:
        return client.images.get_registry_data(image, auth_config=auth.docker_auth()).id
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as err:
        # Registries answer "manifest unknown" with a 404 wrapped in a 500 by older engines.
        if "manifest unknown" in str(err) or "not found" in str(err).lower():
            return None
        raise


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


def build_and_push(
    client,
    *,
    sdk: str,
    folder: str,
    repository: str,
    auth: RegistryAuth,
    base_image: str,
    images_dir: Path = IMAGES_DIR,
) -> PushedImage:
    started = time.monotonic()
    context = build_context(folder, images_dir)
    base_id = client.images.get(base_image).id
    build_args = {"BASE_IMAGE": base_image}
    tag = content_tag(context, base_id, build_args)
    image = f"{auth.registry}/{repository}:{tag}"

    existing = registry_digest(client, image, auth)
    if existing:
        log.info("%s: %s already in the registry (%s): no build, no push", sdk, image, existing)
        return PushedImage(sdk, image, existing, tag, False, time.monotonic() - started)

    log.info("%s: building %s from images/%s (base %s)", sdk, image, folder, base_image)
    _stream(
        client.api.build(
            fileobj=io.BytesIO(context),
            custom_context=True,
            dockerfile=f"{folder}/Dockerfile",
            tag=image,
            buildargs=build_args,
            labels={"sdk-campaigns.sdk": sdk, "sdk-campaigns.content-tag": tag},
            rm=True,
            forcerm=True,
            decode=True,
        ),
        sdk,
        "build",
    )
    log.info("%s: pushing %s", sdk, image)
    aux = _stream(
        client.api.push(
            f"{auth.registry}/{repository}", tag=tag, auth_config=auth.docker_auth(), stream=True, decode=True
        ),
        sdk,
        "push",
    )
    pushed = aux.get("Digest")
    held = registry_digest(client, image, auth)
    if not pushed or pushed != held:
        raise ImageBuildError(
            f"push of {image} not verified: the push reported {pushed}, the registry holds {held}"
        )
    return PushedImage(sdk, image, held, tag, True, time.monotonic() - started)
