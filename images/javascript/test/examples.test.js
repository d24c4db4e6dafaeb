'use strict';
// Sample SDK-example suite: passing, pending (skipped) and, with SDK_SAMPLE_FAILURES=on, failing tests.
const assert = require('node:assert/strict');
const { bucketArn, validateBucketName, paginate, retryDelays } = require('../src');

const sampleFailures = process.env.SDK_SAMPLE_FAILURES === 'on';

describe('sdk examples', () => {
  it('builds a bucket ARN', () => {
    assert.equal(bucketArn('reports'), 'arn:aws:s3:::reports');
  });

  it('checks bucket name rules', () => {
    assert.ok(validateBucketName('sdk-results'));
    assert.ok(!validateBucketName('Upper'));
  });

  it('splits pages', () => {
    assert.deepEqual(paginate([0, 1, 2, 3, 4], 2), [[0, 1], [2, 3], [4]]);
  });

  it('rejects a zero page size', () => {
    assert.throws(() => paginate([1], 0), RangeError);
  });

  it('caps retry delays', () => {
    const delays = retryDelays(6);
    if (sampleFailures) {
      // The demo's deliberate regression: the example expects no cap.
      assert.equal(delays.at(-1), 3.2, 'retry delay example expects exponential growth without a cap');
    }
    assert.equal(delays.at(-1), 2.0);
  });

  it.skip('lists buckets against live AWS', () => {
    throw new Error('never runs');
  });
});
