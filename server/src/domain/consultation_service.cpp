// Remote consultations: opening, routing, acceptance, the ordered message log, reports, deadlines.
#include "domain/consultation_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "crypto/random.hpp"
#include "domain/case_file_service.hpp"
#include "domain/routing.hpp"

namespace tmc::domain {

using store::ConsultationState;

namespace {

constexpr std::size_t kMaxQuestionBytes = 8 * 1024;
constexpr std::size_t kMaxSummaryBytes = 64 * 1024;
constexpr std::size_t kMaxBodyBytes = 64 * 1024;
constexpr std::size_t kMaxReportFieldBytes = 64 * 1024;
constexpr std::size_t kMaxClientMsgIdBytes = 64;
// Clinical text in one page of sync_consultation or list_consultations, beyond the first entry
// (at most 500 messages of 64 KiB would be 32 MiB in one frame, more than a session may queue):
// a page ends early, and has_more or next_page_token says there is more.
constexpr std::size_t kMaxPageTextBytes = 1024 * 1024;
constexpr int kLastSignalKind = 3;  // SIGNAL_KIND_ICE (messaging.proto)
constexpr int kNoticeStateChanged = 1;
constexpr int kNoticeParticipantJoined = 2;
constexpr int kNoticeReportSubmitted = 4;

Error not_found() { return make_error(Code::not_found, "consultation not found"); }

std::string aad(const std::string& id, const char* field) { return id + "|" + field; }

// A notice's text with the reason its author gave, if any ("cancelled by Dr. X: transferred").
std::string with_reason(std::string text, const std::string& reason) {
  if (!reason.empty()) text += ": " + reason;
  return text;
}

void append_unique(std::vector<std::string>& to, const std::string& id) {
  if (!id.empty() && std::find(to.begin(), to.end(), id) == to.end()) to.push_back(id);
}

std::string report_text(const Report& report) {
  return pack_fields(
      {report.findings, report.impression, report.recommendations, report.follow_up});
}

// What routing decides from: the directory as of the current transaction.
struct RoutingDirectory {
  std::vector<store::Pairing> pairings;
  std::vector<store::Organization> organizations;
  std::vector<store::User> specialists;  // enabled specialists

  explicit RoutingDirectory(store::Tx& tx)
      : pairings(tx.list_pairings()), organizations(tx.list_organizations()) {
    store::UserFilter filter;
    filter.role = store::Role::specialist;
    specialists = tx.list_users(filter);
  }

  RoutingInput input(const store::Organization& requester, const std::string& specialty,
                     const std::string& target, const std::string& preferred, bool widen) const {
    return RoutingInput{requester, specialty,     target,      preferred,
                        pairings,  organizations, specialists, widen};
  }
};

}  // namespace

std::string encode_body(const MessageBody& body) {
  const std::string kind(1, static_cast<char>(body.kind));
  const std::string signal_kind = std::to_string(body.signal_kind);
  const std::string notice_kind = std::to_string(body.notice_kind);
  return pack_fields(
      {kind, body.text, body.title, signal_kind, body.payload, notice_kind, body.subject_id});
}

std::optional<MessageBody> decode_body(std::string_view encoded) {
  auto fields = unpack_fields(encoded);
  if (!fields || fields->size() != 7 || (*fields)[0].size() != 1) return std::nullopt;
  MessageBody body;
  body.kind = static_cast<MessageBody::Kind>((*fields)[0][0]);
  body.text = (*fields)[1];
  body.title = (*fields)[2];
  body.signal_kind = std::atoi((*fields)[3].c_str());
  body.payload = (*fields)[4];
  body.notice_kind = std::atoi((*fields)[5].c_str());
  body.subject_id = (*fields)[6];
  return body;
}

struct ConsultationService::Loaded {
  store::Consultation record;
  std::vector<store::Participant> participants;
  std::vector<store::Candidate> candidates;
  bool candidates_read = true;  // false: left to decide_for (see load)
  crypto::Secret key;  // unwrapped data key
  std::optional<std::vector<std::string>> case_file_ids;  // nullopt: not read (see load)
  bool texts_read = false;  // the record's sealed texts (see load)

