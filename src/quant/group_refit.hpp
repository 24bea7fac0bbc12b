// §3 group refits on the device (--group-refits; float64 reference: ref::refit_rows_from_codes): the rows × n²
// pieces of every row's normal equations come from kernels::GroupRefitTerms and a gemm (T H̃), so no n × n
// matrix is needed on the host; each row's small system is then solved in float64 by ref::solve_row_refit.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/gemm.hpp"
#include "kernels/group_refit_terms.hpp"
#include "reference/grid.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"

namespace vkq::quant {

class DeviceGroupRefit {
 public:
  // t: the row tile's target (m × n, original column order), h: H̃ in original order (n × n); both stay
  // alive while this object is used. T H̃ is computed here once for every refit pass of the tile.
  DeviceGroupRefit(vk::Context& ctx, kernels::Gemm& gemm, kernels::GroupRefitTerms& terms, const ref::GridSpec& grid,
                   const vk::Buffer& t, const vk::Buffer& h, uint32_t m, uint32_t n);
  // Each row's group params refitted from its codes (original order), as ref::refit_rows_from_codes.
  std::vector<ref::GroupParams> refit(const std::vector<int32_t>& codes, const std::vector<ref::GroupParams>& current);
  // Bytes of device workspace one pass may hold for the per-row terms (tests lower it to force chunks).
  void set_chunk_bytes(uint64_t bytes) { chunk_bytes_ = bytes; }

 private:
  vk::Context& ctx_;
  kernels::GroupRefitTerms& terms_;
  ref::GridSpec grid_;
  const vk::Buffer& h_;
  uint32_t m_, n_, group_, groups_;
  bool with_min_;
  std::vector<float> th_;  // T H̃, m × n
  uint64_t chunk_bytes_ = uint64_t(64) << 20;
};

}  // namespace vkq::quant
