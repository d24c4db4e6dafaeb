"""The bodies of the campaign DAG's tasks: thin glue between Airflow's context and the library.

Task outputs that can be large (every test row, the job log) travel through the
results bucket, next to the JUnit they came from; XCom carries only small summaries.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError

from sdk_campaigns.campaign import collect as collecting
from sdk_campaigns.campaign import environment as infrastructure
from sdk_campaigns.campaign import metrics
from sdk_campaigns.campaign.assets import history_asset
from sdk_campaigns.campaign.aws import AwsContext
from sdk_campaigns.campaign.images import BASE_IMAGE, build_and_push, docker_client
from sdk_campaigns.campaign.junit import MAX_JUNIT_BYTES
from sdk_campaigns.campaign.plan import DEFAULT_FAILURE_POLICY, plan_campaign
from sdk_campaigns.config import CampaignConfig
from sdk_campaigns.history import store as history
from sdk_campaigns.reporting import report

log = logging.getLogger(__name__)

OUTCOME_FILE = "outcome.json"
VALIDATION_FILE = "validation.json"
FAILING_STATUSES = (collecting.SDK_INFRA_FAILED, collecting.SDK_RESULTS_INVALID)


class CampaignFailed(RuntimeError):
    """The campaign itself failed (infrastructure, or invalid results under policy 'fail')."""


def _context():
    from airflow.sdk import get_current_context

    return get_current_context()


def _logical_date(dag_run) -> str:
    # Manual runs may have no logical date in Airflow 3; run_after is always set.
    moment = dag_run.logical_date or dag_run.run_after
    return moment.isoformat()


def plan_run(config: CampaignConfig, params: dict, dag_run) -> list[dict]:
    plans = plan_campaign(
        config,
        sdks=params.get("sdks"),
        ref=params.get("ref"),
        overrides=params.get("overrides"),
        run_id=dag_run.run_id,
        logical_date=_logical_date(dag_run),
        clear_number=getattr(dag_run, "clear_number", 0) or 0,
    )
    for plan in plans:
        source = plan["repo_url"] or "the image's sample SDK"
        log.info("plan: %s tests %s at %s", plan["sdk"], source, plan["ref"])
    return plans


def ensure_environment(config: CampaignConfig, plans: list[dict], aws_conn_id: str) -> dict:
    aws = AwsContext(aws_conn_id)
    ecr, iam, batch, s3 = (aws.client(s) for s in ("ecr", "iam", "batch", "s3"))
    repositories = {
        p["sdk"]: infrastructure.ensure_ecr_repository(ecr, p["repository"], config.campaign.ecr_keep_images)
        for p in plans
    }
    bucket = config.campaign.results_bucket
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        try:
            s3.create_bucket(Bucket=bucket)
            log.info("created results bucket %s", bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass  # a concurrent run of the same campaign created it
    subnets, groups = infrastructure.default_network(aws.client("ec2"), config.batch)
    service_role = infrastructure.ensure_role(
        iam, config.batch.service_role_name, infrastructure.BATCH_SERVICE_POLICY_ARN, "batch.amazonaws.com"
    )
    infrastructure.ensure_compute_environment(batch, config.batch, subnets, groups, service_role)
    infrastructure.ensure_job_queue(batch, config.batch)
    return {
        "repositories": repositories,
        "execution_role_arn": infrastructure.ensure_role(
            iam, config.batch.execution_role_name, infrastructure.EXECUTION_POLICY_ARN
        ),
        "job_role_arn": infrastructure.ensure_job_role(iam, config.batch.job_role_name, bucket),
    }


def build_sdk_image(plan: dict, aws_conn_id: str) -> dict:

    aws = AwsContext(aws_conn_id)
    pushed = build_and_push(
        docker_client(),
        sdk=plan["sdk"],
        folder=plan["image_folder"],
        repository=plan["repository"],
        auth=aws.registry_auth(),
        base_image=BASE_IMAGE,
    )
    verb = "built and pushed" if pushed.built else "reused"
    log.info("%s: %s %s (%s) in %.2f s", plan["sdk"], verb, pushed.image, pushed.digest[:19], pushed.seconds)
    return pushed.to_dict()


def _built_images(plans: list[dict]) -> list[dict | None]:
    """build_image's result per map index; None where that SDK's build failed."""
    ti = _context()["ti"]
    return [ti.xcom_pull(task_ids="build_image", map_indexes=i) for i in range(len(plans))]


def job_submissions(
    config: CampaignConfig, plans: list[dict], environment: dict, aws_conn_id: str
) -> list[dict]:
    aws = AwsContext(aws_conn_id)
    batch = aws.client("batch")
    extra_env = aws.job_environment()
    submissions = []
    for plan, image in zip(plans, _built_images(plans), strict=True):
        if image is None:
            log.error("%s: no image was built, so no job is submitted; collect reports it", plan["sdk"])
            continue
        spec = infrastructure.job_definition_spec(
            image=image["image"],
            sdk=config.sdks[plan["sdk"]],
            execution_role_arn=environment["execution_role_arn"],
            job_role_arn=environment["job_role_arn"],
        )
        definition = infrastructure.ensure_job_definition(batch, plan["job_definition"], spec)
        env = {**plan["environment"], **extra_env}
        submissions.append(
            {
                "job_name": plan["job_name"],
                "job_definition": definition,
                "container_overrides": {
                    "environment": [{"name": k, "value": v} for k, v in sorted(env.items())]
                },
                "tags": {"sdk": plan["sdk"], "dag_id": config.campaign.dag_id, "run_id": plan["run_id"]},
            }
        )
    if not submissions:
        raise CampaignFailed("no SDK image was built: nothing to run (see the build_image task logs)")
    return submissions


def _put_json(s3, bucket: str, key: str, document: dict) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json")


def collect_sdk(config: CampaignConfig, plan: dict, aws_conn_id: str) -> dict:
    aws = AwsContext(aws_conn_id)
    s3 = aws.client("s3")
    ti = _context()["ti"]
    image = ti.xcom_pull(task_ids="build_image", map_indexes=ti.map_index) or {}
    outcome = collecting.collect_outcome(
        batch=aws.client("batch"),
        logs=aws.client("logs"),
        s3=s3,
        sdk=plan["sdk"],
        job_queue=config.batch.job_queue,
        job_name=plan["job_name"],
        bucket=config.campaign.results_bucket,
        prefix=plan["results_prefix"],
        image=image.get("image", ""),
        digest=image.get("digest", ""),
        run_id=plan["run_id"],
        logical_date=plan["logical_date"],
        max_junit_bytes=MAX_JUNIT_BYTES,
    )
    if not image:
        outcome.reason = "the image build failed (see build_image): " + outcome.reason
    document = {**outcome.to_dict(), "ref": plan["ref"]}
    document["metrics"] = publish_sdk_metrics(aws.client("cloudwatch"), config, plan, document)
    _put_json(s3, config.campaign.results_bucket, plan["results_prefix"] + OUTCOME_FILE, document)
    log.info("%s: %s: %s; counts %s", plan["sdk"], outcome.status, outcome.reason, outcome.counts)
    for line in outcome.log_excerpt[-20:]:
        log.info("[%s job] %s", plan["sdk"], line)
    return {k: document[k] for k in ("sdk", "status", "reason", "counts", "job_id")}


def publish_sdk_metrics(cloudwatch, config: CampaignConfig, plan: dict, outcome: dict) -> dict[str, float]:
    """Publish the SDK's CloudWatch metrics and read them back for the run's window.

    Returns what CloudWatch answered (empty when the logical date is too old for
    CloudWatch, as in backfills, or the data is not readable yet); never fails collect.
    """
    settings = config.sdks[plan["sdk"]]
    data = metrics.campaign_metrics(
        outcome,
        dag_id=config.campaign.dag_id,
        vcpu=settings.vcpu,
        memory_gib=settings.memory_mib / 1024,
        queue_wait_seconds=outcome.get("queue_seconds"),
        logical_date=plan["logical_date"],
    )
    minute = metrics.as_timestamp(plan["logical_date"]).replace(second=0, microsecond=0)
    try:
        sent = metrics.publish(cloudwatch, data)
        found = metrics.read_back(
            cloudwatch,
            dag_id=config.campaign.dag_id,
            sdks=[plan["sdk"]],
            # The run's own minute only: CloudWatch aggregates to minutes, and a neighbouring
            # logical date's points must not add up into this run's numbers.
            start=minute,
            end=minute + timedelta(minutes=1),
        )[plan["sdk"]]
    except (BotoCoreError, ClientError) as err:  # metrics are informative: the results still land
        log.warning("%s: CloudWatch metrics could not be published or read back: %s", plan["sdk"], err)
        return {}
    log.info("%s: %d CloudWatch metrics published, %d read back", plan["sdk"], sent, len(found))
    return found


def read_outcomes(config: CampaignConfig, plans: list[dict], aws_conn_id: str = "aws_default") -> list[dict]:
    """Every planned SDK's outcome; an SDK whose collect task died gets an explicit one."""
    s3 = AwsContext(aws_conn_id).client("s3")
    outcomes = []
    for plan in plans:
        key = plan["results_prefix"] + OUTCOME_FILE
        try:
            body = s3.get_object(Bucket=config.campaign.results_bucket, Key=key)["Body"].read()
            outcomes.append(json.loads(body))
        except s3.exceptions.NoSuchKey:
            outcomes.append(
                {
                    **collecting.SdkOutcome(
                        sdk=plan["sdk"],
                        status=collecting.SDK_INFRA_FAILED,
                        reason="results were never collected (see the collect task log)",
                    ).to_dict(),
                    "ref": plan["ref"],
                }
            )
    return outcomes


