#include "solver_bench.hpp"

#include <cstdio>
#include <random>

#include "bench_table.hpp"
#include "kernels/gemm.hpp"
#include "kernels/group_refit_terms.hpp"
#include "quant/group_refit.hpp"
#include "quant/layer_quantizer.hpp"
#include "reference/grid.hpp"
#include "reference/layer_quant.hpp"
#include "reference/objective.hpp"
#include "reference/row_refit.hpp"
#include "vk/buffer.hpp"

namespace vkq::bench {

namespace {

struct Layer {
  uint32_t m, n;
  std::vector<float> w;
  std::vector<double> h;
};

// A layer with correlated inputs (a shared factor plus outlier channels), like real activations.
Layer make_layer(uint32_t m, uint32_t n, uint32_t tokens) {
  std::mt19937_64 rng(m * 131 + n);
  std::normal_distribution<double> g(0, 1);
  Layer L{m, n, std::vector<float>(size_t(m) * n), std::vector<double>(size_t(n) * n, 0.0)};
  std::vector<double> x(n);
  for (uint32_t t = 0; t < tokens; ++t) {
    const double c = g(rng);
    for (uint32_t j = 0; j < n; ++j) x[j] = 0.5 * c + g(rng) * (j % 17 == 5 ? 5.0 : 1.0);
    for (uint32_t i = 0; i < n; ++i)
      for (uint32_t j = 0; j < n; ++j) L.h[size_t(i) * n + j] += 2.0 / tokens * x[i] * x[j];
  }
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto& v : L.w) v = u(rng);
  return L;
}

double device_solve(vk::Context& ctx, const Layer& L, const ref::LayerQuantOptions& o, int reps, double* loss) {
  std::vector<float> hf(L.h.begin(), L.h.end());
  auto h = vk::upload_new(ctx, hf, "H");
  quant::LayerStatistics st;
  st.h = &h;
  st.n = L.n;
  quant::LayerQuantizer lq(ctx, o);
  return median_ms(reps, [&] {
    return wall_ms([&] { *loss = lq.quantize_group({{"bench", &L.w, L.m}}, st, "bench")[0].loss; });
  });
}

ref::LayerQuantOptions gptq_options(size_t beam) {
  ref::LayerQuantOptions o;
  o.method = beam > 1 ? ref::Method::beam : ref::Method::gptq;
  o.beam_width = beam;
  o.grid.format = ref::GridFormat::Q4_0;
  o.grid.group = 32;
  return o;
}

// Σ over rows of (t − ŵ) H (t − ŵ)ᵀ with the codes' values under `params`.
double refit_objective(const Layer& L, const std::vector<double>& t, const ref::EncodedMatrix& e,
                       const std::vector<ref::GroupParams>& params) {
  ref::EncodedMatrix q = e;
  q.params = params;
  const std::vector<double> deq = ref::decode_matrix(q, gptq_options(1).grid);
  double sum = 0;
  for (double r : ref::rows_quadratic_loss(t.data(), deq.data(), L.m, L.n, L.h.data())) sum += r;
  return sum;
}

// One group-refit pass (--group-refits) of min-max Q4_0 codes: the device's assembly with the host's
// float64 solves against ref::refit_rows_from_codes, which assembles each row's system on the host (rows × n²).
SolverRow group_refit_row(vk::Context& ctx, const Layer& L, const std::string& shape, int reps) {
  const ref::GridSpec grid = gptq_options(1).grid;
  const std::vector<double> t(L.w.begin(), L.w.end());
  const ref::EncodedMatrix e = ref::encode_matrix(t.data(), L.m, L.n, grid);
  const std::vector<float> hf(L.h.begin(), L.h.end());
  const std::vector<double> h32(hf.begin(), hf.end());  // both sides see the fp32 H
  auto tb = vk::upload_new(ctx, L.w, "T");
  auto hb = vk::upload_new(ctx, hf, "H");
  kernels::Gemm gemm(ctx);
  kernels::GroupRefitTerms terms(ctx, gemm);
  SolverRow r{"group refit pass", shape, "vulkan terms + host solves", "float64 reference (CPU)"};
  std::vector<ref::GroupParams> dev, want;
  r.ours_ms = median_ms(reps, [&] {
    return wall_ms([&] { dev = quant::DeviceGroupRefit(ctx, gemm, terms, grid, tb, hb, L.m, L.n).refit(e.codes, e.params); });
  });
  r.baseline_ms = wall_ms([&] { want = ref::refit_rows_from_codes(t.data(), e.codes.data(), L.m, L.n, h32.data(), grid, e.params); });
  r.ours_loss = refit_objective(L, t, e, dev);
  r.baseline_loss = refit_objective(L, t, e, want);
  return r;
}

}  // namespace

