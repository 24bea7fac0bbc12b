#include "calibrate/quantize_settings.hpp"

#include <cctype>
#include <cmath>
#include <regex>

#include "io/output_plan.hpp"
#include "reference/superblock.hpp"

namespace vkq::calibrate {

OutputTarget parse_output_target(const std::string& type) {
  OutputTarget t;
  std::string up;
  for (char c : type) up += char(std::toupper((unsigned char)c));
  static const std::regex generic(R"(INT([2-8])(G([0-9]+))?(S)?)");
  std::smatch m;
  if (std::regex_match(up, m, generic)) {
    t.generic = true;
    t.grid.format = ref::GridFormat::INT;
    t.grid.bits = std::stoi(m[1]);
    t.grid.group = m[3].matched ? std::stoul(m[3]) : 128;
    t.grid.symmetric = m[4].matched;
    return t;
  }
  if (const auto mix = io::find_mixture(type)) {
    t.mixture = mix;
    t.gguf = mix->base;
    return t;
  }
  t.gguf = io::parse_output_type(type);  // clear error listing the supported names
  return t;
}

ref::GridSpec grid_for_gguf_type(model::GgmlType t) {
  ref::GridSpec g;
  g.group = 32;
  switch (t) {
    case model::GgmlType::Q8_0: g.format = ref::GridFormat::Q8_0; break;
    case model::GgmlType::Q4_0: g.format = ref::GridFormat::Q4_0; break;
    case model::GgmlType::Q4_1: g.format = ref::GridFormat::Q4_1; break;
    case model::GgmlType::Q5_0: g.format = ref::GridFormat::Q5_0; break;
    case model::GgmlType::Q5_1: g.format = ref::GridFormat::Q5_1; break;
    case model::GgmlType::Q2_K:
    case model::GgmlType::Q3_K:
    case model::GgmlType::Q4_K:
    case model::GgmlType::Q5_K:
    case model::GgmlType::Q6_K:
    case model::GgmlType::IQ4_NL:
    case model::GgmlType::IQ4_XS: return ref::superblock_grid(superblock_for_gguf_type(t));
    default:
      throw Error(std::string("no quantization grid for type ") + model::ggml_type_name(t));
  }
  return g;
}

ref::SuperBlock superblock_for_gguf_type(model::GgmlType t) {
  switch (t) {
    case model::GgmlType::Q2_K: return ref::SuperBlock::Q2_K;
    case model::GgmlType::Q3_K: return ref::SuperBlock::Q3_K;
    case model::GgmlType::Q4_K: return ref::SuperBlock::Q4_K;
    case model::GgmlType::Q5_K: return ref::SuperBlock::Q5_K;
    case model::GgmlType::Q6_K: return ref::SuperBlock::Q6_K;
    case model::GgmlType::IQ4_NL: return ref::SuperBlock::IQ4_NL;
    case model::GgmlType::IQ4_XS: return ref::SuperBlock::IQ4_XS;
    default: return ref::SuperBlock::none;
  }
}

ref::LayerQuantOptions layer_options(const QuantizeOptions& o, const ref::GridSpec& grid, ref::SuperBlock superblock) {
  ref::LayerQuantOptions l;
  if (o.method == "gptq")
    l.method = ref::Method::gptq;
  else if (o.method == "rtn")
    l.method = ref::Method::rtn;
  else if (o.method == "beam")
    l.method = ref::Method::beam;
  else if (o.method == "awq")
    l.method = ref::Method::rtn;  // AWQ = per-channel scale search (the driver), then round to nearest
  else
    throw Error("--method " + o.method + ": expected gptq, rtn, beam or awq");
  l.grid = grid;
  l.act_order = o.act_order;
  l.static_groups = o.static_groups;
  l.block = o.block;
  l.damp = o.damp;
  l.lambda = o.lambda;
  if (o.saliency == "unit")
    l.saliency = ref::Saliency::unit;
  else if (o.saliency == "hdiag")
    l.saliency = ref::Saliency::hdiag;
  else if (o.saliency == "act")
    l.saliency = ref::Saliency::act;
  else if (o.saliency == "act2")
    l.saliency = ref::Saliency::act2;
  else
    throw Error("--saliency " + o.saliency + ": expected unit, hdiag, act or act2");
  if (o.alpha_mode == "fixed")
    l.alpha_mode = ref::AlphaMode::fixed;
  else if (o.alpha_mode == "sampled")
    l.alpha_mode = ref::AlphaMode::sampled;
  else
    throw Error("--alpha-mode " + o.alpha_mode + ": expected fixed or sampled");
  l.alpha = o.alpha;
  l.clip.enabled = o.clip_search || o.scale_search;
  if (o.scale_search) {  // 21 ranges down to 0.70×, 10 up to 1.15×, every one also refitted
    l.clip.step = 0.015;
    l.clip.candidates = 21;
    l.clip.expand = 10;
    l.clip.refit = true;
    l.clip.about_min = true;  // Q4_1/Q5_1: the same ranges again about the min
  }
  l.beam_width = o.method == "beam" ? o.beam_width : 1;
  l.group_refits = o.group_refits;
  l.seed = o.seed;
  if (superblock != ref::SuperBlock::none) {
    l.superblock = superblock;
    l.superblock_refits = o.k_refits;
    l.clip.enabled = false;  // the super-block search chooses the parameters
    l.static_groups = true;  // ... before the sweep
  }
  return l;
}

void validate_quantize_options(const QuantizeOptions& o) {
  if (o.model_path.empty()) throw Error("no model given");
  // Names first, so a typo fails before the model is loaded and the text tokenized.
  if (o.method != "gptq" && o.method != "rtn" && o.method != "beam" && o.method != "awq")
    throw Error("--method " + o.method + ": expected gptq, rtn, beam or awq");
  if (o.saliency != "unit" && o.saliency != "hdiag" && o.saliency != "act" && o.saliency != "act2")
    throw Error("--saliency " + o.saliency + ": expected unit, hdiag, act or act2");
  if (o.alpha_mode != "fixed" && o.alpha_mode != "sampled")
    throw Error("--alpha-mode " + o.alpha_mode + ": expected fixed or sampled");
  parse_output_target(o.type);  // names the supported types
  if (o.resume && !o.checkpoint) throw Error("--resume: --no-checkpoint runs save nothing to resume from");
  if (o.resume && !o.eval_text_path.empty())
    throw Error("--resume: runs with --eval-text are not checkpointed (the evaluation needs every quantized block "
                "on the device); resume without --eval-text, then measure OUT with `vkquant perplexity`");
  if (o.resume && o.dry_run) throw Error("--resume: --dry-run runs nothing to resume");
  if (!o.token_embedding_type.empty()) io::parse_tensor_type(o.token_embedding_type, "--token-embedding-type");
  if (!o.output_tensor_type.empty()) io::parse_tensor_type(o.output_tensor_type, "--output-tensor-type");
  for (const auto& spec : o.tensor_types) io::parse_tensor_type_override(spec);
  if (o.method != "beam" && o.beam_width != 4)
    throw Error("--beam " + std::to_string(o.beam_width) + " sets the beam width of --method beam only: add --method beam");
  if (!o.static_groups && (o.scale_search || o.clip_search))
    throw Error(std::string(o.scale_search ? "--scale-search" : "--clip-search") +
                " chooses each group's parameters before the sweep; --dynamic-groups takes them from the updated "
                "row instead: use one (through the API set scale_search = false with static_groups = false)");
  if (o.calib_path.empty()) throw Error("--calib: a calibration text is required");
  if (o.calib_seqs == 0) throw Error("--calib-seqs must be at least 1");
  if (o.calib_len < 2) throw Error("--calib-len must be at least 2 tokens");
  if (o.block == 0 || o.block > 4096) throw Error("--block " + std::to_string(o.block) + ": expected 1..4096");
  if (o.method == "beam" && (o.beam_width == 0 || o.beam_width > 64))
    throw Error("--beam " + std::to_string(o.beam_width) + ": expected 1..64");
  if (!(o.damp >= 0 && std::isfinite(o.damp))) throw Error("--damp must be a finite number >= 0");
  if (!(o.lambda >= 0 && std::isfinite(o.lambda))) throw Error("--lambda must be a finite number >= 0");
  if (!(o.alpha >= 0 && o.alpha <= 1)) throw Error("--alpha must be within [0, 1]");
  if (!(o.alpha_beta >= 1 && std::isfinite(o.alpha_beta)))
    throw Error("--alpha-beta " + std::to_string(o.alpha_beta) + ": expected a finite number >= 1");
  if (o.alpha_beta != 5 && o.alpha_mode != "sampled")
    throw Error("--alpha-beta shapes sampled α only: add --alpha-mode sampled");
  if (o.chunk_tokens < 16) throw Error("--chunk-tokens must be at least 16");
  if (o.k_refits > 8) throw Error("--k-refits " + std::to_string(o.k_refits) + ": expected 0..8");
  if (o.group_refits > 8) throw Error("--group-refits " + std::to_string(o.group_refits) + ": expected 0..8");
  if (o.group_refits > 0 && !o.static_groups)
    throw Error("--group-refits refits static group parameters: it cannot be combined with --dynamic-groups");
  if (o.activations != "f32" && o.activations != "f16")
    throw Error("--activations " + o.activations + ": expected f32 or f16");
  if (o.clip_search && o.scale_search)
    throw Error("--clip-search and --scale-search: choose one (the scale search already tries every clip range; "
                "through the API set scale_search = false to use clip_search)");
  if (!o.imatrix_out_path.empty() && o.method == "rtn")
    throw Error("--imatrix-out " + o.imatrix_out_path + ": --method rtn collects no calibration statistics");
  if (!o.imatrix_out_path.empty() && o.imatrix_out_path == o.output_path)
    throw Error("--imatrix-out " + o.imatrix_out_path + " is the output file (-o) itself");
  if (o.method == "awq" && (o.alpha > 0 || o.alpha_mode == "sampled"))
    throw Error("--method awq searches scales against the symmetric target: it cannot be combined with --alpha");
}

}  // namespace vkq::calibrate
