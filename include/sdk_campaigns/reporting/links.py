"""Extra links on the campaign's tasks: the job's CloudWatch log stream, the ECR image, the image
build's log (CodeBuild), the S3 results and the Great Expectations Data Docs (registered by
plugins/sdk_campaigns_links.py).

Each task stores what its links need in one XCom (`LINKS_XCOM_KEY`), one part per link, so every
map index of a mapped task has its own links; the api-server builds the URLs from it when the
task's page asks. Values come from task outputs (job descriptions, repository URIs): each is
checked against what AWS allows and URL-quoted. A link that has nothing to point at is "", which
the UI does not show.
"""

from __future__ import annotations

import json
import logging
import re
from abc import abstractmethod
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import quote, urlencode

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.models.taskinstancekey import TaskInstanceKey

    from sdk_campaigns.config import CampaignConfig

log = logging.getLogger(__name__)

LINKS_XCOM_KEY = "sdk_campaigns_links"
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
ACCOUNT = re.compile(r"^\d{12}$")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
ECR_REPOSITORY = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
ECR_REPOSITORY_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repository>.+)$"
)
DATA_DOCS_FILE = "data-docs/index.html"  # next to the run's report (tasks.validate writes it)


def _text(value: object, limit: int = 1024) -> str:
    return value if isinstance(value, str) and 0 < len(value) <= limit else ""


def console_url(region: str) -> str:
    """The AWS console of the region's partition, or "" for a name that is no region."""
    if not REGION.match(_text(region, 32)):
        return ""
    if region.startswith("cn-"):
        return f"https://{region}.console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return f"https://{region}.console.amazonaws-us-gov.com"
    return f"https://{region}.console.aws.amazon.com"


def _console_fragment_escape(value: str) -> str:
    # CloudWatch's logsV2 fragment takes names URL-quoted twice over, with '%' written '$25'.
    return quote(value, safe="").replace("%", "$25")


def cloudwatch_log_url(region: str, group: str, stream: str) -> str:
    console = console_url(region)
    if not (console and _text(group, 512) and _text(stream, 512)):
        return ""
    return (
        f"{console}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
        f"{_console_fragment_escape(group)}/log-events/{_console_fragment_escape(stream)}"
    )


def ecr_image_url(region: str, account: str, repository: str, digest: str) -> str:
    console = console_url(region)
    if not (
        console
        and ACCOUNT.match(_text(account))
        and ECR_REPOSITORY.match(_text(repository, 256))
        and DIGEST.match(_text(digest))
    ):
        return ""
    return (
        f"{console}/ecr/repositories/private/{account}/{quote(repository, safe='/')}/_/image/"
        f"{quote(digest, safe=':')}/details?region={region}"
    )


def s3_prefix_url(region: str, bucket: str, prefix: str) -> str:
    console = console_url(region)
    if not (console and BUCKET.match(_text(bucket, 63)) and _text(prefix)):
        return ""
    host = "https://s3.console.aws.amazon.com" if console.endswith(".aws.amazon.com") else console
    query = urlencode({"region": region, "prefix": prefix}, quote_via=quote, safe="/")
    return f"{host}/s3/buckets/{bucket}?{query}"


def data_docs_link(dag_id: str, run_id: str) -> str:
    """Where the SDK Health plugin serves a run's Data Docs: beside the run's report."""
    from sdk_campaigns.reporting.health_app import reports_url
    from sdk_campaigns.reporting.report import run_folder

    if not (_text(dag_id, 250) and _text(run_id, 250)):
        return ""
    return f"{reports_url(dag_id)}{run_folder(run_id)}/{DATA_DOCS_FILE}"


# What the tasks store: one part per link, built from what the task learned.


def image_links(repository_uri: str, digest: str) -> dict[str, dict]:
    """build_image's part: the image in its ECR repository (account and region from the URI)."""
    found = ECR_REPOSITORY_URI.match(_text(repository_uri))
    if not found:
        return {}
    return {"ecr": {**found.groupdict(), "digest": digest}}


def build_links(build: dict) -> dict[str, dict]:
    """build_image's part when CodeBuild builds the image: the build's CloudWatch log (region from the
    build's ARN). Without a group in the build's `logs` (moto answers none), CodeBuild's default: group
    /aws/codebuild/<project>, stream the build id's UUID."""
    arn = _text(build.get("arn")).split(":")
    project, _, uuid = _text(build.get("id")).partition(":")
    if len(arn) < 6 or not (project and uuid):
        return {}
    logs = build.get("logs") if isinstance(build.get("logs"), dict) else {}
    group = _text(logs.get("groupName"), 512) or f"/aws/codebuild/{project}"
    stream = _text(logs.get("streamName"), 512) or uuid
    return {"build_logs": {"region": arn[3], "group": group, "stream": stream}}