def validate_run(config: CampaignConfig, plans: list[dict], aws_conn_id: str = "aws_default") -> dict:
    from sdk_campaigns.campaign.validation import validate_results

    outcomes = read_outcomes(config, plans, aws_conn_id)
    rows = [row for outcome in outcomes for row in outcome["rows"]]
    slos = {
        sdk: {"min_pass_rate": s.slo_min_pass_rate, "max_test_seconds": s.max_test_seconds}
        for sdk, s in config.sdks.items()
    }
    run_report = report.report_path(config.report_dir(), config.campaign.dag_id, plans[0]["run_id"])
    docs_dir = run_report.parent / "data-docs"
    result = validate_results(rows, [p["sdk"] for p in plans], slos, docs_dir=docs_dir)
    summary = {
        "success": result.success,
        "summary": result.summary(),
        "failed": result.failed_expectations,
        "data_docs": str(docs_dir / "index.html"),
    }
    s3 = AwsContext(aws_conn_id).client("s3")
    prefix = f"{config.campaign.dag_id}/{plans[0]['run_id']}/"
    _put_json(s3, config.campaign.results_bucket, prefix + VALIDATION_FILE, {**summary, "gx": result.report})
    (log.info if result.success else log.warning)("validation %s", result.summary())
    return summary


def publish_run(config: CampaignConfig, plans: list[dict], aws_conn_id: str = "aws_default") -> str:
    """Append every SDK's outcome to the history (replacing this logical date's partitions), write
    the report, and delete history partitions older than campaign.history_retention_days."""
    context = _context()
    outcomes = read_outcomes(config, plans, aws_conn_id)
    validation = context["ti"].xcom_pull(task_ids="validate") or {"summary": "validation did not run"}
    dag_id, run_id, logical_date = config.campaign.dag_id, plans[0]["run_id"], plans[0]["logical_date"]
    uri = config.history_uri()
    report_path = report.report_path(config.report_dir(), dag_id, run_id)
    metrics.publish(
        AwsContext(aws_conn_id).client("cloudwatch"),
        metrics.campaign_summary_metrics(outcomes, dag_id=dag_id, logical_date=logical_date),
    )
    for outcome in outcomes:
        rows = outcome.pop("rows")
        summary = {
            **outcome,
            "dag_id": dag_id,
            "run_id": run_id,
            "logical_date": logical_date,
            "validation": validation.get("summary"),
            "report": str(report_path),
        }
        try:
            history.write_partition(uri, summary, rows)
        except history.HistoryError as err:
            # One SDK's unstorable rows must not cost the others their history: keep its summary.
            log.error("%s: the history refused its test rows: %s", outcome["sdk"], err)
            summary.update(
                status=collecting.SDK_RESULTS_INVALID, reason=f"{summary['reason']}; rows not stored: {err}"
            )
            history.write_partition(uri, summary, [])
    publish_report(config, run_id, logical_date, validation, report_path, aws_conn_id)
    log.info("history written under %s; report at %s", uri, report_path)
    # Consumers of the history asset learn which date and SDKs this update brought.
    context["outlet_events"][history_asset(config)].extra = {
        "logical_date": logical_date,
        "run_id": run_id,
        "statuses": {o["sdk"]: o["status"] for o in outcomes},
        "history_uri": uri,
    }
    announce_findings(config, uri, plans[0], str(report_path), aws_conn_id)
    retention_days = config.campaign.history_retention_days
    if retention_days:  # after the report: a backfill older than the retention still gets one
        removed = history.prune(uri, dag_id, retention_days)
        log.info("history retention %d days: removed %d partitions", retention_days, len(removed))
    return str(report_path)


