"""The bisection as one deferrable task: submit a step's job, wait for it in the triggerer, judge it,
submit the next, until the bisection has its answer.

Each step is a Batch job (culprit/steps.py); between steps the task holds no worker: it defers on the
campaign's own Batch trigger (cancellable: stopping the task terminates the step's job). The
bisection's state (plain JSON) rides in the trigger and comes back in its event: `airflow dags test`
(3.3.2) hands a resumed task the event only, dropping the deferral's kwargs. A retried task starts over and
re-attaches to the jobs it already submitted (job names are per run and commit), so it re-reads
their results instead of running them again.
"""

from __future__ import annotations

import math

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException
from airflow.triggers.base import TriggerEvent

from sdk_campaigns.campaign.accounts import sdk_account
from sdk_campaigns.campaign.aws import AwsContext
from sdk_campaigns.campaign.batch_jobs import CancellableBatchJobTrigger
from sdk_campaigns.config import cached_config
from sdk_campaigns.culprit import bisect, steps
from sdk_campaigns.culprit.request import COMMITS_FILE, BisectionRequest


class BisectionStepTrigger(CancellableBatchJobTrigger):
    """The campaign's Batch job trigger, carrying the bisection's state to the task's next step."""

    ends_task_on_success = False  # a step's success resumes the task: the bisection goes on

    def __init__(self, *, step: dict, **kwargs):
        super().__init__(**kwargs)
        self.step = step

    def serialize(self):
        classpath, kwargs = super().serialize()
        return classpath, {**kwargs, "step": self.step}

    async def run(self):
        async for event in super().run():
            yield TriggerEvent({**event.payload, "step": self.step})


