// The load scenarios of tmc-bench and the figures they report.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "histogram.hpp"

namespace tmc::bench {

// One bench user from the users file ("clinician|specialist USERNAME PASSWORD" per line).
struct BenchUser {
  std::string role;
  std::string username;
  std::string password;
};

struct Options {
  std::string scenario;
  std::string label;
  std::string target = "127.0.0.1:8443";  // host:port to connect to
  std::string host = "localhost";         // SNI and Host header
  std::string path = "/v1/ws";
  std::string subprotocol = "telemed.v1";
  std::string ca_file;                     // verify the server against this CA (empty: no check)
  pid_t server_pid = 0;
  int source_addresses = 8;                // 127.0.0.1 .. 127.0.0.N
  std::size_t connections = 100;           // echo, connections
  std::size_t pairs = 50;                  // chat
  std::size_t window = 8;                  // messages in flight per flow (closed loop)
  std::size_t message_bytes = 256;         // echo payload / chat body text
  double warmup_seconds = 1;
  double duration_seconds = 5;
  std::vector<double> open_loop_fractions;  // of the closed-loop maximum
  std::vector<double> open_loop_rates;      // messages/s, absolute
  bool closed_loop = true;
  std::size_t handshake_concurrency = 64;   // connections
  std::size_t resumed_connections = 1000;   // connections: second wave resuming TLS sessions
  double settle_seconds = 2;                // connections: before RSS is read
  std::size_t sign_ins = 16;  // connections: distinct session tokens the sessions resume
  std::size_t uploads = 1;                  // upload: concurrent files
  std::uint64_t upload_bytes = std::uint64_t{64} << 20;
  std::size_t chunk_bytes = 256 * 1024;
  std::string specialty = "cardiology";
  std::size_t summary_bytes = 0;  // chat, fanout, slow-consumer: each consultation's summary
  std::vector<std::size_t> participants{2, 10, 50};  // fanout: consultation sizes
  std::size_t sessions = 200;                 // slow-consumer: all sessions, stalled included
  double slow_percent = 1;                    // slow-consumer: share of sessions that stall
  std::uint64_t server_queue_bytes = 0;       // slow-consumer: the server's --outbound-queue-bytes
  int stalled_receive_buffer = 64 * 1024;     // slow-consumer: SO_RCVBUF of stalled sessions
  std::string directory;                      // disk-sync: where the test file goes
  std::vector<BenchUser> users;
};

// Figures of one measured phase.
struct PhaseResult {
  std::string name;
  std::string mode;  // closed | open | handshake | idle | upload
  double offered_rate = 0;  // open loop: messages/s asked for
  double seconds = 0;
  std::uint64_t operations = 0;
  std::uint64_t errors = 0;
  double server_cpu_seconds = 0;
  double client_cpu_seconds = 0;
  double server_rss_kib_before = 0;
  double server_rss_kib_after = 0;
  Histogram latency;
  std::vector<std::pair<std::string, double>> figures;  // scenario-specific extras
  // The server's CPU seconds by thread name (cpu_by_thread_name), largest first.
  std::vector<std::pair<std::string, double>> server_thread_cpu_seconds;

  double rate() const { return seconds > 0 ? static_cast<double>(operations) / seconds : 0; }
  double per_server_cpu_second() const {
    return server_cpu_seconds > 0 ? static_cast<double>(operations) / server_cpu_seconds : 0;
  }
};

struct ScenarioResult {
  std::string scenario;
  std::string label;
  std::vector<std::pair<std::string, std::string>> settings;
  std::vector<PhaseResult> phases;
  std::string error;  // non-empty when the scenario could not run to the end
};

ScenarioResult run_echo(const Options& options);
ScenarioResult run_chat(const Options& options);
// One clinician posts into consultations of each --participants size; a message completes when
// its last recipient has it.
ScenarioResult run_fanout(const Options& options);
// Chat pairs plus --slow-percent of the sessions, which take part in every consultation and
// stop reading their sockets for the measured phase; server RSS is traced against the bound.
ScenarioResult run_slow_consumer(const Options& options);
ScenarioResult run_connections(const Options& options);
ScenarioResult run_upload(const Options& options);
// No server: small appends to a file in --dir, each followed by fdatasync, back to back; the
// latency of each is the disk's floor under a durably stored message.
ScenarioResult run_disk_sync(const Options& options);

}  // namespace tmc::bench