def publish_report(
    config: CampaignConfig, run_id: str, logical_date: str, validation: dict, report_path, aws_conn_id: str
) -> None:
    """The run's report with the campaign's dashboard, latest.html (unless this run is a backfill
    of an older date), feed.json and badges; and, in production, all of it to report_s3_uri."""
    from sdk_campaigns.history import analytics
    from sdk_campaigns.reporting import feed, publishing

    dag_id, uri = config.campaign.dag_id, config.history_uri()
    summaries = history.read_summaries(uri, dag_id)
    dashboard = analytics.dashboard(uri, dag_id)
    html = report.render_report(
        dag_id=dag_id,
        run_id=run_id,
        logical_date=logical_date,
        partitions=history.read_run(uri, dag_id, logical_date),
        validation=validation,
        history=summaries,
        dashboard=dashboard,
    )
    report.write_report(report_path, html, update_latest=report.is_newest_run(summaries, logical_date))
    base_url = config.campaign.report_base_url.rstrip("/")
    feed.write_feed(
        config.report_dir(),
        dashboard,
        run_links=report.run_report_links(summaries),
        base_url=f"{base_url}/{dag_id}/" if base_url else "",
    )
    if config.campaign.report_s3_uri:
        uploaded = publishing.upload_published(
            AwsContext(aws_conn_id).client("s3"),
            config.report_dir() / dag_id,
            f"{config.campaign.report_s3_uri.rstrip('/')}/{dag_id}",
            run_dir=report_path.parent,
        )
        log.info("published %d files to %s", len(uploaded), config.campaign.report_s3_uri)


