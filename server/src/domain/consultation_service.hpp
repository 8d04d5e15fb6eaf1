// Remote consultations: opening, routing, acceptance, the ordered message log, reports, deadlines.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "domain/audit_hook.hpp"
#include "domain/caller.hpp"
#include "domain/consultation_machine.hpp"
#include "domain/deadlines.hpp"
#include "domain/sealed_fields.hpp"
#include "store/store.hpp"

namespace tmc::domain {

// A message body as the domain sees it (the wire's MessageBody without protobuf).
struct MessageBody {
  enum class Kind { text = 1, note = 2, signal = 3, notice = 4 };
  Kind kind = Kind::text;
  std::string text;        // text; note text; notice text
  std::string title;       // note title
  int signal_kind = 0;     // SignalKind number (offer, answer, ice)
  std::string payload;     // signal payload, relayed opaquely
  int notice_kind = 0;     // SystemNoticeKind number
  std::string subject_id;  // notice subject (user, file, appointment id)
};

struct Report {
  std::string findings;
  std::string impression;
  std::string recommendations;
  std::string follow_up;
};

struct LogEntry {
  std::string consultation_id;
  std::int64_t seq = 0;  // 0 for relayed signals (not stored)
  std::string sender_id;  // empty for system notices
  TimePoint posted_at{};
  MessageBody body;
};

// A consultation with its clinical text decrypted, as shown to an authorised caller.
struct ConsultationView {
  store::Consultation record;  // sealed fields are not for display
  std::string question;
  std::string clinical_summary;
  std::optional<Report> report;
  std::vector<store::Participant> participants;
  std::vector<std::string> case_file_ids;
};

// Something to push to live sessions once the change it describes is committed.
struct Notification {
  enum class Kind {
    offered,
    updated,
    message_posted,
    case_file_shared,
    appointment_changed,
    appointment_reminder
  };
  Kind kind = Kind::updated;
  std::vector<std::string> recipients;  // user ids
  std::shared_ptr<const ConsultationView> consultation;
  std::optional<LogEntry> entry;
  std::string consultation_id{};              // case_file_shared
  std::optional<store::CaseFile> case_file{};  // case_file_shared: metadata only, no key
  std::optional<store::Appointment> appointment{};  // appointment_changed, appointment_reminder
  std::int64_t starts_in_seconds = 0;             // appointment_reminder

  // A consultation offered or updated.
  static Notification about(Kind kind, std::vector<std::string> recipients,
                            std::shared_ptr<const ConsultationView> consultation) {
    Notification out;
    out.kind = kind;
    out.recipients = std::move(recipients);
    out.consultation = std::move(consultation);
    return out;
  }
  // A log entry posted (or a signal relayed).
  static Notification posted(std::vector<std::string> recipients, LogEntry entry) {
    Notification out;
    out.kind = Kind::message_posted;
    out.recipients = std::move(recipients);
    out.entry = std::move(entry);
    return out;
  }
};

// How a caller relates to a consultation, for services that share its access rules.
struct ConsultationAccess {
  store::Consultation record;  // without its sealed texts (store::SealedTexts::skip)
  std::vector<store::Participant> participants;
  Actor actor;
};

template <class T>
struct Outcome {
  T value;
  std::vector<Notification> notifications;
};

struct OpenConsultation {
  store::Urgency urgency = store::Urgency::unspecified;
  std::string specialty;
  std::string patient_reference;
  int patient_age_years = 0;
  store::Sex patient_sex = store::Sex::unspecified;
  std::string question;
  std::string clinical_summary;
  std::string target_organization_id;
  std::string preferred_specialist_id;
  std::vector<std::string> case_file_ids;
};

struct ConsultationPage {
  std::vector<ConsultationView> consultations;
  std::string next_page_token;
};

struct PostedMessage {
  std::int64_t seq = 0;
  TimePoint posted_at{};
};

struct LogPage {
  std::vector<LogEntry> entries;
  bool has_more = false;
};

// Thread-safe; every method blocks on the store, so call it from a worker thread. Failures:
// a consultation the caller has no relationship with is NOT_FOUND (its existence is not
// revealed); a related caller doing what their role may not is PERMISSION_DENIED; an action the
// current state does not allow is FAILED_PRECONDITION and changes nothing; a late accept after
// another specialist won is ABORTED.
class ConsultationService {
 public:
  ConsultationService(store::Store& store, const Clock& clock, AuditHook& audit,
                      const Vault& vault, DeadlinePolicy deadlines);

