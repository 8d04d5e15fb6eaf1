// Fuzzes the directory blob store's record files: segments of every size (plain records, and
// the page-aligned records of 64 KiB and more), torn appends, tails cut inside a record,
// flipped bytes, a second store on the same directory, truncation and reopening.
//
// What must hold: nothing crashes and nothing throws but BlobStoreError. Until a stored byte is
// flipped or a record header forged, every segment the store accepted reads back exactly as
// written (a torn append or a cut may only lose segments at the end), a segment the store
// accepts next reads back exactly, and stored_bytes is never more than the file. After that,
// put_segment and reads may fail, but only with BlobStoreError or a missing or different
// segment.
//
// Input: operations, each one byte (see the switch in LLVMFuzzerTestOneInput) followed by its
// operands, read by fuzz::ByteReader.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "blob/blob_store.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace tmc;
namespace fs = std::filesystem;

constexpr std::size_t kMaxOperations = 32;
constexpr const char* kBlob = "b1";

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "blob_records fuzzer: %s\n", what.c_str());
  std::abort();
}

// A segment size from the input: small, up to 64 KiB, around the aligned-record threshold, or
// larger than it.
std::size_t segment_size(fuzz::ByteReader& input) {
  switch (input.u8() % 4) {
    case 0:
      return input.u8();
    case 1:
      return input.u16();
    case 2:
      return 65'536 - 20 - 64 + input.u8() % 128;
    default:
      return 65'536 + input.u16() * 2u;
  }
}

std::string segment_bytes(std::size_t size, std::uint8_t seed) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131 + seed) >> 3);
  return bytes;
}

struct Case {
  fuzz::ScratchDir dir;
  fs::path root = dir.path() / "blobs";
  fs::path file = root / (std::string(kBlob) + ".blob");
  std::unique_ptr<blob::BlobStore> store = blob::open_directory_blob_store(root);
  std::vector<std::string> stored;  // what the segments hold, as far as known
  bool damaged = false;             // a byte inside the file was flipped

  std::uint64_t file_size() const {
    std::error_code error;
    const auto size = fs::file_size(file, error);
    return error ? 0 : size;
  }

  void put(std::string bytes) {
    const auto index = static_cast<std::uint32_t>(stored.size());
    try {
      store->put_segment(kBlob, index, bytes);
    } catch (const blob::BlobStoreError&) {
      if (!damaged) fail("put_segment failed on an undamaged file");
      return;
    }
    const auto back = store->get_segment(kBlob, index);
    if (!back || *back != bytes) fail("a segment just stored does not read back");
    if (store->stored_bytes(kBlob) != file_size()) fail("stored_bytes is not the file size");
    stored.push_back(std::move(bytes));
  }

  // Bytes that may hold a forged record header count as damage: a header of a later record in
  // the torn tail makes put_segment refuse to cut it, as after a flipped byte.
  void append_raw(std::string_view bytes) {
    std::string joined(3, '\0');  // the file's last bytes: a header may start before bytes
    const std::uint64_t size = file_size();
    std::ifstream in(file, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(size - std::min<std::uint64_t>(size, 3)));
    in.read(joined.data(), static_cast<std::streamsize>(std::min<std::uint64_t>(size, 3)));
    joined += bytes;
    if (joined.find("TMC") != std::string::npos) damaged = true;
    std::ofstream out(file, std::ios::binary | std::ios::app);
    out << bytes;
  }

  void cut(std::uint64_t bytes) {
    if (!fs::exists(file)) return;
    const std::uint64_t size = file_size();
    fs::resize_file(file, size - std::min(size, bytes));
  }

  void flip(std::uint32_t at, std::uint8_t mask) {
    const std::uint64_t size = file_size();
    if (size == 0) return;
    std::fstream io(file, std::ios::binary | std::ios::in | std::ios::out);
    io.seekg(static_cast<std::streamoff>(at % size));
    char byte = 0;
    io.read(&byte, 1);
    io.seekp(static_cast<std::streamoff>(at % size));
    byte = static_cast<char>(byte ^ (mask | 1));
    io.write(&byte, 1);
    damaged = true;
  }

  // What the store shows now, against what it accepted; then the model follows the store.
  // Segments may only be missing at the end after a cut or a truncation (may_lose).
  void check(bool may_lose) {
    const std::uint32_t count = store->segment_count(kBlob);
    if (!damaged && !may_lose && count < stored.size()) {
      fail("stored segments lost: " + std::to_string(count) + " of " +
           std::to_string(stored.size()));
    }
    if (store->stored_bytes(kBlob) > file_size()) fail("stored_bytes beyond the file");
    if (store->get_segment(kBlob, count)) fail("a segment past the count");
    std::vector<std::string> now;
    for (std::uint32_t index = 0; index < count; ++index) {
      auto segment = store->get_segment(kBlob, index);
      if (!segment) fail("a counted segment is missing");
      if (!damaged && index < stored.size() && *segment != stored[index]) {
        fail("segment " + std::to_string(index) + " changed without damage");
      }
      now.push_back(std::move(*segment));
    }
    stored = std::move(now);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::ByteReader input(data, size);
  Case test;
  try {
    for (std::size_t operation = 0; operation < kMaxOperations && !input.empty(); ++operation) {
      const int kind = input.u8() % 7;
      switch (kind) {
        case 0: {  // store the next segment
          const std::size_t bytes = segment_size(input);
          const std::uint8_t seed = input.u8();
          test.put(segment_bytes(bytes, seed));
          break;
        }
        case 1:  // bytes appended behind the store's back (a torn append, or forged records)
          test.append_raw(input.short_bytes());
          break;
        case 2: {  // a run of one byte appended (a torn write's zeros, a large torn record)
          const std::size_t length = input.u16() + std::size_t{1};
          test.append_raw(std::string(length, static_cast<char>(input.u8())));
          break;
        }
        case 3:  // the file cut short, as by a crash during an append
          test.cut(input.u16() % 8192 + std::uint64_t{1});
          break;
        case 4: {
          const std::uint32_t at = input.u32();
          test.flip(at, input.u8());
          break;
        }
        case 5:  // another store on the directory, or this one reopened
          if ((input.u8() & 1) != 0) {
            const auto other = blob::open_directory_blob_store(test.root);
            const auto index = other->segment_count(kBlob);
            test.check(false);
            if (index != test.stored.size()) fail("two stores count differently");
          } else {
            test.store = blob::open_directory_blob_store(test.root);
          }
          break;
        default: {
          const std::uint32_t keep = input.u8();
          test.store->truncate(kBlob, keep);
          test.check(true);
          if (test.stored.size() > keep) fail("truncate kept too much");
          break;
        }
      }
      test.check(kind == 3 || kind == 6);
    }
  } catch (const blob::BlobStoreError&) {
    if (!test.damaged) fail("BlobStoreError on an undamaged file");
  }
  return 0;
}
