#include "kernels/grid_params.hpp"

#include <string>

#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct EncodePush {
  uint32_t m, n, g, ng, mode;
  float shrink;
  uint32_t permuted;
};
constexpr uint32_t kWg = 64;
}  // namespace

int32_t GridDesc::code_lo() const { return format == GridFormatId::Q8_0 ? -127 : 0; }

int32_t GridDesc::code_hi() const {
  switch (format) {
    case GridFormatId::INT: return (1 << bits) - 1;
    case GridFormatId::Q8_0: return 127;
    case GridFormatId::Q4_0:
    case GridFormatId::Q4_1:
    case GridFormatId::IQ4: return 15;
    case GridFormatId::Q5_0:
    case GridFormatId::Q5_1: return 31;
  }
  return 0;
}

void validate_grid_desc(const char* kernel, const GridDesc& grid, uint32_t n) {
  const std::string k = kernel;
  if (n == 0) throw Error(k + ": a row has no columns (n = 0)");
  if (uint32_t(grid.format) > uint32_t(GridFormatId::IQ4)) throw Error(k + ": unknown grid format");
  if (grid.group == 0) throw Error(k + ": group size 0 (resolve per-channel groups to n first)");
  if (grid.format == GridFormatId::INT) {
    if (grid.bits < 2 || grid.bits > 8) throw Error(k + ": INT bits = " + std::to_string(grid.bits) + " outside 2..8");
    return;
  }
  if (grid.group != 32) throw Error(k + ": GGUF blocks are 32 columns, got group " + std::to_string(grid.group));
  if (n % 32 != 0) throw Error(k + ": n = " + std::to_string(n) + " is not a multiple of the 32-column GGUF block");
}

GridEncode::GridEncode(vk::Context& ctx, const GridDesc& grid) : ctx_(ctx), grid_(grid) {
  kernel_ = std::make_unique<vk::Kernel>(
      ctx, vk::KernelDesc{"grid_encode", 5, sizeof(EncodePush),
                          {kWg, uint32_t(grid.format), grid.bits, grid.symmetric ? 1u : 0u}});
}

GridEncode::~GridEncode() = default;

void GridEncode::run(vk::Stream& s, const vk::Buffer& w, uint32_t m, uint32_t n, const vk::Buffer& params,
                     const vk::Buffer* codes, const vk::Buffer* dequantized, uint32_t mode, float shrink,
                     const vk::Buffer* position_of) {
  validate_grid_desc("grid_encode", grid_, n);
  if (m == 0) return;
  const uint32_t ng = grid_.groups_per_row(n);
  require_matrix_fits("grid_encode", "W", w, 0, m, n, n, 4);
  require_matrix_fits("grid_encode", "params", params, 0, m, ng, ng, kGroupParamsBytes);
  if (uint64_t(m) * ng > UINT32_MAX) throw Error("grid_encode: rows × groups above 2^32");
  // Unused bindings alias the params buffer (mode 2 never touches them).
  const vk::Buffer* c = codes ? codes : &params;
  const vk::Buffer* d = dequantized ? dequantized : &params;
  if (codes) require_matrix_fits("grid_encode", "codes", *codes, 0, m, n, n, 4);
  if (dequantized) require_matrix_fits("grid_encode", "dequantized", *dequantized, 0, m, n, n, 4);
  if (position_of) require_matrix_fits("grid_encode", "position_of", *position_of, 0, 1, n, n, 4);
  const EncodePush push{m, n, grid_.group, ng, mode, shrink, position_of ? 1u : 0u};
  const uint64_t items = uint64_t(m) * ng;
  s.dispatch(*kernel_, {&w, &params, c, d, position_of ? position_of : &w}, push, uint32_t((items + kWg - 1) / kWg));
}

void GridEncode::params(vk::Stream& s, const vk::Buffer& w, uint32_t m, uint32_t n, vk::Buffer& params, float shrink,
                        const vk::Buffer* position_of) {
  run(s, w, m, n, params, nullptr, nullptr, 2, shrink, position_of);
}

void GridEncode::encode(vk::Stream& s, const vk::Buffer& w, uint32_t m, uint32_t n, vk::Buffer& params,
                        vk::Buffer& codes, vk::Buffer& dequantized, float shrink) {
  run(s, w, m, n, params, &codes, &dequantized, 0, shrink, nullptr);
}

void GridEncode::encode_with_params(vk::Stream& s, const vk::Buffer& w, uint32_t m, uint32_t n,
                                    const vk::Buffer& params, vk::Buffer& codes, vk::Buffer& dequantized) {
  run(s, w, m, n, params, &codes, &dequantized, 1, 1.0f, nullptr);
}

}  // namespace vkq::kernels
