"""Image step for unchanged SDKs vs `docker build` + `docker push` with warm caches, same run.

Target (DESIGN.md): an SDK whose image inputs did not change costs under 1 s in the image step,
with no `docker build` and no Docker daemon at all. The step is timed as BuildImageOperator runs it
in a task process: an ECR client from the Airflow connection (the local stack's Airflow identity),
the build context's hash, the base image's digest over HTTP, DescribeImages. Each SDK in a fresh
process with DOCKER_HOST pointing at nothing. The obvious alternative is building and pushing every
time and relying on Docker's layer cache and the registry's existing layers; both are timed here on
the same machine, same images. Needs the local stack (`make up`); builds each image once first if
needed (the docker builder, as the DAG's would).
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import time

import harness

from sdk_campaigns.campaign import images
from sdk_campaigns.config import load_config
from sdk_campaigns.dev import local_aws, local_stack

ROUNDS = 3
# What BuildImageOperator.execute does before it returns a reused image, timed after the imports a
# task process has made by then (Airflow, the Amazon provider's hooks: the DAG file imports them).
LOOKUP = """
import json, sys, time
import airflow.sdk, airflow.providers.amazon.aws.hooks.base_aws
from sdk_campaigns.campaign import images
from sdk_campaigns.campaign.aws import AwsContext
sdk, folder, repository, base, registry = sys.argv[1:6]
started = time.perf_counter()
ecr = AwsContext("aws_default").client("ecr")
spec, _ = images.plan_image(sdk=sdk, folder=folder, repository=repository, registry=registry, base_image=base)
digest = images.ecr_image_digest(ecr, repository, spec.content_tag)
print(json.dumps({"seconds": time.perf_counter() - started, "found": bool(digest), "image": spec.image}))
"""


def lookup_in_fresh_process(sdk: str, folder: str, repository: str, base: str) -> dict:
    env = {**os.environ, **local_stack.airflow_env(), "DOCKER_HOST": "tcp://127.0.0.1:1"}
    result = subprocess.run(
        [sys.executable, "-c", LOOKUP, sdk, folder, repository, base, local_stack.registry_host()],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    config = load_config()
    client = local_stack.docker_client()
    ecr = local_aws.admin_client("ecr")
    auth = images.RegistryAuth(registry=local_stack.registry_host(), username="AWS", password="local")
    base = config.images.base_image

    print("warming up: every image built and pushed once (nothing to do when ECR has its tag)")
    specs = {}
    for sdk in config.sdk_names:
        repository = f"{config.campaign.ecr_repository_prefix}/{sdk}"
        spec, context = images.plan_image(
            sdk=sdk,
            folder=config.sdks[sdk].image,
            repository=repository,
            registry=local_stack.registry_host(),
            base_image=base,
        )
        if not images.ecr_image_digest(ecr, repository, spec.content_tag):
            images.docker_build_and_push(client, spec, context, auth, stand_in_ecr=ecr)
        specs[sdk] = (spec, context)

    rows = []
    for sdk in config.sdk_names:
        spec, context = specs[sdk]
        looked_up, rebuilt = [], []
        for _ in range(ROUNDS):
            found = lookup_in_fresh_process(sdk, spec.folder, spec.repository, base)
            assert found["found"], f"{sdk}: {found['image']} not in ECR although nothing changed"
            looked_up.append(found["seconds"])

            started = time.perf_counter()
            for _chunk in client.api.build(
                fileobj=io.BytesIO(context),
                custom_context=True,
                dockerfile=spec.dockerfile,
                tag=f"{auth.registry}/sdkc-bench/{sdk}:warm",
                buildargs=spec.build_args,
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
        size_mb = client.images.get(spec.image).attrs["Size"] / 1e6
        rows.append((sdk, statistics.median(looked_up), statistics.median(rebuilt), size_mb))

    print(f"\nimage step per SDK, median of {ROUNDS}: content-tag lookup (no daemon) vs build + push (warm)")
    print(f"{'SDK':<12} {'lookup':>11} {'build+push':>13} {'ratio':>7} {'image size':>11}")
    for sdk, looked, rebuilt, size in rows:
        print(f"{sdk:<12} {looked:>9.3f} s {rebuilt:>11.3f} s {rebuilt / looked:>6.1f}x {size:>8.0f} MB")
    total_lookup = sum(r[1] for r in rows)
    total_rebuilt = sum(r[2] for r in rows)
    print(
        f"{'all':<12} {total_lookup:>9.3f} s {total_rebuilt:>11.3f} s {total_rebuilt / total_lookup:>6.1f}x"
    )
    worst = max(r[1] for r in rows)
    verdict = "meets" if worst < 1.0 else "MISSES"
    print(f"\nslowest unchanged SDK: {worst:.3f} s — {verdict} the < 1 s per SDK target")
    for sdk in config.sdk_names:
        client.images.remove(f"{auth.registry}/sdkc-bench/{sdk}:warm", noprune=True)
    harness.emit(
        "image step (unchanged SDK)",
        {
            "slowest_lookup_seconds": round(worst, 3),
            "build_push_over_lookup": round(total_rebuilt / total_lookup, 1),
            "lookup_seconds": {r[0]: round(r[1], 3) for r in rows},
            "build_push_seconds": {r[0]: round(r[2], 3) for r in rows},
        },
        "an unchanged SDK's image step < 1 s, no Docker daemon",
        worst < 1.0,
    )
    return 0 if worst < 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
