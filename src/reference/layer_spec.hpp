// Plain data of one layer solve (ALGORITHMS.md §2–§5): grid description, per-group parameters,
// options and result. Standard library only and no functions, so the Vulkan solvers reuse these
// exact structs and their results compare field by field with the float64 reference.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vkq::ref {

// §3. INT is the generic b-bit grid; Q8_0 … Q5_1 are GGUF legacy blocks of 32 columns; IQ4 is ggml's
// 16-value non-linear grid (IQ4_NL / IQ4_XS) on 32-column groups: ŵ = scale · kIq4Values[code], its params
// always given (the super-block search), never min-max.
enum class GridFormat { INT, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4 };

// ggml's kvalues_iq4nl.
inline constexpr int kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// §3 ggml's 256-column super-block ("K") formats. Their codes live on an INT grid of 16- or 32-column
// sub-blocks (reference/superblock.hpp: superblock_grid) whose parameters are products of quantized
// sub-block scales/mins and fp16 super-block scales, chosen before the sweep (static groups).
// IQ4_NL (32-column blocks, an fp16 scale each) and IQ4_XS (256-column super-blocks of eight 32-column
// sub-blocks with 6-bit signed scales) round on the IQ4 grid.
enum class SuperBlock { none, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS };

// The stored parameters of one 256-column super-block of one row, as ggml keeps them.
struct SuperBlockParams {
  double d = 0, dmin = 0;      // fp16-exact super-block scale and min scale (dmin: Q2_K/Q4_K/Q5_K)
  int32_t scale[16] = {};      // quantized sub-block scales: Q2_K 0..15, Q4_K/Q5_K 0..63, Q3_K/IQ4_XS −32..31,
                               // Q6_K −128..127; IQ4_NL: 1 (its block scale is d itself)
  int32_t min[16] = {};        // quantized sub-block mins: Q2_K 0..15, Q4_K/Q5_K 0..63
};

struct GridSpec {
  GridFormat format = GridFormat::INT;
  int bits = 4;            // INT only, 2..8; GGUF formats imply their own
  size_t group = 128;      // INT: columns per group, 0 = per channel (one group per row); GGUF: 0 or 32
  bool symmetric = false;  // INT only; GGUF formats imply their own
};

// Parameters of one (row, group). Every format dequantizes as ŵ = scale·(q − zero) + min:
// INT: zero = zero point, min = 0; Q8_0/Q4_0/Q5_0: zero = 0/8/16, min = 0;
// Q4_1/Q5_1: zero = 0, min = the stored m. GGUF scale and min are already fp16-rounded.
struct GroupParams {
  double scale = 0;
  double zero = 0;
  double min = 0;
};

enum class Method { rtn, gptq, beam };

// §2 saliency s_j: unit = 1, hdiag = H_jj, act = mean|x_j|, act2 = (mean|x_j|)².
enum class Saliency { unit, hdiag, act, act2 };

// §2: fixed uses T = W + α W D H̃⁻¹; sampled means D was accumulated with per-sequence α_s,
// so T = W + W D H̃⁻¹.
enum class AlphaMode { fixed, sampled };

// §3 clip-search score: Δᵀ H̃_gg Δ over the full g×g block, or Σ_j H̃_jj Δ_j².
enum class ClipScore { full_block, diagonal };

struct ClipOptions {
  bool enabled = false;
  double step = 0.01;   // candidate c shrinks the range by (1 − c·step)
  int candidates = 20;  // c = 0 … candidates − 1; c = 0 is the min-max range
  int expand = 0;       // then e = 1 … expand widen it by (1 + e·step): scales above min-max
  bool refit = false;   // each candidate also scored with its H̃-weighted least-squares refit
  bool about_min = false;  // Q4_1/Q5_1: both families again with the range scaled about the min
  ClipScore score = ClipScore::full_block;
};

struct LayerQuantOptions {
  Method method = Method::gptq;
  GridSpec grid;
  bool act_order = true;       // process columns by descending diag H (stable)
  bool static_groups = true;   // group params from T before rounding (required for beam, GGUF+act_order)
  size_t block = 128;          // B: columns per error-feedback block
  double damp = 0.01;          // δ, relative to μ = mean(diag H)
  double lambda = 0;           // λ, SARQC strength relative to μ
  Saliency saliency = Saliency::unit;
  AlphaMode alpha_mode = AlphaMode::fixed;
  double alpha = 0;            // fixed α in [0, 1]; ignored when alpha_mode = sampled
  ClipOptions clip;
  SuperBlock superblock = SuperBlock::none;  // ≠ none: grid is superblock_grid(superblock), params from its search
  size_t superblock_refits = 1;  // K formats, gptq/beam: refit params from the swept codes and sweep again, ≤ this many times
  size_t group_refits = 0;       // other grids, gptq/beam with static groups: refit each row's group params jointly from the swept codes (H̃ least squares) and sweep again, ≤ this many times
  size_t beam_width = 4;       // K, method = beam only
  uint64_t seed = 0;           // seed of the per-sequence α draws (sample_alpha); the solve itself is deterministic
};

struct LayerQuantResult {
  size_t rows = 0, cols = 0, groups_per_row = 0;
  std::vector<int32_t> codes;          // rows × cols, original column order
  std::vector<GroupParams> params;     // rows × groups_per_row
  std::vector<SuperBlockParams> superblocks;  // rows × cols/256 when options.superblock ≠ none
  std::vector<uint32_t> g_idx;         // cols: group of each original column
  std::vector<double> dequantized;     // Q, rows × cols, original column order
  std::vector<double> target;          // T, rows × cols (dead columns zeroed, α shift applied)
  double loss = 0;                     // tr((T − Q) H (T − Q)ᵀ) / rows with the unregularised H
  double alpha_star = -1;              // closed-form α* of the result (closed_form_alpha); −1 without D
  std::vector<double> row_loss;        // (t − q) H̃ (t − q)ᵀ per row (= Σ_j (w_j − q_j)²/U_jj² for gptq/beam)
  double damp_used = 0;                // δ after any escalation
  std::vector<std::string> damping_retries;  // one message per failed factorisation
  std::vector<uint32_t> dead_columns;  // columns with H_jj = 0
  size_t refit_rows = 0;               // rows whose refit sweep lowered their loss (kept), over all refits
  double refit_row_loss_before = 0;    // Σ row_loss / rows before any refit (compare with Σ row_loss / rows)
};

}  // namespace vkq::ref
