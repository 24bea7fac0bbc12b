#include "kernels/rope.hpp"

#include <cmath>
#include <string>

#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct Push {
  uint32_t tokens, heads, head_dim, rot_dim, x_off, x_stride, neox, table_positions;
};
constexpr uint32_t kWg = 64;
}  // namespace

Rope::Rope(vk::Context& ctx, const RopeParams& params, uint32_t max_positions) : ctx_(ctx), params_(params) {
  if (params.rot_dim == 0 || params.rot_dim % 2 != 0)
    throw Error("rope: rotated dims " + std::to_string(params.rot_dim) + " must be even and positive");
  if (!(params.freq_base > 0) || !(params.scale > 0)) throw Error("rope: freq_base and scale must be positive");
  if (!params.freq_factors.empty() && params.freq_factors.size() != params.rot_dim / 2)
    throw Error("rope: " + std::to_string(params.freq_factors.size()) + " frequency factors for " +
                std::to_string(params.rot_dim / 2) + " rotated pairs");
  for (double f : params.freq_factors)
    if (!(f > 0) || !std::isfinite(f)) throw Error("rope: frequency factors must be finite and positive");
  kernel_ = std::make_unique<vk::Kernel>(ctx, vk::KernelDesc{"rope", 3, sizeof(Push), {kWg}});
  build_table(std::max<uint32_t>(max_positions, 1));
}
Rope::~Rope() = default;

void Rope::build_table(uint32_t n) {
  const uint32_t half = params_.rot_dim / 2;
  std::vector<float> t(size_t(n) * half * 2);
  for (uint32_t pos = 0; pos < n; ++pos)
    for (uint32_t i = 0; i < half; ++i) {
      const double factor = params_.freq_factors.empty() ? 1.0 : params_.freq_factors[i];
      const double theta =
          (double(pos) / params_.scale) * std::pow(params_.freq_base, -2.0 * i / params_.rot_dim) / factor;
      t[(size_t(pos) * half + i) * 2] = float(std::cos(theta));
      t[(size_t(pos) * half + i) * 2 + 1] = float(std::sin(theta));
    }
  if (table_) retired_.push_back(std::move(table_));
  table_ = vk::upload_new(ctx_, t, "rope cos/sin table");
  positions_ = n;
}

void Rope::ensure_positions(uint32_t n) {
  if (n > positions_) build_table(std::max(n, positions_ * 2));
}

void Rope::run(vk::Stream& s, vk::Buffer& x, const vk::Buffer& positions, const RopeShape& sh) {
  if (sh.tokens == 0 || sh.heads == 0) return;
  if (params_.rot_dim > sh.head_dim)
    throw Error("rope: rotated dims " + std::to_string(params_.rot_dim) + " exceed the head size " +
                std::to_string(sh.head_dim));
  const uint32_t width = sh.heads * sh.head_dim;
  const uint32_t stride = sh.x_stride ? sh.x_stride : width;
  require_matrix_fits("rope", "x", x, sh.x_off, sh.tokens, width, stride, 4);
  require_matrix_fits("rope", "positions", positions, 0, 1, sh.tokens, sh.tokens, 4);
  const uint64_t total = uint64_t(sh.tokens) * sh.heads * (params_.rot_dim / 2);
  if (total > UINT32_MAX) throw Error("rope: too many rotations in one call; split the tokens");
  const Push push{sh.tokens, sh.heads, sh.head_dim, params_.rot_dim, sh.x_off, stride, params_.neox ? 1u : 0u, positions_};
  s.dispatch(*kernel_, {&x, &table_, &positions}, push, uint32_t((total + kWg - 1) / kWg));
}

}  // namespace vkq::kernels
