"""The history on s3:// through the Airflow connection, not pyarrow's default credential chain:
moto enforces IAM, the connection's own keys may only assume a role, and only that role may
touch the history prefix. So a round trip proves the connection's role_arn, region and endpoint
are the ones used."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest

from sdk_campaigns import history
from sdk_campaigns.campaign.aws import AwsContext

BUCKET = "history-through-connection"
DAG = "sdk_test_campaign"
SETUP_ACTIONS = 7  # moto answers this many requests unauthenticated, then enforces IAM


@pytest.fixture(scope="module")
def enforcing_moto(tmp_path_factory):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with open(tmp_path_factory.mktemp("moto") / "moto.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_ACTIONS)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    yield endpoint
    server.terminate()
    server.wait(10)


@pytest.fixture(scope="module")
def connection(enforcing_moto):
    """A user who may only assume the history role, that role, and an Airflow connection of both."""
    admin = {"endpoint_url": enforcing_moto, "region_name": "eu-west-1"}
    iam = boto3.client("iam", **admin, aws_access_key_id="admin", aws_secret_access_key="admin")
    s3 = boto3.client("s3", **admin, aws_access_key_id="admin", aws_secret_access_key="admin")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})  # 1
    iam.create_user(UserName="airflow")  # 2
    keys = iam.create_access_key(UserName="airflow")["AccessKey"]  # 3
    role = iam.create_role(  # 4
        RoleName="history-writer",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
            }
        ),
    )["Role"]
    iam.put_role_policy(  # 5
        RoleName="history-writer",
        PolicyName="history",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                        "Resource": f"arn:aws:s3:::{BUCKET}/history/*",
                    },
                    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
                ],
            }
        ),
    )
    iam.put_user_policy(  # 6
        UserName="airflow",
        PolicyName="assume-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]}],
            }
        ),
    )
    conn_id = "history_through_role"
    uri = json.dumps(
        {
            "conn_type": "aws",
            "login": keys["AccessKeyId"],
            "password": keys["SecretAccessKey"],
            "extra": {
                "endpoint_url": enforcing_moto,
                "region_name": "eu-west-1",
                "role_arn": role["Arn"],
                # The provider never sends AssumeRole to the global endpoint_url: STS needs its own.
                "service_config": {"sts": {"endpoint_url": enforcing_moto}},
            },
        }
    )
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = uri
    previous = history.use_s3_filesystem(None)  # the stack's (tests/conftest.py), put back after
    yield {"conn_id": conn_id, "keys": keys, "endpoint": enforcing_moto}
    os.environ.pop(f"AIRFLOW_CONN_{conn_id.upper()}", None)
    history.use_s3_filesystem(previous)


def _partition(sdk: str, date: str) -> tuple[dict, list[dict]]:
    rows = [
        {
            "run_id": "r1",
            "logical_date": date,
            "sdk": sdk,
            "suite": "s",
            "classname": "c",
            "name": "t",
            "test_id": f"{sdk}-t",
            "status": "passed",
            "duration": 0.1,
            "message": "",
            "image_digest": "sha256:one",
        }
    ]
    return {"dag_id": DAG, "logical_date": date, "sdk": sdk, "status": "passed", "run_id": "r1"}, rows


def test_the_history_round_trips_through_the_connections_role(connection):
    uri = f"s3://{BUCKET}/history"
    date = "2026-11-20T06:00:00+00:00"
    history.use_s3_filesystem(AwsContext(connection["conn_id"]).s3_filesystem)
    for sdk in ("python", "go"):
        history.write_partition(uri, *_partition(sdk, date))
    partitions = history.read_run(uri, DAG, date)
    assert [(p["summary"]["sdk"], len(p["rows"])) for p in partitions] == [("go", 1), ("python", 1)]
    assert [s["sdk"] for s in history.read_summaries(uri, DAG)] == ["go", "python"]


def test_the_connections_own_keys_are_denied_so_the_role_was_used(connection):
    """Without the role (the user's keys straight), the same write is refused: moto enforces IAM."""
    from pyarrow import fs as pafs

    keys = connection["keys"]
    plain = pafs.S3FileSystem(
        access_key=keys["AccessKeyId"],
        secret_key=keys["SecretAccessKey"],
        region="eu-west-1",
        endpoint_override=connection["endpoint"].removeprefix("http://"),
        scheme="http",
    )
    history.use_s3_filesystem(lambda: plain)
    with pytest.raises(OSError, match="(?i)access ?denied|forbidden|403"):
        history.write_partition(f"s3://{BUCKET}/history", *_partition("ruby", "2026-11-21T06:00:00+00:00"))


def test_a_query_string_and_a_connection_are_refused_together(connection):
    history.use_s3_filesystem(AwsContext(connection["conn_id"]).s3_filesystem)
    with pytest.raises(history.HistoryError, match="drop the query"):
        history.read_summaries(f"s3://{BUCKET}/history?region=eu-west-1", DAG)
