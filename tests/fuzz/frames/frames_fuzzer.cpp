// Fuzzes the api layer: the input becomes ClientFrames on one connection (signed in as one of
// the demo users, or not signed in), served by the real services over SQLite with the demo
// network. Every decodable frame must get exactly one Response with its request id and never
// INTERNAL; an undecodable one must close the connection with 1002.
//
// Input: one byte choosing the caller (low bits modulo 5; 0: not signed in, 1..4 see kCallers),
// then frames, each a 2-byte little-endian length and that many bytes of ClientFrame. With bit
// 0x80 of the first byte set, frames go one at a time and a string field "$N" becomes the N-th
// most recent id or token the server answered in this run, so inputs can act on what they made.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "api/api.hpp"
#include "api/connection.hpp"
#include "blob/blob_store.hpp"
#include "common/clock.hpp"
#include "crypto/keyring.hpp"
#include "demo_network.hpp"
#include "domain/case_file_service.hpp"
#include "domain/scheduling_service.hpp"
#include "fuzz_support.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "telemed/v1/frames.pb.h"

namespace {

using namespace tmc;
namespace v1 = ::telemed::v1;

constexpr std::size_t kMaxFrames = 64;

// Callers a run may be signed in as (the first input byte picks one); "fuzz.clinician" with
// password "fuzz-password" lets seeds sign in through a login frame too.
constexpr const char* kCallers[] = {"bachu.clinician", "shanghai.ortho", "bachu.coordinator",
                                    "admin"};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "frames fuzzer: %s\n", what.c_str());
  std::abort();
}

// What the api sends to the connection; tests wait on it for the responses.
class RecordingOutbound final : public api::Outbound {
 public:
  void send(std::shared_ptr<const std::string> frame, api::Lane) override {
    v1::ServerFrame decoded;
    if (!decoded.ParseFromString(*frame)) fail("the server sent an undecodable frame");
    std::lock_guard lock(mutex_);
    if (decoded.has_response()) responses_.push_back(decoded.response());
    changed_.notify_all();
  }
  void close(api::CloseCode code, std::string) override {
    std::lock_guard lock(mutex_);
    if (!close_code_) close_code_ = code;
    changed_.notify_all();
  }

  std::optional<api::CloseCode> close_code() const {
    std::lock_guard lock(mutex_);
    return close_code_;
  }
  // Blocks until count responses have arrived (a hang is reported by libFuzzer's -timeout).
  std::vector<v1::Response> wait_for(std::size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return responses_.size() >= count; });
    return responses_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<v1::Response> responses_;
  std::optional<api::CloseCode> close_code_;
};

// One server's worth of services and api, built once per process.
struct Server {
  fuzz::ScratchDir dir;
  SystemClock clock;
  domain::NullAuditHook audit;
  crypto::KeyRing keys = crypto::KeyRing::generate();
  domain::Vault vault{keys};
  std::unique_ptr<store::Store> store;
  std::unique_ptr<domain::AuthService> auth;
  std::unique_ptr<domain::DirectoryService> directory;
  std::unique_ptr<domain::ConsultationService> consultations;
  std::unique_ptr<domain::CaseFileService> case_files;
  std::unique_ptr<domain::SchedulingService> scheduling;
  std::unique_ptr<api::Api> api;
  std::vector<domain::Caller> callers;

  Server() {
    spdlog::set_level(spdlog::level::err);     // INTERNAL failures are logged at error
    google::protobuf::SetLogHandler(nullptr);  // one line per string field with invalid UTF-8
    store::SqliteOptions options;
    options.path = (dir.path() / "tmc.db").string();
    store = store::open_sqlite_store(options);

    domain::AuthOptions auth_options;
    auth_options.password_params = crypto::ScryptParams{1024, 8, 1};
    auth_options.totp_required_roles.clear();
    auth = std::make_unique<domain::AuthService>(*store, clock, audit, auth_options, &keys);
    directory = std::make_unique<domain::DirectoryService>(*store, clock, audit);
    consultations = std::make_unique<domain::ConsultationService>(*store, clock, audit, vault,
                                                                  domain::DeadlinePolicy{});
    domain::CaseFileLimits limits;
    limits.max_file_bytes = 16 << 10;  // small files keep the in-memory blob store small
    limits.chunk_bytes = 1024;
    case_files = std::make_unique<domain::CaseFileService>(
        *store, blob::make_memory_blob_store(), clock, audit, vault, *consultations, limits);
    scheduling = std::make_unique<domain::SchedulingService>(*store, clock, audit, *consultations,
                                                             domain::SchedulingOptions{});

    auto logins = admin::seed_demo_network(*directory, *auth);
    if (!logins) fail("seeding the demo network failed: " + logins.error().message);
    auto extra = directory->add_user(
        {"fuzz.clinician", "Fuzz Clinician", store::Role::clinician, "bachu", {}},
        auth->hash_password("fuzz-password"));
    if (!extra) fail("adding fuzz.clinician failed: " + extra.error().message);
    for (const char* username : kCallers) {
      const auto login = std::find_if(logins->begin(), logins->end(),
                                      [&](const auto& each) { return each.username == username; });
      if (login == logins->end()) fail(std::string("no demo user ") + username);
      auto outcome = auth->login(login->username, login->password, "127.0.0.1:1");
      if (!outcome) fail("login of " + login->username + " failed: " + outcome.error().message);
      callers.push_back(outcome->caller);
    }

    api::Services services{auth.get(), directory.get(), consultations.get(), case_files.get(),
                           scheduling.get()};
    api::ApiOptions api_options;
    api_options.worker_threads = 4;
    api_options.requests_per_second = 0;  // every frame is served, so every one gets a Response
    api_options.max_queued_requests = kMaxFrames;
    api = std::make_unique<api::Api>(services, api_options);
    api->set_ready(true);
  }
  ~Server() { api->stop(); }
};

