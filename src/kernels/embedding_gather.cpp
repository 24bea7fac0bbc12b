#include "kernels/embedding_gather.hpp"

#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct Push {
  uint32_t tokens, cols, vocab;
};
constexpr uint32_t kWg = 64;
}  // namespace

EmbeddingGather::EmbeddingGather(vk::Context& ctx)
    : kernel_(std::make_unique<vk::Kernel>(ctx, vk::KernelDesc{"embedding_gather", 3, sizeof(Push), {kWg}})) {}
EmbeddingGather::~EmbeddingGather() = default;

void EmbeddingGather::run(vk::Stream& s, const vk::Buffer& emb, const vk::Buffer& ids, vk::Buffer& out,
                          uint32_t tokens, uint32_t cols, uint32_t vocab) {
  if (tokens == 0 || cols == 0) return;
  if (vocab == 0) throw Error("embedding_gather: empty vocabulary");
  require_matrix_fits("embedding_gather", "emb", emb, 0, vocab, cols, cols, 4);
  require_matrix_fits("embedding_gather", "ids", ids, 0, 1, tokens, tokens, 4);
  require_matrix_fits("embedding_gather", "out", out, 0, tokens, cols, cols, 4);
  const uint64_t total = uint64_t(tokens) * cols;
  s.dispatch(*kernel_, {&emb, &ids, &out}, Push{tokens, cols, vocab}, uint32_t((total + kWg - 1) / kWg));
}

}  // namespace vkq::kernels