class BisectOperator(BaseOperator):
    """Finds the first commit where the tracked tests fail, one Batch job per step (see module doc)."""

    template_fields = ("plan",)

    def __init__(self, *, plan, aws_conn_id: str = "aws_default", **kwargs):
        super().__init__(**kwargs)
        self.plan = plan  # the plan task's XCom: request, key, record_key
        self.aws_conn_id = aws_conn_id

    # --- the loop ----------------------------------------------------------------------------------

    def execute(self, context):
        request = BisectionRequest.from_xcom(self.plan["request"])
        state = bisect.Bisection(good=request.good, bad=request.bad)
        self.log.info(
            "bisecting %s %s..%s for %d tests: %s",
            request.sdk,
            request.good,
            request.bad,
            len(request.tests),
            ", ".join(t.label for t in request.tests),
        )
        return self._next(context, state)

    def _next(self, context, state: bisect.Bisection):
        commit = state.next_commit()
        if commit is None:
            return self._finish(context, state)
        config = cached_config()
        request = BisectionRequest.from_xcom(self.plan["request"])
        account = sdk_account(config, request.sdk, self.aws_conn_id)  # its job definition lives there
        batch = account.client("batch")
        definition = steps.job_definition(batch, config, request.sdk)
        first = not state.steps
        prefix = steps.step_prefix(config, self.plan["key"], commit, request.sdk)
        job_name = steps.step_job_name(config, self.plan["key"], commit, request.sdk)
        job_id = steps.submit(
            batch,
            config,
            job_name=job_name,
            definition=definition["jobDefinitionArn"],
            environment=steps.step_environment(config, request, commit, prefix, first=first),
            tags={"sdk": request.sdk, "dag_id": context["dag"].dag_id, "run_id": context["run_id"]},
        )
        bound = bisect.max_jobs(len(state.commits)) if state.commits else "?"
        self.log.info(
            "step %d (of at most %s): %s at %s, job %s",
            len(state.steps) + 1,
            bound,
            request.sdk,
            commit,
            job_id,
        )
        timeout = config.sdks[request.sdk].timeout_seconds + 600
        poll = config.batch.poll_interval_seconds
        self.defer(
            trigger=BisectionStepTrigger(
                job_id=job_id,
                aws_conn_id=account.aws_conn_id,
                role_arn=account.role_arn,
                waiter_delay=poll,
                waiter_max_attempts=math.ceil(timeout / poll),
                step={"state": state.to_dict(), "commit": commit, "job_name": job_name, "prefix": prefix},
            ),
            method_name="step_done",
        )

    def step_done(self, context, event=None):
        from sdk_campaigns.campaign import collect

        step = (event or {}).get("step")
        if not step:
            raise AirflowFailException(f"the step's trigger returned no bisection state: {event!r}")
        commit, job_name, prefix = step["commit"], step["job_name"], step["prefix"]
        config = cached_config()
        request = BisectionRequest.from_xcom(self.plan["request"])
        bisection = bisect.Bisection.from_dict(step["state"])
        account = sdk_account(config, request.sdk, self.aws_conn_id)  # the step's job and log are there
        s3 = AwsContext(self.aws_conn_id).client("s3")  # its results are in the campaign's bucket
        bucket = config.campaign.results_bucket
        outcome = collect.collect_outcome(
            batch=account.client("batch"),
            logs=account.client("logs"),
            s3=s3,
            sdk=request.sdk,
            job_queue=config.batch.job_queue,
            job_name=job_name,
            bucket=bucket,
            prefix=prefix,
            image="",
            digest="",
            run_id=context["run_id"],
            logical_date=request.logical_date or context["dag_run"].run_after.isoformat(),
            limits=config.limits,
        )
        verdict, detail = steps.verdict(outcome, request.test_ids)
        self.log.info("%s at %s: %s (%s: %s)", request.sdk, commit, verdict, outcome.status, outcome.reason)
        if not bisection.steps:
            detail.update(self._commit_list(s3, bucket, prefix, bisection, config.culprit.max_commits))
        bisection.record(commit, verdict, **detail)
        return self._next(context, bisection)

    def _commit_list(
        self, s3, bucket: str, prefix: str, bisection: bisect.Bisection, max_commits: int
    ) -> dict:
        """Reads the first step's commit list into the bisection; what went wrong, if anything."""
        from sdk_campaigns.culprit.commits import CommitListError, parse_commit_list

        key = f"{prefix}results/{COMMITS_FILE}"
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read(8 * 1024 * 1024 + 1)
            good, bad, commits = parse_commit_list(body, max_commits=max_commits)
            bisection.set_commits(commits)
        except s3.exceptions.NoSuchKey:
            return {"commit_list_error": f"the job wrote no {COMMITS_FILE}"}
        except (CommitListError, bisect.BisectionError) as err:
            return {"commit_list_error": str(err)}
        self.log.info("%d commits from %s (good) to %s (bad)", len(commits), good, bad)
        return {"resolved_good": good, "resolved_bad": bad}

    # --- the answer --------------------------------------------------------------------------------

    def _finish(self, context, bisection: bisect.Bisection) -> dict:
        from sdk_campaigns import history
        from sdk_campaigns.culprit import records
        from sdk_campaigns.history import culprits

        config = cached_config()
        request = BisectionRequest.from_xcom(self.plan["request"])
        aws = AwsContext(self.aws_conn_id)
        bucket = config.campaign.results_bucket
        record = records.bisection_record(
            request,
            bisection,
            key=self.plan["key"],
            dag_id=context["dag"].dag_id,
            run_id=context["run_id"],
            record_uri=f"s3://{bucket}/{self.plan['record_key']}",
        )
        records.write_record(aws.client("s3"), bucket, self.plan["record_key"], record)
        history.use_airflow_connection(self.aws_conn_id)
        culprits.write_bisection(config.history_uri(), config.campaign.dag_id, record)
        for line in records.describe(record):
            self.log.info("%s", line)
        if bisection.result == bisect.INCONCLUSIVE:
            raise AirflowFailException(
                f"bisection inconclusive: {bisection.reason} (record {record['record_uri']})"
            )
        return record
