// Wires storage, keys, services, the api layer and the network server into one running process.
#include "app/server_app.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <google/protobuf/stubs/logging.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <thread>
#include <vector>

#include "api/api.hpp"
#include "app/data_dir.hpp"
#include "app/metrics.hpp"
#include "audit/store_audit_hook.hpp"
#include "cluster/event_relay.hpp"
#include "common/thread_name.hpp"
#include "domain/auth_service.hpp"
#include "domain/case_file_service.hpp"
#include "domain/consultation_service.hpp"
#include "domain/directory_service.hpp"
#include "domain/scheduling_service.hpp"
#include "net/server.hpp"

namespace tmc::app {

struct ServerApp::State {
  Config config;
  const Clock& clock;
  boost::asio::io_context io;
  std::unique_ptr<store::Store> store;
  std::optional<crypto::KeyRing> keys;
  tmc::audit::StoreAuditHook audit;  // after store: drained (destroyed) before the store closes
  std::unique_ptr<domain::AuthService> auth;
  std::unique_ptr<domain::DirectoryService> directory;
  std::unique_ptr<domain::Vault> vault;
  std::unique_ptr<domain::ConsultationService> consultations;
  std::unique_ptr<domain::CaseFileService> case_files;
  std::optional<boost::asio::steady_timer> deadline_timer;
  std::atomic<bool> deadline_running{false};
  std::unique_ptr<domain::SchedulingService> scheduling;
  std::optional<boost::asio::steady_timer> reminder_timer;
  std::atomic<bool> reminder_running{false};
  std::shared_ptr<api::Api> api;
  // Several nodes on one PostgreSQL: events published here reach sessions on the others.
  std::unique_ptr<cluster::EventRelay> relay;
  std::unique_ptr<net::Server> server;
  std::atomic<bool> stopping{false};
  // auth: the periodic check of live sessions (revocation, expiry, idle, disabled users)
  std::optional<boost::asio::steady_timer> session_timer;
  std::atomic<bool> session_sweep_running{false};
  // operations: store facts refreshed on a worker (never on io threads, where scrapes run)
  std::optional<boost::asio::steady_timer> facts_timer;
  std::atomic<bool> facts_running{false};
  std::atomic<bool> store_ok{false};
  metrics::Family<metrics::Gauge>* consultations_by_state = nullptr;
  metrics::Gauge* reminder_lag_seconds = nullptr;
  metrics::Counter* store_probe_failures = nullptr;

