"""Plan a campaign run: which SDKs, which source, and everything each SDK's job needs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields

from sdk_campaigns.campaign.sources import SourceError, validate_ref, validate_repo_url, validate_test_command
from sdk_campaigns.config import CampaignConfig

OVERRIDE_KEYS = ("repo_url", "ref", "test_command")
# A run with any override (a run-wide ref, or an SDK's repo_url, ref or test_command) is ad hoc: it
# gets its own report and history lane and never changes the official record (history/layout.py).
OFFICIAL_LANE = "official"
ADHOC_LANE = "adhoc"
# <SDK prefix>/results/ is the job's to write (its job role may write nothing else); the SDK prefix's
# other files (outcome.json, job.log) are the DAG's. infra/sdk_campaigns_infra/layout.py's roles match.
JOB_RESULTS_FOLDER = "results"
RUN_XCOM_KEY = "run"  # the plan task's XCom holding RunPlan's own fields

# When the campaign run itself fails (the verdict task); every outcome is published either way.
FAILURE_POLICIES = {
    "infrastructure": "On infrastructure failures or invalid results (default)",
    "tests": "Also when any test failed",
    "never": "Never: report only",
}
DEFAULT_FAILURE_POLICY = "infrastructure"
# Whether expectations that Great Expectations finds broken fail the run; default: the config's.
VALIDATION_POLICIES = {
    "warn": "Report broken expectations",
    "fail": "Fail the run on broken expectations",
}
# sources.validate_ref's rules as a JSON-schema pattern for the trigger form (valid in Python and
# in the UI's ECMA-262): no newline (Python's `$` would let a trailing one through), no '..', no
# '.lock' ending, a letter or digit first, then up to 199 of letters, digits, . _ / -; or empty
# (each SDK's configured ref).
REF_PARAM_PATTERN = r"^(?:(?!.*\n)(?!.*\.\.)(?!.*\.lock$)[A-Za-z0-9][A-Za-z0-9._/-]{0,199})?$"


class PlanError(ValueError):
    """Trigger parameters that do not fit the configuration; the message says what does."""


def validate_sdks(requested: object, config: CampaignConfig) -> list[str]:
    if requested is None or requested == []:
        return config.sdk_names
    known = ", ".join(config.sdk_names)
    if not isinstance(requested, list) or not all(isinstance(s, str) for s in requested):
        raise PlanError(f"'sdks' must be a list of SDK names, got {requested!r}; known SDKs: {known}")
    unknown = [s for s in requested if s not in config.sdks]
    if unknown:
        raise PlanError(
            f"unknown SDK(s) {unknown} in 'sdks'; known SDKs: {known} "
            f"(add new ones under 'sdks:' in the campaign config)"
        )
    return list(dict.fromkeys(requested))  # de-duplicated, order kept


def validate_choice(value: object, name: str, choices: dict[str, str], default: str) -> str:
    """A policy param: one of `choices`' keys; empty or missing means `default`."""
    if value is None or value == "":
        return default
    if not isinstance(value, str) or value not in choices:
        raise PlanError(f"{name} {value!r} is not a known policy; known: {', '.join(choices)}")
    return value


def validate_overrides(overrides: object, config: CampaignConfig) -> dict[str, dict]:
    """{"<sdk>": {"repo_url": ..., "ref": ..., "test_command": [...]}} from --conf, checked."""
    if overrides in (None, {}):
        return {}
    if not isinstance(overrides, dict):
        raise PlanError(f"'overrides' must map SDK names to settings, got {overrides!r}")
    checked: dict[str, dict] = {}
    for sdk, settings in overrides.items():
        if sdk not in config.sdks:
            raise PlanError(
                f"'overrides' names unknown SDK {sdk!r}; known SDKs: {', '.join(config.sdk_names)}"
            )
        if not isinstance(settings, dict) or set(settings) - set(OVERRIDE_KEYS):
            raise PlanError(
                f"overrides.{sdk} must be an object with only {', '.join(OVERRIDE_KEYS)}, got {settings!r}"
            )
        try:
            checked[sdk] = {
                **(
                    {"repo_url": validate_repo_url(settings["repo_url"], f"overrides.{sdk}.repo_url")}
                    if "repo_url" in settings
                    else {}
                ),
                **(
                    {"ref": validate_ref(settings["ref"], f"overrides.{sdk}.ref")}
                    if "ref" in settings
                    else {}
                ),
                **(
                    {
                        "test_command": validate_test_command(
                            settings["test_command"], f"overrides.{sdk}.test_command"
                        )
                    }
                    if "test_command" in settings
                    else {}
                ),
            }
        except SourceError as err:
            raise PlanError(str(err)) from None
    return checked


def job_name(config: CampaignConfig, sdk: str, run_id: str, clear_number: int = 0) -> str:
    """Unique per run attempt and SDK, so a retried task finds its own job; clearing the run (a
    rerun of its logical date, e.g. a reprocessing backfill) starts a new attempt and new jobs."""
    run_key = hashlib.sha256(f"{config.campaign.dag_id}/{run_id}/{clear_number}".encode()).hexdigest()[:12]
    return f"{config.batch.job_definition_prefix}-{sdk}-{run_key}"


