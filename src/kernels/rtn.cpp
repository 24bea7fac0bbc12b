#include "kernels/rtn.hpp"

#include <algorithm>
#include <string>

#include "kernels/shape_check.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::kernels {

namespace {
struct Push {
  uint32_t m, n, group, groups, ldt, t_off;
};
constexpr uint32_t kWg = 64;
constexpr uint32_t kGgufBlock = 32;
}  // namespace

void validate_grid_spec(const char* kernel, const ref::GridSpec& spec, uint32_t n) {
  const std::string k = kernel;
  if (n == 0) throw Error(k + ": a row has no columns (n = 0)");
  if (spec.format == ref::GridFormat::INT) {
    if (spec.bits < 2 || spec.bits > 8)
      throw Error(k + ": INT grid with bits = " + std::to_string(spec.bits) + " is outside 2..8");
    return;
  }
  if (spec.group != 0 && spec.group != kGgufBlock)
    throw Error(k + ": GGUF grid with group = " + std::to_string(spec.group) + " but blocks are 32 columns");
  if (n % kGgufBlock != 0)
    throw Error(k + ": n = " + std::to_string(n) + " columns is not a multiple of the 32-column GGUF block");
}

uint32_t grid_group_columns(const ref::GridSpec& spec, uint32_t n) {
  if (spec.format != ref::GridFormat::INT) return kGgufBlock;
  return spec.group == 0 ? n : uint32_t(std::min<size_t>(spec.group, n));
}

uint32_t grid_groups_per_row(const ref::GridSpec& spec, uint32_t n) {
  const uint32_t g = grid_group_columns(spec, n);
  return (n + g - 1) / g;
}

std::vector<ref::GroupParams> params_from_device(const std::vector<float>& packed) {
  std::vector<ref::GroupParams> out(packed.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) out[i] = {packed[4 * i], packed[4 * i + 1], packed[4 * i + 2]};
  return out;
}

std::vector<float> params_to_device(const std::vector<ref::GroupParams>& params, ref::GridFormat format) {
  std::vector<float> out(params.size() * 4, 0.0f);
  for (size_t i = 0; i < params.size(); ++i) {
    out[4 * i] = float(params[i].scale);
    out[4 * i + 1] = float(params[i].zero);
    out[4 * i + 2] = float(params[i].min);
    out[4 * i + 3] = format == ref::GridFormat::IQ4 ? 1.0f : 0.0f;
  }
  return out;
}

Rtn::Rtn(vk::Context& ctx, const ref::GridSpec& spec) : ctx_(ctx), spec_(spec) {
  validate_grid_spec("rtn_quantize", spec, spec.format == ref::GridFormat::INT ? 1 : kGgufBlock);
}

Rtn::~Rtn() = default;

void Rtn::run(vk::Stream& s, const vk::Buffer& t, vk::Buffer& params, vk::Buffer& codes, vk::Buffer& q,
              const RtnShape& shape) {
  dispatch(s, t, params, codes, q, shape, false);
}

void Rtn::run_with_params(vk::Stream& s, const vk::Buffer& t, const vk::Buffer& params, vk::Buffer& codes,
                          vk::Buffer& q, const RtnShape& shape) {
  dispatch(s, t, params, codes, q, shape, true);
}

void Rtn::dispatch(vk::Stream& s, const vk::Buffer& t, const vk::Buffer& params, vk::Buffer& codes, vk::Buffer& q,
                   const RtnShape& sh, bool given) {
  if (sh.m == 0) return;
  validate_grid_spec("rtn_quantize", spec_, sh.n);
  const uint32_t ldt = sh.ldt ? sh.ldt : sh.n;
  const uint32_t g = grid_group_columns(spec_, sh.n), groups = grid_groups_per_row(spec_, sh.n);
  if (uint64_t(sh.m) * groups * 4 > UINT32_MAX || uint64_t(sh.m) * sh.n > UINT32_MAX)
    throw Error("rtn_quantize: " + std::to_string(sh.m) + " x " + std::to_string(sh.n) +
                " is above the 2^32 elements a shader can index; split the rows");
  require_matrix_fits("rtn_quantize", "T", t, sh.t_offset, sh.m, sh.n, ldt, 4);
  require_matrix_fits("rtn_quantize", "params", params, 0, sh.m, uint64_t(groups) * 4, uint64_t(groups) * 4, 4);
  require_matrix_fits("rtn_quantize", "codes", codes, 0, sh.m, sh.n, sh.n, 4);
  require_matrix_fits("rtn_quantize", "Q", q, 0, sh.m, sh.n, sh.n, 4);
  auto& k = kernels_[given ? 1 : 0];
  if (!k)
    k = std::make_unique<vk::Kernel>(
        ctx_, vk::KernelDesc{"rtn_quantize", 4, sizeof(Push),
                             {kWg, uint32_t(spec_.format), uint32_t(spec_.bits), spec_.symmetric ? 1u : 0u,
                              given ? 1u : 0u}});
  const Push push{sh.m, sh.n, g, groups, ldt, uint32_t(sh.t_offset)};
  const uint64_t total = uint64_t(sh.m) * groups;
  // The shader only writes `params` when computing them; binding it read-write is harmless otherwise.
  s.dispatch(*k, {&t, &params, &codes, &q}, push, uint32_t((total + kWg - 1) / kWg));
}

}  // namespace vkq::kernels
