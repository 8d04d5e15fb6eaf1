// Reading a password from standard input, without echo when it is a terminal.
#include "cli/password.hpp"

#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <stdexcept>

namespace tmc::cli {
namespace {

// Turns terminal echo off for its lifetime.
class EchoOff {
 public:
  explicit EchoOff(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &saved_) != 0) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    active_ = ::tcsetattr(fd_, TCSAFLUSH, &quiet) == 0;
  }
  ~EchoOff() {
    if (active_) ::tcsetattr(fd_, TCSAFLUSH, &saved_);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

}  // namespace

std::string read_password(std::istream& in, std::ostream& prompt_stream,
                          const std::string& prompt) {
  std::string password;
  const bool terminal = &in == &std::cin && ::isatty(STDIN_FILENO) == 1;
  if (terminal) {
    prompt_stream << prompt << std::flush;
    EchoOff echo_off(STDIN_FILENO);
    std::getline(in, password);
    prompt_stream << '\n';
  } else {
    std::getline(in, password);
  }
  if (!in && password.empty()) throw std::runtime_error("no password on standard input");
  if (!password.empty() && password.back() == '\r') password.pop_back();
  return password;
}

}  // namespace tmc::cli
