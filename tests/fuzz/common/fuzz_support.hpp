// Shared by the fuzz targets: a scratch directory for their stores and a reader of the input.
#pragma once

#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tmc::fuzz {

// A fresh directory, removed with its contents on destruction: in $TMPDIR when set (./tmc fuzz
// points it at its work directory, so a crashed run leaves nothing behind), else on tmpfs
// (/dev/shm) when there is one, since the stores fsync every commit.
class ScratchDir {
 public:
  ScratchDir() {
    const auto base = base_directory();
    auto pattern = (base / "tmc-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  static std::filesystem::path base_directory() {
    if (const char* tmpdir = std::getenv("TMPDIR"); tmpdir != nullptr && *tmpdir != '\0') {
      return tmpdir;
    }
    if (std::filesystem::is_directory("/dev/shm")) return "/dev/shm";
    return std::filesystem::temp_directory_path();
  }

  std::filesystem::path path_;
};

// Reads the fuzz input front to back; past the end every number is 0 and every byte string
// empty, so any input decodes to something. Little-endian, so seeds are easy to write by hand.
class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size)
      : data_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return data_.empty(); }

  std::uint8_t u8() {
    if (data_.empty()) return 0;
    const auto value = static_cast<std::uint8_t>(data_.front());
    data_.remove_prefix(1);
    return value;
  }
  std::uint16_t u16() {
    const std::uint16_t low = u8();
    return static_cast<std::uint16_t>(low | (u8() << 8));
  }
  std::uint32_t u32() {
    const std::uint32_t low = u16();
    return low | (std::uint32_t{u16()} << 16);
  }
  // Up to size bytes (fewer at the end of the input).
  std::string_view bytes(std::size_t size) {
    const auto taken = data_.substr(0, size);
    data_.remove_prefix(taken.size());
    return taken;
  }
  // A byte string preceded by its length (one byte).
  std::string_view short_bytes() { return bytes(u8()); }

 private:
  std::string_view data_;
};

}  // namespace tmc::fuzz
