"""The scale curve: campaigns of 8, 32 and 64 SDK entries under the real scheduler.

The entries are variants of the eight languages (`python-1` … `python-8`, …) in a generated
config: each has its own ECR repository, job role and job, as a real SDK would. They live in a
CloudFormation stack of this benchmark's own (`sdkc-scale`, every resource renamed: the shared
`sdk-campaigns` stack is never touched), deployed into the local stack's moto. Images are the
languages' own, pushed to each variant's repository before the first run (Docker's cache makes that
a push of existing layers).

For each size (after one warm-up run, not measured): the overhead (wall time minus the longest job),
the run's timeline per task, the peak memory of the scheduler (its own RSS) and of its workers (PSS
of the LocalExecutor workers and their task processes) and of the triggerer, and the CPU seconds
each Airflow component, moto and the rest (the jobs' containers, Docker) used.
Target: overhead(64) < 3 × overhead(8). The obvious alternative is linear growth: 8 × overhead(8)
at 64 SDKs.
`--sizes 8 32` picks sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import harness

LANGUAGES = ["python", "javascript", "ruby", "php", "java", "cpp", "go", "rust"]
SIZES = [8, 32, 64]
DAG_ID = "sdk_test_campaign"
STACK = "sdkc-scale"
YEARLY = "0 0 1 1 *"


def variant(language: str, number: int) -> str:
    return f"{language}-{number}"


def sizes_sdks(size: int) -> list[str]:
    """`size` entries, spread over the eight languages: variants 1..size/8 of each."""
    per_language = size // len(LANGUAGES)
    return [variant(lang, n) for n in range(1, per_language + 1) for lang in LANGUAGES]


def scale_config(config: dict, most: int) -> dict:
    """The default config with `most` SDK entries and every AWS name of its own."""
    from sdk_campaigns.dev.local_aws import with_own_names

    with_own_names(config, STACK)
    # Yearly: unpausing the DAG starts no run of its own beside the measured ones.
    config["campaign"]["schedule"] = YEARLY
    config["batch"]["max_vcpus"] = max(16, most)
    languages = config["sdks"]
    config["sdks"] = {sdk: dict(languages[sdk.rsplit("-", 1)[0]]) for sdk in sizes_sdks(most)}
    return config


def deploy_stack() -> str:
    """The sdkc-scale stack in moto. 64 SDKs make a template of ~180 KB, over CloudFormation's 51,200
    bytes for a template body (what `sdk-campaigns local up` sends): it goes by S3 (TemplateURL), as
    `cdk deploy` does on AWS."""
    import time

    from sdk_campaigns.config import config_path, load_config
    from sdk_campaigns.dev import local_aws

    config = load_config()
    template = local_aws.campaign_template(config, config_path().read_text())
    cloudformation, s3 = local_aws.admin_client("cloudformation"), local_aws.admin_client("s3")
    try:
        existing = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
    except cloudformation.exceptions.ClientError:
        existing = None
    if existing in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        return f"{STACK}: exists"
    bucket = f"{STACK}-templates"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="template.json", Body=json.dumps(template).encode())
    cloudformation.create_stack(
        StackName=STACK,
        TemplateURL=f"https://{bucket}.s3.amazonaws.com/template.json",
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    while (status := cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]).endswith(
        "_IN_PROGRESS"
    ):
        time.sleep(1)
    assert status == "CREATE_COMPLETE", f"{STACK}: {status}"
    from sdk_campaigns import stack_deploy

    stack_deploy.infra_importable()
    from sdk_campaigns_infra.moto_gaps import fill_moto_gaps

    fill_moto_gaps(template, local_aws.admin_client, account=local_aws.ACCOUNT, region=local_aws.REGION)
    return f"{STACK}: created ({len(json.dumps(template)):,} bytes of template, by S3)"


def stack_up() -> None:
    """stack.up's steps, with the campaign stack deployed by deploy_stack."""
    from sdk_campaigns.dev import local_stack, stack

    local_stack.stack_dir().mkdir(parents=True, exist_ok=True)
    for name, step in stack.STEPS:
        detail = deploy_stack() if name.startswith("campaign stack") else step()
        print(f"  ✔ {name:<34} {detail}", flush=True)


def empty_history(config) -> int:
    """Delete the history the sdkc-scale stack's bucket kept from earlier runs of this benchmark (moto
    keeps the stack): publish reads the history, so a rerun on a fuller one would measure more."""
    from sdk_campaigns.dev import local_aws

    s3, removed = local_aws.admin_client("s3"), 0
    prefix = config.infra.history_prefix.rstrip("/") + "/"
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=config.campaign.results_bucket, Prefix=prefix
    ):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=config.campaign.results_bucket, Delete={"Objects": keys})
            removed += len(keys)
    return removed


