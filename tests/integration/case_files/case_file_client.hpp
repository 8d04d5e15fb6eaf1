// Case-file requests for tests: frames, windowed chunk uploads and whole-file downloads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "crypto/hash.hpp"
#include "telemed/v1/frames.pb.h"
#include "tmc/client/blocking_client.hpp"

namespace tmc::testing::files {

namespace v1 = ::telemed::v1;
using Client = client::BlockingClient;

// Deterministic pseudo-random bytes (fast enough for tens of MiB).
inline std::string random_data(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::string data(size, '\0');
  for (std::size_t i = 0; i < size; i += 8) {
    const auto word = generator();
    for (std::size_t k = 0; k < 8 && i + k < size; ++k) {
      data[i + k] = static_cast<char>((word >> (8 * k)) & 0xffu);
    }
  }
  return data;
}

inline v1::ClientFrame begin_frame(const std::string& name, std::uint64_t size,
                                   const std::string& sha256,
                                   const std::string& consultation_id = {}) {
  v1::ClientFrame frame;
  auto* begin = frame.mutable_begin_upload();
  begin->set_file_name(name);
  begin->set_media_type("application/octet-stream");
  begin->set_size(size);
  begin->set_sha256(sha256);
  begin->set_consultation_id(consultation_id);
  return frame;
}

inline v1::ClientFrame resume_frame(const std::string& upload_id) {
  v1::ClientFrame frame;
  frame.mutable_begin_upload()->set_upload_id(upload_id);
  return frame;
}

inline v1::ClientFrame chunk_frame(const std::string& upload_id, std::uint64_t offset,
                                   std::string data) {
  v1::ClientFrame frame;
  auto* chunk = frame.mutable_upload_chunk();
  chunk->set_upload_id(upload_id);
  chunk->set_offset(offset);
  chunk->set_data(std::move(data));
  return frame;
}

inline v1::ClientFrame finish_frame(const std::string& upload_id) {
  v1::ClientFrame frame;
  frame.mutable_finish_upload()->set_upload_id(upload_id);
  return frame;
}

inline v1::ClientFrame read_frame(const std::string& file_id, std::uint64_t offset,
                                  std::uint32_t length = 0) {
  v1::ClientFrame frame;
  auto* read = frame.mutable_read_file();
  read->set_file_id(file_id);
  read->set_offset(offset);
  read->set_length(length);
  return frame;
}

inline v1::ClientFrame share_frame(const std::string& file_id, const std::string& consultation_id) {
  v1::ClientFrame frame;
  frame.mutable_share_case_file()->set_file_id(file_id);
  frame.mutable_share_case_file()->set_consultation_id(consultation_id);
  return frame;
}

inline v1::ClientFrame list_frame(const std::string& consultation_id) {
  v1::ClientFrame frame;
  frame.mutable_list_case_files()->set_consultation_id(consultation_id);
  return frame;
}

// Sends data[from, to) in chunk_size pieces, window chunks in flight at a time. Returns the
// committed offset of the last answered chunk; stops at (and returns) the first failure status.
struct SendResult {
  std::uint64_t committed = 0;
  v1::Status status;  // OK unless a chunk was refused
};
inline SendResult send_chunks(Client& client, const std::string& upload_id, const std::string& data,
                              std::uint64_t from, std::uint64_t to, std::uint32_t chunk_size,
                              std::size_t window = 8) {
  SendResult result;
  result.committed = from;
  result.status.set_code(v1::OK);
  std::uint64_t offset = from;
  while (offset < to) {
    std::vector<v1::ClientFrame> frames;
    for (std::size_t i = 0; i < window && offset < to; ++i) {
      const auto length = std::min<std::uint64_t>(chunk_size, to - offset);
      frames.push_back(chunk_frame(upload_id, offset, data.substr(offset, length)));
      offset += length;
    }
    for (const auto& response : client.call_pipelined(std::move(frames))) {
      if (response.status().code() != v1::OK) {
        result.status = response.status();
        return result;
      }
      result.committed = response.upload_chunk().committed_offset();
    }
  }
  return result;
}

// begin_upload + every chunk + finish_upload; returns the finish Response.
inline v1::Response upload(Client& client, const std::string& name, const std::string& data,
                           const std::string& consultation_id = {}) {
  auto begun = client.call(begin_frame(name, data.size(), crypto::sha256(data), consultation_id));
  if (begun.status().code() != v1::OK) return begun;
  const auto& session = begun.upload_session();
  auto sent = send_chunks(client, session.upload_id(), data, 0, data.size(), session.chunk_size());
  if (sent.status.code() != v1::OK) {
    v1::Response failed;
    *failed.mutable_status() = sent.status;
    return failed;
  }
  return client.call(finish_frame(session.upload_id()));
}

// Reads the whole file with consecutive read_file calls (window requests in flight).
inline std::string download(Client& client, const std::string& file_id, std::uint64_t size,
                            std::uint32_t chunk = 256u << 10, std::size_t window = 8) {
  std::string out;
  out.reserve(size);
  std::uint64_t offset = 0;
  while (offset < size) {
    std::vector<v1::ClientFrame> frames;
    for (std::size_t i = 0; i < window && offset + i * chunk < size; ++i) {
      frames.push_back(read_frame(file_id, offset + i * chunk, chunk));
    }
    for (const auto& response : client.call_pipelined(std::move(frames))) {
      if (response.status().code() != v1::OK) return out;  // caller compares
      out += response.file_chunk().data();
    }
    offset = out.size();
  }
  return out;
}

}  // namespace tmc::testing::files
