// Fuzzes case file upload assembly: sequences of begin, chunk, resume, finish, read, share,
// expiry, service restarts (recovery from stored segments) and damaged blobs, decoded from the
// input, against CaseFileService over SQLite and a directory blob store.
//
// What must hold: chunks are committed exactly where the service said; a begin declaring what
// an unfinished upload of the same user declared continues that upload, and any other begin
// starts a new one at 0; a finished file reads back exactly as sent (a damaged blob may fail a
// read, never change what it returns); a mismatching finish is DATA_LOSS. No exception escapes
// unless a blob was damaged.
//
// Input: operations, each one byte (see the switch in LLVMFuzzerTestOneInput) followed by its
// operands, read by fuzz::ByteReader.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "blob/blob_store.hpp"
#include "crypto/hash.hpp"
#include "demo_network.hpp"
#include "domain/case_file_service.hpp"
#include "fuzz_support.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace {

using namespace tmc;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::uint32_t kChunk = 64;  // the smallest segment: many segments per small file
constexpr std::uint64_t kMaxFile = 1024;
constexpr std::size_t kMaxOperations = 48;

constexpr const char* kCallers[] = {"bachu.clinician", "bachu.coordinator", "shanghai.ortho",
                                    "admin"};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "uploads fuzzer: %s\n", what.c_str());
  std::abort();
}

