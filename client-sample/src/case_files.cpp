// Case-file transfer over a BlockingClient: windowed, resumable, SHA-256-checked upload/download.
#include "tmc/client/case_files.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <fstream>
#include <future>
#include <istream>
#include <memory>
#include <system_error>
#include <thread>
#include <utility>

#include "tmc/client/retry.hpp"

namespace tmc::client {

using telemed::v1::CaseFile;
using telemed::v1::ClientFrame;
using telemed::v1::Response;
using telemed::v1::Status;

namespace requests {

ClientFrame begin_upload(telemed::v1::BeginUploadRequest request) {
  ClientFrame frame;
  *frame.mutable_begin_upload() = std::move(request);
  return frame;
}

ClientFrame resume_upload(const std::string& upload_id) {
  ClientFrame frame;
  frame.mutable_begin_upload()->set_upload_id(upload_id);
  return frame;
}

ClientFrame upload_chunk(const std::string& upload_id, std::uint64_t offset, std::string data) {
  ClientFrame frame;
  auto& chunk = *frame.mutable_upload_chunk();
  chunk.set_upload_id(upload_id);
  chunk.set_offset(offset);
  chunk.set_data(std::move(data));
  return frame;
}

ClientFrame finish_upload(const std::string& upload_id) {
  ClientFrame frame;
  frame.mutable_finish_upload()->set_upload_id(upload_id);
  return frame;
}

ClientFrame read_file(const std::string& file_id, std::uint64_t offset, std::uint32_t length) {
  ClientFrame frame;
  auto& read = *frame.mutable_read_file();
  read.set_file_id(file_id);
  read.set_offset(offset);
  read.set_length(length);
  return frame;
}

ClientFrame share_case_file(const std::string& file_id, const std::string& consultation_id) {
  ClientFrame frame;
  frame.mutable_share_case_file()->set_file_id(file_id);
  frame.mutable_share_case_file()->set_consultation_id(consultation_id);
  return frame;
}

ClientFrame list_case_files(const std::string& consultation_id) {
  ClientFrame frame;
  frame.mutable_list_case_files()->set_consultation_id(consultation_id);
  return frame;
}

}  // namespace requests

namespace {

constexpr std::size_t hash_buffer_bytes = 1u << 20;

// Incremental SHA-256 through OpenSSL's EVP interface.
class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new()) {
    if (!context_ || EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) {
      throw std::runtime_error("cannot initialise SHA-256");
    }
  }
  void update(const char* data, std::size_t size) {
    if (EVP_DigestUpdate(context_.get(), data, size) != 1) {
      throw std::runtime_error("SHA-256 update failed");
    }
  }
  // The 32 raw bytes of the digest.
  std::string finish() {
    std::string digest(EVP_MAX_MD_SIZE, '\0');
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(context_.get(), reinterpret_cast<unsigned char*>(digest.data()),
                           &length) != 1) {
      throw std::runtime_error("SHA-256 final failed");
    }
    digest.resize(length);
    return digest;
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> context_;
};

Status make_status(telemed::v1::Code code, std::string message) {
  Status status;
  status.set_code(code);
  status.set_message(std::move(message));
  return status;
}

bool is_ok(const Status& status) { return status.code() == telemed::v1::OK; }

// What an attempt of a transfer answered, whichever form it took.
const Status& status_of(const Status& status) { return status; }
const Status& status_of(const Reply<CaseFile>& reply) { return reply.status; }

void report(const ProgressCallback& progress, TransferProgress::Stage stage, std::uint64_t done,
            std::uint64_t total, int reconnects, std::string reason = {}) {
  if (progress) progress(TransferProgress{stage, done, total, reconnects, std::move(reason)});
}

[[noreturn]] void throw_file_error(const std::string& what, const std::filesystem::path& path) {
  throw std::system_error(errno != 0 ? errno : EIO, std::generic_category(),
                          what + " " + path.string());
}

// Waits for the answers still outstanding, ignoring them: the requests after a refused one are
// refused too, and the next request must not overtake them.
void drain(std::deque<std::future<Response>>& in_flight) {
  for (auto& answer : in_flight) {
    try {
      answer.get();
    } catch (const ClientError&) {
      // The next request fails the same way and is handled there.
    }
  }
  in_flight.clear();
}

}  // namespace

