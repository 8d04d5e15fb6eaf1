// /proc/PID/net/tcp lines: the socket of a port pair, its state and queues.
#include "proc_net_tcp.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tmc::bench {
namespace {

// Ports: 9543 = 0x2547, 40000 = 0x9C40, 40001 = 0x9C41.
const std::string kTable =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 0100007F:2547 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "1 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0100007F:2547 0200007F:9C40 01 003A0000:00000010 01:00000014 00000000     0        0 "
    "2 1 0000000000000000 20 4 30 10 -1\n"
    "   2: 0200007F:9C40 0100007F:2547 01 00000000:00020000 00:00000000 00000000     0        0 "
    "3 1 0000000000000000 20 4 30 10 -1\n"
    "   3: 0100007F:2547 0300007F:9C41 04 00100000:00000000 01:00000014 00000000     0        0 "
    "4 1 0000000000000000 20 4 30 10 -1\n";

TEST(FindTcpSocket, FindsTheServerSideOfAConnection) {
  const auto socket = find_tcp_socket(kTable, 9543, 40000);
  ASSERT_TRUE(socket.has_value());
  EXPECT_EQ(socket->state, kTcpEstablished);
  EXPECT_EQ(socket->tx_queue, 0x3A0000u);
  EXPECT_EQ(socket->rx_queue, 0x10u);
}

TEST(FindTcpSocket, TellsTheClientSideApartByPortOrder) {
  const auto socket = find_tcp_socket(kTable, 40000, 9543);
  ASSERT_TRUE(socket.has_value());
  EXPECT_EQ(socket->tx_queue, 0u);
  EXPECT_EQ(socket->rx_queue, 0x20000u);
}

TEST(FindTcpSocket, ReportsAClosingSocketsState) {
  const auto socket = find_tcp_socket(kTable, 9543, 40001);
  ASSERT_TRUE(socket.has_value());
  EXPECT_EQ(socket->state, 4u);  // FIN_WAIT1: the server closed, data still queued
  EXPECT_EQ(socket->tx_queue, 0x100000u);
}

TEST(FindTcpSocket, MissingOrGarbledLinesFindNothing) {
  EXPECT_FALSE(find_tcp_socket(kTable, 9543, 40002).has_value());
  EXPECT_FALSE(find_tcp_socket("", 9543, 40000).has_value());
  EXPECT_FALSE(
      find_tcp_socket("   1: 0100007F:2547 0200007F:9C40 01 zz:00\n", 9543, 40000).has_value());
  EXPECT_FALSE(find_tcp_socket("   1: 0100007F:2547 0200007F:9C40\n", 9543, 40000).has_value());
}

}  // namespace
}  // namespace tmc::bench
