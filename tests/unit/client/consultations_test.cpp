// Consultation request builders and client_msg_id generation.
#include "tmc/client/consultations.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace tmc::client {
namespace {

namespace v1 = telemed::v1;

TEST(ConsultationRequests, BuildTheMatchingRequest) {
  EXPECT_EQ(requests::get_consultation("c1").get_consultation().consultation_id(), "c1");
  const auto list = requests::list_consultations(v1::CONSULTATION_STATE_OFFERED, 20, "t");
  EXPECT_EQ(list.list_consultations().state(), v1::CONSULTATION_STATE_OFFERED);
  EXPECT_EQ(list.list_consultations().page_size(), 20u);
  EXPECT_EQ(list.list_consultations().page_token(), "t");
  EXPECT_EQ(requests::decline_consultation("c1", "on leave").decline_consultation().reason(),
            "on leave");
  EXPECT_EQ(requests::assign_consultation("c1", "u9").assign_consultation().specialist_id(), "u9");
  EXPECT_EQ(requests::invite_participant("c1", "u8").invite_participant().user_id(), "u8");
  const auto ack = requests::ack_messages("c1", 7);
  EXPECT_EQ(ack.ack_messages().up_to_seq(), 7u);
  const auto sync = requests::sync_consultation("c1", 3, 50);
  EXPECT_EQ(sync.sync_consultation().after_seq(), 3u);
  EXPECT_EQ(sync.sync_consultation().limit(), 50u);
  EXPECT_EQ(sync.request_id(), 0u);
}

TEST(ConsultationRequests, PostTextAndNote) {
  const auto text = requests::post_text("c1", "m1", "hello");
  EXPECT_EQ(text.post_message().consultation_id(), "c1");
  EXPECT_EQ(text.post_message().client_msg_id(), "m1");
  EXPECT_EQ(text.post_message().body().text(), "hello");
  const auto note = requests::post_note("c1", "m2", "Vascular status", "pulses weak");
  EXPECT_EQ(note.post_message().body().note().title(), "Vascular status");
  EXPECT_EQ(note.post_message().body().note().text(), "pulses weak");
}

TEST(ConsultationRequests, SubmitReportCarriesTheReport) {
  v1::Report report;
  report.set_findings("open fracture");
  report.set_impression("salvageable");
  const auto frame = requests::submit_report("c1", report);
  EXPECT_EQ(frame.submit_report().consultation_id(), "c1");
  EXPECT_EQ(frame.submit_report().report().impression(), "salvageable");
}

TEST(ClientMsgId, IsAVersion4UuidAndFresh) {
  const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string id = new_client_msg_id();
    EXPECT_TRUE(std::regex_match(id, uuid)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace tmc::client
