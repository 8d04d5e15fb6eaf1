// Hand-written protobuf wire encoding for the load generator's hot path (see wire.hpp).
#include "wire.hpp"

#include <cstring>
#include <stdexcept>

namespace tmc::bench {
namespace {

// Field numbers of proto/telemed/v1 (frames.proto, messaging.proto, case_file.proto).
constexpr std::uint32_t kClientFrameRequestId = 1;
constexpr std::uint32_t kClientFramePostMessage = 16;
constexpr std::uint32_t kClientFrameUploadChunk = 21;
constexpr std::uint32_t kPostConsultationId = 1;
constexpr std::uint32_t kPostClientMsgId = 2;
constexpr std::uint32_t kPostBody = 3;
constexpr std::uint32_t kBodyText = 1;
constexpr std::uint32_t kChunkUploadId = 1;
constexpr std::uint32_t kChunkOffset = 2;
constexpr std::uint32_t kChunkData = 3;
constexpr std::uint32_t kServerFrameResponse = 1;
constexpr std::uint32_t kServerFrameEvent = 2;
constexpr std::uint32_t kResponseRequestId = 1;
constexpr std::uint32_t kResponseStatus = 2;
constexpr std::uint32_t kStatusCode = 1;
constexpr std::uint32_t kEventMessagePosted = 3;
constexpr std::uint32_t kMessagePostedEntry = 1;
constexpr std::uint32_t kEntrySenderId = 3;
constexpr std::uint32_t kEntryBody = 5;

constexpr std::uint32_t kVarint = 0;
constexpr std::uint32_t kFixed64 = 1;
constexpr std::uint32_t kLength = 2;
constexpr std::uint32_t kFixed32 = 5;

void put_varint(std::vector<std::uint8_t>& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(value));
}

void put_tag(std::vector<std::uint8_t>& out, std::uint32_t field, std::uint32_t wire_type) {
  put_varint(out, (std::uint64_t{field} << 3) | wire_type);
}

void put_bytes(std::vector<std::uint8_t>& out, std::uint32_t field, std::string_view bytes) {
  put_tag(out, field, kLength);
  put_varint(out, bytes.size());
  out.insert(out.end(), bytes.begin(), bytes.end());
}

void put_message(std::vector<std::uint8_t>& out, std::uint32_t field,
                 const std::vector<std::uint8_t>& message) {
  put_tag(out, field, kLength);
  put_varint(out, message.size());
  out.insert(out.end(), message.begin(), message.end());
}

void write_varint8(std::uint8_t* out, std::uint64_t value) {
  if (value < kRequestIdBase || value >= (std::uint64_t{1} << 56)) {
    throw std::logic_error("request id outside the fixed-width range");
  }
  for (int i = 0; i < 7; ++i) {
    out[i] = static_cast<std::uint8_t>(value | 0x80);
    value >>= 7;
  }
  out[7] = static_cast<std::uint8_t>(value);
}

// A forward-only reader over one protobuf message.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> data) : data_(data) {}

  bool done() const { return pos_ >= data_.size(); }
  bool failed() const { return failed_; }

  bool varint(std::uint64_t& value) {
    value = 0;
    for (unsigned shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
      const auto byte = data_[pos_++];
      value |= std::uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return true;
    }
    failed_ = true;
    return false;
  }

  // Next field: its number and wire type; length-delimited payloads land in `bytes`, varints
  // in `value`; fixed fields are skipped.
  bool next(std::uint32_t& field, std::uint32_t& wire_type, std::uint64_t& value,
            std::span<const std::uint8_t>& bytes) {
    std::uint64_t key = 0;
    if (!varint(key)) return false;
    field = static_cast<std::uint32_t>(key >> 3);
    wire_type = static_cast<std::uint32_t>(key & 7);
    switch (wire_type) {
      case kVarint: return varint(value);
      case kFixed64: return skip(8);
      case kFixed32: return skip(4);
      case kLength: {
        std::uint64_t length = 0;
        if (!varint(length) || length > data_.size() - pos_) return fail();
        bytes = data_.subspan(pos_, static_cast<std::size_t>(length));
        pos_ += static_cast<std::size_t>(length);
        return true;
      }
      default: return fail();
    }
  }

 private:
  bool skip(std::size_t n) {
    if (n > data_.size() - pos_) return fail();
    pos_ += n;
    return true;
  }
  bool fail() {
    failed_ = true;
    return false;
  }

  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

std::string_view as_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Finds the first length-delimited field `wanted` of a message.
bool find_message(std::span<const std::uint8_t> message, std::uint32_t wanted,
                  std::span<const std::uint8_t>& found) {
  Reader reader(message);
  std::uint32_t field = 0, wire_type = 0;
  std::uint64_t value = 0;
  std::span<const std::uint8_t> bytes;
  while (!reader.done() && reader.next(field, wire_type, value, bytes)) {
    if (field == wanted && wire_type == kLength) {
      found = bytes;
      return true;
    }
  }
  return false;
}

}  // namespace

void write_hex16(std::uint8_t* out, std::uint64_t value) {
  static constexpr char digits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    out[i] = static_cast<std::uint8_t>(digits[value & 0xf]);
    value >>= 4;
  }
}

bool read_hex16(std::string_view text, std::uint64_t& value) {
  if (text.size() < kHexField) return false;
  value = 0;
  for (std::size_t i = 0; i < kHexField; ++i) {
    const char c = text[i];
    unsigned digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<unsigned>(c - 'a' + 10);
    } else {
      return false;
    }
    value = (value << 4) | digit;
  }
  return true;
}

