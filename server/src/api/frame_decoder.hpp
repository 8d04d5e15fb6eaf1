// Decoding of client frames, with upload chunks copied into reused memory.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/buffer_pool.hpp"
#include "telemed/v1/frames.pb.h"

namespace tmc::api {

namespace v1 = ::telemed::v1;

// Upload chunks at least this long take their memory from the pool.
inline constexpr std::size_t kPooledChunkBytes = 64 * 1024;

// Decodes payload into frame (a fresh one) exactly as ClientFrame::ParseFromArray does: the same
// inputs are accepted, with the same result. The data of an upload chunk of pooled_from bytes
// or more is copied into memory taken from chunk_buffers, which is already mapped, instead of a
// fresh allocation, whose page faults cost more than the copy itself.
bool decode_client_frame(std::string_view payload, v1::ClientFrame& frame,
                         BufferPool& chunk_buffers,
                         std::size_t pooled_from = kPooledChunkBytes);

// Gives the memory of an upload chunk's data back to chunk_buffers. Call once nothing reads the
// data any more (the chunk is sealed or refused).
void recycle_client_frame(v1::ClientFrame& frame, BufferPool& chunk_buffers);

}  // namespace tmc::api
