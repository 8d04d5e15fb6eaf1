// The INVALID_ARGUMENT errors of the domain's parsers (wall-clock times, time zones,
// availability rules): one wording for both.
#pragma once

#include <string>
#include <utility>

#include "common/result.hpp"

namespace tmc::domain {

inline Error invalid(std::string message) {
  return make_error(Code::invalid_argument, std::move(message));
}

// text in double quotes, for naming a rejected value in a message.
inline std::string quoted(const std::string& text) { return "\"" + text + "\""; }

}  // namespace tmc::domain
