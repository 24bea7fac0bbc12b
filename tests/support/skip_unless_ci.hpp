// A check that needs an outside tool (a Python package from PyPI, llama.cpp) is skipped where the
// tool is missing — except under CI=true, where a skipped independent check is a hole: it fails.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

namespace vkq::test {

inline bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::strcmp(ci, "true") == 0;
}

}  // namespace vkq::test

#define VKQ_SKIP_UNLESS_CI(message)                                  \
  do {                                                               \
    if (::vkq::test::running_in_ci()) GTEST_FAIL() << "CI=true: " << message; \
    GTEST_SKIP() << message;                                         \
  } while (0)
