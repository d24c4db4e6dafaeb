"""The campaign configuration: a YAML file loaded through a typed schema.

Every mistake in the file fails with the file, the dotted key and what is allowed,
because the person reading the error is editing YAML, not Python.
"""

from __future__ import annotations

import os
import re
from datetime import date
from functools import cache
from pathlib import Path
from typing import Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sdk_campaigns.campaign.sources import (
    RESULTS_FORMATS,
    validate_ref,
    validate_repo_url,
    validate_test_command,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_PATH = REPO_ROOT / "include" / "campaign.yaml"

# Fargate accepts these vCPU values only; memory depends on vCPU (checked below).
FARGATE_VCPUS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
_FARGATE_MEMORY_MIB = {
    0.25: range(512, 2049, 512),
    0.5: range(1024, 4097, 1024),
    1.0: range(2048, 8193, 1024),
    2.0: range(4096, 16385, 1024),
    4.0: range(8192, 30721, 1024),
    8.0: range(16384, 61441, 4096),
    16.0: range(32768, 122881, 8192),
}
NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"
# An IAM role's ARN: the account is its 5th field (accounts.py reads it from there).
ROLE_ARN = r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$"


class ConfigError(ValueError):
    """The campaign configuration file is wrong; the message says where and how to fix it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CampaignSettings(_Strict):
    dag_id: str = Field(default="sdk_test_campaign", pattern=r"^[A-Za-z0-9_.-]+$")
    schedule: str = "0 6 * * *"
    start_date: date = date(2026, 11, 1)
    default_ref: str = "main"
    results_bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    ecr_repository_prefix: str = Field(default="sdk-campaigns", pattern=r"^[a-z0-9][a-z0-9._/-]*$")
    ecr_keep_images: int = Field(default=30, ge=1, le=10000)  # lifecycle policy: newest N per SDK
    history_uri: str = ""
    history_retention_days: int = Field(default=400, ge=0)  # 0: keep everything
    report_dir: str = ""
    # Production: the published folder (reports, Data Docs, feed.json, badges/) is copied here.
    report_s3_uri: str = Field(default="", pattern=r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?)?$")
    # Where readers reach that folder (e.g. a CloudFront URL): makes feed and badge links absolute.
    report_base_url: str = Field(default="", pattern=r"^(https?://\S+)?$")

    @field_validator("schedule")
    @classmethod
    def _cron_has_five_fields(cls, value: str) -> str:
        if value.startswith("@") or len(value.split()) == 5:
            return value
        raise ValueError(f"{value!r} is not a cron expression: use 5 fields, e.g. '0 6 * * *', or '@daily'")


class BatchSettings(_Strict):
    compute_environment: str = "sdk-campaigns-fargate"
    job_queue: str = "sdk-campaigns"
    job_definition_prefix: str = "sdk-campaigns"
    execution_role_name: str = "sdk-campaigns-batch-execution"
    job_role_name: str = "sdk-campaigns-batch-job"
    service_role_name: str = "sdk-campaigns-batch-service"
    max_vcpus: int = Field(default=16, ge=1, le=4096)
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    poll_interval_seconds: int = Field(default=30, ge=1, le=600)


class ValidationSettings(_Strict):
    on_failure: Literal["warn", "fail"] = "warn"


# An OCI image reference: [registry[:port]/]path[:tag][@sha256:digest], as `docker pull` takes it.
IMAGE_REFERENCE = (
    r"^(?:[A-Za-z0-9.-]+(?::\d{1,5})?/)?[a-z0-9]+(?:[._/-][a-z0-9]+)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)


class ImageSettings(_Strict):
    """The image step (docs/deploying.md): where a test image's base comes from and what builds a
    missing image. The content tag hashes the build context, the build args and the base image's
    registry digest, asked of `base_image`'s registry over HTTP (never of a Docker daemon)."""

    # docker: docker-py next to Airflow (the local stack); codebuild: the stack's CodeBuild project,
    # waited for by a trigger (production: no Docker daemon next to Airflow).
    builder: Literal["docker", "codebuild"] = "docker"
    # Every image builds FROM this, pinned by its digest; it must be in a registry that answers anonymous
    # manifest requests (Docker Hub, public.ecr.aws, the local stack's registry).
    base_image: str = Field(
        default="public.ecr.aws/docker/library/debian:bookworm-slim", pattern=IMAGE_REFERENCE
    )
    codebuild_poll_seconds: int = Field(default=20, ge=1, le=600)  # the trigger's pause between looks
    codebuild_timeout_minutes: int = Field(default=60, ge=5, le=480)  # per build; TIMED_OUT after it


class AlertSettings(_Strict):
    """Where regressions, new flaky tests and newly broken SDKs are announced; empty: nowhere."""

    sns_topic_arn: str = Field(
        default="", pattern=r"^(arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256})?$"
    )
    http_conn_id: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]*$")  # an Airflow HTTP connection
    # Owners and cross-SDK incidents (docs/quarantine.md): files beside the campaign config by default.
    owners_file: str = "TESTOWNERS"  # <sdk> <test pattern> <owner> <alert target>, one line each
    scenarios_file: str = "scenarios.yaml"  # scenario -> each SDK's test patterns
    incident_min_sdks: int = Field(default=3, ge=2, le=1000)  # SDKs failing one scenario/reason at once
    # What the channels above get once owners have their own targets: every item, or only the unowned.
    default_receives: Literal["all", "unowned"] = "all"


