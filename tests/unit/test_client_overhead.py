"""campaign.client_overhead: AWS clients cost less to make, and are the same clients."""

from __future__ import annotations

import boto3
import pytest
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook, AwsGenericHook

import sdk_campaigns.campaign.aws  # noqa: F401 — installs client_overhead, as every task does
from sdk_campaigns.campaign import client_overhead


def test_importing_the_campaign_s_aws_module_installs_both():
    import botocore.session

    assert set(client_overhead.REPLACED) == set(client_overhead.LOOKUPS)
    for name, ours in client_overhead.LOOKUPS.items():
        assert AwsGenericHook.__dict__[name].__func__ is ours
    assert botocore.session.create_loader is client_overhead.shared_loader


def _both(name: str, *args):
    """(the provider's answer, ours) to the same question, asked from the same frame."""
    theirs, ours = client_overhead.REPLACED[name], client_overhead.LOOKUPS[name]

    def answer(lookup):
        try:
            return lookup(*args)
        except Exception as err:  # noqa: BLE001 — both must fail the same way
            return type(err)

    return answer(theirs), answer(ours)


class BatchOperator:
    def execute(self):
        return self.inner()

    def inner(self):
        return _both("_find_operator_class_name", "execute")


class ASensor:
    def poke(self):
        return _both("_find_operator_class_name", "poke")


def execute():  # a function named execute, without self: both raise (the provider then says "Unknown")
    return _both("_find_operator_class_name", "execute")


@pytest.mark.parametrize(
    "ask, expected",
    [
        (lambda: BatchOperator().execute(), "BatchOperator"),
        (lambda: ASensor().poke(), "ASensor"),
        (lambda: _both("_find_operator_class_name", "execute"), None),
        (execute, KeyError),
    ],
    ids=["from execute", "from poke", "no such frame", "a frame without self"],
)
def test_the_caller_is_found_as_the_provider_finds_it(ask, expected):
    theirs, ours = ask()
    assert theirs == ours == expected


def test_the_executor_is_found_as_the_provider_finds_it():
    module = {"__name__": "executors"}
    exec(
        "class BaseExecutor: pass\n"
        "class LocalExecutor(BaseExecutor):\n"
        "    def heartbeat(self, ask): return ask()\n",
        module,
    )
    theirs, ours = module["LocalExecutor"]().heartbeat(lambda: _both("_find_executor_class_name"))
    assert theirs == ours == "LocalExecutor"
    assert _both("_find_executor_class_name") == (None, None)  # none on this test's stack


def test_the_user_agent_is_the_provider_s(monkeypatch):
    hook = AwsBaseHook(aws_conn_id=None, client_type="batch")

    class BatchOperator:
        def execute(self):
            return hook._generate_user_agent_extra_field("extra/1")

    ours = BatchOperator().execute()
    for name, theirs in client_overhead.REPLACED.items():
        monkeypatch.setattr(AwsGenericHook, name, staticmethod(theirs))
    assert BatchOperator().execute() == ours
    assert "Caller/BatchOperator" in ours and ours.endswith("extra/1")


def test_sessions_share_one_loader_whose_paths_stay_the_same():
    sessions = [boto3.session.Session(region_name="eu-west-1") for _ in range(5)]
    loaders = {id(session._session.get_component("data_loader")) for session in sessions}
    assert len(loaders) == 1
    paths = sessions[0]._session.get_component("data_loader").search_paths
    assert len(paths) == len(set(paths))  # boto3's own data folder once, not once per session


def test_a_client_from_the_shared_loader_is_the_same_client():
    import botocore.loaders

    shared = boto3.session.Session(region_name="eu-west-1").client(
        "batch", aws_access_key_id="a", aws_secret_access_key="b"
    )
    fresh = botocore.loaders.create_loader()
    own = boto3.session.Session(region_name="eu-west-1")
    own._session.register_component("data_loader", fresh)
    alone = own.client("batch", aws_access_key_id="a", aws_secret_access_key="b")
    assert shared.meta.service_model.operation_names == alone.meta.service_model.operation_names
    assert shared.meta.endpoint_url == alone.meta.endpoint_url == "https://batch.eu-west-1.amazonaws.com"