  Result<Outcome<ConsultationView>> open(const Caller& caller, const OpenConsultation& request);
  Result<ConsultationView> get(const Caller& caller, const std::string& consultation_id);
  // page_size 0 = 50, capped at 200; state unspecified = any.
  Result<ConsultationPage> list(const Caller& caller, store::ConsultationState state,
                                int page_size, const std::string& page_token);
  Result<Outcome<ConsultationView>> accept(const Caller& caller, const std::string& id);
  Result<Outcome<ConsultationView>> decline(const Caller& caller, const std::string& id,
                                            const std::string& reason);
  Result<Outcome<ConsultationView>> assign(const Caller& caller, const std::string& id,
                                           const std::string& specialist_id);
  Result<Outcome<ConsultationView>> invite(const Caller& caller, const std::string& id,
                                           const std::string& user_id);
  Result<Outcome<ConsultationView>> cancel(const Caller& caller, const std::string& id,
                                           const std::string& reason);
  Result<Outcome<ConsultationView>> close(const Caller& caller, const std::string& id);
  Result<Outcome<ConsultationView>> submit_report(const Caller& caller, const std::string& id,
                                                  const Report& report);

  // Appends a message; a retry with the same client_msg_id answers the original seq. Signals
  // are relayed to the other participants and not stored (seq 0).
  Result<Outcome<PostedMessage>> post_message(const Caller& caller, const std::string& id,
                                              const std::string& client_msg_id,
                                              const MessageBody& body);
  // post_message for a stored (not signal) message without waiting for the commit. The checks,
  // the append and in_tx run in one op of the store's group commit, so messages queued one after
  // another get their seqs in that order, and a batch of them shares one commit. in_tx (may be
  // empty) gets the notifications inside the transaction, so what it writes (e.g. the cluster
  // event journal) commits with the message or not at all. done runs on the store's writer
  // thread after the commit and must not block on the store: with the outcome, or with the
  // exception that failed the write (nothing was stored then). Throws StoreError when the store
  // is closed.
  using PostResult = std::optional<Result<Outcome<PostedMessage>>>;
  using PostInTx = std::function<void(store::Tx& tx, const std::vector<Notification>& notes)>;
  using PostDone = std::function<void(std::exception_ptr failure, PostResult result)>;
  void post_message_async(const Caller& caller, std::string id, std::string client_msg_id,
                          MessageBody body, PostInTx in_tx, PostDone done);
  Result<Outcome<Done>> ack(const Caller& caller, const std::string& id, std::int64_t up_to_seq);
  // limit 0 = 100, capped at 500.
  Result<LogPage> sync(const Caller& caller, const std::string& id, std::int64_t after_seq,
                       int limit);

  // Escalates or expires consultations whose routing deadline has passed at now. Returns the
  // notifications to deliver. Safe to call concurrently and repeatedly (each step is decided
  // inside its own transaction against the current row).
  std::vector<Notification> process_deadlines(TimePoint now);

  // The consultation and the caller's relationship to it, inside tx; nullopt when unknown.
  std::optional<ConsultationAccess> access(store::Tx& tx, const Caller& caller,
                                           const std::string& id) const;

  // What hangs on a consultation (its booked reviews) follows its changes in the same commit:
  // the hook runs inside the transaction, after the consultation's row is written, and what it
  // appends to the log and its notifications go with the change. Set once at start, before the
  // service is used.
  using ChangeHook = std::function<void(store::Tx& tx, const std::string& consultation_id,
                                        std::string_view state, TimePoint now,
                                        std::vector<Notification>& notifications)>;
  // When the consultation ends (CANCELLED, CLOSED, DECLINED, EXPIRED).
  void on_ended(ChangeHook hook) { ended_ = std::move(hook); }
  // After every other transition: who may open it may have changed (an accept withdraws every
  // other offer, a decline the decliner's, an assignment all of them).
  void on_changed(ChangeHook hook) { changed_ = std::move(hook); }

