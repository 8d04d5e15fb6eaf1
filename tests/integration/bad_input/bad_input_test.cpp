// The bad-input catalogue: named hostile requests against a real server over TLS. Each case
// asserts the exact Status code or close code (PROTOCOL.md) and that a probe client on another
// connection is still served afterwards.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "api/codec.hpp"
#include "case_file_client.hpp"
#include "crypto/hash.hpp"
#include "raw_tls_client.hpp"
#include "raw_websocket.hpp"
#include "test_server.hpp"

namespace tmc::testing {
namespace {

namespace v1 = ::telemed::v1;
using namespace std::chrono_literals;
using Client = client::BlockingClient;

constexpr auto close_deadline = 10s;
constexpr std::size_t max_frame_bytes = 256 * 1024;
constexpr std::uint32_t chunk_bytes = 64 * 1024;

template <class Setter>
v1::ClientFrame frame_with(Setter&& set) {
  v1::ClientFrame frame;
  set(frame);
  return frame;
}

v1::ClientFrame list_orgs() {
  return frame_with([](auto& f) { f.mutable_list_organizations(); });
}

v1::ClientFrame get_consultation(const std::string& id) {
  return frame_with([&](auto& f) { f.mutable_get_consultation()->set_consultation_id(id); });
}

v1::ClientFrame open_consultation(const std::string& specialty, const std::string& question) {
  return frame_with([&](auto& f) {
    auto* open = f.mutable_open_consultation();
    open->mutable_patient()->set_reference("P-BAD-0001");
    open->mutable_patient()->set_age_years(17);
    open->set_specialty(specialty);
    open->set_urgency(v1::URGENCY_URGENT);
    open->set_question(question);
  });
}

v1::ClientFrame begin_upload(std::uint64_t size, const std::string& sha256,
                             const std::string& consultation_id = {}) {
  return files::begin_frame("x-ray.dcm", size, sha256, consultation_id);
}

v1::ClientFrame publish_slot(const std::string& specialist_id, TimePoint starts) {
  return frame_with([&](auto& f) {
    auto* request = f.mutable_publish_availability();
    request->set_specialist_id(specialist_id);
    auto* slot = request->add_slots();
    *slot->mutable_starts_at() = api::to_proto(starts);
    *slot->mutable_ends_at() = api::to_proto(starts + 30min);
    slot->set_capacity(1);
  });
}

v1::ClientFrame book_review(const std::string& slot_id, const std::string& consultation_id) {
  return frame_with([&](auto& f) {
    f.mutable_book_review()->set_slot_id(slot_id);
    f.mutable_book_review()->set_consultation_id(consultation_id);
  });
}

v1::ClientFrame cancel_appointment(const std::string& appointment_id) {
  return frame_with([&](auto& f) {
    f.mutable_cancel_appointment()->set_appointment_id(appointment_id);
    f.mutable_cancel_appointment()->set_reason("no longer needed");
  });
}

v1::Code code_of_call(Client& client, v1::ClientFrame frame) {
  return client.call(std::move(frame)).status().code();
}

TimePoint hours_ahead(int hours) {
  return std::chrono::floor<std::chrono::hours>(std::chrono::system_clock::now()) +
         std::chrono::hours(hours);
}

// Replaces the one occurrence of placeholder in a serialized frame with bytes of equal length,
// to put values on the wire that the protobuf library refuses to write (invalid UTF-8).
std::string splice(std::string serialized, const std::string& placeholder,
                   const std::string& bytes) {
  const auto at = serialized.find(placeholder);
  EXPECT_NE(at, std::string::npos);
  EXPECT_EQ(placeholder.size(), bytes.size());
  return serialized.replace(at, placeholder.size(), bytes);
}

// Objects of the Bachu-Shanghai pairing that the Hotan clinician (paired with Beijing) must
// never learn about.
struct Bachu {
  std::string consultation_id;
  std::string file_id;
  std::string slot_id;
  std::string appointment_id;
  std::string upload_id;  // started by bachu.clinician, never finished
};

class BadInput : public ::testing::Test {
 protected:
  // Started by the first test rather than in SetUpTestSuite: a server that cannot start (e.g.
  // PostgreSQL unreachable) then fails the tests instead of leaving them "skipped".
  void SetUp() override {
    if (server_ != nullptr) return;
    server_ = new TestServer([](app::Config& config) {
      config.max_frame_bytes = max_frame_bytes;
      config.upload_chunk_bytes = chunk_bytes;
      // Dozens of connections a second from one address are this suite, not an attack.
      config.new_connections_per_second_per_address = 0;
    });
    seed_bachu();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static void seed_bachu() {
    auto clinician = server_->login("bachu.clinician");
    auto ortho = server_->login("shanghai.ortho");
    const auto opened = clinician->call(
        open_consultation("orthopedics", "Crush injury of the left leg: amputate?"));
    ASSERT_EQ(opened.status().code(), v1::OK) << opened.status().message();
    bachu_.consultation_id = opened.consultation().id();
    const auto accepted = ortho->call(frame_with([](auto& f) {
      f.mutable_accept_consultation()->set_consultation_id(bachu_.consultation_id);
    }));
    ASSERT_EQ(accepted.status().code(), v1::OK) << accepted.status().message();

    const std::string content = "bachu x-ray";
    auto begun = clinician->call(
        begin_upload(content.size(), crypto::sha256(content), bachu_.consultation_id));
    ASSERT_EQ(begun.status().code(), v1::OK) << begun.status().message();
    const auto upload_id = begun.upload_session().upload_id();
    ASSERT_EQ(clinician->call(files::chunk_frame(upload_id, 0, content)).status().code(), v1::OK);
    const auto finished = clinician->call(files::finish_frame(upload_id));
    ASSERT_EQ(finished.status().code(), v1::OK) << finished.status().message();
    bachu_.file_id = finished.case_file().id();

    const auto pending = clinician->call(begin_upload(100, crypto::sha256("pending")));
    ASSERT_EQ(pending.status().code(), v1::OK);
    bachu_.upload_id = pending.upload_session().upload_id();

    const auto published = ortho->call(publish_slot("", hours_ahead(72)));
    ASSERT_EQ(published.status().code(), v1::OK) << published.status().message();
    bachu_.slot_id = published.publish_availability().slots(0).id();
    const auto booked = clinician->call(book_review(bachu_.slot_id, bachu_.consultation_id));
    ASSERT_EQ(booked.status().code(), v1::OK) << booked.status().message();
    bachu_.appointment_id = booked.appointment().id();
  }

  static TestServer& server() { return *server_; }

  // The server still serves a new client on another connection (login + list_organizations).
  // Probe users rotate so that the per-user session limit never comes into play.
  static void expect_server_healthy() {
    static const std::vector<std::string> probes = {"wensu.clinician",     "yecheng.clinician",
                                                    "yengisar.clinician",  "wensu.coordinator",
                                                    "yecheng.coordinator", "jinhua.coordinator"};
    static std::size_t next = 0;
    const auto& username = probes[next++ % probes.size()];
    auto probe = server().connect();
    const auto login = probe->login(username, server().password(username));
    ASSERT_EQ(login.status().code(), v1::OK) << login.status().message();
    const auto listing = probe->call(list_orgs());
    ASSERT_EQ(listing.status().code(), v1::OK) << listing.status().message();
    EXPECT_EQ(listing.list_organizations().organizations_size(), 9);
  }

  // Sends bytes as one binary message before login and returns the close code.
  static std::uint16_t close_code_after_raw(const std::string& bytes, bool text = false) {
    auto client = server().connect();
    client->send_raw(bytes, text);
    const auto closed = client->wait_closed(close_deadline);
    EXPECT_TRUE(closed.has_value()) << "the server kept the connection open";
    return closed ? closed->code : 0;
  }

  static v1::Code code_of(Client& client, v1::ClientFrame frame) {
    return code_of_call(client, std::move(frame));
  }

  static std::uint16_t close_code(const Outcome& outcome) {
    const auto* code = std::get_if<std::uint16_t>(&outcome);
    EXPECT_NE(code, nullptr) << "the server answered instead of closing";
    return code != nullptr ? *code : 0;
  }

  static v1::Response response(const Outcome& outcome) {
    const auto* answer = std::get_if<v1::Response>(&outcome);
    EXPECT_NE(answer, nullptr) << "the server closed with " << close_code(outcome);
    return answer != nullptr ? *answer : v1::Response{};
  }

  void TearDown() override {
    if (server_ != nullptr) expect_server_healthy();  // null: SetUp failed to start it
  }

  static TestServer* server_;
  static Bachu bachu_;
};
TestServer* BadInput::server_ = nullptr;
Bachu BadInput::bachu_;

// ---- undecodable and surprising protobuf

TEST_F(BadInput, GarbageBytesClose1002) {
  EXPECT_EQ(close_code_after_raw(std::string("\xff\xff\xff\xff\x0f garbage", 13)), 1002);
}

TEST_F(BadInput, TruncatedLoginFrameCloses1002) {
  auto login = frame_with([](auto& f) {
    f.set_request_id(7);
    f.mutable_login()->set_username("bachu.clinician");
    f.mutable_login()->set_password("a-password-long-enough");
  });
  const auto bytes = login.SerializeAsString();
  EXPECT_EQ(close_code_after_raw(bytes.substr(0, bytes.size() - 5)), 1002);
}

TEST_F(BadInput, EndlessVarintCloses1002) {
  EXPECT_EQ(close_code_after_raw("\x08" + std::string(11, '\xff')), 1002);
}

TEST_F(BadInput, LengthPastTheEndCloses1002) {
  // Field 2 (login), length-delimited, claims 127 bytes but carries 3.
  EXPECT_EQ(close_code_after_raw(std::string("\x08\x01\x12\x7f\x0a\x01x", 7)), 1002);
}

TEST_F(BadInput, EndGroupWithoutStartCloses1002) {
  EXPECT_EQ(close_code_after_raw(std::string("\x08\x01\x0c", 3)), 1002);
}

TEST_F(BadInput, NonUtf8UsernameCloses1002) {
  const auto frame = frame_with([](auto& f) {
    f.mutable_login()->set_username("user-PLACE");
    f.mutable_login()->set_password("whatever-password");
  });
  EXPECT_EQ(
      close_code_after_raw(splice(frame.SerializeAsString(), "PLACE", "\xff\xfe\xc0\x80\xed")),
      1002);
}

TEST_F(BadInput, NonUtf8ConsultationIdAfterLoginCloses1002) {
  auto client = server().login("bachu.clinician");
  client->send_raw(splice(get_consultation("con-PLACE").SerializeAsString(), "PLACE",
                          std::string("\x80\x80\xf8\x88\x80", 5)),
                   false);
  const auto closed = client->wait_closed(close_deadline);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1002);
}

TEST_F(BadInput, EmptyFrameIsUnimplemented) {
  RawWebSocket socket(server().port());
  socket.send_binary("");
  const auto answer = response(socket.next_outcome());
  EXPECT_EQ(answer.request_id(), 0u);
  EXPECT_EQ(answer.status().code(), v1::UNIMPLEMENTED);
}

TEST_F(BadInput, UnknownOneofFieldIsUnimplemented) {
  auto client = server().login("bachu.clinician");
  auto frame = frame_with([](auto& f) {
    f.GetReflection()->MutableUnknownFields(&f)->AddLengthDelimited(999, "\x0a\x02hi");
  });
  EXPECT_EQ(code_of(*client, frame), v1::UNIMPLEMENTED);
  EXPECT_EQ(code_of(*client, list_orgs()), v1::OK);  // the session goes on
}

TEST_F(BadInput, KnownRequestWithTheWrongWireTypeIsUnimplemented) {
  // Field 8 (get_consultation) sent as a varint: protobuf keeps it as an unknown field.
  auto client = server().login("bachu.clinician");
  auto frame =
      frame_with([](auto& f) { f.GetReflection()->MutableUnknownFields(&f)->AddVarint(8, 42); });
  EXPECT_EQ(code_of(*client, frame), v1::UNIMPLEMENTED);
}

TEST_F(BadInput, RequestIdZeroAndMaximumAreEchoed) {
  RawWebSocket socket(server().port());
  for (const std::uint64_t id : {std::uint64_t{0}, ~std::uint64_t{0}}) {
    auto frame = list_orgs();
    frame.set_request_id(id);
    socket.send_binary(frame.SerializeAsString());
    const auto answer = response(socket.next_outcome());
    EXPECT_EQ(answer.request_id(), id);
    EXPECT_EQ(answer.status().code(), v1::UNAUTHENTICATED);
  }
}

// ---- WebSocket framing

TEST_F(BadInput, TextFrameCloses1003) {
  EXPECT_EQ(close_code_after_raw("{\"login\":{}}", /*text=*/true), 1003);
}

TEST_F(BadInput, OversizedFrameCloses1009) {
  EXPECT_EQ(close_code_after_raw(std::string(max_frame_bytes + 1, 'x')), 1009);
}

TEST_F(BadInput, FragmentedFloodBeyondTheLimitCloses1009) {
  RawWebSocket socket(server().port());
  const std::string piece(1024, 'x');
  socket.send({Opcode::binary, piece, /*fin=*/false});
  // Many small continuation frames add up past the message limit.
  for (std::size_t sent = piece.size(); sent <= max_frame_bytes; sent += piece.size()) {
    if (!socket.try_send({Opcode::continuation, piece, /*fin=*/false})) break;
  }
  EXPECT_EQ(socket.wait_close_code(), 1009);
}

TEST_F(BadInput, ThousandsOfEmptyContinuationFramesAreOneMessage) {
  // An empty-fragment flood costs the server nothing beyond parsing; the message it completes
  // is judged as a whole (here: an empty ClientFrame).
  RawWebSocket socket(server().port());
  std::string flood = encode_frame({Opcode::binary, "", /*fin=*/false});
  for (int i = 0; i < 5000; ++i) flood += encode_frame({Opcode::continuation, "", false});
  flood += encode_frame({Opcode::continuation, "", /*fin=*/true});
  socket.tls().write(flood);
  EXPECT_EQ(response(socket.next_outcome()).status().code(), v1::UNIMPLEMENTED);
}

TEST_F(BadInput, ContinuationWithoutAStartCloses1002) {
  RawWebSocket socket(server().port());
  socket.send({Opcode::continuation, "orphan", /*fin=*/true});
  EXPECT_EQ(socket.wait_close_code(), 1002);
}

TEST_F(BadInput, NewMessageInsideAFragmentedOneCloses1002) {
  RawWebSocket socket(server().port());
  socket.send({Opcode::binary, "first half", /*fin=*/false});
  socket.send({Opcode::binary, "another message", /*fin=*/true});
  EXPECT_EQ(socket.wait_close_code(), 1002);
}

TEST_F(BadInput, UnmaskedClientFrameCloses1002) {
  RawWebSocket socket(server().port());
  socket.send({Opcode::binary, list_orgs().SerializeAsString(), true, /*masked=*/false});
  EXPECT_EQ(socket.wait_close_code(), 1002);
}

TEST_F(BadInput, ReservedBitWithoutExtensionCloses1002) {
  RawWebSocket socket(server().port());
  socket.send({Opcode::binary, list_orgs().SerializeAsString(), true, true, /*rsv1=*/true});
  EXPECT_EQ(socket.wait_close_code(), 1002);
}

TEST_F(BadInput, ReservedOpcodeCloses1002) {
  RawWebSocket socket(server().port());
  socket.send({Opcode::reserved_data, "?"});
  EXPECT_EQ(socket.wait_close_code(), 1002);
}

TEST_F(BadInput, OversizedPingCloses1002) {
  RawWebSocket socket(server().port());
  socket.send({Opcode::ping, std::string(126, 'p')});
  EXPECT_EQ(socket.wait_close_code(), 1002);
}

TEST_F(BadInput, FragmentedPingCloses1002) {
  RawWebSocket socket(server().port());
  socket.send({Opcode::ping, "p", /*fin=*/false});
  EXPECT_EQ(socket.wait_close_code(), 1002);
}

// ---- authentication

TEST_F(BadInput, EveryRequestBeforeLoginIsUnauthenticated) {
  auto client = server().connect();
  const auto* oneof = v1::ClientFrame::descriptor()->FindOneofByName("request");
  ASSERT_NE(oneof, nullptr);
  int checked = 0;
  for (int i = 0; i < oneof->field_count(); ++i) {
    const auto* field = oneof->field(i);
    if (field->name() == "login" || field->name() == "resume") continue;
    v1::ClientFrame frame;
    frame.GetReflection()->MutableMessage(&frame, field);  // an empty request of that type
    EXPECT_EQ(code_of(*client, frame), v1::UNAUTHENTICATED) << field->name();
    ++checked;
  }
  EXPECT_EQ(checked, oneof->field_count() - 2);
}

TEST_F(BadInput, LoginWithoutUsernameOrPasswordIsUnauthenticated) {
  auto client = server().connect();
  EXPECT_EQ(client->login("", "").status().code(), v1::UNAUTHENTICATED);
  EXPECT_EQ(client->login("bachu.coordinator", "").status().code(), v1::UNAUTHENTICATED);
  EXPECT_EQ(client->login("", server().password("bachu.coordinator")).status().code(),
            v1::UNAUTHENTICATED);
}

TEST_F(BadInput, HugeUsernameAndPasswordAreUnauthenticated) {
  auto client = server().connect();
  const std::string huge(100 * 1024, 'u');
  EXPECT_EQ(client->login(huge, huge).status().code(), v1::UNAUTHENTICATED);
}

TEST_F(BadInput, ForgedEmptyAndHugeTokensDoNotResume) {
  auto client = server().connect();
  EXPECT_EQ(client->resume("").status().code(), v1::UNAUTHENTICATED);
  EXPECT_EQ(client->resume(std::string(43, 'A')).status().code(), v1::UNAUTHENTICATED);
  EXPECT_EQ(client->resume(std::string(200 * 1024, 'A')).status().code(), v1::UNAUTHENTICATED);
  EXPECT_EQ(code_of(*client, list_orgs()), v1::UNAUTHENTICATED);
}

TEST_F(BadInput, RevokedTokenDoesNotResume) {
  auto client = server().connect();
  const auto login = client->login("hotan.coordinator", server().password("hotan.coordinator"));
  ASSERT_EQ(login.status().code(), v1::OK);
  ASSERT_EQ(code_of(*client, frame_with([](auto& f) { f.mutable_logout(); })), v1::OK);
  auto other = server().connect();
  EXPECT_EQ(other->resume(login.login().session_token()).status().code(), v1::UNAUTHENTICATED);
}

TEST(BadInputExpiry, ExpiredTokenDoesNotResume) {
  TestServer server([](app::Config& config) { config.session_lifetime = 1s; });
  const auto login = server.connect()->login("bachu.clinician", server.password("bachu.clinician"));
  ASSERT_EQ(login.status().code(), v1::OK);
  const auto expires = api::from_proto(login.login().expires_at());
  // The lifetime is a property of the clock, not of another thread: wait for the instant.
  std::this_thread::sleep_until(expires + 1ms);
  auto client = server.connect();
  EXPECT_EQ(client->resume(login.login().session_token()).status().code(), v1::UNAUTHENTICATED);
  EXPECT_EQ(server.login("hotan.clinician")->call(list_orgs()).status().code(), v1::OK);
}

// ---- ids: missing, empty, huge, of another type

TEST_F(BadInput, OpenConsultationWithMissingFieldsIsInvalid) {
  auto client = server().login("hotan.clinician");
  auto no_question = open_consultation("orthopedics", "");
  EXPECT_EQ(code_of(*client, no_question), v1::INVALID_ARGUMENT);
  auto no_patient = open_consultation("orthopedics", "Fracture?");
  no_patient.mutable_open_consultation()->clear_patient();
  EXPECT_EQ(code_of(*client, no_patient), v1::INVALID_ARGUMENT);
  auto no_specialty = open_consultation("", "Fracture?");
  EXPECT_EQ(code_of(*client, no_specialty), v1::INVALID_ARGUMENT);
  auto no_urgency = open_consultation("orthopedics", "Fracture?");
  no_urgency.mutable_open_consultation()->clear_urgency();
  EXPECT_EQ(code_of(*client, no_urgency), v1::INVALID_ARGUMENT);
}

TEST_F(BadInput, EmptyIdsAreNotFound) {
  auto client = server().login("bachu.clinician");
  EXPECT_EQ(code_of(*client, get_consultation("")), v1::NOT_FOUND);
  EXPECT_EQ(code_of(*client, files::read_frame("", 0, 0)), v1::NOT_FOUND);
  EXPECT_EQ(code_of(*client, files::chunk_frame("", 0, "x")), v1::NOT_FOUND);
  EXPECT_EQ(code_of(*client, files::finish_frame("")), v1::NOT_FOUND);
  EXPECT_EQ(code_of(*client, cancel_appointment("")), v1::NOT_FOUND);
  EXPECT_EQ(code_of(*client, book_review("", bachu_.consultation_id)), v1::NOT_FOUND);
}

TEST_F(BadInput, HugeIdsAreNotFound) {
  auto client = server().login("bachu.clinician");
  const std::string huge(200 * 1024, 'c');
  EXPECT_EQ(code_of(*client, get_consultation(huge)), v1::NOT_FOUND);
  EXPECT_EQ(code_of(*client, files::read_frame(huge, 0, 0)), v1::NOT_FOUND);
  EXPECT_EQ(code_of(*client, cancel_appointment(huge)), v1::NOT_FOUND);
}

TEST_F(BadInput, IdsOfAnotherTypeAreNotFound) {
  auto client = server().login("bachu.clinician");
  EXPECT_EQ(code_of(*client, get_consultation(bachu_.file_id)), v1::NOT_FOUND);
  EXPECT_EQ(code_of(*client, files::read_frame(bachu_.consultation_id, 0, 0)), v1::NOT_FOUND);
  EXPECT_EQ(code_of(*client, cancel_appointment(bachu_.slot_id)), v1::NOT_FOUND);
  EXPECT_EQ(code_of(*client, book_review(bachu_.appointment_id, bachu_.consultation_id)),
            v1::NOT_FOUND);
  EXPECT_EQ(code_of(*client, files::finish_frame(bachu_.file_id)), v1::NOT_FOUND);
}

// ---- huge repeated fields

TEST_F(BadInput, ThousandsOfCaseFileIdsAreInvalid) {
  auto client = server().login("hotan.clinician");
  auto frame = open_consultation("orthopedics", "Fracture?");
  for (int i = 0; i < 10000; ++i) {
    frame.mutable_open_consultation()->add_case_file_ids("cf-" + std::to_string(i));
  }
  EXPECT_EQ(code_of(*client, frame), v1::INVALID_ARGUMENT);
}

TEST_F(BadInput, ThousandsOfSlotsInOnePublishAreInvalid) {
  auto client = server().login("beijing.cardio");
  auto frame = publish_slot("", hours_ahead(24 * 40));
  auto* request = frame.mutable_publish_availability();
  for (int i = 1; i < 5000; ++i) *request->add_slots() = request->slots(0);
  EXPECT_EQ(code_of(*client, frame), v1::INVALID_ARGUMENT);
}

TEST_F(BadInput, ThousandsOfRulesInOnePublishAreInvalid) {
  auto client = server().login("beijing.cardio");
  v1::AvailabilityRule rule;
  rule.add_weekdays(v1::WEEKDAY_MONDAY);
  rule.set_local_start("08:00");
  rule.set_local_end("08:30");
  rule.set_time_zone("Asia/Shanghai");
  rule.set_slot_minutes(30);
  rule.set_capacity(1);
  auto frame = frame_with([&](auto& f) {
    for (int i = 0; i < 5000; ++i) *f.mutable_publish_availability()->add_rules() = rule;
  });
  EXPECT_EQ(code_of(*client, frame), v1::INVALID_ARGUMENT);
}

TEST_F(BadInput, RulesGivingMoreSlotsThanFitAreRefusedBeforeTheyAreAllExpanded) {
  // Every five minutes of every day: one such rule fills the horizon. A request of thousands of
  // copies must not expand them all (tens of millions of slots) before finding the overlap.
  auto client = server().login("beijing.cardio");
  v1::AvailabilityRule rule;
  for (int day = 1; day <= 7; ++day) rule.add_weekdays(static_cast<v1::Weekday>(day));
  rule.set_local_start("00:00");
  rule.set_local_end("24:00");
  rule.set_time_zone("UTC");
  rule.set_slot_minutes(5);
  rule.set_capacity(1);
  auto frame = frame_with([&](auto& f) {
    for (int i = 0; i < 3; ++i) *f.mutable_publish_availability()->add_rules() = rule;
  });
  const auto response = client->call(frame);
  EXPECT_EQ(response.status().code(), v1::INVALID_ARGUMENT);
  EXPECT_NE(response.status().message().find("give more slots than fit"), std::string::npos)
      << response.status().message();
}

TEST_F(BadInput, TimesOutsideTheYears1To9999AreInvalid) {
  // Their microseconds would overflow: refused by name, never computed with.
  auto client = server().login("beijing.cardio");
  const auto refused = [&](const v1::ClientFrame& frame, const std::string& field) {
    const auto response = client->call(frame);
    EXPECT_EQ(response.status().code(), v1::INVALID_ARGUMENT) << field;
    EXPECT_EQ(response.status().message().rfind(field + " is not a time", 0), 0u)
        << response.status().message();
  };
  refused(frame_with([](auto& f) {
            f.mutable_list_slots()->mutable_from()->set_seconds(INT64_MAX);
          }),
          "from");
  refused(frame_with([](auto& f) {
            f.mutable_list_appointments()->mutable_to()->set_seconds(-9'000'000'000'000);
          }),
          "to");
  refused(frame_with([](auto& f) {
            auto* slot = f.mutable_publish_availability()->add_slots();
            slot->mutable_starts_at()->set_seconds(1'900'000'000);
            slot->mutable_ends_at()->set_seconds(1'900'001'800);
            slot->mutable_ends_at()->set_nanos(-1);
          }),
          "slots[0].ends_at");
}

TEST_F(BadInput, ANulByteInAnIdIsTheClientsErrorOnEveryStore) {
  // PostgreSQL's text cannot hold a NUL byte; the answer must not send the client into
  // retrying a "storage unavailable" that will never pass.
  auto client = server().login("bachu.clinician");
  const std::string with_nul("con_\0x", 6);
  const std::vector<v1::ClientFrame> frames = {
      get_consultation(with_nul),
      book_review(with_nul, bachu_.consultation_id),
      frame_with([&](auto& f) { f.mutable_list_slots()->set_specialty(with_nul); }),
  };
  for (const auto& frame : frames) {
    const auto code = code_of(*client, frame);
    EXPECT_NE(code, v1::UNAVAILABLE) << frame.ShortDebugString();
    EXPECT_NE(code, v1::INTERNAL) << frame.ShortDebugString();
  }
}

TEST_F(BadInput, OversizedMessageBodyIsInvalid) {
  auto client = server().login("bachu.clinician");
  auto frame = frame_with([](auto& f) {
    auto* post = f.mutable_post_message();
    post->set_consultation_id(bachu_.consultation_id);
    post->set_client_msg_id("too-long-1");
    post->mutable_body()->set_text(std::string(65 * 1024, 'b'));
  });
  EXPECT_EQ(code_of(*client, frame), v1::INVALID_ARGUMENT);
}

TEST_F(BadInput, AClinicalNoteWithoutTextIsInvalid) {
  auto client = server().login("bachu.clinician");
  const auto note = [&](const std::string& id, const std::string& text) {
    return frame_with([&](auto& f) {
      auto* post = f.mutable_post_message();
      post->set_consultation_id(bachu_.consultation_id);
      post->set_client_msg_id(id);
      post->mutable_body()->mutable_note()->set_title("Vascular status, left leg");
      post->mutable_body()->mutable_note()->set_text(text);
    });
  };
  EXPECT_EQ(code_of(*client, note("note-1", "")), v1::INVALID_ARGUMENT);
  EXPECT_EQ(code_of(*client, note("note-2", "Pulses absent below the knee.")), v1::OK);
}

// Protobuf keeps an enum number it does not know: the server refuses it rather than store it.
TEST_F(BadInput, EnumNumbersTheProtocolDoesNotDefineAreInvalid) {
  auto client = server().login("bachu.clinician");
  auto urgency = open_consultation("orthopedics", "Fracture?");
  urgency.mutable_open_consultation()->set_urgency(static_cast<v1::Urgency>(7));
  EXPECT_EQ(code_of(*client, urgency), v1::INVALID_ARGUMENT);
  auto sex = open_consultation("orthopedics", "Fracture?");
  sex.mutable_open_consultation()->mutable_patient()->set_sex(static_cast<v1::Sex>(-1));
  EXPECT_EQ(code_of(*client, sex), v1::INVALID_ARGUMENT);
  auto known = open_consultation("orthopedics", "Fracture?");
  known.mutable_open_consultation()->mutable_patient()->set_sex(v1::SEX_OTHER);
  known.mutable_open_consultation()->set_urgency(v1::URGENCY_EMERGENCY);
  EXPECT_EQ(code_of(*client, known), v1::OK);

  auto state = frame_with([](auto& f) {
    f.mutable_list_consultations()->set_state(static_cast<v1::ConsultationState>(10));
  });
  EXPECT_EQ(code_of(*client, state), v1::INVALID_ARGUMENT);
  auto signal = [&](int kind) {
    return frame_with([&](auto& f) {
      auto* post = f.mutable_post_message();
      post->set_consultation_id(bachu_.consultation_id);
      post->mutable_body()->mutable_signal()->set_kind(static_cast<v1::SignalKind>(kind));
      post->mutable_body()->mutable_signal()->set_payload("candidate:1 1 udp 1 10.0.0.1 5000");
    });
  };
  EXPECT_EQ(code_of(*client, signal(4)), v1::INVALID_ARGUMENT);
  EXPECT_EQ(code_of(*client, signal(v1::SIGNAL_KIND_ICE)), v1::OK);
}

TEST_F(BadInput, MalformedPageTokenIsInvalid) {
  auto client = server().login("bachu.clinician");
  auto frame = frame_with([](auto& f) {
    f.mutable_list_consultations()->set_page_token(std::string("\x01\x02not-a-token", 13));
  });
  EXPECT_EQ(code_of(*client, frame), v1::INVALID_ARGUMENT);
}

TEST_F(BadInput, AckBeyondTheLastMessageIsOutOfRange) {
  auto client = server().login("bachu.clinician");
  auto frame = frame_with([](auto& f) {
    f.mutable_ack_messages()->set_consultation_id(bachu_.consultation_id);
    f.mutable_ack_messages()->set_up_to_seq(~std::uint64_t{0});
  });
  EXPECT_EQ(code_of(*client, frame), v1::OUT_OF_RANGE);
}

// ---- objects of another organisation

TEST_F(BadInput, ConsultationOfAnotherOrganisationIsNotFound) {
  auto outsider = server().login("hotan.clinician");
  EXPECT_EQ(code_of(*outsider, get_consultation(bachu_.consultation_id)), v1::NOT_FOUND);
  EXPECT_EQ(code_of(*outsider, frame_with([](auto& f) {
              auto* post = f.mutable_post_message();
              post->set_consultation_id(bachu_.consultation_id);
              post->set_client_msg_id("intrude-1");
              post->mutable_body()->set_text("hello");
            })),
            v1::NOT_FOUND);
  EXPECT_EQ(code_of(*outsider, frame_with([](auto& f) {
              f.mutable_sync_consultation()->set_consultation_id(bachu_.consultation_id);
            })),
            v1::NOT_FOUND);
  auto other_specialist = server().login("beijing.ortho");
  EXPECT_EQ(code_of(*other_specialist, frame_with([](auto& f) {
              f.mutable_accept_consultation()->set_consultation_id(bachu_.consultation_id);
            })),
            v1::NOT_FOUND);
}

TEST_F(BadInput, CaseFileOfAnotherOrganisationIsNotFound) {
  auto outsider = server().login("hotan.clinician");
  EXPECT_EQ(code_of(*outsider, files::read_frame(bachu_.file_id, 0, 0)), v1::NOT_FOUND);
  const auto own = outsider->call(open_consultation("orthopedics", "Hip pain?"));
  ASSERT_EQ(own.status().code(), v1::OK);
  EXPECT_EQ(code_of(*outsider, frame_with([&](auto& f) {
              f.mutable_share_case_file()->set_file_id(bachu_.file_id);
              f.mutable_share_case_file()->set_consultation_id(own.consultation().id());
            })),
            v1::NOT_FOUND);
  EXPECT_EQ(code_of(*outsider, frame_with([](auto& f) {
              f.mutable_list_case_files()->set_consultation_id(bachu_.consultation_id);
            })),
            v1::NOT_FOUND);
}

TEST_F(BadInput, UploadOfAnotherUserIsNotFound) {
  auto colleague = server().login("bachu.coordinator");
  EXPECT_EQ(code_of(*colleague, files::chunk_frame(bachu_.upload_id, 0, "x")), v1::NOT_FOUND);
  EXPECT_EQ(code_of(*colleague, files::finish_frame(bachu_.upload_id)), v1::NOT_FOUND);
  v1::ClientFrame resume;
  resume.mutable_begin_upload()->set_upload_id(bachu_.upload_id);
  EXPECT_EQ(code_of(*colleague, resume), v1::NOT_FOUND);
}

TEST_F(BadInput, AppointmentOfAnotherOrganisationIsNotFound) {
  auto outsider = server().login("hotan.clinician");
  EXPECT_EQ(code_of(*outsider, cancel_appointment(bachu_.appointment_id)), v1::NOT_FOUND);
  EXPECT_EQ(code_of(*outsider, frame_with([](auto& f) {
              f.mutable_reschedule_appointment()->set_appointment_id(bachu_.appointment_id);
              f.mutable_reschedule_appointment()->set_new_slot_id(bachu_.slot_id);
            })),
            v1::NOT_FOUND);
}

TEST_F(BadInput, SlotOfAnUnpairedOrganisationIsNotFound) {
  auto outsider = server().login("hotan.clinician");
  const auto own = outsider->call(open_consultation("orthopedics", "Knee?"));
  ASSERT_EQ(own.status().code(), v1::OK);
  EXPECT_EQ(code_of(*outsider, book_review(bachu_.slot_id, own.consultation().id())),
            v1::NOT_FOUND);
}

TEST_F(BadInput, UserOfAnotherOrganisationIsNotFound) {
  // A Beijing coordinator manages Beijing's schedules only; Shanghai's specialist is not theirs.
  auto coordinator = server().login("beijing.coordinator");
  EXPECT_EQ(
      code_of(*coordinator, publish_slot(server().user_id("shanghai.ortho"), hours_ahead(24 * 20))),
      v1::NOT_FOUND);
}

TEST_F(BadInput, AssigningOrInvitingAnUnpairedHospitalsUserIsInvalid) {
  // Routing names the rule that is broken (the specialist is not at a paired partner).
  auto clinician = server().login("hotan.clinician");
  const auto own = clinician->call(open_consultation("orthopedics", "Ankle?"));
  ASSERT_EQ(own.status().code(), v1::OK);
  auto hotan_coordinator = server().login("hotan.coordinator");
  EXPECT_EQ(
      code_of(*hotan_coordinator, frame_with([&](auto& f) {
        f.mutable_assign_consultation()->set_consultation_id(own.consultation().id());
        f.mutable_assign_consultation()->set_specialist_id(server().user_id("shanghai.ortho"));
      })),
      v1::INVALID_ARGUMENT);
  // No specialist at all is a bad request, not a storage failure to retry.
  EXPECT_EQ(code_of(*hotan_coordinator, frame_with([&](auto& f) {
              f.mutable_assign_consultation()->set_consultation_id(own.consultation().id());
            })),
            v1::INVALID_ARGUMENT);
  // An invitation goes to colleagues of the two hospitals involved only.
  auto requester = server().login("bachu.clinician");
  EXPECT_EQ(code_of(*requester, frame_with([&](auto& f) {
              f.mutable_invite_participant()->set_consultation_id(bachu_.consultation_id);
              f.mutable_invite_participant()->set_user_id(server().user_id("hotan.clinician"));
            })),
            v1::INVALID_ARGUMENT);
}

// ---- role violations

TEST_F(BadInput, ClinicianSubmittingAReportIsDenied) {
  auto clinician = server().login("bachu.clinician");
  EXPECT_EQ(code_of(*clinician, frame_with([](auto& f) {
              f.mutable_submit_report()->set_consultation_id(bachu_.consultation_id);
              f.mutable_submit_report()->mutable_report()->set_findings("self-diagnosed");
            })),
            v1::PERMISSION_DENIED);
}

TEST_F(BadInput, ClinicianAcceptingIsDenied) {
  auto clinician = server().login("hotan.clinician");
  const auto own = clinician->call(open_consultation("orthopedics", "Wrist?"));
  ASSERT_EQ(own.status().code(), v1::OK);
  EXPECT_EQ(code_of(*clinician, frame_with([&](auto& f) {
              f.mutable_accept_consultation()->set_consultation_id(own.consultation().id());
            })),
            v1::PERMISSION_DENIED);
}

TEST_F(BadInput, SpecialistPublishingForAColleagueIsDenied) {
  auto ortho = server().login("shanghai.ortho");
  EXPECT_EQ(code_of(*ortho, publish_slot(server().user_id("shanghai.cardio"), hours_ahead(24 * 9))),
            v1::PERMISSION_DENIED);
}

TEST_F(BadInput, SpecialistOpeningAConsultationIsDenied) {
  auto ortho = server().login("shanghai.ortho");
  EXPECT_EQ(code_of(*ortho, open_consultation("cardiology", "Arrhythmia?")), v1::PERMISSION_DENIED);
}

TEST_F(BadInput, AdministratorReadingClinicalContentIsDenied) {
  auto admin = server().login("admin");
  EXPECT_EQ(code_of(*admin, get_consultation(bachu_.consultation_id)), v1::PERMISSION_DENIED);
  EXPECT_EQ(code_of(*admin, begin_upload(10, crypto::sha256("admin"))), v1::PERMISSION_DENIED);
}

// ---- sizes, offsets and hashes

TEST_F(BadInput, NegativeUploadSizeIsTooLarge) {
  // uint64 on the wire: a client's -1 arrives as 2^64 - 1.
  auto client = server().login("bachu.clinician");
  EXPECT_EQ(code_of(*client, begin_upload(~std::uint64_t{0}, crypto::sha256("x"))),
            v1::RESOURCE_EXHAUSTED);
}

TEST_F(BadInput, ZeroUploadSizeAndShortHashAreInvalid) {
  auto client = server().login("bachu.clinician");
  EXPECT_EQ(code_of(*client, begin_upload(0, crypto::sha256("x"))), v1::INVALID_ARGUMENT);
  EXPECT_EQ(code_of(*client, begin_upload(10, "too-short")), v1::INVALID_ARGUMENT);
}

TEST_F(BadInput, ChunkOffsetsAndSizesOutsideTheUploadAreRefused) {
  auto client = server().login("bachu.clinician");
  const std::string content(100, 'd');
  const auto begun = client->call(begin_upload(content.size(), crypto::sha256(content)));
  ASSERT_EQ(begun.status().code(), v1::OK);
  const auto& id = begun.upload_session().upload_id();
  EXPECT_EQ(code_of(*client, files::chunk_frame(id, ~std::uint64_t{0}, "x")),
            v1::FAILED_PRECONDITION);
  EXPECT_EQ(code_of(*client, files::chunk_frame(id, 50, "x")), v1::FAILED_PRECONDITION);
  EXPECT_EQ(code_of(*client, files::chunk_frame(id, 0, content + "overflow")), v1::OUT_OF_RANGE);
  EXPECT_EQ(code_of(*client, files::chunk_frame(id, 0, "")), v1::INVALID_ARGUMENT);
  EXPECT_EQ(code_of(*client, files::finish_frame(id)), v1::FAILED_PRECONDITION);
  // Nothing above moved the committed offset: the honest upload still completes.
  EXPECT_EQ(code_of(*client, files::chunk_frame(id, 0, content)), v1::OK);
  EXPECT_EQ(code_of(*client, files::finish_frame(id)), v1::OK);
}

TEST_F(BadInput, ChunkLongerThanTheChunkSizeIsInvalid) {
  auto client = server().login("bachu.clinician");
  const std::string content(2 * chunk_bytes, 'e');
  const auto begun = client->call(begin_upload(content.size(), crypto::sha256(content)));
  ASSERT_EQ(begun.status().code(), v1::OK);
  EXPECT_EQ(code_of(*client, files::chunk_frame(begun.upload_session().upload_id(), 0,
                                                content.substr(0, chunk_bytes + 1))),
            v1::INVALID_ARGUMENT);
}

TEST_F(BadInput, ReadOffsetsBeyondTheFileAreOutOfRange) {
  auto client = server().login("shanghai.ortho");
  EXPECT_EQ(code_of(*client, files::read_frame(bachu_.file_id, ~std::uint64_t{0}, 0)),
            v1::OUT_OF_RANGE);
  EXPECT_EQ(code_of(*client, files::read_frame(bachu_.file_id, 12, 1)), v1::OUT_OF_RANGE);
  // A huge length is capped, not trusted.
  const auto whole = client->call(files::read_frame(bachu_.file_id, 0, ~std::uint32_t{0}));
  ASSERT_EQ(whole.status().code(), v1::OK);
  EXPECT_EQ(whole.file_chunk().data(), "bachu x-ray");
  EXPECT_TRUE(whole.file_chunk().eof());
}

TEST_F(BadInput, HashMismatchOnFinishIsDataLoss) {
  auto client = server().login("bachu.clinician");
  const std::string content = "what was declared";
  const auto begun = client->call(begin_upload(content.size(), crypto::sha256(content)));
  ASSERT_EQ(begun.status().code(), v1::OK);
  const auto& id = begun.upload_session().upload_id();
  // Same length as declared, different bytes.
  ASSERT_EQ(code_of(*client, files::chunk_frame(id, 0, "what was altered!")), v1::OK);
  EXPECT_EQ(code_of(*client, files::finish_frame(id)), v1::DATA_LOSS);
}

// ---- TLS

TEST_F(BadInput, Tls10IsRefused) {
  EXPECT_FALSE(tls_handshake_succeeds(server().port(), {TLS1_VERSION, TLS1_VERSION, {}}));
}

TEST_F(BadInput, Tls11IsRefused) {
  EXPECT_FALSE(tls_handshake_succeeds(server().port(), {TLS1_1_VERSION, TLS1_1_VERSION, {}}));
}

TEST_F(BadInput, Tls12WithAnAeadSuiteIsAccepted) {
  // The control case: the refusals below are about the suites, not about TLS 1.2.
  EXPECT_TRUE(tls_handshake_succeeds(
      server().port(), {TLS1_2_VERSION, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256"}));
}

TEST_F(BadInput, CbcSuitesAreRefused) {
  EXPECT_FALSE(tls_handshake_succeeds(
      server().port(),
      {TLS1_2_VERSION, TLS1_2_VERSION,
       "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256"}));
}

TEST_F(BadInput, NullEncryptionIsRefused) {
  EXPECT_FALSE(tls_handshake_succeeds(server().port(), {TLS1_2_VERSION, TLS1_2_VERSION, "eNULL"}));
}

TEST_F(BadInput, AnonymousKeyExchangeIsRefused) {
  EXPECT_FALSE(tls_handshake_succeeds(server().port(), {TLS1_2_VERSION, TLS1_2_VERSION, "aNULL"}));
}

TEST_F(BadInput, KeyExchangeWithoutForwardSecrecyIsRefused) {
  EXPECT_FALSE(tls_handshake_succeeds(server().port(),
                                      {TLS1_2_VERSION, TLS1_2_VERSION, "AES128-GCM-SHA256"}));
}

// ---- hospital gateways (mutual TLS)

class BadInputGateway : public ::testing::Test {
 protected:
  TestServer server_{[](app::Config& config) {
    config.client_ca = dev_ca_file();
    config.require_client_cert = true;
  }};

  // Client options presenting the dev gateway certificate of organisation (Subject O).
  client::ClientOptions gateway(const std::string& organization) const {
    auto options = server_.client_options();
    options.client_certificate_file = dev_certs_dir() + "/clients/" + organization + ".crt";
    options.client_private_key_file = dev_certs_dir() + "/clients/" + organization + ".key";
    return options;
  }

  void TearDown() override {
    Client probe(gateway("bachu"));
    probe.connect();
    ASSERT_EQ(probe.login("bachu.clinician", server_.password("bachu.clinician")).status().code(),
              v1::OK);
    EXPECT_EQ(probe.call(list_orgs()).status().code(), v1::OK);
  }
};

TEST_F(BadInputGateway, ConnectionWithoutAClientCertificateIsRefused) {
  Client anonymous(server_.client_options());
  bool refused = false;
  try {
    anonymous.connect();  // with TLS 1.3 the refusal may only show on the first read
    refused =
        anonymous.login("bachu.clinician", server_.password("bachu.clinician")).status().code() !=
        v1::OK;
  } catch (const client::ClientError&) {
    refused = true;
  }
  EXPECT_TRUE(refused);
}

TEST_F(BadInputGateway, LoginThroughAnotherOrganisationsGatewayIsDeniedAndAudited) {
  {
    Client client(gateway("bachu"));
    client.connect();
    EXPECT_EQ(client.login("hotan.clinician", server_.password("hotan.clinician")).status().code(),
              v1::PERMISSION_DENIED);
    EXPECT_EQ(code_of_call(client, list_orgs()), v1::UNAUTHENTICATED);
  }
  server_.stop();  // graceful: every queued audit record is written
  std::vector<store::AuditRow> rows;
  server_.open_store()->read([&](store::Tx& tx) {
    rows = tx.list_audit_records(0, 100000);
  });
  const auto hotan = server_.user_id("hotan.clinician");
  EXPECT_TRUE(std::any_of(rows.begin(), rows.end(), [&](const store::AuditRow& row) {
    return row.action == "login.certificate_mismatch" && row.actor_id == hotan &&
           row.record.find("\"outcome\":\"denied\"") != std::string::npos;
  }));
  server_.restart();
}

// ---- slow and silent peers (their own server: short handshake and idle deadlines)

class BadInputDeadlines : public ::testing::Test {
 protected:
  TestServer server_{[](app::Config& config) {
    config.handshake_timeout = 2000ms;
    config.idle_timeout = 2000ms;
  }};

  void TearDown() override {
    auto probe = server_.login("bachu.clinician");
    EXPECT_EQ(probe->call(list_orgs()).status().code(), v1::OK);
  }
};

TEST_F(BadInputDeadlines, SlowlorisIsClosedAtTheHandshakeDeadline) {
  // TLS 1.2: nothing arrives after the handshake (no 1.3 session tickets), so anything readable
  // means the server is ending the connection.
  RawTlsClient client(server_.port(), {0, TLS1_2_VERSION, {}});
  const std::string request = websocket_upgrade_headers();
  // One byte per 200 ms would take over 30 s; every byte is activity, yet the deadline counts
  // from the accept. Between bytes the client waits for the server to end the connection.
  std::size_t sent = 0;
  bool closed = false;
  for (const char byte : request) {
    if (!client.try_write(std::string(1, byte))) break;
    ++sent;
    if (client.wait_readable(200ms)) {
      closed = client.wait_closed(close_deadline);
      break;
    }
  }
  EXPECT_TRUE(closed) << "the server did not end a dribbling handshake";
  EXPECT_LT(sent, request.size());
}

TEST_F(BadInputDeadlines, PeerThatNeverAnswersPingsIsClosedAtTheIdleTimeout) {
  RawWebSocket socket(server_.port());
  bool pinged = false;
  // Read (and answer nothing) until the server gives up on us.
  while (const auto frame = socket.read_frame()) {
    if (frame->opcode == Opcode::ping) pinged = true;
  }
  EXPECT_FALSE(socket.tls().timed_out()) << "the server kept a silent peer";
  EXPECT_TRUE(pinged) << "the server closed without probing the peer first";
}

}  // namespace
}  // namespace tmc::testing
