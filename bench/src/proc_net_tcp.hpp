// One TCP socket's state and queues from the text of /proc/PID/net/tcp (IPv4).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tmc::bench {

struct TcpSocketInfo {
  unsigned state = 0;          // the kernel's TCP state number (1 ESTABLISHED, 4 FIN_WAIT1, ...)
  std::uint64_t tx_queue = 0;  // bytes sent but not yet acknowledged by the peer
  std::uint64_t rx_queue = 0;  // bytes received but not yet read by the owner
};

constexpr unsigned kTcpEstablished = 1;

// The socket whose local port is `local_port` and remote port `remote_port` (addresses are not
// compared); nullopt when no line matches. Lines that do not parse are skipped.
std::optional<TcpSocketInfo> find_tcp_socket(std::string_view proc_net_tcp,
                                             std::uint16_t local_port, std::uint16_t remote_port);

}  // namespace tmc::bench
