// Parsing /proc/PID/net/tcp (see proc_net_tcp.hpp).
#include "proc_net_tcp.hpp"

#include <charconv>
#include <vector>

namespace tmc::bench {
namespace {

bool parse_hex(std::string_view text, std::uint64_t& value) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  return ec == std::errc{} && end == text.data() + text.size();
}

// "0100007F:24F7" -> the port after the colon.
bool port_of(std::string_view address, std::uint16_t& port) {
  const auto colon = address.find(':');
  std::uint64_t value = 0;
  if (colon == std::string_view::npos || !parse_hex(address.substr(colon + 1), value) ||
      value > 0xffff) {
    return false;
  }
  port = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace

std::optional<TcpSocketInfo> find_tcp_socket(std::string_view text, std::uint16_t local_port,
                                             std::uint16_t remote_port) {
  // Columns: sl local_address rem_address st tx_queue:rx_queue ...
  std::vector<std::string_view> fields;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    fields.clear();
    while (fields.size() < 5) {
      const auto start = line.find_first_not_of(' ');
      if (start == std::string_view::npos) break;
      line.remove_prefix(start);
      const auto end = line.find(' ');
      fields.push_back(line.substr(0, end));
      line = end == std::string_view::npos ? std::string_view{} : line.substr(end);
    }
    if (fields.size() < 5) continue;
    std::uint16_t local = 0, remote = 0;
    if (!port_of(fields[1], local) || !port_of(fields[2], remote)) continue;
    if (local != local_port || remote != remote_port) continue;
    TcpSocketInfo info;
    std::uint64_t state = 0;
    const auto colon = fields[4].find(':');
    if (!parse_hex(fields[3], state) || colon == std::string_view::npos ||
        !parse_hex(fields[4].substr(0, colon), info.tx_queue) ||
        !parse_hex(fields[4].substr(colon + 1), info.rx_queue)) {
      continue;
    }
    info.state = static_cast<unsigned>(state);
    return info;
  }
  return std::nullopt;
}

}  // namespace tmc::bench
