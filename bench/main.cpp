// vkquant-bench: the device's roofs (peak_fma, a copy), then gram_accumulate and gemm on the chosen Vulkan device next to OpenBLAS
// ssyrk/sgemm on this machine's CPU, at LLM shapes; table on stdout, --json FILE for the rest.
// Not a test: it never fails on speed. Our times are GPU timestamps around the dispatches.
#include <CLI/CLI.hpp>
#include <cblas.h>

#include <fstream>
#include <random>
#include <thread>

#include "bench_table.hpp"
#include "kquant_layer_bench.hpp"
#include "solver_bench.hpp"
#include "kernels/gemm.hpp"
#include "kernels/gram.hpp"
#include "kernels/peak_fma.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"

using namespace vkq;

namespace {

std::vector<float> random_vector(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// The median device time (GPU timestamps around what `record` records) of `reps` runs after a warm-up.
double median_device_ms(vk::Context& ctx, int reps, const std::function<void(vk::Stream&)>& record) {
  return bench::median_ms(reps, [&] {
    vk::Stream s(ctx);
    const uint32_t t0 = s.timestamp();
    record(s);
    const uint32_t t1 = s.timestamp();
    s.submit_and_wait();
    return s.elapsed_ms(t0, t1);
  });
}

// The device's own roofs, for the "of roof" column: multiply-add throughput (enough invocations to fill
// every core, enough steps to dwarf the launch) and copy bandwidth.
bench::DeviceRoof measure_roof(vk::Context& ctx, int reps) {
  bench::DeviceRoof roof;
  kernels::PeakFma fma(ctx);
  const kernels::PeakFmaShape sh{1u << 16, 2048, 0.999f, 0.001f};
  vk::Buffer out(ctx, uint64_t(sh.invocations) * 4, vk::MemoryUse::Device, "peak_fma out");
  const double fma_ms = median_device_ms(ctx, reps, [&](vk::Stream& s) { fma.run(s, out, sh); });
  roof.fma_gflops = kernels::PeakFma::flops(sh) / (fma_ms * 1e6);
  roof.fma_shape = "65536 invocations x 2048 steps x 8 FMA";
  const uint64_t bytes = 64ull << 20;
  vk::Buffer a(ctx, bytes, vk::MemoryUse::Device, "copy source"), b(ctx, bytes, vk::MemoryUse::Device, "copy target");
  {
    vk::Stream s(ctx);
    s.fill_zero(a);
    s.submit_and_wait();
  }
  const double copy_ms = median_device_ms(ctx, reps, [&](vk::Stream& s) { s.copy(a, b, bytes); });
  roof.copy_gbps = 2.0 * double(bytes) / (copy_ms * 1e6);
  roof.copy_shape = "64 MiB device to device";
  return roof;
}

bench::Row bench_gram(vk::Context& ctx, uint32_t n, uint32_t tokens, int reps) {
  const auto x = random_vector(size_t(n) * tokens, n);
  auto xb = vk::upload_new(ctx, x, "X");
  kernels::GramAccumulator gram(ctx, n);
  bench::Row r;
  r.kernel = "gram_accumulate";
  r.shape = "n=" + std::to_string(n) + " tok=" + std::to_string(tokens);
  r.ours_name = "vulkan " + ctx.probe().name;
  r.theirs_name = "openblas ssyrk";
  r.flops = double(n) * (n + 1) * tokens;  // the upper triangle, as ssyrk computes
  r.ours_ms = median_device_ms(ctx, reps,
                               [&](vk::Stream& s) { gram.accumulate(s, xb, tokens, kernels::ActivationType::F32); });
  std::vector<float> c(size_t(n) * n, 0.f);
  r.theirs_ms = bench::median_ms(reps, [&] {
    return bench::wall_ms([&] {
      cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, int(n), int(tokens), 1.f, x.data(), int(n), 1.f, c.data(),
                  int(n));
    });
  });
  return r;
}

bench::Row bench_gemm(vk::Context& ctx, uint32_t m, uint32_t n, uint32_t k, int reps) {
  const auto a = random_vector(size_t(m) * k, 1);
  const auto b = random_vector(size_t(n) * k, 2);
  auto ab = vk::upload_new(ctx, a, "A");
  auto bb = vk::upload_new(ctx, b, "B");
  vk::Buffer cb(ctx, uint64_t(m) * n * 4, vk::MemoryUse::Device, "C");
  kernels::Gemm gemm(ctx);
  kernels::GemmShape sh;
  sh.m = m, sh.n = n, sh.k = k;
  bench::Row r;
  r.kernel = "gemm";
  r.shape = std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
  r.ours_name = "vulkan " + ctx.probe().name;
  r.theirs_name = "openblas sgemm";
  r.flops = 2.0 * m * n * k;
  r.ours_ms = median_device_ms(ctx, reps, [&](vk::Stream& s) { gemm.run(s, ab, bb, cb, sh); });
  std::vector<float> c(size_t(m) * n);
  r.theirs_ms = bench::median_ms(reps, [&] {
    return bench::wall_ms([&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(n), int(k), 1.f, a.data(), int(k), b.data(),
                  int(k), 0.f, c.data(), int(n));
    });
  });
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vkquant-bench: our Vulkan kernels vs OpenBLAS on this machine (GFLOP/s and ratio)"};
  bool quick = false;
  int reps = 5;
  std::string json_path, device;
  app.add_flag("--quick", quick, "Smaller shapes (a minute on a 2-core CPU with lavapipe)");
  app.add_option("--reps", reps, "Timed repetitions after one warm-up; the median is reported")->check(CLI::Range(5, 1000));
  app.add_option("--json", json_path, "Write the rows as JSON to this file");
  app.add_option("--device", device, "Vulkan device index or name substring (default: best; VKQ_DEVICE)");
  bench::KLayerOptions kl;
  app.add_option("--kquant-model", kl.model,
                 "Instead of the kernel table: the K-type layer comparison on this model's ffn_down layers "
                 "(bench/kquant_layers runs it with llama.cpp's files)");
  app.add_option("--kquant-calib", kl.calib, "Calibration text (already sliced) for --kquant-model");
  app.add_option("--kquant-blocks", kl.blocks, "Blocks whose ffn_down to compare");
  std::vector<std::string> theirs;
  app.add_option("--kquant-theirs", theirs, "TYPE=FILE: llama-quantize's file whose ffn_down tensors are TYPE");
  CLI11_PARSE(app, argc, argv);
  if (!kl.model.empty()) {
    try {
      for (const auto& t : theirs) {
        const size_t eq = t.find('=');
        if (eq == std::string::npos) throw Error("--kquant-theirs " + t + ": expected TYPE=FILE");
        kl.theirs.push_back({t.substr(0, eq), t.substr(eq + 1)});
      }
      vk::ContextOptions co;
      co.device = device;
      vk::Context ctx(co);
      const auto rows = bench::run_kquant_layer_bench(ctx, kl);
      if (!json_path.empty()) {
        std::ofstream(json_path) << nlohmann::json{{"device", ctx.probe().name}, {"model", kl.model}, {"rows", rows}}.dump(2)
                                 << "\n";
        std::printf("wrote %s\n", json_path.c_str());
      }
      return 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "vkquant-bench: error: %s\n", e.what());
      return 1;
    }
  }
  try {
    vk::ContextOptions co;
    co.device = device;
    vk::Context ctx(co);
    std::printf("device: %s (%s, subgroup %u) | CPU baseline: OpenBLAS %s, %d threads | %u hardware threads\n",
                ctx.probe().name.c_str(), ctx.probe().kind_name(), ctx.probe().subgroup_size, openblas_get_config(),
                openblas_get_num_threads(), std::thread::hardware_concurrency());
    const bench::DeviceRoof roof = measure_roof(ctx, reps);
    std::printf("device roof: %.2f GFLOP/s multiply-add (peak_fma, %s), %.2f GB/s copy (%s)\n", roof.fma_gflops,
                roof.fma_shape.c_str(), roof.copy_gbps, roof.copy_shape.c_str());
    bench::print_header();
    std::vector<bench::Row> rows;
    auto add = [&](bench::Row r) {
      bench::print_row(r, roof.fma_gflops);
      rows.push_back(std::move(r));
    };
    const std::vector<uint32_t> gram_n = quick ? std::vector<uint32_t>{576, 2048} : std::vector<uint32_t>{576, 2048, 4096};
    for (uint32_t n : gram_n) add(bench_gram(ctx, n, 2048, reps));
    if (quick) {
      add(bench_gemm(ctx, 512, 1024, 1024, reps));
      add(bench_gemm(ctx, 2048, 2048, 2048, reps));
    } else {
      add(bench_gemm(ctx, 2048, 4096, 4096, reps));
      add(bench_gemm(ctx, 2048, 11008, 4096, reps));
    }
    const auto solver_rows = bench::run_solver_bench(ctx, quick, reps);
    bench::print_solver_rows(solver_rows);
    if (!json_path.empty()) {
      nlohmann::json j = {{"device", ctx.probe().name},
                          {"device_type", ctx.probe().kind_name()},
                          {"baseline", std::string("OpenBLAS ") + openblas_get_config()},
                          {"threads", openblas_get_num_threads()},
                          {"reps", reps},
                          {"quick", quick},
                          {"roof", bench::to_json(roof)},
                          {"rows", nlohmann::json::array()}};
      for (const auto& r : rows) {
        j["rows"].push_back(bench::to_json(r));
        j["rows"].back()["of_roof"] = r.ours_gflops() / roof.fma_gflops;
      }
      j["solvers"] = bench::solver_rows_json(solver_rows);
      std::ofstream(json_path) << j.dump(2) << "\n";
      std::printf("wrote %s\n", json_path.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vkquant-bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
