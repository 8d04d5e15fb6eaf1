// Key-encryption key custody: rotation (rewrap every data key), retirement and usage listing.
#include "keys.hpp"

#include <map>
#include <stdexcept>

#include "crypto/keyring.hpp"

namespace tmc::admin {
namespace {

// Rows per write transaction while rewrapping: bounded batches, each one durable.
constexpr std::size_t rewrap_batch = 256;

std::vector<store::WrappedKeyRow> wrapped_keys_of(store::Store& store) {
  std::vector<store::WrappedKeyRow> rows;
  store.read([&](store::Tx& tx) { rows = tx.list_wrapped_keys(); });
  return rows;
}

void write_batch(store::Store& store, const std::vector<store::WrappedKeyRow>& batch) {
  if (batch.empty()) return;
  store.write([&batch](store::Tx& tx) {
    for (const auto& row : batch) tx.set_wrapped_key(row);
    return true;
  });
}

}  // namespace

std::vector<KeyUsage> key_usage(const std::filesystem::path& key_file, store::Store& store) {
  const auto ring = crypto::KeyRing::load(key_file);
  std::map<std::string, KeyUsage> usage;
  for (const auto& id : ring.key_ids()) {
    usage[id] = KeyUsage{id, id == ring.active_key_id(), true, 0};
  }
  for (const auto& row : wrapped_keys_of(store)) {
    auto id = crypto::KeyRing::key_id_of(row.wrapped_key);
    usage.try_emplace(id, KeyUsage{id, false, false, 0}).first->second.wrapped_keys++;
  }
  std::vector<KeyUsage> out;
  for (auto& [id, entry] : usage) out.push_back(std::move(entry));
  return out;
}

RewrapSummary rewrap_all(const std::filesystem::path& key_file, store::Store& store) {
  const auto ring = crypto::KeyRing::load(key_file);
  RewrapSummary summary;
  std::size_t failed = 0;
  std::vector<store::WrappedKeyRow> batch;
  for (auto& row : wrapped_keys_of(store)) {
    if (crypto::KeyRing::key_id_of(row.wrapped_key) == ring.active_key_id()) {
      summary.already_current++;
      continue;
    }
    auto rewrapped = ring.rewrap(row.wrapped_key);
    if (!rewrapped) {
      failed++;
      continue;
    }
    row.wrapped_key = std::move(*rewrapped);
    batch.push_back(std::move(row));
    if (batch.size() == rewrap_batch) {
      write_batch(store, batch);
      summary.rewrapped += batch.size();
      batch.clear();
    }
  }
  write_batch(store, batch);
  summary.rewrapped += batch.size();
  if (failed != 0) {
    throw std::runtime_error(std::to_string(failed) +
                             " wrapped data keys cannot be unwrapped with " + key_file.string() +
                             " (unknown key id or damaged); the others were rewrapped");
  }
  return summary;
}

RotationSummary rotate_keys(const std::filesystem::path& key_file, store::Store& store) {
  auto ring = crypto::KeyRing::load(key_file);
  RotationSummary summary;
  summary.previous_key_id = ring.active_key_id();
  summary.new_key_id = ring.add_key_and_activate();
  ring.save(key_file);  // durable before any data key is wrapped under it
  summary.rewrap = rewrap_all(key_file, store);
  return summary;
}

void retire_key(const std::filesystem::path& key_file, store::Store& store,
                const std::string& key_id) {
  auto ring = crypto::KeyRing::load(key_file);
  if (!ring.has_key(key_id)) {
    throw std::runtime_error("key file " + key_file.string() + " has no key '" + key_id + "'");
  }
  if (ring.active_key_id() == key_id) {
    throw std::runtime_error("key '" + key_id + "' is the active key; rotate first");
  }
  std::size_t users = 0;
  for (const auto& row : wrapped_keys_of(store)) {
    if (crypto::KeyRing::key_id_of(row.wrapped_key) == key_id) users++;
  }
  if (users != 0) {
    throw std::runtime_error(std::to_string(users) + " wrapped data keys still use key '" +
                             key_id + "'; run 'tmc-admin keys rewrap' (or rotate) first");
  }
  if (auto status = ring.retire(key_id); !status) {
    throw std::runtime_error(status.error().message);
  }
  ring.save(key_file);
}

}  // namespace tmc::admin
