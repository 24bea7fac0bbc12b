#include "model/tokenizer_unicode.hpp"

#include <algorithm>
#include <array>

#include "vkquant/vkquant.hpp"

namespace vkq::model {

namespace {

constexpr uint32_t kCodepointLimit = 0x110000;

bool is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// One category byte per code point, expanded once from the run table (1.1 MB, O(1) lookups:
// calibration texts are megabytes long).
const std::vector<UnicodeCategory>& category_table() {
  static const std::vector<UnicodeCategory> table = [] {
    std::vector<UnicodeCategory> t(kCodepointLimit, UnicodeCategory::Undefined);
    for (size_t i = 0; i < kUnicodeCategoryRunCount; ++i) {
      const uint32_t end = i + 1 < kUnicodeCategoryRunCount ? kUnicodeCategoryRuns[i + 1].first : kCodepointLimit;
      std::fill(t.begin() + kUnicodeCategoryRuns[i].first, t.begin() + end, kUnicodeCategoryRuns[i].category);
    }
    return t;
  }();
  return table;
}

// GPT-2's table: printable Latin-1 bytes stand for themselves, the other 68 bytes are moved in
// byte order to U+0100, U+0101, ... so that every byte has a visible, non-space code point.
struct Gpt2ByteMap {
  std::array<std::string, 256> byte_to_utf8;
  std::array<uint32_t, 256> byte_to_codepoint{};
  Gpt2ByteMap() {
    auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    uint32_t next_shifted = 256;
    for (int b = 0; b < 256; ++b) {
      byte_to_codepoint[b] = printable(b) ? uint32_t(b) : next_shifted++;
      byte_to_utf8[b] = codepoint_to_utf8(byte_to_codepoint[b]);
    }
  }
};

const Gpt2ByteMap& gpt2_byte_map() {
  static const Gpt2ByteMap map;
  return map;
}

}  // namespace

size_t utf8_sequence_length(uint8_t lead) {
  static constexpr uint8_t kLengthByHighNibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengthByHighNibble[lead >> 4];
}

std::vector<uint32_t> utf8_to_codepoints(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  // The lead byte's high bits give the length; every continuation byte must be present and valid.
  auto take = [&](size_t len, uint32_t lead_bits) {
    if (i + len > n) return false;
    uint32_t cp = lead_bits;
    for (size_t k = 1; k < len; ++k) {
      if (!is_continuation(s[i + k])) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    out.push_back(cp);
    i += len;
    return true;
  };
  while (i < n) {
    const uint8_t b = s[i];
    bool ok;
    if (b < 0x80) ok = take(1, b);
    else if ((b & 0xE0) == 0xC0) ok = take(2, b & 0x1F);
    else if ((b & 0xF0) == 0xE0) ok = take(3, b & 0x0F);
    else if ((b & 0xF8) == 0xF0) ok = take(4, b & 0x07);
    else ok = false;  // a continuation byte in lead position, or 0xF8..0xFF
    if (!ok) {
      out.push_back(kReplacementCharacter);
      ++i;
    }
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < kCodepointLimit) {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    throw Error("tokenizer: text holds a UTF-8 sequence for code point " + std::to_string(cp) +
                ", beyond U+10FFFF");
  }
}

std::string codepoint_to_utf8(uint32_t cp) {
  std::string s;
  append_utf8(s, cp);
  return s;
}

UnicodeCategory unicode_category(uint32_t cp) {
  return cp < kCodepointLimit ? category_table()[cp] : UnicodeCategory::Undefined;
}

bool unicode_is_whitespace(uint32_t cp) {
  // PropList.txt White_Space: TAB..CR, SPACE, NEL, NBSP, OGHAM SPACE, EN QUAD..HAIR SPACE,
  // LINE/PARAGRAPH SEPARATOR, NARROW NBSP, MEDIUM MATHEMATICAL SPACE, IDEOGRAPHIC SPACE.
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

const std::string& gpt2_byte_to_utf8(uint8_t byte) { return gpt2_byte_map().byte_to_utf8[byte]; }

int gpt2_codepoint_to_byte(uint32_t cp) {
  if (cp > 0x1FF) return -1;  // the mapping only uses U+0000..U+01FF
  static const std::array<int, 0x200> inverse = [] {
    std::array<int, 0x200> inv;
    inv.fill(-1);
    for (int b = 0; b < 256; ++b) inv[gpt2_byte_map().byte_to_codepoint[b]] = b;
    return inv;
  }();
  return inverse[cp];
}

}  // namespace vkq::model
