"""What every AWS client costs, paid once per process instead of once per client.

A campaign's task processes spent most of their CPU making AWS clients, not calling AWS (py-spy over
one 8-SDK run under the scheduler; docs/performance.md):

- **The provider's user-agent caller lookup: 48 % of it.** Every client a provider hook makes
  carries a user agent naming its caller (`Caller/BatchOperator`), which the provider finds with
  `inspect.stack()`: that reads the source context of every frame on the stack and resolves each
  frame's module by scanning `sys.modules` (thousands of modules in a task forked from a preloaded
  worker). The lookup needs only each frame's function name and its `self`: walking `f_back` gives
  the same answer (a test compares both) without reading a file.
- **botocore's data files: most of the rest.** Every boto3 or aiobotocore session makes its own data
  loader, which parses the service's JSON model, its endpoint rules, `endpoints.json` and
  `partitions.json` again (0.05–0.1 s per client; the triggerer paid it for every job's log link).
  One loader per data path and process keeps them parsed; the preloading worker parses the
  campaign's services before it forks (`warm`), so its task processes parse none.

`install()` applies both; `campaign.aws`, which every hook of this package goes through (tasks,
operators, triggers), calls it when imported. Neither changes a request: same user agent, same
models, same endpoints.
"""

from __future__ import annotations

import functools
import inspect
import sys
from types import FrameType

# The services the campaign's tasks make clients for (warmed before the preloading worker forks).
CAMPAIGN_SERVICES = ("batch", "ecr", "s3", "logs", "sts", "cloudformation", "cloudwatch", "iam", "sqs")


def _frames(start: FrameType | None):
    frame = start
    while frame is not None:
        yield frame
        frame = frame.f_back


def find_operator_class_name(target_function_name: str) -> str | None:
    """The class of `self` in the innermost frame running a function of that name (as the provider's:
    a frame without `self` raises, which its caller turns into "Unknown")."""
    for frame in _frames(sys._getframe()):
        if frame.f_code.co_name == target_function_name:
            return frame.f_locals["self"].__class__.__name__
    return None


def find_executor_class_name() -> str | None:
    """The last class named in the globals of the innermost frame whose module has `BaseExecutor`."""
    for frame in _frames(sys._getframe()):
        classes = [name for name, value in frame.f_globals.items() if inspect.isclass(value)]
        if "BaseExecutor" in classes:
            return classes[-1]
    return None


# AwsGenericHook's static methods replaced by install(), and the provider's own (kept to compare).
LOOKUPS = {
    "_find_operator_class_name": find_operator_class_name,
    "_find_executor_class_name": find_executor_class_name,
}
REPLACED: dict = {}


class _SearchPaths(list):
    """A shared loader's search paths: every boto3 session appends boto3's own data folder to its
    loader's paths; with one loader for all sessions, that folder is added once, not once per session."""

    def append(self, path) -> None:
        if path not in self:
            super().append(path)


@functools.cache
def shared_loader(search_path_string: str | None = None):
    """One botocore data loader per data path (AWS_DATA_PATH) for the whole process. Its cache holds
    parsed models that botocore already shares between the clients of one session; two threads
    filling it at once parse a file twice at worst (dict writes are atomic)."""
    import botocore.loaders

    loader = botocore.loaders.create_loader(search_path_string)
    loader._search_paths = _SearchPaths(loader.search_paths)
    return loader


def install() -> None:
    """Both savings for every AWS hook and boto3/aiobotocore session of this process (idempotent)."""
    import botocore.session
    from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook

    for name, ours in LOOKUPS.items():
        theirs = AwsGenericHook.__dict__[name].__func__
        if theirs is not ours:
            REPLACED[name] = theirs
            setattr(AwsGenericHook, name, staticmethod(ours))
    botocore.session.create_loader = shared_loader  # what each new session calls for its loader


def warm(services=CAMPAIGN_SERVICES) -> None:
    """Parse the services' models and the endpoint data into the shared loader (no request is made)."""
    import boto3

    session = boto3.session.Session(region_name="us-east-1")
    for service in services:
        session.client(service, aws_access_key_id="warm", aws_secret_access_key="warm")
