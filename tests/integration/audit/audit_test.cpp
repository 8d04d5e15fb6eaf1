// Audit log over a real server: logins, consultations and a denied read are recorded (ids only),
// the log verifies, and tmc-admin audit verify/head/export work on it as a separate process.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "audit/signing_key.hpp"
#include "api/codec.hpp"
#include "audit/verifier.hpp"
#include "case_file_client.hpp"
#include "test_server.hpp"

namespace tmc::testing {
namespace {

namespace v1 = ::telemed::v1;

constexpr const char* question = "Crush injury of the left leg: can it be saved? QX-7731";
constexpr const char* summary = "Wrestler, crushed under a vehicle; distal pulses weak. SX-5512";
constexpr const char* patient = "P-2026-0042";

v1::ClientFrame open_frame() {
  v1::ClientFrame frame;
  auto* open = frame.mutable_open_consultation();
  open->set_specialty("orthopedics");
  open->set_urgency(v1::URGENCY_ROUTINE);
  open->mutable_patient()->set_reference(patient);
  open->mutable_patient()->set_age_years(19);
  open->mutable_patient()->set_sex(v1::SEX_MALE);
  open->set_question(question);
  open->set_clinical_summary(summary);
  return frame;
}

v1::ClientFrame get_frame(const std::string& id) {
  v1::ClientFrame frame;
  frame.mutable_get_consultation()->set_consultation_id(id);
  return frame;
}

struct Command {
  int exit_code;
  std::string output;
};

Command run(const std::string& command) {
  Command result{-1, ""};
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  while (const auto n = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    result.output.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

class AuditOverServer : public ::testing::Test {
 protected:
  std::filesystem::path data_dir() const { return server_.data_dir() / "data"; }

  std::vector<store::AuditRow> records() {
    auto store = server_.open_store();
    std::vector<store::AuditRow> rows;
    store->read([&](store::Tx& tx) { rows = tx.list_audit_records(0, 100000); });
    return rows;
  }

  static const store::AuditRow* find(const std::vector<store::AuditRow>& rows,
                                     const std::string& action, const std::string& actor,
                                     const std::string& outcome) {
    for (const auto& row : rows) {
      if (row.action == action && row.actor_id == actor &&
          row.record.find("\"outcome\":\"" + outcome + "\"") != std::string::npos) {
        return &row;
      }
    }
    return nullptr;
  }

  std::string admin(const std::string& arguments) const {
    return std::string(TMC_BINARY_DIR) + "/server/admin/tmc-admin --data-dir " +
           data_dir().string() + " " + arguments;
  }

  // Bachu's clinician and Shanghai's orthopedist, signed in, and a consultation the one opened
  // and the other accepted (id "" if not).
  struct Accepted {
    std::unique_ptr<client::BlockingClient> clinician;
    std::unique_ptr<client::BlockingClient> specialist;
    std::string id;
  };
  Accepted open_and_accept() {
    Accepted pair{server_.login("bachu.clinician"), server_.login("shanghai.ortho"), {}};
    auto opened = pair.clinician->call(open_frame());
    EXPECT_EQ(opened.status().code(), v1::OK) << opened.status().message();
    v1::ClientFrame accept;
    accept.mutable_accept_consultation()->set_consultation_id(opened.consultation().id());
    if (pair.specialist->call(accept).status().code() == v1::OK) {
      pair.id = opened.consultation().id();
    }
    return pair;
  }

  // The record of actor's action with outcome, which names the test's patient.
  static void expect_patient(const std::vector<store::AuditRow>& rows, const std::string& action,
                             const std::string& actor, const std::string& outcome) {
    const auto* row = find(rows, action, actor, outcome);
    ASSERT_TRUE(row) << action << " " << outcome;
    EXPECT_EQ(row->patient_reference, patient) << action << " " << outcome;
  }

  TestServer server_;
};

TEST_F(AuditOverServer, AStateChangeAndAMessageAreOnRecordWhenTheyAreAnswered) {
  auto [clinician, specialist, id] = open_and_accept();
  ASSERT_FALSE(id.empty());
  v1::ClientFrame post;
  post.mutable_post_message()->set_consultation_id(id);
  post.mutable_post_message()->set_client_msg_id("m-1");
  post.mutable_post_message()->mutable_body()->set_text("Pulses now? QX-7731");
  ASSERT_EQ(clinician->call(post).status().code(), v1::OK);
  // No flush, no stop: both records were committed with the changes they describe.
  const auto rows = records();
  expect_patient(rows, "accept", server_.user_id("shanghai.ortho"), "success");
  expect_patient(rows, "message.post", server_.user_id("bachu.clinician"), "success");
}

// An id with a NUL byte (no consultation has one, and PostgreSQL stores no text with one) is
// answered with an error, and the records after its refusal are stored: the log does not stall.
TEST_F(AuditOverServer, AnIdWithANulByteDoesNotStallTheLog) {
  auto [clinician, specialist, id] = open_and_accept();
  ASSERT_FALSE(id.empty());
  const std::string bad_id("con_\0x", 6);
  v1::ClientFrame share;
  share.mutable_share_case_file()->set_file_id("fil_x");
  share.mutable_share_case_file()->set_consultation_id(bad_id);
  EXPECT_NE(clinician->call(share).status().code(), v1::OK);
  v1::ClientFrame post;  // refused inside the store's write, with its record
  post.mutable_post_message()->set_consultation_id(bad_id);
  post.mutable_post_message()->set_client_msg_id("m-nul");
  EXPECT_NE(clinician->call(post).status().code(), v1::OK);
  ASSERT_EQ(specialist->call(get_frame(id)).status().code(), v1::OK);
  server_.stop();  // every queued audit record is written

  const auto rows = records();
  expect_patient(rows, "consultation.read", server_.user_id("shanghai.ortho"), "success");
  EXPECT_TRUE(find(rows, "case_file.share", server_.user_id("bachu.clinician"), "denied") ||
              find(rows, "case_file.share", server_.user_id("bachu.clinician"), "failed"));
}

TEST_F(AuditOverServer, EveryReadOfACaseFileIsOnRecordWithItsPatient) {
  auto [clinician, specialist, id] = open_and_accept();
  ASSERT_FALSE(id.empty());
  const auto data = files::random_data(3000, 7);
  auto uploaded = files::upload(*clinician, "xray.dcm", data, id);
  ASSERT_EQ(uploaded.status().code(), v1::OK) << uploaded.status().message();
  const auto file_id = uploaded.case_file().id();
  // The specialist reads only the second half: a range read is a read of the patient's file.
  auto part = specialist->call(files::read_frame(file_id, 1500));
  ASSERT_EQ(part.status().code(), v1::OK) << part.status().message();
  EXPECT_EQ(part.file_chunk().data(), data.substr(1500));
  auto outsider = server_.login("hotan.clinician");
  EXPECT_EQ(outsider->call(files::read_frame(file_id, 0)).status().code(), v1::NOT_FOUND);
  server_.stop();  // every queued audit record is written

  const auto rows = records();
  const auto* read = find(rows, "case_file.read", server_.user_id("shanghai.ortho"), "success");
  ASSERT_TRUE(read);
  EXPECT_NE(read->record.find(file_id), std::string::npos);
  expect_patient(rows, "case_file.read", server_.user_id("shanghai.ortho"), "success");
  expect_patient(rows, "case_file.read", server_.user_id("hotan.clinician"), "denied");
  expect_patient(rows, "case_file.share", server_.user_id("bachu.clinician"), "success");
}

// A file attached when the consultation is opened is shared as by share_case_file, on record.
TEST_F(AuditOverServer, AFileAttachedAtOpeningIsAShareOnRecord) {
  auto clinician = server_.login("bachu.clinician");
  auto uploaded = files::upload(*clinician, "knee.dcm", files::random_data(2000, 3));
  ASSERT_EQ(uploaded.status().code(), v1::OK) << uploaded.status().message();
  const auto file_id = uploaded.case_file().id();
  auto frame = open_frame();
  frame.mutable_open_consultation()->add_case_file_ids(file_id);
  auto opened = clinician->call(frame);
  ASSERT_EQ(opened.status().code(), v1::OK) << opened.status().message();
  server_.stop();

  const auto rows = records();
  const auto* shared = find(rows, "case_file.share", server_.user_id("bachu.clinician"), "success");
  ASSERT_TRUE(shared);
  EXPECT_NE(shared->record.find("\"objects\":[\"" + file_id + "\",\"" +
                                opened.consultation().id() + "\"]"),
            std::string::npos)
      << shared->record;
  EXPECT_EQ(shared->patient_reference, patient);
}

// Booking and cancelling a review are on record with the patient (through the consultation), and
// an administrator's attempt as a denial.
TEST_F(AuditOverServer, ReviewsBookedAndCancelledAreOnRecordWithTheirPatient) {
  auto [clinician, specialist, id] = open_and_accept();
  ASSERT_FALSE(id.empty());
  v1::ClientFrame publish;
  auto* slot = publish.mutable_publish_availability()->add_slots();
  const auto starts = std::chrono::floor<std::chrono::hours>(std::chrono::system_clock::now()) +
                      std::chrono::hours(48);
  *slot->mutable_starts_at() = api::to_proto(TimePoint(starts));
  *slot->mutable_ends_at() = api::to_proto(TimePoint(starts + std::chrono::minutes(30)));
  slot->set_capacity(1);
  auto published = specialist->call(publish);
  ASSERT_EQ(published.status().code(), v1::OK) << published.status().message();
  v1::ClientFrame book;
  book.mutable_book_review()->set_slot_id(published.publish_availability().slots(0).id());
  book.mutable_book_review()->set_consultation_id(id);
  auto admin = server_.login("admin");
  EXPECT_EQ(admin->call(book).status().code(), v1::PERMISSION_DENIED);
  auto booked = clinician->call(book);
  ASSERT_EQ(booked.status().code(), v1::OK) << booked.status().message();
  v1::ClientFrame cancel;
  cancel.mutable_cancel_appointment()->set_appointment_id(booked.appointment().id());
  ASSERT_EQ(specialist->call(cancel).status().code(), v1::OK);
  server_.stop();

  const auto rows = records();
  expect_patient(rows, "appointment.book", server_.user_id("bachu.clinician"), "success");
  expect_patient(rows, "appointment.cancel", server_.user_id("shanghai.ortho"), "success");
  expect_patient(rows, "appointment.book", server_.user_id("admin"), "denied");
  const auto* cancelled =
      find(rows, "appointment.cancel", server_.user_id("shanghai.ortho"), "success");
  ASSERT_TRUE(cancelled);
  EXPECT_NE(cancelled->record.find(booked.appointment().id()), std::string::npos);
}

TEST_F(AuditOverServer, RecordsSecurityEventsWithIdsOnlyAndVerifies) {
  std::string consultation_id;
  {
    auto clinician = server_.login("bachu.clinician");
    auto opened = clinician->call(open_frame());
    ASSERT_EQ(opened.status().code(), v1::OK) << opened.status().message();
    consultation_id = opened.consultation().id();
    EXPECT_EQ(clinician->call(get_frame(consultation_id)).status().code(), v1::OK);

    auto outsider = server_.login("hotan.clinician");
    EXPECT_EQ(outsider->call(get_frame(consultation_id)).status().code(), v1::NOT_FOUND);
    v1::ClientFrame ack;
    ack.mutable_ack_messages()->set_consultation_id(consultation_id);
    EXPECT_EQ(outsider->call(ack).status().code(), v1::NOT_FOUND);

    auto stranger = server_.connect();
    EXPECT_NE(stranger->login("bachu.clinician", "wrong-password-PW-9931").status().code(),
              v1::OK);
  }
  server_.stop();  // graceful: every queued audit record is written and a head signed

  const auto rows = records();
  const auto bachu = server_.user_id("bachu.clinician");
  const auto hotan = server_.user_id("hotan.clinician");
  EXPECT_TRUE(find(rows, "login", bachu, "success"));
  EXPECT_TRUE(find(rows, "login", hotan, "success"));
  EXPECT_TRUE(find(rows, "login", bachu, "failed"));
  const auto* opened = find(rows, "consultation.open", bachu, "success");
  ASSERT_TRUE(opened);
  EXPECT_NE(opened->record.find(consultation_id), std::string::npos);
  EXPECT_EQ(opened->patient_reference, patient);
  EXPECT_TRUE(find(rows, "consultation.read", bachu, "success"));

  // The denied read of another hospital's consultation is on record, with its patient.
  const auto* denied = find(rows, "consultation.read", hotan, "denied");
  ASSERT_TRUE(denied);
  EXPECT_NE(denied->record.find("\"objects\":[\"" + consultation_id + "\"]"), std::string::npos);
  EXPECT_NE(denied->record.find("\"org\":\"hotan\""), std::string::npos);
  EXPECT_EQ(denied->patient_reference, patient);
  const auto* refused_ack = find(rows, "message.ack", hotan, "denied");
  ASSERT_TRUE(refused_ack);
  EXPECT_NE(refused_ack->record.find(consultation_id), std::string::npos);

  // Ids only: no password, no clinical text, no token.
  for (const auto& row : rows) {
    EXPECT_EQ(row.record.find(server_.password("bachu.clinician")), std::string::npos);
    EXPECT_EQ(row.record.find("PW-9931"), std::string::npos);
    EXPECT_EQ(row.record.find("QX-7731"), std::string::npos);
    EXPECT_EQ(row.record.find("SX-5512"), std::string::npos);
    EXPECT_TRUE(row.record.find("\"time\":\"20") != std::string::npos) << row.record;
  }

  auto store = server_.open_store();
  const auto key = audit::SigningKey::load(data_dir() / "audit.key");
  const auto report = audit::verify_log(*store, key.public_key());
  EXPECT_TRUE(report.ok()) << report.problems.front();
  EXPECT_EQ(report.records, static_cast<std::int64_t>(rows.size()));
  EXPECT_EQ(report.signed_records, report.records);
}

TEST_F(AuditOverServer, AdminVerifyHeadAndExport) {
  const auto tool = std::string(TMC_BINARY_DIR) + "/server/admin/tmc-admin";
  ASSERT_TRUE(std::filesystem::exists(tool)) << "tmc-admin must be built before this test";
  std::string consultation_id;
  {
    auto clinician = server_.login("bachu.clinician");
    auto opened = clinician->call(open_frame());
    ASSERT_EQ(opened.status().code(), v1::OK);
    consultation_id = opened.consultation().id();
    auto outsider = server_.login("hotan.clinician");
    EXPECT_EQ(outsider->call(get_frame(consultation_id)).status().code(), v1::NOT_FOUND);
  }
  server_.stop();

  const auto verified = run(admin("audit verify"));
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  EXPECT_NE(verified.output.find("audit log OK"), std::string::npos) << verified.output;

  const auto head = run(admin("audit head"));
  ASSERT_EQ(head.exit_code, 0) << head.output;
  const auto head_file = server_.data_dir() / "head.txt";
  { std::ofstream(head_file) << head.output; }
  const auto with_head = run(admin("audit verify --head " + head_file.string()));
  EXPECT_EQ(with_head.exit_code, 0) << with_head.output;

  const auto exported = run(admin("audit export --from 2000-01-01 --to 2100-01-01 --patient-ref " +
                                  std::string(patient)));
  EXPECT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_NE(exported.output.find("\"action\":\"consultation.open\""), std::string::npos);
  EXPECT_NE(exported.output.find("\"outcome\":\"denied\""), std::string::npos);
  EXPECT_EQ(exported.output.find("\"action\":\"login\""), std::string::npos);

  // Flip a byte of record 2 behind the server's back.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data_dir() / "tmc.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "UPDATE audit_records SET record = replace(record, '\"outcome\":\"s', "
                         "'\"outcome\":\"S') WHERE idx = 2",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);
  const auto tampered = run(admin("audit verify"));
  EXPECT_EQ(tampered.exit_code, 1) << tampered.output;
  EXPECT_NE(tampered.output.find("first bad index 2"), std::string::npos) << tampered.output;

  const auto bad_head = run(admin("audit verify --head /nonexistent/head.txt"));
  EXPECT_EQ(bad_head.exit_code, 2) << bad_head.output;
}

}  // namespace
}  // namespace tmc::testing
