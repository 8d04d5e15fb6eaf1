// tmc-bench scenarios: echo (any WebSocket echo server), chat, fanout, slow-consumer, connections
// and upload (tmc).
#include "scenarios.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <stdexcept>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "delivery_tracker.hpp"
#include "proc_net_tcp.hpp"
#include "proc_stats.hpp"
#include "rss_trace.hpp"
#include "telemed/v1/frames.pb.h"
#include "wire.hpp"
#include "ws_connection.hpp"

namespace tmc::bench {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace pb = telemed::v1;
using Clock = std::chrono::steady_clock;

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
          .count());
}

std::span<const std::uint8_t> as_bytes(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// As many descriptors as the hard limit allows (root may raise the hard limit too).
void raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  rlimit wanted{1 << 20, 1 << 20};
  if (::setrlimit(RLIMIT_NOFILE, &wanted) == 0) return;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

// What every scenario shares: the io_context (one thread), the TLS client context, the target.
struct Bench {
  explicit Bench(const Options& options_in)
      : options(options_in), io(1), tls(ssl::context::tls_client) {
    raise_fd_limit();
    const auto colon = options.target.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error("--target must be ADDRESS:PORT");
    target.endpoint = {asio::ip::make_address(options.target.substr(0, colon)),
                       static_cast<std::uint16_t>(std::stoi(options.target.substr(colon + 1)))};
    target.host = options.host;
    target.path = options.path;
    target.subprotocol = options.subprotocol;
    tls.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                    ssl::context::no_tlsv1_1);
    if (options.ca_file.empty()) {
      tls.set_verify_mode(ssl::verify_none);
    } else {
      tls.load_verify_file(options.ca_file);
      tls.set_verify_mode(ssl::verify_peer);
    }
    const int sources = std::max(1, options.source_addresses);
    for (int i = 1; i <= sources; ++i) {
      locals.push_back(asio::ip::make_address("127.0.0." + std::to_string(i)));
    }
    if (!target.endpoint.address().is_loopback()) locals = {asio::ip::address_v4::any()};
  }

  const asio::ip::address& local(std::size_t index) const { return locals[index % locals.size()]; }

  Options options;
  asio::io_context io;
  ssl::context tls;
  Target target;
  std::vector<asio::ip::address> locals;
};

// Server and client CPU (the server's also by thread), server RSS and wall time between begin()
// and end().
class PhaseClock {
 public:
  explicit PhaseClock(pid_t server) : server_(server) {}
  void begin(PhaseResult& result) {
    server_threads_ = sample_threads(server_);
    start_ = Clock::now();
    client_cpu_ = own_cpu_seconds();
    if (auto sample = sample_process(server_)) {
      server_cpu_ = sample->cpu_seconds;
      result.server_rss_kib_before = sample->rss_kib;
    }
  }
  void end(PhaseResult& result) const {
    result.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    result.client_cpu_seconds = own_cpu_seconds() - client_cpu_;
    if (auto sample = sample_process(server_)) {
      result.server_cpu_seconds = sample->cpu_seconds - server_cpu_;
      result.server_rss_kib_after = sample->rss_kib;
    }
    result.server_thread_cpu_seconds = cpu_by_thread_name(server_threads_, sample_threads(server_));
  }

 private:
  pid_t server_;
  std::vector<ThreadSample> server_threads_;
  Clock::time_point start_;
  double client_cpu_ = 0;
  double server_cpu_ = 0;
};

// Runs `count` asynchronous tasks with at most `concurrency` in flight, then calls finished.
class Batch {
 public:
  using Done = std::function<void(bool ok)>;
  using Task = std::function<void(std::size_t index, Done done)>;

  Batch(std::size_t count, std::size_t concurrency, Task task,
        std::function<void(std::size_t failures)> finished)
      : count_(count),
        concurrency_(std::max<std::size_t>(1, concurrency)),
        task_(std::move(task)),
        finished_(std::move(finished)) {}

  void start() {
    if (count_ == 0) return finished_(0);
    while (started_ < count_ && started_ < concurrency_) launch();
  }

 private:
  void launch() {
    const auto index = started_++;
    task_(index, [this](bool ok) {
      if (!ok) ++failures_;
      if (++completed_ == count_) return finished_(failures_);
      if (started_ < count_) launch();
    });
  }

  std::size_t count_, concurrency_;
  Task task_;
  std::function<void(std::size_t)> finished_;
  std::size_t started_ = 0, completed_ = 0, failures_ = 0;
};

// What to run in one message phase.
struct PhaseSpec {
  std::string name;
  bool closed_loop = true;
  double rate = 0;  // open loop: messages per second over all flows
};

// Drives message flows (echo connections, chat pairs) through closed- and open-loop phases.
// Every message carries its send stamp: in open loop the *intended* send time, so a stalled
// server shows up as latency instead of silently lowering the offered load.
class FlowDriver {
 public:
  using Send = std::function<void(std::size_t flow, std::uint64_t stamp_ns)>;

  FlowDriver(Bench& bench, std::size_t flows, Send send)
      : bench_(bench), send_(std::move(send)), in_flight_(flows, 0), next_due_(flows, 0),
        timer_(bench.io) {}

  // A message of `flow` stamped `stamp_ns` arrived.
  void complete(std::size_t flow, std::uint64_t stamp_ns) {
    const auto now = now_ns();
    if (in_flight_[flow] > 0) {
      --in_flight_[flow];
      --total_in_flight_;
    }
    if (stamp_ns >= measure_start_ && stamp_ns < measure_end_) {
      current_.latency.record(now > stamp_ns ? now - stamp_ns : 0);
      ++current_.operations;
    }
    if (closed_loop_ && sending_) top_up(flow, now);
  }

  void error() { ++current_.errors; }

  void run(const PhaseSpec& spec, std::function<void(PhaseResult)> done) {
    done_ = std::move(done);
    current_ = PhaseResult{};
    current_.name = spec.name;
    current_.mode = spec.closed_loop ? "closed" : "open";
    current_.offered_rate = spec.closed_loop ? 0 : spec.rate;
    closed_loop_ = spec.closed_loop;
    const auto now = now_ns();
    measure_start_ = now + seconds_ns(bench_.options.warmup_seconds);
    measure_end_ = measure_start_ + seconds_ns(bench_.options.duration_seconds);
    measuring_ = false;
    sending_ = true;
    dropped_ = 0;
    if (closed_loop_) {
      for (std::size_t flow = 0; flow < in_flight_.size(); ++flow) top_up(flow, now);
    } else {
      interval_ns_ = static_cast<std::uint64_t>(static_cast<double>(in_flight_.size()) * 1e9 /
                                                std::max(spec.rate, 1.0));
      for (std::size_t flow = 0; flow < next_due_.size(); ++flow) {
        next_due_[flow] = now + interval_ns_ * flow / next_due_.size();
      }
    }
    tick();
  }

 private:
  static std::uint64_t seconds_ns(double seconds) {
    return static_cast<std::uint64_t>(seconds * 1e9);
  }