  State(Config c, const Clock& k) : config(std::move(c)), clock(k) {}
};

ServerApp::ServerApp(Config config, const Clock& clock)
    : state_(std::make_unique<State>(std::move(config), clock)) {}

ServerApp::~ServerApp() {
  if (state_->relay) state_->relay->stop();
  if (state_->api) state_->api->stop();
}

namespace {

// How long a graceful stop waits for the audit log to be stored and signed.
constexpr std::chrono::milliseconds audit_flush_at_stop{10000};

// Threads that run the io_context (Config::io_threads, 0: one per core).
std::size_t io_thread_count(const Config& config) {
  if (config.io_threads != 0) return config.io_threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

// Fails start-up early, with one line naming the file, when a TLS file cannot be used. The
// private key may be readable by its group (Debian's ssl-cert) but never by others.
void check_tls_file(const std::string& path, const char* what, bool secret) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    throw std::runtime_error(std::string("cannot read ") + what + " '" + path +
                             "': " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    throw std::runtime_error(std::string(what) + " '" + path + "' is not a regular file");
  }
  if (secret && (info.st_mode & 0027) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    throw std::runtime_error(std::string(what) + " '" + path + "' has mode " + mode +
                             "; it must not be accessible by others (chmod 600)");
  }
}

}  // namespace

std::uint16_t ServerApp::start() {
  auto& s = *state_;
  check_tls_file(s.config.tls_cert, "TLS certificate", false);
  check_tls_file(s.config.tls_key, "TLS private key", true);
  if (!s.config.client_ca.empty()) check_tls_file(s.config.client_ca, "client CA bundle", false);
  const DataDir data_dir(s.config.data_dir);
  s.keys = data_dir.load_key_ring();
  s.store = data_dir.open_store(s.config.store);
  // Answers to pipelined writes run on the io threads, one task per committed batch, in order.
  s.store->set_completion_handoff(
      [strand = boost::asio::make_strand(s.io)](std::function<void()> task) {
        boost::asio::post(strand, std::move(task));
      });
  s.audit.start(*s.store, data_dir.load_audit_key(*s.store), s.clock);

  domain::AuthOptions auth_options;
  auth_options.session_lifetime = s.config.session_lifetime;
  auth_options.password_params.n = std::uint64_t{1} << s.config.scrypt_log2_n;
  auth_options.session_idle_timeout = s.config.session_idle_timeout;
  auth_options.totp_required_roles = s.config.totp_required_roles;
  auth_options.throttle.backoff_after = s.config.login_backoff_after;
  auth_options.throttle.max_account_failures = s.config.login_max_failures_per_hour;
  s.auth = std::make_unique<domain::AuthService>(*s.store, s.clock, s.audit, auth_options,
                                                 &*s.keys);
  s.directory = std::make_unique<domain::DirectoryService>(*s.store, s.clock, s.audit);

  s.vault = std::make_unique<domain::Vault>(*s.keys);
  domain::DeadlinePolicy deadlines;
  deadlines.emergency = s.config.deadline_emergency;
  deadlines.urgent = s.config.deadline_urgent;
  deadlines.routine = s.config.deadline_routine;
  s.consultations = std::make_unique<domain::ConsultationService>(*s.store, s.clock, s.audit,
                                                                  *s.vault, deadlines);

  // case files: wiring
  domain::CaseFileLimits case_file_limits;
  case_file_limits.max_file_bytes = s.config.max_upload_bytes;
  case_file_limits.organization_quota_bytes = s.config.organization_quota_bytes;
  case_file_limits.chunk_bytes = s.config.upload_chunk_bytes;
  case_file_limits.upload_expiry = s.config.upload_expiry;
  s.case_files = std::make_unique<domain::CaseFileService>(
      *s.store, data_dir.open_blob_store(s.config.store), s.clock, s.audit, *s.vault,
      *s.consultations, case_file_limits);
  s.case_files->start_expiry(std::min<std::chrono::milliseconds>(
      std::chrono::minutes(1), std::chrono::milliseconds(s.config.upload_expiry) / 2));
  // (end of case files wiring)

  // scheduling: wiring
  domain::SchedulingOptions scheduling_options;
  scheduling_options.slot_horizon = std::chrono::days(7 * s.config.slot_horizon_weeks);
  scheduling_options.reminders.lead_times = s.config.reminder_lead_times;
  s.scheduling = std::make_unique<domain::SchedulingService>(
      *s.store, s.clock, s.audit, *s.consultations, scheduling_options);
  // A consultation that ends takes its booked reviews with it, in the same commit.
  s.consultations->on_ended([scheduling = s.scheduling.get()](
                                store::Tx& tx, const std::string& consultation_id,
                                std::string_view state, TimePoint now,
                                std::vector<domain::Notification>& notifications) {
    scheduling->cancel_reviews_of_ended(tx, consultation_id, state, now, notifications);
  });
  // One that changes hands takes the reviews of those who can no longer open it.
  s.consultations->on_changed([scheduling = s.scheduling.get()](
                                  store::Tx& tx, const std::string& consultation_id,
                                  std::string_view, TimePoint now,
                                  std::vector<domain::Notification>& notifications) {
    scheduling->cancel_reviews_without_reviewer(tx, consultation_id, now, notifications);
  });
  // Lead times may have changed in the configuration since appointments were booked.
  s.scheduling->apply_reminder_policy(s.clock.now());
  // Reviews of consultations that ended before ending one cancelled its reviews.
  if (const auto ended = s.scheduling->cancel_reviews_of_ended_consultations(s.clock.now())) {
    spdlog::info("cancelled the booked reviews of {} consultations that had ended", ended);
  }
  // And those of specialists disabled while the server was down (nobody is connected yet; the
  // notices stay in the log).
  if (const auto gone = s.scheduling->cancel_reviews_of_disabled_specialists(s.clock.now());
      gone.value > 0) {
    spdlog::info("cancelled {} booked reviews of disabled specialists", gone.value);
  }
  // (end of scheduling wiring)

  api::Services services;
  services.auth = s.auth.get();
  services.directory = s.directory.get();
  services.consultations = s.consultations.get();
  services.case_files = s.case_files.get();
  services.scheduling = s.scheduling.get();
  api::ApiOptions api_options;
  api_options.worker_threads = s.config.workers;
  api_options.requests_per_second = s.config.requests_per_second;
  api_options.request_burst = 2 * s.config.requests_per_second;
  api_options.max_sessions_per_user = s.config.max_sessions_per_user;
  s.api = std::make_shared<api::Api>(services, api_options);
  // session hooks: (added by the areas that need them)
  // Scheduling: reminders that fell due while the user was offline.
  s.api->add_session_hook([&s](api::Api& api, api::ApiConnection&, const domain::Caller& caller) {
    api.publish(s.scheduling->take_pending_reminders({caller.user.id}, s.clock.now()));
  });
  if (auto waiter = s.store->open_event_waiter()) {
    s.relay = std::make_unique<cluster::EventRelay>(*s.store, *s.vault, *s.api, s.clock);
    s.api->set_journal([relay = s.relay.get()](const std::vector<api::PublishedEvent>& events) {
      relay->record(events);
    });
    s.api->set_tx_journal(
        [relay = s.relay.get()](store::Tx& tx, const std::vector<api::PublishedEvent>& events) {
          relay->record_in(tx, events);
        });
    s.relay->start(std::move(waiter));
  }

  const auto listen = parse_listen_address(s.config.listen);
  net::ServerOptions options;
  options.listen_address = listen->host;
  options.listen_port = listen->port;
  options.tls.certificate_chain_file = s.config.tls_cert;
  options.tls.private_key_file = s.config.tls_key;
  options.tls.client_ca_file = s.config.client_ca;
  options.tls.require_client_certificate = s.config.require_client_cert;
  options.max_frame_bytes = s.config.max_frame_bytes;
  options.handshake_timeout = s.config.handshake_timeout;
  options.idle_timeout = s.config.idle_timeout;
  options.outbound_queue_limit_bytes = s.config.outbound_queue_limit_bytes;
  options.allowed_origins = s.config.allowed_origins;
  options.max_connections_per_address = s.config.max_connections_per_address;
  options.new_connections_per_second_per_address =
      s.config.new_connections_per_second_per_address;
  options.single_io_thread = io_thread_count(s.config) == 1;
  s.server = std::make_unique<net::Server>(s.io, options, s.api);
  register_metrics();
  const auto port = s.server->start();
  refresh_store_facts();  // sets readiness
  s.facts_timer.emplace(s.io);
  schedule_store_facts();
  s.deadline_timer.emplace(s.io);
  schedule_deadline_check();
  s.reminder_timer.emplace(s.io);
  schedule_reminder_check();
  s.session_timer.emplace(s.io);
  schedule_session_sweep();
  spdlog::info("listening on {}:{}", listen->host, port);
  return port;
}

void ServerApp::schedule_deadline_check() {
  auto& s = *state_;
  s.deadline_timer->expires_after(s.config.deadline_check_interval);
  s.deadline_timer->async_wait([this](const boost::system::error_code& error) {
    auto& s = *state_;
    if (error || s.stopping) return;
    // Deadlines are decided on a worker (store work); one check at a time.
    if (!s.deadline_running.exchange(true)) {
      boost::asio::post(s.api->workers(), [&s] {
        try {
          s.api->publish(s.consultations->process_deadlines(s.clock.now()));
        } catch (const std::exception& failure) {
          spdlog::error("deadline check failed: {}", failure.what());
        }
        s.deadline_running = false;
      });
    }
    schedule_deadline_check();
  });
}

// Every session_check_interval, on a worker (one sweep at a time): live sessions whose token
// was revoked (logout elsewhere, password reset, `tmc-admin user disable` in another process),
// expired or idled out, or whose user was disabled, get SessionClosing and close 1008.
void ServerApp::schedule_session_sweep() {
  auto& s = *state_;
  s.session_timer->expires_after(s.config.session_check_interval);
  s.session_timer->async_wait([this](const boost::system::error_code& error) {
    auto& s = *state_;
    if (error || s.stopping) return;
    if (!s.session_sweep_running.exchange(true)) {
      boost::asio::post(s.api->workers(), [&s] {
        try {
          const auto ended =
              s.auth->sweep_sessions(s.api->live_session_token_generation(),
                                     [&s] { return s.api->live_session_token_hashes(); });
          if (!ended.empty()) s.api->end_sessions(ended);
          s.auth->record_refusal_counts();
        } catch (const std::exception& failure) {
          spdlog::error("session sweep failed: {}", failure.what());
        }
        s.session_sweep_running = false;
      });
    }
    schedule_session_sweep();
  });
}

void ServerApp::schedule_reminder_check() {
  auto& s = *state_;
  s.reminder_timer->expires_after(s.config.reminder_check_interval);
  s.reminder_timer->async_wait([this](const boost::system::error_code& error) {
    auto& s = *state_;
    if (error || s.stopping) return;
    if (!s.reminder_running.exchange(true)) {
      boost::asio::post(s.api->workers(), [&s] {
        try {
          const auto now = s.clock.now();
          s.scheduling->extend_availability(now);
          // A specialist disabled by `tmc-admin` since the last check no longer reviews.
          s.api->publish(s.scheduling->cancel_reviews_of_disabled_specialists(now).notifications);
          s.scheduling->queue_due_reminders(now);
          s.scheduling->drop_stale_reminders(now);
          // Queued reminders go to users with a live session now; the rest wait for login. Every
          // page is looked at: the offline users' queue must not hide an online user's reminder.
          std::string after;
          for (;;) {
            const auto users = s.scheduling->users_with_pending_reminders(after);
            if (users.empty()) break;
            std::vector<std::string> online;
            for (const auto& user_id : users) {
              if (!s.api->registry().sessions_of(user_id).empty()) online.push_back(user_id);
            }
            if (!online.empty()) {
              s.api->publish(s.scheduling->take_pending_reminders(online, now));
            }
            after = users.back();
          }
        } catch (const std::exception& failure) {
          spdlog::error("reminder check failed: {}", failure.what());
        }
        s.reminder_running = false;
      });
    }
    schedule_reminder_check();
  });
}

// ---- operations: metrics and readiness ----

namespace {

constexpr std::chrono::seconds store_facts_interval{2};

const char* consultation_state_name(store::ConsultationState state) {
  switch (state) {
    case store::ConsultationState::requested: return "requested";
    case store::ConsultationState::offered: return "offered";
    case store::ConsultationState::accepted: return "accepted";
    case store::ConsultationState::in_session: return "in_session";
    case store::ConsultationState::reported: return "reported";
    case store::ConsultationState::closed: return "closed";
    case store::ConsultationState::declined: return "declined";
    case store::ConsultationState::cancelled: return "cancelled";
    case store::ConsultationState::expired: return "expired";
    case store::ConsultationState::unspecified: break;
  }
  return "unspecified";
}

std::vector<metrics::Sample> one_sample(double value) { return {{{}, value}}; }

}  // namespace

void ServerApp::register_metrics() {
  auto& s = *state_;
  auto& registry = s.api->metrics();
  const auto* net = &s.server->counters();
  const auto* server = s.server.get();
  using metrics::Type;
  registry.callback("tmc_connections", "Accepted connections not yet ended (any phase).",
                    Type::gauge, {}, [server] { return one_sample(server->live_sessions()); });
  registry.callback("tmc_tls_handshakes_total", "TLS handshakes completed.", Type::counter, {},
                    [net] { return one_sample(net->tls_handshakes.load()); });
  registry.callback(
      "tmc_handshake_failures_total",
      "Connections that ended before a WebSocket session or HTTP answer, by reason.",
      Type::counter, {"reason"}, [net] {
        std::vector<metrics::Sample> samples;
        for (std::size_t i = 0; i < net::handshake_failure_names.size(); ++i) {
          samples.push_back({{net::handshake_failure_names[i]},
                             static_cast<double>(net->handshake_failures[i].load())});
        }
        return samples;
      });
  if (const auto* relay = s.relay.get()) {
    registry.callback("tmc_cluster_events_recorded_total",
                      "Events this node journaled for the other nodes.", Type::counter, {},
                      [relay] { return one_sample(static_cast<double>(relay->events_recorded())); });
    registry.callback("tmc_cluster_events_relayed_total",
                      "Events of other nodes delivered to this node's sessions.", Type::counter,
                      {}, [relay] { return one_sample(static_cast<double>(relay->events_relayed())); });
    registry.callback("tmc_cluster_reconnects_total",
                      "Times the event relay lost its store connection.", Type::counter, {},
                      [relay] { return one_sample(static_cast<double>(relay->reconnects())); });
  }
  registry.callback("tmc_slow_consumer_closes_total",
                    "Sessions closed with 1013 because their outbound queue overflowed.",
                    Type::counter, {}, [net] { return one_sample(net->slow_consumer_closes); });
  registry.callback("tmc_outbound_queue_bytes", "Bytes queued to clients over all sessions.",
                    Type::gauge, {}, [net] { return one_sample(net->outbound_queue_bytes); });

  auto* store = s.store.get();
  registry.callback("tmc_store_batches_committed_total", "Group-commit transactions committed.",
                    Type::counter, {},
                    [store] { return one_sample(store->writer_stats().batches_committed); });
  registry.callback("tmc_store_ops_committed_total", "Write operations in committed batches.",
                    Type::counter, {},
                    [store] { return one_sample(store->writer_stats().ops_committed); });
  registry.callback("tmc_store_batches_failed_total", "Group-commit transactions that failed.",
                    Type::counter, {},
                    [store] { return one_sample(store->writer_stats().batches_failed); });
  registry.callback("tmc_store_last_batch_size", "Write operations in the last committed batch.",
                    Type::gauge, {},
                    [store] { return one_sample(store->writer_stats().last_batch_size); });
  registry.callback("tmc_store_commit_seconds_total",
                    "Time spent committing (fsync) group-commit batches.", Type::counter, {},
                    [store] { return one_sample(store->writer_stats().commit_seconds_total); });

  s.consultations_by_state = &registry.gauge_family(
      "tmc_consultations", "Consultations by state (refreshed every few seconds).", {"state"});
  s.reminder_lag_seconds = &registry.gauge(
      "tmc_reminder_lag_seconds", "How long the oldest due review reminder has been waiting.");
  s.store_probe_failures = &registry.counter(
      "tmc_store_probe_failures_total", "Periodic store reads that failed (then not ready).");
  registry.callback("tmc_ready", "1 when /readyz answers ready.", Type::gauge, {},
                    [api = s.api.get()] { return one_sample(api->ready() ? 1 : 0); });
}

// Runs off the io threads: a quick read proves the store answers (readiness) and refreshes the
// gauges that need SQL.
void ServerApp::refresh_store_facts() {
  auto& s = *state_;
  bool ok = false;
  try {
    const auto now = s.clock.now();
    std::vector<std::pair<store::ConsultationState, std::int64_t>> counts;
    std::optional<TimePoint> oldest_due;
    s.store->read([&](store::Tx& tx) {
      counts = tx.count_consultations_by_state();
      const auto due = tx.list_reminder_due_appointments(now, 1);
      if (!due.empty()) oldest_due = due.front().next_reminder_at;
    });
    for (int state = 1; state <= static_cast<int>(store::ConsultationState::expired); ++state) {
      const auto value = static_cast<store::ConsultationState>(state);
      std::int64_t count = 0;
      for (const auto& [counted, number] : counts) {
        if (counted == value) count = number;
      }
      s.consultations_by_state->with({consultation_state_name(value)})
          .set(static_cast<double>(count));
    }
    const std::chrono::duration<double> lag =
        oldest_due && *oldest_due < now ? now - *oldest_due : std::chrono::seconds(0);
    s.reminder_lag_seconds->set(lag.count());
    ok = true;
  } catch (const std::exception& failure) {
    s.store_probe_failures->add();
    spdlog::error("store probe failed: {}", failure.what());
  }
  s.store_ok = ok;
  s.api->set_ready(ok && !s.stopping);
  if (s.stopping) s.api->set_ready(false);  // stop() may have run meanwhile
}

void ServerApp::schedule_store_facts() {
  auto& s = *state_;
  s.facts_timer->expires_after(store_facts_interval);
  s.facts_timer->async_wait([this](const boost::system::error_code& error) {
    auto& s = *state_;
    if (error || s.stopping) return;
    if (!s.facts_running.exchange(true)) {
      boost::asio::post(s.api->workers(), [this] {
        refresh_store_facts();
        state_->facts_running = false;
      });
    }
    schedule_store_facts();
  });
}
// (end of operations)

void ServerApp::run(bool handle_signals) {
  auto& s = *state_;
  std::optional<boost::asio::signal_set> signals;
  if (handle_signals) {
    signals.emplace(s.io, SIGINT, SIGTERM);
    signals->async_wait([this](const boost::system::error_code& error, int signal) {
      if (!error) {
        spdlog::info("signal {} received: shutting down", signal);
        stop();
      }
    });
  }
  auto work = boost::asio::make_work_guard(s.io);
  const std::size_t count = io_thread_count(s.config);
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < count; ++i) {
    threads.emplace_back([&] { s.io.run(); });
    name_thread(threads.back(), "tmc-io");
  }
  s.io.run();  // returns when stop() has finished its work and called io.stop()
  for (auto& thread : threads) thread.join();
  if (signals) signals->cancel();
}

