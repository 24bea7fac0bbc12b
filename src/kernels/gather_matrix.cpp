#include "kernels/gather_matrix.hpp"

#include <string>

#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct Push {
  uint32_t rows, cols, src_cols;
};
constexpr uint32_t kWg = 16;
}  // namespace

GatherMatrix::GatherMatrix(vk::Context& ctx) : ctx_(ctx) {}
GatherMatrix::~GatherMatrix() = default;

vk::Buffer GatherMatrix::upload_map(vk::Context& ctx, const std::vector<uint32_t>& map, uint32_t extent,
                                    const char* what) {
  for (size_t i = 0; i < map.size(); ++i)
    if (map[i] >= extent)
      throw Error(std::string("gather_matrix: ") + what + "[" + std::to_string(i) + "] = " + std::to_string(map[i]) +
                  " is outside 0.." + std::to_string(extent - 1));
  return vk::upload_new(ctx, map, what);
}

void GatherMatrix::run(vk::Stream& s, const vk::Buffer& src, uint32_t src_rows, uint32_t src_cols,
                       const vk::Buffer* row_map, const vk::Buffer& col_map, vk::Buffer& dst, uint32_t rows,
                       uint32_t cols) {
  if (rows == 0 || cols == 0) return;
  if (&src == &dst) throw Error("gather_matrix: source and destination must differ");
  if (!row_map && rows > src_rows)
    throw Error("gather_matrix: " + std::to_string(rows) + " output rows without a row map exceed the source's " +
                std::to_string(src_rows));
  require_matrix_fits("gather_matrix", "source", src, 0, src_rows, src_cols, src_cols, 4);
  require_matrix_fits("gather_matrix", "destination", dst, 0, rows, cols, cols, 4);
  if (col_map.size() < uint64_t(cols) * 4 || (row_map && row_map->size() < uint64_t(rows) * 4))
    throw Error("gather_matrix: an index map is shorter than the output");
  const int mapped = row_map ? 1 : 0;
  if (!kernels_[mapped])
    kernels_[mapped] =
        std::make_unique<vk::Kernel>(ctx_, vk::KernelDesc{"gather_matrix", 4, sizeof(Push), {kWg, uint32_t(mapped)}});
  const Push push{rows, cols, src_cols};
  // Without a row map the binding still needs a buffer: the column map stands in, unread.
  s.dispatch(*kernels_[mapped], {&src, row_map ? row_map : &col_map, &col_map, &dst}, push, (cols + kWg - 1) / kWg,
             (rows + kWg - 1) / kWg);
}

std::vector<uint32_t> inverse_permutation(const std::vector<uint32_t>& order) {
  std::vector<uint32_t> inv(order.size(), UINT32_MAX);
  for (size_t p = 0; p < order.size(); ++p) {
    if (order[p] >= order.size() || inv[order[p]] != UINT32_MAX)
      throw Error("inverse_permutation: the order is not a permutation of 0.." + std::to_string(order.size() - 1));
    inv[order[p]] = uint32_t(p);
  }
  return inv;
}

}  // namespace vkq::kernels
