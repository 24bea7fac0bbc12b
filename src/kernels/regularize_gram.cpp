#include "kernels/regularize_gram.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct NPush {
  uint32_t n;
};
constexpr uint32_t kDiagWg = 64;

std::string num(double v) { return std::to_string(v); }
}  // namespace

void require_square_supported(const vk::Context& ctx, const char* kernel, uint32_t n) {
  if (n > 65535)
    throw Error(std::string(kernel) + ": n = " + std::to_string(n) +
                " exceeds 65535; n x n matrices above 2^32 elements are not supported");
  const uint64_t bytes = uint64_t(n) * n * 4;
  if (bytes > ctx.probe().max_storage_buffer_range)
    throw Error(std::string(kernel) + ": an n x n fp32 matrix (n = " + std::to_string(n) + ", " +
                std::to_string(bytes) + " bytes) exceeds the device's maxStorageBufferRange of " +
                std::to_string(ctx.probe().max_storage_buffer_range) + " bytes");
}

std::vector<float> RegularizePlan::diagonal(double delta) const {
  std::vector<float> d(n);
  for (uint32_t p = 0; p < n; ++p) {
    const uint32_t j = order[p];
    d[p] = float(fixed_diag[j] + mu * (delta + (lambda != 0 ? lambda * shat[j] : 0.0)));
  }
  return d;
}

RegularizePlan plan_regularization(const std::vector<float>& diag, const RegularizeOptions& o) {
  RegularizePlan plan;
  const size_t n = diag.size();
  if (n == 0) throw Error("regularize_gram: empty Gram matrix");
  plan.n = uint32_t(n);
  plan.lambda = o.lambda;
  // §4.1 dead columns first, then μ over the fixed diagonal (reference/regularize.cpp order).
  plan.fixed_diag.assign(diag.begin(), diag.end());
  for (size_t j = 0; j < n; ++j)
    if (plan.fixed_diag[j] == 0) {
      plan.fixed_diag[j] = 1;
      plan.dead.push_back(uint32_t(j));
    }
  plan.mu = std::accumulate(plan.fixed_diag.begin(), plan.fixed_diag.end(), 0.0) / double(n);
  if (o.lambda != 0) {
    if (!std::isfinite(o.lambda)) throw Error("regularize_gram: λ = " + num(o.lambda) + " is not finite");
    std::vector<double> s(n, 1.0);
    if (o.saliency == ref::Saliency::act || o.saliency == ref::Saliency::act2) {
      if (o.channel_mean_abs.size() != n)
        throw Error("regularize_gram: saliency act/act2 needs mean|x| per channel: got " +
                    std::to_string(o.channel_mean_abs.size()) + " values for " + std::to_string(n) + " channels");
      for (size_t j = 0; j < n; ++j) {
        const double a = o.channel_mean_abs[j];
        if (!std::isfinite(a) || a < 0)
          throw Error("regularize_gram: mean|x| of channel " + std::to_string(j) + " is " + num(a));
        s[j] = o.saliency == ref::Saliency::act ? a : a * a;
      }
    } else if (o.saliency == ref::Saliency::hdiag) {
      s = plan.fixed_diag;
    }
    const double mean = std::accumulate(s.begin(), s.end(), 0.0) / double(n);
    if (!(mean > 0) || !std::isfinite(mean))
      throw Error("regularize_gram: saliency mean(s) = " + num(mean) + ", cannot normalise");
    for (double& v : s) v /= mean;
    plan.shat = std::move(s);
  }
  plan.order.resize(n);
  std::iota(plan.order.begin(), plan.order.end(), 0u);
  if (o.act_order)
    std::stable_sort(plan.order.begin(), plan.order.end(),
                     [&](uint32_t a, uint32_t b) { return plan.fixed_diag[a] > plan.fixed_diag[b]; });
  return plan;
}

RegularizeInputs upload_regularization(vk::Context& ctx, const RegularizePlan& plan, double delta) {
  RegularizeInputs in;
  in.n = plan.n;
  in.order = vk::upload_new(ctx, plan.order, "regularize order");
  in.diagonal = vk::upload_new(ctx, plan.diagonal(delta), "regularize diagonal");
  return in;
}

RegularizeGram::RegularizeGram(vk::Context& ctx) : ctx_(ctx) {
  const auto& p = ctx.probe();
  if (p.max_workgroup_invocations < 256 || p.max_workgroup_size[0] < 16 || p.max_workgroup_size[1] < 16) wg2_ = 8;
}

RegularizeGram::~RegularizeGram() = default;

void RegularizeGram::record_diagonal(vk::Stream& s, const vk::Buffer& a, uint32_t n, vk::Buffer& d) {
  require_square_supported(ctx_, "extract_diagonal", n);
  require_matrix_fits("extract_diagonal", "A", a, 0, n, n, n, 4);
  require_matrix_fits("extract_diagonal", "d", d, 0, 1, n, n, 4);
  if (!diag_) diag_ = std::make_unique<vk::Kernel>(ctx_, vk::KernelDesc{"extract_diagonal", 2, sizeof(NPush), {kDiagWg}});
  s.dispatch(*diag_, {&a, &d}, NPush{n}, (n + kDiagWg - 1) / kDiagWg);
}

std::vector<float> RegularizeGram::diagonal(vk::Stream& s, const vk::Buffer& h, uint32_t n) {
  vk::Buffer d(ctx_, uint64_t(n) * 4, vk::MemoryUse::Device, "diagonal");
  record_diagonal(s, h, n, d);
  s.submit_and_wait();
  return vk::download_all<float>(ctx_, d, n);
}

void RegularizeGram::run(vk::Stream& s, const vk::Buffer& h, const RegularizeInputs& in, vk::Buffer& out) {
  const uint32_t n = in.n;
  require_square_supported(ctx_, "regularize_gram", n);
  if (h.handle() == out.handle()) throw Error("regularize_gram: H̃ must not alias H (the gather reads all of H)");
  require_matrix_fits("regularize_gram", "H", h, 0, n, n, n, 4);
  require_matrix_fits("regularize_gram", "H̃", out, 0, n, n, n, 4);
  require_matrix_fits("regularize_gram", "order", in.order, 0, 1, n, n, 4);
  require_matrix_fits("regularize_gram", "diagonal", in.diagonal, 0, 1, n, n, 4);
  if (!gather_) gather_ = std::make_unique<vk::Kernel>(ctx_, vk::KernelDesc{"regularize_gram", 4, sizeof(NPush), {wg2_}});
  const uint32_t groups = (n + wg2_ - 1) / wg2_;
  s.dispatch(*gather_, {&h, &in.order, &in.diagonal, &out}, NPush{n}, groups, groups);
}

}  // namespace vkq::kernels
