#include "quant/hessian_factor.hpp"

#include <cmath>
#include <sstream>

#include "kernels/cholesky.hpp"
#include "kernels/regularize_gram.hpp"
#include "vk/stream.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::quant {

namespace {
constexpr int kMaxRetries = 6;
constexpr double kZeroDampingRetry = 0.001;  // a tenth of the §5 default, as the reference
}  // namespace

HessianFactorizer::HessianFactorizer(vk::Context& ctx)
    : ctx_(ctx), reg_(std::make_unique<kernels::RegularizeGram>(ctx)), chol_(std::make_unique<kernels::Cholesky>(ctx)) {}

HessianFactorizer::~HessianFactorizer() = default;

PreparedHessian prepare_hessian(vk::Context& ctx, const vk::Buffer& h, uint32_t n, const HessianOptions& options) {
  return HessianFactorizer(ctx).prepare(h, n, options);
}

PreparedHessian HessianFactorizer::prepare(const vk::Buffer& h, uint32_t n, const HessianOptions& o) {
  const std::string who = o.label.empty() ? std::string() : "layer '" + o.label + "': ";
  if (n == 0) throw Error(who + "prepare_hessian: empty Gram matrix");
  if (!(o.damp >= 0) || !std::isfinite(o.damp))
    throw Error(who + "damping: δ = " + std::to_string(o.damp) + " must be finite and ≥ 0");
  vk::Context& ctx = ctx_;
  kernels::RegularizeGram& reg = *reg_;
  kernels::Cholesky& chol = *chol_;
  vk::Stream s(ctx);

  kernels::RegularizeOptions ro;
  ro.lambda = o.lambda, ro.saliency = o.saliency, ro.channel_mean_abs = o.channel_mean_abs, ro.act_order = o.act_order;
  kernels::RegularizePlan plan;
  try {
    plan = kernels::plan_regularization(reg.diagonal(s, h, n), ro);
  } catch (const Error& e) {
    throw Error(who + e.what());
  }

  PreparedHessian r;
  r.n = n;
  r.order = plan.order;
  r.dead = plan.dead;
  r.mu = plan.mu;
  const uint64_t bytes = uint64_t(n) * n * 4;
  r.h_reg = vk::Buffer(ctx, bytes, vk::MemoryUse::Device, "H̃ " + o.label);
  r.u = vk::Buffer(ctx, bytes, vk::MemoryUse::Device, "U " + o.label);
  vk::Buffer work(ctx, bytes, vk::MemoryUse::Device, "Cholesky work " + o.label);

  double delta = o.damp;
  for (int attempt = 0; attempt <= kMaxRetries; ++attempt) {
    const kernels::RegularizeInputs in = kernels::upload_regularization(ctx, plan, delta);
    reg.run(s, h, in, r.h_reg);
    s.barrier();
    s.copy(r.h_reg, work, bytes);
    s.barrier();
    chol.upper_factor_of_inverse(s, work, r.u, n);
    s.submit_and_wait();
    const kernels::CholeskyStatus st = chol.status();
    if (st.ok) {
      r.delta = delta;
      return r;
    }
    const double next = delta > 0 ? delta * 10 : kZeroDampingRetry;
    std::ostringstream m;
    m << who << "damping δ = " << delta << ": " << (st.pivot_failed ? "H̃ is " : "") << st.describe();
    if (attempt < kMaxRetries) m << "; retrying with δ = " << next;
    r.retries.push_back(m.str());
    delta = next;
  }
  std::ostringstream m;
  m << who << "Cholesky of the regularised Gram failed after " << kMaxRetries << " damping retries:";
  for (const auto& line : r.retries) m << "\n  " << line;
  throw Error(m.str());
}

}  // namespace vkq::quant
