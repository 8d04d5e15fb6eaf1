// tmc-client consult chat: one consultation's log, live, surviving dropped connections; and log.
#include "cli/consult_chat.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <istream>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <thread>

#include "cli/consult_view.hpp"
#include "cli/output.hpp"
#include "cli/reconnect.hpp"
#include "tmc/client/consultations.hpp"
#include "tmc/client/error.hpp"
#include "tmc/client/log_follower.hpp"
#include "tmc/client/retry.hpp"

namespace tmc::cli {
namespace v1 = telemed::v1;
namespace requests = client::requests;

namespace {

// The lines of an input stream, read on a thread of their own so that the chat can wait for
// events meanwhile. Reading stops at end of input or at a "/quit" line.
class InputLines {
 public:
  explicit InputLines(std::istream& in) : state_(std::make_shared<State>()) {
    thread_ = std::thread([state = state_, &in] {
      std::string line;
      while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line == "/quit") break;
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        std::lock_guard lock(state->mutex);
        state->lines.push_back(std::move(line));
      }
      std::lock_guard lock(state->mutex);
      state->finished = true;
    });
  }

  ~InputLines() {
    bool finished = false;
    {
      std::lock_guard lock(state_->mutex);
      finished = state_->finished;
    }
    // A reader still blocked in getline (the chat failed) cannot be interrupted; it only touches
    // the shared state and the stream, which is standard input outside tests.
    if (finished) {
      thread_.join();
    } else {
      thread_.detach();
    }
  }

  InputLines(const InputLines&) = delete;
  InputLines& operator=(const InputLines&) = delete;

  std::optional<std::string> next() {
    std::lock_guard lock(state_->mutex);
    if (state_->lines.empty()) return std::nullopt;
    std::string line = std::move(state_->lines.front());
    state_->lines.pop_front();
    return line;
  }

  // Input ended and every line was taken.
  bool done() const {
    std::lock_guard lock(state_->mutex);
    return state_->finished && state_->lines.empty();
  }

 private:
  struct State {
    std::mutex mutex;
    std::deque<std::string> lines;
    bool finished = false;
  };
  std::shared_ptr<State> state_;
  std::thread thread_;
};

// The back-off after UNAVAILABLE answers (the server's storage away for a moment): writes wait
// for it without holding up the events shown meanwhile.
class Unavailable {
 public:
  Unavailable(CommandContext& context, const RetryPolicy& policy)
      : context_(context), policy_(policy) {}

  // Still within the wait after the last UNAVAILABLE answer.
  bool waiting() const { return std::chrono::steady_clock::now() < retry_at_; }

  // Looks at a write's answer. True when it was UNAVAILABLE and the write is to be kept for
  // another try (reported on err with `kept`); false for any other answer, or once the answers
  // in a row have used up policy.max_retries.
  bool answered(const v1::Status& status, const char* kept) {
    if (!client::is_transient(status)) {
      in_a_row_ = 0;
      return false;
    }
    if (++in_a_row_ > policy_.max_retries) {
      in_a_row_ = 0;
      return false;
    }
    const auto delay = client::retry_delay(policy_.first_retry, policy_.longest_retry, in_a_row_);
    context_.err() << "server unavailable (" << describe_status(status) << "); " << kept
                   << ", retrying in " << delay.count() << " ms\n";
    retry_at_ = std::chrono::steady_clock::now() + delay;
    return true;
  }

 private:
  CommandContext& context_;
  RetryPolicy policy_;
  int in_a_row_ = 0;
  std::chrono::steady_clock::time_point retry_at_{};
};

// A typed line waiting for the server's confirmation.
struct Outgoing {
  std::string client_msg_id;
  std::string text;
};

class Chat {
 public:
  Chat(CommandContext& context, const v1::User& caller, const v1::Consultation& consultation,
       std::uint64_t after_seq, const ChatTiming& timing)
      : context_(context),
        id_(consultation.id()),
        follower_(consultation.id(), after_seq),
        people_(people_of(context, caller, consultation)),
        timing_(timing) {}

  int run() {
    InputLines input(context_.in());
    Reconnecting reconnecting(context_, timing_.retry);
    reconnecting.run([&](bool reconnected) {
      if (reconnected) {
        context_.err() << "reconnected; resuming after #" << follower_.last_seen() << '\n';
        reconnecting.made_progress();
      }
      catch_up();
      follow(input);
    });
    return 0;
  }