def measure(size: int, token: str) -> dict:
    from orchestration import _jobs, _summaries, critical_path

    sdks = sizes_sdks(size)
    print(f"--- {size} SDKs ({harness.load_average()})", flush=True)
    # Memory sampled every 2 s, not 0.5 s: PSS costs CPU the run would lose (its share is printed).
    with harness.MemorySampler(interval=2.0) as memory, harness.CpuMeter() as cpu:
        run = harness.trigger_and_wait(DAG_ID, token, {"sdks": sdks}, minutes_ago=size)
    assert run["state"] == "success", run
    timeline = harness.stage_timeline(run, harness.task_instances(DAG_ID, run["dag_run_id"], token))
    harness.print_timeline(timeline)
    summaries = _summaries(run["logical_date"], sdks)
    longest = max(s.get("job_seconds") or 0.0 for s in summaries)
    wall = harness.run_seconds(run)
    return {
        "size": size,
        "wall": round(wall, 1),
        "longest_job": round(longest, 1),
        "overhead": round(wall - longest, 1),
        "critical_path": critical_path(run, _jobs(summaries)),
        "memory_mb": {k: round(v) for k, v in memory.peak_mb.items()},
        "sampler_cpu_seconds": round(memory.cpu_seconds, 1),
        "cpu_seconds": cpu.seconds,
        "timeline": timeline,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=SIZES)
    args = parser.parse_args()
    most = max(args.sizes)
    harness.prepare_home("sdkc-bench-scale-", lambda config: scale_config(config, most))

    from sdk_campaigns.config import load_config
    from sdk_campaigns.dev import airflow_services, image_builds

    stack_up()  # the sdkc-scale stack into moto, and this home's Airflow identity with its policy
    config = load_config()
    print(f"history of earlier runs: {empty_history(config)} files deleted", flush=True)
    print(f"images for {most} entries (pushed to each entry's repository)", flush=True)
    image_builds.build_missing_images(config, sizes_sdks(most), say=lambda line: None)
    airflow_services.ensure_services(extra_env={"SDK_CAMPAIGNS_CONFIG": os.environ["SDK_CAMPAIGNS_CONFIG"]})
    results = []
    try:
        airflow_services.wait_for_dag(DAG_ID)
        token = airflow_services.access_token()
        airflow_services.api("PATCH", f"dags/{DAG_ID}", token, {"is_paused": False})
        harness.wait_for_quiet(DAG_ID, token)
        # Not measured: a home's first run pays one-off costs (the DAG's first parse in a worker, the
        # first connections), which would swell the smallest size's overhead and flatter the curve.
        smallest = min(args.sizes)
        print(f"warm-up run ({smallest} SDKs, not measured)", flush=True)
        harness.trigger_and_wait(DAG_ID, token, {"sdks": sizes_sdks(smallest)}, minutes_ago=smallest + 1)
        for size in sorted(args.sizes):
            results.append(measure(size, token))
    finally:
        airflow_services.stop_services()

    print(f"\n{'SDKs':>5} {'wall':>8} {'longest job':>12} {'overhead':>9} {'x size 8':>9} "
          f"{'scheduler':>10} {'workers':>9} {'triggerer':>10}")  # fmt: skip
    base = results[0]["overhead"]
    for r in results:
        m = r["memory_mb"]
        print(
            f"{r['size']:>5} {r['wall']:>6.1f} s {r['longest_job']:>10.1f} s {r['overhead']:>7.1f} s "
            f"{r['overhead'] / base:>8.2f}x {m['scheduler_rss']:>7} MB {m['workers_pss']:>6} MB "
            f"{m['triggerer_pss']:>7} MB"
        )
    components = list(results[0]["cpu_seconds"])
    cores, first = os.cpu_count(), results[0]
    available = cores * first["wall"]
    print(
        f"\nCPU seconds during each run ({cores} cores: {available:.0f} s available at size {first['size']})"
    )
    print(f"{'SDKs':>5} " + " ".join(f"{c:>17}" for c in components))
    for r in results:
        print(f"{r['size']:>5} " + " ".join(f"{r['cpu_seconds'][c]:>17.1f}" for c in components))
    samplers = ", ".join(f"{r['sampler_cpu_seconds']} s at {r['size']}" for r in results)
    print(f"of which the memory sampler (in this benchmark's process, every 2 s): {samplers}")
    by_size = {r["size"]: r for r in results}
    growth = by_size[64]["overhead"] / by_size[8]["overhead"] if {8, 64} <= set(by_size) else None
    met = growth is not None and growth < 3
    if growth is not None:
        print(f"overhead(64) / overhead(8): {growth:.2f}x (target < 3x; linear growth would be 8x)")
    harness.emit(
        "scale curve",
        {
            "overhead_seconds": {r["size"]: r["overhead"] for r in results},
            "growth_64_over_8": round(growth, 2) if growth is not None else None,
            "peak_memory_mb": {r["size"]: r["memory_mb"] for r in results},
            "cpu_seconds": {r["size"]: r["cpu_seconds"] for r in results},
            "critical_path": {r["size"]: r["critical_path"] for r in results},
        },
        "overhead(64 SDKs) < 3x overhead(8 SDKs), scheduler",
        met,
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
