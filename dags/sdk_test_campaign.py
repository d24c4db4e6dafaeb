"""
### SDK test campaign

Builds one test image per SDK language (content-hash tags, pushed to ECR), runs each
SDK's suite as an AWS Batch Fargate job, collects the job's own log stream and its
JUnit results from S3, validates them with Great Expectations, and publishes a
per-language pass/fail history and an HTML report.

Trigger with `airflow dags trigger sdk_test_campaign --conf '{"sdks": ["python"]}'`.

**Params**
- `sdks`: SDK names to test (empty: every SDK in `include/campaign.yaml`).
- `ref`: git branch, tag or commit to test for every SDK, recorded with every result.
- `overrides`: per SDK, any repository (`repo_url`), `ref` and `test_command` (an argv
  list, never a shell string) to test instead of the configured ones.

A language whose tests fail never stops the others from being collected and published.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, chain, get_current_context, task
from airflow.task.trigger_rule import TriggerRule

from sdk_campaigns.batch_jobs import ReattachingBatchOperator
from sdk_campaigns.config import cached_config

CONFIG = cached_config()
AWS_CONN_ID = "aws_default"
ALL_DONE = TriggerRule.ALL_DONE

with DAG(
    dag_id=CONFIG.campaign.dag_id,
    schedule=CONFIG.campaign.schedule,
    start_date=datetime.combine(CONFIG.campaign.start_date, datetime.min.time()),
    catchup=False,
    max_active_tasks=16,
    dagrun_timeout=timedelta(hours=6),
    default_args={"retries": 0},
    params={
        # The form offers the configured SDKs; `plan` validates what was sent and names
        # the known SDKs in its error (a trigger-time enum would fail without that help).
        "sdks": Param(
            [],
            type="array",
            items={"type": "string"},
            examples=CONFIG.sdk_names,
            description=f"SDKs to test; empty means all of: {', '.join(CONFIG.sdk_names)}",
        ),
        "ref": Param(
            "",
            type="string",
            description="git branch, tag or commit for every SDK; empty: each SDK's configured ref "
            f"(default {CONFIG.campaign.default_ref!r})",
        ),
        "overrides": Param(
            {},
            type="object",
            description='per-SDK source, e.g. {"python": {"repo_url": "https://github.com/org/sdk", '
            '"ref": "v2", "test_command": ["pytest", "--junitxml=/tmp/results/junit.xml"]}}',
        ),
    },
    tags=["sdk-campaigns", "aws-batch", "testing"],
    doc_md=__doc__,
) as dag:

    @task
    def plan(params: dict, dag_run=None) -> list[dict]:
        """Which SDKs, which ref, and each SDK's job settings; bad params fail here, named."""
        from sdk_campaigns.runs import plan_run

        return plan_run(CONFIG, params, dag_run)

    @task
    def ensure_batch_environment(sdk_plans: list[dict]) -> dict:
        """ECR repositories, the results bucket, IAM roles, Fargate compute environment and queue."""
        from sdk_campaigns.runs import ensure_environment

        return ensure_environment(CONFIG, sdk_plans, AWS_CONN_ID)

    @task(map_index_template="{{ sdk }}", retries=1, retry_delay=timedelta(seconds=20))
    def build_image(sdk_plan: dict) -> dict:
        """Build and push only when the content hash is not in the registry yet."""
        from sdk_campaigns.runs import build_sdk_image

        get_current_context()["sdk"] = sdk_plan["sdk"]
        return build_sdk_image(sdk_plan, AWS_CONN_ID)

    @task(trigger_rule=ALL_DONE)
    def register_jobs(sdk_plans: list[dict], environment: dict) -> list[dict]:
        """A job definition per SDK whose image exists; one BatchOperator kwargs dict each."""
        from sdk_campaigns.runs import job_submissions

        return job_submissions(CONFIG, sdk_plans, environment, AWS_CONN_ID)

    @task(map_index_template="{{ sdk }}", trigger_rule=ALL_DONE)
    def collect(sdk_plan: dict) -> dict:
        """The job, its own log stream and its JUnit; classifies the outcome."""
        from sdk_campaigns.runs import collect_sdk

        get_current_context()["sdk"] = sdk_plan["sdk"]
        return collect_sdk(CONFIG, sdk_plan, AWS_CONN_ID)

    @task(trigger_rule=ALL_DONE)
    def validate(sdk_plans: list[dict]) -> dict:
        """Great Expectations over every SDK's normalised results."""
        from sdk_campaigns.runs import validate_run

        return validate_run(CONFIG, sdk_plans)

    @task(trigger_rule=ALL_DONE)
    def publish(sdk_plans: list[dict]) -> str:
        """History partitions (idempotent per logical date and SDK) and the HTML report."""
        from sdk_campaigns.runs import publish_run

        return publish_run(CONFIG, sdk_plans)

    @task
    def verdict(sdk_plans: list[dict]) -> None:
        """Fail the run on infrastructure failures or (policy 'fail') on invalid results."""
        from sdk_campaigns.runs import campaign_verdict

        campaign_verdict(CONFIG, sdk_plans)

    # setup
    sdk_plans = plan()
    environment = ensure_batch_environment(sdk_plans)
    images = build_image.expand(sdk_plan=sdk_plans)

    # body: one Batch job per SDK, deferrable, shown by SDK name in the UI
    submissions = register_jobs(sdk_plans, environment)
    run_tests = ReattachingBatchOperator.partial(
        task_id="run_tests",
        aws_conn_id=AWS_CONN_ID,
        job_queue=CONFIG.batch.job_queue,
        deferrable=True,
        poll_interval=CONFIG.batch.poll_interval_seconds,
        # Safe: a retry re-attaches to the job it already submitted (see batch_jobs).
        retries=2,
        retry_delay=timedelta(seconds=5),
        execution_timeout=timedelta(seconds=max(s.timeout_seconds for s in CONFIG.sdks.values()) + 600),
        map_index_template="{{ task.tags['sdk'] }}",
    ).expand_kwargs(submissions)
    outcomes = collect.expand(sdk_plan=sdk_plans)

    # publish
    validation = validate(sdk_plans)
    report = publish(sdk_plans)

    chain(environment, images, submissions, run_tests, outcomes, validation, report, verdict(sdk_plans))
