// "BEGIN:END" fractions of a text (e.g. 0:0.5), as --range and --calib-range take them.
#pragma once

#include <string>

#include "vkquant/vkquant.hpp"

namespace vkq::cli {

// `option` (e.g. "--calib-range") names the option in the error.
inline void parse_range_option(const std::string& option, const std::string& s, double& begin, double& end) {
  const size_t colon = s.find(':');
  try {
    if (colon == std::string::npos) throw std::invalid_argument("no colon");
    size_t used = 0;
    begin = std::stod(s.substr(0, colon), &used);
    if (used != colon) throw std::invalid_argument("begin");
    const std::string tail = s.substr(colon + 1);
    end = std::stod(tail, &used);
    if (used != tail.size()) throw std::invalid_argument("end");
  } catch (const std::exception&) {
    throw Error(option + " '" + s + "': expected BEGIN:END with fractions of the text, e.g. 0:0.5");
  }
  if (!(begin >= 0 && end <= 1 && begin < end))
    throw Error(option + " '" + s + "': need 0 <= BEGIN < END <= 1");
}

}  // namespace vkq::cli