std::vector<SolverRow> run_solver_bench(vk::Context& ctx, bool quick, int reps) {
  std::vector<SolverRow> rows;
  const std::vector<std::pair<uint32_t, uint32_t>> shapes =
      quick ? std::vector<std::pair<uint32_t, uint32_t>>{{256, 256}, {512, 512}}
            : std::vector<std::pair<uint32_t, uint32_t>>{{512, 512}, {1024, 1024}};
  for (auto [m, n] : shapes) {
    const Layer L = make_layer(m, n, 2 * n);
    const std::string shape = std::to_string(m) + "x" + std::to_string(n);
    SolverRow r{"gptq Q4_0 layer", shape, "vulkan " + ctx.probe().name, "float64 reference (CPU)"};
    r.ours_ms = device_solve(ctx, L, gptq_options(1), reps, &r.ours_loss);
    // The reference is slow: one warm-up-free run is its figure.
    r.baseline_ms = wall_ms([&] { r.baseline_loss = ref::quantize_layer(L.w, m, n, L.h, gptq_options(1)).loss; });
    rows.push_back(r);
    SolverRow b{"beam K=4 vs K=1", shape, "vulkan beam K=4", "vulkan greedy K=1"};
    b.ours_ms = device_solve(ctx, L, gptq_options(4), reps, &b.ours_loss);
    b.baseline_ms = device_solve(ctx, L, gptq_options(1), reps, &b.baseline_loss);
    rows.push_back(b);
    SolverRow g{"gptq + group refit", shape, "vulkan --group-refits 1", "vulkan --group-refits 0"};
    ref::LayerQuantOptions refit = gptq_options(1);
    refit.static_groups = true, refit.group_refits = 1;
    g.ours_ms = device_solve(ctx, L, refit, reps, &g.ours_loss);
    refit.group_refits = 0;
    g.baseline_ms = device_solve(ctx, L, refit, reps, &g.baseline_loss);
    rows.push_back(g);
    rows.push_back(group_refit_row(ctx, L, shape, reps));
  }
  return rows;
}

void print_solver_rows(const std::vector<SolverRow>& rows) {
  std::printf("\n%-18s %-10s %-30s %10s %12s  %-24s %10s %12s %8s\n", "solver", "shape", "ours", "ms", "loss",
              "vs", "ms", "loss", "speedup");
  for (const auto& r : rows)
    std::printf("%-18s %-10s %-30.30s %10.1f %12.5g  %-24s %10.1f %12.5g %7.2fx\n", r.what.c_str(), r.shape.c_str(),
                r.ours.c_str(), r.ours_ms, r.ours_loss, r.baseline.c_str(), r.baseline_ms, r.baseline_loss,
                r.baseline_ms / r.ours_ms);
}

nlohmann::json solver_rows_json(const std::vector<SolverRow>& rows) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& r : rows)
    a.push_back({{"solver", r.what}, {"shape", r.shape}, {"ours", r.ours}, {"ours_ms", r.ours_ms},
                 {"ours_loss", r.ours_loss}, {"baseline", r.baseline}, {"baseline_ms", r.baseline_ms},
                 {"baseline_loss", r.baseline_loss}, {"speedup", r.baseline_ms / r.ours_ms}});
  return a;
}

}  // namespace vkq::bench