  bool is_participant(const std::string& user_id) const {
    return std::any_of(participants.begin(), participants.end(),
                       [&](const auto& p) { return p.user_id == user_id; });
  }
  bool is_open_candidate(const std::string& user_id) const {
    return std::any_of(candidates.begin(), candidates.end(),
                       [&](const auto& c) { return c.user_id == user_id && !c.declined; });
  }
  int open_candidates() const {
    return static_cast<int>(std::count_if(candidates.begin(), candidates.end(),
                                          [](const auto& c) { return !c.declined; }));
  }
  std::vector<std::string> participant_ids() const {
    std::vector<std::string> ids;
    for (const auto& p : participants) ids.push_back(p.user_id);
    return ids;
  }
  std::vector<std::string> candidate_ids() const {
    std::vector<std::string> ids;
    for (const auto& c : candidates) ids.push_back(c.user_id);
    return ids;
  }
  // Candidates who have not declined: the ones who may still read it, and are told of changes.
  std::vector<std::string> open_candidate_ids() const {
    std::vector<std::string> ids;
    for (const auto& c : candidates) {
      if (!c.declined) ids.push_back(c.user_id);
    }
    return ids;
  }
};

ConsultationService::ConsultationService(store::Store& store, const Clock& clock, AuditHook& audit,
                                         const Vault& vault, DeadlinePolicy deadlines)
    : store_(store), clock_(clock), audit_(audit), vault_(vault), deadlines_(deadlines) {}

std::optional<ConsultationService::Loaded> ConsultationService::load(
    store::Tx& tx, const std::string& id, ViewParts view_parts, Candidates candidates) const {
  const bool view = view_parts == ViewParts::read;
  auto record =
      tx.find_consultation(id, view ? store::SealedTexts::read : store::SealedTexts::skip);
  if (!record) return std::nullopt;
  Loaded loaded;
  loaded.record = std::move(*record);
  loaded.texts_read = view;
  loaded.participants = tx.list_participants(id);
  loaded.candidates_read = candidates == Candidates::read;
  if (loaded.candidates_read) loaded.candidates = tx.list_candidates(id);
  loaded.key = vault_.unwrap(loaded.record.wrapped_key);
  if (view) read_view_parts(tx, loaded);
  return loaded;
}

void ConsultationService::read_view_parts(store::Tx& tx, Loaded& loaded) {
  auto& record = loaded.record;
  if (!loaded.texts_read) {
    auto stored = tx.find_consultation(record.id, store::SealedTexts::read);
    if (!stored) throw std::logic_error("consultation view: the consultation is gone");
    record.sealed_question = std::move(stored->sealed_question);
    record.sealed_summary = std::move(stored->sealed_summary);
    record.sealed_report = std::move(stored->sealed_report);
    loaded.texts_read = true;
  }
  auto& ids = loaded.case_file_ids.emplace();
  for (const auto& file : tx.list_consultation_case_files(record.id)) ids.push_back(file.id);
}

std::optional<ConsultationAccess> ConsultationService::access(store::Tx& tx, const Caller& caller,
                                                              const std::string& id) const {
  auto loaded = load(tx, id, ViewParts::skip);
  if (!loaded) return std::nullopt;
  auto actor = actor_for(tx, caller, *loaded);
  return ConsultationAccess{std::move(loaded->record), std::move(loaded->participants), actor};
}

Status ConsultationService::append_system_notice(store::Tx& tx, const std::string& consultation_id,
                                                 int notice_kind, const std::string& text,
                                                 const std::string& subject_id, TimePoint now,
                                                 std::vector<Notification>& notifications) const {
  auto loaded = load(tx, consultation_id, ViewParts::skip);
  if (!loaded) return not_found();
  append_notice(tx, *loaded, notice_kind, text, subject_id, now, notifications);
  tx.update_consultation(loaded->record);  // keeps last_seq in step with the log
  return ok();
}

void ConsultationService::run_hook(const ChangeHook& hook, store::Tx& tx, Loaded& loaded,
                                   TimePoint now, std::vector<Notification>& notifications) const {
  if (!hook) return;
  hook(tx, loaded.record.id, state_name(loaded.record.state), now, notifications);
  // The hook's notices moved last_seq on in the row; the view answered must not lag behind it.
  if (auto row = tx.find_consultation(loaded.record.id, store::SealedTexts::skip)) {
    loaded.record.last_seq = row->last_seq;
  }
}

Actor ConsultationService::actor_for(store::Tx& tx, const Caller& caller,
                                     const Loaded& loaded) const {
  const auto& user = caller.user;
  Actor actor;
  actor.role = user.role;
  actor.is_requester = loaded.record.requester_id == user.id;
  actor.is_assigned_specialist = loaded.record.assigned_specialist_id == user.id;
  actor.is_participant = loaded.is_participant(user.id);
  actor.is_open_candidate = loaded.is_open_candidate(user.id);
  if (user.role == store::Role::coordinator) {
    bool involved = loaded.record.requesting_organization_id == user.organization_id;
    std::vector<std::string> people = loaded.participant_ids();
    append_unique(people, loaded.record.assigned_specialist_id);
    for (const auto& person : people) {
      if (involved) break;
      auto other = tx.find_user(person);
      involved = other && other->organization_id == user.organization_id;
    }
    // While it awaits a specialist, the partner hospitals it is offered to are involved too:
    // their coordinators, notified when it escalates, see it and may assign a specialist.
    const auto state = loaded.record.state;
    if (!involved && loaded.candidates_read &&
        (state == store::ConsultationState::requested ||
         state == store::ConsultationState::offered)) {
      for (const auto& candidate : loaded.candidates) {
        if (involved) break;
        if (candidate.declined) continue;
        auto other = tx.find_user(candidate.user_id);
        involved = other && other->organization_id == user.organization_id;
      }
    }
    actor.is_coordinator_of_involved_org = involved;
    actor.is_coordinator_of_requesting_org =
        loaded.record.requesting_organization_id == user.organization_id;
  }
  return actor;
}

Result<TransitionOutcome> ConsultationService::decide_for(store::Tx& tx, const Caller& caller,
                                                          Loaded& loaded,
                                                          ConsultationAction action) const {
  auto decision = decide(loaded.record.state, action, actor_for(tx, caller, loaded));
  // "Not found" means no tie at all as far as the Loaded knows; an open offer is one more.
  if (decision || loaded.candidates_read || decision.error().code != Code::not_found) {
    return decision;
  }
  loaded.candidates = tx.list_candidates(loaded.record.id);
  loaded.candidates_read = true;
  return decide(loaded.record.state, action, actor_for(tx, caller, loaded));
}

ConsultationView ConsultationService::view_of(const Loaded& loaded) const {
  if (!loaded.texts_read || !loaded.case_file_ids) {
    throw std::logic_error("consultation view: its texts and case files were not read");
  }
  ConsultationView view;
  view.record = loaded.record;
  const auto& id = loaded.record.id;
  view.question = Vault::open(loaded.key, loaded.record.sealed_question, aad(id, "question"));
  view.clinical_summary = Vault::open(loaded.key, loaded.record.sealed_summary, aad(id, "summary"));
  if (!loaded.record.sealed_report.empty()) {
    auto fields =
        unpack_fields(Vault::open(loaded.key, loaded.record.sealed_report, aad(id, "report")));
    if (fields && fields->size() == 4) {
      view.report = Report{(*fields)[0], (*fields)[1], (*fields)[2], (*fields)[3]};
    }
  }
  view.participants = loaded.participants;
  view.case_file_ids = *loaded.case_file_ids;
  return view;
}

std::shared_ptr<const ConsultationView> ConsultationService::shared_view(
    const Loaded& loaded) const {
  return std::make_shared<const ConsultationView>(view_of(loaded));
}

namespace {

AuditEvent event_of(const Caller& caller, const char* action, const std::string& id,
                    bool allowed) {
  return {caller.user.id,
          caller.user.organization_id,
          action,
          {id},
          allowed ? AuditOutcome::success : AuditOutcome::denied,
          caller.remote_address};
}

}  // namespace

void ConsultationService::audit(const Caller& caller, const char* action, const std::string& id,
                                bool allowed) {
  audit_.record(event_of(caller, action, id, allowed));
}

void ConsultationService::audit_in(store::Tx& tx, const Caller& caller, const char* action,
                                   const std::string& id, bool allowed,
                                   std::string patient_reference) {
  auto event = event_of(caller, action, id, allowed);
  event.patient_reference = std::move(patient_reference);
  audit_.record_in(tx, event);
}

std::int64_t ConsultationService::append_notice(store::Tx& tx, Loaded& loaded, int notice_kind,
                                                const std::string& text,
                                                const std::string& subject_id, TimePoint now,
                                                std::vector<Notification>& notifications) const {
  MessageBody body;
  body.kind = MessageBody::Kind::notice;
  body.notice_kind = notice_kind;
  body.text = text;
  body.subject_id = subject_id;
  auto& record = loaded.record;
  const auto seq = record.last_seq + 1;
  store::LogRecord log{record.id,
                       seq,
                       "",
                       "",
                       now,
                       Vault::seal(loaded.key, encode_body(body),
                                   aad(record.id, "log") + "|" + std::to_string(seq))};
  tx.append_log(log);
  record.last_seq = seq;
  notifications.push_back(
      Notification::posted(loaded.participant_ids(), LogEntry{record.id, seq, "", now, body}));
  return seq;
}

// ---- opening ----------------------------------------------------------------------------------

Result<Outcome<ConsultationView>> ConsultationService::open(const Caller& caller,
                                                            const OpenConsultation& request) {
  if (caller.user.role != store::Role::clinician) {
    audit(caller, "consultation.open", "", false);
    return make_error(Code::permission_denied, "only county clinicians open consultations");
  }
  if (request.urgency == store::Urgency::unspecified) {
    return make_error(Code::invalid_argument, "urgency is required");
  }
  // Protobuf keeps enum numbers it does not know: a newer client's value is refused, not stored.
  if (request.urgency < store::Urgency::routine || request.urgency > store::Urgency::emergency) {
    return make_error(Code::invalid_argument,
                      "urgency " + std::to_string(static_cast<int>(request.urgency)) +
                          " is not ROUTINE, URGENT or EMERGENCY");
  }
  if (request.patient_sex < store::Sex::unspecified || request.patient_sex > store::Sex::other) {
    return make_error(Code::invalid_argument,
                      "patient sex " + std::to_string(static_cast<int>(request.patient_sex)) +
                          " is unknown");
  }
  if (request.specialty.empty()) return make_error(Code::invalid_argument, "specialty is required");
  if (request.patient_reference.empty() || request.patient_reference.size() > 64) {
    return make_error(Code::invalid_argument, "patient reference must be 1-64 characters");
  }
  if (request.question.empty() || request.question.size() > kMaxQuestionBytes) {
    return make_error(Code::invalid_argument, "question must be 1-8192 bytes");
  }
  if (request.clinical_summary.size() > kMaxSummaryBytes) {
    return make_error(Code::invalid_argument, "clinical summary is over 64 KiB");
  }
  if (request.patient_age_years < 0 || request.patient_age_years > 150) {
    return make_error(Code::invalid_argument, "patient age must be 0-150");
  }
  if (request.case_file_ids.size() > 100) {
    return make_error(Code::invalid_argument, "at most 100 case files per consultation");
  }

  const auto now = clock_.now();
  Loaded loaded;
  auto& record = loaded.record;
  record.id = crypto::random_id("con");
  record.urgency = request.urgency;
  record.specialty = request.specialty;
  record.patient_reference = request.patient_reference;
  record.patient_age_years = request.patient_age_years;
  record.patient_sex = request.patient_sex;
  record.requesting_organization_id = caller.user.organization_id;
  record.requester_id = caller.user.id;
  record.target_organization_id = request.target_organization_id;
  record.preferred_specialist_id = request.preferred_specialist_id;
  const auto key = vault_.new_data_key();
  loaded.key = key.plain;
  record.wrapped_key = key.wrapped;
  record.sealed_question = Vault::seal(key.plain, request.question, aad(record.id, "question"));
  record.sealed_summary =
      Vault::seal(key.plain, request.clinical_summary, aad(record.id, "summary"));
  record.created_at = now;
  record.updated_at = now;
  record.respond_by = deadlines_.first_deadline(request.urgency, now);
  loaded.participants.push_back({caller.user.id, store::ParticipantKind::requester, 0});
  loaded.case_file_ids.emplace();
  loaded.texts_read = true;

  std::vector<std::string> coordinators;
  std::optional<Error> failure;
  const bool kept = store_.write([&](store::Tx& tx) {
    const auto requester_org = tx.find_organization(caller.user.organization_id);
    if (!requester_org) {
      failure = make_error(Code::failed_precondition, "your organisation is unknown");
      return false;
    }
    const RoutingDirectory directory(tx);
    const auto input =
        directory.input(*requester_org, request.specialty, request.target_organization_id,
                        request.preferred_specialist_id, false);
    auto candidates = route(input);
    if (!candidates) {
      failure = candidates.error();
      return false;
    }
    record.state = candidates->empty() ? ConsultationState::requested : ConsultationState::offered;
    record.candidate_count = static_cast<int>(candidates->size());
    for (const auto& id : *candidates) loaded.candidates.push_back({id, false});
    if (candidates->empty()) {
      // Nobody may take it for now: the requesting hospital's coordinators are told (they may
      // cancel it or wait for the escalation). No partner hospital is involved yet, so none of
      // their coordinators may read it, and none is sent the patient's details.
      store::UserFilter coordinator_filter;
      coordinator_filter.role = store::Role::coordinator;
      coordinator_filter.organization_id = requester_org->id;
      for (const auto& user : tx.list_users(coordinator_filter)) coordinators.push_back(user.id);
    }
    // Case files: only ones the requester may read (others are NOT_FOUND, never revealed).
    for (const auto& file_id : request.case_file_ids) {
      const auto file = tx.find_case_file(file_id);
      if (!file || !may_read_case_file(tx, *this, caller, *file)) {
        failure = make_error(Code::not_found, "case file not found");
        return false;
      }
    }
    tx.insert_consultation(record);
    tx.add_participant(record.id, loaded.participants.front());
    for (const auto& file_id : request.case_file_ids) {
      if (tx.share_case_file(file_id, record.id, now)) loaded.case_file_ids->push_back(file_id);
    }
    tx.add_candidates(record.id, *candidates);
    return true;
  });
  if (!kept) {
    audit(caller, "consultation.open", "", false);
    return failure ? *failure : make_error(Code::internal, "consultation was not stored");
  }
  audit(caller, "consultation.open", record.id, true);
  for (const auto& file_id : *loaded.case_file_ids) {  // as share_case_file records a share
    audit_.record({caller.user.id, caller.user.organization_id, "case_file.share",
                   {file_id, record.id}, AuditOutcome::success, caller.remote_address});
  }
  Outcome<ConsultationView> outcome{view_of(loaded), {}};
  auto shared = std::make_shared<const ConsultationView>(outcome.value);
  if (!loaded.candidates.empty()) {
    outcome.notifications.push_back(
        Notification::about(Notification::Kind::offered, loaded.candidate_ids(), shared));
  } else {
    outcome.notifications.push_back(
        Notification::about(Notification::Kind::updated, coordinators, shared));
  }
  return outcome;
}

// ---- reading ----------------------------------------------------------------------------------

Result<ConsultationView> ConsultationService::get(const Caller& caller, const std::string& id) {
  std::optional<Result<ConsultationView>> result;
  store_.read([&](store::Tx& tx) {
    auto loaded = load(tx, id);
    if (!loaded) {
      result.emplace(not_found());
      return;
    }
    auto decision =
        decide(loaded->record.state, ConsultationAction::read, actor_for(tx, caller, *loaded));
    if (!decision) {
      result.emplace(decision.error());
      return;
    }
    result.emplace(view_of(*loaded));
  });
  audit(caller, "consultation.read", id, result->has_value());
  return std::move(*result);
}

Result<ConsultationPage> ConsultationService::list(const Caller& caller,
                                                   store::ConsultationState state, int page_size,
                                                   const std::string& page_token) {
  if (page_size < 0) return make_error(Code::invalid_argument, "page_size must not be negative");
  if (state < store::ConsultationState::unspecified || state > store::ConsultationState::expired) {
    return make_error(Code::invalid_argument,
                      "state " + std::to_string(static_cast<int>(state)) + " is unknown");
  }
  const int size = page_size == 0 ? 50 : std::min(page_size, 200);
  if (!page_token.empty() && page_token.rfind("con_", 0) != 0) {
    return make_error(Code::invalid_argument, "malformed page_token");
  }
  store::ConsultationQuery query;
  query.user_id = caller.user.id;
  if (caller.user.role == store::Role::coordinator) {
    query.coordinator_organization_id = caller.user.organization_id;
  }
  if (state != store::ConsultationState::unspecified) query.state = state;
  query.after_id = page_token;
  query.limit = size + 1;
  ConsultationPage page;
  store_.read([&](store::Tx& tx) {
    auto records = tx.list_consultations(query);
    bool more = static_cast<int>(records.size()) > size;
    if (more) records.resize(static_cast<std::size_t>(size));
    std::size_t text_bytes = 0;
    std::string last_seen;
    for (const auto& record : records) {
      auto loaded = load(tx, record.id);
      if (loaded &&
          decide(loaded->record.state, ConsultationAction::read, actor_for(tx, caller, *loaded))) {
        auto view = view_of(*loaded);
        text_bytes += view.question.size() + view.clinical_summary.size() +
                      (view.report ? view.report->findings.size() + view.report->impression.size()
                                   : 0);
        if (!page.consultations.empty() && text_bytes > kMaxPageTextBytes) {
          more = true;  // this one starts the next page
          break;
        }
        page.consultations.push_back(std::move(view));
      }  // else e.g. an offer that went to someone else
      last_seen = record.id;
    }
    if (more && !last_seen.empty()) page.next_page_token = last_seen;
  });
  for (const auto& view : page.consultations) {
    audit(caller, "consultation.read", view.record.id, true);
  }
  return page;
}

// ---- transitions ------------------------------------------------------------------------------

Result<Outcome<ConsultationView>> ConsultationService::transition(
    const Caller& caller, const std::string& id, ConsultationAction action,
    const std::function<Status(store::Tx&, Loaded&, const TransitionOutcome&,
                               std::vector<Notification>&)>& apply) {
  std::optional<Result<Outcome<ConsultationView>>> result;
  const auto run = [&](store::Tx& tx) {
    auto loaded = load(tx, id);
    if (!loaded) {
      result.emplace(not_found());
      return false;
    }
    DecisionContext context;
    context.open_candidates = loaded->open_candidates();
    context.remaining_open_candidates_after_decline =
        loaded->open_candidates() - (loaded->is_open_candidate(caller.user.id) ? 1 : 0);
    context.escalated = loaded->record.escalated;
    auto decision = decide(loaded->record.state, action, actor_for(tx, caller, *loaded), context);
    if (!decision) {
      result.emplace(decision.error());
      return false;
    }
    std::vector<Notification> notifications;
    const auto previous_state = loaded->record.state;
    if (auto applied = apply(tx, *loaded, *decision, notifications); !applied) {
      result.emplace(applied.error());
      return false;
    }
    loaded->record.state = decision->next;
    loaded->record.updated_at = clock_.now();
    if (is_terminal(decision->next) || has_assigned_specialist(decision->next)) {
      loaded->record.respond_by.reset();
    }
    tx.update_consultation(loaded->record);
    if (!is_terminal(decision->next)) {
      run_hook(changed_, tx, *loaded, loaded->record.updated_at, notifications);
    } else if (!is_terminal(previous_state)) {
      run_hook(ended_, tx, *loaded, loaded->record.updated_at, notifications);
    }
    auto shared = shared_view(*loaded);
    if (decision->state_changed || previous_state != decision->next) {
      std::vector<std::string> recipients = loaded->participant_ids();
      if (previous_state == ConsultationState::offered ||
          previous_state == ConsultationState::requested) {
        for (const auto& candidate : loaded->open_candidate_ids()) {
          append_unique(recipients, candidate);
        }
      }
      notifications.push_back(Notification::about(Notification::Kind::updated, recipients, shared));
    }
    result.emplace(Outcome<ConsultationView>{*shared, std::move(notifications)});
    return true;
  };
  // The audit record of the change (or of its refusal) is stored by the change's own commit.
  store_.write([&](store::Tx& tx) {
    const bool kept = run(tx);
    audit_in(tx, caller, action_name(action).data(), id, result->has_value());
    return kept;
  });
  return std::move(*result);
}

Result<Outcome<ConsultationView>> ConsultationService::accept(const Caller& caller,
                                                              const std::string& id) {
  return transition(
      caller, id, ConsultationAction::accept,
      [&](store::Tx& tx, Loaded& loaded, const TransitionOutcome&,
          std::vector<Notification>& notifications) -> Status {
        loaded.record.assigned_specialist_id = caller.user.id;
        store::Participant specialist{caller.user.id, store::ParticipantKind::specialist, 0};
        tx.add_participant(loaded.record.id, specialist);
        loaded.participants.push_back(specialist);
        append_notice(tx, loaded, kNoticeStateChanged, "accepted by " + caller.user.display_name,
                      caller.user.id, clock_.now(), notifications);
        return ok();
      });
}

Result<Outcome<ConsultationView>> ConsultationService::decline(const Caller& caller,
                                                               const std::string& id,
                                                               const std::string& reason) {
  if (reason.size() > 1024) return make_error(Code::invalid_argument, "reason is over 1 KiB");
  return transition(caller, id, ConsultationAction::decline,
                    [&](store::Tx& tx, Loaded& loaded, const TransitionOutcome&,
                        std::vector<Notification>& notifications) -> Status {
                      tx.mark_candidate_declined(loaded.record.id, caller.user.id);
                      for (auto& candidate : loaded.candidates) {
                        if (candidate.user_id == caller.user.id) candidate.declined = true;
                      }
                      loaded.record.candidate_count = loaded.open_candidates();
                      // The requester learns who declined and why, in the (sealed) log.
                      append_notice(tx, loaded, kNoticeStateChanged,
                                    with_reason("declined by " + caller.user.display_name, reason),
                                    caller.user.id, clock_.now(), notifications);
                      return ok();
                    });
}

Result<Outcome<ConsultationView>> ConsultationService::assign(const Caller& caller,
                                                              const std::string& id,
                                                              const std::string& specialist_id) {
  if (specialist_id.empty()) return make_error(Code::invalid_argument, "specialist_id is empty");
  return transition(
      caller, id, ConsultationAction::assign,
      [&](store::Tx& tx, Loaded& loaded, const TransitionOutcome&,
          std::vector<Notification>& notifications) -> Status {
        const auto requester_org = tx.find_organization(loaded.record.requesting_organization_id);
        if (!requester_org) return make_error(Code::internal, "requesting organisation missing");
        const RoutingDirectory directory(tx);
        const auto& specialists = directory.specialists;
        const auto input =
            directory.input(*requester_org, loaded.record.specialty, "", specialist_id, false);
        if (auto eligible = route(input); !eligible) {
          if (!loaded.record.escalated) return eligible.error();
          // After escalation any partner's specialist of the specialty is eligible.
          const bool widened_ok = std::any_of(specialists.begin(), specialists.end(), [&](auto& u) {
            return u.id == specialist_id &&
                   std::find(u.specialties.begin(), u.specialties.end(), loaded.record.specialty) !=
                       u.specialties.end();
          });
          if (!widened_ok) return eligible.error();
        }
        loaded.record.assigned_specialist_id = specialist_id;
        store::Participant specialist{specialist_id, store::ParticipantKind::specialist, 0};
        tx.add_participant(loaded.record.id, specialist);
        loaded.participants.push_back(specialist);
        append_notice(tx, loaded, kNoticeStateChanged, "assigned by a coordinator", specialist_id,
                      clock_.now(), notifications);
        return ok();
      });
}

Result<Outcome<ConsultationView>> ConsultationService::invite(const Caller& caller,
                                                              const std::string& id,
                                                              const std::string& user_id) {
  return transition(
      caller, id, ConsultationAction::invite,
      [&](store::Tx& tx, Loaded& loaded, const TransitionOutcome&,
          std::vector<Notification>& notifications) -> Status {
        if (loaded.is_participant(user_id)) return ok();  // idempotent
        const auto invitee = tx.find_user(user_id);
        std::string assigned_org;
        if (auto assigned = tx.find_user(loaded.record.assigned_specialist_id)) {
          assigned_org = assigned->organization_id;
        }
        if (!invitee || invitee->disabled ||
            (invitee->organization_id != loaded.record.requesting_organization_id &&
             invitee->organization_id != assigned_org)) {
          return make_error(Code::invalid_argument,
                            "invite colleagues of the requesting or the consulted hospital only");
        }
        if (invitee->role == store::Role::admin) {
          return make_error(Code::invalid_argument, "administrators cannot take part");
        }
        store::Participant participant{user_id, store::ParticipantKind::invited, 0};
        tx.add_participant(loaded.record.id, participant);
        loaded.participants.push_back(participant);
        append_notice(tx, loaded, kNoticeParticipantJoined, invitee->display_name + " joined",
                      user_id, clock_.now(), notifications);
        // A participant change: every participant hears of it (PROTOCOL.md), the invitee first
        // of all, who learns of the consultation this way.
        notifications.push_back(Notification::about(Notification::Kind::updated,
                                                    loaded.participant_ids(), shared_view(loaded)));
        return ok();
      });
}

Result<Outcome<ConsultationView>> ConsultationService::cancel(const Caller& caller,
                                                              const std::string& id,
                                                              const std::string& reason) {
  if (reason.size() > 1024) return make_error(Code::invalid_argument, "reason is over 1 KiB");
  return transition(caller, id, ConsultationAction::cancel,
                    [&](store::Tx& tx, Loaded& loaded, const TransitionOutcome&,
                        std::vector<Notification>& notifications) -> Status {
                      append_notice(tx, loaded, kNoticeStateChanged,
                                    with_reason("cancelled by " + caller.user.display_name, reason),
                                    caller.user.id, clock_.now(), notifications);
                      return ok();
                    });
}

Result<Outcome<ConsultationView>> ConsultationService::close(const Caller& caller,
                                                             const std::string& id) {
  return transition(caller, id, ConsultationAction::close,
                    [&](store::Tx& tx, Loaded& loaded, const TransitionOutcome&,
                        std::vector<Notification>& notifications) -> Status {
                      append_notice(tx, loaded, kNoticeStateChanged, "closed", caller.user.id,
                                    clock_.now(), notifications);
                      return ok();
                    });
}

Result<Outcome<ConsultationView>> ConsultationService::submit_report(const Caller& caller,
                                                                     const std::string& id,
                                                                     const Report& report) {
  if (report.findings.empty() && report.impression.empty()) {
    return make_error(Code::invalid_argument, "a report needs findings or an impression");
  }
  for (const auto* field :
       {&report.findings, &report.impression, &report.recommendations, &report.follow_up}) {
    if (field->size() > kMaxReportFieldBytes) {
      return make_error(Code::invalid_argument, "a report field is over 64 KiB");
    }
  }
  return transition(caller, id, ConsultationAction::submit_report,
                    [&](store::Tx& tx, Loaded& loaded, const TransitionOutcome&,
                        std::vector<Notification>& notifications) -> Status {
                      loaded.record.sealed_report = Vault::seal(loaded.key, report_text(report),
                                                                aad(loaded.record.id, "report"));
                      tx.set_consultation_report(loaded.record.id, loaded.record.sealed_report);
                      append_notice(tx, loaded, kNoticeReportSubmitted, "report submitted",
                                    caller.user.id, clock_.now(), notifications);
                      return ok();
                    });
}

// ---- the message log --------------------------------------------------------------------------

namespace {

// What post_message checks before anything is read or stored.
Status check_message(const std::string& client_msg_id, const MessageBody& body) {
  const bool signal = body.kind == MessageBody::Kind::signal;
  if (body.kind == MessageBody::Kind::notice) {
    return make_error(Code::invalid_argument, "system notices are written by the server only");
  }
  if (!signal && client_msg_id.empty()) {
    return make_error(Code::invalid_argument, "client_msg_id is required");
  }
  if (client_msg_id.size() > kMaxClientMsgIdBytes) {
    return make_error(Code::invalid_argument, "client_msg_id is over 64 characters");
  }
  if (signal && body.signal_kind == 0) {
    return make_error(Code::invalid_argument, "signal kind is required");
  }
  if (signal && (body.signal_kind < 0 || body.signal_kind > kLastSignalKind)) {
    return make_error(Code::invalid_argument,
                      "signal kind " + std::to_string(body.signal_kind) + " is unknown");
  }
  const auto size = body.text.size() + body.title.size() + body.payload.size();
  if (size == 0) return make_error(Code::invalid_argument, "message body is empty");
  if (body.kind == MessageBody::Kind::note && body.text.empty()) {
    return make_error(Code::invalid_argument, "a clinical note's text is required");
  }
  if (size > kMaxBodyBytes) {
    return make_error(Code::invalid_argument, "message body is over 64 KiB");
  }
  return ok();
}

}  // namespace

bool ConsultationService::post_in(store::Tx& tx, const Caller& caller, const std::string& id,
                                  const std::string& client_msg_id, const MessageBody& body,
                                  TimePoint now, PostResult& result,
                                  std::string* patient_reference) const {
  const bool signal = body.kind == MessageBody::Kind::signal;
  auto loaded = load(tx, id, ViewParts::skip, Candidates::when_needed);
  if (!loaded) {
    result.emplace(not_found());
    return false;
  }
  if (patient_reference != nullptr) *patient_reference = loaded->record.patient_reference;
  Outcome<PostedMessage> outcome{{0, now}, {}};
  // A retry answers the original seq and posted_at, and publishes the message again: the first
  // attempt may have committed on a node that died before its event went out, and recipients
  // may see an event twice but never miss one.
  auto answer_retry = [&](const store::LogRecord& original) {
    outcome.value = {original.seq, original.posted_at};
    auto stored = decode_body(Vault::open(loaded->key, original.sealed_body,
                                          aad(id, "log") + "|" + std::to_string(original.seq)));
    if (!stored) throw std::runtime_error("stored message is malformed");
    outcome.notifications.push_back(Notification::posted(
        loaded->participant_ids(),
        LogEntry{id, original.seq, original.sender_id, original.posted_at, *stored}));
    result.emplace(std::move(outcome));
    return false;
  };
  auto decision = decide_for(tx, caller, *loaded, ConsultationAction::post_message);
  if (!decision) {
    // The message may have been stored before the consultation moved on (closed, cancelled)
    // and its answer lost with the link: the retry still answers it. Only the sender's own
    // message is looked up, so this reveals nothing the caller did not write.
    if (!signal) {
      if (auto original = tx.find_log_by_client_msg_id(id, caller.user.id, client_msg_id)) {
        return answer_retry(*original);
      }
    }
    result.emplace(decision.error());
    return false;
  }
  if (signal) {  // relayed, not stored, no state change
    std::vector<std::string> others;
    for (const auto& p : loaded->participants) {
      if (p.user_id != caller.user.id) others.push_back(p.user_id);
    }
    outcome.notifications.push_back(
        Notification::posted(others, LogEntry{id, 0, caller.user.id, now, body}));
    result.emplace(std::move(outcome));
    return false;  // nothing to keep
  }
  auto& record = loaded->record;
  const auto seq = record.last_seq + 1;
  // One statement stores the message or finds that it is a retry: the insert does nothing when
  // the sender's client_msg_id is already in the log (the sealed copy is then only discarded).
  if (!tx.append_log({id, seq, caller.user.id, client_msg_id, now,
                      Vault::seal(loaded->key, encode_body(body),
                                  aad(id, "log") + "|" + std::to_string(seq))})) {
    auto original = tx.find_log_by_client_msg_id(id, caller.user.id, client_msg_id);
    if (!original) throw std::runtime_error("a retried message is not in the log");
    return answer_retry(*original);
  }
  record.last_seq = seq;
  const bool state_changed = record.state != decision->next;
  if (state_changed) {  // a message moves updated_at only when it changes the state
    record.state = decision->next;
    record.updated_at = now;
    tx.update_consultation(record);
  } else {
    tx.set_consultation_last_seq(id, seq, record.updated_at);
  }
  outcome.value = {seq, now};
  outcome.notifications.push_back(Notification::posted(
      loaded->participant_ids(), LogEntry{id, seq, caller.user.id, now, body}));
  if (state_changed) {
    read_view_parts(tx, *loaded);  // the event carries the whole view
    outcome.notifications.push_back(Notification::about(
        Notification::Kind::updated, loaded->participant_ids(), shared_view(*loaded)));
  }
  result.emplace(std::move(outcome));
  return true;
}

Result<Outcome<PostedMessage>> ConsultationService::post_message(const Caller& caller,
                                                                 const std::string& id,
                                                                 const std::string& client_msg_id,
                                                                 const MessageBody& body) {
  if (auto checked = check_message(client_msg_id, body); !checked) return checked.error();
  const auto now = clock_.now();
  PostResult result;
  auto run = [&](store::Tx& tx) {
    return post_in(tx, caller, id, client_msg_id, body, now, result);
  };
  if (body.kind == MessageBody::Kind::signal) {
    store_.read([&](store::Tx& tx) { run(tx); });  // relayed only: no write slot needed
  } else {
    store_.write(run);
  }
  audit(caller, "message.post", id, result->has_value());
  return std::move(*result);
}

void ConsultationService::post_message_async(const Caller& caller, std::string id,
                                             std::string client_msg_id, MessageBody body,
                                             PostInTx in_tx, PostDone done) {
  struct State {
    Caller caller;
    std::string id;
    std::string client_msg_id;
    MessageBody body;
    PostInTx in_tx;
    PostDone done;
    PostResult result;
  };
  auto state = std::make_shared<State>(State{caller, std::move(id), std::move(client_msg_id),
                                             std::move(body), std::move(in_tx), std::move(done),
                                             std::nullopt});
  if (state->body.kind == MessageBody::Kind::signal) {
    throw std::logic_error("post_message_async: signals are relayed by post_message");
  }
  // The audit record joins the message's own commit (and is not stored if that fails).
  auto op = [this, state](store::Tx& tx) {
    // Stamped when the writer stores it, as its seq is given: a post queued behind other writes
    // is not dated before the notices they append.
    const auto now = clock_.now();
    if (auto checked = check_message(state->client_msg_id, state->body); !checked) {
      state->result.emplace(checked.error());
      audit_in(tx, state->caller, "message.post", state->id, false);
      return false;
    }
    std::string patient_reference;
    bool keep = post_in(tx, state->caller, state->id, state->client_msg_id, state->body, now,
                        state->result, &patient_reference);
    if (state->in_tx && state->result->has_value() && !(*state->result)->notifications.empty()) {
      state->in_tx(tx, (*state->result)->notifications);
      keep = true;  // a retry's republished events are written even though nothing else is
    }
    audit_in(tx, state->caller, "message.post", state->id, state->result->has_value(),
             std::move(patient_reference));
    return keep;
  };
  store_.write_async(op, [state](bool, std::exception_ptr failure) {
    if (failure) {
      state->done(std::move(failure), std::nullopt);
      return;
    }
    state->done(nullptr, std::move(state->result));
  });
}

Result<Outcome<Done>> ConsultationService::ack(const Caller& caller, const std::string& id,
                                               std::int64_t up_to_seq) {
  std::optional<Result<Outcome<Done>>> result;
  store_.write([&](store::Tx& tx) {
    auto loaded = load(tx, id, ViewParts::skip, Candidates::when_needed);
    if (!loaded) {
      result.emplace(not_found());
      return false;
    }
    auto decision = decide_for(tx, caller, *loaded, ConsultationAction::ack);
    if (!decision) {
      result.emplace(decision.error());
      return false;
    }
    if (up_to_seq > loaded->record.last_seq) {
      result.emplace(make_error(Code::out_of_range, "up_to_seq is beyond the last message"));
      return false;
    }
    const bool moved = tx.advance_read_seq(id, caller.user.id, up_to_seq);
    result.emplace(Outcome<Done>{Done{}, {}});
    return moved;
  });
  // An acknowledgement is no access to content; a refused one is a denial, recorded as such.
  if (!*result && (result->error().code == Code::not_found ||
                   result->error().code == Code::permission_denied)) {
    audit(caller, "message.ack", id, false);
  }
  return std::move(*result);
}

Result<LogPage> ConsultationService::sync(const Caller& caller, const std::string& id,
                                          std::int64_t after_seq, int limit) {
  if (after_seq < 0 || limit < 0) return make_error(Code::invalid_argument, "negative position");
  const int size = limit == 0 ? 100 : std::min(limit, 500);
  std::optional<Result<LogPage>> result;
  store_.read([&](store::Tx& tx) {
    auto loaded = load(tx, id, ViewParts::skip, Candidates::when_needed);
    if (!loaded) {
      result.emplace(not_found());
      return;
    }
    auto decision = decide_for(tx, caller, *loaded, ConsultationAction::read);
    if (!decision) {
      result.emplace(decision.error());
      return;
    }
    auto records = tx.list_log(id, after_seq, size + 1);
    LogPage page;
    page.has_more = static_cast<int>(records.size()) > size;
    if (page.has_more) records.resize(static_cast<std::size_t>(size));
    std::size_t text_bytes = 0;
    for (const auto& record : records) {
      auto body = decode_body(Vault::open(loaded->key, record.sealed_body,
                                          aad(id, "log") + "|" + std::to_string(record.seq)));
      if (!body) throw std::runtime_error("stored message is malformed");
      text_bytes += body->text.size() + body->title.size() + body->payload.size();
      if (!page.entries.empty() && text_bytes > kMaxPageTextBytes) {
        page.has_more = true;  // this one starts the next page
        break;
      }
      page.entries.push_back({id, record.seq, record.sender_id, record.posted_at, *body});
    }
    result.emplace(std::move(page));
  });
  audit(caller, "message.read", id, result->has_value());
  return std::move(*result);
}

// ---- deadlines --------------------------------------------------------------------------------

std::vector<Notification> ConsultationService::process_deadlines(TimePoint now) {
  std::vector<store::Consultation> due;
  store_.read([&](store::Tx& tx) { due = tx.list_due_consultations(now, 100); });
  std::vector<Notification> notifications;
  for (const auto& candidate : due) {
    // Each consultation on its own: one that cannot be processed (a store failure, a key that
    // cannot be unwrapped) must not hold back the escalation of the others, and only what was
    // committed is announced.
    std::vector<Notification> announced;
    try {
      process_deadline(candidate.id, now, announced);
    } catch (const std::exception& error) {
      spdlog::error("consultations: deadline of {} not processed: {}", candidate.id,
                    error.what());
      continue;
    }
    for (auto& notification : announced) notifications.push_back(std::move(notification));
  }
  return notifications;
}

void ConsultationService::process_deadline(const std::string& consultation_id, TimePoint now,
                                           std::vector<Notification>& notifications) {
  store_.write([&](store::Tx& tx) {
    notifications.clear();
    auto loaded = load(tx, consultation_id);
    if (!loaded) return false;
    const auto action = next_deadline_action(loaded->record, now);
    if (!action) return false;  // another node or tick already handled it
    DecisionContext context;
    context.escalated = loaded->record.escalated;
    auto& record = loaded->record;
    const auto requester_org = tx.find_organization(record.requesting_organization_id);
    if (!requester_org) return false;
    const RoutingDirectory directory(tx);
    store::UserFilter coordinator_filter;
    coordinator_filter.role = store::Role::coordinator;
    const auto input = directory.input(*requester_org, record.specialty, "", "",
                                       *action == ConsultationAction::escalate);

    std::vector<std::string> added;
    if (*action == ConsultationAction::escalate) {
      auto widened = route(input);
      if (widened) {
        for (const auto& id : *widened) {
          const bool known = std::any_of(loaded->candidates.begin(), loaded->candidates.end(),
                                         [&](const auto& c) { return c.user_id == id; });
          if (!known) added.push_back(id);
        }
      }
      context.open_candidates = loaded->open_candidates() + static_cast<int>(added.size());
    }
    auto decision = decide(record.state, *action, Actor::system(), context);
    if (!decision) return false;
    if (*action == ConsultationAction::escalate) {
      tx.add_candidates(record.id, added);
      for (const auto& id : added) loaded->candidates.push_back({id, false});
      record.escalated = true;
      record.candidate_count = loaded->open_candidates();
      record.respond_by = deadlines_.second_deadline(record.urgency, now);
    } else {
      record.respond_by.reset();
    }
    record.state = decision->next;
    record.updated_at = now;
    tx.update_consultation(record);
    std::vector<Notification> ended;
    if (is_terminal(record.state)) run_hook(ended_, tx, *loaded, now, ended);
    auto shared = shared_view(*loaded);
    if (!added.empty()) {
      notifications.push_back(Notification::about(Notification::Kind::offered, added, shared));
    }
    std::vector<std::string> recipients = loaded->participant_ids();
    // The coordinators who may act on it: the requesting hospital's and, while it still awaits
    // a specialist, those of the hospitals it is offered to (not every partner's).
    std::set<std::string> organizations{record.requesting_organization_id};
    if (*action == ConsultationAction::escalate) {
      for (const auto& candidate : loaded->candidates) {
        if (candidate.declined) continue;
        if (auto user = tx.find_user(candidate.user_id)) organizations.insert(user->organization_id);
      }
    }
    for (const auto& user : tx.list_users(coordinator_filter)) {
      if (!user.disabled && organizations.count(user.organization_id)) {
        append_unique(recipients, user.id);
      }
    }
    if (*action == ConsultationAction::expire) {
      for (const auto& id : loaded->open_candidate_ids()) append_unique(recipients, id);
    }
    notifications.push_back(Notification::about(Notification::Kind::updated, recipients, shared));
    for (auto& note : ended) notifications.push_back(std::move(note));
    audit_.record({"",
                   "",
                   *action == ConsultationAction::escalate ? "consultation.escalate"
                                                           : "consultation.expire",
                   {record.id},
                   AuditOutcome::success,
                   ""});
    return true;
  });
}

}  // namespace tmc::domain
