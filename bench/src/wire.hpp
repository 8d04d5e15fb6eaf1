// telemed.v1 frames on the hot path: pre-encoded ClientFrame templates patched in place, and a
// ServerFrame scanner that reads the few fields the load generator needs without allocating.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tmc::bench {

// Request ids live in [2^49, 2^56): their varint is always 8 bytes, so they can be rewritten in
// a pre-encoded frame without moving the bytes after them.
constexpr std::uint64_t kRequestIdBase = std::uint64_t{1} << 49;

// A fixed-width decimal-free field of 16 lowercase hex digits (timestamps, message ids).
constexpr std::size_t kHexField = 16;

void write_hex16(std::uint8_t* out, std::uint64_t value);
// Parses 16 hex digits; false when the text is too short or not hex.
bool read_hex16(std::string_view text, std::uint64_t& value);

// ClientFrame{request_id, post_message{consultation_id, client_msg_id, body{text}}} whose
// request id, client_msg_id and send timestamp are rewritten per message. The text reads
// "t=<stamp> m=<message id> " (16 hex digits each; the recipients see only the text) padded
// with 'x' to body_bytes.
class PostMessageTemplate {
 public:
  PostMessageTemplate(std::string_view consultation_id, std::size_t body_bytes);

  // Rewrites the varying fields; returns the encoded frame (valid until the next call).
  std::span<const std::uint8_t> encode(std::uint64_t request_id, std::uint64_t message_id,
                                       std::uint64_t send_time_ns);

 private:
  std::vector<std::uint8_t> bytes_;
  std::size_t request_id_at_ = 0;
  std::size_t message_id_at_ = 0;
  std::size_t timestamp_at_ = 0;
  std::size_t text_message_id_at_ = 0;
};

// ClientFrame{request_id, upload_chunk{upload_id, offset, data}} with the data appended by the
// caller: encode_header writes everything up to and including the data length prefix.
std::vector<std::uint8_t> encode_upload_chunk_header(std::uint64_t request_id,
                                                     std::string_view upload_id,
                                                     std::uint64_t offset,
                                                     std::size_t data_bytes);

// What the load generator needs from a ServerFrame. Views point into the scanned buffer.
struct ServerFrameView {
  enum class Kind { malformed, response, event };
  Kind kind = Kind::malformed;
  // Response
  std::uint64_t request_id = 0;
  std::uint32_t status_code = 0;  // Status.code (0 = OK, also when status is absent)
  // Event: the Event oneof field number (3 = message_posted) and, for message_posted, the
  // entry's sender id and text body.
  std::uint32_t event_field = 0;
  std::string_view sender_id;
  std::string_view text;
};

// Scans one ServerFrame. Unknown fields are skipped; never throws, never allocates.
ServerFrameView scan_server_frame(std::span<const std::uint8_t> frame);

// Send time encoded by PostMessageTemplate in a message text ("t=<16 hex>..."); false if absent.
bool timestamp_in_text(std::string_view text, std::uint64_t& send_time_ns);

// Message id encoded by PostMessageTemplate in a message text (after the stamp); false if absent.
bool message_id_in_text(std::string_view text, std::uint64_t& message_id);

}  // namespace tmc::bench
