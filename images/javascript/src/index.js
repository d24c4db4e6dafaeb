'use strict';

function bucketArn(name) {
  return `arn:aws:s3:::${name}`;
}

function validateBucketName(name) {
  return name.length >= 3 && name.length <= 63 && name === name.toLowerCase() && !name.startsWith('-');
}

function paginate(items, pageSize) {
  if (pageSize < 1) throw new RangeError('pageSize must be at least 1');
  const pages = [];
  for (let i = 0; i < items.length; i += pageSize) pages.push(items.slice(i, i + pageSize));
  return pages;
}

function retryDelays(attempts, base = 0.1, cap = 2.0) {
  return Array.from({ length: attempts }, (_, attempt) => Math.min(cap, base * 2 ** attempt));
}

module.exports = { bucketArn, validateBucketName, paginate, retryDelays };
