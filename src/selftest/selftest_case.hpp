// A selftest case runs one kernel on the chosen device against its float64 reference and
// returns a row of `vkquant selftest`. Cases are listed in registry.cpp (one line each).
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "vk/context.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::selftest {

using CaseFn = std::function<std::vector<SelftestRow>(vk::Context&, std::mt19937_64&)>;

struct Case {
  const char* kernel;
  CaseFn run;
};

const std::vector<Case>& all_cases();

// Cases, one per kernel family (defined in <family>_case.cpp).
std::vector<SelftestRow> gemm_case(vk::Context& ctx, std::mt19937_64& rng);
std::vector<SelftestRow> gram_case(vk::Context& ctx, std::mt19937_64& rng);
std::vector<SelftestRow> cholesky_case(vk::Context& ctx, std::mt19937_64& rng);
std::vector<SelftestRow> cross_gram_case(vk::Context& ctx, std::mt19937_64& rng);
std::vector<SelftestRow> rtn_case(vk::Context& ctx, std::mt19937_64& rng);
std::vector<SelftestRow> clip_search_case(vk::Context& ctx, std::mt19937_64& rng);
std::vector<SelftestRow> gptq_sweep_case(vk::Context& ctx, std::mt19937_64& rng);
std::vector<SelftestRow> beam_case(vk::Context& ctx, std::mt19937_64& rng);
std::vector<SelftestRow> forward_ops_case(vk::Context& ctx, std::mt19937_64& rng);

// Max-norm relative error; NaN/Inf anywhere gives +inf (an unwritten poisoned element fails).
double relative_error(const std::vector<float>& got, const std::vector<double>& want);
std::vector<float> nan_filled(size_t n);
std::vector<float> uniform(std::mt19937_64& rng, size_t n, float lo, float hi);

}  // namespace vkq::selftest