  void top_up(std::size_t flow, std::uint64_t now) {
    while (in_flight_[flow] < bench_.options.window) send(flow, now);
  }

  void send(std::size_t flow, std::uint64_t stamp) {
    ++in_flight_[flow];
    ++total_in_flight_;
    send_(flow, stamp);
  }

  void tick() {
    const auto now = now_ns();
    if (!measuring_ && now >= measure_start_) {
      measuring_ = true;
      clock_.emplace(bench_.options.server_pid);
      clock_->begin(current_);
    }
    if (sending_ && !closed_loop_) {
      // A flow more than this far behind is not sent to any more (the server is saturated).
      constexpr std::uint32_t kMaxBehind = 20000;
      for (std::size_t flow = 0; flow < next_due_.size(); ++flow) {
        while (next_due_[flow] <= now && next_due_[flow] < measure_end_) {
          if (in_flight_[flow] < kMaxBehind) {
            send(flow, next_due_[flow]);
          } else {
            ++dropped_;
          }
          next_due_[flow] += interval_ns_;
        }
      }
    }
    if (sending_ && now >= measure_end_) {
      sending_ = false;
      clock_->end(current_);
      drain_deadline_ = now + seconds_ns(5);
    }
    if (!sending_ && (total_in_flight_ == 0 || now >= drain_deadline_)) return finish();
    timer_.expires_after(std::chrono::microseconds(500));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) tick();
    });
  }

  void finish() {
    current_.figures.emplace_back("undelivered_after_drain", static_cast<double>(total_in_flight_));
    current_.figures.emplace_back("not_sent_server_too_far_behind", static_cast<double>(dropped_));
    // A new phase starts from a clean count; late messages of this one are ignored.
    std::fill(in_flight_.begin(), in_flight_.end(), 0);
    total_in_flight_ = 0;
    measure_start_ = measure_end_ = 0;
    auto done = std::move(done_);
    done(std::move(current_));
  }

  Bench& bench_;
  Send send_;
  std::vector<std::uint32_t> in_flight_;
  std::vector<std::uint64_t> next_due_;
  std::uint64_t total_in_flight_ = 0;
  std::uint64_t interval_ns_ = 0;
  std::uint64_t measure_start_ = 0, measure_end_ = 0, drain_deadline_ = 0;
  std::uint64_t dropped_ = 0;
  bool closed_loop_ = true, sending_ = false, measuring_ = false;
  std::optional<PhaseClock> clock_;
  PhaseResult current_;
  std::function<void(PhaseResult)> done_;
  asio::steady_timer timer_;
};

// Runs the closed-loop phase (if asked), then the open-loop phases; rates given as fractions
// are fractions of the closed-loop rate just measured.
void run_phases(Bench& bench, FlowDriver& driver, ScenarioResult& result,
                std::function<void()> finished) {
  auto specs = std::make_shared<std::vector<PhaseSpec>>();
  const auto& options = bench.options;
  for (const double rate : options.open_loop_rates) {
    specs->push_back({"open " + std::to_string(static_cast<long>(rate)) + "/s", false, rate});
  }
  auto next = std::make_shared<std::function<void(std::size_t)>>();
  *next = [&bench, &driver, &result, specs, next, finished](std::size_t index) {
    if (index >= specs->size()) return finished();
    driver.run((*specs)[index], [&, index, specs, next, finished](PhaseResult phase) {
      if (phase.mode == "closed") {
        const double max_rate = phase.rate();
        std::vector<PhaseSpec> open;
        for (const double fraction : bench.options.open_loop_fractions) {
          open.push_back({"open " + std::to_string(static_cast<int>(fraction * 100 + 0.5)) +
                              "% of max",
                          false, fraction * max_rate});
        }
        specs->insert(specs->begin() + static_cast<long>(index) + 1, open.begin(), open.end());
      }
      result.phases.push_back(std::move(phase));
      (*next)(index + 1);
    });
  };
  if (options.closed_loop) specs->insert(specs->begin(), {"closed loop", true, 0});
  (*next)(0);
}

void add_common_settings(const Options& options, ScenarioResult& result) {
  result.settings = {{"target", options.target},
                     {"window", std::to_string(options.window)},
                     {"message_bytes", std::to_string(options.message_bytes)},
                     {"warmup_seconds", std::to_string(options.warmup_seconds)},
                     {"duration_seconds", std::to_string(options.duration_seconds)}};
  if (options.summary_bytes > 0) {
    result.settings.emplace_back("summary_bytes", std::to_string(options.summary_bytes));
  }
}

// ---- telemed.v1 sessions ------------------------------------------------------------------

// A WsConnection speaking telemed.v1: one setup request at a time answered through a callback
// (decoded with the generated classes); every other frame goes to on_frame undecoded.
class ProtocolSession {
 public:
  using Reply = std::function<void(const pb::ServerFrame&)>;

  explicit ProtocolSession(Bench& bench) : connection(bench.io, bench.tls) {
    connection.on_message([this](std::span<const std::uint8_t> message) { dispatch(message); });
  }

  void request(pb::ClientFrame frame, Reply reply) {
    const auto id = next_request_id();
    frame.set_request_id(id);
    scratch_ = frame.SerializeAsString();
    awaited_id_ = id;
    awaited_ = std::move(reply);
    connection.send_binary(as_bytes(scratch_));
  }

  std::uint64_t next_request_id() { return next_id_++; }

  WsConnection connection;
  std::function<void(const ServerFrameView&)> on_frame;

 private:
  void dispatch(std::span<const std::uint8_t> message) {
    const auto view = scan_server_frame(message);
    if (view.kind == ServerFrameView::Kind::response && awaited_ && view.request_id == awaited_id_) {
      pb::ServerFrame frame;
      if (!frame.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
        frame.mutable_response()->mutable_status()->set_code(pb::INTERNAL);
        frame.mutable_response()->mutable_status()->set_message("undecodable response");
      }
      auto reply = std::move(awaited_);
      awaited_ = nullptr;
      reply(frame);
      return;
    }
    if (on_frame) on_frame(view);
  }

  std::uint64_t next_id_ = kRequestIdBase;
  std::uint64_t awaited_id_ = 0;
  Reply awaited_;
  std::string scratch_;
};

// "CODE message" of a failed response, empty when it succeeded.
std::string failure_of(const pb::ServerFrame& frame) {
  if (!frame.has_response()) return "not a response";
  const auto& status = frame.response().status();
  if (status.code() == pb::OK) return {};
  return pb::Code_Name(status.code()) + ": " + status.message();
}

std::vector<const BenchUser*> users_with_role(const Options& options, const std::string& role) {
  std::vector<const BenchUser*> found;
  for (const auto& user : options.users) {
    if (user.role == role) found.push_back(&user);
  }
  return found;
}

// Connects a session, then runs `then` with an error text (empty on success).
void connect_session(Bench& bench, ProtocolSession& session, std::size_t index,
                     SSL_SESSION* tls_session, std::function<void(std::string)> then) {
  session.connection.on_status(
      [then = std::move(then)](const boost::system::error_code& ec, const char* where) {
        then(ec ? std::string(where) + ": " + ec.message() : std::string());
      });
  session.connection.start(bench.target, bench.local(index), tls_session);
}