def announce_findings(
    config: CampaignConfig, uri: str, plan: dict, report_path: str, aws_conn_id: str
) -> None:
    """Alert on this run's regressions, new flaky tests and newly broken SDKs (see config.alerts).

    A channel that fails is logged, not raised: history and report are already published.
    """
    from sdk_campaigns.campaign.alerts import AlertError, send_alert
    from sdk_campaigns.history.analytics import run_findings

    dag_id = config.campaign.dag_id
    findings = run_findings(uri, dag_id, plan["logical_date"])
    log.info(
        "findings: %d regressions, %d fixed, %d new flaky, %d newly broken",
        *(len(findings[k]) for k in ("regressions", "fixed", "new_flaky", "broken")),
    )
    try:
        channels = send_alert(
            {
                **findings,
                "dag_id": dag_id,
                "logical_date": plan["logical_date"],
                "run_id": plan["run_id"],
                "report": report_path,
            },
            sns_topic_arn=config.alerts.sns_topic_arn or None,
            aws_conn_id=aws_conn_id,
            http_conn_id=config.alerts.http_conn_id or None,
        )
        log.info("alert sent via %s", ", ".join(channels) if channels else "no channel")
    except AlertError as err:
        log.error("alert not delivered: %s", err)


def campaign_verdict(config: CampaignConfig, plans: list[dict], aws_conn_id: str = "aws_default") -> None:
    """Fail the run as its failure policy says (see plan.FAILURE_POLICIES): 'infrastructure' on
    infrastructure failures and invalid results, 'tests' on failed tests too, 'never' not at all.
    Broken expectations count when the validation policy is 'fail'."""
    policy = plans[0].get("failure_policy", DEFAULT_FAILURE_POLICY)
    validation_policy = plans[0].get("validation_policy") or config.validation.on_failure
    failing = (*FAILING_STATUSES, collecting.SDK_TESTS_FAILED) if policy == "tests" else FAILING_STATUSES
    outcomes = read_outcomes(config, plans, aws_conn_id)
    broken = [f"{o['sdk']}: {o['status']} ({o['reason']})" for o in outcomes if o["status"] in failing]
    validation = _context()["ti"].xcom_pull(task_ids="validate") or {}
    if validation_policy == "fail" and not validation.get("success", False):
        broken.append(f"validation {validation.get('summary', 'did not run')}")
    for outcome in outcomes:
        log.info("%-12s %-22s %s", outcome["sdk"], outcome["status"], outcome["reason"])
    if broken and policy == "never":
        log.warning("failure policy 'never': the run succeeds despite: %s", "; ".join(broken))
    elif broken:
        raise CampaignFailed(f"campaign failed (failure policy {policy!r}): " + "; ".join(broken))
