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
An SDK that went from passed at one commit to tests failed at another starts the
`sdk_culprit_finder` DAG, which bisects to the first bad commit (docs/culprit-finder.md).
Task pages link to the job's CloudWatch log stream and the SDK's S3 results (`collect`),
the test image in ECR (`build_image`) and the Great Expectations Data Docs (`publish`).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, Param, chain, get_current_context, task, task_group
from airflow.task.trigger_rule import TriggerRule

from sdk_campaigns import task_ids
from sdk_campaigns.campaign.assets import history_asset
from sdk_campaigns.campaign.batch_jobs import ReattachingBatchOperator
from sdk_campaigns.campaign.plan import (
    DEFAULT_FAILURE_POLICY,
    FAILURE_POLICIES,
    REF_PARAM_PATTERN,
    RUN_XCOM_KEY,
    VALIDATION_POLICIES,
)
from sdk_campaigns.config import cached_config
from sdk_campaigns.image_step import SUBMISSION_XCOM_KEY, BuildImageOperator

CONFIG = cached_config()
AWS_CONN_ID = "aws_default"
ALL_DONE = TriggerRule.ALL_DONE
RUN_TESTS_TIMEOUT = timedelta(seconds=max(s.timeout_seconds for s in CONFIG.sdks.values()) + 600)


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

    @task(task_id=task_ids.PLAN, execution_timeout=timedelta(minutes=5))
    def plan(params: dict, dag_run=None) -> list[dict]:
        """Which SDKs, which ref, each SDK's job settings and the run's policies; bad params fail
        here, named with the known values. Then every resource the planned SDKs need, as the
        campaign's CloudFormation stack deployed it (ECR repositories, results bucket, roles, Fargate
        compute environment and queue): described, never created. A missing one fails here, named,
        with the fix (`sdk-campaigns infra deploy`)."""
        from sdk_campaigns import stages

        return stages.plan(CONFIG, params, dag_run, AWS_CONN_ID)

    @task(
        task_id=task_ids.COLLECT,
        map_index_template="{{ sdk }}",
        trigger_rule=ALL_DONE,
        execution_timeout=timedelta(minutes=20),  # what it reads is bounded by the config's limits
    )
    def collect(sdk_plan: dict, run: dict) -> dict:
        """The SDK's job, its own log stream and its JUnit from S3, classified as passed, tests
        failed, infrastructure failed or results invalid. Links to the log stream and the results."""
        from sdk_campaigns import tasks

        get_current_context()["sdk"] = sdk_plan["sdk"]
        return tasks.collect(CONFIG, run, sdk_plan, AWS_CONN_ID)

    # Other DAGs can be scheduled on the history (see docs/published-files.md).
    @task(
        task_id=task_ids.PUBLISH,
        trigger_rule=ALL_DONE,
        outlets=[history_asset(CONFIG)],
        execution_timeout=timedelta(minutes=60),
    )
    def publish(run: dict, sdk_plans: list[dict], outlet_events=None) -> str:
        """Great Expectations over every SDK's normalised results (schema, status values, unique
        test ids, every requested SDK present, durations, pass-rate SLOs; links to the Data Docs),
        then history partitions (idempotent per logical date and SDK), the HTML report, feed, badges,
        the history Asset's event, alerts and retention."""
        from sdk_campaigns import stages

        return stages.publish(CONFIG, run, sdk_plans, outlet_events, AWS_CONN_ID)

    @task(task_id=task_ids.FIND_BREAKS, execution_timeout=timedelta(minutes=10))
    def find_breaks(run: dict) -> list[dict]:
        """SDKs whose official lane went from passed at one commit to tests failed at another, read
        from the history just published: one culprit finder run each (docs/culprit-finder.md)."""
        from sdk_campaigns import tasks

        return tasks.find_breaks(CONFIG, run, AWS_CONN_ID)

    @task(task_id=task_ids.VERDICT, execution_timeout=timedelta(minutes=5))
    def verdict(run: dict, sdk_plans: list[dict]) -> None:
        """Fail the run as the failure policy says: on infrastructure failures or invalid results
        (`infrastructure`), also on failed tests (`tests`), or never (`never`); broken expectations
        count under validation policy `fail`."""
        from sdk_campaigns import tasks

        tasks.verdict(CONFIG, run, sdk_plans, AWS_CONN_ID)

    # setup
    sdk_plans = plan()
    run = sdk_plans[RUN_XCOM_KEY]
    stack = sdk_plans[task_ids.STACK_XCOM_KEY]

    # body: per SDK, each step starts as soon as that SDK's previous one ends (a mapped task group
    # keeps map indexes together), so a short job's results are collected while longer jobs still run
    @task_group(group_id=task_ids.PER_SDK, prefix_group_id=False)
    def per_sdk(sdk_plan):
        """One SDK: its image, its Batch job, its results."""
        image = BuildImageOperator(
            task_id=task_ids.BUILD_IMAGE,
            sdk_plan=sdk_plan,
            stack=stack,
            run_plan=run,
            aws_conn_id=AWS_CONN_ID,
            builder=CONFIG.images.builder,
            base_image=CONFIG.images.base_image,
            build_context_prefix=CONFIG.infra.build_context_prefix,
            build_timeout_minutes=CONFIG.images.codebuild_timeout_minutes,
            deferrable=True,  # a CodeBuild build is waited for in the triggerer
            waiter_delay=CONFIG.images.codebuild_poll_seconds,
            map_index_template="{{ sdk }}",
            retries=1,
            retry_delay=timedelta(seconds=20),
            execution_timeout=timedelta(minutes=60),  # a cold build of the slowest SDK image
            doc_md="The SDK's test image by content tag (build context, build args, the base image's "
            "registry digest): found in ECR, else built by the config's builder, `docker` or the stack's "
            "CodeBuild project (waited for in the triggerer); then the SDK's Batch job definition for that "
            "image. Links to the image in ECR and to the build's log.",
        )
        job = ReattachingBatchOperator(
            task_id=task_ids.RUN_TESTS,
            # job definition, aws_conn_id and role_arn as build_image registered them: the SDK's own
            # account, if it has one. An SDK whose image failed gets no job (upstream failed).
            submission=image.output[SUBMISSION_XCOM_KEY],
            job_queue=CONFIG.batch.job_queue,
            deferrable=True,
            poll_interval=CONFIG.batch.poll_interval_seconds,
            # Safe and cheap: a retry re-attaches to the job it already submitted (see batch_jobs), so
            # a task failed by the scheduler race of apache/airflow#67287 resumes at once.
            retries=2,
            retry_delay=timedelta(seconds=1),
            execution_timeout=RUN_TESTS_TIMEOUT,
            # the trigger's own limit, poll_interval x max_retries, no shorter than the timeout
            max_retries=math.ceil(RUN_TESTS_TIMEOUT.total_seconds() / CONFIG.batch.poll_interval_seconds),
            map_index_template="{{ task.tags['sdk'] }}",
            doc_md="One AWS Batch job per SDK on Fargate, deferrable; a retry re-attaches to the job it "
            "submitted instead of submitting another. Links to the job (Batch) and its CloudWatch logs.",
        )
        chain(image, job, collect(sdk_plan, run))

    outcomes = per_sdk.expand(sdk_plan=sdk_plans)

    # teardown: validation, history, report and the verdict, whatever happened above
    report = publish(run, sdk_plans)

    chain(outcomes, report, verdict(run, sdk_plans))
    # after publish, beside the verdict: a bisection per SDK that broke between two commits; a rerun
    # starts none twice
    breaks = find_breaks(run)
    start_culprit_finder = TriggerDagRunOperator.partial(
        task_id=task_ids.START_CULPRIT_FINDER,
        trigger_dag_id=CONFIG.culprit.dag_id,
        skip_when_already_exists=True,
        openlineage_inject_parent_info=False,  # the finder's conf is exactly its params
        map_index_template="{{ task.conf['sdk'] }}",
        execution_timeout=timedelta(minutes=5),
        doc_md="Starts the culprit finder for one broken SDK (conf: sdk, repo_url, good, bad, tests).",
    ).expand_kwargs(breaks)
    chain(report, breaks, start_culprit_finder)
