//! Sample SDK-example suite: passing, ignored (skipped) and, with SDK_SAMPLE_FAILURES=on,
//! failing tests.

use sample_sdk::{paginate, retry_delays, validate_bucket_name, Bucket, PageSizeError};

fn sample_failures() -> bool {
    std::env::var("SDK_SAMPLE_FAILURES").as_deref() == Ok("on")
}

#[test]
fn bucket_arn() {
    assert_eq!(Bucket::new("reports").arn(), "arn:aws:s3:::reports");
}

#[test]
fn bucket_name_rules() {
    assert!(validate_bucket_name("sdk-results"));
    assert!(!validate_bucket_name("Upper"));
}

#[test]
fn paginate_splits_pages() {
    assert_eq!(paginate(&[0, 1, 2, 3, 4], 2), Ok(vec![vec![0, 1], vec![2, 3], vec![4]]));
}

#[test]
fn paginate_rejects_zero_page_size() {
    assert_eq!(paginate(&[1], 0), Err(PageSizeError));
}

#[test]
fn retry_delays_are_capped() {
    let delays = retry_delays(6);
    let last = *delays.last().expect("six delays");
    if sample_failures() {
        // The demo's deliberate regression: the example expects no cap.
        assert_eq!(last, 3.2, "retry delay example expects exponential growth without a cap");
    }
    assert_eq!(last, 2.0);
}

#[test]
#[ignore = "needs real AWS credentials"]
fn list_buckets_live() {
    panic!("never runs");
}
