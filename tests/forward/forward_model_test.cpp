// The Vulkan transformer against the float64 reference forward on stories260K: whole-model logits
// from both sources, one block over packed sequences with the captured linear inputs, weight
// replacement, and mean NLL of the README's 5-block protocol against its published value.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <random>

#include "forward/transformer_model.hpp"
#include "forward_fixture.hpp"
#include "model/gguf.hpp"
#include "model/tokenizer.hpp"
#include "reference/forward_ref.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

using forward::LinearGroup;
using forward::TokenBatch;
using forward::TransformerModel;

TEST(TransformerModel, LogitsMatchFloat64Reference) {
  auto w = model::ModelWeights::open(test::stories_gguf());
  auto tok = model::make_tokenizer(*w.gguf());
  const auto blocks = test::text_blocks(test::read_text(test::data_path("tinystories-valid/tinystories_val.txt")));
  auto ids = tok->encode(blocks.at(0), true);
  ASSERT_GT(ids.size(), 40u);
  TransformerModel m(test::vk_context(), w);
  const auto got = m.logits(ids);
  const auto want = ref::forward_logits_ref(test::ref_config(w.config()), test::ref_weights(w), ids);
  // fp32 activations through 5 blocks of width 64 (dot products <= 172 terms): measured ~4e-7 of
  // the largest logit; 5e-6 leaves room for other devices' summation orders, not for a wrong op.
  EXPECT_LT(test::max_rel_error(got, want), 5e-6);

  // The llama2.c checkpoint holds bit-identical tensors: identical logits.
  auto wb = model::ModelWeights::open(test::stories_bin());
  TransformerModel mb(test::vk_context(), wb);
  EXPECT_EQ(mb.logits(ids), got);
  const auto last = m.last_logits(ids);
  EXPECT_EQ(last, std::vector<float>(got.end() - w.config().vocab_size, got.end()));
}

TEST(TransformerModel, BlockOverPackedSequencesAndCapture) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  auto w = model::ModelWeights::open(test::stories_gguf());
  const auto& c = w.config();
  TransformerModel m(ctx, w);
  const std::vector<uint32_t> lengths = {33, 1, 70};
  const uint32_t tokens = 104;
  auto x = test::random_floats(rng, size_t(tokens) * c.dim, -1, 1);
  auto xb = vk::upload_new(ctx, x, "x");
  auto yb = vk::upload_new(ctx, test::poisoned(x.size()), "y");
  auto batch = m.prepare(forward::TokenBatch::from_lengths(lengths));
  std::vector<vk::Buffer> cap;
  std::vector<std::pair<LinearGroup, uint32_t>> seen;
  forward::CaptureFn fn = [&](vk::Stream& s, LinearGroup g, const vk::Buffer& in, uint32_t n, uint32_t cols) {
    cap.push_back(vk::upload_new(ctx, test::poisoned(size_t(n) * cols), "capture"));
    s.copy(in, cap.back(), uint64_t(n) * cols * 4);
    seen.push_back({g, cols});
  };
  vk::Stream s(ctx);
  m.forward_block(s, 3, xb, batch, yb, {&fn});
  s.submit_and_wait();
  ref::BlockRefCapture rc;
  const auto want = ref::forward_block_ref(test::ref_config(c), test::ref_block(w, 3), test::to_double(x), lengths, &rc);
  // One block in fp32: ~1e-6 relative per op, a handful of ops deep.
  EXPECT_LT(test::max_rel_error(vk::download_all<float>(ctx, yb, x.size()), want), 1e-5);
  ASSERT_EQ(seen.size(), 4u);
  const std::vector<std::pair<LinearGroup, const std::vector<double>*>> groups = {
      {LinearGroup::AttnQkv, &rc.attn_in}, {LinearGroup::AttnOutput, &rc.attn_out},
      {LinearGroup::FfnGateUp, &rc.ffn_in}, {LinearGroup::FfnDown, &rc.down_in}};
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(forward::linear_group_name(groups[i].first));
    EXPECT_EQ(seen[i].first, groups[i].first);
    const auto& wantc = *groups[i].second;
    EXPECT_EQ(size_t(tokens) * seen[i].second, wantc.size());
    EXPECT_LT(test::max_rel_error(vk::download_all<float>(ctx, cap[i], wantc.size()), wantc), 1e-5);
  }
}

