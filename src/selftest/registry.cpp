#include <cmath>
#include <limits>

#include "selftest/selftest_case.hpp"

namespace vkq::selftest {

const std::vector<Case>& all_cases() {
  static const std::vector<Case> cases = {
      {"gemm", gemm_case},
      {"gram_accumulate", gram_case},
      {"cholesky", cholesky_case},
      {"cross_gram_accumulate", cross_gram_case},
      {"rtn_quantize", rtn_case},
      {"clip_search", clip_search_case},
      {"gptq_sweep_block", gptq_sweep_case},
      {"beam_sweep", beam_case},
      {"forward ops", forward_ops_case},
      {"utility ops", utility_ops_case},
  };
  return cases;
}

double relative_error(const std::vector<float>& got, const std::vector<double>& want) {
  if (got.size() != want.size()) return std::numeric_limits<double>::infinity();
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
    num = std::max(num, std::abs(double(got[i]) - want[i]));
    den = std::max(den, std::abs(want[i]));
  }
  return num / std::max(den, 1e-300);
}

std::vector<float> nan_filled(size_t n) { return std::vector<float>(n, std::numeric_limits<float>::quiet_NaN()); }

std::vector<float> uniform(std::mt19937_64& rng, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

}  // namespace vkq::selftest