void ServerApp::stop() {
  auto& s = *state_;
  if (s.stopping.exchange(true)) return;
  if (!s.server) {
    s.io.stop();
    return;
  }
  s.api->set_ready(false);
  boost::asio::post(s.io, [&s] { s.deadline_timer->cancel(); });
  boost::asio::post(s.io, [&s] { s.reminder_timer->cancel(); });
  boost::asio::post(s.io, [&s] { s.session_timer->cancel(); });
  boost::asio::post(s.io, [&s] { s.facts_timer->cancel(); });
  s.api->announce_shutdown();
  s.server->stop([&s] {
    // Every session is gone: let in-flight requests (and their commits) finish, then stop io.
    std::thread finish([&s] {
      s.api->stop();
      if (s.relay) s.relay->stop();  // after the last request: its events are journaled
      s.auth->record_refusal_counts(true);
      // Every audit record durable and under a signed head, unless the database stays away:
      // then the stop ends within the service manager's stop timeout (30 s in the unit), and
      // the audit hook's destructor logs what it could not store.
      if (!s.audit.flush_for(audit_flush_at_stop)) {
        spdlog::error("audit: records not stored {} s into the stop; the database is away",
                      audit_flush_at_stop.count() / 1000);
      }
      spdlog::info("shutdown complete");
      s.io.stop();
    });
    name_thread(finish, "tmc-stop");
    finish.detach();
  });
}

api::Api& ServerApp::api() { return *state_->api; }

namespace {

// libprotobuf reports every string field with invalid UTF-8 on stderr at ERROR: a client could
// flood the log with it. The request already gets its own error answer, so such lines are debug.
void log_protobuf_message(google::protobuf::LogLevel level, const char* /*file*/, int /*line*/,
                          const std::string& message) {
  const auto as_spdlog = level >= google::protobuf::LOGLEVEL_FATAL ? spdlog::level::critical
                                                                    : spdlog::level::debug;
  spdlog::log(as_spdlog, "protobuf: {}", message);
}

}  // namespace

void configure_logging(const Config& config) {
  google::protobuf::SetLogHandler(&log_protobuf_message);
  auto logger = spdlog::stderr_color_mt("tmc");
  if (config.log_format == "json") {
    logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","message":"%v"})",
                        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::from_str(config.log_level));
  spdlog::set_default_logger(logger);
}

}  // namespace tmc::app