void login(ProtocolSession& session, const BenchUser& user,
           std::function<void(std::string error, const pb::LoginResult&)> then) {
  pb::ClientFrame frame;
  frame.mutable_login()->set_username(user.username);
  frame.mutable_login()->set_password(user.password);
  session.request(std::move(frame), [then = std::move(then)](const pb::ServerFrame& reply) {
    then(failure_of(reply), reply.response().login());
  });
}

// Prints failures after the connection is set up (closes, resets) into the phase's errors.
void count_later_failures(ProtocolSession& session, FlowDriver& driver) {
  session.connection.on_status(
      [&driver](const boost::system::error_code&, const char*) { driver.error(); });
}

}  // namespace

// ---- echo -----------------------------------------------------------------------------------

ScenarioResult run_echo(const Options& options) {
  Bench bench(options);
  ScenarioResult result;
  result.scenario = "echo";
  result.label = options.label;
  add_common_settings(options, result);
  result.settings.emplace_back("connections", std::to_string(options.connections));

  std::vector<std::unique_ptr<WsConnection>> connections;
  std::vector<std::uint8_t> payload(std::max<std::size_t>(options.message_bytes, 8), 'e');
  std::unique_ptr<FlowDriver> driver;
  driver = std::make_unique<FlowDriver>(
      bench, options.connections, [&](std::size_t flow, std::uint64_t stamp) {
        std::memcpy(payload.data(), &stamp, sizeof stamp);
        connections[flow]->send_binary(payload);
      });
  for (std::size_t i = 0; i < options.connections; ++i) {
    auto connection = std::make_unique<WsConnection>(bench.io, bench.tls);
    connection->on_message([&driver, i](std::span<const std::uint8_t> message) {
      std::uint64_t stamp = 0;
      if (message.size() >= sizeof stamp) {
        std::memcpy(&stamp, message.data(), sizeof stamp);
        driver->complete(i, stamp);
      }
    });
    connections.push_back(std::move(connection));
  }

  // Handshake cost first: a wave of connections opened (TLS + WebSocket upgrade) and dropped.
  std::vector<std::unique_ptr<WsConnection>> handshakes;
  PhaseResult handshake_phase;
  handshake_phase.name = "full TLS + ws handshakes";
  handshake_phase.mode = "handshake";
  PhaseClock handshake_clock(options.server_pid);
  for (std::size_t i = 0; i < options.resumed_connections; ++i) {
    handshakes.push_back(std::make_unique<WsConnection>(bench.io, bench.tls));
  }

  Batch connect(
      options.connections, options.handshake_concurrency,
      [&](std::size_t index, Batch::Done done) {
        auto& connection = *connections[index];
        connection.on_status(
            [&, done](const boost::system::error_code& ec, const char* where) {
              if (ec && result.error.empty()) result.error = std::string(where) + ": " + ec.message();
              done(!ec);
            });
        connection.start(bench.target, bench.local(index), nullptr);
      },
      [&](std::size_t failures) {
        if (failures > 0) {
          bench.io.stop();
          return;
        }
        for (auto& connection : connections) {
          connection->on_status([&driver](const boost::system::error_code&, const char*) {
            driver->error();
          });
        }
        run_phases(bench, *driver, result, [&] { bench.io.stop(); });
      });
  Batch handshake_wave(
      handshakes.size(), options.handshake_concurrency,
      [&](std::size_t index, Batch::Done done) {
        handshakes[index]->on_status(
            [&, index, done](const boost::system::error_code& ec, const char* where) {
              if (ec && result.error.empty()) result.error = std::string(where) + ": " + ec.message();
              handshakes[index]->abort();
              done(!ec);
            });
        handshakes[index]->start(bench.target, bench.local(index), nullptr);
      },
      [&](std::size_t failures) {
        handshake_clock.end(handshake_phase);
        handshake_phase.operations = handshakes.size() - failures;
        handshake_phase.errors = failures;
        if (!handshakes.empty()) result.phases.push_back(std::move(handshake_phase));
        if (failures > 0) return bench.io.stop();
        connect.start();
      });
  handshake_clock.begin(handshake_phase);
  handshake_wave.start();
  bench.io.run();
  return result;
}

// ---- chat -----------------------------------------------------------------------------------

namespace {

// The clinician opens a consultation offered to this specialist only, who accepts it; then
// `then` runs with an error text (empty on success) and the consultation's id.
void open_accepted_consultation(Bench& bench, ProtocolSession& clinician,
                                ProtocolSession& specialist, const std::string& specialist_id,
                                std::size_t index,
                                std::function<void(std::string, std::string)> then) {
  pb::ClientFrame frame;
  auto* request = frame.mutable_open_consultation();
  request->mutable_patient()->set_reference("bench-" + std::to_string(index));
  request->mutable_patient()->set_age_years(50);
  request->mutable_patient()->set_sex(pb::SEX_OTHER);
  request->set_specialty(bench.options.specialty);
  request->set_urgency(pb::URGENCY_ROUTINE);
  request->set_question("Load test consultation");
  // A clinical summary as long as a real one can be, to show that a post's cost does not
  // depend on it (the sealed texts are stored apart from the row a post loads and updates).
  if (bench.options.summary_bytes > 0) {
    request->set_clinical_summary(std::string(bench.options.summary_bytes, 's'));
  }
  request->set_preferred_specialist_id(specialist_id);
  clinician.request(std::move(frame),
                    [&specialist, then = std::move(then)](const pb::ServerFrame& reply) mutable {
                      if (auto error = failure_of(reply); !error.empty())
                        return then("open: " + error, {});
                      auto id = reply.response().consultation().id();
                      pb::ClientFrame accept;
                      accept.mutable_accept_consultation()->set_consultation_id(id);
                      specialist.request(std::move(accept), [id, then = std::move(then)](
                                                                const pb::ServerFrame& reply) {
                        const auto error = failure_of(reply);
                        then(error.empty() ? error : "accept: " + error, id);
                      });
                    });
}

// A clinician and a specialist in one accepted consultation; the clinician posts, the
// specialist's message_posted event completes the message. Set up in steps: connect and log in
// both, open a consultation offered to this specialist only, accept it.
class ChatPair {
 public:
  ChatPair(Bench& bench, std::size_t index, const BenchUser& clinician_user,
           const BenchUser& specialist_user)
      : clinician(bench), specialist(bench), bench_(bench), index_(index),
        clinician_user_(clinician_user), specialist_user_(specialist_user) {}

  void set_up(std::function<void(std::string)> done) {
    done_ = std::move(done);
    connect_session(bench_, specialist, 2 * index_, nullptr, [this](std::string error) {
      if (!error.empty()) return done_(error);
      login(specialist, specialist_user_, [this](std::string error, const pb::LoginResult& r) {
        if (!error.empty()) return done_(error);
        specialist_id_ = r.user().id();
        connect_clinician();
      });
    });
  }

