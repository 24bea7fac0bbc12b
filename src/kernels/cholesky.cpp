#include "kernels/cholesky.hpp"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "kernels/regularize_gram.hpp"
#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct NPush {
  uint32_t n;
};
struct BlockPush {
  uint32_t n, k0, kb;
};
struct StorePush {
  uint32_t n, k0, kb, rows;
};
struct AntiPush {
  uint32_t n, slot;
};
// Status words (uint32): written by cholesky_diagonal_block and anti_transpose.
enum StatusWord : uint32_t { kFailed = 0, kColumn = 1, kPivot = 2, kInputNonfinite = 3, kOutputNonfinite = 4, kWords = 8 };
constexpr uint32_t kDiagWg = 64, kStoreWg = 256;
}  // namespace

std::string CholeskyStatus::describe() const {
  std::ostringstream o;
  if (input_nonfinite) o << "the regularised Gram has a non-finite entry";
  else if (pivot_failed) o << "not positive definite (pivot " << pivot << " at column " << column << ")";
  else if (output_nonfinite) o << "the factor U has a non-finite entry";
  else o << "ok";
  return o.str();
}

Cholesky::Cholesky(vk::Context& ctx) : ctx_(ctx), gemm_(ctx) {
  const auto& p = ctx.probe();
  // The diagonal block lives in shared memory (NB² floats plus a flag).
  if (p.max_shared_memory < 64u * 64u * 4u + 64u) nb_ = 32;
  wg_ = std::min({256u, p.max_workgroup_invocations, p.max_workgroup_size[0]});
  if (p.max_workgroup_invocations < 256 || p.max_workgroup_size[0] < 16 || p.max_workgroup_size[1] < 16) wg2_ = 8;
  status_ = vk::Buffer(ctx, kWords * 4, vk::MemoryUse::Device, "cholesky status");
}

Cholesky::~Cholesky() = default;

vk::Buffer& Cholesky::scratch(vk::Buffer& b, uint64_t bytes, const char* label) {
  if (!b || b.size() < bytes) {
    if (b) retired_.push_back(std::move(b));
    b = vk::Buffer(ctx_, bytes, vk::MemoryUse::Device, label);
  }
  return b;
}

void Cholesky::factor(vk::Stream& s, vk::Buffer& a, uint32_t n) {
  s.fill_zero(status_);
  s.barrier();
  factor_recorded(s, a, n);
  last_n_ = n;
  last_reversed_ = false;
}

void Cholesky::factor_recorded(vk::Stream& s, vk::Buffer& a, uint32_t n) {
  require_square_supported(ctx_, "cholesky", n);
  require_matrix_fits("cholesky", "A", a, 0, n, n, n, 4);
  if (n == 0) return;
  vk::Buffer& diag0 = scratch(diag0_, uint64_t(n) * 4, "cholesky diagonal");
  vk::Buffer& binv = scratch(block_inv_, uint64_t(nb_) * nb_ * 4, "cholesky block inverse");
  vk::Buffer& panel = scratch(panel_, uint64_t(nb_) * n * 4, "cholesky panel");
  if (!diag_) diag_ = std::make_unique<vk::Kernel>(ctx_, vk::KernelDesc{"extract_diagonal", 2, sizeof(NPush), {kDiagWg}});
  if (!block_)
    block_ = std::make_unique<vk::Kernel>(ctx_, vk::KernelDesc{"cholesky_diagonal_block", 4, sizeof(BlockPush), {nb_, wg_}});
  if (!store_)
    store_ = std::make_unique<vk::Kernel>(ctx_, vk::KernelDesc{"cholesky_store_panel", 2, sizeof(StorePush), {kStoreWg}});
  if (!zero_upper_)
    zero_upper_ = std::make_unique<vk::Kernel>(ctx_, vk::KernelDesc{"cholesky_zero_upper", 1, sizeof(NPush), {wg2_}});
  // The pivot threshold compares with the original diagonal, which the trailing updates overwrite.
  s.dispatch(*diag_, {&a, &diag0}, NPush{n}, (n + kDiagWg - 1) / kDiagWg);
  s.barrier();
  for (uint32_t k0 = 0; k0 < n; k0 += nb_) {
    const uint32_t kb = std::min(nb_, n - k0), rest = n - k0 - kb;
    s.dispatch(*block_, {&a, &diag0, &binv, &status_}, BlockPush{n, k0, kb}, 1);
    s.barrier();
    if (rest == 0) break;
    // Panel P = A21 L11⁻ᵀ (rest x kb, packed) into scratch: gemm cannot write in place.
    GemmShape pg;
    pg.m = rest, pg.n = kb, pg.k = kb;
    pg.lda = n, pg.ldb = nb_, pg.ldc = kb;
    pg.a_offset = uint64_t(k0 + kb) * n + k0;
    gemm_.run(s, a, binv, panel, pg);
    s.barrier();
    // Trailing update A22 −= P Pᵀ over the full block (the upper half is zeroed at the end),
    // and P stored back as L21; both only read P.
    GemmShape tg;
    tg.m = rest, tg.n = rest, tg.k = kb;
    tg.lda = tg.ldb = kb, tg.ldc = n;
    tg.c_offset = uint64_t(k0 + kb) * n + k0 + kb;
    tg.alpha = -1.0f, tg.beta = 1.0f;
    gemm_.run(s, panel, panel, a, tg);
    const uint64_t count = uint64_t(rest) * kb;
    s.dispatch(*store_, {&panel, &a}, StorePush{n, k0, kb, rest}, uint32_t((count + kStoreWg - 1) / kStoreWg));
    s.barrier();
  }
  const uint32_t groups = (n + wg2_ - 1) / wg2_;
  s.dispatch(*zero_upper_, {&a}, NPush{n}, groups, groups);
  s.barrier();
}