CaseFileClient::CaseFileClient(BlockingClient& client, TransferOptions options)
    : connector_([&client](bool) -> BlockingClient& { return client; }),
      can_reconnect_(false),
      options_(std::move(options)) {
  options_.window = std::max<std::size_t>(options_.window, 1);
}

CaseFileClient::CaseFileClient(Connector connector, TransferOptions options)
    : connector_(std::move(connector)), can_reconnect_(true), options_(std::move(options)) {
  options_.window = std::max<std::size_t>(options_.window, 1);
}

BlockingClient& CaseFileClient::connection(bool reconnect) {
  BlockingClient& client = connector_(reconnect);
  broken_ = false;
  return client;
}

template <class Attempt>
auto CaseFileClient::with_retries(const Attempt& attempt, const std::uint64_t& done,
                                  std::uint64_t total, const ProgressCallback& progress) {
  int failures = 0;  // in a row, without progress in between
  std::uint64_t done_at_failure = done;
  const auto count_failure = [&] {
    failures = done > done_at_failure ? 1 : failures + 1;
    done_at_failure = done;
    return failures <= options_.max_reconnect_attempts;
  };
  for (;;) {
    auto stage = TransferProgress::Stage::reconnecting;
    std::string reason;
    try {
      const bool reconnect = broken_;
      BlockingClient& client = connection(reconnect);
      if (reconnect) ++reconnects_;
      auto outcome = attempt(client);
      const Status& status = status_of(outcome);
      if (!is_transient(status) || !count_failure()) return outcome;
      stage = TransferProgress::Stage::retrying;
      reason = status.message();
    } catch (const ClientError& e) {
      broken_ = true;
      if (!count_failure() || !can_reconnect_) throw;
      reason = e.what();
    }
    report(progress, stage, done, total, reconnects_, std::move(reason));
    std::this_thread::sleep_for(
        retry_delay(options_.first_retry, options_.longest_retry, failures));
  }
}

Reply<CaseFile> CaseFileClient::upload(const std::filesystem::path& path, UploadDetails details,
                                       const ProgressCallback& progress) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_file_error("cannot open", path);
  if (details.file_name.empty()) details.file_name = path.filename().string();
  return upload(in, details, progress);
}

