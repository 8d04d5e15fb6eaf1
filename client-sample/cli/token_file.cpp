// The session token file: written owner-only (0600) by login, read by later commands.
#include "cli/token_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string_view>

namespace tmc::cli {
namespace {

using boost::system::error_code;

error_code last_error() { return {errno, boost::system::system_category()}; }

// Closes a file descriptor on scope exit.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// mkdir -p with mode 0700 for the directories it creates (existing ones are left alone).
boost::system::result<void> make_parent_directories(const std::filesystem::path& file) {
  std::filesystem::path partial;
  const std::filesystem::path parent = file.parent_path();
  for (const auto& part : parent) {
    partial /= part;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) return last_error();
  }
  return {};
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view space = " \t\r\n";
  const auto first = text.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

}  // namespace

boost::system::result<void> write_token(const std::string& path, const std::string& token) {
  if (auto made = make_parent_directories(path); !made) return made.error();
  FileDescriptor fd(
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return last_error();
  // O_CREAT's mode only applies to new files; an old file may have been readable by others.
  if (::fchmod(fd.get(), 0600) != 0) return last_error();
  const std::string content = token + "\n";
  std::string_view remaining = content;
  while (!remaining.empty()) {
    const ssize_t written = ::write(fd.get(), remaining.data(), remaining.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    remaining.remove_prefix(static_cast<std::size_t>(written));
  }
  if (::fsync(fd.get()) != 0) return last_error();
  return {};
}

boost::system::result<std::string> read_token(const std::string& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return last_error();
  std::string content;
  char buffer[512];
  for (;;) {
    const ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    if (got == 0) break;
    content.append(buffer, static_cast<std::size_t>(got));
  }
  const std::string_view token = trim(content);
  if (token.empty()) return error_code(EINVAL, boost::system::system_category());
  return std::string(token);
}

boost::system::result<void> remove_token(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return last_error();
  return {};
}

}  // namespace tmc::cli