  ProtocolSession clinician;
  ProtocolSession specialist;
  std::string consultation_id;
  std::unique_ptr<PostMessageTemplate> post;
  std::uint64_t messages = 0;

 private:
  void connect_clinician() {
    connect_session(bench_, clinician, 2 * index_ + 1, nullptr, [this](std::string error) {
      if (!error.empty()) return done_(error);
      login(clinician, clinician_user_, [this](std::string error, const pb::LoginResult&) {
        if (!error.empty()) return done_(error);
        open_consultation();
      });
    });
  }

  void open_consultation() {
    open_accepted_consultation(
        bench_, clinician, specialist, specialist_id_, index_,
        [this](std::string error, std::string id) {
          consultation_id = std::move(id);
          done_(std::move(error));
        });
  }

  Bench& bench_;
  std::size_t index_;
  const BenchUser& clinician_user_;
  const BenchUser& specialist_user_;
  std::string specialist_id_;
  std::function<void(std::string)> done_;
};

using ChatPairs = std::vector<std::unique_ptr<ChatPair>>;

// Flow i posts the next message of pair i from its clinician.
FlowDriver::Send chat_sender(ChatPairs& pairs) {
  return [&pairs](std::size_t flow, std::uint64_t stamp) {
    auto& pair = *pairs[flow];
    const auto message_id = (std::uint64_t{flow} << 40) | ++pair.messages;
    pair.clinician.connection.send_binary(
        pair.post->encode(pair.clinician.next_request_id(), message_id, stamp));
  };
}

// Sets up every pair (16 at a time) and arms it for the driver: a failed post counts as an
// error, the specialist's message_posted event completes the message. Then runs `ready`, or
// stops the io_context with result.error set.
void set_up_chat_pairs(Bench& bench, ChatPairs& pairs, FlowDriver& driver, ScenarioResult& result,
                       std::function<void()> ready) {
  auto setup = std::make_shared<std::unique_ptr<Batch>>();
  *setup = std::make_unique<Batch>(
      pairs.size(), 16,
      [&pairs, &result](std::size_t index, Batch::Done done) {
        pairs[index]->set_up([&result, done](std::string error) {
          if (!error.empty() && result.error.empty()) result.error = "setup: " + error;
          done(error.empty());
        });
      },
      [&bench, &pairs, &driver, setup, ready = std::move(ready)](std::size_t failures) {
        if (failures > 0) return bench.io.stop();
        for (std::size_t i = 0; i < pairs.size(); ++i) {
          auto& pair = *pairs[i];
          pair.post = std::make_unique<PostMessageTemplate>(pair.consultation_id,
                                                            bench.options.message_bytes);
          pair.clinician.on_frame = [&driver](const ServerFrameView& view) {
            if (view.kind == ServerFrameView::Kind::response && view.status_code != 0) {
              driver.error();
            }
          };
          pair.specialist.on_frame = [&driver, i](const ServerFrameView& view) {
            std::uint64_t stamp = 0;
            if (view.kind == ServerFrameView::Kind::event && view.event_field == 3 &&
                timestamp_in_text(view.text, stamp)) {
              driver.complete(i, stamp);
            }
          };
          count_later_failures(pair.clinician, driver);
          count_later_failures(pair.specialist, driver);
        }
        ready();
      });
  (*setup)->start();
}

}  // namespace

ScenarioResult run_chat(const Options& options) {
  Bench bench(options);
  ScenarioResult result;
  result.scenario = "chat";
  result.label = options.label;
  add_common_settings(options, result);
  result.settings.emplace_back("pairs", std::to_string(options.pairs));

  const auto clinicians = users_with_role(options, "clinician");
  const auto specialists = users_with_role(options, "specialist");
  if (clinicians.size() < options.pairs || specialists.size() < options.pairs) {
    result.error = "the users file has fewer clinicians or specialists than --pairs";
    return result;
  }

  std::vector<std::unique_ptr<ChatPair>> pairs;
  for (std::size_t i = 0; i < options.pairs; ++i) {
    pairs.push_back(std::make_unique<ChatPair>(bench, i, *clinicians[i], *specialists[i]));
  }

  FlowDriver driver(bench, options.pairs, chat_sender(pairs));
  set_up_chat_pairs(bench, pairs, driver, result,
                    [&] { run_phases(bench, driver, result, [&] { bench.io.stop(); }); });
  bench.io.run();
  return result;
}

// ---- fanout --------------------------------------------------------------------------------

namespace {

// `inviter` invites user_ids[first..] into the consultation one after another; then `then` runs
// with an error text (empty on success).
void invite_each(ProtocolSession& inviter, const std::string& consultation_id,
                 const std::vector<std::string>& user_ids, std::size_t first,
                 std::function<void(std::string)> then) {
  if (first >= user_ids.size()) return then({});
  pb::ClientFrame frame;
  frame.mutable_invite_participant()->set_consultation_id(consultation_id);
  frame.mutable_invite_participant()->set_user_id(user_ids[first]);
  inviter.request(std::move(frame), [&inviter, consultation_id, &user_ids, first,
                                     then = std::move(then)](const pb::ServerFrame& reply) {
    if (auto error = failure_of(reply); !error.empty()) return then("invite: " + error);
    invite_each(inviter, consultation_id, user_ids, first + 1, then);
  });
}

// Connects and logs in sessions[i] as users[i] (16 at a time); ids[i] gets the user's id. Then
// runs `ready`, or stops the io_context with result.error set.
void sign_in_all(Bench& bench, std::vector<std::unique_ptr<ProtocolSession>>& sessions,
                 const std::vector<const BenchUser*>& users, std::size_t first_address,
                 std::vector<std::string>& ids, ScenarioResult& result,
                 std::function<void()> ready) {
  ids.resize(sessions.size());
  auto batch = std::make_shared<std::unique_ptr<Batch>>();
  *batch = std::make_unique<Batch>(
      sessions.size(), 16,
      [&bench, &sessions, &users, &ids, &result, first_address](std::size_t index,
                                                                Batch::Done done) {
        auto& session = *sessions[index];
        connect_session(bench, session, first_address + index, nullptr,
                        [&, index, done](std::string error) {
                          if (!error.empty()) {
                            if (result.error.empty()) result.error = "connect: " + error;
                            return done(false);
                          }
                          login(session, *users[index],
                                [&, index, done](std::string error, const pb::LoginResult& r) {
                                  if (!error.empty() && result.error.empty()) {
                                    result.error = "login: " + error;
                                  }
                                  ids[index] = r.user().id();
                                  done(error.empty());
                                });
                        });
      },
      [&bench, batch, ready = std::move(ready)](std::size_t failures) {
        if (failures > 0) return bench.io.stop();
        ready();
      });
  (*batch)->start();
}

}  // namespace

