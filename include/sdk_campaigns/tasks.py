"""The bodies of the campaign DAG's tasks: thin glue between Airflow's context and the library.

Each function is one task (see dags/sdk_test_campaign.py); plans arrive as XCom dicts and are
read into campaign.plan's RunPlan/SdkPlan first. Task outputs that can be large (test rows, the
job log) travel through the results bucket (campaign.outcomes); XCom carries only summaries.
"""

from __future__ import annotations

import logging

from sdk_campaigns import task_ids
from sdk_campaigns.campaign import (
    accounts,
    commits,
    job_definitions,
    metrics,
    outcomes,
    quarantine,
    resources,
)
from sdk_campaigns.campaign import collect as collecting
from sdk_campaigns.campaign import verdict as verdicts
from sdk_campaigns.campaign.aws import AwsContext
from sdk_campaigns.campaign.plan import OFFICIAL_LANE, RUN_XCOM_KEY, RunPlan, SdkPlan, plan_run
from sdk_campaigns.config import CampaignConfig
from sdk_campaigns.reporting import links

log = logging.getLogger(__name__)


def _ti():
    from airflow.sdk import get_current_context

    return get_current_context()["ti"]


def _logical_date(dag_run) -> str:
    # Manual runs may have no logical date in Airflow 3; run_after is always set.
    moment = dag_run.logical_date or dag_run.run_after
    return moment.isoformat()


def plan(config: CampaignConfig, params: dict, dag_run) -> list[dict]:
    campaign_run = plan_run(
        config,
        params,
        run_id=dag_run.run_id,
        logical_date=_logical_date(dag_run),
        clear_number=getattr(dag_run, "clear_number", 0) or 0,
    )
    for sdk_plan in campaign_run.sdks:
        source = sdk_plan.repo_url or "the image's sample SDK"
        log.info("plan: %s tests %s at %s", sdk_plan.sdk, source, sdk_plan.ref)
    if campaign_run.lane != OFFICIAL_LANE:
        log.info("lane %s: its overrides keep this run out of the official record", campaign_run.lane)
    log.info(
        "policies: failure %s, validation %s", campaign_run.failure_policy, campaign_run.validation_policy
    )
    _ti().xcom_push(key=RUN_XCOM_KEY, value=campaign_run.run_xcom())
    return campaign_run.sdks_xcom()


def check_environment(config: CampaignConfig, run: dict, sdk_plans: list[dict], aws_conn_id: str) -> dict:
    """The stack's resources for the planned SDKs, described (never created); an SDK in its own account
    has its account's read and checked through its connection."""
    campaign_run = RunPlan.from_xcom(run, sdk_plans)
    aws = AwsContext(aws_conn_id)
    sdks = [p.sdk for p in campaign_run.sdks]
    found = resources.check_environment(aws.client, config.infra.stack_name, sdks)
    return accounts.check_sdk_accounts(config, sdks, aws_conn_id, found).to_xcom()


def register_job(
    config: CampaignConfig, run: dict, sdk_plan: dict, image: dict, stack: dict, aws_conn_id: str
) -> dict:
    """The SDK's job definition for the image it tests (the image step registers it once the image
    is in ECR), in the SDK's account (its own, or the campaign's), and the BatchOperator kwargs that
    submit its job there."""
    planned = SdkPlan.from_xcom(sdk_plan)
    campaign_run = RunPlan.from_xcom(run, [sdk_plan])
    account = accounts.sdk_account(config, planned.sdk, aws_conn_id)
    batch = account.client("batch")
    spec = job_definitions.job_definition_spec(
        image=image["image"],
        sdk=planned.sdk,
        settings=config.sdks[planned.sdk],
        resources=resources.CampaignResources.from_xcom(stack),
        region=batch.meta.region_name,
    )
    definition = job_definitions.register(batch, planned.job_definition, spec)
    return {
        "aws_conn_id": account.aws_conn_id,
        "role_arn": account.role_arn,
        "job_name": planned.job_name,
        "job_definition": definition,
        "container_overrides": {
            "environment": [{"name": k, "value": v} for k, v in sorted(planned.environment.items())]
        },
        "tags": {"sdk": planned.sdk, "dag_id": campaign_run.dag_id, "run_id": campaign_run.run_id},
    }


