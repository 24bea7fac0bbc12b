#include "reference/rope_ref.hpp"

#include <cmath>

#include "vkquant/vkquant.hpp"

namespace vkq::ref {

void rope_ref(std::vector<double>& x, const std::vector<int32_t>& positions, const RopeRefParams& p) {
  const size_t width = p.heads * p.head_dim, half = p.rot_dim / 2;
  if (x.size() != positions.size() * width || p.rot_dim % 2 || p.rot_dim > p.head_dim ||
      (!p.freq_factors.empty() && p.freq_factors.size() != half))
    throw Error("rope_ref: operand sizes do not match the shape");
  for (size_t t = 0; t < positions.size(); ++t)
    for (size_t h = 0; h < p.heads; ++h)
      for (size_t i = 0; i < half; ++i) {
        const double factor = p.freq_factors.empty() ? 1.0 : p.freq_factors[i];
        const double theta =
            (double(positions[t]) / p.scale) * std::pow(p.freq_base, -2.0 * double(i) / double(p.rot_dim)) / factor;
        const double c = std::cos(theta), s = std::sin(theta);
        const size_t base = t * width + h * p.head_dim;
        const size_t i0 = p.neox ? base + i : base + 2 * i;
        const size_t i1 = p.neox ? base + i + half : base + 2 * i + 1;
        const double x0 = x[i0], x1 = x[i1];
        x[i0] = x0 * c - x1 * s;
        x[i1] = x0 * s + x1 * c;
      }
}

}  // namespace vkq::ref