ScenarioResult run_fanout(const Options& options) {
  Bench bench(options);
  ScenarioResult result;
  result.scenario = "fanout";
  result.label = options.label;
  add_common_settings(options, result);
  std::string sizes_text;
  for (const auto size : options.participants) {
    sizes_text += (sizes_text.empty() ? "" : ",") + std::to_string(size);
  }
  result.settings.emplace_back("participants", sizes_text);
  if (options.participants.empty()) {
    result.error = "--participants needs at least one consultation size";
    return result;
  }
  const std::size_t largest =
      *std::max_element(options.participants.begin(), options.participants.end());
  if (*std::min_element(options.participants.begin(), options.participants.end()) < 2) {
    result.error = "a consultation has at least 2 participants (the sender and one recipient)";
    return result;
  }
  // Member 0 (a clinician) sends; member 1 (a specialist) accepts; the others are invited:
  // specialists of the consulted hospital first, then the sender's colleagues.
  const auto clinicians = users_with_role(options, "clinician");
  const auto specialists = users_with_role(options, "specialist");
  std::vector<const BenchUser*> members;
  if (!clinicians.empty() && !specialists.empty()) {
    members = {clinicians[0], specialists[0]};
    for (std::size_t i = 1; i < specialists.size() && members.size() < largest; ++i) {
      members.push_back(specialists[i]);
    }
    for (std::size_t i = 1; i < clinicians.size() && members.size() < largest; ++i) {
      members.push_back(clinicians[i]);
    }
  }
  if (members.size() < largest) {
    result.error =
        "the users file has fewer than " + std::to_string(largest) + " clinicians and specialists";
    return result;
  }
  members.resize(largest);

  std::vector<std::unique_ptr<ProtocolSession>> sessions;
  for (std::size_t i = 0; i < largest; ++i) {
    sessions.push_back(std::make_unique<ProtocolSession>(bench));
  }
  std::vector<std::string> ids;
  std::unique_ptr<PostMessageTemplate> post;
  std::unique_ptr<DeliveryTracker> tracker;
  std::uint64_t messages = 0;
  std::string consultation_id;

  // One flow: the sender's window of messages, each complete once its last copy arrived.
  FlowDriver driver(bench, 1, [&](std::size_t, std::uint64_t stamp) {
    const auto message_id = ++messages;
    tracker->sent(message_id);
    auto& sender = *sessions[0];
    sender.connection.send_binary(post->encode(sender.next_request_id(), message_id, stamp));
  });

  std::function<void(std::size_t)> run_size = [&](std::size_t index) {
    if (index >= options.participants.size()) return bench.io.stop();
    const auto size = options.participants[index];
    open_accepted_consultation(
        bench, *sessions[0], *sessions[1], ids[1], index,
        [&, index, size](std::string error, std::string id) {
          if (!error.empty()) {
            result.error = error;
            return bench.io.stop();
          }
          consultation_id = std::move(id);
          auto invitees = std::make_shared<std::vector<std::string>>(
              ids.begin() + 2, ids.begin() + static_cast<long>(size));
          invite_each(
              *sessions[0], consultation_id, *invitees, 0,
              [&, index, size, invitees](std::string error) {
                if (!error.empty()) {
                  result.error = error;
                  return bench.io.stop();
                }
                post =
                    std::make_unique<PostMessageTemplate>(consultation_id, options.message_bytes);
                // Room for far more messages in flight than the window or an open-loop backlog.
                tracker = std::make_unique<DeliveryTracker>(1 << 16,
                                                            static_cast<std::uint32_t>(size - 1));
                for (std::size_t i = 1; i < sessions.size(); ++i) {
                  if (i >= size) {
                    sessions[i]->on_frame = nullptr;
                    continue;
                  }
                  sessions[i]->on_frame = [&](const ServerFrameView& view) {
                    std::uint64_t stamp = 0, message_id = 0;
                    if (view.kind == ServerFrameView::Kind::event && view.event_field == 3 &&
                        timestamp_in_text(view.text, stamp) &&
                        message_id_in_text(view.text, message_id) && tracker->arrive(message_id)) {
                      driver.complete(0, stamp);
                    }
                  };
                }
                auto phases = std::make_shared<ScenarioResult>();
                run_phases(bench, driver, *phases, [&, index, size, phases] {
                  const double recipients = static_cast<double>(size - 1);
                  for (auto& phase : phases->phases) {
                    phase.name = std::to_string(size) + " participants, " + phase.name;
                    phase.figures.emplace_back("participants", static_cast<double>(size));
                    phase.figures.emplace_back("deliveries_per_second", phase.rate() * recipients);
                    phase.figures.emplace_back("deliveries_per_server_cpu_second",
                                               phase.per_server_cpu_second() * recipients);
                    result.phases.push_back(std::move(phase));
                  }
                  run_size(index + 1);
                });
              });
        });
  };

  sessions[0]->on_frame = [&driver](const ServerFrameView& view) {
    if (view.kind == ServerFrameView::Kind::response && view.status_code != 0) driver.error();
  };
  sign_in_all(bench, sessions, members, 0, ids, result, [&] {
    for (auto& session : sessions) count_later_failures(*session, driver);
    run_size(0);
  });
  bench.io.run();
  return result;
}

// ---- slow-consumer --------------------------------------------------------------------------

