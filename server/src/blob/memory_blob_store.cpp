// BlobStore in process memory (tests of services that store blobs).
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "blob/blob_store.hpp"

namespace tmc::blob {
namespace {

class MemoryBlobStore final : public BlobStore {
 public:
  void put_segment(const std::string& blob_id, std::uint32_t index,
                   std::string_view sealed) override {
    check(blob_id);
    if (sealed.size() > max_stored_segment_size) {
      throw BlobStoreError("segment too large for blob " + blob_id);
    }
    const std::lock_guard lock(mutex_);
    std::vector<std::string>& segments = blobs_[blob_id];
    if (index != segments.size()) {
      throw BlobStoreError("segment " + std::to_string(index) + " out of order for blob " +
                           blob_id);
    }
    segments.emplace_back(sealed);
  }

  std::optional<std::string> get_segment(const std::string& blob_id, std::uint32_t index) override {
    check(blob_id);
    const std::lock_guard lock(mutex_);
    const auto found = blobs_.find(blob_id);
    if (found == blobs_.end() || index >= found->second.size()) return std::nullopt;
    return found->second[index];
  }

  std::uint32_t segment_count(const std::string& blob_id) override {
    check(blob_id);
    const std::lock_guard lock(mutex_);
    const auto found = blobs_.find(blob_id);
    return found == blobs_.end() ? 0 : static_cast<std::uint32_t>(found->second.size());
  }

  void truncate(const std::string& blob_id, std::uint32_t count) override {
    check(blob_id);
    const std::lock_guard lock(mutex_);
    const auto found = blobs_.find(blob_id);
    if (found != blobs_.end() && count < found->second.size()) found->second.resize(count);
  }

  void remove(const std::string& blob_id) override {
    check(blob_id);
    const std::lock_guard lock(mutex_);
    blobs_.erase(blob_id);
  }

  std::uint64_t stored_bytes(const std::string& blob_id) override {
    check(blob_id);
    const std::lock_guard lock(mutex_);
    const auto found = blobs_.find(blob_id);
    std::uint64_t total = 0;
    if (found != blobs_.end()) {
      for (const std::string& segment : found->second) total += segment.size();
    }
    return total;
  }

 private:
  static void check(const std::string& blob_id) {
    if (!valid_blob_id(blob_id)) throw std::invalid_argument("invalid blob id");
  }

  std::mutex mutex_;
  std::map<std::string, std::vector<std::string>, std::less<>> blobs_;
};

}  // namespace

std::unique_ptr<BlobStore> make_memory_blob_store() { return std::make_unique<MemoryBlobStore>(); }

}  // namespace tmc::blob
