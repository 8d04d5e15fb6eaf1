// Signed tree heads of the audit log: what is signed, and the text form kept off the host.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "audit/signing_key.hpp"
#include "common/clock.hpp"
#include "store/model.hpp"

namespace tmc::audit {

using SignedTreeHead = store::AuditHeadRow;

// The signed bytes: "tmc-audit-tree-head-v1" 0x00, tree_size (8 bytes big-endian), signed_at
// (microseconds since the Unix epoch, 8 bytes big-endian), root hash (32 bytes). Fixed layout,
// so no two different heads sign the same bytes (the role of RFC 9162's TreeHeadDataV2).
std::string tree_head_message(std::int64_t tree_size, TimePoint signed_at,
                              std::string_view root_hash);

SignedTreeHead sign_tree_head(const SigningKey& key, std::int64_t tree_size,
                              std::string root_hash, TimePoint signed_at);

// True if head.signature is head.public_key's signature of the head's fields.
bool signature_valid(const SignedTreeHead& head);

// Text form printed by `tmc-admin audit head` and read back by `audit verify --head FILE`:
//   tmc-audit-head 1
//   tree_size 42
//   root_hash <64 hex>
//   signed_at 2025-03-01T08:00:00.000000Z
//   public_key <64 hex>
//   signature <128 hex>
std::string format_tree_head(const SignedTreeHead& head);
// nullopt when the text is not in that form (lines in that order; trailing blank lines ok).
std::optional<SignedTreeHead> parse_tree_head(std::string_view text);

}  // namespace tmc::audit