ScenarioResult run_slow_consumer(const Options& options) {
  Bench bench(options);
  ScenarioResult result;
  result.scenario = "slow-consumer";
  result.label = options.label;
  add_common_settings(options, result);
  const auto stalled_count = std::max<std::size_t>(
      1, static_cast<std::size_t>(
             std::llround(static_cast<double>(options.sessions) * options.slow_percent / 100)));
  const std::size_t pair_count =
      options.sessions > stalled_count ? (options.sessions - stalled_count) / 2 : 0;
  result.settings.emplace_back("sessions", std::to_string(options.sessions));
  result.settings.emplace_back("pairs", std::to_string(pair_count));
  result.settings.emplace_back("stalled_sessions", std::to_string(stalled_count));
  result.settings.emplace_back("server_queue_bytes", std::to_string(options.server_queue_bytes));
  result.settings.emplace_back("stalled_receive_buffer",
                               std::to_string(options.stalled_receive_buffer));
  const auto clinicians = users_with_role(options, "clinician");
  const auto specialists = users_with_role(options, "specialist");
  if (pair_count == 0 || clinicians.size() < pair_count ||
      specialists.size() < pair_count + stalled_count) {
    result.error = "the users file needs " + std::to_string(pair_count) + " clinicians and " +
                   std::to_string(pair_count + stalled_count) + " specialists";
    return result;
  }
  if (options.server_queue_bytes == 0) {
    result.error = "--server-queue-bytes (the server's --outbound-queue-bytes) is required";
    return result;
  }

  ChatPairs pairs;
  for (std::size_t i = 0; i < pair_count; ++i) {
    pairs.push_back(std::make_unique<ChatPair>(bench, i, *clinicians[i], *specialists[i]));
  }
  // The stalled sessions take part in every consultation, so each is sent every message: enough
  // to overflow its outbound queue within a short phase.
  std::vector<const BenchUser*> stalled_users(
      specialists.begin() + static_cast<long>(pair_count),
      specialists.begin() + static_cast<long>(pair_count + stalled_count));
  std::vector<std::unique_ptr<ProtocolSession>> stalled;
  for (std::size_t i = 0; i < stalled_count; ++i) {
    stalled.push_back(std::make_unique<ProtocolSession>(bench));
    stalled.back()->connection.set_receive_buffer(options.stalled_receive_buffer);
  }
  std::vector<std::string> stalled_ids;
  std::uint64_t stalled_events = 0;  // message_posted events the stalled sessions read
  std::vector<std::string> close_reasons(stalled_count);
  std::vector<bool> stalled_ended(stalled_count, false);
  // The server's side of each stalled connection, from /proc/PID/net/tcp while stalled: when
  // it left ESTABLISHED (the server closed it; -1: not during the stall) and the most bytes its
  // kernel send queue held.
  std::vector<std::uint16_t> stalled_ports(stalled_count, 0);
  std::vector<double> dropped_at(stalled_count, -1);
  std::vector<bool> socket_seen(stalled_count, false);  // absent from the start: not IPv4 here
  std::uint64_t kernel_queue_peak = 0;
  const auto server_port = bench.target.endpoint.port();

  FlowDriver driver(bench, pair_count, chat_sender(pairs));
  RssTrace trace;
  asio::steady_timer sampler(bench.io), stall_timer(bench.io), settle_timer(bench.io);
  Clock::time_point stall_start;
  bool sampling = false;
  // Bytes the stalled sessions read between the start of the run and the stall (setup traffic
  // excluded), and the message_posted events among them: the size of one event frame.
  std::uint64_t bytes_at_stall = 0, events_at_stall = 0;
  PhaseResult phase;

  std::function<void()> sample = [&] {
    if (!sampling) return;
    const double now = std::chrono::duration<double>(Clock::now() - stall_start).count();
    if (auto s = sample_process(options.server_pid)) trace.add(now, s->rss_kib);
    std::ifstream tcp_file("/proc/" + std::to_string(options.server_pid) + "/net/tcp");
    const std::string tcp_text{std::istreambuf_iterator<char>(tcp_file), {}};
    for (std::size_t i = 0; i < stalled_count && !tcp_text.empty(); ++i) {
      if (dropped_at[i] >= 0) continue;
      const auto socket = find_tcp_socket(tcp_text, server_port, stalled_ports[i]);
      if (socket && socket->state == kTcpEstablished) {
        socket_seen[i] = true;
        kernel_queue_peak = std::max(kernel_queue_peak, socket->tx_queue);
      } else if (socket || socket_seen[i]) {
        dropped_at[i] = now;
      }
    }
    sampler.expires_after(std::chrono::milliseconds(100));
    sampler.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) sample();
    });
  };

  auto ended_count = [&] {
    return static_cast<std::size_t>(std::count(stalled_ended.begin(), stalled_ended.end(), true));
  };

  // After the stall: read again, and see how each stalled session ended (a close frame and its
  // code, or the connection dropped without one), waiting a few seconds at most.
  std::function<void(int)> settle = [&](int polls_left) {
    if (ended_count() < stalled_count && polls_left > 0) {
      settle_timer.expires_after(std::chrono::milliseconds(100));
      settle_timer.async_wait(
          [&, polls_left](const boost::system::error_code&) { settle(polls_left - 1); });
      return;
    }
    std::size_t with_1013 = 0, other_code = 0, without_close = 0;
    unsigned first_code = 0;
    for (std::size_t i = 0; i < stalled_count; ++i) {
      const auto code = stalled[i]->connection.close_code();
      if (code != 0 && first_code == 0) first_code = code;
      if (!stalled_ended[i]) continue;
      if (code == 1013) {
        ++with_1013;
      } else if (code != 0) {
        ++other_code;
      } else {
        ++without_close;
      }
    }
    const auto rss = trace.summary();
    const double bound = queue_bound_kib(stalled_count, options.server_queue_bytes);
    const double per_event = events_at_stall > 0 ? static_cast<double>(bytes_at_stall) /
                                                       static_cast<double>(events_at_stall)
                                                 : 0;
    auto& f = phase.figures;
    f.emplace_back("stalled_sessions", static_cast<double>(stalled_count));
    f.emplace_back("rss_start_kib", rss.start_kib);
    f.emplace_back("rss_middle_kib", rss.middle_kib);
    f.emplace_back("rss_end_kib", rss.end_kib);
    f.emplace_back("rss_peak_kib", rss.peak_kib);
    f.emplace_back("rss_samples", static_cast<double>(rss.samples));
    f.emplace_back("rss_growth_kib", rss.peak_kib - rss.start_kib);
    f.emplace_back("rss_queue_bound_kib", bound);
    f.emplace_back("rss_growth_over_queue_bound",
                   bound > 0 ? (rss.peak_kib - rss.start_kib) / bound : 0);
    // Every message posted during the stall was sent to every stalled session.
    f.emplace_back("event_frame_bytes", per_event);
    f.emplace_back("offered_kib_per_stalled_session",
                   per_event * static_cast<double>(phase.operations) / 1024.0);
    f.emplace_back("stalled_closed_1013", static_cast<double>(with_1013));
    f.emplace_back("stalled_closed_other_code", static_cast<double>(other_code));
    f.emplace_back("stalled_dropped_without_close_frame", static_cast<double>(without_close));
    f.emplace_back("stalled_still_open", static_cast<double>(stalled_count - ended_count()));
    std::vector<double> drops;
    for (const double at : dropped_at) {
      if (at >= 0) drops.push_back(at);
    }
    std::sort(drops.begin(), drops.end());
    f.emplace_back("stalled_dropped_by_server_while_stalled", static_cast<double>(drops.size()));
    f.emplace_back("stalled_dropped_after_seconds", drops.empty() ? 0 : drops[drops.size() / 2]);
    f.emplace_back("server_kernel_send_queue_peak_kib",
                   static_cast<double>(kernel_queue_peak) / 1024.0);
    f.emplace_back("stalled_close_code", static_cast<double>(first_code));
    for (std::size_t i = 0; i < stalled_count && i < 4; ++i) {
      if (!close_reasons[i].empty()) {
        result.settings.emplace_back("stalled_" + std::to_string(i) + "_end", close_reasons[i]);
      }
    }
    for (auto& pair : pairs) {
      pair->clinician.connection.abort();
      pair->specialist.connection.abort();
    }
    for (auto& session : stalled) session->connection.abort();
    result.phases.push_back(std::move(phase));
    bench.io.stop();
  };

  auto start = [&] {
    for (auto& session : stalled) bytes_at_stall -= session->connection.bytes_received();
    for (std::size_t i = 0; i < stalled_count; ++i) {
      stalled[i]->on_frame = [&](const ServerFrameView& view) {
        if (view.kind == ServerFrameView::Kind::event && view.event_field == 3) ++stalled_events;
      };
      stalled[i]->connection.on_status(
          [&, i](const boost::system::error_code& ec, const char* where) {
            stalled_ended[i] = true;
            close_reasons[i] = std::string(where) + ": " + ec.message();
          });
    }
    // The stall starts with the measured phase: the same warm-up for everyone first.
    stall_timer.expires_after(
        std::chrono::milliseconds(static_cast<long>(options.warmup_seconds * 1000)));
    stall_timer.async_wait([&](const boost::system::error_code&) {
      for (auto& session : stalled) {
        session->connection.pause_reading();
        bytes_at_stall += session->connection.bytes_received();
      }
      for (std::size_t i = 0; i < stalled_count; ++i) {
        stalled_ports[i] = stalled[i]->connection.local_port();
      }
      events_at_stall = stalled_events;
      stall_start = Clock::now();
      sampling = true;
      sample();
    });
    driver.run({"closed loop, " + std::to_string(stalled_count) + " stalled", true, 0},
               [&](PhaseResult measured) {
                 sampling = false;
                 if (auto s = sample_process(options.server_pid)) {
                   trace.add(std::chrono::duration<double>(Clock::now() - stall_start).count(),
                             s->rss_kib);
                 }
                 phase = std::move(measured);
                 for (auto& session : stalled) session->connection.resume_reading();
                 settle(50);
               });
  };

  set_up_chat_pairs(bench, pairs, driver, result, [&] {
    sign_in_all(bench, stalled, stalled_users, 2 * pair_count, stalled_ids, result, [&] {
      // Each pair's clinician invites the stalled sessions' users into its consultation.
      auto invites = std::make_shared<std::unique_ptr<Batch>>();
      *invites = std::make_unique<Batch>(
          pairs.size(), 16,
          [&](std::size_t index, Batch::Done done) {
            invite_each(pairs[index]->clinician, pairs[index]->consultation_id, stalled_ids, 0,
                        [&, done](std::string error) {
                          if (!error.empty() && result.error.empty()) result.error = error;
                          done(error.empty());
                        });
          },
          [&, invites](std::size_t failures) {
            if (failures > 0) return bench.io.stop();
            start();
          });
      (*invites)->start();
    });
  });
  bench.io.run();
  return result;
}

