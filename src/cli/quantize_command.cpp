#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/commands.hpp"
#include "cli/interrupt_guard.hpp"
#include "cli/profile_table.hpp"
#include "cli/progress_printer.hpp"
#include "cli/range_option.hpp"
#include "cli/size_option.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::cli {

namespace {

std::string gib(uint64_t bytes) {
  char s[32];
  if (bytes >= (1ull << 30)) std::snprintf(s, sizeof s, "%.2f GiB", double(bytes) / (1ull << 30));
  else std::snprintf(s, sizeof s, "%.1f MiB", double(bytes) / (1 << 20));
  return s;
}

nlohmann::json memory_json(const MemoryNeeds& m) {
  return {{"device_peak", m.device_peak},         {"device_stage", m.device_stage},
          {"device_embedding", m.device_embedding}, {"device_head", m.device_head},
          {"host_peak", m.host_peak},             {"host_activations", m.host_activations},
          {"host_embedding", m.host_embedding},   {"host_output", m.host_output},
          {"embedding_on_host", m.embedding_on_host}, {"row_tile_bytes", m.row_tile_bytes}};
}

void print_dry_run(const QuantizeResult& r, const QuantizeOptions& o) {
  const MemoryNeeds& m = r.memory;
  std::printf("what this run would need on %s (%llu calibration tokens; formula: docs/usage.md, Device memory):\n",
              r.device.c_str(), (unsigned long long)r.calibration_tokens);
  std::printf("  device memory  %s at most: a block's stage %s, the embedding %s (table %s), the output head %s;\n"
              "                 solves in row tiles of %s%s\n",
              gib(m.device_peak).c_str(), gib(m.device_stage).c_str(), gib(m.device_embedding).c_str(),
              m.embedding_on_host ? "gathered on the host" : "on the device", gib(m.device_head).c_str(),
              gib(m.row_tile_bytes).c_str(),
              o.max_device_memory ? (", under --max-device-memory " + gib(o.max_device_memory)).c_str() : "");
  std::printf("  host memory    %s at most: activations %s, embedding table %s, packed output %s, and the largest\n"
              "                 tensor's working copies (the input file is memory-mapped, not counted)\n",
              gib(m.host_peak).c_str(), gib(m.host_activations).c_str(), gib(m.host_embedding).c_str(),
              gib(m.host_output).c_str());
  for (const auto& n : r.notes) std::printf("note: %s\n", n.c_str());
  std::printf("nothing was run or written (--dry-run)\n");
}

void print_summary(const QuantizeResult& r) {
  std::printf("%-28s %-6s %-8s %12s %10s  %s\n", "tensor", "type", "method", "loss", "seconds", "note");
  for (const auto& t : r.tensors) {
    const std::string loss = t.loss >= 0 ? std::to_string(t.loss) : "-";
    std::printf("%-28s %-6s %-8s %12.12s %10.2f  %s\n", t.name.c_str(), t.type.c_str(), t.method.c_str(), loss.c_str(),
                t.seconds, t.note.c_str());
  }
  for (const auto& n : r.notes) std::printf("note: %s\n", n.c_str());
  std::printf("%s%s%s%s in %.1f s on %s; %llu calibration tokens; peak device memory %.1f MiB, host %.1f MiB\n",
              r.output_path.empty() ? "quantized (not written)" : ("wrote " + r.output_path).c_str(),
              r.report_path.empty() ? "" : " and ", r.report_path.c_str(), "", r.seconds, r.device.c_str(),
              (unsigned long long)r.calibration_tokens, double(r.peak_device_bytes) / (1 << 20),
              double(r.peak_host_bytes) / (1 << 20));
  if (r.evaluated)
    std::printf("perplexity of the quantized model: %.4f (mean NLL %.5f over %llu tokens, %llu windows of %u)\n",
                r.evaluation.perplexity, r.evaluation.mean_nll, (unsigned long long)r.evaluation.tokens,
                (unsigned long long)r.evaluation.windows, r.evaluation.ctx);
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "quantize",
      "Quantize a model's weights with calibration on the GPU and write a GGUF for llama.cpp/Ollama/LM Studio.\n"
      "Example: vkquant quantize model-f16.gguf --calib text.txt -t Q4_0 -o model-q4_0.gguf");
  static QuantizeOptions o;
  static std::string calib_range = "0:1", eval_range = "0:1", eval_protocol = "windows",
                     calib_protocol = "sampled", max_device_memory;
  static bool json = false, quiet = false, no_act_order = false, dynamic_groups = false, no_report = false,
                     no_checkpoint = false;
  static bool scale_search = false, no_scale_search = false;
  cmd->add_option("model", o.model_path, "Input model: GGUF (llama, qwen2, qwen3, gemma3 or phi3 architecture) with F32/F16/BF16 weights, or already quantized (legacy or K types) with --allow-requantize; a Hugging Face checkpoint folder (config.json, tokenizer, safetensors); or a llama2.c .bin with --tokenizer")->required();
  cmd->add_option("--calib", o.calib_path, "Calibration text (UTF-8), e.g. a slice of your typical prompts")->required();
  cmd->add_option("-o,--output", o.output_path, "Output GGUF (written as OUT.partial, renamed when complete)");
  cmd->add_option("-t,--type", o.type,
                  "Output type, as llama-quantize names it: the K mixtures Q4_K_M Q4_K_S Q5_K_M Q5_K_S Q6_K Q3_K_L "
                  "Q3_K_M Q3_K_S Q2_K Q2_K_S IQ4_XS IQ4_NL (llama-quantize's per-tensor choices: attn_v/ffn_down raised by layer, the "
                  "output head in Q6_K; rows that are not a multiple of 256 fall back to Q5_0/Q5_1/Q8_0/Q4_0/IQ4_NL), or "
                  "Q8_0 Q5_1 Q5_0 Q4_1 Q4_0 F16 BF16 F32; or INT<b>[g<G>][s] (e.g. INT3g32) to evaluate a generic "
                  "grid without writing a file")
      ->capture_default_str();
  cmd->add_option("--method", o.method, "gptq (error feedback, default), beam (bounded search), awq (scale search folded into the norms, then round to nearest), rtn (no feedback)")
      ->capture_default_str();
  static CLI::Option* beam_opt =
      cmd->add_option("--beam", o.beam_width, "Beam width K for --method beam")->capture_default_str();
  cmd->add_option("--lambda", o.lambda, "SARQC strength λ (0 = plain GPTQ); keeps weights near the originals")
      ->capture_default_str();
  static CLI::Option* saliency_opt =
      cmd->add_option("--saliency", o.saliency, "SARQC saliency (with --lambda): unit | hdiag | act | act2")
          ->capture_default_str();
  cmd->add_option("--alpha", o.alpha, "Asymmetric calibration α (0 = GPTQ, 0.25 = GPTAQ)")->capture_default_str();
  cmd->add_option("--alpha-mode", o.alpha_mode, "fixed | sampled (α ~ Beta(b,b) folded, per sequence: SNRQ)")
      ->capture_default_str();
  cmd->add_option("--alpha-beta", o.alpha_beta,
                  "b of sampled α's Beta(b,b), b >= 1: 5 gives mean α 0.377, 1 uniform on [0, 0.5], larger b "
                  "concentrates α near 0.5")
      ->capture_default_str();
  cmd->add_option("--damp", o.damp, "Damping δ relative to mean(diag H)")->capture_default_str();
  cmd->add_option("--block", o.block, "Columns per error-feedback block B")->capture_default_str();
  cmd->add_flag("--no-act-order", no_act_order, "Process columns in their natural order");
  cmd->add_flag("--dynamic-groups", dynamic_groups,
                "Group parameters from the updated row (min-max, so it replaces the default scale search; not for GGUF "
                "with act-order)");
  cmd->add_flag("--scale-search", scale_search,
                "(default) Search each group's scale from 0.70x to 1.15x min-max, each range also least-squares "
                "refitted to its codes with H̃ weights");
  cmd->add_flag("--no-scale-search", no_scale_search, "Min-max group parameters (plain GPTQ/RTN)");
  cmd->add_option("--k-refits", o.k_refits,
                  "K types with gptq/beam: refit each super-block's scales from the swept codes and sweep again, up "
                  "to N times (0 = off); a row keeps the refit only where its loss drops")
      ->capture_default_str();
  cmd->add_option("--min-expert-tokens", o.min_expert_tokens,
                  "Mixture-of-experts models: an expert routed fewer calibration tokens than this is calibrated with "
                  "its block's pooled statistics (all experts' routed inputs) instead of its own (0 = always its own)")
      ->capture_default_str();
  cmd->add_option("--group-refits", o.group_refits,
                  "Legacy types (Q8_0..Q4_0) and INT grids with gptq/beam: refit each row's group scales (and "
                  "Q4_1/Q5_1 mins) jointly from the swept codes, least squares under H̃ with the cross-group "
                  "terms, and sweep again, up to N times (0 = off); a row keeps the refit only where its loss drops")
      ->capture_default_str();
  cmd->add_flag("--clip-search", o.clip_search,
                "Instead of the scale search: only shrink each group's range (20 steps to 0.81x), scored with H̃");
  cmd->add_option("--calib-seqs", o.calib_seqs, "Calibration sequences")->capture_default_str();
  cmd->add_option("--calib-len", o.calib_len, "Tokens per sequence (capped at the model's context)")->capture_default_str();
  cmd->add_option("--calib-range", calib_range, "Part of the calibration text, BEGIN:END fractions (e.g. 0:0.5)");
  cmd->add_option("--calib-protocol", calib_protocol,
                  "sampled (default): --calib-seqs windows chosen with --seed; llama: llama-imatrix's chunks (the "
                  "first --calib-seqs chunks of --calib-len tokens, BOS written over each chunk's first token), so "
                  "vkquant and `llama-imatrix -c LEN --chunks SEQS` see exactly the same tokens")
      ->check(CLI::IsMember({"sampled", "llama"}));
  cmd->add_flag("--calib-rounded-embedding", o.calib_rounded_embedding,
                "Calibrate the blocks on the embedding already rounded to its output type (off: the file holds the "
                "rounded table either way; measured mixed on stories260K, docs/quality.md)");
  cmd->add_option("--seed", o.seed, "Seed for the calibration window choice and sampled α")->capture_default_str();
  cmd->add_option("--chunk-tokens", o.chunk_tokens, "Tokens per forward chunk on the device (less = less memory)")
      ->capture_default_str();
  cmd->add_flag("--dry-run", o.dry_run,
                "Load the model, plan the output and tokenize the calibration text, then print the device and host "
                "memory the run would need (by phase) and stop; nothing is written");
  cmd->add_flag("--resume", o.resume,
                "Continue an interrupted run of this -o from the checkpoint it left in OUT.vkq-resume/ (saved after "
                "every block): the file is the same, byte for byte, as an uninterrupted run's. A checkpoint made with "
                "another model, calibration text, settings or device is refused, saying what differs");
  cmd->add_flag("--no-checkpoint", no_checkpoint,
                "Save no checkpoint after each block (they cost about the output's size plus the calibration "
                "activations in disk space beside the output, removed when the run completes)");
  cmd->add_option("--max-device-memory", max_device_memory,
                  "SIZE (bytes, or with K/M/G/T, e.g. 4G): the most device memory the run may hold at once (default: "
                  "the heap's budget when the driver reports one). Under it a large token embedding stays in host "
                  "memory, solves work in smaller row tiles, and a chunk that does not fit is split and retried "
                  "(each retry is in the report); the output is the same file as without a cap");
  cmd->add_option("--activations", o.activations,
                  "How the calibration tokens' activations are held in host memory between blocks: f32 (default) "
                  "or f16 (half the memory, each value rounded to fp16 once per block)")
      ->capture_default_str();
  cmd->add_option("--imatrix-out", o.imatrix_out_path,
                  "Also write the calibration statistics as a llama.cpp imatrix file (GGUF imatrix format: per "
                  "calibrated tensor the summed squared input activations and the token count), for "
                  "`llama-quantize --imatrix FILE`; an existing file needs --force");
  cmd->add_option("--token-embedding-type", o.token_embedding_type, "Type of token_embd.weight (as llama-quantize)");
  cmd->add_option("--output-tensor-type", o.output_tensor_type, "Type of output.weight (as llama-quantize)");
  cmd->add_option("--tensor-type", o.tensor_types,
                  "PATTERN=TYPE: tensors whose name matches the regular expression get TYPE instead of the mixture's "
                  "choice (as llama-quantize; repeatable, the first match wins), e.g. --tensor-type attn_v=Q8_0");
  cmd->add_option("--tokenizer", o.tokenizer_path, "Tokenizer file for a llama2.c model");
  cmd->add_flag("--allow-requantize", o.allow_requantize,
                "Accept an already-quantized model (its dequantized weights become the reference), as llama-quantize");
  cmd->add_option("--eval-text", o.eval_text_path, "Also measure the quantized model's perplexity on this text");
  cmd->add_option("--eval-range", eval_range, "Part of the evaluation text, BEGIN:END fractions");
  cmd->add_option("--eval-ctx", o.eval_ctx, "Evaluation window length (default: model context, at most 2048)");
  cmd->add_option("--eval-max-windows,--eval-chunks", o.eval_max_windows, "Evaluate at most this many windows");
  cmd->add_option("--eval-protocol", eval_protocol,
                  "windows (default) or llama: score as `vkquant perplexity --protocol llama` (llama-perplexity's "
                  "chunks, second half of each scored)")
      ->check(CLI::IsMember({"windows", "llama"}));
  cmd->add_option("--device", o.device, "Vulkan device index or name substring (default: best; VKQ_DEVICE)");
  cmd->add_flag("--force", o.force, "Overwrite OUT and OUT.json if they exist");
  cmd->add_flag("--no-report", no_report, "Do not write the run report OUT.json");
  cmd->add_flag("--profile", o.profile,
                "Time every kernel on the device (GPU timestamps) and print where the time went: device seconds per "
                "kernel and the device's share of the wall time; also in OUT.json and --json's result");
  cmd->add_flag("--json", json, "JSON progress events and result on stdout (for programs)");
  cmd->add_flag("-q,--quiet", quiet, "No progress output");
  cmd->callback([cmd] {
    o.act_order = !no_act_order;
    // Options that would do nothing are errors, not silence.
    if (saliency_opt->count() > 0 && o.lambda == 0)
      throw Error("--saliency " + o.saliency + " weights SARQC's regulariser, which is off: add --lambda L (> 0)");
    for (const char* eval_opt : {"--eval-range", "--eval-ctx", "--eval-max-windows", "--eval-protocol"})
      if (cmd->get_option(eval_opt)->count() > 0 && o.eval_text_path.empty())
        throw Error(std::string(eval_opt) + " shapes the evaluation of --eval-text, which is not given");
    if (beam_opt->count() > 0 && o.method != "beam")
      throw Error("--beam " + std::to_string(o.beam_width) + " sets the beam width of --method beam only: add --method beam");
    if (scale_search && no_scale_search) throw Error("--scale-search and --no-scale-search: choose one");
    // --clip-search replaces the default scale search; asking for both is an error (validate_quantize_options).
    // --dynamic-groups takes min-max params from the updated row: it replaces the default scale search
    // (documented in its help); asking for a search with it is an error (validate_quantize_options).
    o.scale_search = scale_search || (!no_scale_search && !o.clip_search && !dynamic_groups);
    o.static_groups = !dynamic_groups;
    o.write_report = !no_report;
    o.checkpoint = !no_checkpoint;
    parse_range_option("--calib-range", calib_range, o.calib_begin, o.calib_end);
    o.max_device_memory = max_device_memory.empty() ? 0 : parse_size_option("--max-device-memory", max_device_memory);
    parse_range_option("--eval-range", eval_range, o.eval_begin, o.eval_end);
    o.calib_protocol = calib_protocol == "llama" ? CalibrationProtocol::Llama : CalibrationProtocol::Sampled;
    o.eval_protocol = eval_protocol == "llama" ? PerplexityProtocol::Llama : PerplexityProtocol::Windows;
    json_events() = json;
    ProgressPrinter printer(json ? ProgressStyle::Json : quiet ? ProgressStyle::Quiet : ProgressStyle::Auto);
    CancelFlag cancel{false};
    QuantizeResult r;
    {
      // The files a forced quit removes: only this run's (a generic INT grid writes none).
      std::vector<std::string> partial;
      if (!o.output_path.empty()) partial = {o.output_path + ".partial", o.output_path + ".json.partial"};
      InterruptGuard guard(cancel, partial);
      r = quantize(o, [&](const ProgressEvent& e) { printer(e); }, &cancel);
    }
    printer.end();
    if (r.dry_run && !json) {
      print_dry_run(r, o);
    } else if (json) {
      nlohmann::json t = nlohmann::json::array();
      for (const auto& x : r.tensors)
        t.push_back({{"name", x.name}, {"type", x.type}, {"method", x.method}, {"loss", x.loss}, {"note", x.note}});
      nlohmann::json j = {{"event", "result"}, {"schema", kJsonEventsSchema}, {"output", r.output_path}, {"report", r.report_path},
                          {"seconds", r.seconds}, {"peak_device_bytes", r.peak_device_bytes},
                          {"peak_host_bytes", r.peak_host_bytes}, {"memory_retries", r.memory_retries},
                          {"estimated_memory", memory_json(r.memory)}, {"tensors", t}};
      if (r.evaluated) j["perplexity"] = r.evaluation.perplexity;
      if (r.dry_run) j["dry_run"] = true;
      if (o.profile) j["profile"] = profile_json(r.profile);
      std::printf("%s\n", j.dump().c_str());
    } else {
      print_summary(r);
      print_profile_table(r.profile, r.seconds, o.profile);
    }
    exit_code() = 0;
  });
}

}  // namespace vkq::cli
