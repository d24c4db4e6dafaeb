"""The published folder (reports, Data Docs, feed, badges) uploaded to S3 on moto server over
HTTP, then read back: keys, order, Content-Type and Cache-Control as a browser or shields.io
would get them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from sdk_campaigns import history
from sdk_campaigns.history import analytics
from sdk_campaigns.reporting import feed, publishing, report

pytestmark = pytest.mark.stack

DAG = "it_report_publishing"
DATES = ("2026-11-20T06:00:00+00:00", "2026-11-21T06:00:00+00:00")


@pytest.fixture(scope="module")
def s3(aws_client):
    return aws_client("s3")


@pytest.fixture
def bucket(s3):
    name = f"it-reports-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def _publish_locally(tmp_path: Path) -> tuple[Path, list[Path]]:
    """Two published runs of two SDKs, as publish_run leaves them: the DAG's folder and run folders."""
    uri, report_dir = str(tmp_path / "history"), tmp_path / "reports"
    run_dirs = []
    for date in DATES:
        run_id = f"scheduled__{date}"
        path = report.report_path(report_dir, DAG, run_id)
        for sdk, status in (("python", "passed"), ("go", "tests_failed")):
            summary = {
                "dag_id": DAG,
                "logical_date": date,
                "sdk": sdk,
                "run_id": run_id,
                "status": status,
                "counts": {"passed": 1, "failed": int(status != "passed"), "error": 0, "skipped": 0},
                "report": str(path),
            }
            history.write_partition(uri, summary, [], sync=False)
        summaries = history.read_summaries(uri, DAG)
        board = analytics.dashboard(uri, DAG)
        html = report.render_report(
            dag_id=DAG,
            run_id=run_id,
            logical_date=date,
            partitions=history.read_run(uri, DAG, date),
            validation={"summary": "ok", "data_docs": "data-docs/index.html"},
            history=summaries,
            dashboard=board,
        )
        report.write_report(path, html)
        (path.parent / "data-docs" / "static").mkdir(parents=True)
        (path.parent / "data-docs" / "index.html").write_text("<html>docs</html>")
        (path.parent / "data-docs" / "static" / "style.css").write_text("body{}")
        feed.write_feed(report_dir, board, run_links=report.run_report_links(summaries))
        run_dirs.append(path.parent)
    (report_dir / DAG / ".latest.html.abc123.tmp").write_text("a write in progress")
    return report_dir / DAG, run_dirs


def _objects(s3, bucket: str) -> dict[str, dict]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: s3.head_object(Bucket=bucket, Key=key) for key in keys}


def test_one_run_and_the_pointers_are_uploaded_with_their_content_types(s3, bucket, tmp_path):
    dag_dir, (older, newest) = _publish_locally(tmp_path)
    prefix = f"sdk/reports/{DAG}"
    keys = publishing.upload_published(s3, dag_dir, f"s3://{bucket}/{prefix}/", run_dir=newest)
    run = newest.name
    assert keys == [
        f"{prefix}/{run}/data-docs/index.html",
        f"{prefix}/{run}/data-docs/static/style.css",
        f"{prefix}/{run}/report.html",
        f"{prefix}/badges/go.json",
        f"{prefix}/badges/python.json",
        f"{prefix}/feed.json",
        f"{prefix}/latest.html",  # last: it links to everything above
    ]
    objects = _objects(s3, bucket)
    assert sorted(objects) == sorted(keys)  # the older run's folder and the temp file stay local
    types = {key.removeprefix(prefix + "/"): head["ContentType"] for key, head in objects.items()}
    assert types == {
        f"{run}/data-docs/index.html": "text/html; charset=utf-8",
        f"{run}/data-docs/static/style.css": "text/css; charset=utf-8",
        f"{run}/report.html": "text/html; charset=utf-8",
        "badges/go.json": "application/json",
        "badges/python.json": "application/json",
        "feed.json": "application/json",
        "latest.html": "text/html; charset=utf-8",
    }
    caching = {key.removeprefix(prefix + "/"): head.get("CacheControl") for key, head in objects.items()}
    assert {k for k, v in caching.items() if v == "no-cache"} == {
        "badges/go.json",
        "badges/python.json",
        "feed.json",
        "latest.html",
    }
    latest = s3.get_object(Bucket=bucket, Key=f"{prefix}/latest.html")["Body"].read().decode()
    assert latest == (dag_dir / "latest.html").read_text()
    assert f"<base href='{run}/'>" in latest and "class='sdk-health'" in latest
    go_badge = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/badges/go.json")["Body"].read())
    assert go_badge == {"schemaVersion": 1, "label": "go sdk", "message": "1 failing", "color": "red"}
    published_feed = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/feed.json")["Body"].read())
    assert published_feed["sdks"]["python"]["report"] == f"{run}/report.html"
    assert f"{prefix}/{run}/report.html" in keys  # the feed's link resolves inside the bucket


def test_without_a_run_folder_everything_is_uploaded(s3, bucket, tmp_path):
    dag_dir, (older, newest) = _publish_locally(tmp_path)
    keys = publishing.upload_published(s3, dag_dir, f"s3://{bucket}")
    assert keys[-3:] == ["badges/python.json", "feed.json", "latest.html"]
    assert {k.split("/")[0] for k in keys[:6]} == {older.name, newest.name}
    assert len(keys) == 2 * 3 + 2 + 2 and sorted(_objects(s3, bucket)) == sorted(keys)


def test_bad_destinations_and_folders_are_refused(s3, tmp_path):
    dag_dir, _ = _publish_locally(tmp_path)
    with pytest.raises(publishing.PublishingError, match="not an S3 location"):
        publishing.upload_published(s3, dag_dir, "https://bucket/prefix")
    with pytest.raises(publishing.PublishingError, match="not inside the published folder"):
        publishing.upload_published(s3, dag_dir, "s3://bucket/prefix", run_dir=tmp_path / "history")
