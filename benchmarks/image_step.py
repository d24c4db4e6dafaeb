"""Image step for unchanged SDKs vs `docker build` + `docker push` with warm caches, same run.

Target (DESIGN.md): an SDK whose image inputs did not change costs under 1 s in the image
step, with no `docker build` at all. The obvious alternative is building and pushing every
time and relying on Docker's layer cache and the registry's existing layers; both are timed
here on the same machine, same images.
Needs the local stack (`make up`); builds and pushes each image once first if needed.
"""

from __future__ import annotations

import io
import statistics
import time

from sdk_campaigns.campaign import images
from sdk_campaigns.config import load_config
from sdk_campaigns.dev import local_stack

ROUNDS = 3


def main() -> int:
    config = load_config()
    client = local_stack.docker_client()
    auth = images.RegistryAuth(registry=local_stack.registry_host(), username="AWS", password="local")
    base = local_stack.BASE_IMAGE

    def image_step(sdk: str) -> images.PushedImage:
        settings = config.sdks[sdk]
        return images.build_and_push(
            client,
            sdk=sdk,
            folder=settings.image,
            repository=f"{config.campaign.ecr_repository_prefix}/{sdk}",
            auth=auth,
            base_image=base,
        )

    print("warming up: every image built and pushed once (a no-op when already in the registry)")
    pushed = {sdk: image_step(sdk) for sdk in config.sdk_names}

    rows = []
    for sdk in config.sdk_names:
        folder = config.sdks[sdk].image
        context = images.build_context(folder)
        hashed, rebuilt = [], []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            result = image_step(sdk)
            hashed.append(time.perf_counter() - started)
            assert not result.built, f"{sdk} was rebuilt although nothing changed"

            started = time.perf_counter()
            for _chunk in client.api.build(
                fileobj=io.BytesIO(context),
                custom_context=True,
                dockerfile=f"{folder}/Dockerfile",
                tag=f"{auth.registry}/sdkc-bench/{sdk}:warm",
                buildargs={"BASE_IMAGE": base},
                decode=True,
            ):
                pass
            for _chunk in client.api.push(
                f"{auth.registry}/sdkc-bench/{sdk}",
                tag="warm",
                auth_config=auth.docker_auth(),
                stream=True,
                decode=True,
            ):
                pass
            rebuilt.append(time.perf_counter() - started)
        size_mb = client.images.get(pushed[sdk].image).attrs["Size"] / 1e6
        rows.append((sdk, statistics.median(hashed), statistics.median(rebuilt), size_mb))

    print(f"\nimage step per SDK, median of {ROUNDS}: content-hash lookup vs build + push with warm caches")
    print(f"{'SDK':<12} {'content hash':>13} {'build+push':>13} {'ratio':>7} {'image size':>11}")
    for sdk, hashed, rebuilt, size in rows:
        print(f"{sdk:<12} {hashed:>11.3f} s {rebuilt:>11.3f} s {rebuilt / hashed:>6.1f}x {size:>8.0f} MB")
    total_hashed = sum(r[1] for r in rows)
    total_rebuilt = sum(r[2] for r in rows)
    print(
        f"{'all':<12} {total_hashed:>11.3f} s {total_rebuilt:>11.3f} s {total_rebuilt / total_hashed:>6.1f}x"
    )
    worst = max(r[1] for r in rows)
    verdict = "meets" if worst < 1.0 else "MISSES"
    print(f"\nslowest unchanged SDK: {worst:.3f} s — {verdict} the < 1 s per SDK target")
    for sdk in config.sdk_names:
        client.images.remove(f"{auth.registry}/sdkc-bench/{sdk}:warm", noprune=True)
    return 0 if worst < 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
