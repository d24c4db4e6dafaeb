"""The local stack: real stand-ins for AWS on one machine, started by the project itself.

Docker Engine (runs the Batch jobs), the Debian base image (pulled, or built with
debootstrap when no public registry is reachable), moto server (AWS APIs over HTTP),
a local OCI registry (ECR's data plane) and an Airflow home whose aws_default
connection points at moto. Every step is idempotent: `up` twice does nothing new.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from sdk_campaigns.campaign.images import BASE_IMAGE, docker_client
from sdk_campaigns.config import REPO_ROOT, data_home, load_config
from sdk_campaigns.dev.moto_server import ADMIN_PATH
from sdk_campaigns.dev.moto_server import CREDENTIALS_IP as CREDENTIALS_ADDRESS
from sdk_campaigns.dev.moto_server import PORT as MOTO_PORT
from sdk_campaigns.dev.moto_server import url as moto_url

DEBIAN_SUITE = "bookworm"
REGISTRY_PORT = int(os.environ.get("SDK_CAMPAIGNS_REGISTRY_PORT", "5000"))
AWS_REGION = "us-east-1"
DOCKERD_PID_FILE = Path("/var/run/docker.pid")
DOCKER_HOWTO = (
    "No Docker Engine is reachable. Start one and rerun:\n"
    "  - Debian/Ubuntu as root: apt-get install -y docker.io && dockerd &   (or: systemctl start docker)\n"
    "  - elsewhere: start Docker Desktop, or set DOCKER_HOST to a reachable engine"
)


class StackError(RuntimeError):
    """A piece of the local stack cannot be started; the message says what to do."""


def registry_host() -> str:
    return f"127.0.0.1:{REGISTRY_PORT}"


def stack_dir() -> Path:
    return data_home() / "stack"


def airflow_home() -> Path:
    return data_home() / "airflow"


def airflow_credentials() -> tuple[str, str]:
    """The Airflow identity's keys: an IAM user with the stack's Airflow policy only (local_aws).
    Before `up` made it, keys that moto refuses: nothing runs as anyone by accident."""
    from sdk_campaigns.dev import local_aws

    keys = local_aws.airflow_keys() or {"AccessKeyId": "not-deployed-yet", "SecretAccessKey": "-"}
    return keys["AccessKeyId"], keys["SecretAccessKey"]


def aws_connection() -> dict:
    """The aws_default connection of the local stack: moto's endpoint, the Airflow identity, and the
    registry standing in for ECR's data plane."""
    key, secret = airflow_credentials()
    return {
        "conn_type": "aws",
        "login": key,
        "password": secret,
        "extra": {
            "endpoint_url": moto_url(),
            "region_name": AWS_REGION,
            "sdk_campaigns_registry": registry_host(),
            # The provider sends AssumeRole (a role_arn on a per-SDK connection) to STS's own endpoint.
            "service_config": {"sts": {"endpoint_url": moto_url()}},
        },
    }


def airflow_env() -> dict[str, str]:
    """Environment for Airflow commands that run against the local stack."""
    from sdk_campaigns.dev import local_aws

    return {
        "AIRFLOW_HOME": str(airflow_home()),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_database_url(),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws_connection()),
        "SDK_CAMPAIGNS_HOME": str(data_home()),
        # The same identity for anything that reads boto3's default chain: least privilege, as the
        # connection; real AWS uses the connection or the instance role.
        "AWS_ACCESS_KEY_ID": airflow_credentials()[0],
        "AWS_SECRET_ACCESS_KEY": airflow_credentials()[1],
        "AWS_DEFAULT_REGION": AWS_REGION,
        **local_aws.NO_COMPRESSION,  # see there: a moto gap under IAM enforcement
        "NO_PROXY": "127.0.0.1,localhost",
        # The queue the dispatcher's watcher polls: the stack's, as moto's CloudFormation names it (AWS's
        # URL form; requests still go to the connection's endpoint).
        "SDK_CAMPAIGNS_EVENTS_QUEUE_URL": (
            f"https://sqs.{AWS_REGION}.amazonaws.com/{local_aws.ACCOUNT}/{load_config().events.queue_name}"
        ),
    }


