// A selftest case runs one kernel on the chosen device against its float64 reference and
// returns a row of `vkquant selftest`. Cases are listed in registry.cpp (one line each).
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/float16.hpp"
#include "reference/grid.hpp"
#include "vk/context.hpp"
#include "vk/stream.hpp"
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
std::vector<SelftestRow> utility_ops_case(vk::Context& ctx, std::mt19937_64& rng);

// Max-norm relative error; NaN/Inf anywhere gives +inf (an unwritten poisoned element fails).
double relative_error(const std::vector<float>& got, const std::vector<double>& want);
std::vector<float> nan_filled(size_t n);
std::vector<float> uniform(std::mt19937_64& rng, size_t n, float lo, float hi);
// Two stored fp16 values that are equal or adjacent (one fp16 step apart, same sign): where an fp32
// computation and float64 land on either side of an fp16 rounding midpoint.
inline bool fp16_neighbours(double a, double b) {
  if (a == b) return true;
  if (!std::isfinite(a) || !std::isfinite(b) || (a < 0) != (b < 0)) return false;
  const int ha = float_to_half(float(std::abs(a))), hb = float_to_half(float(std::abs(b)));
  return std::abs(ha - hb) <= 1 && double(half_to_float(uint16_t(ha))) == std::abs(a) &&
         double(half_to_float(uint16_t(hb))) == std::abs(b);
}

inline std::vector<double> to_d(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// Runs `record` in a fresh stream between two timestamps and fills the row's error (from `check`,
// after the run) and verdict against `tol`.
template <class Record, class Check>
SelftestRow timed_row(vk::Context& ctx, const std::string& kernel, const std::string& shape, double tol,
                      Record record, Check check) {
  SelftestRow row;
  row.kernel = kernel;
  row.shape = shape;
  row.metric = "max rel err";
  row.tolerance = tol;
  vk::Stream s(ctx);
  const uint32_t t0 = s.timestamp();
  record(s);
  const uint32_t t1 = s.timestamp();
  s.submit_and_wait();
  row.millis = s.elapsed_ms(t0, t1);
  row.max_error = check();
  row.passed = row.max_error <= row.tolerance;
  if (!row.passed) row.message = "result differs from the float64 reference";
  return row;
}

}  // namespace vkq::selftest