def collect(config: CampaignConfig, run: dict, sdk_plan: dict, aws_conn_id: str) -> dict:
    from sdk_campaigns import history
    from sdk_campaigns.campaign import arrow_memory

    arrow_memory.use_malloc()

    planned = SdkPlan.from_xcom(sdk_plan)
    campaign_run = RunPlan.from_xcom(run, [sdk_plan])
    aws = AwsContext(aws_conn_id)
    # The job and its logs live in the SDK's account (its own, or the campaign's); results centrally.
    job_account = accounts.sdk_account(config, planned.sdk, aws_conn_id).context()
    s3, batch = aws.client("s3"), job_account.client("batch")
    bucket = config.campaign.results_bucket
    ti = _ti()
    image = ti.xcom_pull(task_ids=task_ids.BUILD_IMAGE, map_indexes=ti.map_index) or {}
    outcome = collecting.collect_outcome(
        batch=batch,
        logs=job_account.client("logs"),
        s3=s3,
        sdk=planned.sdk,
        job_queue=config.batch.job_queue,
        job_name=planned.job_name,
        bucket=bucket,
        prefix=planned.results_prefix,
        image=image.get("image", ""),
        digest=image.get("digest", ""),
        run_id=campaign_run.run_id,
        logical_date=campaign_run.logical_date,
        limits=config.limits,
    )
    if not image:
        outcome.reason = "the image build failed (see build_image): " + outcome.reason
    code = commits.code_under_test(
        outcome.log_excerpt, planned_repo_url=planned.repo_url, content_tag=image.get("content_tag", "")
    )
    document = {**outcome.to_dict(), "ref": planned.ref, **code}
    settings = config.sdks[planned.sdk]
    document["metrics"] = {}  # an ad hoc run's numbers stay out of the official CloudWatch metrics
    if campaign_run.lane == OFFICIAL_LANE:
        history.use_airflow_connection(aws_conn_id)  # the quarantine's page changes live with the history
        # counted as publish counts them: quarantined tests left out
        counted = quarantine.apply(document, quarantine.run_entries(s3, config, campaign_run))
        document["metrics"] = metrics.publish_and_read_back(
            aws.client("cloudwatch"),
            metrics.campaign_metrics(
                counted,
                dag_id=campaign_run.dag_id,
                vcpu=settings.vcpu,
                memory_gib=settings.memory_mib / 1024,
                queue_wait_seconds=document.get("queue_seconds"),
                logical_date=campaign_run.logical_date,
            ),
            dag_id=campaign_run.dag_id,
            sdk=planned.sdk,
            logical_date=campaign_run.logical_date,
        )
    outcomes.write_outcome(s3, bucket, planned, document, config.limits)
    log.info("%s: %s: %s; counts %s", planned.sdk, outcome.status, outcome.reason, outcome.counts)
    log.info("%s: tested %s commit %s", planned.sdk, code["commit_kind"], code["commit"])
    for line in outcome.log_excerpt[-20:]:
        log.info("[%s job] %s", planned.sdk, line)
    links.persist(links.results_links(batch, outcome.job_id, bucket, planned.results_prefix))
    return {k: document[k] for k in ("sdk", "status", "reason", "counts", "job_id")}


def validate(config: CampaignConfig, run: dict, sdk_plans: list[dict], aws_conn_id: str) -> dict:
    from sdk_campaigns import history
    from sdk_campaigns.campaign.validation import validate_results
    from sdk_campaigns.reporting.report import report_path  # imports pyarrow and DuckDB: publish only

    campaign_run = RunPlan.from_xcom(run, sdk_plans)
    s3 = AwsContext(aws_conn_id).client("s3")
    bucket = config.campaign.results_bucket
    history.use_airflow_connection(aws_conn_id)  # the quarantine's page changes live with the history
    found = quarantine.judged_outcomes(s3, config, campaign_run)
    rows = [row for outcome in found for row in outcome["rows"] if not row["quarantined"]]
    slos = {
        sdk: {"min_pass_rate": s.slo_min_pass_rate, "max_test_seconds": s.max_test_seconds}
        for sdk, s in config.sdks.items()
    }
    docs_dir = report_path(config.report_dir(), campaign_run.dag_id, campaign_run.run_id).parent / "data-docs"
    result = validate_results(rows, [p.sdk for p in campaign_run.sdks], slos, docs_dir=docs_dir)
    summary = {
        "success": result.success,
        "summary": result.summary(),
        "failed": result.failed_expectations,
        "data_docs": str(docs_dir / "index.html"),
    }
    outcomes.write_validation(s3, bucket, campaign_run, {**summary, "gx": result.report})
    (log.info if result.success else log.warning)("validation %s", result.summary())
    links.persist(links.data_docs_links(config, campaign_run.run_id))
    return summary


def validation_summary() -> dict:
    """What validate returned, or {} when it did not run (the publish task runs it: stages.py)."""
    return _ti().xcom_pull(task_ids=task_ids.PUBLISH, key=task_ids.VALIDATION_XCOM_KEY) or {}


def publish(config: CampaignConfig, run: dict, sdk_plans: list[dict], outlet_events, aws_conn_id: str) -> str:
    from sdk_campaigns import history
    from sdk_campaigns.publish import publish_run

    history.use_airflow_connection(aws_conn_id)
    return publish_run(
        config,
        RunPlan.from_xcom(run, sdk_plans),
        validation_summary(),
        outlet_events,
        AwsContext(aws_conn_id),
    )


def find_breaks(config: CampaignConfig, run: dict, aws_conn_id: str) -> list[dict]:
    """One culprit finder trigger per SDK that broke between two commits (culprit/breaks.py)."""
    from sdk_campaigns import history
    from sdk_campaigns.culprit.breaks import bisection_requests

    if not config.culprit.enabled:
        log.info("culprit.enabled is false: no bisections")
        return []
    history.use_airflow_connection(aws_conn_id)
    found = bisection_requests(config, run["dag_id"], run["logical_date"])
    for request in found:
        log.info(
            "break: %s; starting %s run %s", request["note"], config.culprit.dag_id, request["trigger_run_id"]
        )
    return found


def verdict(config: CampaignConfig, run: dict, sdk_plans: list[dict], aws_conn_id: str) -> None:
    from sdk_campaigns import history

    campaign_run = RunPlan.from_xcom(run, sdk_plans)
    s3 = AwsContext(aws_conn_id).client("s3")
    history.use_airflow_connection(aws_conn_id)
    found = quarantine.judged_outcomes(s3, config, campaign_run)  # quarantined tests fail nothing
    verdicts.decide(campaign_run, found, validation_summary())
