// IANA time-zone look-ups (from the OS tz database via Howard Hinnant's date/tz).
#include "domain/time_zone.hpp"

#include <date/tz.h>

#include <stdexcept>

namespace tmc::domain {

bool is_known_time_zone(const std::string& name) {
  if (name.empty()) return false;
  try {
    return date::locate_zone(name) != nullptr;
  } catch (const std::runtime_error&) {
    return false;
  }
}

}  // namespace tmc::domain
