// The BlobStore defaults for stores that lay out no segment memory of their own.
#include "blob/blob_store.hpp"

#include <memory>
#include <string>

#include "common/buffer_pool.hpp"

namespace tmc::blob {
namespace {

// Kept for reuse: fresh buffers of a MiB or more would be new pages every time (BufferPool).
constexpr std::size_t kept_segment_buffers = 16;

}  // namespace

SegmentBuffer BlobStore::segment_buffer(std::size_t size) {
  static const auto pool = std::make_shared<BufferPool>(kept_segment_buffers);
  // The pool outlives every buffer: each holds a reference to it.
  auto owner = std::shared_ptr<std::string>(new std::string(pool->take()),
                                            [pool = pool](std::string* memory) {
                                              pool->give(std::move(*memory));
                                              delete memory;
                                            });
  owner->resize(size);
  char* data = owner->data();
  return SegmentBuffer(std::move(owner), data, size);
}

}  // namespace tmc::blob
