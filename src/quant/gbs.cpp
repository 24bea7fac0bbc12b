#include "quant/gbs.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>

#include "kernels/shape_check.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::quant {

namespace {

kernels::GridDesc device_grid(const ref::GridSpec& spec, uint32_t n) {
  kernels::GridDesc d;
  d.format = kernels::GridFormatId(uint32_t(spec.format));
  d.bits = uint32_t(spec.bits);
  d.symmetric = spec.symmetric;
  const bool gguf = spec.format != ref::GridFormat::INT;
  d.group = gguf ? 32u : (spec.group == 0 ? n : uint32_t(std::min<size_t>(spec.group, n)));
  return d;
}

void validate(const GbsProblem& pb, const GbsOptions& opt) {
  if (!pb.target || !pb.u) throw Error("gbs: target T or factor U missing");
  if (pb.cols == 0) throw Error("gbs: n = 0 columns");
  kernels::require_matrix_fits("gbs", "T", *pb.target, 0, pb.rows, pb.cols, pb.cols, 4);
  kernels::require_matrix_fits("gbs", "U", *pb.u, 0, pb.cols, pb.cols, pb.cols, 4);
  if (opt.block == 0) throw Error("gbs: block size B = 0");
  if (opt.beam_width == 0) throw Error("gbs: beam width K = 0");
  if (opt.beam_width > 1 && !opt.static_groups)
    throw Error("gbs: beam search needs static groups (params fixed from T before the search)");
  if (!pb.order.empty()) {
    if (pb.order.size() != pb.cols)
      throw Error("gbs: column order has " + std::to_string(pb.order.size()) + " entries for n = " +
                  std::to_string(pb.cols));
    std::vector<bool> seen(pb.cols, false);
    for (uint32_t c : pb.order) {
      if (c >= pb.cols || seen[c])
        throw Error("gbs: column order is not a permutation of 0 … n − 1 (entry " + std::to_string(c) + ")");
      seen[c] = true;
    }
  }
  if (pb.static_params && !opt.static_groups) throw Error("gbs: static params given but dynamic groups requested");
}

void require_params_fit(const vk::Buffer& params, uint32_t m, uint32_t ng) {
  if (params.size() < uint64_t(m) * ng * kernels::kGroupParamsBytes)
    throw Error("gbs: static params buffer '" + params.label() + "' holds " + std::to_string(params.size()) +
                " bytes, rows × groups need " + std::to_string(uint64_t(m) * ng * kernels::kGroupParamsBytes));
}

}  // namespace

GbsSolver::GbsSolver(vk::Context& ctx, const GbsOptions& options) : ctx_(ctx), opt_(options) {}

GbsSolver::~GbsSolver() = default;

