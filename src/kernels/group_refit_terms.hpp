// The group refits' normal-equation pieces on the device (ref::row_refit_terms's ss, sm, ms for every row
// and group pair): per group column b a gemm Z = U_b H̃_bᵀ (the rows × n² work, on the tuned gemm) and
// shaders/group_refit_terms.comp reducing Z over each group a.
#pragma once

#include <cstdint>
#include <memory>

#include "kernels/gemm.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

struct GroupRefitShape {
  uint32_t rows = 0, n = 0;
  uint32_t group = 0;     // columns per group; the last group of a row may be partial
  uint32_t ones_row = 0;  // a row of U whose entries are all 1 (its terms are Σ H̃ over each group pair)
  bool with_min = false;  // Q4_1/Q5_1: also sm and ms
  uint32_t groups() const { return group ? (n + group - 1) / group : 0; }
};

class GroupRefitTerms {
 public:
  GroupRefitTerms(vk::Context& ctx, Gemm& gemm);
  ~GroupRefitTerms();
  // h: H̃ (n × n, symmetric), u: U (rows × n, codes decoded at scale 1), z: scratch of rows × n.
  // ss/sm/ms[(r · groups + a) · groups + b] for r < rows (fp32); sm and ms are written only with_min
  // (they may then alias ss).
  void run(vk::Stream& s, const vk::Buffer& h, const vk::Buffer& u, vk::Buffer& z, vk::Buffer& ss, vk::Buffer& sm,
           vk::Buffer& ms, const GroupRefitShape& shape);

 private:
  Gemm& gemm_;
  uint32_t wg_ = 64;
  std::unique_ptr<vk::Kernel> kernel_;
};

}  // namespace vkq::kernels
