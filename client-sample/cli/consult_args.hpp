// The `tmc-client consult` subcommands and their parsing into requests, without any I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "telemed/v1/frames.pb.h"

namespace tmc::cli {

enum class ConsultAction {
  open, list, show, accept, decline, assign, invite, post, ack, log, chat, report, close,
  cancel,
};

struct ConsultSubcommand {
  std::string_view name;
  std::string_view synopsis;  // arguments and options, after the name
  ConsultAction action;
};

// Every subcommand, in the order help lists them.
std::span<const ConsultSubcommand> consult_subcommands();

// One parsed `consult` command line.
struct ConsultInvocation {
  const ConsultSubcommand* subcommand = nullptr;
  // The request that carries it out; show and chat: get_consultation; log: the first
  // sync_consultation (limit 0 = every page); post: post_message with its client_msg_id; ack:
  // ack_messages (up_to_seq 0 = the newest entry).
  telemed::v1::ClientFrame request;
  bool print_id = false;                   // open: print only the new consultation's id
  std::optional<std::uint64_t> after_seq;  // chat --after: instead of the caller's read position
};

// args[0] is the subcommand. Throws UsageError naming the subcommand and its synopsis.
ConsultInvocation parse_consult(const std::vector<std::string>& args);

// Accept the enum's value name with or without prefix, in any case, '-' for '_':
// "emergency", "URGENCY_EMERGENCY"; "f", "female", "m", "male", "other"; "offered",
// "in-session". Throw UsageError.
telemed::v1::Urgency parse_urgency(std::string_view text);
telemed::v1::Sex parse_sex(std::string_view text);
telemed::v1::ConsultationState parse_state(std::string_view text);

// The subcommands' help (for `consult --help` and the command table).
std::string consult_help();

}  // namespace tmc::cli