def say(message: str) -> None:
    print(message, flush=True)


def _http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return None


def wait_until(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise StackError(f"{what} did not become ready within {seconds:.0f} s")


def _is_debian_root() -> bool:
    return Path("/etc/debian_version").exists() and os.geteuid() == 0


def _apt_install(*packages: str) -> None:
    say(f"  installing {' '.join(packages)} with apt-get (Debian, root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", *packages], check=True, env=env, stdout=subprocess.DEVNULL
    )


def start_background(name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
    logs = stack_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "ab") as log:
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # survives the `sdk-campaigns local up` process
        )
    (stack_dir() / f"{name}.pid").write_text(str(process.pid))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def background_running(name: str) -> bool:
    pid_file = stack_dir() / f"{name}.pid"
    return pid_file.exists() and _process_alive(int(pid_file.read_text()))


def stop_background(name: str) -> bool:
    pid_file = stack_dir() / f"{name}.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    try:
        os.killpg(pid, signal.SIGTERM)
        for _ in range(40):
            os.kill(pid, 0)
            time.sleep(0.25)
    except ProcessLookupError:
        pass
    pid_file.unlink(missing_ok=True)
    return True


# --- Docker Engine ---------------------------------------------------------------------------------


def docker_ping() -> bool:
    try:
        return bool(docker_client().ping())
    except Exception:  # docker raises several unrelated types for "no engine"
        return False


def ensure_docker(install: bool = True) -> str:
    if docker_ping():
        return "running"
    if not install or not _is_debian_root():
        raise StackError(DOCKER_HOWTO)
    if not shutil.which("dockerd"):
        _apt_install("docker.io")
    cleared = _clear_stale_pid_file(DOCKERD_PID_FILE)
    start_background("dockerd", ["dockerd"])
    try:
        wait_until(docker_ping, 60, "dockerd")
    except StackError as err:
        log = stack_dir() / "logs" / "dockerd.log"
        raise StackError(f"{err}; the end of its log ({log}):\n{_log_tail('dockerd')}") from None
    if cleared:
        return f"started dockerd (removed the stale {DOCKERD_PID_FILE} of a killed dockerd)"
    return "started dockerd"


