// Decoding of client frames, with upload chunks copied into reused memory.
#include "api/frame_decoder.hpp"

#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <google/protobuf/io/coded_stream.h>

namespace tmc::api {
namespace {

using google::protobuf::io::CodedInputStream;

enum WireType : std::uint32_t { varint = 0, length_delimited = 2 };

constexpr std::uint32_t tag_of(std::uint32_t field, WireType type) { return field << 3 | type; }

// Field numbers, from frames.proto and case_file.proto.
constexpr std::uint32_t kRequestIdTag = tag_of(1, varint);
constexpr std::uint32_t kUploadChunkTag = tag_of(21, length_delimited);
constexpr std::uint32_t kUploadIdTag = tag_of(1, length_delimited);
constexpr std::uint32_t kOffsetTag = tag_of(2, varint);
constexpr std::uint32_t kDataTag = tag_of(3, length_delimited);

// The longest length prefix the generic parser accepts.
constexpr int kMaxLengthBytes = 5;

// Reads a length prefix and views that many bytes of `in`'s input (which is `whole`).
std::optional<std::string_view> read_length_delimited(CodedInputStream& in,
                                                      std::string_view whole) {
  const int before = in.CurrentPosition();
  std::uint64_t length = 0;
  if (!in.ReadVarint64(&length) || in.CurrentPosition() - before > kMaxLengthBytes) {
    return std::nullopt;
  }
  const auto start = static_cast<std::size_t>(in.CurrentPosition());
  if (length > whole.size() - start || !in.Skip(static_cast<int>(length))) return std::nullopt;
  return whole.substr(start, length);
}

struct ChunkFrame {
  std::uint64_t request_id = 0;
  std::string_view upload_id;
  std::uint64_t offset = 0;
  std::string_view data;
};

bool is_ascii(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// The fields of an UploadChunkRequest, each at most once and nothing else.
bool read_chunk_fields(std::string_view body, ChunkFrame& out) {
  CodedInputStream in(reinterpret_cast<const std::uint8_t*>(body.data()),
                      static_cast<int>(body.size()));
  bool upload_id = false;
  bool offset = false;
  bool data = false;
  while (static_cast<std::size_t>(in.CurrentPosition()) < body.size()) {
    const std::uint32_t tag = in.ReadTag();
    if (tag == kUploadIdTag && !std::exchange(upload_id, true)) {
      const auto value = read_length_delimited(in, body);
      // The generic parser checks the UTF-8 of a string field; ASCII needs no check.
      if (!value || !is_ascii(*value)) return false;
      out.upload_id = *value;
    } else if (tag == kOffsetTag && !std::exchange(offset, true)) {
      if (!in.ReadVarint64(&out.offset)) return false;
    } else if (tag == kDataTag && !std::exchange(data, true)) {
      const auto value = read_length_delimited(in, body);
      if (!value) return false;
      out.data = *value;
    } else {
      return false;  // also a malformed tag, which ReadTag reads as 0
    }
  }
  return true;
}

// A frame holding a request id and an upload chunk, each at most once, and nothing else: the
// common form, read as views into payload. Anything else is left to the generic parser, which
// then decides (field order, repeated fields, unknown fields, malformed input).
std::optional<ChunkFrame> read_chunk_frame(std::string_view payload) {
  CodedInputStream in(reinterpret_cast<const std::uint8_t*>(payload.data()),
                      static_cast<int>(payload.size()));
  ChunkFrame out;
  bool request_id = false;
  bool chunk = false;
  while (static_cast<std::size_t>(in.CurrentPosition()) < payload.size()) {
    const std::uint32_t tag = in.ReadTag();
    if (tag == kRequestIdTag && !std::exchange(request_id, true)) {
      if (!in.ReadVarint64(&out.request_id)) return std::nullopt;
    } else if (tag == kUploadChunkTag && !std::exchange(chunk, true)) {
      const auto body = read_length_delimited(in, payload);
      if (!body || !read_chunk_fields(*body, out)) return std::nullopt;
    } else {
      return std::nullopt;  // also a malformed tag, which ReadTag reads as 0
    }
  }
  if (!chunk) return std::nullopt;
  return out;
}

}  // namespace

bool decode_client_frame(std::string_view payload, v1::ClientFrame& frame,
                         BufferPool& chunk_buffers, std::size_t pooled_from) {
  if (payload.size() >= pooled_from && payload.size() <= static_cast<std::size_t>(INT_MAX)) {
    if (const auto chunk = read_chunk_frame(payload); chunk && chunk->data.size() >= pooled_from) {
      frame.set_request_id(chunk->request_id);
      auto* request = frame.mutable_upload_chunk();
      request->set_upload_id(std::string(chunk->upload_id));
      request->set_offset(chunk->offset);
      std::string* data = request->mutable_data();
      *data = chunk_buffers.take();
      data->assign(chunk->data);
      return true;
    }
  }
  return frame.ParseFromArray(payload.data(), static_cast<int>(payload.size()));
}

void recycle_client_frame(v1::ClientFrame& frame, BufferPool& chunk_buffers) {
  if (!frame.has_upload_chunk()) return;
  std::string* data = frame.mutable_upload_chunk()->mutable_data();
  if (data->capacity() >= kPooledChunkBytes) chunk_buffers.give(std::move(*data));
}

}  // namespace tmc::api
