// llama.cpp's tokenizer test vectors (test-tokenizer-0's fixtures, NAME.gguf.inp / .out): inputs
// separated by "\n__ggml_vocab_test__\n", one line of space-separated ids per input, tokenized with
// add_special = false and parse_special = false.
#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace vkq::test {

struct VocabFixture {
  std::vector<std::string> inputs;
  std::vector<std::vector<int32_t>> expected;
};

inline std::string read_whole_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// `gguf_path` + ".inp" and ".out".
inline VocabFixture read_vocab_fixture(const std::string& gguf_path) {
  VocabFixture v;
  const std::string inputs = read_whole_file(gguf_path + ".inp");
  const std::string outputs = read_whole_file(gguf_path + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t pos = 0; pos < inputs.size();) {
    const size_t next = inputs.find(sep, pos);
    v.inputs.push_back(inputs.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
    if (next == std::string::npos) break;
    pos = next + sep.size();
  }
  std::istringstream lines(outputs);
  for (std::string line; std::getline(lines, line);) {
    std::vector<int32_t> ids;
    std::istringstream words(line);
    for (int32_t id; words >> id;) ids.push_back(id);
    v.expected.push_back(ids);
  }
  return v;
}

}  // namespace vkq::test
