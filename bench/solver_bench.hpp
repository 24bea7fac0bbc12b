// Solver benchmarks: the device layer solve (regularise, factor, GBS) next to the float64 CPU
// reference on the same problem, beam search K = 4 next to greedy K = 1 (ALGORITHMS.md §4.5), and the
// group refits: a solve with one pass next to one without, and the device's pass next to the reference's.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "vk/context.hpp"

namespace vkq::bench {

struct SolverRow {
  std::string what, shape, ours, baseline;
  double ours_ms = 0, baseline_ms = 0;
  double ours_loss = 0, baseline_loss = 0;
};

std::vector<SolverRow> run_solver_bench(vk::Context& ctx, bool quick, int reps);
void print_solver_rows(const std::vector<SolverRow>& rows);
nlohmann::json solver_rows_json(const std::vector<SolverRow>& rows);

}  // namespace vkq::bench
