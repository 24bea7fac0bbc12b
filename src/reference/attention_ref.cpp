#include "reference/attention_ref.hpp"

#include <algorithm>
#include <cmath>

#include "vkquant/vkquant.hpp"

namespace vkq::ref {

std::vector<double> attention_ref(const std::vector<double>& q, const std::vector<double>& k,
                                  const std::vector<double>& v,
                                  const std::vector<std::pair<uint32_t, uint32_t>>& ranges,
                                  const AttentionRefShape& s) {
  const size_t qw = s.heads * s.head_dim, kvw = s.kv_heads * s.head_dim;
  const size_t tokens = ranges.size();
  if (s.kv_heads == 0 || s.heads % s.kv_heads || q.size() != tokens * qw || k.size() != v.size() || k.size() % kvw)
    throw Error("attention_ref: operand sizes do not match the shape");
  const size_t kv_rows = k.size() / kvw;
  const double scale = 1.0 / std::sqrt(double(s.head_dim));
  std::vector<double> out(tokens * qw, 0.0), sc;
  for (size_t t = 0; t < tokens; ++t) {
    const size_t begin = ranges[t].first, end = ranges[t].second;
    if (end > kv_rows || begin > end) throw Error("attention_ref: key range outside K/V");
    for (size_t h = 0; h < s.heads; ++h) {
      const size_t g = h / (s.heads / s.kv_heads);
      sc.assign(end - begin, 0.0);
      double mx = -INFINITY;
      for (size_t j = begin; j < end; ++j) {
        double d = 0;
        for (size_t e = 0; e < s.head_dim; ++e) d += q[t * qw + h * s.head_dim + e] * k[j * kvw + g * s.head_dim + e];
        sc[j - begin] = d * scale;
        mx = std::max(mx, d * scale);
      }
      double sum = 0;
      for (double& x : sc) sum += (x = std::exp(x - mx));
      for (size_t j = begin; j < end; ++j)
        for (size_t e = 0; e < s.head_dim; ++e)
          out[t * qw + h * s.head_dim + e] += sc[j - begin] / sum * v[j * kvw + g * s.head_dim + e];
    }
  }
  return out;
}

}  // namespace vkq::ref
