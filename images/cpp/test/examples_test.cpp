// Sample SDK-example suite: passing, skipped and (when SDK_SAMPLE_FAILURES=on) failing tests.
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sample_sdk/sample_sdk.hpp"

namespace {

bool sample_failures() {
    const char* value = std::getenv("SDK_SAMPLE_FAILURES");
    return value != nullptr && std::string(value) == "on";
}

}  // namespace

TEST(SdkExamples, BucketArn) {
    EXPECT_EQ(sample_sdk::Bucket{"reports"}.arn(), "arn:aws:s3:::reports");
}

TEST(SdkExamples, BucketNameRules) {
    EXPECT_TRUE(sample_sdk::validate_bucket_name("sdk-results"));
    EXPECT_FALSE(sample_sdk::validate_bucket_name("Upper"));
}

TEST(SdkExamples, PaginateSplitsPages) {
    const std::vector<std::vector<int>> expected{{0, 1}, {2, 3}, {4}};
    EXPECT_EQ(sample_sdk::paginate(std::vector<int>{0, 1, 2, 3, 4}, 2), expected);
}

TEST(SdkExamples, PaginateRejectsZeroPageSize) {
    EXPECT_THROW(sample_sdk::paginate(std::vector<int>{1}, 0), std::invalid_argument);
}

TEST(SdkExamples, RetryDelaysAreCapped) {
    const auto delays = sample_sdk::retry_delays(6);
    ASSERT_EQ(delays.size(), 6u);
    if (sample_failures()) {
        // The demo's deliberate regression: the example expects no cap.
        ASSERT_DOUBLE_EQ(delays.back(), 3.2) << "retry delay example expects exponential growth without a cap";
    }
    EXPECT_DOUBLE_EQ(delays.back(), 2.0);
}

TEST(SdkExamples, ListBucketsLive) {
    GTEST_SKIP() << "needs real AWS credentials; example runs only in the nightly account";
    FAIL() << "never runs";
}
