// `vkquant selftest` (vkq::run_selftest) passes on the test device and covers every shader: each
// shaders/*.comp is listed below with the selftest row that runs it, so a new shader without a
// selftest row (or a row that disappears) fails here.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "vkquant/vkquant.hpp"

#ifndef VKQ_SHADER_DIR
#define VKQ_SHADER_DIR ""
#endif

namespace vkq {
namespace {

// Shader → the selftest kernel row whose run dispatches it.
const std::map<std::string, std::string>& shader_rows() {
  static const std::map<std::string, std::string> m = {
      {"add", "add"},
      {"anti_transpose", "cholesky_inverse_upper"},
      {"attention", "attention"},
      {"attention_rows", "attention_rows"},
      {"beam_sweep", "beam_sweep"},
      {"channel_stats", "gram_accumulate"},
      {"cholesky_diagonal_block", "cholesky"},
      {"cholesky_store_panel", "cholesky"},
      {"cholesky_zero_upper", "cholesky"},
      {"clip_search", "clip_search"},         // INT g128 rows
      {"clip_search_small", "clip_search"},   // GGUF and g32 rows
      {"cross_gram_accumulate", "cross_gram_accumulate"},
      {"cross_gram_registers", "cross_gram_accumulate"},
      {"embedding_gather", "embedding_gather"},
      {"extract_diagonal", "regularize_gram"},
      {"gather_matrix", "gather_matrix"},
      {"gemm", "gemm"},
      {"gemm_registers", "gemm"},
      {"gptq_sweep_block", "gptq_sweep_block"},
      {"gram_accumulate", "gram_accumulate"},
      {"gram_finalize", "gram_accumulate"},
      {"gram_registers", "gram_accumulate"},
      {"grid_encode", "grid_encode"},
      {"log_softmax_nll", "log_softmax_nll"},
      {"moe_route", "moe_route"},
      {"peak_fma", "peak_fma"},
      {"regularize_gram", "regularize_gram"},
      {"rms_norm", "rms_norm"},
      {"rms_norm_rows", "rms_norm_rows"},
      {"rope", "rope"},
      {"row_quadratic_form", "row_quadratic_form"},
      {"row_weights", "row_weights"},
      {"group_refit_terms", "group_refit_terms"},
      {"rtn_quantize", "rtn_quantize"},
      {"scale_columns", "scale_columns"},
      {"swiglu", "swiglu"},
      {"triangular_inverse_diagonal", "cholesky_inverse_upper"},
  };
  return m;
}

TEST(Selftest, EveryShaderHasASelftestRowAndAllPass) {
  ASSERT_TRUE(std::filesystem::is_directory(VKQ_SHADER_DIR)) << VKQ_SHADER_DIR;
  std::set<std::string> shaders;
  for (const auto& e : std::filesystem::directory_iterator(VKQ_SHADER_DIR))
    if (e.path().extension() == ".comp") shaders.insert(e.path().stem().string());
  for (const auto& s : shaders)
    EXPECT_TRUE(shader_rows().count(s)) << "shaders/" << s << ".comp has no selftest row listed here";
  for (const auto& [s, row] : shader_rows())
    EXPECT_TRUE(shaders.count(s)) << s << " is listed but shaders/" << s << ".comp does not exist";

  SelftestOptions o;
  o.validation = true;
  const SelftestReport r = run_selftest(o);
  std::set<std::string> kernels;
  for (const auto& row : r.rows) {
    kernels.insert(row.kernel);
    EXPECT_TRUE(row.passed) << row.kernel << " " << row.shape << ": " << row.message << " (error " << row.max_error
                            << ", tolerance " << row.tolerance << ", seed " << r.seed << ")";
  }
  for (const auto& [s, row] : shader_rows())
    EXPECT_TRUE(kernels.count(row)) << "no selftest row '" << row << "' (runs shaders/" << s << ".comp)";
  EXPECT_EQ(r.validation_messages, 0u);
}

}  // namespace
}  // namespace vkq
