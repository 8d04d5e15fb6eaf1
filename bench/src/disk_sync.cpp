// disk-sync: the latency of one small durable append on the data directory's disk, the floor
// under every durably stored chat message (each batch's commit ends in such an fdatasync).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "scenarios.hpp"

namespace tmc::bench {
namespace {

constexpr std::size_t kAppendBytes = 8 * 1024;         // a small group commit's WAL frames
constexpr std::size_t kFileBytes = 16 * 1024 * 1024;  // rewritten in a ring, like a reused WAL

class File {
 public:
  explicit File(const std::string& path)
      : path_(path), fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) {
    if (fd_ < 0) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
  }
  ~File() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  void write_at(const std::vector<char>& bytes, off_t offset) {
    if (::pwrite(fd_, bytes.data(), bytes.size(), offset) != static_cast<ssize_t>(bytes.size())) {
      throw std::runtime_error(std::string("pwrite: ") + std::strerror(errno));
    }
  }
  void sync() {
    if (::fdatasync(fd_) != 0) {
      throw std::runtime_error(std::string("fdatasync: ") + std::strerror(errno));
    }
  }

 private:
  std::string path_;
  int fd_;
};

}  // namespace

ScenarioResult run_disk_sync(const Options& options) {
  ScenarioResult result;
  result.scenario = "disk-sync";
  result.label = options.label;
  result.settings = {{"dir", options.directory},
                     {"append_bytes", std::to_string(kAppendBytes)},
                     {"file_bytes", std::to_string(kFileBytes)}};
  if (options.directory.empty()) {
    result.error = "disk-sync needs --dir";
    return result;
  }
  try {
    File file(options.directory + "/tmc-bench-sync.bin");
    // The whole ring is written and synced first, so the measured appends change no file size
    // or block allocation, only data (as in a reused write-ahead log).
    std::vector<char> block(kAppendBytes, '\x5a');
    for (std::size_t offset = 0; offset < kFileBytes; offset += kAppendBytes) {
      file.write_at(block, static_cast<off_t>(offset));
    }
    file.sync();

    PhaseResult phase;
    phase.name = "append + fdatasync";
    phase.mode = "disk";
    using Clock = std::chrono::steady_clock;
    std::size_t offset = 0;
    const auto run = [&](double seconds, bool measured) {
      const auto start = Clock::now();
      const auto end = start + std::chrono::duration<double>(seconds);
      for (auto now = start; now < end;) {
        ++block[0];  // different bytes each time
        file.write_at(block, static_cast<off_t>(offset));
        file.sync();
        offset = (offset + kAppendBytes) % kFileBytes;
        const auto done = Clock::now();
        if (measured) {
          phase.latency.record(static_cast<std::uint64_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(done - now).count()));
          ++phase.operations;
        }
        now = done;
      }
      if (measured) phase.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    };
    run(options.warmup_seconds, false);
    run(options.duration_seconds, true);
    result.phases.push_back(std::move(phase));
  } catch (const std::exception& error) {
    result.error = error.what();
  }
  return result;
}

}  // namespace tmc::bench
