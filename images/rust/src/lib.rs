//! A tiny stand-in SDK: the sample suite exercises it like an SDK's code examples would.

use std::fmt;

/// An S3 bucket in a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    pub region: String,
}

impl Bucket {
    /// A bucket in the default region, us-east-1.
    pub fn new(name: &str) -> Self {
        Bucket { name: name.to_string(), region: "us-east-1".to_string() }
    }

    /// The bucket's Amazon Resource Name.
    pub fn arn(&self) -> String {
        format!("arn:aws:s3:::{}", self.name)
    }
}

/// Whether `name` follows the (simplified) bucket naming rules.
pub fn validate_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len()) && name == name.to_lowercase() && !name.starts_with('-')
}

/// The error of `paginate` for a page size below 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSizeError;

impl fmt::Display for PageSizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("page size must be at least 1")
    }
}

impl std::error::Error for PageSizeError {}

/// `items` split into pages of at most `page_size` items.
pub fn paginate<T: Clone>(items: &[T], page_size: usize) -> Result<Vec<Vec<T>>, PageSizeError> {
    if page_size < 1 {
        return Err(PageSizeError);
    }
    Ok(items.chunks(page_size).map(|page| page.to_vec()).collect())
}

/// Exponential back-off delays (seconds) for `attempts`: base 0.1, capped at 2.0.
pub fn retry_delays(attempts: u32) -> Vec<f64> {
    const BASE: f64 = 0.1;
    const CAP: f64 = 2.0;
    (0..attempts).map(|attempt| (BASE * 2f64.powi(attempt as i32)).min(CAP)).collect()
}
