// A tiny stand-in SDK: the sample suite exercises it like an SDK's code examples would.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace sample_sdk {

struct Bucket {
    std::string name;
    std::string region = "us-east-1";

    std::string arn() const;
};

bool validate_bucket_name(const std::string& name);

template <typename T>
std::vector<std::vector<T>> paginate(const std::vector<T>& items, int page_size) {
    if (page_size < 1) {
        throw std::invalid_argument("page_size must be at least 1");
    }
    std::vector<std::vector<T>> pages;
    const auto size = static_cast<std::size_t>(page_size);
    for (std::size_t i = 0; i < items.size(); i += size) {
        const auto end = i + size < items.size() ? i + size : items.size();
        pages.emplace_back(items.begin() + i, items.begin() + end);
    }
    return pages;
}

std::vector<double> retry_delays(int attempts, double base = 0.1, double cap = 2.0);

}  // namespace sample_sdk