GbsDeviceResult GbsSolver::solve(vk::Stream& s, const GbsProblem& pb) {
  validate(pb, opt_);
  const uint32_t m = pb.rows, n = pb.cols;
  const kernels::GridDesc d = device_grid(opt_.grid, n);
  kernels::validate_grid_desc("gbs", d, n);
  if (!desc_ready_ || desc_cols_ != n) {  // kernels specialise on the resolved group size
    desc_ = d, desc_cols_ = n, desc_ready_ = true;
    encode_.reset(), sweep_.reset(), beam_.reset();
  }
  const uint32_t ng = d.groups_per_row(n);
  std::vector<uint32_t> order = pb.order;
  if (order.empty()) {
    order.resize(n);
    std::iota(order.begin(), order.end(), 0u);
  }
  std::vector<uint32_t> position_of(n);
  for (uint32_t q = 0; q < n; ++q) position_of[order[q]] = q;

  GbsDeviceResult r;
  r.rows = m, r.cols = n, r.groups_per_row = ng;
  r.g_idx.resize(n);
  for (uint32_t q = 0; q < n; ++q) r.g_idx[order[q]] = opt_.static_groups ? order[q] / d.group : q / d.group;
  const uint64_t mn = uint64_t(std::max(m, 1u)) * n;
  r.codes = vk::Buffer(ctx_, mn * 4, vk::MemoryUse::Device, "gbs codes");
  r.dequantized = vk::Buffer(ctx_, mn * 4, vk::MemoryUse::Device, "gbs dequantized");
  r.params = vk::Buffer(ctx_, uint64_t(std::max(m, 1u)) * ng * kernels::kGroupParamsBytes, vk::MemoryUse::Device,
                        "gbs params");
  r.row_loss = vk::Buffer(ctx_, uint64_t(std::max(m, 1u)) * 4, vk::MemoryUse::Device, "gbs row loss");
  if (m == 0) return r;

  vk::Buffer perm = vk::upload_new(ctx_, order, "gbs order");
  vk::Buffer position = vk::upload_new(ctx_, position_of, "gbs position_of");
  if (opt_.static_groups) {
    if (pb.static_params) {
      require_params_fit(*pb.static_params, m, ng);
      s.copy(*pb.static_params, r.params, uint64_t(m) * ng * kernels::kGroupParamsBytes);
    } else {
      if (!encode_) encode_ = std::make_unique<kernels::GridEncode>(ctx_, d);
      encode_->params(s, *pb.target, m, n, r.params, 1.0f, &position);
    }
    s.barrier();
  }

  if (opt_.beam_width > 1) {
    if (!beam_) beam_ = std::make_unique<kernels::BeamSweep>(ctx_, d, uint32_t(opt_.beam_width));
    r.block_used = beam_->device_block(uint32_t(std::min<size_t>(opt_.block, UINT32_MAX)), n);
    beam_->run(s, {pb.target, pb.u, &perm, &r.params, &r.codes, &r.dequantized, &r.row_loss},
               {m, n, uint32_t(std::min<size_t>(opt_.block, UINT32_MAX))});
    r.workspace.push_back(std::move(perm));
    r.workspace.push_back(std::move(position));
    return r;
  }
  if (!sweep_) sweep_ = std::make_unique<kernels::GptqSweep>(ctx_, d);
  // The sweep overwrites its rows: work on a copy so T survives (scale search, reports).
  vk::Buffer w(ctx_, mn * 4, vk::MemoryUse::Device, "gbs working rows");
  s.copy(*pb.target, w, mn * 4);
  s.barrier();
  const uint32_t block = uint32_t(std::min<size_t>(opt_.block, UINT32_MAX));
  r.block_used = sweep_->device_block(block, n, !opt_.static_groups);
  sweep_->run(s, {&w, pb.u, &perm, &r.params, &r.codes, &r.dequantized, &r.row_loss},
              {m, n, block, !opt_.static_groups});
  r.workspace.push_back(std::move(perm));
  r.workspace.push_back(std::move(position));
  r.workspace.push_back(std::move(w));
  return r;
}

ref::SweepResult download_result(vk::Context& ctx, const GbsDeviceResult& r) {
  ref::SweepResult out;
  out.rows = r.rows, out.cols = r.cols, out.groups_per_row = r.groups_per_row;
  out.g_idx = r.g_idx;
  const size_t mn = size_t(r.rows) * r.cols;
  out.codes = vk::download_all<int32_t>(ctx, r.codes, mn);
  const auto deq = vk::download_all<float>(ctx, r.dequantized, mn);
  out.dequantized.assign(deq.begin(), deq.end());
  const auto loss = vk::download_all<float>(ctx, r.row_loss, r.rows);
  out.row_loss.assign(loss.begin(), loss.end());
  const auto p = vk::download_all<float>(ctx, r.params, size_t(r.rows) * r.groups_per_row * 4);
  out.params.resize(size_t(r.rows) * r.groups_per_row);
  for (size_t i = 0; i < out.params.size(); ++i) {
    out.params[i] = {double(p[i * 4]), double(p[i * 4 + 1]), double(p[i * 4 + 2])};
    if (!std::isfinite(p[i * 4]) || !std::isfinite(p[i * 4 + 1]) || !std::isfinite(p[i * 4 + 2]))
      throw Error("gbs: group parameters of row " + std::to_string(i / r.groups_per_row) + ", group " +
                  std::to_string(i % r.groups_per_row) + " are not finite (a scale that overflows the format?)");
  }
  for (size_t i = 0; i < r.rows; ++i)
    if (!std::isfinite(loss[i]))
      throw Error("gbs: the loss of row " + std::to_string(i) + " is not finite (non-finite T or U?)");
  return out;
}

ref::SweepResult gbs_quantize(vk::Context& ctx, const GbsProblem& problem, const GbsOptions& options) {
  GbsSolver solver(ctx, options);
  vk::Stream s(ctx);
  const GbsDeviceResult r = solver.solve(s, problem);
  s.submit_and_wait();
  return download_result(ctx, r);
}

}  // namespace vkq::quant