Reply<CaseFile> CaseFileClient::upload(std::istream& in, const UploadDetails& details,
                                       const ProgressCallback& progress) {
  reconnects_ = 0;
  const std::streamoff start = in.tellg();
  if (start < 0) throw std::system_error(EINVAL, std::generic_category(), "upload: unseekable");

  in.seekg(0, std::ios::end);
  const auto expected_size = static_cast<std::uint64_t>(in.tellg() - start);
  in.seekg(start);

  // The SHA-256 is declared before the first byte is sent, so the file is read twice.
  Sha256 hash;
  std::uint64_t size = 0;
  {
    std::string buffer(hash_buffer_bytes, '\0');
    while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
      const auto got = static_cast<std::size_t>(in.gcount());
      hash.update(buffer.data(), got);
      size += got;
      report(progress, TransferProgress::Stage::hashing, size, expected_size, 0);
    }
    if (in.bad()) throw std::system_error(EIO, std::generic_category(), "upload: read failed");
  }

  telemed::v1::BeginUploadRequest begin;
  begin.set_file_name(details.file_name);
  begin.set_media_type(details.media_type);
  begin.set_consultation_id(details.consultation_id);
  begin.set_size(size);
  begin.set_sha256(hash.finish());

  std::string upload_id;
  std::uint64_t committed = 0;

  // Sends [committed, size) with a window of chunks in flight; OK once all are committed.
  const auto send_chunks = [&](BlockingClient& client, std::uint32_t chunk_size) -> Status {
    in.clear();
    in.seekg(start + static_cast<std::streamoff>(committed));
    std::deque<std::future<Response>> in_flight;
    std::uint64_t next = committed;
    while (committed < size) {
      while (in_flight.size() < options_.window && next < size) {
        const auto length =
            static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size, size - next));
        std::string data(length, '\0');
        if (!in.read(data.data(), static_cast<std::streamsize>(length))) {
          throw std::system_error(EIO, std::generic_category(),
                                  "upload: the file became shorter while uploading");
        }
        in_flight.push_back(client.call_async(
            requests::upload_chunk(upload_id, next, std::move(data)), options_.timeout));
        next += length;
      }
      Response answer = in_flight.front().get();
      in_flight.pop_front();
      if (answer.status().code() != telemed::v1::OK) {
        drain(in_flight);
        return std::move(*answer.mutable_status());
      }
      committed = answer.upload_chunk().committed_offset();
      report(progress, TransferProgress::Stage::transferring, committed, size, reconnects_);
    }
    return make_status(telemed::v1::OK, {});
  };

  const auto attempt = [&](BlockingClient& client) -> Reply<CaseFile> {
    // Each pass learns the committed offset from the server (a resume, or a re-sync after a
    // chunk at an offset the server did not expect) and sends the rest from there.
    int passes_without_progress = 0;
    for (;;) {
      const std::uint64_t before = committed;
      Response begun = client.call(
          upload_id.empty() ? requests::begin_upload(begin) : requests::resume_upload(upload_id),
          options_.timeout);
      if (begun.status().code() != telemed::v1::OK) return {begun.status(), {}};
      const auto& session = begun.upload_session();
      upload_id = session.upload_id();
      committed = session.committed_offset();
      if (session.chunk_size() == 0 || committed > size) {
        return {make_status(telemed::v1::INTERNAL, "the server proposed an unusable upload"), {}};
      }
      report(progress, TransferProgress::Stage::transferring, committed, size, reconnects_);
      Status sent = send_chunks(client, session.chunk_size());
      if (is_ok(sent)) {
        auto finished =
            make_reply(client.call(requests::finish_upload(upload_id), options_.timeout),
                       &Response::mutable_case_file);
        if (finished.status.code() != telemed::v1::FAILED_PRECONDITION) return finished;
        sent = finished.status;
      } else if (sent.code() != telemed::v1::FAILED_PRECONDITION) {
        return {std::move(sent), {}};
      }
      passes_without_progress = committed > before ? 0 : passes_without_progress + 1;
      if (passes_without_progress >= 3) return {std::move(sent), {}};
    }
  };
  return with_retries(attempt, committed, size, progress);
}

Reply<CaseFile> CaseFileClient::download(const CaseFile& file, const std::filesystem::path& output,
                                         const ProgressCallback& progress) {
  reconnects_ = 0;
  const std::uint64_t size = file.size();
  const std::filesystem::path part = output.string() + "." + file.id() + ".part";

  // A partial copy left by an earlier download is continued after its SHA-256 is caught up.
  Sha256 hash;
  std::uint64_t written = 0;
  std::error_code ignored;
  if (std::filesystem::exists(part)) {
    if (std::filesystem::file_size(part) <= size) {
      std::ifstream existing(part, std::ios::binary);
      std::string buffer(hash_buffer_bytes, '\0');
      while (existing.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) ||
             existing.gcount() > 0) {
        hash.update(buffer.data(), static_cast<std::size_t>(existing.gcount()));
        written += static_cast<std::uint64_t>(existing.gcount());
      }
    } else {
      std::filesystem::remove(part, ignored);
    }
  }
  errno = 0;
  std::ofstream out(part, std::ios::binary | std::ios::app);
  if (!out) throw_file_error("cannot write", part);
  report(progress, TransferProgress::Stage::transferring, written, size, 0);

  const auto attempt = [&](BlockingClient& client) -> Status {
    // (future, bytes asked for) of each read in flight, in offset order.
    std::deque<std::future<Response>> in_flight;
    std::deque<std::uint32_t> asked;
    std::uint64_t next = written;
    while (written < size) {
      while (in_flight.size() < options_.window && next < size) {
        const auto length =
            static_cast<std::uint32_t>(std::min<std::uint64_t>(options_.read_length, size - next));
        in_flight.push_back(
            client.call_async(requests::read_file(file.id(), next, length), options_.timeout));
        asked.push_back(length);
        next += length;
      }
      Response answer = in_flight.front().get();
      in_flight.pop_front();
      const std::uint32_t length = asked.front();
      asked.pop_front();
      if (answer.status().code() != telemed::v1::OK) {
        drain(in_flight);
        return std::move(*answer.mutable_status());
      }
      const auto& chunk = answer.file_chunk();
      if (chunk.offset() != written || chunk.data().empty()) {
        drain(in_flight);
        return make_status(telemed::v1::DATA_LOSS, "the server sent no data at offset " +
                                                       std::to_string(written) + " of " +
                                                       std::to_string(size) + " bytes");
      }
      out.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
      if (!out.flush()) throw_file_error("cannot write", part);
      hash.update(chunk.data().data(), chunk.data().size());
      written += chunk.data().size();
      report(progress, TransferProgress::Stage::transferring, written, size, reconnects_);
      if (chunk.data().size() < length && written < size) {
        // The server sent less than asked (it caps reads): ask again from here.
        drain(in_flight);
        asked.clear();
        next = written;
      }
    }
    return make_status(telemed::v1::OK, {});
  };
  Status status = with_retries(attempt, written, size, progress);
  out.close();
  if (!is_ok(status)) {
    std::filesystem::remove(part, ignored);
    return {std::move(status), {}};
  }
  report(progress, TransferProgress::Stage::verifying, written, size, reconnects_);
  if (written != size || hash.finish() != file.sha256()) {
    std::filesystem::remove(part, ignored);
    return {make_status(telemed::v1::DATA_LOSS,
                        "the downloaded bytes do not match the file's SHA-256; nothing was kept"),
            {}};
  }
  std::filesystem::rename(part, output);
  return {make_status(telemed::v1::OK, {}), file};
}

