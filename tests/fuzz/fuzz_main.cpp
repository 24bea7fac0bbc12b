// libFuzzer entry points: VKQ_FUZZ_TARGET (gguf, llama2c, safetensors or text) picks the target for the run.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fuzz_targets.hpp"

#ifndef VKQ_DATA_DIR
#define VKQ_DATA_DIR ""
#endif

namespace {
int (*g_target)(const uint8_t*, size_t) = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* name = std::getenv("VKQ_FUZZ_TARGET");
  if (!name || !std::strcmp(name, "gguf")) {
    g_target = vkq::fuzz::gguf_one_input;
  } else if (!std::strcmp(name, "llama2c")) {
    g_target = vkq::fuzz::llama2c_one_input;
  } else if (!std::strcmp(name, "safetensors")) {
    g_target = vkq::fuzz::safetensors_one_input;
  } else if (!std::strcmp(name, "text")) {
    const char* dir = std::getenv("VKQ_DATA_DIR");
    vkq::fuzz::text_init(dir && *dir ? dir : VKQ_DATA_DIR);
    g_target = vkq::fuzz::text_one_input;
  } else {
    std::fprintf(stderr, "VKQ_FUZZ_TARGET=%s: expected gguf, llama2c, safetensors or text\n", name);
    std::exit(2);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return g_target(data, size); }
