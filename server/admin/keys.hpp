// Key-encryption key custody: rotation (rewrap every data key), retirement and usage listing.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace tmc::admin {

// Rotation and retirement rewrite the key file and the wrapped keys the database holds, while
// a running server keeps its own copy of the key ring in memory: run them with tmc-server
// stopped (docs/operations.md). Every function throws std::runtime_error with one line naming
// the problem; the key file is always replaced atomically (mode 0600).

struct KeyUsage {
  std::string key_id;
  bool active = false;
  bool in_key_file = true;    // false: data names a key the key file does not hold
  std::size_t wrapped_keys = 0;  // data keys wrapped under it
};

// Every key of the key file plus every key id named by stored wrapped keys, sorted by id.
std::vector<KeyUsage> key_usage(const std::filesystem::path& key_file, store::Store& store);

struct RewrapSummary {
  std::size_t rewrapped = 0;        // moved to the active key
  std::size_t already_current = 0;  // were under the active key already
};

// Rewraps every data key not under the key file's active key. Idempotent, so an interrupted
// rotation is finished by running it again. Throws when a wrapped key cannot be unwrapped
// (keys that could be are rewrapped first).
RewrapSummary rewrap_all(const std::filesystem::path& key_file, store::Store& store);

struct RotationSummary {
  std::string previous_key_id;
  std::string new_key_id;
  RewrapSummary rewrap;
};

// Adds a new random key, makes it active and saves the key file (before any data depends on
// it), then rewraps every data key under it. The previous key stays in the file until retired.
RotationSummary rotate_keys(const std::filesystem::path& key_file, store::Store& store);

// Removes key_id from the key file. Refuses the active key and a key that wrapped data keys
// still name (rotate first).
void retire_key(const std::filesystem::path& key_file, store::Store& store,
                const std::string& key_id);

}  // namespace tmc::admin
