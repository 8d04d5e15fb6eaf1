// The INVALID_ARGUMENT errors of the domain's parsers (wall-clock times, time zones,
// availability rules): one wording for both.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include "common/result.hpp"

namespace tmc::domain {

inline Error invalid(std::string message) {
  return make_error(Code::invalid_argument, std::move(message));
}

// text in double quotes, for naming a rejected value in a message. A long value is cut (at a
// character boundary, the message is UTF-8) so that a megabyte of input is not answered with a
// megabyte of error.
inline std::string quoted(const std::string& text) {
  constexpr std::size_t most = 64;
  if (text.size() <= most) return "\"" + text + "\"";
  std::size_t cut = most;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return "\"" + text.substr(0, cut) + "...\"";
}

}  // namespace tmc::domain
