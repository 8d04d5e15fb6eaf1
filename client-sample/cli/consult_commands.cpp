// tmc-client consult: open, list, show, accept, decline, assign, invite, post, log, report...
#include <chrono>
#include <ostream>
#include <string>

#include "cli/command.hpp"
#include "cli/consult_args.hpp"
#include "cli/consult_chat.hpp"
#include "cli/consult_view.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "cli/reconnect.hpp"
#include "tmc/client/consultations.hpp"

namespace tmc::cli {
namespace v1 = telemed::v1;

namespace {

// The consultation with the names to show it: people and organisations (pipelined).
struct ConsultationView {
  v1::Consultation consultation;
  People people;
  OrganizationNames organizations;
};

ConsultationView load_view(CommandContext& context, const v1::User& caller,
                           v1::Consultation consultation) {
  ConsultationView view{std::move(consultation), {}, {}};
  view.people = people_of(context, caller, view.consultation);
  try {
    view.organizations = context.organizations();
  } catch (const StatusError&) {
    // Some roles may not list organisations; ids still identify them.
  }
  return view;
}

// After a state change: the consultation as JSON, or one line saying where it is now.
void print_changed(CommandContext& context, const v1::User& caller,
                   const v1::Consultation& consultation) {
  if (context.json()) {
    print_json(context.out(), consultation);
    return;
  }
  context.out() << "consultation " << consultation.id() << " is "
                << state_label(consultation.state());
  if (!consultation.assigned_specialist_id().empty()) {
    const People people = people_of(context, caller, consultation);
    context.out() << " (specialist: " << people.name(consultation.assigned_specialist_id())
                  << ')';
  }
  context.out() << '\n';
}

int run_open(CommandContext& context, const ConsultInvocation& invocation) {
  const v1::Consultation consultation = context.call(invocation.request).consultation();
  if (invocation.print_id) {
    context.out() << consultation.id() << '\n';
  } else if (context.json()) {
    print_json(context.out(), consultation);
  } else {
    context.out() << "opened consultation " << consultation.id() << ": "
                  << state_label(consultation.state()) << " to "
                  << consultation.candidate_count() << " specialist(s)";
    if (consultation.has_respond_by()) {
      context.out() << ", respond by " << format_time(consultation.respond_by());
    }
    context.out() << '\n';
  }
  return 0;
}

int run_list(CommandContext& context, const ConsultInvocation& invocation) {
  const auto result = context.call(invocation.request).list_consultations();
  if (context.json()) {
    print_json(context.out(), result);
    return 0;
  }
  Table table({"ID", "STATE", "URGENCY", "SPECIALTY", "PATIENT", "UPDATED", "QUESTION"});
  for (const auto& consultation : result.consultations()) {
    table.add_row({consultation.id(), state_label(consultation.state()),
                   urgency_label(consultation.urgency()), consultation.specialty(),
                   consultation.patient().reference(), format_time(consultation.updated_at()),
                   consultation.question()});
  }
  if (table.empty()) {
    context.out() << "no consultations\n";
  } else {
    table.print(context.out());
  }
  if (!result.next_page_token().empty()) {
    context.out() << "more: --page-token " << result.next_page_token() << '\n';
  }
  return 0;
}

int run_show(CommandContext& context, const v1::User& caller,
             const ConsultInvocation& invocation) {
  v1::Consultation consultation = context.call(invocation.request).consultation();
  if (context.json()) {
    print_json(context.out(), consultation);
    return 0;
  }
  const ConsultationView view = load_view(context, caller, std::move(consultation));
  print_consultation(context.out(), view.consultation, view.people, view.organizations);
  return 0;
}

// A post survives a weak link by being sent again with the same client_msg_id, which the server
// answers with the first post's seq instead of posting twice.
constexpr RetryPolicy post_retries{.first_retry = std::chrono::milliseconds(500),
                                   .longest_retry = std::chrono::milliseconds(4000),
                                   .max_retries = 5};

int run_post(CommandContext& context, const ConsultInvocation& invocation) {
  // Shown before sending, so that a run which loses its answer can be repeated without a
  // duplicate.
  const std::string& client_msg_id = invocation.request.post_message().client_msg_id();
  context.err() << "posting with --client-msg-id " << client_msg_id << '\n';
  v1::PostMessageResult result;
  Reconnecting(context, post_retries).run([&](bool) {
    result = context.call(invocation.request).post_message();
  });
  if (context.json()) {
    print_json(context.out(), result);
  } else {
    context.out() << "posted #" << result.seq() << " at " << format_time(result.posted_at())
                  << '\n';
  }
  return 0;
}

int run_ack(CommandContext& context, ConsultInvocation invocation) {
  auto& ack = *invocation.request.mutable_ack_messages();
  if (ack.up_to_seq() == 0) {
    ack.set_up_to_seq(context.call(client::requests::get_consultation(ack.consultation_id()))
                          .consultation()
                          .last_seq());
  }
  const std::uint64_t seq = ack.up_to_seq();
  const auto result = context.call(std::move(invocation.request)).ack_messages();
  if (context.json()) {
    print_json(context.out(), result);
  } else {
    context.out() << "acknowledged up to #" << seq << '\n';
  }
  return 0;
}

int run_log(CommandContext& context, const v1::User& caller,
            const ConsultInvocation& invocation) {
  const auto& sync = invocation.request.sync_consultation();
  v1::SyncConsultationResult log =
      fetch_log(context, sync.consultation_id(), sync.after_seq(), sync.limit());
  if (context.json()) {
    print_json(context.out(), log);
    return 0;
  }
  if (log.entries().empty()) {
    context.out() << "no entries after #" << sync.after_seq() << '\n';
    return 0;
  }
  const v1::Consultation consultation =
      context.call(client::requests::get_consultation(sync.consultation_id())).consultation();
  const People people = people_of(context, caller, consultation);
  for (const auto& entry : log.entries()) print_entry(context.out(), entry, people);
  if (log.has_more()) {
    context.out() << "more: --after " << log.entries().rbegin()->seq() << '\n';
  }
  return 0;
}

}  // namespace

int run_consult(CommandContext& context, const std::vector<std::string>& args) {
  const ConsultInvocation invocation = parse_consult(args);
  const v1::User caller = context.resume_session().user();
  switch (invocation.subcommand->action) {
    case ConsultAction::open: return run_open(context, invocation);
    case ConsultAction::list: return run_list(context, invocation);
    case ConsultAction::show: return run_show(context, caller, invocation);
    case ConsultAction::post: return run_post(context, invocation);
    case ConsultAction::log: return run_log(context, caller, invocation);
    case ConsultAction::ack: return run_ack(context, invocation);
    case ConsultAction::chat: return run_chat(context, caller, invocation);
    case ConsultAction::accept:
    case ConsultAction::decline:
    case ConsultAction::assign:
    case ConsultAction::invite:
    case ConsultAction::report:
    case ConsultAction::close:
    case ConsultAction::cancel:
      print_changed(context, caller, context.call(invocation.request).consultation());
      return 0;
  }
  return 0;
}

}  // namespace tmc::cli