def _clear_stale_pid_file(pid_file: Path) -> bool:
    """A dockerd killed with SIGKILL leaves its pid file, and a new dockerd then refuses to start
    ("pid file found"). The file is removed only when no process has that pid."""
    try:
        pid = int(pid_file.read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return False
    if pid and _process_alive(pid):
        return False
    pid_file.unlink(missing_ok=True)
    return True


def _log_tail(name: str, lines: int = 15) -> str:
    log = stack_dir() / "logs" / f"{name}.log"
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


# --- Debian base image -----------------------------------------------------------------------------


def image_exists(name: str) -> bool:
    import docker.errors

    try:
        docker_client().images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def local_base_image() -> str:
    """The base image in the local registry: what the campaign config's images.base_image names
    locally, so the image step reads its digest over HTTP as it would from any registry."""
    repository, _, tag = BASE_IMAGE.partition(":")
    path = repository if "/" in repository else f"library/{repository}"
    return f"{registry_host()}/{path}:{tag or 'latest'}"


def ensure_base_image() -> str:
    """The base image in the daemon (pulled, or built with debootstrap), then in the local registry.
    Pushed once: the registry's copy is the one every content tag hashes, so it is never replaced."""
    in_daemon = _ensure_base_image_in_daemon()
    ensure_registry()
    return f"{in_daemon}; {_ensure_base_image_in_registry()}"


def _ensure_base_image_in_daemon() -> str:
    if image_exists(BASE_IMAGE):
        return "present"
    repository, _, tag = BASE_IMAGE.partition(":")
    try:
        docker_client().images.pull(repository, tag=tag or "latest")
        return "pulled"
    except Exception as err:  # no route to the public registry is the common case here
        say(f"  pull of {BASE_IMAGE} failed ({str(err).splitlines()[0][:120]}); building it with debootstrap")
    return build_base_image()


def _ensure_base_image_in_registry() -> str:
    from sdk_campaigns.campaign.images import registry_digest

    target = local_base_image()
    digest = registry_digest(target)
    if digest:
        return f"{target} ({digest[:19]})"
    repository, _, tag = target.rpartition(":")
    docker_client().images.get(BASE_IMAGE).tag(repository, tag)
    for chunk in docker_client().api.push(repository, tag=tag, stream=True, decode=True):
        if "error" in chunk:
            raise StackError(f"push of {target} to the local registry failed: {chunk['error'].strip()}")
    return f"pushed to {target} ({registry_digest(target)[:19]})"


def build_base_image() -> str:
    if not shutil.which("debootstrap"):
        if not _is_debian_root():
            raise StackError(
                f"{BASE_IMAGE} cannot be pulled and debootstrap is missing: "
                f"install debootstrap (as root) or load the image with `docker load`"
            )
        _apt_install("debootstrap")
    with tempfile.TemporaryDirectory(prefix="sdkc-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", DEBIAN_SUITE, str(rootfs), "http://deb.debian.org/debian"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        # As in the public image: apt drops downloaded packages after installing them, so
        # image layers do not carry them.
        drop_debs = '"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"'
        (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(
            f"DPkg::Post-Invoke {{ {drop_debs}; }};\n"
            f"APT::Update::Post-Invoke {{ {drop_debs}; }};\n"
            'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n'
        )
        archive = Path(tmp) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(rootfs, arcname=".")
        repository, _, tag = BASE_IMAGE.partition(":")
        docker_client().api.import_image_from_file(str(archive), repository=repository, tag=tag or "latest")
    return "built with debootstrap"


# --- OCI registry (ECR's data plane) ---------------------------------------------------------------


def registry_ready() -> bool:
    return _http_status(f"http://{registry_host()}/v2/") == 200


def registry_storage() -> Path:
    """Shared by every SDK_CAMPAIGNS_HOME, as the registry is: it must outlive a test's home."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "sdk-campaigns" / f"registry-{REGISTRY_PORT}"


def _stale_registries() -> list:
    """Registries of ours on this port whose storage is gone (started from a home since deleted)."""
    import psutil

    stale = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if len(cmdline) >= 3 and cmdline[0].endswith("docker-registry") and cmdline[1] == "serve":
            config = Path(cmdline[2])
            text = config.read_text() if config.exists() else ""
            if registry_host() in text or not text:
                storage = text.split("rootdirectory: ", 1)[-1].split("}", 1)[0] if text else ""
                if not storage or not Path(storage).is_dir():
                    stale.append(process)
    return stale


def ensure_registry() -> str:
    if registry_ready():
        stale = _stale_registries()
        if not stale:
            return "running"
        for process in stale:  # its pushed layers went with its storage: pushes would fail
            process.terminate()
        wait_until(lambda: not registry_ready(), 20, "the registry without storage to stop")
    if _http_status(f"http://{registry_host()}/v2/") is not None:
        raise StackError(
            f"port {REGISTRY_PORT} answers but not as an open OCI registry (it may require a login): "
            f"stop that service or set SDK_CAMPAIGNS_REGISTRY_PORT to a free port"
        )
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not Path(binary).exists():
        if not _is_debian_root():
            raise StackError("no OCI registry: install Debian's docker-registry package, or run registry:2")
        _apt_install("docker-registry")
    storage = registry_storage()
    storage.mkdir(parents=True, exist_ok=True)
    config = storage.parent / f"registry-{REGISTRY_PORT}.yml"
    config.write_text(
        "version: 0.1\n"
        "storage:\n"
        f"  filesystem: {{rootdirectory: {storage}}}\n"
        "  delete: {enabled: false}\n"
        f"http: {{addr: '{registry_host()}'}}\n"
    )
    start_background("registry", [binary, "serve", str(config)])
    wait_until(registry_ready, 30, "the registry")
    return f"started on {registry_host()}"


# --- the jobs network --------------------------------------------------------------------------------
# Batch job containers run on a network of their own, as a Fargate task has its own ENI: they reach
# the AWS endpoint and the credentials endpoint that moto_server serves on this network, and the
# internet; never what listens on the host's loopback (PostgreSQL, Airflow's API, the registry).

JOBS_NETWORK = "sdk-campaigns-jobs"
JOBS_BRIDGE = "sdkc-jobs"
JOBS_SUBNET = "172.31.170.0/24"
JOBS_GATEWAY = "172.31.170.1"


def jobs_network_ready() -> bool:
    import docker.errors

    try:
        docker_client().networks.get(JOBS_NETWORK)
    except docker.errors.NotFound:
        return False
    addresses = subprocess.run(
        ["ip", "-o", "addr", "show", "dev", JOBS_BRIDGE], capture_output=True, text=True
    )
    return CREDENTIALS_ADDRESS in addresses.stdout


def ensure_jobs_network() -> str:
    import docker.errors
    import docker.types

    if jobs_network_ready():
        return f"{JOBS_NETWORK} ({JOBS_SUBNET})"
    try:
        network = docker_client().networks.get(JOBS_NETWORK)
    except docker.errors.NotFound:
        network = docker_client().networks.create(
            JOBS_NETWORK,
            driver="bridge",
            ipam=docker.types.IPAMConfig(
                pool_configs=[docker.types.IPAMPool(subnet=JOBS_SUBNET, gateway=JOBS_GATEWAY)]
            ),
            options={"com.docker.network.bridge.name": JOBS_BRIDGE},
        )
    # Fargate's credentials endpoint address, on this host's side of the network: containers reach it
    # through their gateway, as a task reaches the ECS agent's.
    added = subprocess.run(
        ["ip", "addr", "add", f"{CREDENTIALS_ADDRESS}/32", "dev", JOBS_BRIDGE], capture_output=True, text=True
    )
    if added.returncode != 0 and "exists" not in added.stderr:
        raise StackError(
            f"cannot give the jobs network the credentials address {CREDENTIALS_ADDRESS} "
            f"({added.stderr.strip()}): the local stack needs root for `ip addr add`"
        )
    return f"created {network.name} ({JOBS_SUBNET}, credentials at {CREDENTIALS_ADDRESS})"


# --- moto server (AWS APIs) ------------------------------------------------------------------------

MOTO_MODULE = "sdk_campaigns.dev.moto_server"


def moto_ready() -> bool:
    return _http_status(f"{moto_url()}/moto-api/") == 200


def _moto_processes() -> list:
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        serves_port = str(MOTO_PORT) in cmdline
        if serves_port and ("moto.server" in cmdline or MOTO_MODULE in cmdline):
            found.append(process)
    return found


def ensure_moto() -> str:
    if moto_ready():
        if _http_status(f"{moto_url()}{ADMIN_PATH}") == 200:
            return "running"
        # A plain moto (an older local stack): no IAM enforcement, no jobs network. Replace it.
        stale = _moto_processes()
        if not stale:
            raise StackError(
                f"port {MOTO_PORT} answers as moto, but not as the local stack's (no IAM enforcement, no "
                f"jobs network), and it is no process of ours: stop it or set SDK_CAMPAIGNS_MOTO_PORT"
            )
        for process in stale:
            process.terminate()
        wait_until(lambda: not moto_ready(), 20, "the old moto server to stop")
    start_background(
        "moto",
        [sys.executable, "-m", MOTO_MODULE, "--port", str(MOTO_PORT), "--jobs-network", JOBS_NETWORK,
         "--jobs-gateway", JOBS_GATEWAY, "--region", AWS_REGION],
    )  # fmt: skip
    wait_until(moto_ready, 60, "moto server")
    return f"started on {moto_url()} (IAM enforced; jobs reach it at {JOBS_GATEWAY}:{MOTO_PORT})"


# --- PostgreSQL (Airflow's metadata database) ------------------------------------------------------
# The scheduler, api-server, dag-processor, triggerer and the CLI write at once (backfills, parallel
# runs); SQLite answers that with "database is locked". Debian's PostgreSQL cluster on loopback, one
# database per SDK_CAMPAIGNS_HOME; SDK_CAMPAIGNS_AIRFLOW_DB_URL points Airflow elsewhere instead.

POSTGRES_PORT = 5432
POSTGRES_ROLE = "sdk_campaigns"  # loopback-only development login, like moto's "testing" keys
POSTGRES_HOWTO = (
    "Airflow's metadata database needs PostgreSQL. Either:\n"
    "  - Debian/Ubuntu as root: apt-get install -y postgresql (sdk-campaigns then starts it), or\n"
    "  - set SDK_CAMPAIGNS_AIRFLOW_DB_URL=postgresql+psycopg2://user:password@host:5432/database"
)


def _database_name() -> str:
    home = hashlib.sha256(str(data_home().resolve()).encode()).hexdigest()[:10]
    return f"airflow_{home}"


def airflow_database_url() -> str:
    return os.environ.get("SDK_CAMPAIGNS_AIRFLOW_DB_URL") or (
        f"postgresql+psycopg2://{POSTGRES_ROLE}:{POSTGRES_ROLE}@127.0.0.1:{POSTGRES_PORT}/{_database_name()}"
    )


def postgres_ready() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", POSTGRES_PORT), timeout=1):
            return True
    except OSError:
        return False


def _psql(sql: str) -> str:
    result = subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-p", str(POSTGRES_PORT), "-v", "ON_ERROR_STOP=1",
         "-tAc", sql],
        capture_output=True, text=True, cwd="/",
    )  # fmt: skip
    if result.returncode != 0:
        raise StackError(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def _postgres_version() -> str | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return found[-1].parts[-3] if found else None


def ensure_postgres() -> str:
    if os.environ.get("SDK_CAMPAIGNS_AIRFLOW_DB_URL"):
        return "external (SDK_CAMPAIGNS_AIRFLOW_DB_URL)"
    started = "running"
    if not postgres_ready():
        if not _is_debian_root():
            raise StackError(POSTGRES_HOWTO)
        if _postgres_version() is None:
            _apt_install("postgresql")
        version = _postgres_version()
        subprocess.run(["pg_ctlcluster", version, "main", "start"], check=False, capture_output=True)
        if not postgres_ready():
            subprocess.run(["pg_createcluster", version, "main", "--start"], check=True, capture_output=True)
        wait_until(postgres_ready, 30, "PostgreSQL")
        stack_dir().mkdir(parents=True, exist_ok=True)
        (stack_dir() / "postgres.started").write_text(version)
        started = f"started PostgreSQL {version} on 127.0.0.1:{POSTGRES_PORT}"
    if _is_debian_root():
        if not _psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{POSTGRES_ROLE}'"):
            _psql(f"CREATE ROLE {POSTGRES_ROLE} LOGIN PASSWORD '{POSTGRES_ROLE}'")
        if not _psql(f"SELECT 1 FROM pg_database WHERE datname = '{_database_name()}'"):
            _psql(f"CREATE DATABASE {_database_name()} OWNER {POSTGRES_ROLE}")
    return f"{started}; database {_database_name()}"


def stop_postgres() -> bool:
    marker = stack_dir() / "postgres.started"
    if not marker.exists():
        return False
    subprocess.run(["pg_ctlcluster", marker.read_text().strip(), "main", "stop"], check=False)
    marker.unlink()
    return True


# --- Airflow home ----------------------------------------------------------------------------------


def migrated_marker() -> Path:
    # One marker per database, so a home moved to another database is migrated again.
    key = hashlib.sha256(airflow_database_url().encode()).hexdigest()[:12]
    return airflow_home() / f".migrated-{key}"


def ensure_airflow_home() -> str:
    home = airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    if migrated_marker().exists():
        return f"ready at {home}"
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(airflow), "db", "migrate"],
        env={**os.environ, **airflow_env()},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"`airflow db migrate` failed:\n{result.stderr[-2000:]}")
    migrated_marker().touch()
    return f"created at {home}"


def write_env_file() -> Path:
    """A file users can `source` to run airflow commands against the local stack."""
    path = data_home() / "env.sh"
    lines = [f"export {name}='{value}'" for name, value in airflow_env().items()]
    path.write_text("\n".join(lines) + "\n")
    return path
