# frozen_string_literal: true

# Sample SDK-example suite: passing, skipped and (when SDK_SAMPLE_FAILURES=on) failing tests.
require_relative "../lib/sample_sdk"

SAMPLE_FAILURES = ENV["SDK_SAMPLE_FAILURES"] == "on"

RSpec.describe "sdk examples" do
  it "builds a bucket ARN" do
    expect(SampleSdk::Bucket.new("reports").arn).to eq("arn:aws:s3:::reports")
  end

  it "checks bucket name rules" do
    expect(SampleSdk.validate_bucket_name("sdk-results")).to be(true)
    expect(SampleSdk.validate_bucket_name("Upper")).to be(false)
  end

  it "splits pages" do
    expect(SampleSdk.paginate([0, 1, 2, 3, 4], 2)).to eq([[0, 1], [2, 3], [4]])
  end

  it "rejects a zero page size" do
    expect { SampleSdk.paginate([1], 0) }.to raise_error(ArgumentError)
  end

  it "caps retry delays" do
    delays = SampleSdk.retry_delays(6)
    if SAMPLE_FAILURES
      # The demo's deliberate regression: the example expects no cap.
      expect(delays.last).to eq(3.2), "retry delay example expects exponential growth without a cap"
    end
    expect(delays.last).to eq(2.0)
  end

  it "lists buckets against live AWS" do
    skip "needs real AWS credentials"
    raise "never runs"
  end
end