// A calibration stage's pass ends at its group's capture: the groups before it are captured exactly as in
// the whole pass, nothing after it runs, and the block's output is left untouched.
TEST(TransformerModel, StopAfterEndsThePassAtThatGroupsCapture) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  auto w = model::ModelWeights::open(test::stories_gguf());
  const auto& c = w.config();
  TransformerModel m(ctx, w);
  const std::vector<uint32_t> lengths = {20, 45};
  const uint32_t tokens = 65;
  auto x = test::random_floats(rng, size_t(tokens) * c.dim, -1, 1);
  auto xb = vk::upload_new(ctx, x, "x");
  auto batch = m.prepare(forward::TokenBatch::from_lengths(lengths));
  // Every group's captured input, and the groups seen, of one pass.
  auto run = [&](std::optional<LinearGroup> stop, vk::Buffer& y) {
    std::vector<std::vector<float>> caps;
    std::vector<vk::Buffer> bufs;
    std::vector<LinearGroup> seen;
    forward::CaptureFn fn = [&](vk::Stream& s, LinearGroup g, const vk::Buffer& in, uint32_t n, uint32_t cols) {
      bufs.push_back(vk::upload_new(ctx, test::poisoned(size_t(n) * cols), "capture"));
      s.copy(in, bufs.back(), uint64_t(n) * cols * 4);
      seen.push_back(g);
    };
    vk::Stream s(ctx);
    m.forward_block(s, 2, xb, batch, y, {&fn, nullptr, stop});
    s.submit_and_wait();
    for (auto& b : bufs) caps.push_back(vk::download_all<float>(ctx, b, b.size() / 4));
    return std::make_pair(seen, caps);
  };
  const auto poison = test::poisoned(x.size());
  auto y_full = vk::upload_new(ctx, poison, "y");
  const auto [all_groups, all_caps] = run(std::nullopt, y_full);
  ASSERT_EQ(all_groups.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(forward::linear_group_name(all_groups[i]));
    auto y = vk::upload_new(ctx, poison, "y");
    const auto [groups, caps] = run(all_groups[i], y);
    ASSERT_EQ(groups, std::vector<LinearGroup>(all_groups.begin(), all_groups.begin() + i + 1));
    for (size_t j = 0; j <= i; ++j) EXPECT_EQ(caps[j], all_caps[j]);  // same kernels, same order: bit-identical
    const auto y_after = vk::download_all<float>(ctx, y, x.size());
    EXPECT_EQ(std::memcmp(y_after.data(), poison.data(), poison.size() * 4), 0) << "x_out was written";
  }
}

// A pass from a saved attention output (what calibration reuses after the AttnOutput stage) gives the
// whole pass's output bit for bit, and skips the AttnQkv capture.
TEST(TransformerModel, PassFromASavedAttentionOutputEqualsTheWholePass) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  auto w = model::ModelWeights::open(test::stories_gguf());
  const auto& c = w.config();
  TransformerModel m(ctx, w);
  const std::vector<uint32_t> lengths = {30, 11};
  const uint32_t tokens = 41;
  auto x = test::random_floats(rng, size_t(tokens) * c.dim, -1, 1);
  auto xb = vk::upload_new(ctx, x, "x");
  auto batch = m.prepare(forward::TokenBatch::from_lengths(lengths));
  auto saved = vk::upload_new(ctx, test::poisoned(size_t(tokens) * c.q_dim()), "saved attention");
  auto y_whole = vk::upload_new(ctx, test::poisoned(x.size()), "y whole");
  auto y_from = vk::upload_new(ctx, test::poisoned(x.size()), "y from saved");
  std::vector<LinearGroup> seen;
  forward::CaptureFn keep = [&](vk::Stream& s, LinearGroup g, const vk::Buffer& in, uint32_t n, uint32_t cols) {
    if (g == LinearGroup::AttnOutput) s.copy(in, saved, uint64_t(n) * cols * 4);
  };
  forward::CaptureFn record = [&](vk::Stream&, LinearGroup g, const vk::Buffer&, uint32_t, uint32_t) {
    seen.push_back(g);
  };
  {
    vk::Stream s(ctx);
    m.forward_block(s, 4, xb, batch, y_whole, {&keep});
    s.submit_and_wait();
  }
  {
    forward::BlockPass pass;
    pass.capture = &record;
    pass.attention = &saved;
    vk::Stream s(ctx);
    m.forward_block(s, 4, xb, batch, y_from, pass);
    s.submit_and_wait();
  }
  const auto a = vk::download_all<float>(ctx, y_whole, x.size()), b = vk::download_all<float>(ctx, y_from, x.size());
  EXPECT_EQ(a, b);  // NaN poison left anywhere would also fail
  EXPECT_EQ(seen, (std::vector<LinearGroup>{LinearGroup::AttnOutput, LinearGroup::FfnGateUp, LinearGroup::FfnDown}));
  forward::BlockPass bad;
  bad.attention = &saved;
  bad.stop_after = LinearGroup::AttnQkv;  // its input is not computed in such a pass
  vk::Stream s(ctx);
  EXPECT_THROW(m.forward_block(s, 4, xb, batch, y_from, bad), Error);
}

