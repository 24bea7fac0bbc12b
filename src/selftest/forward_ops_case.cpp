// Selftest rows for the forward-pass kernels (rms_norm, rope, attention, swiglu, add,
// embedding_gather, log_softmax_nll, moe_route, row_weights), each on one awkward shape against its float64
// reference.
#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/add.hpp"
#include "kernels/attention.hpp"
#include "kernels/embedding_gather.hpp"
#include "kernels/log_softmax_nll.hpp"
#include "kernels/moe_route.hpp"
#include "kernels/row_weights.hpp"
#include "kernels/rms_norm.hpp"
#include "kernels/rope.hpp"
#include "kernels/swiglu.hpp"
#include "reference/attention_ref.hpp"
#include "reference/elementwise_ref.hpp"
#include "reference/log_softmax_nll_ref.hpp"
#include "reference/moe_ref.hpp"
#include "reference/rms_norm_ref.hpp"
#include "reference/rope_ref.hpp"
#include "selftest/selftest_case.hpp"

namespace vkq::selftest {


std::vector<SelftestRow> forward_ops_case(vk::Context& ctx, std::mt19937_64& rng) {
  std::vector<SelftestRow> rows;
  // Both row forms on every device: a driver test exercises each shader whatever Auto would pick.
  const std::pair<kernels::RowForm, const char*> forms[] = {{kernels::RowForm::WorkgroupPerRow, ""},
                                                            {kernels::RowForm::LanePerRow, "_rows"}};
  for (const auto& [form, suffix] : forms) {  // rms_norm: 93 rows of 1000
    const uint32_t r = 93, c = 1000;
    auto x = uniform(rng, size_t(r) * c, -2, 2), w = uniform(rng, c, 0.5f, 1.5f);
    auto xb = vk::upload_new(ctx, x, "x"), wb = vk::upload_new(ctx, w, "w");
    auto yb = vk::upload_new(ctx, nan_filled(x.size()), "y");
    kernels::RmsNorm k(ctx, form);
    rows.push_back(timed_row(
        ctx, std::string("rms_norm") + suffix, "93x1000", 2e-6,  // fp32 sum of 1000 squares, one rsqrt
        [&](vk::Stream& s) { k.run(s, xb, wb, yb, {r, c, 0, 0, 0, 0, 1e-5f}); },
        [&] {
          return relative_error(vk::download_all<float>(ctx, yb, x.size()), ref::rms_norm_ref(to_d(x), to_d(w), r, c, 1e-5));
        }));
  }
  {  // rope: NeoX, partial rotation, linear scaling
    const uint32_t t = 129, h = 4, hd = 66, rot = 64;
    auto x = uniform(rng, size_t(t) * h * hd, -1, 1);
    std::vector<int32_t> pos(t);
    for (uint32_t i = 0; i < t; ++i) pos[i] = int32_t((i * 37) % 2000);
    auto xb = vk::upload_new(ctx, x, "x"), pb = vk::upload_new(ctx, pos, "positions");
    kernels::Rope k(ctx, {rot, 10000.0, 2.0, true}, 2000);
    rows.push_back(timed_row(
        ctx, "rope", "129x4x66 neox rot64 scale2", 1e-6,  // fp32-rounded cos/sin table, one multiply-add
        [&](vk::Stream& s) { k.run(s, xb, pb, {t, h, hd, 0, 0}); },
        [&] {
          auto want = to_d(x);
          ref::rope_ref(want, pos, {h, hd, rot, 10000.0, 2.0, true});
          return relative_error(vk::download_all<float>(ctx, xb, x.size()), want);
        }));
  }
  for (const auto& [form, suffix] : forms) {  // attention: grouped-query, two packed causal sequences
    const uint32_t heads = 8, kvh = 2, hd = 33;
    const std::vector<uint32_t> lens = {100, 29};
    const auto ranges = kernels::causal_ranges(lens);
    const uint32_t t = uint32_t(ranges.size());
    auto q = uniform(rng, size_t(t) * heads * hd, -2, 2), k = uniform(rng, size_t(t) * kvh * hd, -2, 2),
         v = uniform(rng, size_t(t) * kvh * hd, -1, 1);
    auto qb = vk::upload_new(ctx, q, "q"), kb = vk::upload_new(ctx, k, "k"), vb = vk::upload_new(ctx, v, "v");
    auto ob = vk::upload_new(ctx, nan_filled(q.size()), "out"), rb = vk::upload_new(ctx, ranges, "ranges");
    kernels::AttentionShape sh;
    sh.tokens = t, sh.heads = heads, sh.kv_heads = kvh, sh.head_dim = hd, sh.kv_rows = t;
    kernels::Attention att(ctx, form);
    rows.push_back(timed_row(
        ctx, std::string("attention") + suffix, "129 tokens 8/2 heads d33", 2e-5,  // fp32 scores, exp and sums over <= 100 keys
        [&](vk::Stream& s) { att.run(s, qb, kb, vb, ob, rb, sh); },
        [&] {
          std::vector<std::pair<uint32_t, uint32_t>> rr;
          for (auto r : ranges) rr.push_back({r.begin, r.end});
          return relative_error(vk::download_all<float>(ctx, ob, q.size()),
                                ref::attention_ref(to_d(q), to_d(k), to_d(v), rr, {heads, kvh, hd}));
        }));
  }
  {  // swiglu and add on 100003 elements
    const uint32_t n = 100003;
    auto a = uniform(rng, n, -10, 10), b = uniform(rng, n, -2, 2);
    auto ab = vk::upload_new(ctx, a, "a"), bb = vk::upload_new(ctx, b, "b");
    auto ob = vk::upload_new(ctx, nan_filled(n), "out");
    kernels::Swiglu sw(ctx);
    rows.push_back(timed_row(
        ctx, "swiglu", "100003", 1e-6,  // one exp, divide and multiply
        [&](vk::Stream& s) { sw.run(s, ab, bb, ob, n); },
        [&] { return relative_error(vk::download_all<float>(ctx, ob, n), ref::swiglu_ref(to_d(a), to_d(b))); }));
    auto ob2 = vk::upload_new(ctx, nan_filled(n), "out");
    kernels::Add ad(ctx);
    rows.push_back(timed_row(
        ctx, "add", "100003", 1.2e-7,  // one rounded fp32 addition
        [&](vk::Stream& s) { ad.run(s, ab, bb, ob2, n); },
        [&] { return relative_error(vk::download_all<float>(ctx, ob2, n), ref::add_ref(to_d(a), to_d(b))); }));
  }
  {  // embedding_gather: 127 ids from a 1000 x 65 table
    const uint32_t vocab = 1000, cols = 65, t = 127;
    auto emb = uniform(rng, size_t(vocab) * cols, -1, 1);
    std::vector<int32_t> ids(t);
    for (uint32_t i = 0; i < t; ++i) ids[i] = int32_t((i * 7919u + 13) % vocab);
    auto eb = vk::upload_new(ctx, emb, "emb"), ib = vk::upload_new(ctx, ids, "ids");
    auto ob = vk::upload_new(ctx, nan_filled(size_t(t) * cols), "out");
    kernels::EmbeddingGather g(ctx);
    rows.push_back(timed_row(
        ctx, "embedding_gather", "127 of 1000x65", 0.0,  // a copy: exact
        [&](vk::Stream& s) { g.run(s, eb, ib, ob, t, cols, vocab); },
        [&] {
          return relative_error(vk::download_all<float>(ctx, ob, size_t(t) * cols),
                                ref::embedding_gather_ref(to_d(emb), ids, cols));
        }));
  }
  {  // log_softmax_nll: 5 rows of a 128256 vocabulary
    const uint32_t t = 5, vocab = 128256;
    auto x = uniform(rng, size_t(t) * vocab, -8, 8);
    std::vector<int32_t> targets = {0, 1, 77777, 128255, 4242};
    auto xb = vk::upload_new(ctx, x, "logits"), tb = vk::upload_new(ctx, targets, "targets");
    auto nb = vk::upload_new(ctx, nan_filled(t), "nll");
    kernels::LogSoftmaxNll k(ctx);
    rows.push_back(timed_row(
        ctx, "log_softmax_nll", "5x128256", 2e-6,  // fp32 max + log(Kahan sum) - logit, relative to ~13 nats
        [&](vk::Stream& s) { k.run(s, xb, tb, nb, {t, vocab, 0, 0, 0}); },
        [&] {
          return relative_error(vk::download_all<float>(ctx, nb, t), ref::log_softmax_nll_ref(to_d(x), targets, vocab));
        }));
  }
  {  // moe_route: 129 tokens, 64 experts, top 8; each row's logits 0.05 apart (shuffled), so no near-tie decides
    const uint32_t t = 129, experts = 64, used = 8;
    std::vector<float> logits(size_t(t) * experts);
    std::vector<uint32_t> order(experts);
    for (uint32_t i = 0; i < t; ++i) {
      for (uint32_t e = 0; e < experts; ++e) order[e] = e;
      std::shuffle(order.begin(), order.end(), rng);
      for (uint32_t e = 0; e < experts; ++e) logits[size_t(i) * experts + e] = -1.5f + 0.05f * float(order[e]);
    }
    auto lb = vk::upload_new(ctx, logits, "logits");
    auto rb = vk::upload_new(ctx, nan_filled(logits.size()), "route");
    kernels::MoeRoute k(ctx);
    rows.push_back(timed_row(
        ctx, "moe_route", "129x64 top8", 2e-6,  // exp to 3 + 2|x| ulps (|x| <= 3.15), a sum, two divisions
        [&](vk::Stream& s) { k.run(s, lb, rb, {t, experts, used, true, 0.0f}); },
        [&] {
          return relative_error(vk::download_all<float>(ctx, rb, logits.size()),
                                ref::moe_route_ref(to_d(logits), t, experts, used, true, 0.0));
        }));
    // row_weights: expert 5's output added into a mixture (the forward pass's use of the routing).
    const uint32_t cols = 1000;
    auto x = uniform(rng, size_t(t) * cols, -2, 2), base = uniform(rng, size_t(t) * cols, -2, 2);
    auto xb = vk::upload_new(ctx, x, "x"), ob = vk::upload_new(ctx, base, "mixture");
    kernels::RowWeights rw(ctx);
    rows.push_back(timed_row(
        ctx, "row_weights", "129x1000 of 64", 1.2e-7,  // one product and one addition, each rounded
        [&](vk::Stream& s) { rw.scale(s, xb, rb, ob, {t, cols, experts, 5}, true); },
        [&] {
          std::vector<double> want = to_d(base);
          ref::row_weights_ref(to_d(x), to_d(vk::download_all<float>(ctx, rb, logits.size())), t, cols, experts, 5, true,
                               false, want);
          return relative_error(vk::download_all<float>(ctx, ob, want.size()), want);
        }));
  }
  return rows;
}

}  // namespace vkq::selftest
