#include "sample_sdk/sample_sdk.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace sample_sdk {

std::string Bucket::arn() const { return "arn:aws:s3:::" + name; }

bool validate_bucket_name(const std::string& name) {
    const bool lower = std::none_of(name.begin(), name.end(),
                                    [](unsigned char c) { return std::isupper(c); });
    return name.size() >= 3 && name.size() <= 63 && lower && name.front() != '-';
}

std::vector<double> retry_delays(int attempts, double base, double cap) {
    std::vector<double> delays;
    for (int attempt = 0; attempt < attempts; ++attempt) {
        delays.push_back(std::min(cap, base * std::pow(2.0, attempt)));
    }
    return delays;
}

}  // namespace sample_sdk
