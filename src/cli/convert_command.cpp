#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/commands.hpp"
#include "cli/interrupt_guard.hpp"
#include "cli/progress_printer.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::cli {

void add_convert_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "convert",
      "Write a Hugging Face checkpoint folder (config.json, tokenizer.json or tokenizer.model, model.safetensors or "
      "sharded safetensors) as an unquantized GGUF, as llama.cpp's convert_hf_to_gguf.py does. quantize and "
      "perplexity also take the folder directly, without this step.");
  static ConvertOptions opt;
  static bool json = false;
  cmd->add_option("model", opt.model_path,
                  "Checkpoint folder: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Phi3ForCausalLM or "
                  "Gemma3ForCausalLM, weights in F32/F16/BF16")
      ->required();
  cmd->add_option("-o,--output", opt.output_path, "Output GGUF (written as OUT.partial, renamed when complete)")
      ->required();
  cmd->add_option("-t,--type", opt.type,
                  "Type of the matrices: auto (default: BF16 for a BF16 checkpoint, else F16), F32, F16 or BF16; "
                  "norms and biases are always F32")
      ->check(CLI::IsMember({"auto", "F32", "F16", "BF16", "f32", "f16", "bf16"}));
  cmd->add_flag("--force", opt.force, "Overwrite the output file if it exists");
  cmd->add_flag("--json", json, "Print JSON progress events and the result as JSON on stdout");
  cmd->callback([] {
    json_events() = json;
    ProgressPrinter printer(json ? ProgressStyle::Json : ProgressStyle::Auto);
    CancelFlag cancel{false};
    ConvertResult r;
    {
      InterruptGuard guard(cancel, {opt.output_path + ".partial"});  // Ctrl-C stops between tensors
      r = convert(opt, [&](const ProgressEvent& e) { printer(e); }, &cancel);
    }
    printer.end();
    if (json) {
      std::printf("%s\n", nlohmann::json{{"event", "result"}, {"schema", kJsonEventsSchema}, {"output", r.output_path},
                                         {"architecture", r.architecture}, {"tensors", r.tensors}, {"bytes", r.bytes},
                                         {"seconds", r.seconds}}
                              .dump()
                              .c_str());
    } else {
      std::printf("wrote %s  (%s, %llu tensors, %.1f MiB, %.1f s)\n", r.output_path.c_str(), r.architecture.c_str(),
                  (unsigned long long)r.tensors, double(r.bytes) / (1 << 20), r.seconds);
    }
    exit_code() = 0;
  });
}

}  // namespace vkq::cli