// ---- connections ----------------------------------------------------------------------------

ScenarioResult run_connections(const Options& options) {
  Bench bench(options);
  ScenarioResult result;
  result.scenario = "connections";
  result.label = options.label;
  result.settings = {{"target", options.target},
                     {"connections", std::to_string(options.connections)},
                     {"resumed_connections", std::to_string(options.resumed_connections)},
                     {"source_addresses", std::to_string(options.source_addresses)},
                     {"handshake_concurrency", std::to_string(options.handshake_concurrency)},
                     {"sign_ins", std::to_string(options.sign_ins)}};
  if (options.users.empty()) {
    result.error = "connections needs a users file (sessions are resumed with their tokens)";
    return result;
  }
  if (options.sign_ins == 0) {
    result.error = "--sign-ins must be at least 1";
    return result;
  }
  const std::size_t login_count = options.sign_ins;
  std::vector<std::unique_ptr<ProtocolSession>> logins;
  std::vector<std::string> tokens(login_count);
  std::vector<std::unique_ptr<ProtocolSession>> sessions;
  const auto resumed_count = std::min(options.resumed_connections, options.connections);
  PhaseResult full, idle, resumed;
  full.name = "full TLS + ws + resume";
  full.mode = "handshake";
  idle.name = "idle sessions held";
  idle.mode = "idle";
  resumed.name = "resumed TLS + ws + resume";
  resumed.mode = "handshake";
  PhaseClock clock(options.server_pid);
  asio::steady_timer settle(bench.io);

  // One wave of `count` sessions starting at sessions[first], each resuming a login token.
  auto wave = [&](std::size_t first, std::size_t count, bool resume_tls, PhaseResult& phase,
                  std::function<void()> then) {
    auto batch = std::make_shared<std::unique_ptr<Batch>>();
    *batch = std::make_unique<Batch>(
        count, options.handshake_concurrency,
        [&, first, resume_tls](std::size_t offset, Batch::Done done) {
          const auto index = first + offset;
          auto& session = *sessions[index];
          SSL_SESSION* tls_session = resume_tls ? sessions[offset]->connection.session() : nullptr;
          connect_session(bench, session, index, tls_session, [&, index, done](std::string error) {
            if (!error.empty()) {
              if (result.error.empty()) result.error = error;
              return done(false);
            }
            pb::ClientFrame frame;
            frame.mutable_resume()->set_session_token(tokens[index % tokens.size()]);
            session.request(std::move(frame), [&, done](const pb::ServerFrame& reply) {
              const auto failure = failure_of(reply);
              if (!failure.empty() && result.error.empty()) result.error = "resume: " + failure;
              done(failure.empty());
            });
          });
          if (tls_session != nullptr) SSL_SESSION_free(tls_session);
        },
        [phase_ptr = &phase, &clock, batch, then, count](std::size_t failures) {
          clock.end(*phase_ptr);
          phase_ptr->operations = count - failures;
          phase_ptr->errors = failures;
          then();
        });
    clock.begin(phase);
    (*batch)->start();
  };

  Batch sign_in(
      login_count, 4,
      [&](std::size_t index, Batch::Done done) {
        auto& session = *logins[index];
        connect_session(bench, session, index, nullptr, [&, index, done](std::string error) {
          if (!error.empty()) {
            result.error = "login connection: " + error;
            return done(false);
          }
          const auto& user = options.users[index % options.users.size()];
          login(session, user, [&, index, done](std::string error, const pb::LoginResult& login) {
            if (!error.empty()) result.error = "login: " + error;
            tokens[index] = login.session_token();
            // The token outlives its connection; closing it keeps descriptors for the waves.
            asio::post(bench.io, [&session = *logins[index]] { session.connection.abort(); });
            done(error.empty());
          });
        });
      },
      [&](std::size_t failures) {
        if (failures > 0) return bench.io.stop();
        wave(0, options.connections, false, full, [&] {
          // The idle phase is the settle time: what the server spends only holding the sessions.
          clock.begin(idle);
          settle.expires_after(std::chrono::milliseconds(
              static_cast<long>(options.settle_seconds * 1000)));
          settle.async_wait([&](const boost::system::error_code&) {
            clock.end(idle);
            idle.server_rss_kib_before = full.server_rss_kib_before;
            idle.figures.emplace_back("server_cpu_percent",
                                      idle.seconds > 0
                                          ? 100.0 * idle.server_cpu_seconds / idle.seconds
                                          : 0.0);
            std::size_t open = 0;
            for (std::size_t i = 0; i < options.connections; ++i) {
              open += sessions[i]->connection.open() ? 1 : 0;
            }
            idle.figures.emplace_back("sessions_open", static_cast<double>(open));
            idle.figures.emplace_back(
                "server_rss_kib_per_session",
                open > 0 ? (idle.server_rss_kib_after - idle.server_rss_kib_before) /
                               static_cast<double>(open)
                         : 0.0);
            wave(options.connections, resumed_count, true, resumed, [&] {
              std::size_t reused = 0;
              for (std::size_t i = 0; i < resumed_count; ++i) {
                reused += sessions[options.connections + i]->connection.resumed() ? 1 : 0;
              }
              resumed.figures.emplace_back("tls_sessions_resumed", static_cast<double>(reused));
              for (auto& session : sessions) session->connection.abort();
              bench.io.stop();
            });
          });
        });
      });
  for (std::size_t i = 0; i < login_count; ++i) {
    logins.push_back(std::make_unique<ProtocolSession>(bench));
  }
  for (std::size_t i = 0; i < options.connections + resumed_count; ++i) {
    sessions.push_back(std::make_unique<ProtocolSession>(bench));
  }
  sign_in.start();
  bench.io.run();
  for (auto* phase : {&full, &idle, &resumed}) {
    if (phase->seconds > 0) result.phases.push_back(std::move(*phase));
  }
  return result;
}

