// Parsing of `tmc-client consult` subcommands into requests, and their usage errors.
#include "cli/consult_args.hpp"

#include <gtest/gtest.h>

#include "cli/settings.hpp"

namespace tmc::cli {
namespace {

namespace v1 = telemed::v1;

TEST(ConsultArgs, OpenWithEveryOption) {
  const auto invocation = parse_consult(
      {"open", "--specialty", "orthopedics", "--urgency", "emergency", "--patient", "P-42",
       "--age", "19", "--sex", "m", "--question", "save the leg?", "--summary", "crushed",
       "--target", "shanghai", "--preferred", "u7", "--case-file", "f1", "--case-file", "f2",
       "--print-id"});
  EXPECT_EQ(invocation.subcommand->action, ConsultAction::open);
  EXPECT_TRUE(invocation.print_id);
  const auto& open = invocation.request.open_consultation();
  EXPECT_EQ(open.specialty(), "orthopedics");
  EXPECT_EQ(open.urgency(), v1::URGENCY_EMERGENCY);
  EXPECT_EQ(open.patient().reference(), "P-42");
  EXPECT_EQ(open.patient().age_years(), 19u);
  EXPECT_EQ(open.patient().sex(), v1::SEX_MALE);
  EXPECT_EQ(open.question(), "save the leg?");
  EXPECT_EQ(open.clinical_summary(), "crushed");
  EXPECT_EQ(open.target_organization_id(), "shanghai");
  EXPECT_EQ(open.preferred_specialist_id(), "u7");
  ASSERT_EQ(open.case_file_ids_size(), 2);
  EXPECT_EQ(open.case_file_ids(1), "f2");
}

TEST(ConsultArgs, OpenRequiresItsOptions) {
  try {
    (void)parse_consult({"open", "--specialty", "orthopedics", "--urgency", "urgent"});
    FAIL() << "expected a usage error";
  } catch (const UsageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("consult open:"), std::string::npos) << message;
    EXPECT_NE(message.find("usage: tmc-client consult open --specialty"), std::string::npos);
  }
  EXPECT_THROW((void)parse_consult({"open", "--specialty", "s", "--urgency", "soon", "--patient",
                                    "p", "--question", "q"}),
               UsageError);
  EXPECT_THROW((void)parse_consult({"open", "--specialty", "s", "--urgency", "routine",
                                    "--patient", "p", "--question", "q", "--age", "-1"}),
               UsageError);
}

TEST(ConsultArgs, EnumSpellings) {
  EXPECT_EQ(parse_urgency("URGENCY_URGENT"), v1::URGENCY_URGENT);
  EXPECT_EQ(parse_urgency("Routine"), v1::URGENCY_ROUTINE);
  EXPECT_THROW((void)parse_urgency("unspecified"), UsageError);
  EXPECT_EQ(parse_sex("f"), v1::SEX_FEMALE);
  EXPECT_EQ(parse_sex("male"), v1::SEX_MALE);
  EXPECT_EQ(parse_sex("other"), v1::SEX_OTHER);
  EXPECT_EQ(parse_state("in-session"), v1::CONSULTATION_STATE_IN_SESSION);
  EXPECT_EQ(parse_state("offered"), v1::CONSULTATION_STATE_OFFERED);
  try {
    (void)parse_state("pending");
    FAIL() << "expected a usage error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("requested, offered, accepted, in session"),
              std::string::npos)
        << e.what();
  }
}

TEST(ConsultArgs, ListFilters) {
  const auto any = parse_consult({"list"}).request.list_consultations();
  EXPECT_EQ(any.state(), v1::CONSULTATION_STATE_UNSPECIFIED);
  const auto offered =
      parse_consult({"list", "--state", "offered", "--page-size", "5", "--page-token", "abc"})
          .request.list_consultations();
  EXPECT_EQ(offered.state(), v1::CONSULTATION_STATE_OFFERED);
  EXPECT_EQ(offered.page_size(), 5u);
  EXPECT_EQ(offered.page_token(), "abc");
}

