// "SIZE" options such as --max-device-memory 4G: bytes, or a number with a binary unit (K, M, G, T; an
// optional "iB" or "B" after it), e.g. 512M, 1.5G, 4GiB.
#pragma once

#include <cctype>
#include <cmath>
#include <cstdint>
#include <string>

#include "vkquant/vkquant.hpp"

namespace vkq::cli {

inline uint64_t parse_size_option(const std::string& option, const std::string& s) {
  const auto bad = [&](const std::string& why) {
    return Error(option + " '" + s + "': " + why + " (expected bytes or a size such as 512M, 1.5G, 4GiB)");
  };
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(s, &used);
  } catch (const std::exception&) {
    throw bad("not a size");
  }
  std::string unit = s.substr(used);
  for (auto& c : unit) c = char(std::toupper((unsigned char)c));
  if (unit.size() > 1 && (unit.substr(1) == "IB" || unit.substr(1) == "B")) unit = unit.substr(0, 1);
  double scale = 1;
  if (unit == "K") scale = 1024.0;
  else if (unit == "M") scale = 1024.0 * 1024;
  else if (unit == "G") scale = 1024.0 * 1024 * 1024;
  else if (unit == "T") scale = 1024.0 * 1024 * 1024 * 1024;
  else if (!unit.empty() && unit != "B") throw bad("unknown unit '" + s.substr(used) + "'");
  const double bytes = value * scale;
  if (!std::isfinite(bytes) || bytes < 1024.0 * 1024) throw bad("below 1 MiB, too small to hold any buffer");
  if (bytes > 1e18) throw bad("too large");
  return uint64_t(bytes);
}

}  // namespace vkq::cli
