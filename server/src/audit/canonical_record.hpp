// Canonical encoding of an audit record: the exact bytes that become a Merkle leaf.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "domain/audit_hook.hpp"

namespace tmc::audit {

// A record is one line of JSON (UTF-8, no trailing newline) with the keys always present and
// always in this order, no whitespace, strings escaped minimally (", \ and control characters;
// \b \f \n \r \t or \u00XX), integers in decimal:
//
//   {"v":1,"index":7,"prev":"<64 hex>","time":"2025-03-01T08:00:00.000000Z","actor":"usr_..",
//    "org":"bachu","action":"consultation.read","outcome":"denied","objects":["con_.."],
//    "patient_ref":"P-1","remote":"10.0.0.7:51234"}
//
// "index" is the record's leaf index (from 0) and "prev" the leaf hash of record index-1 (64
// zeros for the first), so each record names its position and predecessor: a moved, removed or
// inserted record breaks the chain at the place it happened. Leaf hash = SHA-256(0x00 || line).
// The same line is what `tmc-admin audit export` prints.
std::string encode_record(std::int64_t index, std::string_view previous_leaf_hash,
                          TimePoint time, const domain::AuditEvent& event);

// The fields of a record as encode_record wrote them (strings unescaped; time as written).
struct DecodedRecord {
  std::int64_t index = 0;
  std::string previous_leaf_hash_hex;
  std::string time;
  std::string actor;
  std::string organization;
  std::string action;
  std::string outcome;
  std::vector<std::string> objects;
  std::string patient_reference;
  std::string remote;
};

// Reads a line in the form above (keys in that order, nothing else); nullopt when it is not one.
std::optional<DecodedRecord> decode_record(std::string_view line);

// The fixed beginning of the record at index: {"v":1,"index":N,"prev":"<hex>",
std::string record_header(std::int64_t index, std::string_view previous_leaf_hash);

// The leaf hash "prev" names for the first record: 32 zero bytes.
std::string zero_hash();

const char* outcome_name(domain::AuditOutcome outcome);

// RFC 3339 UTC with microseconds: 2025-03-01T08:00:00.000000Z.
std::string format_utc(TimePoint time);
// Accepts YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS[.ffffff]][Z]; always UTC. nullopt when malformed.
std::optional<TimePoint> parse_utc(std::string_view text);

// Appends text as a JSON string literal (with quotes) using the escaping described above.
void append_json_string(std::string& out, std::string_view text);

}  // namespace tmc::audit
