#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/commands.hpp"
#include "cli/interrupt_guard.hpp"
#include "cli/profile_table.hpp"
#include "cli/progress_printer.hpp"
#include "cli/range_option.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::cli {

void add_perplexity_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("perplexity",
                                 "Perplexity of a model on a text (ALGORITHMS.md §6: non-overlapping windows of "
                                 "--ctx tokens, every token after the first scored)");
  static PerplexityOptions opt;
  static std::string range = "0:1";
  static bool json = false;
  static std::string protocol = "windows";
  cmd->add_option("model", opt.model_path, "Model: GGUF (llama, qwen2, qwen3, gemma3 or phi3; F32/F16/BF16, Q8_0/Q4_0/Q4_1/Q5_0/Q5_1, Q2_K..Q6_K, IQ4_NL/IQ4_XS), a Hugging Face checkpoint folder, or llama2.c .bin")
      ->required();
  cmd->add_option("--text", opt.text_path, "UTF-8 text to score")->required();
  cmd->add_option("--tokenizer", opt.tokenizer_path, "Tokenizer file for a llama2.c model (e.g. tok512.bin)");
  cmd->add_option("--ctx", opt.ctx, "Window length in tokens (default: the model's context, at most 2048)");
  cmd->add_option("--range", range,
                  "Part of the text to use, as fractions BEGIN:END of its bytes (e.g. 0.5:1 for the second half; "
                  "cut at line ends)");
  cmd->add_option("--max-windows,--chunks", opt.max_windows,
                  "Score at most this many windows (default: all); --chunks is llama-perplexity's name");
  cmd->add_option("--protocol", protocol,
                  "windows (default): non-overlapping windows, every token after the first scored; llama: "
                  "llama-perplexity's protocol exactly (floor(tokens/ctx) chunks, BOS written over each chunk's first "
                  "token, only the second half of each chunk scored, default --ctx 512), so the figure equals "
                  "llama-perplexity's 'Final estimate' on the same file and text")
      ->check(CLI::IsMember({"windows", "llama"}));
  cmd->add_option("--device", opt.device, "Vulkan device index or name substring (default: best; VKQ_DEVICE)");
  cmd->add_flag("--json", json, "Print JSON progress events and the result as JSON on stdout");
  cmd->add_flag("--profile", opt.profile,
                "Time every kernel on the device (GPU timestamps) and print device seconds per kernel");
  cmd->callback([] {
    parse_range_option("--range", range, opt.text_begin, opt.text_end);
    opt.protocol = protocol == "llama" ? PerplexityProtocol::Llama : PerplexityProtocol::Windows;
    json_events() = json;
    ProgressPrinter printer(json ? ProgressStyle::Json : ProgressStyle::Auto);
    CancelFlag cancel{false};
    PerplexityResult r;
    {
      InterruptGuard guard(cancel, {});  // Ctrl-C / SIGTERM stop at the next window
      r = perplexity(opt, [&](const ProgressEvent& e) { printer(e); }, &cancel);
    }
    printer.end();
    if (json) {
      nlohmann::json j{{"event", "result"}, {"schema", kJsonEventsSchema}, {"perplexity", r.perplexity},
                       {"mean_nll", r.mean_nll}, {"windows", r.windows}, {"tokens", r.tokens}, {"ctx", r.ctx},
                       {"protocol", protocol}, {"device", r.device}, {"seconds", r.seconds}};
      if (opt.profile) j["profile"] = profile_json(r.profile);
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("perplexity %.4f  (mean NLL %.5f nats over %llu tokens in %llu %s of %u; %s; %.1f s)\n",
                  r.perplexity, r.mean_nll, (unsigned long long)r.tokens, (unsigned long long)r.windows,
                  protocol == "llama" ? "llama-perplexity chunks" : "windows", r.ctx, r.device.c_str(), r.seconds);
      print_profile_table(r.profile, r.seconds, opt.profile);
    }
    exit_code() = 0;
  });
}

}  // namespace vkq::cli
