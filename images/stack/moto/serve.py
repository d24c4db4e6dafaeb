"""compose's moto: sdk_campaigns.dev.moto_server (IAM enforced, Fargate's rules for job containers)
with its trusted listener on this container's address in the compose network, where Airflow
reaches it as http://moto:5000, and its jobs listener and credentials endpoint on the jobs network.

`serve.py` starts it; `serve.py health` is the healthcheck.
"""

import os
import socket
import sys
import urllib.request

PORT = 5000
# Fargate's credentials address on the jobs network (169.254.170.0/24): the SDK images' botocore
# (Debian's 1.29) takes no other plain-HTTP address. The AWS endpoint for jobs is there too, on PORT.
JOBS_ADDRESS = "169.254.170.2"


def trusted_address() -> str:
    """This container's address on the compose network: the jobs network is internal, so the default
    route goes through the compose network (a UDP connect sends no packet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))
        return probe.getsockname()[0]


def main() -> int:
    if sys.argv[1:] == ["health"]:
        with urllib.request.urlopen(f"http://{trusted_address()}:{PORT}/moto-api/", timeout=4):
            return 0
    command = [
        sys.executable, "-m", "sdk_campaigns.dev.moto_server",
        "--host", trusted_address(), "--port", str(PORT),
        "--jobs-network", os.environ["MOTO_DOCKER_NETWORK_NAME"],
        "--jobs-gateway", JOBS_ADDRESS,
    ]  # fmt: skip
    os.execv(sys.executable, command)
    return 1


if __name__ == "__main__":
    sys.exit(main())
