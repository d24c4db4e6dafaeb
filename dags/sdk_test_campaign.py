"""
### SDK test campaign

Builds one test image per SDK language (content-hash tags, pushed to ECR), runs each
SDK's suite as an AWS Batch Fargate job, collects the job's own log stream and its
JUnit results from S3, validates them with Great Expectations, and publishes a
per-language pass/fail history and an HTML report.

Trigger from the form, or with
`airflow dags trigger sdk_test_campaign --conf '{"sdks": ["python"], "failure_policy": "tests"}'`.

**Params** (checked by the trigger form and again by `plan`, which names the bad value)
- `sdks`: SDK names to test (empty: every SDK in `include/campaign.yaml`).
- `ref`: git branch, tag or commit to test for every SDK, recorded with every result
  (empty: each SDK's configured ref).
- `failure_policy`: when the run fails. `infrastructure` (default): on infrastructure
  failures or invalid results; `tests`: also when any test failed; `never`: report only.
- `validation_policy`: whether broken Great Expectations fail the run (`fail`) or are
  reported (`warn`); the default is `validation.on_failure` from the campaign config.
- `overrides`: per SDK, any repository (`repo_url`), `ref` and `test_command` (an argv
  list, never a shell string) to test instead of the configured ones.

A language whose tests fail never stops the others from being collected and published.
Task pages link to the job's CloudWatch log stream and the SDK's S3 results (`collect`),
the test image in ECR (`build_image`) and the Great Expectations Data Docs (`validate`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, chain, get_current_context, task
from airflow.task.trigger_rule import TriggerRule

from sdk_campaigns.campaign.assets import history_asset
from sdk_campaigns.campaign.batch_jobs import ReattachingBatchOperator
from sdk_campaigns.campaign.plan import (
    DEFAULT_FAILURE_POLICY,
    FAILURE_POLICIES,
    REF_PARAM_PATTERN,
    VALIDATION_POLICIES,
)
from sdk_campaigns.config import cached_config

CONFIG = cached_config()
AWS_CONN_ID = "aws_default"
ALL_DONE = TriggerRule.ALL_DONE


def with_docs(mapped_task):
    """Airflow shows a @task's docstring as its docs only when the task is not mapped."""
    return mapped_task.override(doc_md=mapped_task.function.__doc__)