@dataclass(frozen=True)
class SdkPlan:
    """Everything one SDK's tasks need: its source, image, job and where its results go."""

    sdk: str
    ref: str
    repo_url: str  # empty: the sample SDK baked into the image
    image_folder: str
    repository: str
    job_definition: str
    job_name: str
    results_prefix: str  # <dag_id>/<run_id>/attempt-<n>/<sdk>/ in the results bucket: the DAG's files
    environment: dict[str, str]
    overrides: dict = field(default_factory=dict)  # what the run overrode for this SDK (a run-wide ref too)

    @property
    def job_results_prefix(self) -> str:
        """Where the job writes (its role may write nothing else), inside results_prefix."""
        return f"{self.results_prefix}{JOB_RESULTS_FOLDER}/"

    def to_xcom(self) -> dict:
        return asdict(self)

    @classmethod
    def from_xcom(cls, value: dict) -> SdkPlan:
        return cls(**value)


@dataclass(frozen=True)
class RunPlan:
    """One campaign run: its identity, its policies and one SdkPlan per selected SDK.

    Travels through XCom as two plain values (XCom deserializes only Airflow's own classes): the
    plan task returns the list of SDK plans, which mapped tasks expand over (Airflow maps only over
    a return value), and pushes the run's own fields under RUN_XCOM_KEY.
    """

    dag_id: str
    run_id: str
    logical_date: str  # ISO 8601
    attempt: int  # 1, then one more each time the run is cleared (a rerun of its logical date)
    failure_policy: str
    validation_policy: str
    sdks: tuple[SdkPlan, ...]
    lane: str = OFFICIAL_LANE

    @property
    def results_prefix(self) -> str:
        """This attempt's folder in the results bucket (validation.json; each SDK's folder below)."""
        return attempt_prefix(self.dag_id, self.run_id, self.attempt)

    def run_xcom(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "sdks"}

    def sdks_xcom(self) -> list[dict]:
        return [sdk.to_xcom() for sdk in self.sdks]

    @classmethod
    def from_xcom(cls, run: dict, sdk_plans: list[dict]) -> RunPlan:
        return cls(**run, sdks=tuple(SdkPlan.from_xcom(s) for s in sdk_plans))


def attempt_prefix(dag_id: str, run_id: str, attempt: int) -> str:
    """Each attempt of a run writes and reads its own folder: a cleared or reprocessed run never
    collects what an earlier attempt left."""
    return f"{dag_id}/{run_id}/attempt-{attempt}/"


def plan_sdk(
    config: CampaignConfig,
    sdk: str,
    *,
    run_id: str,
    run_ref: str | None,
    override: dict,
    clear_number: int,
) -> SdkPlan:
    settings = config.sdks[sdk]
    sdk_ref = override.get("ref") or run_ref or settings.ref or config.campaign.default_ref
    repo_url = override.get("repo_url", settings.repo_url)
    test_command = override.get("test_command", list(settings.test_command))
    prefix = f"{attempt_prefix(config.campaign.dag_id, run_id, clear_number + 1)}{sdk}/"
    environment = {
        **settings.environment,
        "SDK_NAME": sdk,
        "SDK_REF": sdk_ref,
        "SDK_TEST_COMMAND": json.dumps(test_command),
        "SDK_RESULTS_FORMAT": settings.results_format,
        "RESULTS_S3_URI": f"s3://{config.campaign.results_bucket}/{prefix}{JOB_RESULTS_FOLDER}/",
    }
    if repo_url:
        environment["SDK_REPO_URL"] = repo_url
    return SdkPlan(
        sdk=sdk,
        ref=sdk_ref,
        repo_url=repo_url,
        image_folder=settings.image,
        repository=f"{config.campaign.ecr_repository_prefix}/{sdk}",
        job_definition=f"{config.batch.job_definition_prefix}-{sdk}",
        job_name=job_name(config, sdk, run_id, clear_number),
        results_prefix=prefix,
        environment=environment,
        overrides={**({"ref": run_ref} if run_ref else {}), **override},
    )


def plan_run(
    config: CampaignConfig,
    params: dict,
    *,
    run_id: str,
    logical_date: str,
    clear_number: int = 0,
) -> RunPlan:
    """The run's plan from its params (trigger form, --conf, REST), each checked against the config;
    a bad value raises PlanError naming it and what is allowed."""
    selected = validate_sdks(params.get("sdks"), config)
    try:
        run_ref = validate_ref(params["ref"]) if params.get("ref") else None
    except SourceError as err:
        raise PlanError(str(err)) from None
    overrides = validate_overrides(params.get("overrides"), config)
    return RunPlan(
        lane=ADHOC_LANE if run_ref or any(overrides.values()) else OFFICIAL_LANE,
        dag_id=config.campaign.dag_id,
        run_id=run_id,
        logical_date=logical_date,
        attempt=clear_number + 1,
        failure_policy=validate_choice(
            params.get("failure_policy"), "failure_policy", FAILURE_POLICIES, DEFAULT_FAILURE_POLICY
        ),
        validation_policy=validate_choice(
            params.get("validation_policy"),
            "validation_policy",
            VALIDATION_POLICIES,
            config.validation.on_failure,
        ),
        sdks=tuple(
            plan_sdk(
                config,
                sdk,
                run_id=run_id,
                run_ref=run_ref,
                override=overrides.get(sdk, {}),
                clear_number=clear_number,
            )
            for sdk in selected
        ),
    )
