"""Fargate's resource limits for moto's Batch jobs on the local stack.

moto runs a Fargate job as a plain Docker container with no memory or CPU limit, so a
suite that would be killed for memory on AWS passes locally. This watcher, started by
`sdk-campaigns local up`, follows Docker's container starts; for each container that
carries AWS_BATCH_JOB_ID it asks moto for the job's vCPU and memory and applies them
with `docker update`, as Fargate's cgroup would. A process that exceeds the memory is
then killed by the kernel (exit 137), exactly the failure the campaign must classify.

The limit lands a few milliseconds after the container starts: a local stand-in for the
enforcement, not a replacement for it.
"""

from __future__ import annotations

import argparse
import logging
import sys

log = logging.getLogger("sdk_campaigns.dev.fargate_limits")
MIB = 1024 * 1024
CPU_PERIOD = 100_000  # microseconds; quota = vCPU × period


def job_id_of(container) -> str | None:
    for entry in container.attrs.get("Config", {}).get("Env") or []:
        name, _, value = entry.partition("=")
        if name == "AWS_BATCH_JOB_ID":
            return value
    return None


def limits_for(batch, job_id: str) -> tuple[int, float] | None:
    """(memory MiB, vCPU) of the job: its job definition's resourceRequirements (moto's job
    description rounds fractional vCPUs), with the job's container overrides on top."""
    jobs = batch.describe_jobs(jobs=[job_id])["jobs"]
    if not jobs:
        return None
    definitions = batch.describe_job_definitions(jobDefinitions=[jobs[0]["jobDefinition"]])["jobDefinitions"]
    requirements = (
        {
            r["type"]: r["value"]
            for r in (definitions[0].get("containerProperties") or {}).get("resourceRequirements", [])
        }
        if definitions
        else {}
    )
    if "MEMORY" not in requirements:
        return None
    return int(requirements["MEMORY"]), float(requirements.get("VCPU", 1))


def apply_limits(container, memory_mib: int, vcpus: float) -> None:
    container.update(
        mem_limit=memory_mib * MIB,
        memswap_limit=memory_mib * MIB,  # no swap: over the limit means killed, as on Fargate
        cpu_period=CPU_PERIOD,
        cpu_quota=int(vcpus * CPU_PERIOD),
    )


def watch(moto_url: str) -> None:
    import boto3
    import docker

    client = docker.from_env()
    batch = boto3.client(
        "batch",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    log.info("applying Fargate limits to Batch job containers (moto at %s)", moto_url)
    for event in client.events(decode=True, filters={"type": "container", "event": "start"}):
        try:
            container = client.containers.get(event["id"])
            job_id = job_id_of(container)
            if not job_id:
                continue
            limits = limits_for(batch, job_id)
            if limits:
                apply_limits(container, *limits)
                log.info("job %s: limited to %d MiB and %.2f vCPU", job_id, *limits)
        except Exception as err:  # a container that already exited, moto restarting: keep watching
            log.warning("could not limit container %s: %s", event.get("id", "?")[:12], err)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moto-url", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    watch(args.moto_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
