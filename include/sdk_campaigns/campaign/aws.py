"""What the DAG needs from the Airflow AWS connection: clients, registry auth, job environment.

The local stack and real AWS differ only in the connection: an `endpoint_url` (moto) and,
because moto's ECR keeps no layers, a `sdk_campaigns_registry` extra naming the OCI
registry that stands in for ECR's data plane.

An SDK in its own account (docs/accounts.md) is reached with `role_arn`: the connection's credentials
assume that role, as they would if the connection's extra named it.
"""

from __future__ import annotations

import threading
import time
from functools import cached_property
from urllib.parse import urlparse

from sdk_campaigns.campaign import client_overhead
from sdk_campaigns.campaign.images import RegistryAuth

client_overhead.install()  # every hook this package makes comes through here

REGISTRY_EXTRA = "sdk_campaigns_registry"
FILESYSTEM_SECONDS = 600


def assume_role(hook, role_arn: str):
    """The provider's hook, acting as `role_arn` (assumed with its connection's credentials, renewed by
    the provider as for a connection whose extra names the role); unchanged when role_arn is empty."""
    if role_arn:
        from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper

        config = AwsConnectionWrapper(conn=hook.conn_config)  # a copy: region, endpoints, credentials
        config.role_arn, config.assume_role_method, config.assume_role_kwargs = role_arn, "assume_role", {}
        hook.__dict__["conn_config"] = config  # the cached_property's slot: every session reads it
    return hook


class AwsContext:
    def __init__(self, aws_conn_id: str = "aws_default", role_arn: str = ""):
        self.aws_conn_id = aws_conn_id
        self.role_arn = role_arn
        self._filesystem: tuple[float, object] | None = None
        self._clients_lock = threading.Lock()  # a boto3 session is not thread-safe

    @cached_property
    def _base_hook(self):
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        return assume_role(AwsBaseHook(aws_conn_id=self.aws_conn_id, client_type="sts"), self.role_arn)

    @cached_property
    def extra(self) -> dict:
        return dict(self._base_hook.conn_config.extra_config or {})

    @property
    def endpoint_url(self) -> str | None:
        return self._base_hook.conn_config.endpoint_url

    @property
    def region_name(self) -> str | None:
        return self._base_hook.conn_config.region_name

    def s3_filesystem(self):
        """A pyarrow S3 filesystem with the connection's credentials (role_arn assumed), region and
        endpoint: what the history reads and writes through. Kept for a few minutes, well inside
        the life of assumed-role credentials."""
        now = time.monotonic()
        if self._filesystem is None or now - self._filesystem[0] > FILESYSTEM_SECONDS:
            from pyarrow import fs as pafs

            hook = self._base_hook
            credentials = hook.get_credentials(region_name=self.region_name)
            options = {
                "access_key": credentials.access_key,
                "secret_key": credentials.secret_key,
                "session_token": credentials.token,
                "region": self.region_name or hook.get_session().region_name or "us-east-1",
            }
            if self.endpoint_url:
                endpoint = urlparse(self.endpoint_url)
                options.update(endpoint_override=endpoint.netloc, scheme=endpoint.scheme or "https")
            self._filesystem = (now, pafs.S3FileSystem(**options))
        return self._filesystem[1]

    @cached_property
    def _session(self):
        """One boto3 session for all of this context's clients: with role_arn, one AssumeRole (its
        credentials refreshed by botocore as they near expiry) instead of one per client."""
        return self._base_hook.get_session(region_name=self.region_name)

    def client(self, service: str):
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        hook = AwsBaseHook(aws_conn_id=self.aws_conn_id, client_type=service)
        hook.__dict__["conn_config"] = self._base_hook.conn_config  # endpoints, region, role: resolved once
        hook.get_session = lambda region_name=None, deferrable=False: self._session
        with self._clients_lock:
            return hook.get_conn()

    def registry_auth(self) -> RegistryAuth:
        """Docker credentials from ECR's GetAuthorizationToken, through the Amazon provider's hook."""
        from airflow.providers.amazon.aws.hooks.ecr import EcrHook

        credentials = EcrHook(aws_conn_id=self.aws_conn_id).get_temporary_credentials()[0]
        registry = self.extra.get(REGISTRY_EXTRA) or urlparse(credentials.proxy_endpoint).netloc
        return RegistryAuth(registry=registry, username=credentials.username, password=credentials.password)