class QuarantineEntry(_Strict):
    """One quarantined test (or test pattern) of one SDK ('*': every SDK): it runs and is recorded but
    counts toward no pass rate, verdict or alert until `expires` (the end of that day, UTC)."""

    sdk: str = Field(pattern=r"^(\*|[a-z][a-z0-9_-]{0,39})$")
    test: str = Field(min_length=1, max_length=500)  # a test's name (class.name), a glob of it, or its id
    reason: str = Field(min_length=1, max_length=500)
    owner: str = Field(min_length=1, max_length=100)
    expires: date

    @field_validator("test", "reason", "owner")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(ch in value for ch in "\r\n\x00"):
            raise ValueError("must be one line of text")
        return value.strip()


class QuarantineSettings(_Strict):
    """Quarantined tests (docs/quarantine.md); the SDK Health page adds and removes more."""

    ready_after_passes: int = Field(default=5, ge=1, le=100)  # passes in a row: "ready to release"
    max_days: int = Field(default=90, ge=1, le=3650)  # the furthest expiry the page accepts
    tests: tuple[QuarantineEntry, ...] = ()


class LimitSettings(_Strict):
    """Caps on what one SDK's job may hand the DAG: its results are hostile input. A result over a cap
    is results_invalid, naming the cap; names, messages and log lines over their length are cut with
    an honest marker. Collect's memory grows with max_cases_per_sdk (about 60 MB per 100,000 cases)."""

    max_files_per_sdk: int = Field(default=1_000, ge=1, le=100_000)  # result files under results/
    max_cases_per_sdk: int = Field(default=200_000, ge=1, le=5_000_000)
    max_junit_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=1024**3)  # per file
    max_name_chars: int = Field(default=1_000, ge=64, le=100_000)  # suite, class and test names
    max_message_chars: int = Field(default=1_000, ge=64, le=100_000)  # failure messages, log lines
    max_log_events: int = Field(default=100_000, ge=1_000, le=10_000_000)  # job log events kept
    max_outcome_bytes: int = Field(default=256 * 1024 * 1024, ge=1024 * 1024, le=4 * 1024**3)  # outcome.json