TEST(ConsultArgs, IdSubcommands) {
  EXPECT_EQ(parse_consult({"show", "c1"}).request.get_consultation().consultation_id(), "c1");
  EXPECT_EQ(parse_consult({"accept", "c1"}).request.accept_consultation().consultation_id(), "c1");
  EXPECT_EQ(parse_consult({"close", "c1"}).request.close_consultation().consultation_id(), "c1");
  const auto decline = parse_consult({"decline", "c1", "--reason", "on leave"});
  EXPECT_EQ(decline.request.decline_consultation().reason(), "on leave");
  EXPECT_EQ(parse_consult({"decline", "c1"}).request.decline_consultation().reason(), "");
  EXPECT_EQ(parse_consult({"cancel", "c1", "--reason", "transferred"})
                .request.cancel_consultation()
                .reason(),
            "transferred");
  EXPECT_EQ(parse_consult({"assign", "c1", "--specialist", "u5"})
                .request.assign_consultation()
                .specialist_id(),
            "u5");
  EXPECT_EQ(parse_consult({"invite", "c1", "--user", "u6"}).request.invite_participant().user_id(),
            "u6");
  const auto ack = parse_consult({"ack", "c1", "--up-to", "9"}).request.ack_messages();
  EXPECT_EQ(ack.consultation_id(), "c1");
  EXPECT_EQ(ack.up_to_seq(), 9u);
  EXPECT_EQ(parse_consult({"ack", "c1"}).request.ack_messages().up_to_seq(), 0u);
  EXPECT_THROW((void)parse_consult({"assign", "c1"}), UsageError);
  EXPECT_THROW((void)parse_consult({"show"}), UsageError);
  EXPECT_THROW((void)parse_consult({"show", "c1", "c2"}), UsageError);
}

TEST(ConsultArgs, PostJoinsWordsAndPicksAnIdempotencyId) {
  const auto post = parse_consult({"post", "c1", "pulses", "are", "weak"}).request.post_message();
  EXPECT_EQ(post.consultation_id(), "c1");
  EXPECT_EQ(post.body().text(), "pulses are weak");
  EXPECT_EQ(post.client_msg_id().size(), 36u);
  const auto again = parse_consult({"post", "c1", "x"}).request.post_message();
  EXPECT_NE(again.client_msg_id(), post.client_msg_id());

  const auto retry =
      parse_consult({"post", "c1", "hello", "--client-msg-id", "m-1"}).request.post_message();
  EXPECT_EQ(retry.client_msg_id(), "m-1");
  const auto note = parse_consult({"post", "c1", "--note", "--title", "Vascular", "weak pulses"})
                        .request.post_message();
  EXPECT_EQ(note.body().note().title(), "Vascular");
  EXPECT_EQ(note.body().note().text(), "weak pulses");
  EXPECT_THROW((void)parse_consult({"post", "c1"}), UsageError);
  EXPECT_THROW((void)parse_consult({"post", "c1", "hi", "--title", "t"}), UsageError);
}

TEST(ConsultArgs, LogAndChatPositions) {
  const auto all = parse_consult({"log", "c1"}).request.sync_consultation();
  EXPECT_EQ(all.after_seq(), 0u);
  EXPECT_EQ(all.limit(), 0u);
  const auto some =
      parse_consult({"log", "c1", "--after", "4", "--limit", "10"}).request.sync_consultation();
  EXPECT_EQ(some.after_seq(), 4u);
  EXPECT_EQ(some.limit(), 10u);

  const auto chat = parse_consult({"chat", "c1"});
  EXPECT_EQ(chat.subcommand->action, ConsultAction::chat);
  EXPECT_EQ(chat.request.get_consultation().consultation_id(), "c1");
  EXPECT_FALSE(chat.after_seq);
  EXPECT_EQ(parse_consult({"chat", "c1", "--after", "0"}).after_seq, 0u);
}

TEST(ConsultArgs, ReportNeedsFindingsAndImpression) {
  const auto report = parse_consult({"report", "c1", "--findings", "open fracture",
                                     "--impression", "salvageable", "--follow-up", "2 weeks"})
                          .request.submit_report();
  EXPECT_EQ(report.consultation_id(), "c1");
  EXPECT_EQ(report.report().findings(), "open fracture");
  EXPECT_EQ(report.report().impression(), "salvageable");
  EXPECT_EQ(report.report().recommendations(), "");
  EXPECT_EQ(report.report().follow_up(), "2 weeks");
  EXPECT_THROW((void)parse_consult({"report", "c1", "--findings", "x"}), UsageError);
}

TEST(ConsultArgs, UnknownOrMissingSubcommandListsThem) {
  try {
    (void)parse_consult({"frobnicate"});
    FAIL() << "expected a usage error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("consult chat ID"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)parse_consult({}), UsageError);
  for (const auto& subcommand : consult_subcommands()) {
    EXPECT_NE(consult_help().find("consult " + std::string(subcommand.name)), std::string::npos);
  }
}

}  // namespace
}  // namespace tmc::cli
