"""An AwsContext's clients share one boto3 session: acting as an SDK's role costs one AssumeRole per
account, not one per client (against an in-process moto server over HTTP)."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def moto_connection(monkeypatch):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        # AssumeRole goes to STS's own endpoint (as the local stack's connection says)
        "extra": {
            "region_name": "us-east-1",
            "endpoint_url": endpoint,
            "service_config": {"sts": {"endpoint_url": endpoint}},
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_SESSION_TEST", json.dumps(connection))
    yield "aws_session_test"
    server.stop()


def _credentials(client):
    return client._request_signer._credentials


def test_clients_of_one_role_share_one_assumed_session(moto_connection):
    from sdk_campaigns.campaign.accounts import SdkAccount

    role = "arn:aws:iam::123456789012:role/sdk-campaigns-account-airflow"
    account = SdkAccount("go", moto_connection, role)
    sts, batch = account.client("sts"), account.client("batch")
    assert _credentials(sts) is _credentials(batch)  # one AssumeRole for both
    assert sts.get_caller_identity()["Arn"].startswith("arn:aws:sts::123456789012:assumed-role/")
    assert batch.meta.endpoint_url == sts.meta.endpoint_url  # the connection's endpoint kept


def test_without_a_role_the_connection_acts_as_itself(moto_connection):
    from sdk_campaigns.campaign.aws import AwsContext

    context = AwsContext(moto_connection)
    assert context.client("sts").get_caller_identity()["Arn"].endswith(":user/moto")