  // Appends a server-written SystemNotice to the consultation's log inside tx (for other
  // services, e.g. scheduling) and queues its message_posted notification. NOT_FOUND when the
  // consultation is unknown.
  Status append_system_notice(store::Tx& tx, const std::string& consultation_id, int notice_kind,
                              const std::string& text, const std::string& subject_id,
                              TimePoint now, std::vector<Notification>& notifications) const;

 private:
  struct Loaded;
  // The record, its participants, candidates and data key, and unless skipped its sealed texts
  // and the ids of its case files (only a view of the consultation needs those; view_of refuses
  // a Loaded without them, and read_view_parts reads them later).
  // Candidates::when_needed leaves the candidates to decide_for (posting, acknowledging, reading).
  enum class ViewParts { read, skip };
  enum class Candidates { read, when_needed };
  std::optional<Loaded> load(store::Tx& tx, const std::string& id,
                             ViewParts view_parts = ViewParts::read,
                             Candidates candidates = Candidates::read) const;
  static void read_view_parts(store::Tx& tx, Loaded& loaded);
  Actor actor_for(store::Tx& tx, const Caller& caller, const Loaded& loaded) const;
  // decide() for the caller. For an action that only collaborators take, or they and open
  // candidates (post_message, ack, read), the candidates matter only to a caller with no other
  // tie to the consultation, so a Loaded without them gets them read for such a caller only.
  Result<TransitionOutcome> decide_for(store::Tx& tx, const Caller& caller, Loaded& loaded,
                                       ConsultationAction action) const;
  ConsultationView view_of(const Loaded& loaded) const;
  std::shared_ptr<const ConsultationView> shared_view(const Loaded& loaded) const;
  std::int64_t append_notice(store::Tx& tx, Loaded& loaded, int notice_kind,
                             const std::string& text, const std::string& subject_id,
                             TimePoint now, std::vector<Notification>& notifications) const;
  Result<Outcome<ConsultationView>> transition(
      const Caller& caller, const std::string& id, ConsultationAction action,
      const std::function<Status(store::Tx&, Loaded&, const TransitionOutcome&,
                                 std::vector<Notification>&)>& apply);
  void audit(const Caller& caller, const char* action, const std::string& id, bool allowed);
  // process_deadlines for one consultation, in one transaction: what it announces is filled
  // only once that transaction has committed. Throws what the store throws.
  void process_deadline(const std::string& consultation_id, TimePoint now,
                        std::vector<Notification>& notifications);
  // Runs hook (ended_ or changed_) for a consultation whose row has just been written and
  // brings the Loaded's last_seq up to what the hook appended.
  void run_hook(const ChangeHook& hook, store::Tx& tx, Loaded& loaded, TimePoint now,
                std::vector<Notification>& notifications) const;
  // The same, from inside a write op: stored with that op's commit. A known patient reference
  // spares the audit log reading the consultation again for it.
  void audit_in(store::Tx& tx, const Caller& caller, const char* action, const std::string& id,
                bool allowed, std::string patient_reference = {});
  // The write op of post_message: fills result, and patient_reference when the consultation
  // exists; true when it stored something to keep.
  bool post_in(store::Tx& tx, const Caller& caller, const std::string& id,
               const std::string& client_msg_id, const MessageBody& body, TimePoint now,
               std::optional<Result<Outcome<PostedMessage>>>& result,
               std::string* patient_reference = nullptr) const;

  store::Store& store_;
  const Clock& clock_;
  AuditHook& audit_;
  const Vault& vault_;
  DeadlinePolicy deadlines_;
  ChangeHook ended_;
  ChangeHook changed_;
};

std::string encode_body(const MessageBody& body);
std::optional<MessageBody> decode_body(std::string_view encoded);

}  // namespace tmc::domain
