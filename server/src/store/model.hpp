// Plain records the store keeps: no protobuf, no SQL. Clinical text is held sealed (ciphertext).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"

namespace tmc::store {

enum class Role { unspecified = 0, clinician = 1, specialist = 2, coordinator = 3, admin = 4 };
enum class OrganizationKind { unspecified = 0, county_hospital = 1, partner_hospital = 2 };

struct Organization {
  std::string id;
  std::string name;
  OrganizationKind kind = OrganizationKind::unspecified;
  std::string region;
  std::string time_zone;  // IANA name, e.g. "Asia/Urumqi"
};

struct Pairing {
  std::string county_organization_id;
  std::string partner_organization_id;
};

struct User {
  std::string id;
  std::string username;
  std::string display_name;
  Role role = Role::unspecified;
  std::string organization_id;
  std::vector<std::string> specialties;  // sorted, unique
  bool disabled = false;
  TimePoint created_at{};
};

// Filter for directory listings; empty fields match everything.
struct UserFilter {
  std::optional<Role> role;
  std::string organization_id;
  std::string specialty;
  bool include_disabled = false;
};

// A login session. Only the SHA-256 of the bearer token is ever stored.
struct SessionRecord {
  std::string token_hash;  // 32 raw bytes
  std::string user_id;
  TimePoint created_at{};
  TimePoint expires_at{};
  bool revoked = false;
};

// A valid session found by the sweep of live sessions, with when it expires.
struct SessionExpiry {
  std::string token_hash;
  TimePoint expires_at{};
};

// ---- consultations -------------------------------------------------------------------------

enum class ConsultationState {
  unspecified = 0,
  requested = 1,
  offered = 2,
  accepted = 3,
  in_session = 4,
  reported = 5,
  closed = 6,
  declined = 7,
  cancelled = 8,
  expired = 9,
};
enum class Urgency { unspecified = 0, routine = 1, urgent = 2, emergency = 3 };
enum class Sex { unspecified = 0, female = 1, male = 2, other = 3 };

struct Consultation {
  std::string id;
  ConsultationState state = ConsultationState::unspecified;
  Urgency urgency = Urgency::unspecified;
  std::string specialty;
  std::string patient_reference;  // pseudonymous by contract; kept in clear for audit search
  std::int32_t patient_age_years = 0;
  Sex patient_sex = Sex::unspecified;
  std::string requesting_organization_id;
  std::string requester_id;
  std::string assigned_specialist_id;   // empty until accepted/assigned
  std::string target_organization_id;   // routing narrowing as requested (may be empty)
  std::string preferred_specialist_id;  // routing narrowing as requested (may be empty)
  std::string wrapped_key;       // per-consultation data key, wrapped by the key-encryption key
  // The sealed texts, up to 64 KiB each, are stored apart from the rest and read only when
  // asked for (SealedTexts): posting a message needs the record but not them.
  std::string sealed_question;   // AES-256-GCM ciphertext
  std::string sealed_summary;    // AES-256-GCM ciphertext
  std::string sealed_report;     // AES-256-GCM ciphertext; empty = no report yet
  std::int64_t last_seq = 0;
  std::int32_t candidate_count = 0;
  std::optional<TimePoint> respond_by;  // current routing deadline, if any
  bool escalated = false;
  TimePoint created_at{};
  TimePoint updated_at{};
};

// Whether a consultation is read with its sealed texts; skipped, they are left empty.
enum class SealedTexts { read, skip };

enum class ParticipantKind { requester = 1, specialist = 2, invited = 3, coordinator = 4 };

struct Participant {
  std::string user_id;
  ParticipantKind kind = ParticipantKind::invited;
  std::int64_t read_seq = 0;  // acknowledged position
};

// A specialist the consultation is (or was) offered to.
struct Candidate {
  std::string user_id;
  bool declined = false;
};

// Which consultations a caller sees in a listing. A consultation matches when user_id is a
// participant or an open candidate, or when its requesting or assigned organisation is
// coordinator_organization_id (if set).
struct ConsultationQuery {
  std::string user_id;
  std::string coordinator_organization_id;
  std::optional<ConsultationState> state;
  std::string after_id;  // paging: ids sort by creation order
  int limit = 50;
};

struct LogRecord {
  std::string consultation_id;
  std::int64_t seq = 0;
  std::string sender_id;
  std::string client_msg_id;
  TimePoint posted_at{};
  std::string sealed_body;  // AES-256-GCM ciphertext of the encoded message body
};

// ---- auth ----
// A user's TOTP second factor (RFC 6238). The shared secret is stored only wrapped under the
// key ring (crypto::KeyRing::wrap), never in clear.
struct TotpEnrollment {
  std::string user_id;
  std::string wrapped_secret;
  std::int64_t last_used_step = -1;  // highest accepted time step; only later ones are accepted
  TimePoint enrolled_at{};
};
// (end of auth)

// ---- case files ----------------------------------------------------------------------------

// A finished, integrity-checked case file. The contents live in the blob store under blob_id,
// encrypted under a per-file data key (wrapped_key) with the blob format header (header).
struct CaseFile {
  std::string id;
  std::string file_name;  // a display label, never used as a path
  std::string media_type;
  std::uint64_t size = 0;
  std::string sha256;  // 32 raw bytes
  std::string uploaded_by;
  std::string organization_id;  // the uploader's; counts against its quota
  TimePoint created_at{};
  std::string upload_id;    // the upload it came from (answers retried finish_upload)
  std::string blob_id;      // blob store name of the encrypted contents
  std::string wrapped_key;  // per-file data key, wrapped by the key-encryption key
  std::string header;       // serialised blob::FileHeader
};

// An unfinished upload. committed_offset is what the blob store durably holds; bytes beyond it
// are re-sent by the client after a restart.
struct Upload {
  std::string id;  // also the blob id
  std::string user_id;
  std::string organization_id;
  std::string consultation_id;  // share with it when finished; empty = keep unshared
  std::string file_name;
  std::string media_type;
  std::uint64_t size = 0;
  std::string sha256;  // declared, 32 raw bytes
  std::string wrapped_key;
  std::string header;
  std::uint64_t committed_offset = 0;
  TimePoint created_at{};
  TimePoint updated_at{};  // last activity; idle uploads are discarded
};
// (end of case files)

// ---- scheduling ----------------------------------------------------------------------------

// A recurring weekly availability rule as published (see domain::AvailabilityRule).
struct AvailabilityRuleRecord {
  std::vector<int> weekdays;  // ISO numbers, Monday = 1
  std::string local_start;    // "HH:MM"
  std::string local_end;      // "HH:MM"
  std::string time_zone;      // IANA name
  int slot_minutes = 0;
  int capacity = 0;
  std::string valid_from;   // "YYYY-MM-DD" or empty
  std::string valid_until;  // "YYYY-MM-DD" or empty
};

// A bookable slot; booked counts the BOOKED appointments holding it (never above capacity).
struct SlotRecord {
  std::string id;
  std::string specialist_id;
  TimePoint starts_at{};
  TimePoint ends_at{};
  int capacity = 1;
  int booked = 0;
  bool from_rule = false;  // derived from the specialist's rules (replaced on republish)
};

// Which slots to list: specialists among specialist_ids, starting in [from, to).
struct SlotQuery {
  std::vector<std::string> specialist_ids;
  TimePoint from{};
  TimePoint to{};
  bool only_free = true;  // booked < capacity
  int limit = 1000;
};

enum class AppointmentState { unspecified = 0, booked = 1, cancelled = 2, completed = 3 };

struct Appointment {
  std::string id;
  std::string slot_id;
  std::string consultation_id;
  std::string specialist_id;
  std::string booked_by;
  TimePoint starts_at{};  // copied from the slot
  TimePoint ends_at{};
  AppointmentState state = AppointmentState::unspecified;
  std::optional<TimePoint> next_reminder_at;  // when reminders next need a decision
  TimePoint created_at{};
  TimePoint updated_at{};
};

// Which appointments a user sees, starting in [from, to): booked by user_id, with user_id as
// the specialist, or of a consultation user_id takes part in; plus (if set) those whose
// consultation was requested by, or whose specialist belongs to, coordinator_organization_id.
struct AppointmentQuery {
  std::string user_id;
  std::string coordinator_organization_id;
  TimePoint from{};
  TimePoint to{};
  int limit = 1000;
};

// A reminder decided and recorded but not yet delivered to one user (offline, or in flight).
struct PendingReminder {
  std::string user_id;
  std::string appointment_id;
  int lead_minutes = 0;
  TimePoint queued_at{};
};
// (end of scheduling)

// ---- audit ----
// One record of the tamper-evident audit log: leaf `index` of its Merkle tree. `record` is the
// canonical encoding that is hashed (see audit/canonical_record.hpp); time, actor, action and
// patient reference are copies of its fields, kept in columns for searching.
struct AuditRow {
  std::int64_t index = 0;
  TimePoint time{};
  std::string actor_id;
  std::string action;
  std::string patient_reference;
  std::string record;
  std::string leaf_hash;  // SHA-256(0x00 || record), 32 raw bytes
};

// Export filter: records with time in [from, to); empty strings match everything. Paging: at
// most limit records with index > after_index, in index order.
struct AuditQuery {
  TimePoint from{};
  TimePoint to{};
  std::string actor_id;
  std::string patient_reference;
  std::int64_t after_index = -1;
  int limit = 1000;
};

// See Tx::find_audit_search_gaps.
struct AuditSearchGaps {
  std::int64_t count = 0;
  std::int64_t first_index = -1;  // -1 when count is 0
};

// A signed tree head: the Ed25519 signature by public_key over (tree_size, root_hash, signed_at).
struct AuditHeadRow {
  std::int64_t tree_size = 0;
  TimePoint signed_at{};
  std::string root_hash;   // 32 raw bytes
  std::string public_key;  // 32 raw bytes
  std::string signature;   // 64 raw bytes
};
// Where a restarted writer of the log resumes: the Merkle tree's compact range (the roots of its
// perfect subtrees, 32 bytes each, largest first) for the first tree_size records, stored with
// each signed head so that the writer need not re-read every record after a restart.
struct AuditFrontierRow {
  std::int64_t tree_size = 0;
  std::string subtrees;
};
// (end of audit)

// One entry of the cluster event log: a sealed, serialized event for the live sessions of
// recipients, written by the node (origin) that already delivered it to its own sessions.
struct EventRow {
  std::int64_t id = 0;  // assigned by the store, increasing in commit order
  std::string origin;   // node id
  TimePoint created_at{};
  std::vector<std::string> recipients;  // user ids
  std::string wrapped_key;              // data key of sealed_event, wrapped by the KEK
  std::string sealed_event;
};

}  // namespace tmc::store
