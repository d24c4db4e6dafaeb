"""Sample SDK-example suite: passing, skipped and (when SDK_SAMPLE_FAILURES=on) failing tests."""

import os

import pytest
from sample_sdk import Bucket, paginate, retry_delays, validate_bucket_name

SAMPLE_FAILURES = os.environ.get("SDK_SAMPLE_FAILURES") == "on"


def test_bucket_arn():
    assert Bucket("reports").arn() == "arn:aws:s3:::reports"


def test_bucket_name_rules():
    assert validate_bucket_name("sdk-results")
    assert not validate_bucket_name("Upper")


def test_paginate_splits_pages():
    assert paginate(list(range(5)), 2) == [[0, 1], [2, 3], [4]]


def test_paginate_rejects_zero_page_size():
    with pytest.raises(ValueError):
        paginate([1], 0)


def test_retry_delays_are_capped():
    delays = retry_delays(6)
    if SAMPLE_FAILURES:
        # The demo's deliberate regression: the example expects no cap.
        assert delays[-1] == 3.2, "retry delay example expects exponential growth without a cap"
    assert delays[-1] == 2.0


@pytest.mark.skip(reason="needs real AWS credentials; example runs only in the nightly account")
def test_list_buckets_live():
    raise AssertionError("never runs")
