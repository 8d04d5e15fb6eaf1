// The api layer's entry point: opens connections, owns the worker pool and the session registry.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include "api/session_registry.hpp"
#include "api/transport.hpp"
#include "app/metrics.hpp"
#include "common/buffer_pool.hpp"
#include "domain/auth_service.hpp"
#include "domain/consultation_service.hpp"
#include "domain/directory_service.hpp"
#include "store/store.hpp"

namespace tmc::domain {
class CaseFileService;
class SchedulingService;
}  // namespace tmc::domain

namespace tmc::api {

class Api;
class ApiConnection;

struct ApiOptions {
  std::size_t worker_threads = 16;  // blocking store work runs here, never on io threads
  std::size_t max_queued_requests = 1024;  // per connection and lane; beyond: RESOURCE_EXHAUSTED
  // The same for the bytes those requests came in (a frame may be 4 MiB): a stalled lane must
  // not keep gigabytes of one connection's frames.
  std::size_t max_queued_request_bytes = 64u << 20;
  // Per-session request rate (token bucket): over it RESOURCE_EXHAUSTED; refusing more than
  // abuse_factor times the rate (sustained) closes the connection with 1008. 0: unlimited.
  double requests_per_second = 200;
  double request_burst = 400;
  double abuse_factor = 10;
  // Live signed-in connections per user; a login or resume beyond it: RESOURCE_EXHAUSTED.
  std::size_t max_sessions_per_user = 10;
};

// Services the dispatcher calls. Not owned; they outlive the Api.
struct Services {
  domain::AuthService* auth = nullptr;
  domain::DirectoryService* directory = nullptr;
  domain::ConsultationService* consultations = nullptr;
  domain::CaseFileService* case_files = nullptr;
  domain::SchedulingService* scheduling = nullptr;
};

// Runs after a connection signs in (login or resume), on a worker thread; used to deliver what
// an offline user missed (e.g. due reminders).
using SessionHook = std::function<void(Api& api, ApiConnection& connection,
                                       const domain::Caller& caller)>;

// A committed event as it went to this node's live sessions: the encoded ServerFrame and the
// users it is for. Other nodes of a cluster deliver the same bytes to their sessions.
struct PublishedEvent {
  std::vector<std::string> recipients;
  std::shared_ptr<const std::string> frame;
};

// Receives what publish() delivered locally, on the publishing thread, before the request that
// caused it is answered; it may block on the store (it runs on workers, never on io threads).
using EventJournal = std::function<void(const std::vector<PublishedEvent>& events)>;
// The same inside the write transaction that caused the events (pipelined requests, see
// dispatch_pipelined): the events commit with the change or not at all. Runs on the store's
// writer thread; it may write through tx but must not wait for the store.
using TxEventJournal =
    std::function<void(store::Tx& tx, const std::vector<PublishedEvent>& events)>;

class Api final : public Handler {
 public:
  Api(Services services, ApiOptions options);
  ~Api() override;

  std::shared_ptr<Connection> open(std::shared_ptr<Outbound> outbound, PeerInfo peer) override;
  bool ready() const override;
  std::string metrics_text() const override;

  void set_ready(bool ready);

  // Hooks are added during start-up, before the first connection.
  void add_session_hook(SessionHook hook) { session_hooks_.push_back(std::move(hook)); }
  void session_started(ApiConnection& connection, const domain::Caller& caller);
  // Set during start-up, before the first connection (cluster mode).
  void set_journal(EventJournal journal) { journal_ = std::move(journal); }
  void set_tx_journal(TxEventJournal journal) { tx_journal_ = std::move(journal); }

  // Delivers committed domain notifications to their recipients' live sessions, then hands
  // them to the journal (when set).
  void publish(const std::vector<domain::Notification>& notifications);
  // The pieces of publish() for requests answered from the store's writer thread: encode
  // (notifications without recipients are left out), hand to the tx journal inside the
  // transaction (when set), and deliver to this node's live sessions after the commit.
  std::vector<PublishedEvent> encode_events(
      const std::vector<domain::Notification>& notifications) const;
  void journal_in(store::Tx& tx, const std::vector<PublishedEvent>& events) const;
  void deliver(const std::vector<PublishedEvent>& events);
  // Requests in flight outside the worker pool (pipelined on the store's writer): stop()
  // waits until each one has been answered. Thread-safe.
  void pipelined_started();
  void pipelined_finished();
  // Queues an encoded ServerFrame to every live session of the given users (events another
  // node published).
  void deliver_frame(const std::vector<std::string>& user_ids,
                     const std::shared_ptr<const std::string>& frame);
  // Tells every live session that the server is going away (SessionClosing); the network layer
  // then closes them with 1001.
  void announce_shutdown();
  // Ends every live session of a user (revocation): SessionClosing, then close 1008.
  void end_user_sessions(const std::string& user_id, const std::string& reason);
  // Token hashes of every live signed-in session (for the revocation sweep).
  std::vector<std::string> live_session_token_hashes() const;
  // Moves on whenever a token joins or leaves live_session_token_hashes() (read it first).
  std::uint64_t live_session_token_generation() const;
  // Ends every live session holding one of these tokens: SessionClosing (EXPIRED or REVOKED),
  // then close 1008.
  void end_sessions(const std::vector<domain::EndedSession>& sessions);

  // Waits for in-flight requests to finish and stops the worker pool. Idempotent.
  void stop();

  const Services& services() const { return services_; }
  SessionRegistry& registry() { return registry_; }
  boost::asio::thread_pool& workers() { return workers_; }
  const ApiOptions& options() const { return options_; }

  struct Counters {
    std::atomic<std::uint64_t> connections_opened{0};
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> protocol_errors{0};
    std::atomic<std::uint64_t> events_delivered{0};
    std::atomic<std::uint64_t> upload_bytes{0};    // chunk bytes of accepted UploadChunk
    std::atomic<std::uint64_t> download_bytes{0};  // chunk bytes answered to ReadFile
  };
  Counters& counters() { return counters_; }

  // The Prometheus registry served at GET /metrics; other layers register theirs at start-up
  // (before the first scrape).
  metrics::Registry& metrics() { return metrics_; }
  // Memory for the data of upload chunks, from decoding until the chunk is sealed.
  BufferPool& chunk_buffers() { return chunk_buffers_; }
  // One answered request: its type (the request field name), status code name and duration.
  // Thread-safe.
  void record_request(const std::string& type, const std::string& code, double seconds);

 private:
  // Chunks between decoding and sealing, over all connections, that reuse memory.
  static constexpr std::size_t kKeptChunkBuffers = 16;

  Services services_;
  ApiOptions options_;
  SessionRegistry registry_;
  boost::asio::thread_pool workers_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopped_{false};
  Counters counters_;
  std::vector<SessionHook> session_hooks_;
  EventJournal journal_;
  TxEventJournal tx_journal_;
  std::mutex pipelined_mutex_;
  std::condition_variable pipelined_done_;
  std::size_t pipelined_ = 0;
  metrics::Registry metrics_;
  BufferPool chunk_buffers_{kKeptChunkBuffers};
  metrics::Family<metrics::Counter>* requests_by_code_ = nullptr;
  metrics::Family<metrics::Histogram>* request_seconds_ = nullptr;
};

}  // namespace tmc::api
