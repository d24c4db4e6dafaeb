"""In-memory and on-disk stand-ins for the boto3 clients collect and the outcome readers use: just the
calls they make, with boto3's shapes (paginators, StreamingBody-like bodies, NoSuchKey); and the campaign
stack's resources as `plan` reads them from its output."""

from __future__ import annotations

import copy
import io
import shutil
from pathlib import Path


def campaign_resources(**changes):
    """The campaign stack's CampaignResources, as plan reads them; `changes` replace fields."""
    from sdk_campaigns.campaign.resources import CampaignResources, SdkResources

    fields = {
        "stack_name": "sdk-campaigns",
        "results_bucket": "b",
        "job_queue": "q",
        "job_queue_arn": "arn:q",
        "compute_environment_arn": "arn:ce",
        "execution_role_arn": "arn:exec",
        "log_group": "/aws/batch/job",
        "alerts_topic_arn": "arn:topic",
        "image_build_project": "builds",
        "assign_public_ip": "ENABLED",
        "sdks": {"python": SdkResources("1.dkr.ecr.us-east-1.amazonaws.com/p/python", "arn:job-python")},
    }
    return CampaignResources(**{**fields, **changes})


class NoSuchKey(Exception):
    pass


class _Exceptions:
    NoSuchKey = NoSuchKey


class _Pages:
    def __init__(self, pages):
        self._pages = pages

    def paginate(self, **kwargs):
        return self._pages(**kwargs)


class FolderS3:
    """S3 on a local folder (<root>/<bucket>/<key>): bodies stream from and to files, as boto3's do."""

    exceptions = _Exceptions
    PAGE_SIZE = 1000

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, bucket: str, key: str) -> Path:
        return self.root / bucket / key

    def put_object(self, *, Bucket, Key, Body, ContentType=None):  # noqa: N803 (boto3's names)
        target = self.path(Bucket, Key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            if isinstance(Body, bytes | bytearray):
                out.write(Body)
            else:
                shutil.copyfileobj(Body, out)
        return {}

    def get_object(self, *, Bucket, Key):  # noqa: N803
        target = self.path(Bucket, Key)
        if not target.is_file():
            raise NoSuchKey(Key)
        return {"Body": open(target, "rb"), "ContentLength": target.stat().st_size}  # noqa: SIM115

    def get_paginator(self, name: str):
        assert name == "list_objects_v2"

        def pages(*, Bucket, Prefix):  # noqa: N803
            base = self.root / Bucket
            keys = sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
            found = [{"Key": k, "Size": (base / k).stat().st_size} for k in keys if k.startswith(Prefix)]
            for start in range(0, max(len(found), 1), self.PAGE_SIZE):
                yield {"Contents": found[start : start + self.PAGE_SIZE]} if found else {}

        return _Pages(pages)


class OneJobBatch:
    """Batch with one finished job (ListJobs and DescribeJobs)."""

    def __init__(self, *, status="SUCCEEDED", exit_code=0, log_stream="sdk/default/abc"):
        self.job = {
            "jobId": "job-1",
            "jobName": "the-job",
            "jobDefinition": "the-definition",
            "status": status,
            "startedAt": 1_000,
            "stoppedAt": 61_000,
            "container": {"exitCode": exit_code, "logStreamName": log_stream},
        }

    def get_paginator(self, name: str):
        assert name == "list_jobs"
        return _Pages(lambda **kwargs: [{"jobSummaryList": [{"jobId": "job-1", "createdAt": 1}]}])

    def describe_jobs(self, *, jobs):
        return {"jobs": [copy.deepcopy(self.job)]}

    def describe_job_definitions(self, *, jobDefinitions):  # noqa: N803
        return {"jobDefinitions": []}


class PagedLogs:
    """CloudWatch Logs' GetLogEvents over `lines`, `page` events at a time, with forward tokens."""

    def __init__(self, lines: list[str], page: int = 10_000):
        self.lines, self.page = lines, page
        self.calls = 0

    def get_log_events(self, *, logGroupName, logStreamName, startFromHead, nextToken=None):  # noqa: N803
        self.calls += 1
        start = int(nextToken or 0)
        events = [{"message": m} for m in self.lines[start : start + self.page]]
        end = min(start + self.page, len(self.lines))
        return {"events": events, "nextForwardToken": str(end)}


def read_text(s3: FolderS3, bucket: str, key: str) -> str:
    with s3.get_object(Bucket=bucket, Key=key)["Body"] as body:
        return io.TextIOWrapper(body, encoding="utf-8").read()
