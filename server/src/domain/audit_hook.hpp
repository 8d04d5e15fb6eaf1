// Hook through which services report security-relevant events (ids only, never PHI or secrets).
#pragma once

#include <string>
#include <vector>

namespace tmc::store {
class Tx;
}

namespace tmc::domain {

enum class AuditOutcome { success, denied, failed };

struct AuditEvent {
  std::string actor_id;         // user id; empty when unauthenticated
  std::string organization_id;  // actor's organisation, if known
  std::string action;           // e.g. "login", "consultation.read"
  std::vector<std::string> object_ids;
  AuditOutcome outcome = AuditOutcome::success;
  std::string remote_address;
  // Pseudonymous patient reference of the consultation concerned, when the caller knows it;
  // the store-backed audit hook fills it from a "con_" object id otherwise.
  std::string patient_reference{};
};

// Receives audit events. Implementations must be thread-safe and must not block for long.
class AuditHook {
 public:
  virtual ~AuditHook() = default;
  virtual void record(const AuditEvent& event) = 0;

  // An event about the write op running in tx (call it only from inside a Store write op, on
  // the writer thread). A hook that can stores it with that batch's commit, and not at all if
  // the whole batch is rolled back; this one records it like any other.
  virtual void record_in(store::Tx& tx, const AuditEvent& event) {
    (void)tx;
    record(event);
  }
};

// Default hook: forwards nothing (used where no audit trail is configured, e.g. unit tests).
class NullAuditHook final : public AuditHook {
 public:
  void record(const AuditEvent&) override {}
};

}  // namespace tmc::domain