Server& server() {
  static Server instance;
  return instance;
}

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

bool names_an_id(const FieldDescriptor& field) {
  const auto& name = field.name();
  return field.cpp_type() == FieldDescriptor::CPPTYPE_STRING && !field.is_repeated() &&
         (name == "id" || name.ends_with("_id") || name.ends_with("_token"));
}

// Appends the ids and tokens of message (depth first, in field order).
void collect_ids(const Message& message, std::vector<std::string>& ids) {
  const auto* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const auto* field : fields) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (!field->is_repeated()) {
        collect_ids(reflection->GetMessage(message, field), ids);
        continue;
      }
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        collect_ids(reflection->GetRepeatedMessage(message, field, i), ids);
      }
    } else if (names_an_id(*field)) {
      if (auto value = reflection->GetString(message, field); !value.empty()) ids.push_back(value);
    }
  }
}

// Replaces every singular string field "$N" by ids[size - 1 - N % size].
void substitute_ids(Message& message, const std::vector<std::string>& ids) {
  const auto* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const auto* field : fields) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (!field->is_repeated()) {
        substitute_ids(*reflection->MutableMessage(&message, field), ids);
        continue;
      }
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        substitute_ids(*reflection->MutableRepeatedMessage(&message, field, i), ids);
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING && !field->is_repeated() &&
               !ids.empty()) {
      const auto value = reflection->GetString(message, field);
      if (value.size() == 2 && value[0] == '$' && value[1] >= '0' && value[1] <= '9') {
        const auto back = static_cast<std::size_t>(value[1] - '0') % ids.size();
        reflection->SetString(&message, field, ids[ids.size() - 1 - back]);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& s = server();
  fuzz::ByteReader input(data, size);
  const auto first = input.u8();
  const auto who = static_cast<std::size_t>((first & 0x7f) % (std::size(kCallers) + 1));
  const bool one_at_a_time = (first & 0x80) != 0;

  auto outbound = std::make_shared<RecordingOutbound>();
  const auto connection = std::dynamic_pointer_cast<api::ApiConnection>(
      s.api->open(outbound, api::PeerInfo{"127.0.0.1:2", {}, {}}));
  if (who > 0) connection->set_caller(s.callers[who - 1]);

  std::map<std::uint64_t, int> expected;  // request id -> responses still due
  std::size_t accepted = 0;
  bool undecodable = false;
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < kMaxFrames && !input.empty() && !outbound->close_code(); ++i) {
    const auto payload = input.bytes(input.u16());
    v1::ClientFrame frame;
    if (!frame.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      undecodable = true;
      connection->on_binary(payload);
      break;
    }
    ++expected[frame.request_id()];
    ++accepted;
    if (!one_at_a_time) {
      connection->on_binary(payload);
      continue;
    }
    substitute_ids(frame, ids);
    connection->on_binary(frame.SerializeAsString());
    collect_ids(outbound->wait_for(accepted).back(), ids);
  }

  const auto responses = outbound->wait_for(accepted);
  if (responses.size() != accepted) fail("more responses than requests");
  for (const auto& response : responses) {
    if (--expected[response.request_id()] < 0) fail("a response with an unknown request id");
    if (!response.has_status()) fail("a response without a status");
    if (response.status().code() == v1::INTERNAL) {
      fail("request " + std::to_string(response.request_id()) + " was answered INTERNAL");
    }
  }
  if (undecodable && outbound->close_code() != api::CloseCode::protocol_error) {
    fail("an undecodable frame did not close the connection with 1002");
  }
  connection->on_closed();
  return 0;
}
