"""P6: a cold `make demo` (8 SDKs) under 10 minutes, vs building the images one after another.

A cold demo is its image builds plus the campaign. This machine's Docker cache and registry are
shared (other work has built these images already), so the cold builds are measured as a fresh
machine would do them: without Docker's layer cache (`--no-cache`) and pushed to a registry
namespace of this run's own (no layer there yet). In the same run:
- ours: `sdk-campaigns demo`'s builder (dev/image_builds.py), as many builds at once as cores and
  memory allow, then the campaign under `airflow dags test` with every image present;
- the obvious alternative: the same builds one after another (what `airflow dags test` did inside
  build_image before), then the same campaign.
Cold demo = cold builds + the campaign. The stack's own start (`make up`: packages, the debootstrap
base image, PostgreSQL) is not counted: it is the same for both and was done once on this machine.
Needs the local stack (`make up`). Images built here are removed from the Docker engine at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import harness

TARGET_SECONDS = 600.0


def cold_builds(config, sdks: list[str], jobs: int, namespace: str) -> tuple[float, list]:
    from sdk_campaigns.dev import image_builds

    started = time.monotonic()
    results = image_builds.build_missing_images(config, sdks, jobs=jobs, nocache=True, namespace=namespace)
    return time.monotonic() - started, results


def campaign_seconds(sdks: list[str]) -> float:
    """`sdk-campaigns demo` with every image in ECR: the campaign part of a demo."""
    from sdk_campaigns.dev import demo

    started = time.monotonic()
    code = demo.run_demo(argparse.Namespace(sdks=sdks, ref=None, build_jobs=None))
    assert code == 0, "the demo's campaign failed: see its log"
    return time.monotonic() - started


def remove_images(namespace: str) -> None:
    from sdk_campaigns.dev import local_stack

    client = local_stack.docker_client()
    prefix = f"{local_stack.registry_host()}/{namespace}/"
    for image in client.images.list():
        for tag in image.tags:
            if tag.startswith(prefix):
                client.images.remove(tag, noprune=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdks", nargs="+", default=None, help="default: every configured SDK")
    parser.add_argument("--jobs", type=int, default=None, help="builds at once (default: build_jobs())")
    args = parser.parse_args()

    def own_history(config: dict) -> dict:
        # A history of its own: the shared bucket's may hold partitions other versions wrote.
        config["campaign"]["history_uri"] = str(Path(os.environ["SDK_CAMPAIGNS_HOME"]) / "history")
        return config

    harness.prepare_home("sdkc-bench-cold-demo-", own_history)
    from sdk_campaigns.config import load_config
    from sdk_campaigns.dev import image_builds, stack

    stack.up()
    config = load_config()
    sdks = args.sdks or config.sdk_names
    jobs = args.jobs or image_builds.build_jobs()
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    print(f"cold builds of {len(sdks)} images ({harness.load_average()})", flush=True)
    try:
        print(f"--- ours: {jobs} at once", flush=True)
        ours_builds, ours_results = cold_builds(config, sdks, jobs, f"sdkc-cold-{run}-concurrent")
        print(f"--- the alternative: one after another ({harness.load_average()})", flush=True)
        alt_builds, alt_results = cold_builds(config, sdks, 1, f"sdkc-cold-{run}-sequential")
    finally:
        for namespace in (f"sdkc-cold-{run}-concurrent", f"sdkc-cold-{run}-sequential"):
            remove_images(namespace)
    failed = [r for r in (*ours_results, *alt_results) if r.outcome != "built"]
    assert not failed, f"cold builds failed: {failed}"
    print(f"--- the campaign with every image present ({harness.load_average()})", flush=True)
    image_builds.build_missing_images(config, sdks)  # the stack's own images, if this stack lacks any
    campaign = campaign_seconds(sdks)

    ours, alt = ours_builds + campaign, alt_builds + campaign
    print(f"\n{'':<28} {'builds':>9} {'campaign':>9} {'cold demo':>10}")
    print(f"{f'ours ({jobs} builds at once)':<28} {ours_builds:>7.0f} s {campaign:>7.0f} s {ours:>8.0f} s")
    print(f"{'one build after another':<28} {alt_builds:>7.0f} s {campaign:>7.0f} s {alt:>8.0f} s")
    pairs = zip(ours_results, alt_results, strict=True)
    print(
        "per image, cold: "
        + ", ".join(f"{a.sdk} {a.seconds:.0f} s alone, {o.seconds:.0f} s shared" for o, a in pairs)
    )
    print(f"ratio one after another / ours: {alt / ours:.2f}x (builds alone {alt_builds / ours_builds:.2f}x)")
    met = ours < TARGET_SECONDS
    print(f"target: cold demo under {TARGET_SECONDS / 60:.0f} minutes -> {'met' if met else 'MISSED'}")
    harness.emit(
        "P6 cold demo",
        {
            "cold_demo_seconds": round(ours),
            "sequential_seconds": round(alt),
            "sequential_over_ours": round(alt / ours, 2),
            "build_jobs": jobs,
            "builds_seconds": round(ours_builds),
            "sequential_builds_seconds": round(alt_builds),
            "campaign_seconds": round(campaign),
            "cores": os.cpu_count(),
        },
        f"cold demo (no build cache, fresh registry namespace) < {TARGET_SECONDS / 60:.0f} min, 8 SDKs",
        met,
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