def results_links(batch, job_id: str | None, bucket: str, prefix: str) -> dict[str, dict]:
    """collect's parts: the SDK's S3 results and its job's own log stream (from the job's
    description, as collect reads it; a job that never ran has no stream)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from sdk_campaigns.campaign.collect import job_log_stream

    region = batch.meta.region_name
    links = {"s3": {"region": region, "bucket": bucket, "prefix": prefix}}
    if not job_id:
        return links
    try:
        jobs = batch.describe_jobs(jobs=[job_id])["jobs"]
    except (BotoCoreError, ClientError) as err:  # a link is not worth failing collect for
        log.warning("no log stream link for job %s: %s", job_id, err)
        return links
    stream = job_log_stream(jobs[0]) if jobs else None
    if stream:
        links["logs"] = {"region": region, "group": stream[0], "stream": stream[1]}
    return links


def data_docs_links(config: CampaignConfig, run_id: str) -> dict[str, dict]:
    """validate's part: the run's Data Docs, once written beside the run's report."""
    from sdk_campaigns.reporting.report import report_path

    written = report_path(config.report_dir(), config.campaign.dag_id, run_id).parent / DATA_DOCS_FILE
    if not written.is_file():
        return {}
    return {"data_docs": {"dag_id": config.campaign.dag_id, "run_id": run_id}}


def persist(parts: dict[str, dict]) -> None:
    """Store the running task instance's link parts (inside a task only)."""
    from airflow.sdk import get_current_context

    if parts:
        get_current_context()["ti"].xcom_push(key=LINKS_XCOM_KEY, value=parts)


def stored_parts(ti_key: TaskInstanceKey) -> dict:
    """The link parts a task instance stored, read from the metadata database (api-server side,
    where plugin links run)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        value = session.scalar(
            XComModel.get_many(
                key=LINKS_XCOM_KEY,
                run_id=ti_key.run_id,
                dag_ids=ti_key.dag_id,
                task_ids=ti_key.task_id,
                map_indexes=ti_key.map_index,
            )
            .with_only_columns(XComModel.value)
            .limit(1)
        )
    if isinstance(value, str | bytes):
        # Plain JSON only: XComDecoder could build arbitrary classes from a stored value.
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


class CampaignLink(BaseOperatorLink):
    """A link built from one part of what the task stored under LINKS_XCOM_KEY."""

    part: ClassVar[str]

    @abstractmethod
    def url(self, values: dict) -> str:
        """The URL from the part's values; "" when they do not make one."""

    def get_link(self, operator, *, ti_key: TaskInstanceKey) -> str:
        values = stored_parts(ti_key).get(self.part)
        return self.url(values) if isinstance(values, dict) else ""


class CloudWatchLogLink(CampaignLink):
    name = "Job log (CloudWatch)"
    part = "logs"

    def url(self, values: dict) -> str:
        return cloudwatch_log_url(values.get("region"), values.get("group"), values.get("stream"))


class EcrImageLink(CampaignLink):
    name = "Test image (ECR)"
    part = "ecr"

    def url(self, values: dict) -> str:
        return ecr_image_url(
            values.get("region"), values.get("account"), values.get("repository"), values.get("digest")
        )


class ImageBuildLogLink(CloudWatchLogLink):
    """The CodeBuild build's log stream: a CloudWatch link of its own part."""

    name = "Image build log (CodeBuild)"
    part = "build_logs"


class S3ResultsLink(CampaignLink):
    name = "Results (S3)"
    part = "s3"

    def url(self, values: dict) -> str:
        return s3_prefix_url(values.get("region"), values.get("bucket"), values.get("prefix"))


class DataDocsLink(CampaignLink):
    name = "Data Docs (Great Expectations)"
    part = "data_docs"

    def url(self, values: dict) -> str:
        return data_docs_link(values.get("dag_id"), values.get("run_id"))


CAMPAIGN_LINKS = (CloudWatchLogLink(), EcrImageLink(), ImageBuildLogLink(), S3ResultsLink(), DataDocsLink())
