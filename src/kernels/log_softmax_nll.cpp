#include "kernels/log_softmax_nll.hpp"

#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct Push {
  uint32_t tokens, vocab, x_off, x_stride, out_off;
};
constexpr uint32_t kWg = 64;
}  // namespace

LogSoftmaxNll::LogSoftmaxNll(vk::Context& ctx)
    : kernel_(std::make_unique<vk::Kernel>(ctx, vk::KernelDesc{"log_softmax_nll", 3, sizeof(Push), {kWg}})) {}
LogSoftmaxNll::~LogSoftmaxNll() = default;

void LogSoftmaxNll::run(vk::Stream& s, const vk::Buffer& logits, const vk::Buffer& targets, vk::Buffer& nll,
                        const LogSoftmaxNllShape& sh) {
  if (sh.tokens == 0) return;
  if (sh.vocab == 0) throw Error("log_softmax_nll: empty vocabulary");
  const uint32_t stride = sh.x_stride ? sh.x_stride : sh.vocab;
  require_matrix_fits("log_softmax_nll", "logits", logits, sh.x_off, sh.tokens, sh.vocab, stride, 4);
  require_matrix_fits("log_softmax_nll", "targets", targets, sh.out_off, 1, sh.tokens, sh.tokens, 4);
  require_matrix_fits("log_softmax_nll", "nll", nll, sh.out_off, 1, sh.tokens, sh.tokens, 4);
  s.dispatch(*kernel_, {&logits, &targets, &nll}, Push{sh.tokens, sh.vocab, sh.x_off, stride, sh.out_off}, sh.tokens);
}

}  // namespace vkq::kernels