with DAG(
    dag_id=CONFIG.campaign.dag_id,
    schedule=CONFIG.campaign.schedule,
    start_date=datetime.combine(CONFIG.campaign.start_date, datetime.min.time()),
    catchup=False,
    max_active_tasks=16,
    dagrun_timeout=timedelta(hours=6),
    default_args={"retries": 0},
    params={
        # Flat, as the trigger form handles them best. Airflow checks these schemas whenever a run is
        # created (form, CLI, REST); `plan` checks again against the config, whatever got through.
        "sdks": Param(
            [],
            type=["array", "null"],
            items={"type": "string", "enum": CONFIG.sdk_names},
            examples=CONFIG.sdk_names,  # renders as a multi-select in the trigger form
            title="SDKs",
            description=f"SDKs to test; none selected means all of: {', '.join(CONFIG.sdk_names)}",
        ),
        "ref": Param(
            "",
            type=["string", "null"],
            pattern=REF_PARAM_PATTERN,
            title="Git ref",
            description="Branch, tag or commit to test for every SDK (letters, digits, . _ / -; no '..', "
            f"no '.lock' ending). Empty: each SDK's configured ref, default {CONFIG.campaign.default_ref!r}",
        ),
        "failure_policy": Param(
            DEFAULT_FAILURE_POLICY,
            type="string",
            enum=list(FAILURE_POLICIES),
            values_display=FAILURE_POLICIES,
            title="Failure policy",
            description="When the run fails; every SDK's results are published either way",
        ),
        "validation_policy": Param(
            CONFIG.validation.on_failure,
            type="string",
            enum=list(VALIDATION_POLICIES),
            values_display=VALIDATION_POLICIES,
            title="Validation policy",
            description="Whether broken Great Expectations fail the run (default: validation.on_failure "
            "in the campaign config)",
            section="Validation and source overrides",
        ),
        "overrides": Param(
            {},
            type=["object", "null"],
            title="Per-SDK source overrides",
            description='Per SDK, e.g. {"python": {"repo_url": "https://github.com/org/sdk", '
            '"ref": "v2", "test_command": ["pytest", "--junitxml=/tmp/results/junit.xml"]}}',
            section="Validation and source overrides",
        ),
    },
    tags=["sdk-campaigns", "aws-batch", "testing"],
    doc_md=__doc__,
) as dag:

    @task
    def plan(params: dict, dag_run=None) -> list[dict]:
        """Which SDKs, which ref, each SDK's job settings and the run's policies; bad params fail
        here, named with the known values."""
        from sdk_campaigns.campaign.plan import with_policies
        from sdk_campaigns.tasks import plan_run

        return with_policies(CONFIG, plan_run(CONFIG, params, dag_run), params)

    @task
    def ensure_batch_environment(sdk_plans: list[dict]) -> dict:
        """ECR repositories, the results bucket, IAM roles, Fargate compute environment and queue."""
        from sdk_campaigns.tasks import ensure_environment

        return ensure_environment(CONFIG, sdk_plans, AWS_CONN_ID)

    @task(map_index_template="{{ sdk }}", retries=1, retry_delay=timedelta(seconds=20))
    def build_image(sdk_plan: dict, environment: dict) -> dict:
        """The SDK's test image: built and pushed to ECR only when its content hash is not in the
        registry yet. Links to the image in ECR."""
        from sdk_campaigns.reporting import links
        from sdk_campaigns.tasks import build_sdk_image

        get_current_context()["sdk"] = sdk_plan["sdk"]
        image = build_sdk_image(sdk_plan, AWS_CONN_ID)
        links.persist(links.image_links(environment["repositories"][sdk_plan["sdk"]], image["digest"]))
        return image

    @task(trigger_rule=ALL_DONE)
    def register_jobs(sdk_plans: list[dict], environment: dict) -> list[dict]:
        """A job definition per SDK whose image exists; one BatchOperator kwargs dict each."""
        from sdk_campaigns.tasks import job_submissions

        return job_submissions(CONFIG, sdk_plans, environment, AWS_CONN_ID)

    @task(map_index_template="{{ sdk }}", trigger_rule=ALL_DONE)
    def collect(sdk_plan: dict) -> dict:
        """The SDK's job, its own log stream and its JUnit from S3, classified as passed, tests
        failed, infrastructure failed or results invalid. Links to the log stream and the results."""
        from sdk_campaigns.campaign.aws import AwsContext
        from sdk_campaigns.reporting import links
        from sdk_campaigns.tasks import collect_sdk

        get_current_context()["sdk"] = sdk_plan["sdk"]
        outcome = collect_sdk(CONFIG, sdk_plan, AWS_CONN_ID)
        batch = AwsContext(AWS_CONN_ID).client("batch")
        bucket = CONFIG.campaign.results_bucket
        links.persist(links.results_links(batch, outcome["job_id"], bucket, sdk_plan["results_prefix"]))
        return outcome

    @task(trigger_rule=ALL_DONE)
    def validate(sdk_plans: list[dict]) -> dict:
        """Great Expectations over every SDK's normalised results (schema, status values, unique
        test ids, every requested SDK present, durations, pass-rate SLOs). Links to the Data Docs."""
        from sdk_campaigns.reporting import links
        from sdk_campaigns.tasks import validate_run

        summary = validate_run(CONFIG, sdk_plans)
        links.persist(links.data_docs_links(CONFIG, sdk_plans[0]["run_id"]))
        return summary

    # Other DAGs can be scheduled on the history (see README, "Published files").
    @task(trigger_rule=ALL_DONE, outlets=[history_asset(CONFIG)])
    def publish(sdk_plans: list[dict]) -> str:
        """History partitions (idempotent per logical date and SDK) and the HTML report."""
        from sdk_campaigns.tasks import publish_run

        return publish_run(CONFIG, sdk_plans)

    @task
    def verdict(sdk_plans: list[dict]) -> None:
        """Fail the run as the failure policy says: on infrastructure failures or invalid results
        (`infrastructure`), also on failed tests (`tests`), or never (`never`); broken expectations
        count under validation policy `fail`."""
        from sdk_campaigns.tasks import campaign_verdict

        campaign_verdict(CONFIG, sdk_plans)

    # setup
    sdk_plans = plan()
    environment = ensure_batch_environment(sdk_plans)
    images = with_docs(build_image).partial(environment=environment).expand(sdk_plan=sdk_plans)

    # body: one Batch job per SDK, deferrable, shown by SDK name in the UI
    submissions = register_jobs(sdk_plans, environment)
    run_tests = ReattachingBatchOperator.partial(
        task_id="run_tests",
        aws_conn_id=AWS_CONN_ID,
        job_queue=CONFIG.batch.job_queue,
        deferrable=True,
        poll_interval=CONFIG.batch.poll_interval_seconds,
        # Safe and cheap: a retry re-attaches to the job it already submitted (see batch_jobs), so
        # a task failed by the scheduler race of apache/airflow#67287 resumes at once.
        retries=2,
        retry_delay=timedelta(seconds=1),
        execution_timeout=timedelta(seconds=max(s.timeout_seconds for s in CONFIG.sdks.values()) + 600),
        map_index_template="{{ task.tags['sdk'] }}",
        doc_md="One AWS Batch job per SDK on Fargate, deferrable; a retry re-attaches to the job it "
        "submitted instead of submitting another. Links to the job (Batch) and its CloudWatch logs.",
    ).expand_kwargs(submissions)
    outcomes = with_docs(collect).expand(sdk_plan=sdk_plans)

    # publish
    validation = validate(sdk_plans)
    report = publish(sdk_plans)

    chain(environment, images, submissions, run_tests, outcomes, validation, report, verdict(sdk_plans))