TEST(TransformerModel, SetLinearWeightsReplacesABlocksLinear) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  auto w = model::ModelWeights::open(test::stories_gguf());
  const auto& c = w.config();
  TransformerModel m(ctx, w);
  auto down = test::random_floats(rng, size_t(c.dim) * c.hidden_dim, -0.1f, 0.1f);
  m.set_linear_weights(1, "ffn_down", down);
  EXPECT_EQ(m.linear_weights(1, "ffn_down"), down);
  auto rw = test::ref_weights(w);
  rw.blocks[1].w_down = test::to_double(down);
  const std::vector<int32_t> ids = {1, 410, 469, 347, 5, 77, 300};
  // Same tolerance as the whole-model logits test.
  EXPECT_LT(test::max_rel_error(m.logits(ids), ref::forward_logits_ref(test::ref_config(c), rw, ids)), 5e-6);
  EXPECT_THROW(m.set_linear_weights(1, "ffn_down", std::vector<float>(10)), Error);
  EXPECT_THROW(m.set_linear_weights(1, "ffn_sideways", down), Error);
  EXPECT_THROW(m.set_linear_weights(9, "ffn_down", down), Error);
  down[17] = NAN;
  EXPECT_THROW(m.set_linear_weights(1, "ffn_down", down), Error);
}

// Under a device-memory cap (or a small maxStorageBufferRange) the embedding stays on the host and each batch's
// rows are gathered there: the same activations as the device gather, bit for bit, also after set_embedding.
TEST(TransformerModel, EmbeddingGatheredOnTheHostComputesTheSame) {
  auto& ctx = test::vk_context();
  auto w = model::ModelWeights::open(test::stories_gguf());
  const auto& c = w.config();
  const uint64_t table = uint64_t(c.vocab_size) * c.dim * 4;
  const std::vector<int32_t> ids = {1, 410, 469, 347, 5, 77, 300, 410};
  TransformerModel on_device(ctx, w, {}, forward::Residency::on_demand);
  ASSERT_FALSE(TransformerModel::embedding_on_host(ctx, c));
  vk::ContextOptions o;
  o.validation = true;
  o.persist_pipeline_cache = false;
  vk::Context capped(o);
  capped.set_memory_cap(4 * table - 4);  // the table is just over a quarter of it
  ASSERT_TRUE(TransformerModel::embedding_on_host(capped, c));
  TransformerModel on_host(capped, w, {}, forward::Residency::on_demand);
  capped.set_memory_cap(0);  // the model decided when it was made; stories260K needs more than this cap
  const auto before = on_device.logits(ids);
  EXPECT_EQ(on_host.logits(ids), before);
  auto changed = w.token_embedding().data;
  for (size_t i = 0; i < changed.size(); i += 7) changed[i] *= -0.5f;
  on_device.set_embedding(changed);
  on_host.set_embedding(changed);
  const auto want = on_device.logits(ids);
  EXPECT_NE(want, before);  // the new table matters, so the host path must have taken it
  EXPECT_EQ(on_host.logits(ids), want);
  EXPECT_EQ(capped.validation_message_count(), 0u);
}