PostMessageTemplate::PostMessageTemplate(std::string_view consultation_id,
                                         std::size_t body_bytes) {
  const std::string marker_time(kHexField, 'T');
  const std::string marker_id(kHexField, 'M');
  const std::string marker_text_id(kHexField, 'N');
  std::string text = "t=" + marker_time + " m=" + marker_text_id + " ";
  if (text.size() < body_bytes) text.append(body_bytes - text.size(), 'x');

  std::vector<std::uint8_t> body;
  put_bytes(body, kBodyText, text);
  std::vector<std::uint8_t> post;
  put_bytes(post, kPostConsultationId, consultation_id);
  put_bytes(post, kPostClientMsgId, marker_id);
  put_message(post, kPostBody, body);

  put_tag(bytes_, kClientFrameRequestId, kVarint);
  request_id_at_ = bytes_.size();
  put_varint(bytes_, kRequestIdBase);
  put_message(bytes_, kClientFramePostMessage, post);

  const std::string_view all(reinterpret_cast<const char*>(bytes_.data()), bytes_.size());
  message_id_at_ = all.find(marker_id);
  timestamp_at_ = all.find(marker_time);
  text_message_id_at_ = all.find(marker_text_id);
  if (message_id_at_ == std::string_view::npos || timestamp_at_ == std::string_view::npos ||
      text_message_id_at_ == std::string_view::npos) {
    throw std::logic_error("post_message template markers not found");
  }
}

std::span<const std::uint8_t> PostMessageTemplate::encode(std::uint64_t request_id,
                                                          std::uint64_t message_id,
                                                          std::uint64_t send_time_ns) {
  write_varint8(bytes_.data() + request_id_at_, request_id);
  write_hex16(bytes_.data() + message_id_at_, message_id);
  write_hex16(bytes_.data() + timestamp_at_, send_time_ns);
  write_hex16(bytes_.data() + text_message_id_at_, message_id);
  return bytes_;
}

std::vector<std::uint8_t> encode_upload_chunk_header(std::uint64_t request_id,
                                                     std::string_view upload_id,
                                                     std::uint64_t offset,
                                                     std::size_t data_bytes) {
  std::vector<std::uint8_t> chunk_head;
  put_bytes(chunk_head, kChunkUploadId, upload_id);
  put_tag(chunk_head, kChunkOffset, kVarint);
  put_varint(chunk_head, offset);
  put_tag(chunk_head, kChunkData, kLength);
  put_varint(chunk_head, data_bytes);

  std::vector<std::uint8_t> out;
  put_tag(out, kClientFrameRequestId, kVarint);
  put_varint(out, request_id);
  put_tag(out, kClientFrameUploadChunk, kLength);
  put_varint(out, chunk_head.size() + data_bytes);
  out.insert(out.end(), chunk_head.begin(), chunk_head.end());
  return out;
}

ServerFrameView scan_server_frame(std::span<const std::uint8_t> frame) {
  ServerFrameView view;
  Reader reader(frame);
  std::uint32_t field = 0, wire_type = 0;
  std::uint64_t value = 0;
  std::span<const std::uint8_t> bytes;
  while (!reader.done() && reader.next(field, wire_type, value, bytes)) {
    if (wire_type != kLength) continue;
    if (field == kServerFrameResponse) {
      view.kind = ServerFrameView::Kind::response;
      Reader response(bytes);
      std::span<const std::uint8_t> inner;
      while (!response.done() && response.next(field, wire_type, value, inner)) {
        if (field == kResponseRequestId && wire_type == kVarint) view.request_id = value;
        if (field == kResponseStatus && wire_type == kLength) {
          Reader status(inner);
          std::span<const std::uint8_t> ignored;
          while (!status.done() && status.next(field, wire_type, value, ignored)) {
            if (field == kStatusCode && wire_type == kVarint) {
              view.status_code = static_cast<std::uint32_t>(value);
            }
          }
        }
      }
      if (response.failed()) view.kind = ServerFrameView::Kind::malformed;
      return view;
    }
    if (field == kServerFrameEvent) {
      view.kind = ServerFrameView::Kind::event;
      Reader event(bytes);
      std::span<const std::uint8_t> inner;
      if (!event.next(field, wire_type, value, inner)) return {};
      view.event_field = field;
      std::span<const std::uint8_t> entry, body, text;
      if (field == kEventMessagePosted && find_message(inner, kMessagePostedEntry, entry)) {
        std::span<const std::uint8_t> sender;
        if (find_message(entry, kEntrySenderId, sender)) view.sender_id = as_text(sender);
        if (find_message(entry, kEntryBody, body) && find_message(body, kBodyText, text)) {
          view.text = as_text(text);
        }
      }
      return view;
    }
  }
  return view;
}

bool timestamp_in_text(std::string_view text, std::uint64_t& send_time_ns) {
  if (text.size() < 2 + kHexField || text[0] != 't' || text[1] != '=') return false;
  return read_hex16(text.substr(2), send_time_ns);
}

bool message_id_in_text(std::string_view text, std::uint64_t& message_id) {
  constexpr std::size_t at = 2 + kHexField + 1;  // after "t=<stamp> "
  if (text.size() < at + 2 + kHexField || text.substr(at, 2) != "m=") return false;
  return read_hex16(text.substr(at + 2), message_id);
}

}  // namespace tmc::bench
