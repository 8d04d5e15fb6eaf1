// The `tmc-client consult` subcommands and their parsing into requests, without any I/O.
#include "cli/consult_args.hpp"

#include <algorithm>
#include <array>
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/positional_options.hpp>
#include <boost/program_options/value_semantic.hpp>
#include <cctype>
#include <sstream>

#include "cli/context.hpp"
#include "cli/output.hpp"
#include "tmc/client/consultations.hpp"

namespace tmc::cli {
namespace po = boost::program_options;
namespace requests = client::requests;
using telemed::v1::ClientFrame;

namespace {

constexpr std::array subcommands{
    ConsultSubcommand{"open",
                      "--specialty S --urgency emergency|urgent|routine --patient REF "
                      "--question TEXT [--age N] [--sex f|m|other] [--summary TEXT] "
                      "[--target ORG_ID] [--preferred USER_ID] [--case-file FILE_ID]... "
                      "[--print-id]",
                      ConsultAction::open},
    ConsultSubcommand{"list", "[--state S] [--page-size N] [--page-token T]",
                      ConsultAction::list},
    ConsultSubcommand{"show", "ID", ConsultAction::show},
    ConsultSubcommand{"accept", "ID", ConsultAction::accept},
    ConsultSubcommand{"decline", "ID [--reason TEXT]", ConsultAction::decline},
    ConsultSubcommand{"assign", "ID --specialist USER_ID", ConsultAction::assign},
    ConsultSubcommand{"invite", "ID --user USER_ID", ConsultAction::invite},
    ConsultSubcommand{"post", "ID TEXT... [--note [--title T]] [--client-msg-id ID]",
                      ConsultAction::post},
    ConsultSubcommand{"ack", "ID [--up-to SEQ]", ConsultAction::ack},
    ConsultSubcommand{"log", "ID [--after SEQ] [--limit N]", ConsultAction::log},
    ConsultSubcommand{"chat", "ID [--after SEQ]", ConsultAction::chat},
    ConsultSubcommand{"report",
                      "ID --findings TEXT --impression TEXT [--recommendations TEXT] "
                      "[--follow-up TEXT]",
                      ConsultAction::report},
    ConsultSubcommand{"close", "ID", ConsultAction::close},
    ConsultSubcommand{"cancel", "ID [--reason TEXT]", ConsultAction::cancel},
};

// The value of enum type whose name is prefix + text (upper-cased, '-' and ' ' as '_'), or
// text itself when it already carries the prefix; never the _UNSPECIFIED value.
template <class Enum>
Enum parse_enum(std::string_view text, const google::protobuf::EnumDescriptor& type,
                std::string_view prefix, std::string_view what) {
  std::string name;
  for (char c : text) {
    const auto upper = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    name += c == '-' || c == ' ' ? '_' : upper;
  }
  if (!name.starts_with(prefix)) name.insert(0, prefix);
  const auto* value = type.FindValueByName(name);
  if (value == nullptr || value->number() == 0) {
    std::vector<std::string> choices;
    for (int i = 0; i < type.value_count(); ++i) {
      const auto& value_name = type.value(i)->name();
      if (type.value(i)->number() != 0) choices.push_back(enum_label(value_name, prefix));
    }
    throw UsageError("bad " + std::string(what) + " \"" + std::string(text) +
                     "\"; expected one of: " + join(choices, ", "));
  }
  return static_cast<Enum>(value->number());
}

// Options every subcommand taking a consultation id shares: the id as first positional.
po::options_description id_options() {
  po::options_description options;
  options.add_options()("id", po::value<std::string>()->required(), "consultation id");
  return options;
}

po::positional_options_description id_positional() {
  po::positional_options_description positional;
  positional.add("id", 1);
  return positional;
}

std::string string_option(const po::variables_map& vm, const char* name) {
  return vm.count(name) != 0 ? vm[name].as<std::string>() : std::string();
}

ClientFrame parse_open(const std::vector<std::string>& args, bool& print_id) {
  po::options_description options;
  // clang-format off
  options.add_options()
      ("specialty", po::value<std::string>()->required(), "e.g. orthopedics")
      ("urgency", po::value<std::string>()->required(), "emergency, urgent or routine")
      ("patient", po::value<std::string>()->required(), "pseudonymous patient reference")
      ("age", po::value<int>(), "age in completed years")
      ("sex", po::value<std::string>(), "f, m or other")
      ("question", po::value<std::string>()->required(), "the question for the specialist")
      ("summary", po::value<std::string>(), "clinical summary")
      ("target", po::value<std::string>(), "only this paired partner organisation")
      ("preferred", po::value<std::string>(), "only this specialist (user id)")
      ("case-file", po::value<std::vector<std::string>>()->composing(), "uploaded file id")
      ("print-id", po::bool_switch(), "print only the new consultation's id");
  // clang-format on
  const auto vm = parse_command_options(args, options);
  telemed::v1::OpenConsultationRequest open;
  open.set_specialty(vm["specialty"].as<std::string>());
  open.set_urgency(parse_urgency(vm["urgency"].as<std::string>()));
  auto& patient = *open.mutable_patient();
  patient.set_reference(vm["patient"].as<std::string>());
  if (vm.count("age") != 0) {
    const int age = vm["age"].as<int>();
    if (age < 0 || age > 150) throw UsageError("bad age " + std::to_string(age));
    patient.set_age_years(static_cast<std::uint32_t>(age));
  }
  if (vm.count("sex") != 0) patient.set_sex(parse_sex(vm["sex"].as<std::string>()));
  open.set_question(vm["question"].as<std::string>());
  open.set_clinical_summary(string_option(vm, "summary"));
  open.set_target_organization_id(string_option(vm, "target"));
  open.set_preferred_specialist_id(string_option(vm, "preferred"));
  if (vm.count("case-file") != 0) {
    for (const auto& file : vm["case-file"].as<std::vector<std::string>>()) {
      open.add_case_file_ids(file);
    }
  }
  print_id = vm["print-id"].as<bool>();
  return requests::open_consultation(std::move(open));
}

ClientFrame parse_list(const std::vector<std::string>& args) {
  po::options_description options;
  // clang-format off
  options.add_options()
      ("state", po::value<std::string>(), "only this state (e.g. offered, accepted, reported)")
      ("page-size", po::value<std::uint32_t>()->default_value(0), "0: the server's default")
      ("page-token", po::value<std::string>(), "next page token of the previous page");
  // clang-format on
  const auto vm = parse_command_options(args, options);
  const auto state = vm.count("state") != 0 ? parse_state(vm["state"].as<std::string>())
                                            : telemed::v1::CONSULTATION_STATE_UNSPECIFIED;
  return requests::list_consultations(state, vm["page-size"].as<std::uint32_t>(),
                                      string_option(vm, "page-token"));
}

// ID plus, when option is given, one more string option (required or not).
po::variables_map parse_id_and(const std::vector<std::string>& args, const char* option = nullptr,
                               bool required = false) {
  po::options_description options = id_options();
  if (option != nullptr) {
    auto* value = po::value<std::string>();
    if (required) value->required();
    options.add_options()(option, value);
  }
  return parse_command_options(args, options, id_positional());
}

ClientFrame parse_post(const std::vector<std::string>& args) {
  po::options_description options = id_options();
  // clang-format off
  options.add_options()
      ("text", po::value<std::vector<std::string>>()->required(), "the message (words joined)")
      ("note", po::bool_switch(), "post a clinical note instead of a chat message")
      ("title", po::value<std::string>(), "the note's title")
      ("client-msg-id", po::value<std::string>(),
       "idempotency id; an earlier run's (it prints it) posts nothing twice (default: new UUID)");
  // clang-format on
  po::positional_options_description positional;
  positional.add("id", 1).add("text", -1);
  const auto vm = parse_command_options(args, options, positional);
  const std::string id = vm["id"].as<std::string>();
  const std::string text = join(vm["text"].as<std::vector<std::string>>(), " ");
  std::string client_msg_id = string_option(vm, "client-msg-id");
  if (client_msg_id.empty()) client_msg_id = client::new_client_msg_id();
  const bool note = vm["note"].as<bool>();
  if (!note && vm.count("title") != 0) throw UsageError("--title goes with --note");
  return note ? requests::post_note(id, client_msg_id, string_option(vm, "title"), text)
              : requests::post_text(id, client_msg_id, text);
}

ClientFrame parse_log(const std::vector<std::string>& args) {
  po::options_description options = id_options();
  // clang-format off
  options.add_options()
      ("after", po::value<std::uint64_t>()->default_value(0), "only entries after this seq")
      ("limit", po::value<std::uint32_t>()->default_value(0), "at most N entries (0: all)");
  // clang-format on
  const auto vm = parse_command_options(args, options, id_positional());
  return requests::sync_consultation(vm["id"].as<std::string>(), vm["after"].as<std::uint64_t>(),
                                     vm["limit"].as<std::uint32_t>());
}

ClientFrame parse_report(const std::vector<std::string>& args) {
  po::options_description options = id_options();
  // clang-format off
  options.add_options()
      ("findings", po::value<std::string>()->required(), "what was found")
      ("impression", po::value<std::string>()->required(), "assessment or diagnosis")
      ("recommendations", po::value<std::string>(), "treatment, investigations, transfer")
      ("follow-up", po::value<std::string>(), "follow-up plan");
  // clang-format on
  const auto vm = parse_command_options(args, options, id_positional());
  telemed::v1::Report report;
  report.set_findings(vm["findings"].as<std::string>());
  report.set_impression(vm["impression"].as<std::string>());
  report.set_recommendations(string_option(vm, "recommendations"));
  report.set_follow_up(string_option(vm, "follow-up"));
  return requests::submit_report(vm["id"].as<std::string>(), std::move(report));
}

ConsultInvocation parse_action(const ConsultSubcommand& subcommand,
                               const std::vector<std::string>& args) {
  ConsultInvocation invocation;
  invocation.subcommand = &subcommand;
  ClientFrame& request = invocation.request;
  switch (subcommand.action) {
    case ConsultAction::open: request = parse_open(args, invocation.print_id); break;
    case ConsultAction::list: request = parse_list(args); break;
    case ConsultAction::show: {
      request = requests::get_consultation(parse_id_and(args)["id"].as<std::string>());
      break;
    }
    case ConsultAction::accept: {
      request = requests::accept_consultation(parse_id_and(args)["id"].as<std::string>());
      break;
    }
    case ConsultAction::decline: {
      const auto vm = parse_id_and(args, "reason");
      request = requests::decline_consultation(vm["id"].as<std::string>(),
                                               string_option(vm, "reason"));
      break;
    }
    case ConsultAction::cancel: {
      const auto vm = parse_id_and(args, "reason");
      request = requests::cancel_consultation(vm["id"].as<std::string>(),
                                              string_option(vm, "reason"));
      break;
    }
    case ConsultAction::assign: {
      const auto vm = parse_id_and(args, "specialist", true);
      request = requests::assign_consultation(vm["id"].as<std::string>(),
                                              vm["specialist"].as<std::string>());
      break;
    }
    case ConsultAction::invite: {
      const auto vm = parse_id_and(args, "user", true);
      request = requests::invite_participant(vm["id"].as<std::string>(),
                                             vm["user"].as<std::string>());
      break;
    }
    case ConsultAction::post: request = parse_post(args); break;
    case ConsultAction::log: request = parse_log(args); break;
    case ConsultAction::ack: {
      po::options_description options = id_options();
      options.add_options()("up-to", po::value<std::uint64_t>()->default_value(0),
                            "highest seq read (0: the newest entry)");
      const auto vm = parse_command_options(args, options, id_positional());
      request = requests::ack_messages(vm["id"].as<std::string>(), vm["up-to"].as<std::uint64_t>());
      break;
    }
    case ConsultAction::chat: {
      po::options_description options = id_options();
      options.add_options()("after", po::value<std::uint64_t>(), "start after this seq");
      const auto vm = parse_command_options(args, options, id_positional());
      request = requests::get_consultation(vm["id"].as<std::string>());
      if (vm.count("after") != 0) invocation.after_seq = vm["after"].as<std::uint64_t>();
      break;
    }
    case ConsultAction::report: request = parse_report(args); break;
    case ConsultAction::close: {
      request = requests::close_consultation(parse_id_and(args)["id"].as<std::string>());
      break;
    }
  }
  return invocation;
}

}  // namespace

std::span<const ConsultSubcommand> consult_subcommands() { return subcommands; }

ConsultInvocation parse_consult(const std::vector<std::string>& args) {
  if (args.empty()) throw UsageError("missing subcommand\n" + consult_help());
  const auto it = std::ranges::find(subcommands, args.front(), &ConsultSubcommand::name);
  if (it == subcommands.end()) {
    throw UsageError("unknown consult subcommand \"" + args.front() + "\"\n" + consult_help());
  }
  try {
    return parse_action(*it, {args.begin() + 1, args.end()});
  } catch (const UsageError& e) {
    throw UsageError("consult " + std::string(it->name) + ": " + e.what() +
                     "\nusage: tmc-client consult " + std::string(it->name) + ' ' +
                     std::string(it->synopsis));
  }
}

telemed::v1::Urgency parse_urgency(std::string_view text) {
  return parse_enum<telemed::v1::Urgency>(text, *telemed::v1::Urgency_descriptor(), "URGENCY_",
                                          "urgency");
}

telemed::v1::Sex parse_sex(std::string_view text) {
  if (text == "f" || text == "F") return telemed::v1::SEX_FEMALE;
  if (text == "m" || text == "M") return telemed::v1::SEX_MALE;
  return parse_enum<telemed::v1::Sex>(text, *telemed::v1::Sex_descriptor(), "SEX_", "sex");
}

telemed::v1::ConsultationState parse_state(std::string_view text) {
  return parse_enum<telemed::v1::ConsultationState>(
      text, *telemed::v1::ConsultationState_descriptor(), "CONSULTATION_STATE_", "state");
}

std::string consult_help() {
  std::ostringstream text;
  text << "consult subcommands:\n";
  for (const auto& subcommand : subcommands) {
    text << "  consult " << subcommand.name << ' ' << subcommand.synopsis << '\n';
  }
  text << "post prints its client_msg_id on stderr and, when the connection drops or the server\n"
          "answers UNAVAILABLE, sends the message again with it (5 retries, waits doubling from\n"
          "0.5 s); to retry a run that lost its answer, give that id to --client-msg-id.\n"
          "chat reconnects after a dropped connection and resumes where it left off; a line\n"
          "answered UNAVAILABLE is kept and sent again with its id (up to 30 times).\n";
  return text.str();
}

}  // namespace tmc::cli