 private:
  // Shows the entries after the last one shown, page by page.
  void catch_up() {
    for (;;) {
      auto page = context_.call(requests::sync_consultation(id_, follower_.last_seen()))
                      .sync_consultation();
      for (auto& entry : *page.mutable_entries()) show(follower_.add(std::move(entry)));
      if (!page.has_more() || page.entries().empty()) return;
    }
  }

  // Posts typed lines and shows events until input is done or the connection fails (throws).
  void follow(InputLines& input) {
    client::BlockingClient& client = context_.connect();
    for (;;) {
      while (auto line = input.next()) {
        outbox_.push_back({client::new_client_msg_id(), std::move(*line)});
      }
      post_outbox();
      acknowledge();
      if (input.done() && outbox_.empty()) return;
      if (auto event = client.next_event(timing_.event_poll)) {
        handle(*event);
        for (const auto& more : client.take_events()) handle(more);
        acknowledge();
      }
      if (follower_.has_gap()) catch_up();
      if (!client.is_open()) {
        throw client::ClientError(client::errc::connection_closed, "the server closed it");
      }
    }
  }

  // A refused message is reported and dropped; a connection failure keeps it for the retry
  // after the reconnect. One the server could not store for now (UNAVAILABLE) is kept and sent
  // again with the same client_msg_id once the back-off allows, while events are still shown;
  // after retry.max_retries such answers in a row it is reported and dropped.
  void post_outbox() {
    while (!outbox_.empty() && !unavailable_.waiting()) {
      const Outgoing& message = outbox_.front();
      const auto response =
          context_.connect().call(requests::post_text(id_, message.client_msg_id, message.text));
      if (unavailable_.answered(response.status(), "message kept")) return;
      if (response.status().code() != v1::OK) {
        context_.err() << "error: message not posted: " << describe_status(response.status())
                       << '\n';
      }
      outbox_.pop_front();
    }
  }

  // An acknowledgement the server could not store for now is sent again later, as posts are.
  void acknowledge() {
    const auto due = follower_.ack_due();
    if (!due || unavailable_.waiting()) return;
    const auto response = context_.connect().call(requests::ack_messages(id_, *due));
    if (unavailable_.answered(response.status(), "read position kept")) return;
    if (response.status().code() != v1::OK) throw StatusError(response.status());
    follower_.acknowledged(*due);
  }

  void handle(const v1::Event& event) {
    if (event.has_message_posted()) {
      show(follower_.add(event.message_posted().entry()));
    } else if (event.has_session_closing()) {
      context_.err() << "the server is closing the session: " << event.session_closing().reason()
                     << '\n';
    }
  }

  void show(const std::vector<v1::LogEntry>& entries) {
    for (const auto& entry : entries) print_entry(context_.out(), entry, people_);
    context_.out().flush();
  }

  CommandContext& context_;
  std::string id_;
  client::LogFollower follower_;
  People people_;
  ChatTiming timing_;
  std::deque<Outgoing> outbox_;
  Unavailable unavailable_{context_, timing_.retry};
};

}  // namespace

v1::SyncConsultationResult fetch_log(CommandContext& context, const std::string& consultation_id,
                                     std::uint64_t after_seq, std::uint32_t limit) {
  v1::SyncConsultationResult log;
  for (;;) {
    auto page = context.call(requests::sync_consultation(consultation_id, after_seq, limit))
                    .sync_consultation();
    const bool last_page = limit != 0 || !page.has_more() || page.entries().empty();
    if (!page.entries().empty()) after_seq = page.entries().rbegin()->seq();
    for (auto& entry : *page.mutable_entries()) *log.add_entries() = std::move(entry);
    log.set_has_more(page.has_more());
    if (last_page) return log;
  }
}

int run_chat(CommandContext& context, const v1::User& caller, const ConsultInvocation& invocation,
             const ChatTiming& timing) {
  const v1::Consultation consultation = context.call(invocation.request).consultation();
  std::uint64_t after_seq = 0;
  if (invocation.after_seq) {
    after_seq = *invocation.after_seq;
  } else {
    for (const auto& position : consultation.read_positions()) {
      if (position.user_id() == caller.id()) after_seq = position.seq();
    }
  }
  context.err() << "chat in consultation " << consultation.id() << " ("
                << state_label(consultation.state()) << ", " << consultation.specialty()
                << "); showing entries after #" << after_seq
                << ". Type a message and Enter to send; /quit or end of input leaves.\n";
  return Chat(context, caller, consultation, after_seq, timing).run();
}

}  // namespace tmc::cli