class SdkSettings(_Strict):
    image: str = Field(pattern=NAME_PATTERN)
    vcpu: float = 0.5
    memory_mib: int = 1024
    timeout_seconds: int = Field(default=900, ge=60, le=86400)
    retry_attempts: int = Field(default=3, ge=1, le=10)  # Batch attempts; infrastructure failures only
    slo_min_pass_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    max_test_seconds: float = Field(default=300.0, gt=0)
    test_command: tuple[str, ...] = Field(min_length=1)
    results_format: Literal[RESULTS_FORMATS] = "junit"
    repo_url: str = ""  # empty: test the sample SDK baked into the image
    ref: str = ""  # empty: campaign.default_ref
    environment: dict[str, str] = Field(default_factory=dict)
    # Arguments appended to test_command to run only some tests (the culprit finder, docs/culprit-finder.md):
    # "{names}" becomes the test names joined with " or " (pytest -k), "{regex}" an anchored alternation
    # (go test -run). Empty: the whole suite runs and only those tests are judged.
    select_tests: tuple[str, ...] = ()

    @field_validator("select_tests")
    @classmethod
    def _select_tests(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if value and not any("{names}" in a or "{regex}" in a for a in value):
            raise ValueError(
                f"select_tests {list(value)} must place the tests with '{{names}}' or '{{regex}}'"
            )
        return tuple(validate_test_command(value, "select_tests")) if value else value

    # The SDK's own AWS account (docs/accounts.md): its job definition, jobs and logs live there. role_arn
    # (the SDK account stack's Airflow role) is assumed with aws_conn_id's credentials; both empty: the
    # campaign's account and connection.
    aws_conn_id: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]*$")
    role_arn: str = ""

    @field_validator("role_arn")
    @classmethod
    def _role_arn(cls, value: str) -> str:
        if value and not re.fullmatch(ROLE_ARN, value):
            raise ValueError(
                f"{value!r} is not an IAM role ARN: use the Airflow role of the SDK account's stack, e.g. "
                f"arn:aws:iam::210987654321:role/sdk-campaigns-account-airflow (docs/accounts.md)"
            )
        return value

    @field_validator("repo_url")
    @classmethod
    def _repo_url(cls, value: str) -> str:
        return validate_repo_url(value) if value else value

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str) -> str:
        return validate_ref(value) if value else value

    @field_validator("test_command")
    @classmethod
    def _test_command(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(validate_test_command(value))

    @field_validator("vcpu")
    @classmethod
    def _fargate_vcpu(cls, value: float) -> float:
        if value not in FARGATE_VCPUS:
            allowed = ", ".join(f"{v:g}" for v in FARGATE_VCPUS)
            raise ValueError(f"{value:g} is not a Fargate vCPU value; allowed: {allowed}")
        return value

    @field_validator("memory_mib")
    @classmethod
    def _memory_positive(cls, value: int) -> int:
        if value < 512:
            raise ValueError(f"{value} MiB is below Fargate's minimum of 512")
        return value

    @field_validator("environment")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
                raise ValueError(f"environment variable name {name!r} must match [A-Z_][A-Z0-9_]*")
        return value

    @model_validator(mode="after")
    def _memory_fits_vcpu(self) -> SdkSettings:
        allowed = _FARGATE_MEMORY_MIB[self.vcpu]
        if self.memory_mib not in allowed:
            raise ValueError(
                f"memory_mib {self.memory_mib} does not fit vcpu {self.vcpu:g} on Fargate; "
                f"allowed: {allowed.start}..{allowed.stop - 1} in steps of {allowed.step}"
            )
        return self


SQS_QUEUE_NAME = r"^[A-Za-z0-9_-]{1,80}$"
GITHUB_REPOSITORY = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"


class EventSettings(_Strict):
    """Campaigns started by events (docs/events.md): GitHub releases and pushes to the default branch,
    and plain requests, from an EventBridge rule through the stack's events queue to the dispatcher."""

    queue_name: str = Field(default="sdk-campaigns-events", pattern=SQS_QUEUE_NAME)
    dead_letter_queue_name: str = Field(default="sdk-campaigns-events-dead-letters", pattern=SQS_QUEUE_NAME)
    # The events queue's URL (the stack's EventsQueueUrl output), which the dispatcher's watcher polls: it
    # must be known when the DAG file is parsed. Empty: SDK_CAMPAIGNS_EVENTS_QUEUE_URL (the local stack
    # sets it); neither: nothing is watched.
    queue_url: str = Field(default="", pattern=r"^(https?://[^\s/]+/\d{12}/[A-Za-z0-9_-]{1,80})?$")
    event_bus: str = Field(default="default", pattern=r"^[A-Za-z0-9/._-]{1,256}$")  # where the rule listens
    poll_interval_seconds: int = Field(default=5, ge=1, le=600)  # pause between empty 20 s long polls
    # GitHub repositories ("owner/name") and the SDKs their releases and pushes test; an SDK whose
    # repo_url is the repository's needs no entry here.
    repositories: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @field_validator("repositories", mode="before")
    @classmethod
    def _one_or_more_sdks(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: (v,) if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("repositories")
    @classmethod
    def _repository_names(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for repository, sdks in value.items():
            if not re.fullmatch(GITHUB_REPOSITORY, repository):
                raise ValueError(f"repository {repository!r} must be a GitHub 'owner/name'")
            if not sdks or not all(re.fullmatch(NAME_PATTERN, sdk) for sdk in sdks):
                raise ValueError(f"repository {repository!r} must map to SDK names, got {list(sdks)}")
        # GitHub names are case-insensitive: keyed in lower case, as the dispatcher looks them up.
        return {repository.lower(): sdks for repository, sdks in value.items()}


# CloudWatch Logs accepts these retention periods only.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


class InfraSettings(_Strict):
    """The CloudFormation stack that `infra/` (the CDK app) makes: everything a campaign needs."""

    stack_name: str = Field(default="sdk-campaigns", pattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
    results_retention_days: int = Field(default=90, ge=1)  # raw results (<dag_id>/...) expire after this
    history_prefix: str = Field(default="history/", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*/$")  # kept
    build_context_prefix: str = Field(default="build-context/", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*/$")
    build_context_retention_days: int = Field(default=7, ge=1)
    log_group: str = Field(default="/aws/batch/job", pattern=r"^[A-Za-z0-9_/.#-]{1,512}$")
    log_retention_days: int = 30
    versioned_bucket: bool = False
    # Network when batch.subnets is empty: the stack makes a VPC with public subnets (no NAT).
    vpc_cidr: str = Field(default="10.42.0.0/16", pattern=r"^\d+\.\d+\.\d+\.\d+/(1[6-9]|2[0-4])$")
    # With batch.subnets set and batch.security_groups empty: the VPC the stack's security group goes in.
    vpc_id: str = Field(default="", pattern=r"^(vpc-[0-9a-f]{8,17})?$")
    tags: dict[str, str] = Field(default_factory=dict)  # cost-allocation tags on every resource
    # The campaign's own account: SDK accounts' stacks (docs/accounts.md) trust it and pull its images.
    campaign_account_id: str = Field(default="", pattern=r"^(\d{12})?$")

    @field_validator("log_retention_days")
    @classmethod
    def _log_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"{value} is not a CloudWatch Logs retention; allowed: {LOG_RETENTION_DAYS}")
        return value

    @field_validator("tags")
    @classmethod
    def _tag_limits(cls, value: dict[str, str]) -> dict[str, str]:
        for key, tag_value in value.items():
            if not 1 <= len(key) <= 128 or len(tag_value) > 256 or key.lower().startswith("aws:"):
                raise ValueError(f"tag {key!r}: keys 1-128 characters, not 'aws:'; values up to 256")
        return value


class CulpritSettings(_Strict):
    """The culprit finder (docs/culprit-finder.md): bisecting a break between two commits."""

    dag_id: str = Field(default="sdk_culprit_finder", pattern=r"^[A-Za-z0-9_.-]+$")
    enabled: bool = True  # the campaign triggers a bisection when an SDK breaks between two commits
    # Its records (one JSON per bisection) and its per-SDK lock, in the results bucket; never expired.
    results_prefix: str = Field(default="sdk_culprit_finder/", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*/$")
    max_commits: int = Field(default=1024, ge=1, le=65536)  # more between good and bad: not bisected
    max_tests: int = Field(default=50, ge=1, le=1000)  # newly failing tests tracked per bisection
    lock_wait_minutes: int = Field(default=360, ge=1, le=10080)  # a second bisection of one SDK waits
    lock_stale_minutes: int = Field(default=720, ge=10, le=10080)  # a lock older than this is taken over


class CampaignConfig(_Strict):
    campaign: CampaignSettings
    batch: BatchSettings = BatchSettings()
    validation: ValidationSettings = ValidationSettings()
    images: ImageSettings = ImageSettings()
    alerts: AlertSettings = AlertSettings()
    infra: InfraSettings = InfraSettings()
    limits: LimitSettings = LimitSettings()
    events: EventSettings = EventSettings()
    quarantine: QuarantineSettings = QuarantineSettings()
    culprit: CulpritSettings = CulpritSettings()
    sdks: dict[str, SdkSettings] = Field(min_length=1)

    @field_validator("sdks")
    @classmethod
    def _sdk_names(cls, value: dict[str, SdkSettings]) -> dict[str, SdkSettings]:
        for name in value:
            if not re.fullmatch(NAME_PATTERN, name):
                raise ValueError(f"SDK name {name!r} must match {NAME_PATTERN}")
        return value

    @model_validator(mode="after")
    def _sdk_accounts(self) -> CampaignConfig:
        """An SDK in its own account needs the campaign's account (its stack trusts it), and another one."""
        for name, sdk in self.sdks.items():
            if not sdk.role_arn:
                continue
            account = re.fullmatch(ROLE_ARN, sdk.role_arn).group(1)
            if not self.infra.campaign_account_id:
                raise ValueError(
                    f"sdks.{name}.role_arn puts {name} in account {account}: set infra.campaign_account_id "
                    f"to the campaign's own account, which that account's stack trusts (docs/accounts.md)"
                )
            if account == self.infra.campaign_account_id:
                raise ValueError(
                    f"sdks.{name}.role_arn {sdk.role_arn} is in the campaign's own account "
                    f"(infra.campaign_account_id): leave role_arn empty to run {name} there"
                )
        return self

    @property
    def sdk_names(self) -> list[str]:
        return list(self.sdks)

    def history_uri(self) -> str:
        """campaign.history_uri, or the history prefix of the results bucket (kept by its lifecycle)."""
        default = f"s3://{self.campaign.results_bucket}/{self.infra.history_prefix.rstrip('/')}"
        return self.campaign.history_uri or default

    def report_dir(self) -> Path:
        return Path(self.campaign.report_dir) if self.campaign.report_dir else data_home() / "reports"


def beside_config(name: str) -> Path:
    """A file the config names (TESTOWNERS, scenarios.yaml): absolute, or beside the config file."""
    path = Path(name)
    return path if path.is_absolute() else config_path().parent / path


def data_home() -> Path:
    """Where local state lives (history, reports, the local stack): SDK_CAMPAIGNS_HOME or .local/."""
    return Path(os.environ.get("SDK_CAMPAIGNS_HOME") or REPO_ROOT / ".local")


def config_path() -> Path:
    return Path(os.environ.get("SDK_CAMPAIGNS_CONFIG") or DEFAULT_CONFIG_PATH)


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names allowed at `loc`'s parent, for 'unknown key' errors."""
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            # a dict key (an SDK name): the value model is SdkSettings
            model = SdkSettings
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif models := [a for a in get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]:
            model = models[0]  # a list of models (quarantine.tests)
        elif str(part) == "sdks":
            model = SdkSettings
    return sorted(model.model_fields)


def _describe(error: dict, path: Path) -> str:
    loc = tuple(error["loc"])
    key = ".".join(str(p) for p in loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(CampaignConfig, loc))
        return f"{path}: unknown key '{key}'; allowed keys here: {allowed}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{path}: key '{key}': {message} (got {error.get('input')!r})"


def parse_config(text: str, path: Path) -> CampaignConfig:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with 'campaign' and 'sdks' at the top")
    try:
        return CampaignConfig.model_validate(raw)
    except ValidationError as err:
        lines = [_describe(e, path) for e in err.errors()]
        raise ConfigError("invalid campaign configuration:\n  " + "\n  ".join(lines)) from None


def load_config(path: Path | None = None) -> CampaignConfig:
    path = path or config_path()
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read campaign configuration {path}: {err.strerror}") from err
    return parse_config(text, path)


@cache
def cached_config(path: str | None = None) -> CampaignConfig:
    """The configuration for DAG parsing: read once per process."""
    return load_config(Path(path) if path else None)