void Cholesky::invert_lower_transposed(vk::Stream& s, const vk::Buffer& l, vk::Buffer& y, uint32_t n) {
  invert_recorded(s, l, y, n);
}

void Cholesky::invert_recorded(vk::Stream& s, const vk::Buffer& l, vk::Buffer& y, uint32_t n) {
  require_square_supported(ctx_, "triangular_inverse", n);
  require_matrix_fits("triangular_inverse", "L", l, 0, n, n, n, 4);
  require_matrix_fits("triangular_inverse", "Y", y, 0, n, n, n, 4);
  if (l.handle() == y.handle()) throw Error("triangular_inverse: Y must not alias L");
  if (n == 0) return;
  if (!trtri_)
    trtri_ = std::make_unique<vk::Kernel>(
        ctx_, vk::KernelDesc{"triangular_inverse_diagonal", 2, sizeof(NPush), {nb_, std::min(nb_, wg_)}});
  s.fill_zero(y);  // L⁻ᵀ is zero below the diagonal
  s.barrier();
  s.dispatch(*trtri_, {&l, &y}, NPush{n}, (n + nb_ - 1) / nb_);
  s.barrier();
  if (n <= nb_) return;
  vk::Buffer& t = scratch(panel_, uint64_t(nb_) * n * 4, "cholesky panel");
  for (uint32_t r0 = nb_; r0 < n; r0 += nb_) {
    const uint32_t rb = std::min(nb_, n - r0);
    // T = Y[0:r0, 0:r0] · L[r0:r0+rb, 0:r0]ᵀ  (r0 x rb, packed).
    GemmShape g1;
    g1.m = r0, g1.n = rb, g1.k = r0;
    g1.lda = n, g1.ldb = n, g1.ldc = rb;
    g1.b_offset = uint64_t(r0) * n;
    gemm_.run(s, y, l, t, g1);
    s.barrier();
    // Y[0:r0, r0:r0+rb] = −T · Y_rr  (Y_rr stored k x n: b_kmajor; only r0·rb² flops).
    GemmShape g2;
    g2.m = r0, g2.n = rb, g2.k = rb;
    g2.b_kmajor = true;
    g2.lda = rb, g2.ldb = n, g2.ldc = n;
    g2.b_offset = uint64_t(r0) * n + r0;
    g2.c_offset = r0;
    g2.alpha = -1.0f;
    gemm_.run(s, t, y, y, g2);
    s.barrier();
  }
}

void Cholesky::anti_transpose(vk::Stream& s, vk::Buffer& a, uint32_t n) {
  anti_transpose_recorded(s, a, n, kOutputNonfinite);
}

void Cholesky::anti_transpose_recorded(vk::Stream& s, vk::Buffer& a, uint32_t n, uint32_t status_slot) {
  require_square_supported(ctx_, "anti_transpose", n);
  require_matrix_fits("anti_transpose", "A", a, 0, n, n, n, 4);
  if (n == 0) return;
  if (!anti_) anti_ = std::make_unique<vk::Kernel>(ctx_, vk::KernelDesc{"anti_transpose", 2, sizeof(AntiPush), {wg2_}});
  const uint32_t groups = (n + wg2_ - 1) / wg2_;
  s.dispatch(*anti_, {&a, &status_}, AntiPush{n, status_slot}, groups, groups);
  s.barrier();
}

void Cholesky::upper_factor_of_inverse(vk::Stream& s, vk::Buffer& work, vk::Buffer& u, uint32_t n) {
  if (work.handle() == u.handle()) throw Error("upper_factor_of_inverse: U must not alias the work matrix");
  s.fill_zero(status_);
  s.barrier();
  anti_transpose_recorded(s, work, n, kInputNonfinite);  // J H̃ᵀ J = J H̃ J
  factor_recorded(s, work, n);                           // M = chol(J H̃ J)
  invert_recorded(s, work, u, n);                        // M⁻ᵀ
  anti_transpose_recorded(s, u, n, kOutputNonfinite);    // U = J (M⁻ᵀ)ᵀ J = J M⁻¹ J
  last_n_ = n;
  last_reversed_ = true;
}

CholeskyStatus Cholesky::status() const {
  const auto w = vk::download_all<uint32_t>(ctx_, status_, kWords);
  CholeskyStatus st;
  st.input_nonfinite = w[kInputNonfinite] != 0;
  st.pivot_failed = w[kFailed] != 0;
  st.output_nonfinite = w[kOutputNonfinite] != 0;
  st.ok = !st.input_nonfinite && !st.pivot_failed && !st.output_nonfinite;
  if (st.pivot_failed) {
    st.column = last_reversed_ ? last_n_ - 1 - w[kColumn] : w[kColumn];
    std::memcpy(&st.pivot, &w[kPivot], 4);
  }
  return st;
}

}  // namespace vkq::kernels