Reply<telemed::v1::ListCaseFilesResult> CaseFileClient::list(const std::string& consultation_id) {
  return make_reply(
      connection(broken_).call(requests::list_case_files(consultation_id), options_.timeout),
      &Response::mutable_list_case_files);
}

Reply<CaseFile> CaseFileClient::share(const std::string& file_id,
                                      const std::string& consultation_id) {
  return make_reply(connection(broken_).call(requests::share_case_file(file_id, consultation_id),
                                             options_.timeout),
                    &Response::mutable_case_file);
}

Reply<CaseFile> CaseFileClient::find(const std::string& file_id,
                                     const std::string& consultation_id) {
  const auto found_in = [&](const telemed::v1::ListCaseFilesResult& result) -> const CaseFile* {
    const auto it = std::find_if(result.files().begin(), result.files().end(),
                                 [&](const CaseFile& file) { return file.id() == file_id; });
    return it == result.files().end() ? nullptr : &*it;
  };
  const Status not_found =
      make_status(telemed::v1::NOT_FOUND,
                  "case file " + file_id + " is not in " +
                      (consultation_id.empty() ? std::string("any of your consultations")
                                               : "consultation " + consultation_id));
  if (!consultation_id.empty()) {
    auto files = list(consultation_id);
    if (!files) return {std::move(files.status), {}};
    if (const CaseFile* file = found_in(files.value))
      return {make_status(telemed::v1::OK, {}), *file};
    return {not_found, {}};
  }
  BlockingClient& client = connection(broken_);
  std::string page_token;
  do {
    Response page = client.call(
        requests::list_consultations(telemed::v1::CONSULTATION_STATE_UNSPECIFIED, 0, page_token),
        options_.timeout);
    if (page.status().code() != telemed::v1::OK) return {page.status(), {}};
    std::vector<ClientFrame> lists;
    for (const auto& consultation : page.list_consultations().consultations()) {
      lists.push_back(requests::list_case_files(consultation.id()));
    }
    // A consultation whose files the caller may not list is skipped, not an error.
    for (auto& answer : client.call_pipelined(std::move(lists), options_.timeout)) {
      if (answer.status().code() != telemed::v1::OK) continue;
      if (const CaseFile* file = found_in(answer.list_case_files())) {
        return {make_status(telemed::v1::OK, {}), *file};
      }
    }
    page_token = page.list_consultations().next_page_token();
  } while (!page_token.empty());
  return {not_found, {}};
}

}  // namespace tmc::client
