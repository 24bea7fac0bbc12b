// vkquant-quality: the quality matrix of issue 4 on stories260K, through the public API only.
// Calibration on one slice of a text, perplexity on a disjoint slice, for FP32 and for every
// (method, type) pair; one table of perplexity and Δ vs FP32 on stdout, --json FILE for the rest.
// Not a test: it never fails on quality, only when a run throws (the cell then shows the error).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <unistd.h>

#include "quality_matrix.hpp"

namespace fs = std::filesystem;
using namespace vkq;
using namespace vkq::quality;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  std::string model = std::string(VKQ_DATA_DIR) + "/tinystories-260k/stories260K.gguf";
  std::string text = std::string(VKQ_DATA_DIR) + "/tinystories-valid/tinystories_val.txt";
  std::string device, json_path;
  std::string calib_range = "0:0.5", eval_range = "0.5:1";
  bool quick = false;
  uint32_t calib_seqs = 16, calib_len = 256, eval_windows = 16, eval_ctx = 256;  // ~7-9 min on lavapipe
  uint64_t seed = 1;
  std::vector<double> lambdas = {0.01, 0.1, 1.0};  // SARQC sweep; --quick keeps 0.1
  std::vector<std::string> types = default_types();
  std::vector<std::string> only_methods;  // labels' prefixes; empty = all
};

