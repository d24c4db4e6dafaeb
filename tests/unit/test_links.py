import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from botocore.exceptions import ClientError

from sdk_campaigns.reporting import links
from sdk_campaigns.reporting.links import (
    CloudWatchLogLink,
    DataDocsLink,
    EcrImageLink,
    S3ResultsLink,
    cloudwatch_log_url,
    data_docs_link,
    data_docs_links,
    ecr_image_url,
    image_links,
    results_links,
    s3_prefix_url,
)

REPO = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "ab12" * 16


def _unescape_console(value: str) -> str:
    return unquote(value.replace("$25", "%"))


def test_cloudwatch_url_escapes_group_and_stream_as_the_console_does():
    url = cloudwatch_log_url("us-east-1", "/aws/batch/job", "sdk-campaigns-python/default/0123abcd")
    assert url == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/"
        "log-group/$252Faws$252Fbatch$252Fjob/log-events/sdk-campaigns-python$252Fdefault$252F0123abcd"
    )


def test_cloudwatch_url_keeps_hostile_stream_names_inside_their_segment():
    stream = "x/../y?region=evil#frag&a b%2F<script>"
    url = cloudwatch_log_url("eu-west-1", "/aws/batch/job", stream)
    fragment = url.split("#", 1)[1]
    assert "#" not in fragment and "?" not in fragment and " " not in fragment and "<" not in fragment
    assert _unescape_console(fragment.split("/log-events/")[1]) == stream


@pytest.mark.parametrize("region", ["", None, "us-east-1#x", "evil.example.com", "US-EAST-1", "us-east-1/x"])
def test_no_link_for_a_region_that_is_no_region(region):
    assert cloudwatch_log_url(region, "/aws/batch/job", "s") == ""
    assert ecr_image_url(region, "123456789012", "sdk-campaigns/python", DIGEST) == ""
    assert s3_prefix_url(region, "bucket-name", "p/") == ""


@pytest.mark.parametrize(
    ("region", "console"),
    [
        ("us-east-1", "https://us-east-1.console.aws.amazon.com"),
        ("ap-southeast-2", "https://ap-southeast-2.console.aws.amazon.com"),
        ("cn-north-1", "https://cn-north-1.console.amazonaws.cn"),
        ("us-gov-west-1", "https://us-gov-west-1.console.amazonaws-us-gov.com"),
    ],
)
def test_console_follows_the_regions_partition(region, console):
    assert cloudwatch_log_url(region, "g", "s").startswith(f"{console}/cloudwatch/home?region={region}#")


def test_ecr_url_names_account_repository_and_digest():
    assert ecr_image_url("us-east-1", "123456789012", "sdk-campaigns/python", DIGEST) == (
        "https://us-east-1.console.aws.amazon.com/ecr/repositories/private/123456789012/"
        f"sdk-campaigns/python/_/image/{DIGEST}/details?region=us-east-1"
    )


@pytest.mark.parametrize(
    ("account", "repository", "digest"),
    [
        ("12345", "sdk-campaigns/python", DIGEST),
        ("123456789012", "sdk-campaigns/../../admin", DIGEST),
        ("123456789012", "Sdk/Python", DIGEST),
        ("123456789012", "sdk-campaigns/python", "latest"),
        ("123456789012", "sdk-campaigns/python", DIGEST + "/../x"),
        ("123456789012", None, DIGEST),
    ],
)
def test_no_ecr_link_from_values_ecr_would_not_have(account, repository, digest):
    assert ecr_image_url("us-east-1", account, repository, digest) == ""


def test_image_links_read_account_and_region_from_the_repository_uri():
    uri = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/sdk-campaigns/go"
    assert image_links(uri, DIGEST) == {
        "ecr": {
            "account": "123456789012",
            "region": "eu-central-1",
            "repository": "sdk-campaigns/go",
            "digest": DIGEST,
        }
    }
    assert image_links("127.0.0.1:5000/sdk-campaigns/go", DIGEST) == {}


def test_s3_url_quotes_the_prefix_of_a_manual_run():
    prefix = "sdk_test_campaign/manual__2026-11-21T06:00:00+00:00/python/"
    url = s3_prefix_url("us-east-1", "sdk-campaigns-results", prefix)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://s3.console.aws.amazon.com/s3/buckets/sdk-campaigns-results"
    )
    assert "+" not in parts.query and "%2B" in parts.query  # a raw '+' would read as a space
    assert parse_qs(parts.query) == {"region": ["us-east-1"], "prefix": [prefix]}


def test_s3_prefix_cannot_add_query_parameters():
    url = s3_prefix_url("us-east-1", "bucket-name", "p/&region=evil&x=#y")
    assert parse_qs(urlsplit(url).query) == {"region": ["us-east-1"], "prefix": ["p/&region=evil&x=#y"]}


