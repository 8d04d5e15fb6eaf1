// Differential fuzzing of api::decode_client_frame: every input must be accepted or refused
// exactly as ClientFrame::ParseFromArray does, with the same contents when accepted. The
// threshold is 1 byte, so every upload chunk goes through the decoder's own reading.
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "api/frame_decoder.hpp"
#include "common/buffer_pool.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "frame decoder fuzzer: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static tmc::BufferPool pool(4);
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);  // one line per string field with invalid UTF-8
    return true;
  }();
  (void)quiet;
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  telemed::v1::ClientFrame expected;
  const bool expected_ok = expected.ParseFromArray(data, static_cast<int>(size));
  telemed::v1::ClientFrame decoded;
  const bool decoded_ok = tmc::api::decode_client_frame(payload, decoded, pool, 1);
  if (decoded_ok != expected_ok) fail("accepted or refused differently from protobuf");
  if (expected_ok && decoded.SerializeAsString() != expected.SerializeAsString()) {
    fail("decoded differently from protobuf");
  }
  tmc::api::recycle_client_frame(decoded, pool);
  return 0;
}
