// Test helpers shared by every suite: fresh random seeds (printed on failure), data paths,
// and NaN poisoning of outputs so that an element a kernel never wrote fails the comparison.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace vkq::test {

// A fresh seed per call (VKQ_TEST_SEED fixes it); SCOPED_TRACE it so failures print it.
inline uint64_t fresh_seed() {
  if (const char* s = std::getenv("VKQ_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  static std::random_device rd;
  return (uint64_t(rd()) << 32) ^ rd();
}

#define VKQ_SEED_TRACE(seed) SCOPED_TRACE("seed=" + std::to_string(seed) + " (rerun with VKQ_TEST_SEED)")

inline std::string data_path(const std::string& rel) {
  if (const char* d = std::getenv("VKQ_DATA_DIR")) return std::string(d) + "/" + rel;
  return std::string(VKQ_DATA_DIR) + "/" + rel;
}

inline std::vector<float> random_floats(std::mt19937_64& rng, size_t n, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

inline std::vector<float> poisoned(size_t n) {
  return std::vector<float>(n, std::numeric_limits<float>::quiet_NaN());
}

// Relative error in the max norm: max|a-b| / max(max|b|, tiny). NaN anywhere gives +inf.
inline double max_rel_error(const std::vector<float>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  if (got.size() != want.size()) return std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
    num = std::max(num, std::abs(double(got[i]) - want[i]));
    den = std::max(den, std::abs(want[i]));
  }
  return num / std::max(den, 1e-300);
}

// Registers the Vulkan test environment when the executable links tests/support/vk_test_env.cpp.
void register_vulkan_environment();

}  // namespace vkq::test
