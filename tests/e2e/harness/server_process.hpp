// Child processes for end-to-end tests: tmc-server on a data directory, and run-to-completion.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tmc/client/options.hpp"

namespace tmc::e2e {

using namespace std::chrono_literals;

// How a child process ended.
struct ExitStatus {
  bool exited = false;  // exited normally (then code is its exit code)
  int code = -1;
  int signal = 0;       // the terminating signal when !exited
  std::string describe() const;
};

// A program run to completion: its exit status and everything it wrote to stdout.
struct ProcessOutput {
  ExitStatus status;
  std::string out;
};

// Runs argv[0] with argv (stderr inherited) and waits for it. Throws std::runtime_error if it
// cannot be started or outlives timeout (it is then killed).
ProcessOutput run_process(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = 120s);

// One tmc-server process on a data directory, listening on 127.0.0.1 port 0 with the dev
// certificates. start() may be called again after kill() or stop(): same data directory,
// same arguments, a new port. Not thread-safe: one thread drives it. The destructor SIGKILLs a
// running child and reaps it.
class ServerProcess {
 public:
  // extra_args are appended to the command line (e.g. {"--deadline-emergency-s", "3"}); without
  // a "--log-level" among them the server logs at warn.
  explicit ServerProcess(std::filesystem::path data_dir, std::vector<std::string> extra_args = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Spawns the server and returns its port once it printed "tmc-server listening on port N".
  // Throws std::runtime_error (with the exit status if it died) when that line does not come
  // within timeout; the child is then killed.
  std::uint16_t start(std::chrono::milliseconds timeout = 30s);

  // SIGKILL and reap. Returns the exit status (nothing if it was not running).
  std::optional<ExitStatus> kill();
  // SIGTERM and wait up to timeout for the exit; on timeout the child is SIGKILLed and
  // std::runtime_error is thrown.
  ExitStatus stop(std::chrono::milliseconds timeout = 30s);
  // Waits up to timeout for the child to exit by itself; nothing at the timeout.
  std::optional<ExitStatus> wait_exit(std::chrono::milliseconds timeout);

  // From the next start() on, the server's log (its stderr) is appended to file instead of
  // going to the test's stderr.
  void capture_log(std::filesystem::path file) { log_file_ = std::move(file); }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  // Options to reach the current server (localhost, its port, the dev CA).
  client::ClientOptions client_options() const;

 private:
  // Forgets the reaped child (closes its descriptors).
  void release();

  std::filesystem::path data_dir_;
  std::vector<std::string> extra_args_;
  std::filesystem::path log_file_;
  pid_t pid_ = -1;
  int pidfd_ = -1;   // becomes readable when the child exits
  int stdout_ = -1;  // read end of the child's stdout, kept open while it runs
  std::uint16_t port_ = 0;
};

// Path of the tmc-server and tmc-admin executables of this build.
std::string server_binary();
std::string admin_binary();

}  // namespace tmc::e2e