TEST(TransformerModel, OnDemandModelHoldsOnlyTheBlocksInUseAndComputesTheSame) {
  auto& ctx = test::vk_context();
  auto w = model::ModelWeights::open(test::stories_gguf());
  const auto& c = w.config();
  const std::vector<int32_t> ids = {1, 410, 469, 347, 5, 77, 300};
  TransformerModel all(ctx, w);
  const auto want = all.logits(ids);
  EXPECT_THROW(all.release_block(0), Error);  // nothing to upload it again from
  EXPECT_THROW(all.release_embedding(), Error);

  const uint64_t before = ctx.allocated_bytes();
  TransformerModel lazy(ctx, w, {}, forward::Residency::on_demand);
  EXPECT_EQ(lazy.resident_blocks(), 0u);
  EXPECT_LT(ctx.allocated_bytes() - before, uint64_t(c.vocab_size) * c.dim * 4) << "a table was uploaded up front";
  EXPECT_EQ(lazy.logits(ids), want);
  EXPECT_EQ(lazy.resident_blocks(), c.n_layers);
  // Releasing a block frees exactly its weights; the next pass uploads them again, with the same result.
  const uint64_t held = ctx.allocated_bytes();
  lazy.release_block(2);
  EXPECT_EQ(lazy.resident_blocks(), c.n_layers - 1);
  uint64_t block_bytes = 2ull * c.dim * 4;  // the two norms
  for (const char* lin : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}) {
    const auto s = model::linear_shape(c, lin);
    block_bytes += uint64_t(s.rows) * s.cols * 4;
  }
  EXPECT_EQ(held - ctx.allocated_bytes(), block_bytes);
  lazy.release_embedding();
  EXPECT_EQ(lazy.logits(ids), want);
  EXPECT_EQ(lazy.resident_blocks(), c.n_layers);
  // A changed block holds values the source does not: releasing it would lose them.
  lazy.set_linear_weights(1, "ffn_down", all.linear_weights(1, "ffn_down"));
  EXPECT_THROW(lazy.release_block(1), Error);
  EXPECT_THROW(lazy.release_block(c.n_layers), Error);
  // Discarding frees it anyway, for a caller that keeps the values elsewhere; the block cannot run again.
  const uint64_t with_block = ctx.allocated_bytes();
  lazy.discard_block(1);
  EXPECT_EQ(with_block - ctx.allocated_bytes(), block_bytes);
  EXPECT_THROW(lazy.logits(ids), Error);
  EXPECT_THROW(lazy.set_linear_weights(1, "ffn_down", all.linear_weights(1, "ffn_down")), Error);
  lazy.discard_embedding();
  auto batch = lazy.prepare(forward::TokenBatch::from_sequences({ids}));
  vk::Buffer x = lazy.make_activations(uint32_t(ids.size()), "x");
  vk::Stream s(ctx);
  EXPECT_THROW(lazy.embed(s, batch, x), Error);
}

TEST(TransformerModel, KvCacheDecodingMatchesFullSequence) {
  auto w = model::ModelWeights::open(test::stories_gguf());
  TransformerModel m(test::vk_context(), w);
  const std::vector<int32_t> ids = {1, 410, 469, 347, 5, 77, 300, 12, 499};
  const auto full = m.logits(ids);
  const uint32_t vocab = w.config().vocab_size;
  auto cache = m.make_kv_cache(uint32_t(ids.size()));
  for (uint32_t pos = 0; pos < ids.size(); ++pos) {
    const auto step = m.decode_logits(cache, ids[pos], pos);
    std::vector<double> want(full.begin() + size_t(pos) * vocab, full.begin() + size_t(pos + 1) * vocab);
    // Same fp32 ops in another order (one query row vs many): a few ulps of the largest logit.
    EXPECT_LT(test::max_rel_error(step, want), 1e-6) << "position " << pos;
  }
  EXPECT_THROW(m.decode_logits(cache, 5, uint32_t(ids.size())), Error);  // past the capacity
}

TEST(TransformerModel, RejectsIdsOutsideTheVocabulary) {
  auto w = model::ModelWeights::open(test::stories_gguf());
  TransformerModel m(test::vk_context(), w);
  EXPECT_THROW(m.logits({1, 512}), Error);
  EXPECT_THROW(m.logits({}), Error);
}

// README: first 5 blank-line blocks of tinystories_val.txt, each encoded with BOS, capped at 512
// tokens, no cross-block context: 616 predicted tokens, mean NLL 1.43296 nats (ppl 4.1911).
TEST(TransformerModel, PerplexityOfFirstFiveBlocks) {
  const auto blocks = test::text_blocks(test::read_text(test::data_path("tinystories-valid/tinystories_val.txt")));
  ASSERT_GE(blocks.size(), 5u);
  for (const std::string& path : {test::stories_gguf(), test::stories_bin()}) {
    SCOPED_TRACE(path);
    auto w = model::ModelWeights::open(path);
    auto tok = w.gguf() ? model::make_tokenizer(*w.gguf()) : model::make_tokenizer_llama2c(test::stories_tok());
    TransformerModel m(test::vk_context(), w);
    const auto rc = test::ref_config(w.config());
    const auto rw = test::ref_weights(w);
    double sum = 0, ref_sum = 0;
    uint64_t count = 0;
    for (size_t i = 0; i < 5; ++i) {
      auto ids = tok->encode(blocks[i], true);
      if (ids.size() > 512) ids.resize(512);
      const auto r = m.nll(ids);
      sum += r.sum;
      count += r.count;
      ref_sum += ref::sequence_nll_ref(rc, rw, ids);
    }
    EXPECT_EQ(count, 616u);
    const double mean = sum / double(count);
    // fp32 device vs our float64 reference: measured 1e-7; per-token NLL errors are ~1e-6 at most.
    EXPECT_NEAR(mean, ref_sum / double(count), 2e-6);
    // The README's figure is rounded to 5 decimals (±5e-6), from an independent float64 forward.
    EXPECT_NEAR(mean, 1.43296, 7e-6);
    EXPECT_NEAR(std::exp(mean), 4.1911, 1e-4);
  }
}