@pytest.mark.parametrize("bucket", ["Bucket", "b", "bucket/../x", "bucket?x", None])
def test_no_s3_link_for_a_bucket_name_s3_refuses(bucket):
    assert s3_prefix_url("us-east-1", bucket, "p/") == ""


def test_data_docs_link_is_the_health_plugins_path_beside_the_report():
    assert data_docs_link("sdk_test_campaign", "manual__2026-11-21T06:00:00+00:00") == (
        "/sdk-health/reports/sdk_test_campaign/manual__2026-11-21T06_00_00_00_00/data-docs/index.html"
    )
    assert data_docs_link("dag/../x", "scheduled__1") == (
        "/sdk-health/reports/dag%2F..%2Fx/scheduled__1/data-docs/index.html"
    )
    assert data_docs_link("", "run") == ""


def test_data_docs_part_only_once_the_run_wrote_them(sample_config, tmp_path):
    config = sample_config.model_copy(
        update={"campaign": sample_config.campaign.model_copy(update={"report_dir": str(tmp_path)})}
    )
    assert data_docs_links(config, "manual__1") == {}
    docs = tmp_path / "sdk_test_campaign" / "manual__1" / "data-docs" / "index.html"
    docs.parent.mkdir(parents=True)
    docs.write_text("<html></html>")
    assert data_docs_links(config, "manual__1") == {
        "data_docs": {"dag_id": "sdk_test_campaign", "run_id": "manual__1"}
    }


class FakeBatch:
    meta = SimpleNamespace(region_name="us-west-2")

    def __init__(self, jobs=None, error=None):
        self.jobs, self.error, self.asked = jobs or [], error, []

    def describe_jobs(self, jobs):
        self.asked.append(jobs)
        if self.error:
            raise self.error
        return {"jobs": self.jobs}


def test_results_links_take_the_log_stream_from_the_jobs_last_attempt():
    job = {
        "jobId": "j-1",
        "container": {"logStreamName": "def/default/first"},
        "attempts": [
            {"container": {"logStreamName": "def/default/first"}},
            {"container": {"logStreamName": "def/default/last"}},
        ],
    }
    batch = FakeBatch([job])
    found = results_links(batch, "j-1", "results-bucket", "dag/run/python/")
    assert batch.asked == [["j-1"]]
    assert found == {
        "s3": {"region": "us-west-2", "bucket": "results-bucket", "prefix": "dag/run/python/"},
        "logs": {"region": "us-west-2", "group": "/aws/batch/job", "stream": "def/default/last"},
    }


def test_results_links_without_a_job_or_its_description_link_the_results_only():
    assert set(results_links(FakeBatch(), None, "results-bucket", "p/")) == {"s3"}
    assert set(results_links(FakeBatch(), "j-gone", "results-bucket", "p/")) == {"s3"}
    error = ClientError({"Error": {"Code": "ServerException", "Message": "down"}}, "DescribeJobs")
    assert set(results_links(FakeBatch(error=error), "j-1", "results-bucket", "p/")) == {"s3"}


@pytest.fixture
def stored(monkeypatch):
    parts = {}
    monkeypatch.setattr(links, "stored_parts", lambda ti_key: parts)
    return parts


def test_each_link_builds_its_url_from_its_own_part(stored):
    stored.update(
        {
            "logs": {"region": "us-east-1", "group": "/aws/batch/job", "stream": "a/b"},
            "ecr": {"region": "us-east-1", "account": "123456789012", "repository": "r/p", "digest": DIGEST},
            "s3": {"region": "us-east-1", "bucket": "results-bucket", "prefix": "p/"},
            "data_docs": {"dag_id": "d", "run_id": "r"},
        }
    )
    key = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=0)
    assert CloudWatchLogLink().get_link(None, ti_key=key).endswith("/log-events/a$252Fb")
    assert "/_/image/" in EcrImageLink().get_link(None, ti_key=key)
    assert "/s3/buckets/results-bucket?" in S3ResultsLink().get_link(None, ti_key=key)
    assert DataDocsLink().get_link(None, ti_key=key) == "/sdk-health/reports/d/r/data-docs/index.html"


@pytest.mark.parametrize(
    "part", [None, "a string", ["a", "list"], {}, {"region": 1, "group": {}, "stream": []}]
)
def test_a_missing_or_malformed_part_shows_no_link(stored, part):
    stored["logs"] = part
    key = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1)
    assert CloudWatchLogLink().get_link(None, ti_key=key) == ""


def test_plugin_registers_the_links_for_every_task(tmp_path):
    script = (
        "from airflow import plugins_manager\n"
        "print(sorted(link.name for link in plugins_manager.get_global_operator_extra_links()))\n"
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    output = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    for name in (
        "Data Docs (Great Expectations)",
        "Job log (CloudWatch)",
        "Results (S3)",
        "Test image (ECR)",
    ):
        assert name in output
