"""moto as the local stack's AWS account, with what Fargate puts around a job.

`python -m sdk_campaigns.dev.moto_server` runs one process, one set of moto backends, three
listeners:

- `127.0.0.1:<port>`: the AWS endpoint of Airflow, the CLI and the tests (moto's /moto-api/ too);
- `<jobs gateway>:<port>`: the same AWS APIs for Batch job containers, which moto starts on the
  jobs network (MOTO_DOCKER_NETWORK_NAME). No /moto-api/ there: a job could reset moto or switch
  IAM off with it;
- `169.254.170.2:80`: the container credentials endpoint. Fargate's agent hands each task its job
  role's credentials at `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`; this one does the same, with a
  random token per job container, so a job gets its own role and nothing else.

IAM is enforced from the first request (INITIAL_NO_AUTH_ACTION_COUNT=0): every caller signs with
an identity of this account. The administrator's keys (the local stack's own, to deploy the stack
and let tests look around) are made in-process and served on loopback only.

Fargate's rules for job containers hold here before any container starts: no privileged mode, no
host mounts, no host network, no added capabilities (AWS refuses such job definitions on Fargate);
memory and vCPU limits from the job definition. A container breaking one is not started and its
job fails naming the rule.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
import threading
from datetime import UTC

log = logging.getLogger("sdk_campaigns.dev.moto_server")

PORT = int(os.environ.get("SDK_CAMPAIGNS_MOTO_PORT", "5100"))
ACCOUNT = "123456789012"  # moto's default account
ADMIN_USER = "sdk-campaigns-admin"
ADMIN_PATH = "/sdk-campaigns/admin-credentials"  # loopback listener only
CREDENTIALS_IP = "169.254.170.2"  # Fargate's (ECS's) container credentials address
CREDENTIALS_PATH = "/v2/credentials/"
MIB = 1024 * 1024
CPU_PERIOD = 100_000  # microseconds; quota = vCPU × period


def url() -> str:
    """The local stack's AWS endpoint, on loopback."""
    return f"http://127.0.0.1:{PORT}"


class FargateRefusal(RuntimeError):
    """A job container Fargate would not run; the message is the job's status reason."""


def fargate_violations(kwargs: dict, jobs_network: str) -> list[str]:
    """What in moto's `containers.run` arguments Fargate would refuse, one phrase each."""
    found = []
    if kwargs.get("privileged"):
        found.append("privileged mode")
    if kwargs.get("mounts") or kwargs.get("volumes") or kwargs.get("binds"):
        found.append("host mounts")
    if kwargs.get("network_mode") == "host" or kwargs.get("network", jobs_network) != jobs_network:
        found.append("a network other than the job's own")
    if kwargs.get("cap_add") or kwargs.get("devices") or kwargs.get("pid_mode") or kwargs.get("ipc_mode"):
        found.append("added capabilities or host devices/namespaces")
    return found


