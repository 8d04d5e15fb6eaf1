// decode_client_frame: the same answer as ClientFrame::ParseFromArray for every input, with the
// data of upload chunks in reused memory.
#include "api/frame_decoder.hpp"

#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tmc::api {
namespace {

using namespace std::string_literals;

std::string chunk_frame(std::uint64_t request_id, const std::string& upload_id,
                        std::uint64_t offset, const std::string& data) {
  v1::ClientFrame frame;
  frame.set_request_id(request_id);
  auto* chunk = frame.mutable_upload_chunk();
  chunk->set_upload_id(upload_id);
  chunk->set_offset(offset);
  chunk->set_data(data);
  return frame.SerializeAsString();
}

// Wire-format pieces, for frames the serializer would not write.
std::string varint(std::uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}
std::string tag(std::uint32_t field, std::uint32_t wire_type) {
  return varint(field << 3 | wire_type);
}
std::string bytes_field(std::uint32_t field, const std::string& value) {
  return tag(field, 2) + varint(value.size()) + value;
}
std::string varint_field(std::uint32_t field, std::uint64_t value) {
  return tag(field, 0) + varint(value);
}
std::string chunk_body(const std::string& upload_id, std::uint64_t offset,
                       const std::string& data) {
  return bytes_field(1, upload_id) + varint_field(2, offset) + bytes_field(3, data);
}

// Decodes payload both ways (pooled_from 1: every chunk takes the new path) and expects the same.
void expect_same_as_protobuf(const std::string& payload, BufferPool& pool) {
  const google::protobuf::LogSilencer quiet;  // protobuf logs each string that is not UTF-8
  v1::ClientFrame expected;
  const bool expected_ok = expected.ParseFromString(payload);
  v1::ClientFrame decoded;
  const bool decoded_ok = decode_client_frame(payload, decoded, pool, 1);
  ASSERT_EQ(decoded_ok, expected_ok);
  if (expected_ok) {
    ASSERT_EQ(decoded.SerializeAsString(), expected.SerializeAsString());
  }
  recycle_client_frame(decoded, pool);
}

TEST(FrameDecoder, AnUploadChunkDecodesIntoMemoryThatTheNextChunkReuses) {
  BufferPool pool(4);
  const std::string data(256 * 1024, 'x');
  v1::ClientFrame first;
  ASSERT_TRUE(decode_client_frame(chunk_frame(7, "up_1", 0, data), first, pool));
  EXPECT_EQ(first.request_id(), 7u);
  EXPECT_EQ(first.upload_chunk().upload_id(), "up_1");
  EXPECT_EQ(first.upload_chunk().offset(), 0u);
  EXPECT_EQ(first.upload_chunk().data(), data);
  const char* memory = first.upload_chunk().data().data();
  recycle_client_frame(first, pool);

  const std::string next(256 * 1024, 'y');
  v1::ClientFrame second;
  ASSERT_TRUE(decode_client_frame(chunk_frame(8, "up_1", data.size(), next), second, pool));
  EXPECT_EQ(second.upload_chunk().data(), next);
  EXPECT_EQ(second.upload_chunk().offset(), data.size());
  EXPECT_EQ(second.upload_chunk().data().data(), memory);
}

TEST(FrameDecoder, SmallChunksAndOtherRequestsAreDecodedAsBefore) {
  BufferPool pool(4);
  v1::ClientFrame small;
  ASSERT_TRUE(decode_client_frame(chunk_frame(1, "up_1", 0, "tail"), small, pool));
  EXPECT_EQ(small.upload_chunk().data(), "tail");
  recycle_client_frame(small, pool);
  EXPECT_TRUE(pool.take().empty());
  EXPECT_EQ(pool.take().capacity(), std::string().capacity());  // nothing was kept

  v1::ClientFrame post;
  post.set_request_id(3);
  post.mutable_post_message()->set_consultation_id("c_1");
  post.mutable_post_message()->mutable_body()->set_text(std::string(100 * 1024, 't'));
  v1::ClientFrame decoded;
  ASSERT_TRUE(decode_client_frame(post.SerializeAsString(), decoded, pool));
  EXPECT_EQ(decoded.SerializeAsString(), post.SerializeAsString());
}

TEST(FrameDecoder, UnusualEncodingsGetProtobufsAnswer) {
  BufferPool pool(4);
  const std::string data(1000, 'd');
  const std::string body = chunk_body("up_1", 4096, data);
  const std::vector<std::string> payloads = {
      // The usual order, and the fields reversed.
      varint_field(1, 9) + bytes_field(21, body),
      bytes_field(21, bytes_field(3, data) + varint_field(2, 4096) + bytes_field(1, "up_1")) +
          varint_field(1, 9),
      // Repeated fields: the last scalar wins, a repeated message merges.
      varint_field(1, 9) + varint_field(1, 10) + bytes_field(21, body),
      varint_field(1, 9) + bytes_field(21, body) + bytes_field(21, varint_field(2, 1)),
      bytes_field(21, body + bytes_field(3, "later")),
      // Missing fields, an empty chunk, no chunk at all.
      bytes_field(21, bytes_field(3, data)),
      bytes_field(21, ""),
      varint_field(1, 9),
      "",
      // Unknown fields, at the top and in the chunk.
      varint_field(1, 9) + bytes_field(21, body) + varint_field(999, 1),
      varint_field(1, 9) + bytes_field(21, body + bytes_field(15, "x")),
      // Wrong wire types for known field numbers.
      varint_field(21, 5) + varint_field(1, 9),
      bytes_field(1, "9") + bytes_field(21, body),
      bytes_field(21, varint_field(3, 5)),
      // A upload id in UTF-8 beyond ASCII, and one that is not UTF-8.
      bytes_field(21, chunk_body("up_\xc3\xa9", 0, data)),
      bytes_field(21, chunk_body("up_\xff", 0, data)),
      // Overlong (but valid) varints, and a length prefix longer than protobuf reads.
      tag(1, 0) + "\x89\x80\x80\x00"s + bytes_field(21, body),
      tag(21, 2) + "\x80\x80\x80\x80\x80\x00"s + varint_field(1, 9),
      tag(21, 2) + varint(body.size() + 1) + body,  // longer than the input
      // A tag cut short at the end, after the chunk and inside it.
      varint_field(1, 9) + bytes_field(21, body) + "\xc8",
      bytes_field(21, body + "\xc8"),
      bytes_field(21, bytes_field(1, "up_1") + tag(3, 2) + "\x85\x80\x80\x80\x00"s + "12345"),
      bytes_field(21, bytes_field(1, "up_1") + tag(3, 2) + "\x85\x80\x80\x80\x80\x00"s + "12345"),
      // Another request in the same frame (a oneof: the last one wins).
      bytes_field(21, body) + bytes_field(12, ""),
  };
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    SCOPED_TRACE("payload " + std::to_string(i));
    expect_same_as_protobuf(payloads[i], pool);
  }
}

// Every truncation and every single-byte change of a chunk frame: accepted or refused as
// protobuf does, with the same contents.
TEST(FrameDecoder, EveryTruncationAndByteChangeOfAChunkFrameGetsProtobufsAnswer) {
  BufferPool pool(4);
  const std::string payload = chunk_frame(300, "up_42", 1 << 20, std::string(40, 'z'));
  for (std::size_t size = 0; size <= payload.size(); ++size) {
    SCOPED_TRACE("truncated to " + std::to_string(size));
    expect_same_as_protobuf(payload.substr(0, size), pool);
  }
  for (std::size_t at = 0; at < payload.size(); ++at) {
    for (const int value : {0x00, 0x01, 0x02, 0x08, 0x0a, 0x12, 0x1a, 0x7f, 0x80, 0xaa, 0xff}) {
      std::string changed = payload;
      changed[at] = static_cast<char>(value);
      SCOPED_TRACE("byte " + std::to_string(at) + " set to " + std::to_string(value));
      expect_same_as_protobuf(changed, pool);
    }
  }
}

}  // namespace
}  // namespace tmc::api