std::pair<double, double> parse_range(const std::string& s, const char* option) {
  const auto colon = s.find(':');
  if (colon == std::string::npos) throw Error(std::string(option) + " " + s + ": expected BEGIN:END fractions");
  const double b = std::stod(s.substr(0, colon)), e = std::stod(s.substr(colon + 1));
  if (!(b >= 0 && b < e && e <= 1)) throw Error(std::string(option) + " " + s + ": need 0 <= BEGIN < END <= 1");
  return {b, e};
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string pad(const std::string& s, size_t w) { return s.size() >= w ? s : s + std::string(w - s.size(), ' '); }

// The run of one cell: quantize (to a temp GGUF for real types) and evaluate in the same call.
Cell run_cell(const Config& cfg, const MethodSpec& m, const std::string& type, const fs::path& tmp) {
  Cell c;
  c.method_label = m.label;
  c.type = type;
  QuantizeOptions o;
  o.model_path = cfg.model;
  o.calib_path = cfg.text;
  o.type = type;
  o.method = m.method;
  o.beam_width = m.beam_width;
  o.lambda = m.lambda;
  o.saliency = m.saliency;
  o.alpha_mode = m.alpha_mode;
  o.calib_seqs = cfg.calib_seqs;
  o.calib_len = cfg.calib_len;
  std::tie(o.calib_begin, o.calib_end) = parse_range(cfg.calib_range, "--calib-range");
  o.seed = cfg.seed;
  o.device = cfg.device;
  o.write_report = false;
  o.force = true;
  o.eval_text_path = cfg.text;
  std::tie(o.eval_begin, o.eval_end) = parse_range(cfg.eval_range, "--eval-range");
  o.eval_ctx = cfg.eval_ctx;
  o.eval_max_windows = cfg.eval_windows;
  if (!is_generic_type(type)) o.output_path = (tmp / ("cell-" + type + ".gguf")).string();
  const auto t0 = Clock::now();
  try {
    const QuantizeResult r = quantize(o);
    c.ok = r.evaluated;
    if (!r.evaluated) c.error = "no evaluation was returned";
    c.perplexity = r.evaluation.perplexity;
    c.mean_nll = r.evaluation.mean_nll;
    c.eval_tokens = r.evaluation.tokens;
    c.eval_windows = r.evaluation.windows;
    c.calibration_tokens = r.calibration_tokens;
    c.run_seconds = r.seconds;
    for (const auto& t : r.tensors) {
      if (!is_generic_type(type) && !t.type.empty() && t.type != type && t.method == "convert")
        c.fallbacks.push_back({t.name, t.type, t.note});
      if (t.method == "gptq" || t.method == "beam" || t.method == "rtn") c.quantized.push_back(t.name);
    }
  } catch (const Error& e) {
    c.error = e.what();
  }
  c.wall_seconds = seconds_since(t0);
  std::error_code ec;  // the GGUF is only a vehicle for the measurement: never kept
  if (!o.output_path.empty()) fs::remove(o.output_path, ec);
  return c;
}

void print_table(const std::vector<MethodSpec>& methods, const std::vector<std::string>& types,
                 const std::map<std::pair<std::string, std::string>, Cell>& cells, double fp32,
                 bool seconds_table) {
  const size_t w0 = 20, w = 18;
  std::cout << pad(seconds_table ? "seconds (wall)" : "method", w0);
  for (const auto& t : types) std::cout << pad(t, w);
  std::cout << "\n" << std::string(w0 + w * types.size(), '-') << "\n";
  if (!seconds_table) {
    std::cout << pad("FP32", w0);
    for (size_t i = 0; i < types.size(); ++i) std::cout << pad(fixed(fp32, 4), w);
    std::cout << "\n";
  }
  for (const auto& m : methods) {
    std::cout << pad(m.label, w0);
    for (const auto& t : types) {
      const Cell& c = cells.at({m.label, t});
      std::string s;
      if (!c.ok)
        s = "error";
      else if (seconds_table)
        s = fixed(c.wall_seconds, 1);
      else
        s = fixed(c.perplexity, 4) + " (" + (c.perplexity >= fp32 ? "+" : "") + fixed(c.perplexity - fp32, 3) + ")";
      std::cout << pad(s, w);
    }
    std::cout << "\n";
  }
}

// "blk.3.ffn_down.weight" -> "ffn_down.weight": one line per linear role, not per block.
std::string role_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return name;
  const auto dot = name.find('.', 4);
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

// Under the table: what each GGUF type could not hold, and what each generic grid quantized.
void print_coverage(const std::vector<std::string>& types, const std::map<std::pair<std::string, std::string>, Cell>& cells) {
  struct Seen {
    std::set<std::string> tensors, types;
    std::string to, reason;
  };
  std::map<std::string, Seen> by_role;
  std::map<std::string, std::set<std::string>> quantized_by_type;
  for (const auto& [key, c] : cells) {
    for (const auto& f : c.fallbacks) {
      Seen& s = by_role[role_of(f.name) + " -> " + f.to];
      s.tensors.insert(f.name);
      s.types.insert(c.type);
      s.to = f.to;
      if (s.reason.empty()) s.reason = f.reason;
    }
    quantized_by_type[c.type].insert(c.quantized.begin(), c.quantized.end());
  }
  std::cout << "\n";
  for (const auto& [role, s] : by_role) {
    std::cout << "fallback: " << role << " (" << s.tensors.size() << " tensors) at";
    for (const auto& t : types)
      if (s.types.count(t)) std::cout << " " << t;
    std::cout << ", e.g. \"" << s.reason << "\"\n";
  }
  for (const auto& t : types) {
    if (!is_generic_type(t)) continue;
    const auto& q = quantized_by_type[t];
    std::cout << "generic " << t << ": " << q.size() << " tensors quantized (the block linears);"
              << (q.count("token_embd.weight") ? "" : " token_embd") << (q.count("output.weight") ? "" : " and output")
              << " stay full precision (no output file, evaluation only)\n";
  }
}

nlohmann::json cell_json(const Cell& c, const MethodSpec& m, double fp32) {
  nlohmann::json j = {{"method", c.method_label}, {"quantize_method", m.method}, {"lambda", m.lambda},
                      {"saliency", m.saliency},   {"alpha_mode", m.alpha_mode},  {"type", c.type},
                      {"ok", c.ok},               {"wall_seconds", c.wall_seconds}, {"run_seconds", c.run_seconds}};
  if (m.method == "beam") j["beam_width"] = m.beam_width;
  if (c.ok) {
    j["perplexity"] = c.perplexity;
    j["delta_vs_fp32"] = c.perplexity - fp32;
    j["mean_nll"] = c.mean_nll;
    j["eval_tokens"] = c.eval_tokens;
    j["eval_windows"] = c.eval_windows;
    j["calibration_tokens"] = c.calibration_tokens;
  } else {
    j["error"] = c.error;
  }
  for (const auto& f : c.fallbacks) j["fallbacks"].push_back({{"tensor", f.name}, {"type", f.to}, {"reason", f.reason}});
  if (!c.quantized.empty()) j["quantized_tensors"] = c.quantized.size();
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  bool calib_seqs_set = false, windows_set = false;
  CLI::App app{"vkquant-quality: perplexity of every (method, type) pair on a small model, vs FP32"};
  app.add_option("--model", cfg.model, "GGUF (F32/F16) model to quantize")->capture_default_str();
  app.add_option("--text", cfg.text, "UTF-8 text: calibration and evaluation slices of it")->capture_default_str();
  app.add_option("--calib-range", cfg.calib_range, "calibration slice BEGIN:END (fractions)")->capture_default_str();
  app.add_option("--eval-range", cfg.eval_range, "evaluation slice BEGIN:END, disjoint from the calibration slice")
      ->capture_default_str();
  app.add_flag("--quick", cfg.quick, "8 calibration sequences, 8 windows, one lambda (0.1): about 5 min on lavapipe");
  app.add_option_function<uint32_t>("--calib-seqs", [&](uint32_t v) { cfg.calib_seqs = v, calib_seqs_set = true; },
                                    "calibration sequences (default 16; --quick 8)");
  app.add_option("--calib-len", cfg.calib_len, "tokens per calibration sequence")->capture_default_str();
  app.add_option_function<uint32_t>("--eval-windows", [&](uint32_t v) { cfg.eval_windows = v, windows_set = true; },
                                    "evaluation windows, 0 = the whole slice (default 16; --quick 8)");
  app.add_option("--eval-ctx", cfg.eval_ctx, "evaluation window length, 0 = the model's context")->capture_default_str();
  app.add_option("--lambda", cfg.lambdas, "SARQC strengths to run (saliency act)");
  app.add_option("--types", cfg.types, "columns: GGUF types and generic grids");
  app.add_option("--methods", cfg.only_methods, "only the rows whose label starts with one of these (e.g. RTN GPTQ)");
  app.add_option("--seed", cfg.seed, "calibration window choice and sampled alpha")->capture_default_str();
  app.add_option("--device", cfg.device, "Vulkan device: index or name substring");
  app.add_option("--json", cfg.json_path, "write every cell, the settings and the times as JSON");
  CLI11_PARSE(app, argc, argv);
  bool lambdas_set = app.count("--lambda") > 0;
  if (cfg.quick) {
    if (!calib_seqs_set) cfg.calib_seqs = 8;
    if (!windows_set) cfg.eval_windows = 8;
    if (!lambdas_set) cfg.lambdas = {0.1};
  }

  std::vector<MethodSpec> methods;
  for (const auto& m : default_methods(cfg.lambdas)) {
    bool keep = cfg.only_methods.empty();
    for (const auto& p : cfg.only_methods) keep = keep || m.label.rfind(p, 0) == 0;
    if (keep) methods.push_back(m);
  }

  const auto t_all = Clock::now();
  try {
    const auto eval_range = parse_range(cfg.eval_range, "--eval-range");
    const auto calib_range = parse_range(cfg.calib_range, "--calib-range");
    if (calib_range.first < eval_range.second && eval_range.first < calib_range.second)
      std::cerr << "warning: the calibration and evaluation slices overlap\n";

    std::cout << "model " << cfg.model << "\ntext " << cfg.text << "\ncalibration " << cfg.calib_range << ": "
              << cfg.calib_seqs << " x " << cfg.calib_len << " tokens (seed " << cfg.seed << ")\nevaluation "
              << cfg.eval_range << ": " << (cfg.eval_windows ? std::to_string(cfg.eval_windows) : "all")
              << " windows of " << (cfg.eval_ctx ? std::to_string(cfg.eval_ctx) : "the model's context") << "\n"
              << std::flush;

    PerplexityOptions po;
    po.model_path = cfg.model;
    po.text_path = cfg.text;
    std::tie(po.text_begin, po.text_end) = eval_range;
    po.ctx = cfg.eval_ctx;
    po.max_windows = cfg.eval_windows;
    po.device = cfg.device;
    const auto t_fp = Clock::now();
    const PerplexityResult fp = perplexity(po);
    const double fp_wall = seconds_since(t_fp);
    std::cout << "device " << fp.device << "\nFP32 perplexity " << fixed(fp.perplexity, 4) << " over " << fp.tokens
              << " tokens (" << fp.windows << " windows of " << fp.ctx << ") in " << fixed(fp_wall, 1) << " s\n\n"
              << std::flush;

    const fs::path tmp = fs::temp_directory_path() / ("vkquant-quality-" + std::to_string(::getpid()));
    fs::create_directories(tmp);
    std::map<std::pair<std::string, std::string>, Cell> cells;
    const size_t total = methods.size() * cfg.types.size();
    size_t done = 0;
    for (const auto& t : cfg.types) {
      for (const auto& m : methods) {
        Cell c = run_cell(cfg, m, t, tmp);
        ++done;
        std::cerr << "[" << done << "/" << total << "] " << pad(t, 8) << " " << pad(m.label, 20) << " "
                  << (c.ok ? "ppl " + fixed(c.perplexity, 4) : "error: " + c.error) << "  " << fixed(c.wall_seconds, 1)
                  << " s\n";
        cells[{m.label, t}] = std::move(c);
      }
    }
    std::error_code ec;
    fs::remove_all(tmp, ec);

    std::cout << "perplexity (delta vs FP32) on " << cfg.eval_range << " of " << fs::path(cfg.text).filename().string()
              << "\n";
    print_table(methods, cfg.types, cells, fp.perplexity, false);
    // Under the table: what each GGUF type could not hold, and what generic grids leave alone.
    print_coverage(cfg.types, cells);
    std::cout << "\n";
    print_table(methods, cfg.types, cells, fp.perplexity, true);
    const double total_s = seconds_since(t_all);
    std::cout << "\nFP32 evaluation " << fixed(fp_wall, 1) << " s; whole matrix " << fixed(total_s, 1) << " s on "
              << fp.device << "\n";
    for (const auto& [key, c] : cells)
      if (!c.ok) std::cout << "error in " << c.method_label << " / " << c.type << ": " << c.error << "\n";

    if (!cfg.json_path.empty()) {
      nlohmann::json j;
      j["settings"] = {{"model", cfg.model},           {"text", cfg.text},
                       {"calib_range", cfg.calib_range}, {"eval_range", cfg.eval_range},
                       {"calib_seqs", cfg.calib_seqs},   {"calib_len", cfg.calib_len},
                       {"eval_windows", cfg.eval_windows}, {"eval_ctx", fp.ctx},
                       {"seed", cfg.seed},               {"quick", cfg.quick},
                       {"lambdas", cfg.lambdas},         {"types", cfg.types}};
      j["device"] = fp.device;
      j["vkquant_version"] = version();
      j["fp32"] = {{"perplexity", fp.perplexity}, {"mean_nll", fp.mean_nll}, {"tokens", fp.tokens},
                   {"windows", fp.windows},       {"ctx", fp.ctx},           {"wall_seconds", fp_wall}};
      j["cells"] = nlohmann::json::array();
      for (const auto& t : cfg.types)
        for (const auto& m : methods) j["cells"].push_back(cell_json(cells.at({m.label, t}), m, fp.perplexity));
      j["total_seconds"] = total_s;
      std::ofstream out(cfg.json_path);
      if (!out) throw Error("--json " + cfg.json_path + ": cannot open for writing");
      out << j.dump(2) << "\n";
      std::cout << "wrote " << cfg.json_path << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "vkquant-quality: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
