#include "kernels/moe_route.hpp"

#include <string>

#include "kernels/shape_check.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::kernels {

namespace {
struct Push {
  uint32_t tokens, experts, used, norm;
  float scale;
};
constexpr uint32_t kWg = 64;
constexpr uint32_t kMaxExperts = 1024;  // the shader's selection mask
}  // namespace

MoeRoute::MoeRoute(vk::Context& ctx)
    : kernel_(std::make_unique<vk::Kernel>(ctx, vk::KernelDesc{"moe_route", 2, sizeof(Push), {kWg}})) {}
MoeRoute::~MoeRoute() = default;

void MoeRoute::run(vk::Stream& s, const vk::Buffer& logits, vk::Buffer& route, const MoeRouteShape& sh) {
  if (sh.tokens == 0) return;
  if (sh.experts == 0 || sh.experts > kMaxExperts || sh.used == 0 || sh.used > sh.experts)
    throw Error("moe_route: " + std::to_string(sh.used) + " of " + std::to_string(sh.experts) +
                " experts per token (need 1 <= used <= experts <= " + std::to_string(kMaxExperts) + ")");
  require_matrix_fits("moe_route", "logits", logits, 0, sh.tokens, sh.experts, sh.experts, 4);
  require_matrix_fits("moe_route", "route", route, 0, sh.tokens, sh.experts, sh.experts, 4);
  s.dispatch(*kernel_, {&logits, &route}, Push{sh.tokens, sh.experts, sh.used, sh.normalize ? 1u : 0u, sh.scale},
             (sh.tokens + kWg - 1) / kWg);
}

}  // namespace vkq::kernels
