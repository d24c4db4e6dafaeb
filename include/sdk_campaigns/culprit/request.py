"""What a bisection is asked to do (the culprit finder's conf), checked; and how its tests are chosen.

conf: {"sdk", "repo_url", "good", "bad", "tests": [...], "logical_date"?}. Each test is either a
history test id (16 hex digits, as the history and report show it) or "<classname>::<name>" as the
JUnit names it. Only named tests can be selected with the SDK's `select_tests`; with any test given
by id only, or an SDK without `select_tests`, the whole suite runs and only those tests are judged.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

from sdk_campaigns.campaign.collect import test_id
from sdk_campaigns.campaign.sources import SourceError, validate_ref, validate_repo_url
from sdk_campaigns.config import CampaignConfig

HISTORY_TEST_ID = re.compile(r"^[0-9a-f]{16}$")
MAX_TEST_CHARS = 1000
# Names put into a selection argument: no spaces or operators that pytest -k or a regex would read.
SELECTABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")
MAX_SELECTION_CHARS = 1024  # one argv element (sources.MAX_ARG_CHARS)
COMMITS_FILE = "culprit-commits.xml"  # written by the first step's job beside its JUnit


class RequestError(ValueError):
    """A culprit finder conf that cannot be bisected; the message names the value and the fix."""


@dataclass(frozen=True)
class TrackedTest:
    test_id: str
    classname: str = ""
    name: str = ""

    @property
    def label(self) -> str:
        return f"{self.classname}::{self.name}" if self.name else self.test_id


@dataclass(frozen=True)
class BisectionRequest:
    sdk: str
    repo_url: str
    good: str
    bad: str
    tests: tuple[TrackedTest, ...]
    logical_date: str = ""  # the campaign run that saw the break, when it started this one

    def to_xcom(self) -> dict:
        return asdict(self)

    @classmethod
    def from_xcom(cls, value: dict) -> BisectionRequest:
        return cls(**{**value, "tests": tuple(TrackedTest(**t) for t in value["tests"])})

    @property
    def test_ids(self) -> set[str]:
        return {t.test_id for t in self.tests}


def parse_test(sdk: str, value: object) -> TrackedTest:
    if not isinstance(value, str) or not value or len(value) > MAX_TEST_CHARS:
        raise RequestError(
            f"tests entry {value!r} must be a history test id (16 hex digits) or '<classname>::<name>'"
        )
    if HISTORY_TEST_ID.fullmatch(value):
        return TrackedTest(test_id=value)
    classname, separator, name = value.partition("::")
    if not separator or not name:
        raise RequestError(
            f"tests entry {value!r} must be a history test id (16 hex digits) or '<classname>::<name>', "
            f"e.g. 'suite.test_s3::test_list_buckets'"
        )
    return TrackedTest(test_id=test_id(sdk, classname, name), classname=classname, name=name)


def validate_request(conf: dict, config: CampaignConfig) -> BisectionRequest:
    """The conf of a culprit finder run, each value checked; a bad one raises RequestError naming it."""
    known = ", ".join(config.sdk_names)
    sdk = conf.get("sdk")
    if sdk not in config.sdks:
        raise RequestError(f"sdk {sdk!r} is not an SDK of the campaign; known SDKs: {known}")
    try:
        repo_url = validate_repo_url(conf.get("repo_url"), "repo_url")
        good = validate_ref(conf.get("good"), "good")
        bad = validate_ref(conf.get("bad"), "bad")
    except SourceError as err:
        raise RequestError(str(err)) from None
    if good == bad:
        raise RequestError(f"good and bad are the same commit {good!r}: there is nothing to bisect")
    tests = conf.get("tests")
    limit = config.culprit.max_tests
    if not isinstance(tests, list) or not tests or len(tests) > limit:
        raise RequestError(
            f"tests must list 1 to {limit} newly failing tests (culprit.max_tests), got {tests!r}"
        )
    parsed = tuple(dict.fromkeys(parse_test(sdk, t) for t in tests))
    logical_date = conf.get("logical_date") or ""
    if not isinstance(logical_date, str) or len(logical_date) > 64:
        raise RequestError(f"logical_date {logical_date!r} must be an ISO 8601 date or empty")
    return BisectionRequest(sdk, repo_url, good, bad, parsed, logical_date)


def bisection_key(dag_id: str, run_id: str) -> str:
    """Names this run's jobs and files: a retried task finds its own jobs again."""
    return hashlib.sha256(f"{dag_id}/{run_id}".encode()).hexdigest()[:12]


def selection_args(template: tuple[str, ...], tests: tuple[TrackedTest, ...]) -> list[str]:
    """`select_tests` filled in for these tests, or [] (run the whole suite) when there is no template,
    a test is known by id only, or a name cannot be put in a selection safely."""
    if not template:
        return []
    names: list[str] = []
    for test in tests:
        base = test.name.split("[", 1)[0].split("/", 1)[0]  # pytest parameters, go subtests
        if not SELECTABLE_NAME.fullmatch(base):
            return []
        names.append(base)
    names = list(dict.fromkeys(names))
    values = {"{names}": " or ".join(names), "{regex}": "^(" + "|".join(names) + ")$"}
    filled = []
    for argument in template:
        for placeholder, value in values.items():
            argument = argument.replace(placeholder, value)
        filled.append(argument)
    if any(len(a) > MAX_SELECTION_CHARS for a in filled):
        return []
    return filled
