"""
### SDK culprit finder

Bisects the commits between the last passing commit (`good`) and the first failing one (`bad`) of an
SDK's official lane, to name the first commit where its newly failing tests fail. The campaign starts
it when an SDK goes from passed to tests failed between two commits; start it by hand with
`airflow dags trigger sdk_culprit_finder --conf '{"sdk": "python", "repo_url": "https://github.com/org/sdk",
"good": "<sha>", "bad": "<sha>", "tests": ["suite.test_s3::test_list_buckets"]}'`.

Each step is an AWS Batch job of the campaign's own job definition running only those tests at one
commit. The first reruns `bad` (and lists the commits between): passing there means **not
reproducible** (the tests are recorded as flaky). Otherwise a binary search names the **first bad
commit**: at most ceil(log2(n)) + 1 jobs for n commits. One bisection per SDK at a time (a lock per
SDK; a second one waits). The record goes to the results bucket and beside the history
(docs/culprit-finder.md).

**Params**
- `sdk`: the SDK (one of the campaign config's).
- `repo_url`: its repository (https://, http:// or git://).
- `good`, `bad`: commits (full SHAs, or refs) where the tests passed and failed.
- `tests`: the newly failing tests, each `<classname>::<name>` as JUnit names it, or a history test
  id (16 hex digits; such a test makes every step run the whole suite).
- `logical_date`: optional, the campaign run that saw the break (recorded).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, PokeReturnValue, chain, task
from airflow.task.trigger_rule import TriggerRule

from sdk_campaigns.campaign.plan import REF_PARAM_PATTERN
from sdk_campaigns.config import cached_config
from sdk_campaigns.culprit.operator import BisectOperator

CONFIG = cached_config()
AWS_CONN_ID = "aws_default"

with DAG(
    dag_id=CONFIG.culprit.dag_id,
    schedule=None,
    start_date=datetime.combine(CONFIG.campaign.start_date, datetime.min.time()),
    catchup=False,
    max_active_runs=len(CONFIG.sdks),  # one per SDK at most runs its jobs: the lock below
    dagrun_timeout=timedelta(minutes=CONFIG.culprit.lock_wait_minutes) + timedelta(hours=12),
    default_args={"retries": 0},
    params={
        "sdk": Param(
            CONFIG.sdk_names[0],
            type="string",
            enum=CONFIG.sdk_names,
            title="SDK",
            description="The SDK whose official lane broke",
        ),
        "repo_url": Param(
            "",
            type="string",
            title="Repository",
            description="The SDK's repository: https://host/path, http://host/path or git://host/path",
        ),
        "good": Param(
            "",
            type="string",
            pattern=REF_PARAM_PATTERN,
            title="Good commit",
            description="Where the tests passed",
        ),
        "bad": Param(
            "", type="string", pattern=REF_PARAM_PATTERN, title="Bad commit", description="Where they failed"
        ),
        "tests": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Newly failing tests",
            description="Each '<classname>::<name>' (JUnit's names) or a history test id (16 hex digits)",
        ),
        "logical_date": Param(
            "",
            type=["string", "null"],
            title="Campaign run",
            description="Optional: the logical date of the campaign run that saw the break (recorded)",
        ),
    },
    tags=["sdk-campaigns", "aws-batch", "bisection"],
    doc_md=__doc__,
) as dag:

    @task(task_id="plan", execution_timeout=timedelta(minutes=2))
    def plan(params: dict, dag_run=None) -> dict:
        """The conf checked against the campaign config (a bad value fails here, named), this run's
        key, where its record goes and its SDK's lock."""
        from sdk_campaigns.culprit import finder

        return finder.plan(CONFIG, params, dag_run.dag_id, dag_run.run_id)

    @task.sensor(
        task_id="take_sdk_lock",
        mode="reschedule",
        poke_interval=60,
        timeout=CONFIG.culprit.lock_wait_minutes * 60,
        execution_timeout=timedelta(minutes=CONFIG.culprit.lock_wait_minutes + 5),
    )
    def take_sdk_lock(plan: dict, dag_run=None) -> PokeReturnValue:
        """At most one bisection per SDK: waits while another run holds this SDK's lock (an S3
        object created with a conditional PUT); a stale lock is taken over."""
        from sdk_campaigns.culprit import finder

        return PokeReturnValue(is_done=finder.take_sdk_lock(CONFIG, plan, dag_run.run_id, AWS_CONN_ID))

    @task(
        task_id="release_sdk_lock", trigger_rule=TriggerRule.ALL_DONE, execution_timeout=timedelta(minutes=2)
    )
    def release_sdk_lock(plan: dict, dag_run=None) -> None:
        """Deletes this SDK's lock if this run holds it, whatever the bisection did."""
        from sdk_campaigns.culprit import finder

        finder.release_sdk_lock(CONFIG, plan, dag_run.run_id, AWS_CONN_ID)

    # setup
    planned = plan()
    lock = take_sdk_lock(planned)
    # body: one Batch job per step, waited for in the triggerer
    bisection = BisectOperator(
        task_id="bisect",
        plan=planned,
        aws_conn_id=AWS_CONN_ID,
        execution_timeout=timedelta(hours=12),
        doc_md="Reruns the bad commit (listing the commits between), then bisects: one Batch job per step "
        "running only the newly failing tests; names the first bad commit, or not reproducible. Writes the "
        "record to the results bucket and the culprit table beside the history.",
    )
    # teardown
    release = release_sdk_lock(planned)
    chain(lock, bisection, release.as_teardown(setups=lock))
