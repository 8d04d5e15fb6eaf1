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

}  // namespace tmc::store
