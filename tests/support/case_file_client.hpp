// Case-file requests for tests: frames, partial chunk uploads and in-memory downloads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "crypto/hash.hpp"
#include "telemed/v1/frames.pb.h"
#include "tmc/client/blocking_client.hpp"
#include "tmc/client/case_files.hpp"

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

// The client library's request builders, with the tests' defaults.
inline v1::ClientFrame begin_frame(const std::string& name, std::uint64_t size,
                                   const std::string& sha256,
                                   const std::string& consultation_id = {}) {
  v1::BeginUploadRequest begin;
  begin.set_file_name(name);
  begin.set_media_type("application/octet-stream");
  begin.set_size(size);
  begin.set_sha256(sha256);
  begin.set_consultation_id(consultation_id);
  return client::requests::begin_upload(std::move(begin));
}

inline v1::ClientFrame resume_frame(const std::string& upload_id) {
  return client::requests::resume_upload(upload_id);
}

inline v1::ClientFrame chunk_frame(const std::string& upload_id, std::uint64_t offset,
                                   std::string data) {
  return client::requests::upload_chunk(upload_id, offset, std::move(data));
}

inline v1::ClientFrame finish_frame(const std::string& upload_id) {
  return client::requests::finish_upload(upload_id);
}

inline v1::ClientFrame read_frame(const std::string& file_id, std::uint64_t offset,
                                  std::uint32_t length = 0) {
  return client::requests::read_file(file_id, offset, length);
}

inline v1::ClientFrame share_frame(const std::string& file_id, const std::string& consultation_id) {
  return client::requests::share_case_file(file_id, consultation_id);
}

inline v1::ClientFrame list_frame(const std::string& consultation_id) {
  return client::requests::list_case_files(consultation_id);
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

// The client library's upload of data (windowed); the refusal or the CaseFile as a Response.
inline v1::Response upload(Client& client, const std::string& name, const std::string& data,
                           const std::string& consultation_id = {}) {
  std::istringstream in(data);
  auto uploaded = client::CaseFileClient(client).upload(
      in, {.file_name = name, .media_type = "application/octet-stream",
           .consultation_id = consultation_id});
  v1::Response response;
  *response.mutable_status() = std::move(uploaded.status);
  if (response.status().code() == v1::OK) *response.mutable_case_file() = std::move(uploaded.value);
  return response;
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
