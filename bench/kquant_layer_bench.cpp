#include "kquant_layer_bench.hpp"

#include <chrono>
#include <map>
#include <cstdio>
#include <set>

#include "calibrate/calibration_data.hpp"
#include "calibrate/model_source.hpp"
#include "calibrate/quantize_settings.hpp"
#include "forward/token_batch.hpp"
#include "forward/transformer_model.hpp"
#include "kernels/gram.hpp"
#include "model/ggml_types.hpp"
#include "model/gguf.hpp"
#include "quant/layer_quantizer.hpp"
#include "vk/stream.hpp"

namespace vkq::bench {
namespace {

// tr((W − Q) H (W − Q)ᵀ)/rows in float64.
double layer_loss(const std::vector<float>& w, const std::vector<float>& q, const std::vector<float>& h, uint32_t rows,
                  uint32_t n) {
  double total = 0;
  std::vector<double> e(n);
  for (uint32_t i = 0; i < rows; ++i) {
    for (uint32_t j = 0; j < n; ++j) e[j] = double(w[size_t(i) * n + j]) - q[size_t(i) * n + j];
    for (uint32_t a = 0; a < n; ++a) {
      double s = 0;
      for (uint32_t b = 0; b < n; ++b) s += double(h[size_t(a) * n + b]) * e[b];
      total += e[a] * s;
    }
  }
  return total / rows;
}

}  // namespace

nlohmann::json run_kquant_layer_bench(vk::Context& ctx, const KLayerOptions& o) {
  calibrate::ModelSource src = calibrate::open_model_source(o.model, "");
  const model::LlamaConfig cfg = src.weights.config();
  calibrate::CalibrationOptions co;
  co.n_seqs = o.seqs, co.seq_len = o.len, co.llama_chunks = true;
  const calibrate::CalibrationSet calib = calibrate::load_calibration_set(o.calib, *src.tokenizer, co, cfg.context_length);
  forward::TransformerModel model(ctx, src.weights);
  auto batch = forward::TokenBatch::from_sequences(calib.sequences);
  auto db = model.prepare(batch);
  const uint32_t tokens = batch.tokens();
  vk::Buffer x = model.make_activations(tokens, "x"), y = model.make_activations(tokens, "y");
  {
    vk::Stream s(ctx);
    model.embed(s, db, x);
    s.submit_and_wait();
  }
  // One pass through the full-precision model; H of each chosen block's ffn_down input on the way.
  const std::set<uint32_t> wanted(o.blocks.begin(), o.blocks.end());
  std::map<uint32_t, std::vector<float>> grams;
  const uint32_t n = cfg.hidden_dim;
  for (uint32_t b = 0; b < cfg.n_layers; ++b) {
    kernels::GramAccumulator gram(ctx, n);
    vk::Stream s(ctx);
    gram.reset(s);
    forward::CaptureFn capture = [&](vk::Stream& cs, forward::LinearGroup g, const vk::Buffer& in, uint32_t t, uint32_t) {
      if (g == forward::LinearGroup::FfnDown) gram.accumulate(cs, in, t, kernels::ActivationType::F32);
    };
    model.forward_block(s, b, x, db, y, {wanted.count(b) ? &capture : nullptr});
    vk::Buffer h;
    if (wanted.count(b)) {
      h = vk::Buffer(ctx, uint64_t(n) * n * 4, vk::MemoryUse::Device, "H");
      gram.finalize(s, h);
    }
    s.submit_and_wait();
    if (wanted.count(b)) grams[b] = vk::download_all<float>(ctx, h, size_t(n) * n);
    std::swap(x, y);
  }
  std::printf("\nK-type layers: loss tr((W-Q)H(W-Q)^T)/rows of blk.N.ffn_down (%u x %u), H from %u calibration tokens\n",
              cfg.dim, n, tokens);
  std::printf("%-6s %-7s %14s %14s %14s %8s %8s %8s\n", "block", "type", "vkquant", "no refit", "llama.cpp", "ratio",
              "refit", "ours s");
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& [type_name, file] : o.theirs) {
    const model::GgmlType type = model::ggml_type_from_name(type_name);
    const auto theirs_file = model::GgufFile::open(file);
    vkq::QuantizeOptions qo;  // vkquant's defaults
    const auto lo = calibrate::layer_options(qo, calibrate::grid_for_gguf_type(type), calibrate::superblock_for_gguf_type(type));
    auto lo_plain = lo;  // the same solve without the refit from swept codes: what the refit buys
    lo_plain.superblock_refits = 0;
    for (uint32_t b : o.blocks) {
      const auto wm = src.weights.linear(b, "ffn_down");
      const std::string name = "blk." + std::to_string(b) + ".ffn_down.weight";
      const auto& info = theirs_file.tensor(name);
      if (info.type != type)
        throw Error(file + ": " + name + " is " + model::ggml_type_name(info.type) + ", not " + type_name);
      const std::vector<float> q_theirs = theirs_file.read_f32(info);
      vk::Buffer hb = vk::upload_new(ctx, grams[b], "H");
      quant::LayerStatistics st;
      st.h = &hb;
      st.n = n;
      quant::LayerQuantizer lq(ctx, lo);
      const auto t0 = std::chrono::steady_clock::now();
      const auto out = lq.quantize_group({{name, &wm.data, wm.rows}}, st, name).at(0);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      quant::LayerQuantizer lq_plain(ctx, lo_plain);
      const auto plain = lq_plain.quantize_group({{name, &wm.data, wm.rows}}, st, name).at(0);
      const double ours = layer_loss(wm.data, out.dequantized, grams[b], wm.rows, n);
      const double ours_plain = layer_loss(wm.data, plain.dequantized, grams[b], wm.rows, n);
      const double theirs = layer_loss(wm.data, q_theirs, grams[b], wm.rows, n);
      std::printf("%-6u %-7s %14.6g %14.6g %14.6g %8.3f %8.3f %8.2f\n", b, type_name.c_str(), ours, ours_plain, theirs,
                  ours / theirs, ours / ours_plain, secs);
      rows.push_back({{"block", b}, {"type", type_name}, {"vkquant_loss", ours}, {"vkquant_no_refit_loss", ours_plain},
                      {"llama_loss", theirs}, {"ratio", ours / theirs}, {"refit_ratio", ours / ours_plain},
                      {"refit_rows", out.refit_rows}, {"vkquant_seconds", secs}});
    }
  }
  return rows;
}

}  // namespace vkq::bench