class FargateAgent:
    """Runs beside moto's Batch: checks each job container, limits it, and serves its credentials."""

    def __init__(self, *, jobs_network: str, jobs_endpoint: str, region: str):
        self.jobs_network = jobs_network
        self.jobs_endpoint = jobs_endpoint
        self.region = region
        self._tokens: dict[str, tuple[str, str]] = {}  # token -> (account, job role ARN)
        self._lock = threading.Lock()

    # --- moto's Batch, from inside ---------------------------------------------------------------

    @staticmethod
    def job(job_id: str):
        from moto.batch.models import batch_backends

        for account, regions in batch_backends.items():
            for backend in regions.values():
                job = backend.get_job_by_id(job_id)
                if job is not None:
                    return account, job
        return None, None

    def prepare(self, kwargs: dict) -> dict:
        """moto's `containers.run` arguments as Fargate would run them, or FargateRefusal."""
        environment = kwargs.setdefault("environment", {})
        account, job = self.job(environment.get("AWS_BATCH_JOB_ID", ""))
        violations = fargate_violations(kwargs, self.jobs_network)
        if job is None:
            violations.append("a container that belongs to no Batch job")
        if violations:
            reason = "Fargate does not run containers with " + ", ".join(violations)
            if job is not None:
                job.job_stopped_reason = reason
            raise FargateRefusal(reason)
        properties = job.job_definition.container_properties or {}
        requirements = {r["type"]: r["value"] for r in properties.get("resourceRequirements", [])}
        if "MEMORY" in requirements:
            memory = int(requirements["MEMORY"]) * MIB
            # No swap: over the limit means killed (exit 137), as on Fargate.
            kwargs.update(mem_limit=memory, memswap_limit=memory)
        if "VCPU" in requirements:
            kwargs.update(cpu_period=CPU_PERIOD, cpu_quota=int(float(requirements["VCPU"]) * CPU_PERIOD))
        environment.update(
            {
                # Where AWS is, from the jobs network, and the job role's credentials, as Fargate
                # injects them; the job definition's own values cannot point elsewhere.
                "AWS_ENDPOINT_URL": self.jobs_endpoint,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
            }
        )
        for name in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ):
            environment.pop(name, None)
        role = properties.get("jobRoleArn")
        if role:
            token = secrets.token_urlsafe(24)
            with self._lock:
                self._tokens[token] = (account, role)
            environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = CREDENTIALS_PATH + token
        return kwargs

    def install(self) -> None:
        """Route every container moto starts through `prepare`."""
        import docker.models.containers

        original = docker.models.containers.ContainerCollection.run
        agent = self

        def run(collection, image, command=None, stdout=True, stderr=False, remove=False, **kwargs):
            kwargs = agent.prepare(kwargs)
            return original(collection, image, command, stdout, stderr, remove, **kwargs)

        docker.models.containers.ContainerCollection.run = run

    # --- the credentials endpoint ------------------------------------------------------------------

    def credentials(self, token: str) -> dict | None:
        from moto.sts.models import sts_backends

        with self._lock:
            found = self._tokens.get(token)
        if found is None:
            return None
        account, role = found
        assumed = sts_backends[account]["aws"].assume_role(
            region_name=self.region,
            role_session_name="batch-job",
            role_arn=role,
            policy=None,
            duration=3600,
            external_id=None,
        )
        return {
            "AccessKeyId": assumed.access_key_id,
            "SecretAccessKey": assumed.secret_access_key,
            "Token": assumed.session_token,
            "Expiration": assumed.expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "RoleArn": role,
        }

    def credentials_app(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        answer = (
            self.credentials(path.removeprefix(CREDENTIALS_PATH))
            if path.startswith(CREDENTIALS_PATH)
            else None
        )
        if answer is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"no credentials here"]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]


def bootstrap_admin() -> dict:
    """The administrator, made in moto's IAM directly (no request, so no authentication needed)."""
    from moto.iam.models import iam_backends

    iam = iam_backends[ACCOUNT]["aws"]
    iam.create_user(region_name="us-east-1", user_name=ADMIN_USER, path="/", tags=[])
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(ADMIN_USER, "everything", json.dumps(everything))
    key = iam.create_access_key(ADMIN_USER)
    return {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}


def loopback_app(moto_app, admin: dict):
    def app(environ, start_response):
        if environ.get("PATH_INFO") == ADMIN_PATH:
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps(admin).encode()]
        return moto_app(environ, start_response)

    return app


def jobs_app(moto_app):
    """moto's AWS APIs without its control API: what a Fargate task can reach of AWS."""

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/moto-api" or path.startswith(("/moto-api/", ADMIN_PATH)):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"not reachable from a job"]
        return moto_app(environ, start_response)

    return app


def serve(host: str, port: int, app) -> threading.Thread:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name=f"{host}:{port}", daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--host", default="127.0.0.1", help="the trusted listener's address (compose: its network's)"
    )
    parser.add_argument("--jobs-network", required=True, help="the Docker network job containers run on")
    parser.add_argument("--jobs-gateway", required=True, help="this host's address on that network")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
    os.environ["MOTO_DOCKER_NETWORK_NAME"] = args.jobs_network
    os.environ["MOTO_PORT"] = str(args.port)
    from moto import settings
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # IAM enforced from the first request
    agent = FargateAgent(
        jobs_network=args.jobs_network,
        jobs_endpoint=f"http://{args.jobs_gateway}:{args.port}",
        region=args.region,
    )
    agent.install()
    moto_app = DomainDispatcherApplication(create_backend_app)
    admin = bootstrap_admin()
    threads = [
        serve(args.host, args.port, loopback_app(moto_app, admin)),
        serve(args.jobs_gateway, args.port, jobs_app(moto_app)),
        serve(CREDENTIALS_IP, 80, agent.credentials_app),
    ]
    log.info("moto on %s:%d, for jobs on %s:%d; credentials on %s:80", args.host, args.port,
             args.jobs_gateway, args.port, CREDENTIALS_IP)  # fmt: skip
    for thread in threads:
        thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
