// Unicode helpers shared by the tokenizers, with llama.cpp's exact conventions: its lenient UTF-8
// decoder (each invalid byte becomes U+FFFD), general categories, the White_Space set, and
// GPT-2's reversible byte <-> printable-code-point mapping used by byte-level BPE vocabularies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/tokenizer_unicode_tables.hpp"

namespace vkq::model {

inline constexpr uint32_t kReplacementCharacter = 0xFFFD;

// Byte length of the UTF-8 sequence a lead byte announces, from its high nibble only (a stray
// continuation byte counts as 1); llama.cpp's SPM tokenizer splits text into symbols this way.
size_t utf8_sequence_length(uint8_t lead);

// Decodes like llama.cpp's unicode_cpts_from_utf8: a malformed sequence yields U+FFFD and skips
// one byte; overlong forms and surrogates are accepted as decoded.
std::vector<uint32_t> utf8_to_codepoints(std::string_view text);

// Encodes one code point; throws vkq::Error above U+10FFFF (llama.cpp rejects those too).
void append_utf8(std::string& out, uint32_t codepoint);
std::string codepoint_to_utf8(uint32_t codepoint);

UnicodeCategory unicode_category(uint32_t codepoint);  // Undefined beyond U+10FFFF
bool unicode_is_whitespace(uint32_t codepoint);        // the Unicode White_Space property

// GPT-2 byte-level encoding: every byte maps to one printable code point (as UTF-8) and back.
const std::string& gpt2_byte_to_utf8(uint8_t byte);
// The byte a code point stands for, or -1 when the code point is not part of the mapping.
int gpt2_codepoint_to_byte(uint32_t codepoint);

}  // namespace vkq::model
