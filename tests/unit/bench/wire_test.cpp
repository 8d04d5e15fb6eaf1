// Hand-encoded telemed.v1 frames of the load generator, checked against the generated classes.
#include "wire.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "telemed/v1/frames.pb.h"

namespace tmc::bench {
namespace {

namespace pb = telemed::v1;

std::span<const std::uint8_t> bytes_of(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

TEST(PostMessageTemplate, EncodesWhatTheGeneratedParserReads) {
  PostMessageTemplate post("con_abc", 256);
  for (const std::uint64_t n : {std::uint64_t{0}, std::uint64_t{12345}}) {
    const auto frame = post.encode(kRequestIdBase + n, 0xabc0 + n, 0x1122334455667788 + n);
    pb::ClientFrame parsed;
    ASSERT_TRUE(parsed.ParseFromArray(frame.data(), static_cast<int>(frame.size())));
    EXPECT_EQ(parsed.request_id(), kRequestIdBase + n);
    ASSERT_TRUE(parsed.has_post_message());
    EXPECT_EQ(parsed.post_message().consultation_id(), "con_abc");
    std::uint64_t message_id = 0;
    ASSERT_TRUE(read_hex16(parsed.post_message().client_msg_id(), message_id));
    EXPECT_EQ(message_id, 0xabc0 + n);
    const auto& text = parsed.post_message().body().text();
    EXPECT_EQ(text.size(), 256u);
    std::uint64_t stamp = 0;
    ASSERT_TRUE(timestamp_in_text(text, stamp));
    EXPECT_EQ(stamp, 0x1122334455667788 + n);
    std::uint64_t id_in_text = 0;
    ASSERT_TRUE(message_id_in_text(text, id_in_text));  // what recipients see
    EXPECT_EQ(id_in_text, 0xabc0 + n);
  }
}

TEST(PostMessageTemplate, RefusesRequestIdsOfAnotherWidth) {
  PostMessageTemplate post("con_abc", 64);
  EXPECT_THROW(post.encode(1, 1, 1), std::logic_error);
  EXPECT_THROW(post.encode(std::uint64_t{1} << 56, 1, 1), std::logic_error);
}

TEST(UploadChunkHeader, HeaderPlusDataIsOneUploadChunkRequest) {
  const std::string data(1000, 'd');
  const auto head = encode_upload_chunk_header(77, "upl_1", 1 << 20, data.size());
  std::string frame(head.begin(), head.end());
  frame += data;
  pb::ClientFrame parsed;
  ASSERT_TRUE(parsed.ParseFromString(frame));
  EXPECT_EQ(parsed.request_id(), 77u);
  EXPECT_EQ(parsed.upload_chunk().upload_id(), "upl_1");
  EXPECT_EQ(parsed.upload_chunk().offset(), 1u << 20);
  EXPECT_EQ(parsed.upload_chunk().data(), data);
}

TEST(ScanServerFrame, ReadsResponseIdAndStatus) {
  pb::ServerFrame frame;
  frame.mutable_response()->set_request_id(kRequestIdBase + 9);
  frame.mutable_response()->mutable_status()->set_code(pb::NOT_FOUND);
  frame.mutable_response()->mutable_status()->set_message("no such consultation");
  const auto encoded = frame.SerializeAsString();
  const auto view = scan_server_frame(bytes_of(encoded));
  EXPECT_EQ(view.kind, ServerFrameView::Kind::response);
  EXPECT_EQ(view.request_id, kRequestIdBase + 9);
  EXPECT_EQ(view.status_code, static_cast<std::uint32_t>(pb::NOT_FOUND));
}

TEST(ScanServerFrame, OkResponseWithoutStatusIsCodeZero) {
  pb::ServerFrame frame;
  frame.mutable_response()->set_request_id(3);
  frame.mutable_response()->mutable_post_message()->set_seq(4);
  const auto encoded = frame.SerializeAsString();
  const auto view = scan_server_frame(bytes_of(encoded));
  EXPECT_EQ(view.kind, ServerFrameView::Kind::response);
  EXPECT_EQ(view.status_code, 0u);
}

TEST(ScanServerFrame, ReadsMessagePostedSenderAndText) {
  pb::ServerFrame frame;
  auto* entry = frame.mutable_event()->mutable_message_posted()->mutable_entry();
  entry->set_consultation_id("con_1");
  entry->set_seq(12);
  entry->set_sender_id("usr_7");
  entry->mutable_posted_at()->set_seconds(1700000000);
  entry->mutable_body()->set_text("t=00000000000000ff rest");
  const auto encoded = frame.SerializeAsString();
  const auto view = scan_server_frame(bytes_of(encoded));
  EXPECT_EQ(view.kind, ServerFrameView::Kind::event);
  EXPECT_EQ(view.event_field, 3u);
  EXPECT_EQ(view.sender_id, "usr_7");
  std::uint64_t stamp = 0;
  ASSERT_TRUE(timestamp_in_text(view.text, stamp));
  EXPECT_EQ(stamp, 0xffu);
}

TEST(ScanServerFrame, OtherEventsCarryTheirFieldNumberOnly) {
  pb::ServerFrame frame;
  frame.mutable_event()->mutable_consultation_updated()->mutable_consultation()->set_id("con_2");
  const auto encoded = frame.SerializeAsString();
  const auto view = scan_server_frame(bytes_of(encoded));
  EXPECT_EQ(view.kind, ServerFrameView::Kind::event);
  EXPECT_EQ(view.event_field, 2u);
  EXPECT_TRUE(view.text.empty());
}

TEST(ScanServerFrame, TruncatedOrGarbageFramesAreMalformed) {
  pb::ServerFrame frame;
  frame.mutable_response()->set_request_id(kRequestIdBase);
  frame.mutable_response()->mutable_status()->set_message(std::string(100, 'm'));
  const auto encoded = frame.SerializeAsString();
  for (std::size_t cut = 1; cut < encoded.size(); cut += 7) {
    const auto view = scan_server_frame(bytes_of(encoded.substr(0, cut)));
    EXPECT_EQ(view.kind, ServerFrameView::Kind::malformed) << cut;
  }
  EXPECT_EQ(scan_server_frame(bytes_of(std::string("\xff\xff\xff", 3))).kind,
            ServerFrameView::Kind::malformed);
}

TEST(TimestampInText, RejectsTextsWithoutAStamp) {
  std::uint64_t stamp = 0;
  EXPECT_FALSE(timestamp_in_text("hello", stamp));
  EXPECT_FALSE(timestamp_in_text("t=12345", stamp));
  EXPECT_FALSE(timestamp_in_text("t=zzzzzzzzzzzzzzzz", stamp));
}

TEST(MessageIdInText, RejectsTextsWithoutAnId) {
  std::uint64_t id = 0;
  EXPECT_FALSE(message_id_in_text("t=00000000000000ff rest", id));
  EXPECT_FALSE(message_id_in_text("t=00000000000000ff m=123", id));
  EXPECT_FALSE(message_id_in_text("t=00000000000000ff x=0000000000000001", id));
  EXPECT_TRUE(message_id_in_text("t=00000000000000ff m=0000000000000001 ", id));
  EXPECT_EQ(id, 1u);
}

}  // namespace
}  // namespace tmc::bench
