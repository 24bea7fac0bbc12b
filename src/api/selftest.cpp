// Public selftest (vkquant.hpp): every registered kernel against its float64 reference.
#include <random>

#include "selftest/selftest_case.hpp"
#include "vk/context.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq {

SelftestReport run_selftest(const SelftestOptions& options) {
  vk::ContextOptions co;
  co.device = options.device;
  co.validation = options.validation;
  vk::Context ctx(co);
  SelftestReport report;
  report.device = ctx.probe().name;
  report.seed = options.seed ? options.seed : std::random_device{}();
  std::mt19937_64 rng(report.seed);
  for (const auto& c : selftest::all_cases()) {
    try {
      for (auto& row : c.run(ctx, rng)) report.rows.push_back(std::move(row));
    } catch (const std::exception& e) {
      SelftestRow row;
      row.kernel = c.kernel;
      row.passed = false;
      row.message = e.what();
      report.rows.push_back(row);
    }
  }
  report.validation_messages = ctx.validation_message_count();
  return report;
}

}  // namespace vkq