struct Fixture {
  fuzz::ScratchDir dir;
  ManualClock clock{TimePoint(std::chrono::microseconds(1'700'000'000'000'000))};
  domain::NullAuditHook audit;
  crypto::KeyRing keys = crypto::KeyRing::generate();
  domain::Vault vault{keys};
  std::unique_ptr<store::Store> store;
  std::unique_ptr<domain::ConsultationService> consultations;
  std::vector<domain::Caller> callers;
  std::string consultation_id;  // open, bachu.clinician participates

  Fixture() {
    spdlog::set_level(spdlog::level::err);
    store::SqliteOptions options;
    options.path = (dir.path() / "tmc.db").string();
    store = store::open_sqlite_store(options);
    domain::AuthOptions auth_options;
    auth_options.password_params = crypto::ScryptParams{1024, 8, 1};
    domain::AuthService auth(*store, clock, audit, auth_options);
    domain::DirectoryService directory(*store, clock, audit);
    if (!admin::seed_demo_network(directory, auth)) fail("seeding the demo network failed");
    store->read([&](store::Tx& tx) {
      for (const char* username : kCallers) {
        auto user = tx.find_user_by_username(username);
        if (!user) fail(std::string("no demo user ") + username);
        callers.push_back({*user, "fuzz-session", "127.0.0.1:1", nullptr});
      }
    });
    consultations = std::make_unique<domain::ConsultationService>(*store, clock, audit, vault,
                                                                  domain::DeadlinePolicy{});
    domain::OpenConsultation request;
    request.urgency = store::Urgency::routine;
    request.specialty = "orthopedics";
    request.patient_reference = "FUZZ-1";
    request.patient_age_years = 40;
    request.patient_sex = store::Sex::female;
    request.question = "q";
    request.clinical_summary = "s";
    auto opened = consultations->open(callers[0], request);
    if (!opened) fail("opening a consultation failed: " + opened.error().message);
    consultation_id = opened->value.record.id;
  }

  fs::path blob_dir() const { return dir.path() / "blobs"; }
  fs::path blob_file(const std::string& blob_id) const { return blob_dir() / (blob_id + ".blob"); }

  std::unique_ptr<domain::CaseFileService> start_service() {
    domain::CaseFileLimits limits;
    limits.max_file_bytes = kMaxFile;
    limits.chunk_bytes = kChunk;
    limits.upload_expiry = 1h;
    return std::make_unique<domain::CaseFileService>(*store,
                                                     blob::open_directory_blob_store(blob_dir()),
                                                     clock, audit, vault, *consultations, limits);
  }
};

Fixture& fixture() {
  static Fixture instance;
  return instance;
}

// One upload of this run: what was declared and what the service acknowledged.
struct Upload {
  std::string id;
  std::size_t caller = 0;
  std::string content;   // what a well-behaved client would send
  std::string declared;  // declared SHA-256
  std::string sent;      // bytes acknowledged so far, in order
  std::optional<std::string> file_id;
  // The rest of the declaration.
  std::string file_name;
  std::string media_type;
  std::string consultation_id;
};

class Run {
 public:
  explicit Run(fuzz::ByteReader& input) : input_(input), f_(fixture()) {}
  ~Run() {
    service_.reset();
    // This run's unfinished uploads and blobs: a later run's begin must not continue them.
    f_.store->write([&](store::Tx& tx) {
      for (const auto& upload : uploads_) tx.delete_upload(upload.id);
      return true;
    });
    std::error_code ignored;
    for (const auto& upload : uploads_) fs::remove(f_.blob_file(upload.id), ignored);
  }

  void operate() {
    switch (input_.u8() % 9) {
      case 0:
        return begin();
      case 1:
        return chunk();
      case 2:
        return resume();
      case 3:
        return finish();
      case 4:
        return read();
      case 5:
        return restart();
      case 6:
        return damage();
      case 7:
        return expire();
      default:
        return share();
    }
  }

  bool damaged() const { return damaged_; }

 private:
  const domain::Caller& caller() { return f_.callers[input_.u8() % f_.callers.size()]; }
  Upload* upload() {
    if (uploads_.empty()) return nullptr;
    return &uploads_[input_.u8() % uploads_.size()];
  }

  void begin() {
    const auto flags = input_.u8();
    Upload upload;
    upload.caller = input_.u8() % f_.callers.size();
    const auto size = input_.u16() % (kMaxFile + kChunk);  // a little past the limit too
    const auto seed = input_.u8();
    upload.content.resize(size);
    for (std::size_t i = 0; i < size; ++i) {
      upload.content[i] = static_cast<char>(seed + i * 31);
    }
    domain::BeginUpload request;
    request.file_name = (flags & 1) != 0 ? std::string(input_.short_bytes()) : "scan.dcm";
    request.media_type = (flags & 2) != 0 ? std::string(input_.short_bytes()) : "image/png";
    request.size = size;
    upload.declared =
        (flags & 4) != 0 ? std::string(input_.bytes(32)) : crypto::sha256(upload.content);
    request.sha256 = upload.declared;
    if ((flags & 8) != 0) request.consultation_id = f_.consultation_id;
    if ((flags & 16) != 0) request.consultation_id = "con_unknown";
    upload.file_name = request.file_name;
    upload.media_type = request.media_type;
    upload.consultation_id = request.consultation_id;
    // The oldest upload of this run still stored that was declared the same way, if any.
    const Upload* alike = nullptr;
    for (const auto& earlier : uploads_) {
      if (alike == nullptr && declared_alike(earlier, upload) && stored(earlier.id)) {
        alike = &earlier;
      }
    }
    auto session = service_->begin_upload(f_.callers[upload.caller], request);
    if (!session) return;
    if (session->chunk_size != kChunk) fail("an upload has another chunk size than configured");
    if (alike != nullptr) {
      if (session->upload_id != alike->id) {
        fail("a begin declared as an unfinished upload did not continue it");
      }
      auto& continued = *std::find_if(uploads_.begin(), uploads_.end(),
                                      [&](const Upload& u) { return u.id == alike->id; });
      const auto committed = session->committed_offset;
      if (committed > continued.sent.size() || (!damaged_ && committed != continued.sent.size())) {
        fail("a continued upload goes on at " + std::to_string(committed) + " but " +
             std::to_string(continued.sent.size()) + " bytes were acknowledged");
      }
      continued.sent.resize(committed);
      return;
    }
    if (session->committed_offset != 0) fail("a new upload does not start at 0");
    for (const auto& earlier : uploads_) {
      if (earlier.id == session->upload_id) fail("a begin continued an upload declared otherwise");
    }
    upload.id = session->upload_id;
    uploads_.push_back(std::move(upload));
  }

  bool declared_alike(const Upload& a, const Upload& b) const {
    return f_.callers[a.caller].user.id == f_.callers[b.caller].user.id &&
           a.content.size() == b.content.size() && a.declared == b.declared &&
           a.file_name == b.file_name && a.media_type == b.media_type &&
           a.consultation_id == b.consultation_id;
  }

  // Unfinished and not expired: its row is still there.
  bool stored(const std::string& upload_id) {
    bool found = false;
    f_.store->read([&](store::Tx& tx) { found = tx.find_upload(upload_id).has_value(); });
    return found;
  }

  void chunk() {
    auto* upload = this->upload();
    if (upload == nullptr) return;
    const auto flags = input_.u8();
    const auto& who = (flags & 1) != 0 ? caller() : f_.callers[upload->caller];
    std::uint64_t offset = (flags & 2) != 0 ? input_.u16() : upload->sent.size();
    std::string data;
    if ((flags & 4) != 0) {
      data = input_.bytes(input_.u8());
    } else if (offset < upload->content.size()) {
      data = upload->content.substr(offset, kChunk);
    }
    auto committed = service_->upload_chunk(who, upload->id, offset, data);
    if (!committed) return;
    if (who.user.id != f_.callers[upload->caller].user.id) {
      fail("someone else's upload accepted a chunk");
    }
    // After damage the service may rewind to what it can still authenticate, never beyond
    // what was sent.
    if (offset > upload->sent.size() || (!damaged_ && offset != upload->sent.size()) ||
        *committed != offset + data.size()) {
      fail("a chunk was committed at the wrong offset");
    }
    upload->sent = upload->sent.substr(0, offset) + data;
  }

  void resume() {
    auto* upload = this->upload();
    if (upload == nullptr) return;
    domain::BeginUpload request;
    request.upload_id = upload->id;
    const auto& who = caller();
    auto session = service_->begin_upload(who, request);
    if (!session) return;
    if (who.user.id != f_.callers[upload->caller].user.id) fail("someone else resumed an upload");
    const auto committed = session->committed_offset;
    if (committed > upload->sent.size() || (!damaged_ && committed != upload->sent.size())) {
      fail("a resumed upload continues at " + std::to_string(committed) + " but " +
           std::to_string(upload->sent.size()) + " bytes were acknowledged");
    }
    if (!upload->file_id) upload->sent.resize(committed);
  }

  // A new service instance: in-memory writers are lost, uploads recover from stored segments.
  void restart() {
    service_.reset();
    service_ = f_.start_service();
  }

  void finish() {
    auto* upload = this->upload();
    if (upload == nullptr) return;
    auto file = service_->finish_upload(f_.callers[upload->caller], upload->id);
    const bool matches = upload->sent.size() == upload->content.size() &&
                         crypto::sha256(upload->sent) == upload->declared;
    if (!file) {
      if (file.error().code == Code::data_loss && matches && !damaged_) {
        fail("a complete, matching upload was refused as DATA_LOSS");
      }
      return;
    }
    if (!matches && !upload->file_id) fail("a file was made from contents that do not match");
    upload->file_id = file->value.id;
    read_back(*upload);
  }

  // The whole file through read(): exactly what was sent, or an error.
  void read_back(const Upload& upload) {
    std::string whole;
    for (;;) {
      auto chunk = service_->read(f_.callers[upload.caller], *upload.file_id, whole.size(), kChunk);
      if (!chunk) {
        if (!damaged_) fail("reading a finished file failed: " + chunk.error().message);
        return;
      }
      whole += chunk->data;
      if (chunk->eof || chunk->data.empty()) break;
    }
    if (whole != upload.sent) fail("a finished file does not read back as sent");
  }

  void read() {
    auto* upload = this->upload();
    if (upload == nullptr || !upload->file_id) return;
    const auto& who = caller();
    const std::uint64_t offset = input_.u16();
    const std::uint32_t length = input_.u16();
    auto chunk = service_->read(who, *upload->file_id, offset, length);
    if (!chunk) return;
    if (offset > upload->sent.size()) fail("a read past the end of a file succeeded");
    if (chunk->data != std::string_view(upload->sent).substr(offset, chunk->data.size())) {
      fail("a read returned bytes that were not sent at that offset");
    }
  }

  void share() {
    auto* upload = this->upload();
    if (upload == nullptr || !upload->file_id) return;
    (void)service_->share(caller(), *upload->file_id, f_.consultation_id);
  }

  // Flips one byte of a stored blob, or cuts it short, as a disk fault would.
  void damage() {
    auto* upload = this->upload();
    if (upload == nullptr) return;
    const auto path = f_.blob_file(upload->id);
    std::error_code error;
    const auto size = fs::file_size(path, error);
    if (error || size == 0) return;
    const auto position = input_.u16() % size;
    damaged_ = true;
    if ((input_.u8() & 1) != 0) {
      fs::resize_file(path, position, error);
      return;
    }
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(static_cast<std::streamoff>(position));
    char byte = 0;
    file.get(byte);
    file.seekp(static_cast<std::streamoff>(position));
    file.put(static_cast<char>(byte ^ static_cast<char>(input_.u8() | 1)));
  }

  void expire() {
    f_.clock.advance(std::chrono::minutes(input_.u8()));
    (void)service_->expire_uploads(f_.clock.now());
  }

  fuzz::ByteReader& input_;
  Fixture& f_;
  std::unique_ptr<domain::CaseFileService> service_ = f_.start_service();
  std::vector<Upload> uploads_;
  bool damaged_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::ByteReader input(data, size);
  Run run(input);
  for (std::size_t i = 0; i < kMaxOperations && !input.empty(); ++i) {
    try {
      run.operate();
    } catch (const std::exception& error) {
      // Storage the service cannot read may throw (a broken invariant); nothing else may.
      if (!run.damaged()) fail(std::string("unexpected exception: ") + error.what());
    }
  }
  return 0;
}
