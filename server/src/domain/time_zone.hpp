// IANA time-zone look-ups (from the OS tz database via Howard Hinnant's date/tz).
#pragma once

#include <string>

namespace tmc::domain {

// True when name is a zone of the IANA database installed on this machine (e.g. "Asia/Urumqi").
bool is_known_time_zone(const std::string& name);

}  // namespace tmc::domain
