// Child processes for end-to-end tests: tmc-server on a data directory, and run-to-completion.
#include "server_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "test_server.hpp"

extern char** environ;

namespace tmc::e2e {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail_errno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Waits until fd is readable or deadline passes; false at the deadline.
bool poll_readable(int fd, Clock::time_point deadline) {
  for (;;) {
    pollfd entry{fd, POLLIN, 0};
    const int ready = ::poll(&entry, 1, remaining_ms(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) fail_errno("poll");
  }
}

ExitStatus decode(int raw) {
  ExitStatus status;
  if (WIFEXITED(raw)) {
    status.exited = true;
    status.code = WEXITSTATUS(raw);
  } else if (WIFSIGNALED(raw)) {
    status.signal = WTERMSIG(raw);
  }
  return status;
}

// A spawned child: its pid, a pidfd that turns readable when it exits, and its stdout pipe.
struct Spawned {
  pid_t pid = -1;
  int pidfd = -1;
  int out = -1;
};

// stderr_file: where the child's stderr goes (appended); empty: inherited.
Spawned spawn(const std::vector<std::string>& argv, const std::string& stderr_file = {}) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) fail_errno("pipe2");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  if (!stderr_file.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_file.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
  }
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  Spawned child;
  const int error = ::posix_spawn(&child.pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (error != 0) {
    ::close(pipe_fds[0]);
    errno = error;
    fail_errno("cannot start " + argv[0]);
  }
  child.out = pipe_fds[0];
  // The syscall directly: glibc 2.36's <sys/pidfd.h> lacks C linkage for C++.
  child.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0));
  if (child.pidfd < 0) {
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, nullptr, 0);
    ::close(child.out);
    fail_errno("pidfd_open");
  }
  return child;
}

// Reaps the child once its pidfd is readable; nothing if it is still running at deadline.
std::optional<ExitStatus> wait_child(pid_t pid, int pidfd, Clock::time_point deadline) {
  if (!poll_readable(pidfd, deadline)) return std::nullopt;
  int raw = 0;
  while (::waitpid(pid, &raw, 0) < 0) {
    if (errno != EINTR) fail_errno("waitpid");
  }
  return decode(raw);
}

// Reads from fd until a newline (returned without it), EOF or the deadline (nothing).
std::optional<std::string> read_line(int fd, Clock::time_point deadline) {
  std::string line;
  char c = 0;
  while (poll_readable(fd, deadline)) {
    const auto n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    if (c == '\n') return line;
    line.push_back(c);
  }
  return std::nullopt;
}

}  // namespace

std::string ExitStatus::describe() const {
  if (exited) return "exited with code " + std::to_string(code);
  return "killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
}

std::string server_binary() { return TMC_SERVER_BINARY; }
std::string admin_binary() { return TMC_ADMIN_BINARY; }

ProcessOutput run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto child = spawn(argv);
  ProcessOutput result;
  char buffer[4096];
  bool timed_out = false;
  for (;;) {
    if (!poll_readable(child.out, deadline)) {
      timed_out = true;
      break;
    }
    const auto n = ::read(child.out, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(child.out);
  auto status = timed_out ? std::nullopt : wait_child(child.pid, child.pidfd, deadline);
  if (!status) {
    ::kill(child.pid, SIGKILL);
    wait_child(child.pid, child.pidfd, Clock::time_point::max());
    ::close(child.pidfd);
    throw std::runtime_error(argv[0] + " did not finish within " +
                             std::to_string(timeout.count()) + " ms");
  }
  ::close(child.pidfd);
  result.status = *status;
  return result;
}

ServerProcess::ServerProcess(std::filesystem::path data_dir, std::vector<std::string> extra_args)
    : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {
  testing::dev_ca_file();  // generates the dev PKI on first use
}

ServerProcess::~ServerProcess() {
  try {
    kill();
  } catch (...) {
    // Destructors must not throw; the child is gone or unreachable either way.
  }
}

std::uint16_t ServerProcess::start(std::chrono::milliseconds timeout) {
  if (running()) throw std::logic_error("tmc-server is already running");
  const auto certs = testing::dev_certs_dir();
  std::vector<std::string> argv = {server_binary(),
                                   "--data-dir", data_dir_.string(),
                                   "--listen", "127.0.0.1:0",
                                   "--tls-cert", certs + "/server.crt",
                                   "--tls-key", certs + "/server.key",
                                   "--scrypt-log2n", "10"};
  // Quiet by default; a test that studies the log asks for its own level.
  if (std::find(extra_args_.begin(), extra_args_.end(), "--log-level") == extra_args_.end()) {
    argv.insert(argv.end(), {"--log-level", "warn"});
  }
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  const auto child = spawn(argv, log_file_.string());
  pid_ = child.pid;
  pidfd_ = child.pidfd;
  stdout_ = child.out;
  const std::string prefix = "tmc-server listening on port ";
  const auto line = read_line(stdout_, Clock::now() + timeout);
  if (!line || line->rfind(prefix, 0) != 0) {
    auto status = wait_exit(5s);  // a child that closed stdout is exiting
    if (!status) status = kill();
    throw std::runtime_error("tmc-server did not report its port (" +
                             (line ? "printed '" + *line + "'" : std::string("no line")) +
                             "; " + status->describe() + ")");
  }
  port_ = static_cast<std::uint16_t>(std::stoi(line->substr(prefix.size())));
  return port_;
}

std::optional<ExitStatus> ServerProcess::kill() {
  if (!running()) return std::nullopt;
  ::kill(pid_, SIGKILL);
  const auto status = wait_child(pid_, pidfd_, Clock::time_point::max());
  release();
  return status;
}

ExitStatus ServerProcess::stop(std::chrono::milliseconds timeout) {
  if (!running()) throw std::logic_error("tmc-server is not running");
  ::kill(pid_, SIGTERM);
  if (auto status = wait_exit(timeout)) return *status;
  kill();
  throw std::runtime_error("tmc-server did not exit within " + std::to_string(timeout.count()) +
                           " ms of SIGTERM");
}

std::optional<ExitStatus> ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (!running()) return std::nullopt;
  auto status = wait_child(pid_, pidfd_, Clock::now() + timeout);
  if (status) release();
  return status;
}

void ServerProcess::release() {
  ::close(pidfd_);
  ::close(stdout_);
  pid_ = -1;
  pidfd_ = -1;
  stdout_ = -1;
  port_ = 0;
}

client::ClientOptions ServerProcess::client_options() const {
  client::ClientOptions options;
  options.host = "localhost";
  options.port = std::to_string(port_);
  options.ca_file = testing::dev_ca_file();
  options.connect_timeout = 5s;
  return options;
}

}  // namespace tmc::e2e