// The head's calibration input is the final RMSNorm of the last block's output; the embedding and head
// tables can be replaced by the values a file will hold.
TEST(TransformerModel, FinalNormAndReplacingTheTables) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  auto w = model::ModelWeights::open(test::stories_gguf());
  TransformerModel m(test::vk_context(), w);
  const auto& c = w.config();
  const std::vector<int32_t> ids = {1, 300, 301, 302, 7, 99, 400};
  auto d = m.prepare(TokenBatch::from_ids(ids));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<float> x(ids.size() * c.dim);
  for (auto& v : x) v = nd(rng);
  vk::Buffer xb = vk::upload_new(test::vk_context(), x, "x");
  const std::vector<float> nan(ids.size() * c.dim, std::nanf(""));  // poison: an unwritten element fails
  vk::upload(test::vk_context(), d.norm, nan.data(), nan.size() * 4);
  vk::Stream s(test::vk_context());
  const vk::Buffer& y = m.final_norm(s, xb, d);
  s.submit_and_wait();
  const auto got = vk::download_all<float>(test::vk_context(), y, ids.size() * c.dim);
  const auto norm_w = w.output_norm();
  for (size_t t = 0; t < ids.size(); ++t) {
    double ss = 0;
    for (uint32_t j = 0; j < c.dim; ++j) ss += double(x[t * c.dim + j]) * x[t * c.dim + j];
    const double r = 1.0 / std::sqrt(ss / c.dim + c.rms_eps);
    for (uint32_t j = 0; j < c.dim; ++j)
      EXPECT_NEAR(got[t * c.dim + j], x[t * c.dim + j] * r * norm_w[j], 1e-5 * (1 + std::abs(x[t * c.dim + j] * r)));
  }

  // A zero head gives zero logits; a changed embedding changes them; bad tables are refused.
  const auto before = m.logits(ids);
  auto emb = w.token_embedding().data;
  for (uint32_t j = 0; j < c.dim; ++j) emb[300 * c.dim + j] *= 0.5f;
  m.set_embedding(emb);
  EXPECT_NE(m.logits(ids), before);
  m.set_output_weights(std::vector<float>(size_t(c.vocab_size) * c.dim, 0.0f));
  for (float v : m.logits(ids)) ASSERT_EQ(v, 0.0f);
  EXPECT_THROW(m.set_embedding(std::vector<float>(10, 0.0f)), Error);
  emb[5] = std::nanf("");
  EXPECT_THROW(m.set_output_weights(emb), Error);
}

// nll(ids, first) scores only the predictions made at positions first .. n-2 (llama-perplexity scores
// the second half of each window): compared with log-softmax of the float64 reference logits.
TEST(TransformerModel, NllFromAPositionMatchesReference) {
  auto w = model::ModelWeights::open(test::stories_gguf());
  auto tok = model::make_tokenizer(*w.gguf());
  const auto blocks = test::text_blocks(test::read_text(test::data_path("tinystories-valid/tinystories_val.txt")));
  auto ids = tok->encode(blocks.at(1), true);
  ASSERT_GT(ids.size(), 40u);
  ids.resize(37);  // odd length: the scored half is not a power of two
  TransformerModel m(test::vk_context(), w);
  const auto logits = ref::forward_logits_ref(test::ref_config(w.config()), test::ref_weights(w), ids);
  const size_t vocab = w.config().vocab_size;
  for (uint32_t first : {0u, 1u, 18u, 35u}) {
    SCOPED_TRACE(first);
    double want = 0;
    for (size_t t = first; t + 1 < ids.size(); ++t) {
      const double* row = logits.data() + t * vocab;
      double mx = row[0], z = 0;
      for (size_t v = 0; v < vocab; ++v) mx = std::max(mx, row[v]);
      for (size_t v = 0; v < vocab; ++v) z += std::exp(row[v] - mx);
      want += mx + std::log(z) - row[size_t(ids[t + 1])];
    }
    const auto got = m.nll(ids, first);
    EXPECT_EQ(got.count, ids.size() - 1 - first);
    // fp32 logits vs float64: ~1e-6 per token (see PerplexityOfFirstFiveBlocks).
    EXPECT_NEAR(got.sum, want, 2e-6 * double(got.count) + 1e-9);
  }
  EXPECT_EQ(m.nll(ids, 36).count, 0u);  // nothing left to predict
}

}  // namespace
}  // namespace vkq