// ---- upload ---------------------------------------------------------------------------------

ScenarioResult run_upload(const Options& options) {
  Bench bench(options);
  ScenarioResult result;
  result.scenario = "upload";
  result.label = options.label;
  result.settings = {{"target", options.target},
                     {"uploads", std::to_string(options.uploads)},
                     {"upload_bytes", std::to_string(options.upload_bytes)},
                     {"chunk_bytes", std::to_string(options.chunk_bytes)}};
  const auto clinicians = users_with_role(options, "clinician");
  if (clinicians.size() < options.uploads) {
    result.error = "the users file has fewer clinicians than --uploads";
    return result;
  }
  if (options.chunk_bytes == 0 || options.upload_bytes % options.chunk_bytes != 0) {
    result.error = "--upload-bytes must be a multiple of --chunk-bytes";
    return result;
  }
  // Every chunk carries the same bytes; the file's SHA-256 is computed once up front.
  std::vector<std::uint8_t> chunk(options.chunk_bytes);
  for (std::size_t i = 0; i < chunk.size(); ++i) {
    chunk[i] = static_cast<std::uint8_t>((i * 2654435761u) >> 13);
  }
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  {
    const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha(EVP_MD_CTX_new(),
                                                                      &EVP_MD_CTX_free);
    EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr);
    for (std::uint64_t done = 0; done < options.upload_bytes; done += chunk.size()) {
      EVP_DigestUpdate(sha.get(), chunk.data(), chunk.size());
    }
    EVP_DigestFinal_ex(sha.get(), reinterpret_cast<unsigned char*>(digest.data()), nullptr);
  }

  struct Upload {
    explicit Upload(Bench& bench) : session(bench) {}
    ProtocolSession session;
    std::string upload_id;
    std::uint64_t next_offset = 0;
    std::uint64_t committed = 0;
    std::size_t in_flight = 0;
  };
  std::vector<std::unique_ptr<Upload>> uploads;
  for (std::size_t i = 0; i < options.uploads; ++i) {
    uploads.push_back(std::make_unique<Upload>(bench));
  }
  PhaseResult phase;
  phase.name = std::to_string(options.uploads) + " x " +
               std::to_string(options.upload_bytes >> 20) + " MiB";
  phase.mode = "upload";
  PhaseClock clock(options.server_pid);
  std::size_t finished = 0;
  // Chunks in flight per upload: enough to keep the pipe full, bounded to limit server queues.
  constexpr std::size_t kChunksInFlight = 4;

  std::function<void(Upload&)> pump = [&](Upload& upload) {
    while (upload.in_flight < kChunksInFlight && upload.next_offset < options.upload_bytes) {
      const auto head = encode_upload_chunk_header(upload.session.next_request_id(),
                                                   upload.upload_id, upload.next_offset,
                                                   chunk.size());
      upload.session.connection.send_binary(head, chunk);
      upload.next_offset += chunk.size();
      ++upload.in_flight;
    }
    if (upload.in_flight == 0 && upload.next_offset >= options.upload_bytes) {
      pb::ClientFrame finish;
      finish.mutable_finish_upload()->set_upload_id(upload.upload_id);
      upload.session.request(std::move(finish), [&](const pb::ServerFrame& reply) {
        const auto failure = failure_of(reply);
        if (!failure.empty()) {
          ++phase.errors;
          if (result.error.empty()) result.error = "finish_upload: " + failure;
        } else {
          ++phase.operations;
        }
        if (++finished == uploads.size()) {
          clock.end(phase);
          bench.io.stop();
        }
      });
    }
  };

  Batch setup(
      options.uploads, options.uploads,
      [&](std::size_t index, Batch::Done done) {
        Upload* upload = uploads[index].get();
        connect_session(bench, upload->session, index, nullptr, [&, upload, index, done](std::string error) {
          if (!error.empty()) {
            result.error = error;
            return done(false);
          }
          login(upload->session, *clinicians[index],
                [&, upload, index, done](std::string error, const pb::LoginResult&) {
                  if (!error.empty()) {
                    result.error = "login: " + error;
                    return done(false);
                  }
                  pb::ClientFrame begin;
                  auto* request = begin.mutable_begin_upload();
                  request->set_file_name("bench-" + std::to_string(index) + ".bin");
                  request->set_media_type("application/octet-stream");
                  request->set_size(options.upload_bytes);
                  request->set_sha256(digest);
                  upload->session.request(std::move(begin), [&, upload, done](const pb::ServerFrame& reply) {
                    const auto failure = failure_of(reply);
                    if (!failure.empty()) result.error = "begin_upload: " + failure;
                    upload->upload_id = reply.response().upload_session().upload_id();
                    done(failure.empty());
                  });
                });
        });
      },
      [&](std::size_t failures) {
        if (failures > 0) return bench.io.stop();
        for (auto& upload_ptr : uploads) {
          Upload* upload = upload_ptr.get();
          upload->session.on_frame = [&, upload](const ServerFrameView& view) {
            if (view.kind != ServerFrameView::Kind::response) return;
            --upload->in_flight;
            if (view.status_code != 0) {
              ++phase.errors;
              if (result.error.empty()) {
                result.error = "upload_chunk failed with code " + std::to_string(view.status_code);
              }
              upload->session.connection.abort();
              if (++finished == uploads.size()) {
                clock.end(phase);
                bench.io.stop();
              }
              return;
            }
            pump(*upload);
          };
        }
        clock.begin(phase);
        for (auto& upload : uploads) pump(*upload);
      });
  setup.start();
  bench.io.run();
  const double megabytes =
      static_cast<double>(phase.operations * options.upload_bytes) / (1024.0 * 1024.0);
  phase.figures.emplace_back("mib_per_second", phase.seconds > 0 ? megabytes / phase.seconds : 0);
  phase.figures.emplace_back("server_cpu_seconds_per_mib",
                             megabytes > 0 ? phase.server_cpu_seconds / megabytes : 0);
  if (phase.seconds > 0) result.phases.push_back(std::move(phase));
  return result;
}

}  // namespace tmc::bench
