// Consultations over real TLS: routing, the accept race, access, durable ordered messaging.
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <iterator>
#include <set>

#include "test_server.hpp"

namespace tmc::testing {
namespace {

namespace v1 = ::telemed::v1;
using namespace std::chrono_literals;
using Client = client::BlockingClient;

v1::ClientFrame open_frame(const std::string& specialty, v1::Urgency urgency,
                           const std::string& question = "Crush injury of the left leg: save it?") {
  v1::ClientFrame frame;
  auto* open = frame.mutable_open_consultation();
  open->set_specialty(specialty);
  open->set_urgency(urgency);
  open->mutable_patient()->set_reference("P-2026-0042");
  open->mutable_patient()->set_age_years(19);
  open->mutable_patient()->set_sex(v1::SEX_MALE);
  open->set_question(question);
  open->set_clinical_summary("Wrestler, crushed under a vehicle; distal pulses weak.");
  return frame;
}

template <class Setter>
v1::ClientFrame frame_with(Setter&& set) {
  v1::ClientFrame frame;
  set(frame);
  return frame;
}

v1::Consultation expect_consultation(const v1::Response& response) {
  EXPECT_EQ(response.status().code(), v1::OK) << response.status().message();
  return response.consultation();
}

v1::Response accept(Client& client, const std::string& id) {
  return client.call(frame_with([&](auto& f) { f.mutable_accept_consultation()->set_consultation_id(id); }));
}

v1::Response post(Client& client, const std::string& id, const std::string& msg_id,
                  const std::string& text) {
  return client.call(frame_with([&](auto& f) {
    auto* post = f.mutable_post_message();
    post->set_consultation_id(id);
    post->set_client_msg_id(msg_id);
    post->mutable_body()->set_text(text);
  }));
}

v1::Response sync(Client& client, const std::string& id, std::uint64_t after, std::uint32_t limit = 0) {
  return client.call(frame_with([&](auto& f) {
    auto* sync = f.mutable_sync_consultation();
    sync->set_consultation_id(id);
    sync->set_after_seq(after);
    sync->set_limit(limit);
  }));
}

v1::Response get(Client& client, const std::string& id) {
  return client.call(frame_with([&](auto& f) { f.mutable_get_consultation()->set_consultation_id(id); }));
}

bool offered(const v1::Event& event, const std::string& id) {
  return event.has_consultation_offered() && event.consultation_offered().consultation().id() == id;
}

bool updated_to(const v1::Event& event, const std::string& id, v1::ConsultationState state) {
  return event.has_consultation_updated() &&
         event.consultation_updated().consultation().id() == id &&
         event.consultation_updated().consultation().state() == state;
}

bool message_with(const v1::Event& event, const std::string& text) {
  return event.has_message_posted() && event.message_posted().entry().body().text() == text;
}

class Consultations : public ::testing::Test {
 protected:
  // Started by the first test rather than in SetUpTestSuite: a server that cannot start (e.g.
  // PostgreSQL unreachable) then fails the tests instead of leaving them "skipped".
  void SetUp() override {
    if (server_ != nullptr) return;
    std::vector<ExtraUser> extra;
    // Twenty orthopedic specialists at Jinhua (paired with Wensu) for the accept race.
    for (int i = 0; i < 20; ++i) {
      extra.push_back({"jinhua.ortho" + std::to_string(i), store::Role::specialist, "jinhua",
                       {"orthopedics"}});
    }
    server_ = new TestServer({}, extra);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static TestServer& server() { return *server_; }
  static TestServer* server_;

  // Yecheng's clinician and Shanghai's orthopedist in a consultation both are in, and its
  // last_seq at that point (the acceptance wrote notices).
  struct Accepted {
    std::unique_ptr<Client> clinician;
    std::unique_ptr<Client> specialist;
    v1::Consultation opened;
    std::uint64_t last_seq = 0;
  };
  static Accepted accepted_orthopedics() {
    Accepted pair{server().login("yecheng.clinician"), server().login("shanghai.ortho"), {}, 0};
    pair.opened =
        expect_consultation(pair.clinician->call(open_frame("orthopedics", v1::URGENCY_ROUTINE)));
    EXPECT_EQ(accept(*pair.specialist, pair.opened.id()).status().code(), v1::OK);
    pair.last_seq = get(*pair.clinician, pair.opened.id()).consultation().last_seq();
    return pair;
  }
};
TestServer* Consultations::server_ = nullptr;

TEST_F(Consultations, EmergencyFromBachuIsAcceptedInShanghaiChattedReportedAndRead) {
  auto clinician = server().login("bachu.clinician");
  auto specialist = server().login("shanghai.ortho");
  auto cardiologist = server().login("shanghai.cardio");

  auto opened = expect_consultation(clinician->call(open_frame("orthopedics", v1::URGENCY_EMERGENCY)));
  const auto id = opened.id();
  EXPECT_EQ(opened.state(), v1::CONSULTATION_STATE_OFFERED);
  EXPECT_EQ(opened.candidate_count(), 1u);
  EXPECT_TRUE(opened.has_respond_by());
  EXPECT_EQ(opened.question(), "Crush injury of the left leg: save it?");

  ASSERT_TRUE(specialist->wait_event([&](const v1::Event& e) { return offered(e, id); }, 5s));
  // Not the cardiologist: wrong specialty.
  EXPECT_EQ(get(*cardiologist, id).status().code(), v1::NOT_FOUND);

  auto accepted = expect_consultation(accept(*specialist, id));
  EXPECT_EQ(accepted.state(), v1::CONSULTATION_STATE_ACCEPTED);
  EXPECT_EQ(accepted.assigned_specialist_id(), server().user_id("shanghai.ortho"));
  ASSERT_TRUE(clinician->wait_event(
      [&](const v1::Event& e) { return updated_to(e, id, v1::CONSULTATION_STATE_ACCEPTED); }, 5s));

  auto first = post(*clinician, id, "m-1", "X-rays attached; tibia comminuted.");
  ASSERT_EQ(first.status().code(), v1::OK);
  ASSERT_TRUE(specialist->wait_event(
      [](const v1::Event& e) { return message_with(e, "X-rays attached; tibia comminuted."); }, 5s));
  auto reply = post(*specialist, id, "s-1", "Fasciotomy now; we can operate in Kashgar.");
  ASSERT_EQ(reply.status().code(), v1::OK);
  EXPECT_EQ(reply.post_message().seq(), first.post_message().seq() + 1);
  ASSERT_TRUE(clinician->wait_event(
      [](const v1::Event& e) { return message_with(e, "Fasciotomy now; we can operate in Kashgar."); },
      5s));
  EXPECT_EQ(expect_consultation(get(*clinician, id)).state(), v1::CONSULTATION_STATE_IN_SESSION);

  // Only the assigned specialist reports.
  auto report_frame = frame_with([&](auto& f) {
    f.mutable_submit_report()->set_consultation_id(id);
    f.mutable_submit_report()->mutable_report()->set_findings("Open comminuted tibial fracture.");
    f.mutable_submit_report()->mutable_report()->set_impression("Limb salvageable.");
  });
  EXPECT_EQ(clinician->call(report_frame).status().code(), v1::PERMISSION_DENIED);
  auto reported = expect_consultation(specialist->call(report_frame));
  EXPECT_EQ(reported.state(), v1::CONSULTATION_STATE_REPORTED);
  // A submitted report stands: a second one would replace it without a trace.
  auto replacement = report_frame;
  replacement.mutable_submit_report()->mutable_report()->set_impression("Amputate.");
  EXPECT_EQ(specialist->call(replacement).status().code(), v1::FAILED_PRECONDITION);

  // Bachu reads the report back and acknowledges; Shanghai sees the read position.
  auto read_back = expect_consultation(get(*clinician, id));
  EXPECT_EQ(read_back.report().impression(), "Limb salvageable.");
  auto ack = clinician->call(frame_with([&](auto& f) {
    f.mutable_ack_messages()->set_consultation_id(id);
    f.mutable_ack_messages()->set_up_to_seq(read_back.last_seq());
  }));
  ASSERT_EQ(ack.status().code(), v1::OK);
  EXPECT_TRUE(ack.has_ack_messages());
  auto seen = expect_consultation(get(*specialist, id));
  bool found = false;
  for (const auto& position : seen.read_positions()) {
    if (position.user_id() == server().user_id("bachu.clinician")) {
      EXPECT_EQ(position.seq(), read_back.last_seq());
      found = true;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(seen.read_positions_size(), 1) << "the specialist, who never acknowledged, is absent";

  auto closed = expect_consultation(clinician->call(frame_with([&](auto& f) {
    f.mutable_close_consultation()->set_consultation_id(id);
  })));
  EXPECT_EQ(closed.state(), v1::CONSULTATION_STATE_CLOSED);
  // Read-only now.
  EXPECT_EQ(post(*clinician, id, "m-late", "one more thing").status().code(),
            v1::FAILED_PRECONDITION);
}

TEST_F(Consultations, TwentySpecialistsAcceptConcurrentlyExactlyOneWins) {
  auto clinician = server().login("wensu.clinician");
  auto opened = expect_consultation(clinician->call(open_frame("orthopedics", v1::URGENCY_URGENT)));
  EXPECT_EQ(opened.candidate_count(), 21u);  // 20 + Jinhua's cardiologist-orthopedist
  std::vector<std::unique_ptr<Client>> specialists;
  for (int i = 0; i < 20; ++i) specialists.push_back(server().login("jinhua.ortho" + std::to_string(i)));
  std::vector<std::future<v1::Response>> answers;
  for (auto& specialist : specialists) {
    answers.push_back(std::async(std::launch::async, [&, s = specialist.get()] {
      return accept(*s, opened.id());
    }));
  }
  int won = 0;
  int aborted = 0;
  for (auto& answer : answers) {
    const auto response = answer.get();
    if (response.status().code() == v1::OK) ++won;
    if (response.status().code() == v1::ABORTED) ++aborted;
  }
  EXPECT_EQ(won, 1);
  EXPECT_EQ(aborted, 19);
}

TEST_F(Consultations, YengisarReachesJiningNeverShanghaiOrJinhua) {
  auto clinician = server().login("yengisar.clinician");
  auto jining = server().login("jining.eye1");
  auto jinhua = server().login("jinhua.eye");
  auto opened = expect_consultation(clinician->call(open_frame("ophthalmology", v1::URGENCY_ROUTINE, "Cataract?")));
  EXPECT_EQ(opened.candidate_count(), 2u);
  EXPECT_TRUE(jining->wait_event([&](const v1::Event& e) { return offered(e, opened.id()); }, 5s));
  EXPECT_EQ(get(*jinhua, opened.id()).status().code(), v1::NOT_FOUND);
  // A target hospital that is not paired is refused, not silently widened.
  auto frame = open_frame("ophthalmology", v1::URGENCY_ROUTINE);
  frame.mutable_open_consultation()->set_target_organization_id("jinhua");
  EXPECT_EQ(clinician->call(frame).status().code(), v1::PERMISSION_DENIED);
}

TEST_F(Consultations, UnpairedHospitalCannotSeeOrPost) {
  auto clinician = server().login("bachu.clinician");
  auto opened = expect_consultation(clinician->call(open_frame("orthopedics", v1::URGENCY_ROUTINE)));
  auto outsider = server().login("hotan.clinician");
  EXPECT_EQ(get(*outsider, opened.id()).status().code(), v1::NOT_FOUND);
  EXPECT_EQ(post(*outsider, opened.id(), "x", "hello").status().code(), v1::NOT_FOUND);
  EXPECT_EQ(sync(*outsider, opened.id(), 0).status().code(), v1::NOT_FOUND);
  auto list = outsider->call(frame_with([](auto& f) { f.mutable_list_consultations(); }));
  ASSERT_EQ(list.status().code(), v1::OK);
  for (const auto& c : list.list_consultations().consultations()) EXPECT_NE(c.id(), opened.id());
  // A coordinator of the requesting hospital sees it.
  auto coordinator = server().login("bachu.coordinator");
  EXPECT_EQ(get(*coordinator, opened.id()).status().code(), v1::OK);
}

// What an offer lets a specialist do before anyone accepts: read the consultation's log, but
// not post to it or acknowledge it; once declined, it is as unknown to them as to a stranger.
TEST_F(Consultations, OpenCandidateReadsButMayNotPostOrAckAndADeclineEndsThat) {
  auto clinician = server().login("yengisar.clinician");
  auto opened = expect_consultation(
      clinician->call(open_frame("ophthalmology", v1::URGENCY_ROUTINE, "Retinal detachment?")));
  ASSERT_EQ(opened.candidate_count(), 2u);  // Jining's two ophthalmologists
  auto ack = [&](Client& client) {
    return client.call(frame_with([&](auto& f) {
      f.mutable_ack_messages()->set_consultation_id(opened.id());
      f.mutable_ack_messages()->set_up_to_seq(0);
    }));
  };
  auto candidate = server().login("jining.eye2");
  EXPECT_EQ(sync(*candidate, opened.id(), 0).status().code(), v1::OK);
  EXPECT_EQ(post(*candidate, opened.id(), "c-1", "Seen it").status().code(),
            v1::PERMISSION_DENIED);
  EXPECT_EQ(ack(*candidate).status().code(), v1::PERMISSION_DENIED);

  auto declining = server().login("jining.eye1");
  ASSERT_EQ(declining->call(frame_with([&](auto& f) {
              f.mutable_decline_consultation()->set_consultation_id(opened.id());
              f.mutable_decline_consultation()->set_reason("in theatre until Monday");
            })).status().code(),
            v1::OK);
  // The requester learns who declined and why.
  const auto log = sync(*clinician, opened.id(), 0).sync_consultation();
  ASSERT_GT(log.entries_size(), 0);
  const auto& notice = log.entries(log.entries_size() - 1).body().notice();
  EXPECT_EQ(notice.subject_id(), server().user_id("jining.eye1"));
  EXPECT_NE(notice.text().find("declined by"), std::string::npos) << notice.text();
  EXPECT_NE(notice.text().find("in theatre until Monday"), std::string::npos) << notice.text();
  EXPECT_EQ(sync(*declining, opened.id(), 0).status().code(), v1::NOT_FOUND);
  EXPECT_EQ(post(*declining, opened.id(), "d-1", "Seen it").status().code(), v1::NOT_FOUND);
  EXPECT_EQ(ack(*declining).status().code(), v1::NOT_FOUND);
  // The other offer still stands.
  EXPECT_EQ(sync(*candidate, opened.id(), 0).status().code(), v1::OK);

  // Having declined, Dr. eye1 is not sent the consultation when the other candidate accepts.
  // Events reach a session in order: nothing about it may come before the next offer.
  ASSERT_EQ(accept(*candidate, opened.id()).status().code(), v1::OK);
  const auto next = expect_consultation(
      clinician->call(open_frame("ophthalmology", v1::URGENCY_ROUTINE, "Glaucoma?")));
  ASSERT_TRUE(
      declining->wait_event([&](const v1::Event& e) { return offered(e, next.id()); }, 10s));
  for (const auto& event : declining->take_events()) {
    EXPECT_FALSE(event.has_consultation_updated() &&
                 event.consultation_updated().consultation().id() == opened.id());
  }
}

TEST_F(Consultations, OfflineRecipientGetsEverythingOnNextLoginAndRetriesAreIdempotent) {
  auto clinician = server().login("yecheng.clinician");
  auto opened = expect_consultation(clinician->call(open_frame("orthopedics", v1::URGENCY_ROUTINE)));
  std::string token;
  {
    auto specialist = server().connect();
    auto login = specialist->login("shanghai.ortho", server().password("shanghai.ortho"));
    token = login.login().session_token();
    ASSERT_EQ(accept(*specialist, opened.id()).status().code(), v1::OK);
  }  // the specialist goes offline
  auto first = post(*clinician, opened.id(), "retry-1", "Are you there?");
  auto retry = post(*clinician, opened.id(), "retry-1", "Are you there?");
  ASSERT_EQ(first.status().code(), v1::OK);
  EXPECT_EQ(retry.post_message().seq(), first.post_message().seq());
  ASSERT_EQ(post(*clinician, opened.id(), "retry-2", "Second question.").status().code(), v1::OK);

  auto specialist = server().connect();
  ASSERT_EQ(specialist->resume(token).status().code(), v1::OK);
  auto log = sync(*specialist, opened.id(), 0);
  ASSERT_EQ(log.status().code(), v1::OK);
  std::vector<std::string> texts;
  std::uint64_t expected_seq = 1;
  for (const auto& entry : log.sync_consultation().entries()) {
    EXPECT_EQ(entry.seq(), expected_seq++);  // gap-free
    if (entry.body().has_text()) texts.push_back(entry.body().text());
  }
  EXPECT_EQ(texts, (std::vector<std::string>{"Are you there?", "Second question."}));
  // Paging: one at a time with has_more.
  auto page = sync(*specialist, opened.id(), 0, 1);
  EXPECT_EQ(page.sync_consultation().entries_size(), 1);
  EXPECT_TRUE(page.sync_consultation().has_more());
}

// 500 long messages would be one answer larger than a session may queue (and than many county
// links carry in one go): pages end at about 1 MiB of text, and paging gets everything.
TEST_F(Consultations, LongMessagesArePagedByTheirSize) {
  auto pair = accepted_orthopedics();
  const std::string text(60 * 1024, 'm');
  for (int i = 0; i < 24; ++i) {  // 1.4 MiB
    ASSERT_EQ(post(*pair.clinician, pair.opened.id(), "long-" + std::to_string(i), text)
                  .status()
                  .code(),
              v1::OK);
  }
  std::uint64_t after = pair.last_seq;
  int pages = 0;
  int received = 0;
  for (bool more = true; more; ++pages) {
    const auto page = sync(*pair.specialist, pair.opened.id(), after, 500);
    ASSERT_EQ(page.status().code(), v1::OK) << page.status().message();
    ASSERT_GT(page.sync_consultation().entries_size(), 0);
    EXPECT_LE(page.sync_consultation().entries_size(), 18) << "at most about 1 MiB of text";
    for (const auto& entry : page.sync_consultation().entries()) {
      EXPECT_EQ(entry.seq(), ++after);  // gap-free across pages
      EXPECT_EQ(entry.body().text(), text);
      ++received;
    }
    more = page.sync_consultation().has_more();
  }
  EXPECT_EQ(received, 24);
  EXPECT_EQ(pages, 2);
}

TEST_F(Consultations, ConsultationsWithLongSummariesArePagedByTheirSize) {
  auto clinician = server().login("yecheng.clinician");
  std::set<std::string> opened;
  for (int i = 0; i < 20; ++i) {  // 1.25 MiB of summaries
    auto frame = open_frame("orthopedics", v1::URGENCY_ROUTINE);
    frame.mutable_open_consultation()->set_clinical_summary(std::string(64 * 1024, 's'));
    opened.insert(expect_consultation(clinician->call(frame)).id());
  }
  std::string token;
  int pages = 0;
  do {
    const auto page = clinician->call(frame_with([&](auto& f) {
      f.mutable_list_consultations()->set_page_size(200);
      f.mutable_list_consultations()->set_page_token(token);
    }));
    ASSERT_EQ(page.status().code(), v1::OK) << page.status().message();
    std::size_t text = 0;
    for (const auto& consultation : page.list_consultations().consultations()) {
      text += consultation.clinical_summary().size();
      opened.erase(consultation.id());
    }
    EXPECT_LE(text, 1024u * 1024) << "at most about 1 MiB of clinical text";
    token = page.list_consultations().next_page_token();
    ++pages;
  } while (!token.empty());
  EXPECT_TRUE(opened.empty()) << opened.size() << " not listed";
  EXPECT_GE(pages, 2);
}

TEST_F(Consultations, RetriedPostIsPublishedAgainWithItsOriginalSeqAndText) {
  // A retry may follow a first attempt whose event never went out (its node died after the
  // commit), so the retry publishes the stored entry again: a duplicate, never a gap.
  auto clinician = server().login("yecheng.clinician");
  auto specialist = server().login("shanghai.ortho");
  auto opened = expect_consultation(clinician->call(open_frame("orthopedics", v1::URGENCY_ROUTINE)));
  ASSERT_EQ(accept(*specialist, opened.id()).status().code(), v1::OK);
  auto is_post = [](const v1::Event& e) {
    return e.has_message_posted() && e.message_posted().entry().body().has_text();
  };
  auto first = post(*clinician, opened.id(), "again-1", "Pulses after reduction?");
  ASSERT_EQ(first.status().code(), v1::OK);
  auto live = specialist->wait_event(is_post, 5s);
  ASSERT_TRUE(live);
  // The retry carries another text under the same id: the stored one is what goes out.
  auto retry = post(*clinician, opened.id(), "again-1", "something else");
  ASSERT_EQ(retry.status().code(), v1::OK);
  EXPECT_EQ(retry.post_message().seq(), first.post_message().seq());
  auto again = specialist->wait_event(is_post, 5s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->message_posted().entry().seq(), first.post_message().seq());
  EXPECT_EQ(again->message_posted().entry().body().text(), "Pulses after reduction?");
  auto log = sync(*specialist, opened.id(), 0);
  int posts = 0;
  for (const auto& entry : log.sync_consultation().entries()) posts += entry.body().has_text();
  EXPECT_EQ(posts, 1);
}

TEST_F(Consultations, RetryOfAStoredPostIsAnsweredAfterTheConsultationIsCancelled) {
  // The first answer was lost with the county link, and the consultation ended before the
  // client came back: the retry is still answered with the stored seq, not refused as a new
  // post (which would tell the clinician it was never sent).
  auto pair = accepted_orthopedics();
  auto first = post(*pair.clinician, pair.opened.id(), "late-1", "Transfer by air tonight?");
  ASSERT_EQ(first.status().code(), v1::OK);
  auto cancelled = expect_consultation(pair.clinician->call(frame_with([&](auto& f) {
    f.mutable_cancel_consultation()->set_consultation_id(pair.opened.id());
    f.mutable_cancel_consultation()->set_reason("patient transferred");
  })));
  ASSERT_EQ(cancelled.state(), v1::CONSULTATION_STATE_CANCELLED);
  auto retry = post(*pair.clinician, pair.opened.id(), "late-1", "Transfer by air tonight?");
  ASSERT_EQ(retry.status().code(), v1::OK) << retry.status().message();
  EXPECT_EQ(retry.post_message().seq(), first.post_message().seq());
  // A new message is still refused, and so is another sender's use of the same id.
  EXPECT_EQ(post(*pair.clinician, pair.opened.id(), "late-2", "And now?").status().code(),
            v1::FAILED_PRECONDITION);
  EXPECT_EQ(post(*pair.specialist, pair.opened.id(), "late-1", "Yes.").status().code(),
            v1::FAILED_PRECONDITION);
}

TEST_F(Consultations, OnlyTheCountyHospitalCancels) {
  // The partner hospital's coordinator may close or reassign, but whether the county hospital
  // still wants the consultation is its own decision.
  auto pair = accepted_orthopedics();
  const auto cancel = frame_with([&](auto& f) {
    f.mutable_cancel_consultation()->set_consultation_id(pair.opened.id());
  });
  auto partner = server().login("shanghai.coordinator");
  EXPECT_EQ(partner->call(cancel).status().code(), v1::PERMISSION_DENIED);
  EXPECT_EQ(expect_consultation(get(*partner, pair.opened.id())).state(),
            v1::CONSULTATION_STATE_ACCEPTED);
  auto county = server().login("yecheng.coordinator");
  EXPECT_EQ(expect_consultation(county->call(cancel)).state(), v1::CONSULTATION_STATE_CANCELLED);
}

v1::ClientFrame post_frame(const std::string& id, const std::string& msg_id,
                           const std::string& text) {
  return frame_with([&](auto& f) {
    auto* post = f.mutable_post_message();
    post->set_consultation_id(id);
    post->set_client_msg_id(msg_id);
    post->mutable_body()->set_text(text);
  });
}

v1::ClientFrame sync_frame(const std::string& id, std::uint64_t after) {
  return frame_with([&](auto& f) {
    f.mutable_sync_consultation()->set_consultation_id(id);
    f.mutable_sync_consultation()->set_after_seq(after);
  });
}

// Posts written back to back share commits without waiting for each other; they still get
// their seqs in the order sent, and the recipient sees them in that order.
TEST_F(Consultations, PipelinedPostsKeepTheirOrder) {
  auto [clinician, specialist, opened, before] = accepted_orthopedics();
  ASSERT_FALSE(opened.id().empty());
  constexpr int count = 150;  // beyond the 64 a connection may have pipelined at once
  std::vector<v1::ClientFrame> frames;
  for (int i = 0; i < count; ++i) {
    const auto n = std::to_string(i);
    frames.push_back(post_frame(opened.id(), "order-" + n, "line " + n));
  }
  auto responses = clinician->call_pipelined(frames);
  ASSERT_EQ(responses.size(), static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    ASSERT_EQ(responses[i].status().code(), v1::OK) << i;
    EXPECT_EQ(responses[i].post_message().seq(), before + 1 + i);
  }
  for (int i = 0; i < count; ++i) {
    auto event = specialist->wait_event(
        [](const v1::Event& e) {
          return e.has_message_posted() && e.message_posted().entry().body().has_text();
        },
        5s);
    ASSERT_TRUE(event) << i;
    EXPECT_EQ(event->message_posted().entry().body().text(), "line " + std::to_string(i));
    EXPECT_EQ(event->message_posted().entry().seq(), before + 1 + i);
  }
}

// A request behind pipelined posts starts only once they are answered, so it sees them all.
TEST_F(Consultations, RequestAfterPipelinedPostsSeesThem) {
  auto [clinician, specialist, opened, before] = accepted_orthopedics();
  ASSERT_FALSE(opened.id().empty());
  std::vector<v1::ClientFrame> frames;
  for (int i = 0; i < 30; ++i) {
    const auto n = std::to_string(i);
    frames.push_back(post_frame(opened.id(), "seen-" + n, "seen " + n));
  }
  frames.push_back(sync_frame(opened.id(), before));
  auto responses = clinician->call_pipelined(frames);
  const auto& log = responses.back();
  ASSERT_EQ(log.status().code(), v1::OK);
  ASSERT_EQ(log.sync_consultation().entries_size(), 30);
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(log.sync_consultation().entries(i).body().text(), "seen " + std::to_string(i));
  }
}

// A refused post among pipelined ones is answered in its place and takes no seq.
TEST_F(Consultations, RefusedPostAmongPipelinedOnesTakesNoSeq) {
  auto [clinician, specialist, opened, before] = accepted_orthopedics();
  ASSERT_FALSE(opened.id().empty());
  auto empty = post_frame(opened.id(), "refused-2", "");
  auto unknown = post_frame("no-such-consultation", "refused-3", "lost");
  auto responses = clinician->call_pipelined({post_frame(opened.id(), "refused-1", "first"),
                                              empty, unknown,
                                              post_frame(opened.id(), "refused-4", "last")});
  ASSERT_EQ(responses.size(), 4u);
  EXPECT_EQ(responses[0].status().code(), v1::OK);
  EXPECT_EQ(responses[0].post_message().seq(), before + 1);
  EXPECT_EQ(responses[1].status().code(), v1::INVALID_ARGUMENT);
  EXPECT_EQ(responses[2].status().code(), v1::NOT_FOUND);
  EXPECT_EQ(responses[3].status().code(), v1::OK);
  EXPECT_EQ(responses[3].post_message().seq(), before + 2);
}

TEST_F(Consultations, SignalsAreRelayedNotStored) {
  auto clinician = server().login("hotan.clinician");
  auto specialist = server().login("beijing.cardio");
  auto opened = expect_consultation(clinician->call(open_frame("pediatric cardiology", v1::URGENCY_URGENT, "Rare CHD in a 4-year-old")));
  ASSERT_EQ(accept(*specialist, opened.id()).status().code(), v1::OK);
  auto signal = clinician->call(frame_with([&](auto& f) {
    auto* post = f.mutable_post_message();
    post->set_consultation_id(opened.id());
    post->mutable_body()->mutable_signal()->set_kind(v1::SIGNAL_KIND_OFFER);
    post->mutable_body()->mutable_signal()->set_payload("v=0 o=- 1 1 IN IP4 0.0.0.0");
  }));
  ASSERT_EQ(signal.status().code(), v1::OK);
  EXPECT_EQ(signal.post_message().seq(), 0u);
  auto relayed = specialist->wait_event([](const v1::Event& e) {
    return e.has_message_posted() && e.message_posted().entry().body().has_signal();
  }, 5s);
  ASSERT_TRUE(relayed);
  EXPECT_EQ(relayed->message_posted().entry().seq(), 0u);
  auto log = sync(*clinician, opened.id(), 0);
  for (const auto& entry : log.sync_consultation().entries()) EXPECT_FALSE(entry.body().has_signal());
}

TEST_F(Consultations, IllegalTransitionsChangeNothing) {
  auto clinician = server().login("bachu.clinician");
  auto opened = expect_consultation(clinician->call(open_frame("orthopedics", v1::URGENCY_ROUTINE)));
  // Not accepted yet: no messages, no close.
  EXPECT_EQ(post(*clinician, opened.id(), "early", "hello?").status().code(), v1::FAILED_PRECONDITION);
  EXPECT_EQ(clinician->call(frame_with([&](auto& f) {
              f.mutable_close_consultation()->set_consultation_id(opened.id());
            })).status().code(),
            v1::FAILED_PRECONDITION);
  EXPECT_EQ(expect_consultation(get(*clinician, opened.id())).state(), v1::CONSULTATION_STATE_OFFERED);
  // Clinicians do not accept.
  EXPECT_EQ(accept(*clinician, opened.id()).status().code(), v1::PERMISSION_DENIED);
  // Cancelling withdraws the offer.
  auto cancelled = expect_consultation(clinician->call(frame_with([&](auto& f) {
    f.mutable_cancel_consultation()->set_consultation_id(opened.id());
    f.mutable_cancel_consultation()->set_reason("patient transferred");
  })));
  EXPECT_EQ(cancelled.state(), v1::CONSULTATION_STATE_CANCELLED);
  const auto log = sync(*clinician, opened.id(), 0).sync_consultation();
  ASSERT_GT(log.entries_size(), 0);
  EXPECT_NE(log.entries(log.entries_size() - 1).body().notice().text().find("patient transferred"),
            std::string::npos);
  auto specialist = server().login("shanghai.ortho");
  EXPECT_NE(accept(*specialist, opened.id()).status().code(), v1::OK);
}

TEST_F(Consultations, InvitedColleagueJoinsAndReads) {
  auto clinician = server().login("bachu.clinician");
  auto specialist = server().login("shanghai.ortho");
  auto opened = expect_consultation(clinician->call(open_frame("orthopedics", v1::URGENCY_URGENT)));
  ASSERT_EQ(accept(*specialist, opened.id()).status().code(), v1::OK);
  auto colleague = server().login("shanghai.cardio");
  EXPECT_EQ(get(*colleague, opened.id()).status().code(), v1::NOT_FOUND);
  auto invited = expect_consultation(specialist->call(frame_with([&](auto& f) {
    f.mutable_invite_participant()->set_consultation_id(opened.id());
    f.mutable_invite_participant()->set_user_id(server().user_id("shanghai.cardio"));
  })));
  EXPECT_EQ(invited.participant_ids_size(), 3);
  EXPECT_EQ(get(*colleague, opened.id()).status().code(), v1::OK);
  // A participant change is news to every participant, not only to the invitee.
  for (Client* participant : {clinician.get(), colleague.get()}) {
    EXPECT_TRUE(participant->wait_event(
        [&](const v1::Event& e) {
          return e.has_consultation_updated() &&
                 e.consultation_updated().consultation().id() == opened.id() &&
                 e.consultation_updated().consultation().participant_ids_size() == 3;
        },
        10s));
  }
  // Someone of an unrelated hospital cannot be invited.
  EXPECT_EQ(specialist->call(frame_with([&](auto& f) {
              f.mutable_invite_participant()->set_consultation_id(opened.id());
              f.mutable_invite_participant()->set_user_id(server().user_id("hotan.clinician"));
            })).status().code(),
            v1::INVALID_ARGUMENT);
}

// Reads every file below dir and reports whether marker occurs in any of them.
bool appears_under(const std::filesystem::path& dir, const std::string& marker) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(marker) != std::string::npos) return true;
  }
  return false;
}

TEST(ConsultationEncryption, ClinicalTextNeverReachesTheDiskInClear) {
  TestServer server;
  const std::vector<std::string> markers = {"MARKER-question-7f3a", "MARKER-summary-91bc",
                                            "MARKER-message-22de", "MARKER-report-5e10"};
  {
    auto clinician = server.login("bachu.clinician");
    auto specialist = server.login("shanghai.ortho");
    auto frame = open_frame("orthopedics", v1::URGENCY_URGENT, markers[0]);
    frame.mutable_open_consultation()->set_clinical_summary(markers[1]);
    auto opened = expect_consultation(clinician->call(frame));
    ASSERT_EQ(accept(*specialist, opened.id()).status().code(), v1::OK);
    ASSERT_EQ(post(*clinician, opened.id(), "m", markers[2]).status().code(), v1::OK);
    auto report = specialist->call(frame_with([&](auto& f) {
      f.mutable_submit_report()->set_consultation_id(opened.id());
      f.mutable_submit_report()->mutable_report()->set_findings(markers[3]);
    }));
    ASSERT_EQ(report.status().code(), v1::OK);
    // Sanity: the test can see the markers when they are there.
    EXPECT_EQ(get(*clinician, opened.id()).consultation().question(), markers[0]);
  }
  server.stop();
  // The scan does find what is stored in clear (the pseudonymous reference is, by design).
  ASSERT_TRUE(appears_under(server.data_dir(), "P-2026-0042"));
  for (const auto& marker : markers) {
    EXPECT_FALSE(appears_under(server.data_dir(), marker)) << marker;
  }
}

// With one io thread the sessions share the io_context's executor instead of a strand each
// (net::ServerOptions::single_io_thread): both sides posting at once, their answers coming back
// from the store's writer, still arrive whole and in order on both sides.
TEST(ConsultationsOnOneIoThread, BothSidesPipeliningAtOnceSeeEachOthersPostsInOrder) {
  TestServer server([](app::Config& config) { config.io_threads = 1; });
  auto clinician = server.login("yecheng.clinician");
  auto specialist = server.login("shanghai.ortho");
  const auto opened =
      expect_consultation(clinician->call(open_frame("orthopedics", v1::URGENCY_ROUTINE)));
  ASSERT_EQ(accept(*specialist, opened.id()).status().code(), v1::OK);
  constexpr int count = 120;
  const auto frames_of = [&](const std::string& who) {
    std::vector<v1::ClientFrame> frames;
    for (int i = 0; i < count; ++i) {
      const auto n = std::to_string(i);
      frames.push_back(post_frame(opened.id(), who + "-" + n, who + " " + n));
    }
    return frames;
  };
  auto from_specialist = std::async(std::launch::async, [&] {
    return specialist->call_pipelined(frames_of("specialist"));
  });
  const auto clinician_answers = clinician->call_pipelined(frames_of("clinician"));
  const auto specialist_answers = from_specialist.get();
  for (const auto* answers : {&clinician_answers, &specialist_answers}) {
    ASSERT_EQ(answers->size(), static_cast<std::size_t>(count));
    std::uint64_t previous = 0;
    for (const auto& answer : *answers) {
      ASSERT_EQ(answer.status().code(), v1::OK);
      EXPECT_GT(answer.post_message().seq(), previous);
      previous = answer.post_message().seq();
    }
  }
  const auto expect_posts_of = [&](Client& reader, const std::string& who) {
    for (int i = 0; i < count; ++i) {
      auto event = reader.wait_event(
          [&](const v1::Event& e) {
            return e.has_message_posted() &&
                   e.message_posted().entry().body().text().rfind(who + " ", 0) == 0;
          },
          10s);
      ASSERT_TRUE(event) << who << " " << i;
      EXPECT_EQ(event->message_posted().entry().body().text(), who + " " + std::to_string(i));
    }
  };
  expect_posts_of(*specialist, "clinician");
  expect_posts_of(*clinician, "specialist");
}

TEST(ConsultationDeadlines, EscalationWidensThenExpiry) {
  TestServer server([](app::Config& config) {
    config.deadline_emergency = std::chrono::seconds(1);
    config.deadline_check_interval = std::chrono::milliseconds(50);
  });
  auto clinician = server.login("bachu.clinician");
  auto beijing = server.login("beijing.ortho");  // not paired with Bachu
  auto coordinator = server.login("bachu.coordinator");
  auto partner = server.login("beijing.coordinator");
  auto opened = expect_consultation(clinician->call(open_frame("orthopedics", v1::URGENCY_EMERGENCY)));
  EXPECT_EQ(opened.candidate_count(), 1u);
  EXPECT_EQ(get(*partner, opened.id()).status().code(), v1::NOT_FOUND);  // not offered there yet
  // First deadline: the offer widens to every partner's orthopedists; coordinators are told.
  auto widened = beijing->wait_event([&](const v1::Event& e) { return offered(e, opened.id()); }, 10s);
  ASSERT_TRUE(widened);
  EXPECT_TRUE(widened->consultation_offered().consultation().escalated());
  EXPECT_TRUE(coordinator->wait_event([&](const v1::Event& e) {
    return e.has_consultation_updated() && e.consultation_updated().consultation().id() == opened.id();
  }, 10s));
  // Beijing's coordinator is told too, now that the offer reaches Beijing, and may act on it.
  EXPECT_TRUE(partner->wait_event([&](const v1::Event& e) {
    return e.has_consultation_updated() && e.consultation_updated().consultation().id() == opened.id();
  }, 10s));
  EXPECT_EQ(get(*partner, opened.id()).status().code(), v1::OK);
  // Second deadline: expired.
  ASSERT_TRUE(clinician->wait_event(
      [&](const v1::Event& e) { return updated_to(e, opened.id(), v1::CONSULTATION_STATE_EXPIRED); },
      10s));
  EXPECT_NE(accept(*beijing, opened.id()).status().code(), v1::OK);
}

// Opened with nobody eligible, a consultation goes to the requesting hospital's coordinators
// only: the paired partner's coordinator, who may not read it, is not sent the patient's details.
TEST(ConsultationDeadlines, NobodyEligibleIsToldToTheRequestingHospitalOnly) {
  TestServer server([](app::Config& config) {
    config.deadline_emergency = std::chrono::seconds(1);
    config.deadline_check_interval = std::chrono::milliseconds(50);
  });
  auto clinician = server.login("bachu.clinician");
  auto coordinator = server.login("bachu.coordinator");
  auto partner = server.login("shanghai.coordinator");
  const auto nobody = expect_consultation(
      clinician->call(open_frame("dermatology", v1::URGENCY_ROUTINE, "Spreading rash?")));
  EXPECT_EQ(nobody.state(), v1::CONSULTATION_STATE_REQUESTED);
  EXPECT_EQ(nobody.candidate_count(), 0u);
  EXPECT_TRUE(coordinator->wait_event(
      [&](const v1::Event& e) { return updated_to(e, nobody.id(), nobody.state()); }, 10s));
  EXPECT_EQ(get(*partner, nobody.id()).status().code(), v1::NOT_FOUND);

  // Something Shanghai's coordinator is told, later than the opening above: the escalation of
  // a consultation offered to Shanghai's orthopedist. Events reach a session in order, so
  // nothing about the first consultation may come before it.
  const auto offered_to_shanghai =
      expect_consultation(clinician->call(open_frame("orthopedics", v1::URGENCY_EMERGENCY)));
  ASSERT_TRUE(partner->wait_event(
      [&](const v1::Event& e) {
        return e.has_consultation_updated() &&
               e.consultation_updated().consultation().id() == offered_to_shanghai.id();
      },
      10s));
  for (const auto& event : partner->take_events()) {
    EXPECT_FALSE(event.has_consultation_updated() &&
                 event.consultation_updated().consultation().id() == nobody.id());
  }
}

// A consultation whose deadline cannot be processed (here its data key no longer unwraps) is
// logged and skipped: the escalation of the others, due after it, still happens.
TEST(ConsultationDeadlines, OneThatCannotBeProcessedHoldsNoOtherBack) {
  TestServer server([](app::Config& config) {
    config.deadline_emergency = std::chrono::seconds(3);
    config.deadline_check_interval = std::chrono::milliseconds(50);
  });
  auto clinician = server.login("bachu.clinician");
  auto beijing = server.login("beijing.ortho");  // offered only once the offer widens
  const auto broken = expect_consultation(
      clinician->call(open_frame("orthopedics", v1::URGENCY_EMERGENCY, "Open fracture?")));
  const auto fine = expect_consultation(
      clinician->call(open_frame("orthopedics", v1::URGENCY_EMERGENCY, "Crushed hand?")));
  {
    auto store = server.open_store();
    store->write([&](store::Tx& tx) {
      auto record = tx.find_consultation(broken.id(), store::SealedTexts::skip);
      if (!record) return false;
      record->wrapped_key = "not a wrapped key";
      tx.update_consultation(*record);
      return true;
    });
  }
  auto widened = beijing->wait_event([&](const v1::Event& e) { return offered(e, fine.id()); },
                                     20s);
  EXPECT_TRUE(widened.has_value());
}

}  // namespace
}  // namespace tmc::testing
