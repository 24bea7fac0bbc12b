// The Unicode general-category table behind tokenizer_unicode.hpp, as runs of equal category
// (generated into tokenizer_unicode_tables.cpp; the generator is in that file's header comment).
#pragma once

#include <cstddef>
#include <cstdint>

namespace vkq::model {

// Categories grouped the way llama.cpp's pre-tokenizers see them (\p{L}, \p{N}, \p{P}, ...).
enum class UnicodeCategory : uint8_t {
  Undefined,    // Cn: unassigned code points
  Number,       // Nd Nl No
  Letter,       // Lu Ll Lt Lm Lo
  Separator,    // Zs Zl Zp
  Mark,         // Mn Mc Me
  Punctuation,  // Pc Pd Ps Pe Pi Pf Po
  Symbol,       // Sm Sc Sk So
  Control,      // Cc Cf Cs Co
};

struct UnicodeCategoryRun {
  uint32_t first;  // the run covers [first, next run's first)
  UnicodeCategory category;
};

extern const UnicodeCategoryRun kUnicodeCategoryRuns[];
extern const size_t kUnicodeCategoryRunCount;

}  // namespace vkq::model
