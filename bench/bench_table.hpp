// One benchmark comparison row: our figure next to the figure it is compared with, as a ratio,
// printed as a table and collected into JSON.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace vkq::bench {

struct Row {
  std::string kernel, shape;
  std::string ours_name, theirs_name;
  double ours_ms = 0, theirs_ms = 0;
  double flops = 0;  // useful floating-point operations of one run (same count for both)
  double ours_gflops() const { return flops / (ours_ms * 1e6); }
  double theirs_gflops() const { return flops / (theirs_ms * 1e6); }
};

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Runs `fn` once to warm up, then `reps` times; returns the median of what fn reports (ms).
inline double median_ms(int reps, const std::function<double()>& fn) {
  fn();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) t.push_back(fn());
  return median(t);
}

inline double wall_ms(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

inline void print_header() {
  std::printf("%-16s %-22s %-26s %10s %10s %8s %-14s %10s %10s %8s\n", "kernel", "shape", "ours", "ms", "GFLOP/s",
              "of roof", "vs", "ms", "GFLOP/s", "ratio");
}

// roof_gflops: the device's measured multiply-add peak (peak_fma); 0 when unknown.
inline void print_row(const Row& r, double roof_gflops = 0) {
  std::printf("%-16s %-22s %-26.26s %10.2f %10.2f %7.1f%% %-14s %10.2f %10.2f %7.2fx\n", r.kernel.c_str(),
              r.shape.c_str(), r.ours_name.c_str(), r.ours_ms, r.ours_gflops(),
              roof_gflops > 0 ? 100.0 * r.ours_gflops() / roof_gflops : 0.0, r.theirs_name.c_str(), r.theirs_ms,
              r.theirs_gflops(), r.ours_gflops() / r.theirs_gflops());
  std::fflush(stdout);
}

inline nlohmann::json to_json(const Row& r) {
  return {{"kernel", r.kernel},         {"shape", r.shape},
          {"ours", r.ours_name},        {"ours_ms", r.ours_ms},
          {"ours_gflops", r.ours_gflops()}, {"baseline", r.theirs_name},
          {"baseline_ms", r.theirs_ms}, {"baseline_gflops", r.theirs_gflops()},
          {"ratio", r.ours_gflops() / r.theirs_gflops()}};
}

// The device's roofs, measured in the same run as the rows: a multiply-add-bound kernel and a copy.
struct DeviceRoof {
  double fma_gflops = 0;  // shaders/peak_fma.comp
  double copy_gbps = 0;   // vkCmdCopyBuffer between two device buffers, bytes read + written per second
  std::string fma_shape, copy_shape;
};

inline nlohmann::json to_json(const DeviceRoof& r) {
  return {{"fma_gflops", r.fma_gflops}, {"fma_shape", r.fma_shape}, {"copy_gbps", r.copy_gbps}, {"copy_shape", r.copy_shape}};
}

}  // namespace vkq::bench
