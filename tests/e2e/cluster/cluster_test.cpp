// Two tmc-server nodes on one PostgreSQL store: users on different nodes share consultations,
// races are decided once across the nodes, and live events reach the sessions of the other node.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <latch>
#include <mutex>
#include <sstream>
#include <thread>

#include "case_file_client.hpp"
#include "cluster_fixture.hpp"
#include "crypto/hash.hpp"
#include "tmc/client/case_files.hpp"
#include "tmc/client/scheduling.hpp"

namespace tmc::e2e {
namespace {

using client::BlockingClient;
using client::LogFollower;

constexpr auto event_wait = 15s;  // bound for a live event to reach the other node

google::protobuf::Timestamp timestamp(std::chrono::system_clock::time_point at) {
  google::protobuf::Timestamp out;
  out.set_seconds(std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count());
  return out;
}

std::function<bool(const v1::Event&)> offer_of(const std::string& consultation_id) {
  return [consultation_id](const v1::Event& event) {
    return event.has_consultation_offered() &&
           event.consultation_offered().consultation().id() == consultation_id;
  };
}

std::function<bool(const v1::Event&)> update_to(const std::string& consultation_id,
                                                v1::ConsultationState state) {
  return [consultation_id, state](const v1::Event& event) {
    return event.has_consultation_updated() &&
           event.consultation_updated().consultation().id() == consultation_id &&
           event.consultation_updated().consultation().state() == state;
  };
}

// Every test gets an empty schema (dropped at its end) and two nodes on it.
class ClusterTest : public ::testing::Test {
 protected:
  // Flags given to both nodes.
  virtual std::vector<std::string> node_args() const { return {}; }

  void SetUp() override {
    schema_.emplace("cl_");
    cluster_.emplace(schema_->conninfo_in_schema("tmc_cluster_e2e"), node_args());
  }
  void TearDown() override {
    cluster_.reset();  // the nodes go before their schema
    schema_.reset();
  }

  Cluster& cluster() { return *cluster_; }

  // A consultation opened by the clinician (signed in on node 0) and accepted by the first
  // dermatologist (signed in on node 1).
  struct Accepted {
    Session clinician;
    Session specialist;
    v1::Consultation consultation;
  };
  Accepted open_and_accept() {
    Accepted accepted{cluster().sign_in(0, cluster_clinician),
                      cluster().sign_in(1, dermatologist(1)), {}};
    const auto opened = open_dermatology_consultation(*accepted.clinician.client);
    accepted.consultation = call_for_consultation(*accepted.specialist.client,
                                                  accept_consultation_frame(opened.id()));
    return accepted;
  }

 private:
  std::optional<::tmc::testing::PostgresTestSchema> schema_;
  std::optional<Cluster> cluster_;
};

TEST_F(ClusterTest, OfferIsRoutedToCandidatesOnBothNodesAndAcceptanceIsSeenAcross) {
  auto local = cluster().sign_in(0, dermatologist(1));
  auto remote = cluster().sign_in(1, dermatologist(2));
  auto clinician = cluster().sign_in(0, cluster_clinician);

  const auto opened = open_dermatology_consultation(*clinician.client);
  EXPECT_EQ(opened.state(), v1::CONSULTATION_STATE_OFFERED);
  EXPECT_EQ(opened.candidate_count(), static_cast<std::uint32_t>(cluster_dermatologists));
  for (auto* specialist : {&local, &remote}) {
    const auto offered = specialist->client->wait_event(offer_of(opened.id()), event_wait);
    ASSERT_TRUE(offered.has_value()) << "no consultation_offered on node "
                                     << (specialist == &local ? 1 : 2);
    EXPECT_EQ(offered->consultation_offered().consultation().specialty(), cluster_specialty);
  }
  // The other node reads the same consultation from the store.
  const auto seen = call_for_consultation(*remote.client, get_consultation_frame(opened.id()));
  EXPECT_EQ(seen.state(), v1::CONSULTATION_STATE_OFFERED);
  EXPECT_EQ(seen.requester_id(), clinician.user_id);

  const auto accepted =
      call_for_consultation(*remote.client, accept_consultation_frame(opened.id()));
  EXPECT_EQ(accepted.assigned_specialist_id(), remote.user_id);
  const auto update = clinician.client->wait_event(
      update_to(opened.id(), v1::CONSULTATION_STATE_ACCEPTED), event_wait);
  ASSERT_TRUE(update.has_value()) << "the clinician on node 1 never heard of the acceptance on "
                                     "node 2";
  EXPECT_EQ(update->consultation_updated().consultation().assigned_specialist_id(),
            remote.user_id);
  // The candidate who lost the offer on node 1 is told too.
  EXPECT_TRUE(local.client
                  ->wait_event(update_to(opened.id(), v1::CONSULTATION_STATE_ACCEPTED), event_wait)
                  .has_value());
}

TEST_F(ClusterTest, AcceptRaceOfTwentySpecialistsOnTwoNodesHasExactlyOneWinner) {
  std::vector<Session> specialists;
  for (int i = 1; i <= cluster_dermatologists; ++i) {
    specialists.push_back(cluster().sign_in(static_cast<std::size_t>(i % 2), dermatologist(i)));
  }
  auto clinician = cluster().sign_in(0, cluster_clinician);
  const auto opened = open_dermatology_consultation(*clinician.client);
  ASSERT_EQ(opened.candidate_count(), static_cast<std::uint32_t>(cluster_dermatologists));
  // Everybody has the offer before anybody accepts, then all accept at once.
  for (auto& specialist : specialists) {
    ASSERT_TRUE(specialist.client->wait_event(offer_of(opened.id()), event_wait).has_value());
  }

  std::vector<v1::Response> answers(specialists.size());
  std::vector<std::string> failures(specialists.size());
  std::latch start(static_cast<std::ptrdiff_t>(specialists.size()));
  std::vector<std::thread> racers;
  for (std::size_t i = 0; i < specialists.size(); ++i) {
    racers.emplace_back([&, i] {
      start.arrive_and_wait();
      try {
        answers[i] = specialists[i].client->call(accept_consultation_frame(opened.id()));
      } catch (const std::exception& error) {
        failures[i] = error.what();
      }
    });
  }
  for (auto& racer : racers) racer.join();

  std::vector<std::size_t> winners;
  for (std::size_t i = 0; i < specialists.size(); ++i) {
    ASSERT_EQ(failures[i], "") << dermatologist(static_cast<int>(i) + 1);
    const auto code = answers[i].status().code();
    if (code == v1::OK) {
      winners.push_back(i);
      EXPECT_EQ(answers[i].consultation().assigned_specialist_id(), specialists[i].user_id);
      continue;
    }
    EXPECT_TRUE(code == v1::ABORTED || code == v1::FAILED_PRECONDITION)
        << dermatologist(static_cast<int>(i) + 1) << " answered " << v1::Code_Name(code) << " "
        << answers[i].status().message();
  }
  ASSERT_EQ(winners.size(), 1u);
  const auto& winner_id = specialists[winners.front()].user_id;

  // Both nodes read the one winner (losers no longer see the consultation), and the clinician
  // is told of it.
  auto clinician_elsewhere = cluster().sign_in(1, cluster_clinician);
  for (auto* reader : {&clinician, &clinician_elsewhere}) {
    const auto now = call_for_consultation(*reader->client, get_consultation_frame(opened.id()));
    EXPECT_EQ(now.state(), v1::CONSULTATION_STATE_ACCEPTED);
    EXPECT_EQ(now.assigned_specialist_id(), winner_id);
  }
  const auto update = clinician.client->wait_event(
      update_to(opened.id(), v1::CONSULTATION_STATE_ACCEPTED), event_wait);
  ASSERT_TRUE(update.has_value());
  EXPECT_EQ(update->consultation_updated().consultation().assigned_specialist_id(), winner_id);
}

TEST_F(ClusterTest, ChatInBothDirectionsArrivesLiveOnTheOtherNodeInOrderWithoutGaps) {
  auto accepted = open_and_accept();
  const auto& id = accepted.consultation.id();
  const auto start_seq = accepted.consultation.last_seq();
  auto& clinician = *accepted.clinician.client;
  auto& specialist = *accepted.specialist.client;
  LogFollower clinician_view(id, start_seq);
  LogFollower specialist_view(id, start_seq);
  std::vector<v1::LogEntry> clinician_shown;
  std::vector<v1::LogEntry> specialist_shown;
  std::vector<std::uint64_t> clinician_arrivals;
  std::vector<std::uint64_t> specialist_arrivals;

  // The acceptance was made on the other node: its notice (start_seq) reaches the clinician
  // through the relay, and may do so after the clinician's own first post had it not been seen.
  ASSERT_TRUE(clinician
                  .wait_event(
                      [&](const v1::Event& event) {
                        const auto entry = posted_entry(event, id);
                        return entry && entry->seq() == start_seq;
                      },
                      event_wait)
                  .has_value());
  // Turn-taking: each post follows the sight of the previous one, so seq order is causal order
  // and every event must arrive in seq order on both nodes.
  constexpr int rounds = 20;
  for (int round = 0; round < rounds; ++round) {
    const bool clinician_turn = round % 2 == 0;
    auto& poster = clinician_turn ? clinician : specialist;
    const auto text = std::string(clinician_turn ? "county" : "partner") + " turn " +
                      std::to_string(round);
    const auto posted =
        poster.call(post_text_frame(id, "turn-" + std::to_string(round), text));
    ASSERT_EQ(posted.status().code(), v1::OK) << posted.status().message();
    const auto seq = posted.post_message().seq();
    const auto deadline = SteadyClock::now() + event_wait;
    ASSERT_TRUE(follow_until(clinician, clinician_view, seq, deadline, clinician_shown,
                             &clinician_arrivals))
        << "node 1 stopped at seq " << clinician_view.last_seen() << " waiting for " << seq;
    ASSERT_TRUE(follow_until(specialist, specialist_view, seq, deadline, specialist_shown,
                             &specialist_arrivals))
        << "node 2 stopped at seq " << specialist_view.last_seen() << " waiting for " << seq;
    EXPECT_EQ(clinician_shown.back().body().text(), text);
    EXPECT_EQ(specialist_shown.back().body().text(), text);
  }
  for (const auto* arrivals : {&clinician_arrivals, &specialist_arrivals}) {
    EXPECT_TRUE(std::is_sorted(arrivals->begin(), arrivals->end()))
        << "turn-taking events arrived out of seq order on node "
        << (arrivals == &clinician_arrivals ? 1 : 2) << ": "
        << ::testing::PrintToString(*arrivals);
  }

  // Both sides at once: every entry arrives on both nodes, none missing (the follower orders
  // them by seq and holds back anything after a gap).
  constexpr int burst = 100;
  std::uint64_t last_seq = 0;
  std::string failure;
  std::mutex failure_mutex;
  auto post_burst = [&](BlockingClient& poster, const std::string& prefix) {
    for (int i = 0; i < burst; ++i) {
      const auto response = poster.call(
          post_text_frame(id, prefix + std::to_string(i), prefix + " burst " + std::to_string(i)));
      std::lock_guard lock(failure_mutex);
      if (response.status().code() != v1::OK) {
        failure = prefix + std::to_string(i) + ": " + response.status().message();
        return;
      }
      last_seq = std::max(last_seq, response.post_message().seq());
    }
  };
  std::thread county([&] { post_burst(clinician, "c-"); });
  std::thread partner([&] { post_burst(specialist, "s-"); });
  county.join();
  partner.join();
  ASSERT_EQ(failure, "");
  const auto deadline = SteadyClock::now() + event_wait;
  EXPECT_TRUE(follow_until(clinician, clinician_view, last_seq, deadline, clinician_shown))
      << "node 1 live events stopped at seq " << clinician_view.last_seen() << " of " << last_seq
      << (clinician_view.has_gap() ? " (a later entry is held back behind a gap)" : "");
  EXPECT_TRUE(follow_until(specialist, specialist_view, last_seq, deadline, specialist_shown))
      << "node 2 live events stopped at seq " << specialist_view.last_seen() << " of "
      << last_seq << (specialist_view.has_gap() ? " (a later entry is held back behind a gap)" : "");

  // What each node showed live is exactly the stored log after the starting point.
  const auto log = sync_whole_log(clinician, id);
  ASSERT_EQ(log.size(), last_seq);
  for (const auto* shown : {&clinician_shown, &specialist_shown}) {
    ASSERT_EQ(shown->size(), last_seq - start_seq);
    for (std::size_t i = 0; i < shown->size(); ++i) {
      const auto& stored = log[start_seq + i];
      EXPECT_EQ((*shown)[i].seq(), stored.seq());
      EXPECT_EQ((*shown)[i].body().text(), stored.body().text());
      EXPECT_EQ((*shown)[i].sender_id(), stored.sender_id());
    }
  }
}

TEST_F(ClusterTest, CaseFileUploadedOnOneNodeDownloadsOnTheOtherWithItsHash) {
  auto accepted = open_and_accept();
  const auto& id = accepted.consultation.id();
  // Several chunks (the server's chunk size is far below this), deterministic contents.
  const auto contents = ::tmc::testing::files::random_data(3 * 1024 * 1024 + 12345, 20261128);

  client::CaseFileClient uploader(*accepted.clinician.client);
  std::istringstream in(contents);
  client::UploadDetails details;
  details.file_name = "chest-xray.dcm";
  details.media_type = "application/dicom";
  details.consultation_id = id;
  const auto uploaded = uploader.upload(in, details);
  ASSERT_TRUE(uploaded.ok()) << v1::Code_Name(uploaded.status.code()) << " "
                             << uploaded.status.message();
  EXPECT_EQ(uploaded.value.size(), contents.size());
  EXPECT_EQ(uploaded.value.sha256(), crypto::sha256(contents));

  // The specialist on the other node hears of it and finds it in the consultation.
  const auto shared = accepted.specialist.client->wait_event(
      [&](const v1::Event& event) {
        return event.has_case_file_shared() && event.case_file_shared().file().id() ==
                                                   uploaded.value.id();
      },
      event_wait);
  EXPECT_TRUE(shared.has_value()) << "no case_file_shared on node 2";
  client::CaseFileClient downloader(*accepted.specialist.client);
  const auto found = downloader.find(uploaded.value.id(), id);
  ASSERT_TRUE(found.ok()) << v1::Code_Name(found.status.code()) << " " << found.status.message();

  ::tmc::testing::TempDir out;
  const auto path = out.path() / "chest-xray.dcm";
  const auto downloaded = downloader.download(found.value, path);
  ASSERT_TRUE(downloaded.ok()) << "download on node 2: " << v1::Code_Name(downloaded.status.code())
                               << " " << downloaded.status.message();
  std::ifstream file(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.size(), contents.size());
  EXPECT_EQ(crypto::sha256(bytes), uploaded.value.sha256());
  EXPECT_TRUE(bytes == contents);
}

TEST_F(ClusterTest, BookingRaceForTheLastPlaceAcrossNodesBooksItOnce) {
  auto owner = cluster().sign_in(1, dermatologist(1));
  client::SchedulingClient owner_schedule(*owner.client);
  v1::PublishAvailabilityRequest publish;
  auto* slot = publish.add_slots();
  const auto starts = std::chrono::system_clock::now() + std::chrono::hours(30);
  *slot->mutable_starts_at() = timestamp(starts);
  *slot->mutable_ends_at() = timestamp(starts + std::chrono::minutes(20));
  slot->set_capacity(1);
  const auto published = owner_schedule.publish(publish);
  ASSERT_TRUE(published.ok()) << published.status.message();
  ASSERT_EQ(published.value.slots_size(), 1);
  const auto slot_id = published.value.slots(0).id();

  // Eight connections of the clinician, four per node, each booking its own consultation.
  constexpr std::size_t racers_count = 8;
  std::vector<Session> clinicians;
  std::vector<std::string> consultations;
  for (std::size_t i = 0; i < racers_count; ++i) {
    clinicians.push_back(cluster().sign_in(i % 2, cluster_clinician));
    consultations.push_back(open_dermatology_consultation(*clinicians.back().client).id());
  }
  std::vector<client::Reply<v1::Appointment>> answers(racers_count);
  std::vector<std::string> failures(racers_count);
  std::latch start(static_cast<std::ptrdiff_t>(racers_count));
  std::vector<std::thread> racers;
  for (std::size_t i = 0; i < racers_count; ++i) {
    racers.emplace_back([&, i] {
      client::SchedulingClient schedule(*clinicians[i].client);
      start.arrive_and_wait();
      try {
        answers[i] = schedule.book(slot_id, consultations[i]);
      } catch (const std::exception& error) {
        failures[i] = error.what();
      }
    });
  }
  for (auto& racer : racers) racer.join();

  int booked = 0;
  std::string booked_consultation;
  for (std::size_t i = 0; i < racers_count; ++i) {
    ASSERT_EQ(failures[i], "");
    if (answers[i].ok()) {
      ++booked;
      booked_consultation = consultations[i];
      continue;
    }
    EXPECT_EQ(answers[i].status.code(), v1::ABORTED)
        << "racer " << i << ": " << v1::Code_Name(answers[i].status.code()) << " "
        << answers[i].status.message();
  }
  ASSERT_EQ(booked, 1);

  // Both nodes see the slot full (no longer listed: only slots with a free place are) and the
  // one appointment.
  for (std::size_t node = 0; node < 2; ++node) {
    client::SchedulingClient reader(*clinicians[node].client);
    const auto slots = reader.list_slots(cluster_specialty, owner.user_id, timestamp(starts - 1h),
                                         timestamp(starts + 1h));
    ASSERT_TRUE(slots.ok()) << slots.status.message();
    EXPECT_EQ(slots.value.slots_size(), 0) << "node " << node + 1 << " still offers the slot";
    const auto appointments = reader.list_appointments();
    ASSERT_TRUE(appointments.ok());
    int on_slot = 0;
    for (const auto& appointment : appointments.value.appointments()) {
      if (appointment.slot_id() != slot_id) continue;
      ++on_slot;
      EXPECT_EQ(appointment.consultation_id(), booked_consultation);
    }
    EXPECT_EQ(on_slot, 1) << "node " << node + 1;
  }
}

// Reminders are sent 15 minutes ahead and looked for every 100 ms, by both nodes.
class ClusterReminderTest : public ClusterTest {
 protected:
  std::vector<std::string> node_args() const override {
    return {"--reminder-lead-minutes", "15", "--reminder-check-ms", "100"};
  }
};

TEST_F(ClusterReminderTest, ReminderIsDecidedOnceAndDeliveredOnceToEachSession) {
  auto accepted = open_and_accept();
  auto clinician_elsewhere = cluster().sign_in(1, cluster_clinician);
  client::SchedulingClient specialist_schedule(*accepted.specialist.client);
  v1::PublishAvailabilityRequest publish;
  auto* slot = publish.add_slots();
  // Inside the lead time from the start: the reminder falls due at the first check.
  const auto starts = std::chrono::system_clock::now() + std::chrono::minutes(10);
  *slot->mutable_starts_at() = timestamp(starts);
  *slot->mutable_ends_at() = timestamp(starts + std::chrono::minutes(10));
  slot->set_capacity(1);
  const auto published = specialist_schedule.publish(publish);
  ASSERT_TRUE(published.ok()) << published.status.message();
  client::SchedulingClient clinician_schedule(*accepted.clinician.client);
  const auto booked =
      clinician_schedule.book(published.value.slots(0).id(), accepted.consultation.id());
  ASSERT_TRUE(booked.ok()) << booked.status.message();
  const auto& appointment_id = booked.value.id();

  struct Receiver {
    const char* name;
    BlockingClient* client;
    int reminders = 0;
  };
  std::vector<Receiver> receivers = {{"clinician on node 1", accepted.clinician.client.get()},
                                     {"clinician on node 2", clinician_elsewhere.client.get()},
                                     {"specialist on node 2", accepted.specialist.client.get()}};
  const auto is_reminder = [&](const v1::Event& event) {
    return event.has_appointment_reminder() &&
           event.appointment_reminder().appointment().id() == appointment_id;
  };
  for (auto& receiver : receivers) {
    const auto reminder = receiver.client->wait_event(is_reminder, event_wait);
    ASSERT_TRUE(reminder.has_value()) << "no reminder for the " << receiver.name;
    EXPECT_GT(reminder->appointment_reminder().starts_in_seconds(), 0);
    ++receiver.reminders;
  }

  // Decided once; every queued copy taken (so none can be handed out again).
  const auto& store = cluster().store_uri();
  EXPECT_EQ(query_number(store, "SELECT count(*) FROM appointment_reminders_sent WHERE "
                                "appointment_id = '" + appointment_id + "'"),
            1);
  const auto give_up = SteadyClock::now() + event_wait;
  std::int64_t pending = -1;
  while (SteadyClock::now() < give_up) {
    pending = query_number(store, "SELECT count(*) FROM pending_reminders WHERE appointment_id = '" +
                                      appointment_id + "'");
    if (pending == 0) break;
    std::this_thread::sleep_for(50ms);  // polling the store: nothing to wait on
  }
  EXPECT_EQ(pending, 0);

  // A later event on the same path marks the end: no second reminder arrived before it.
  const auto cancelled = clinician_schedule.cancel(appointment_id, "patient transferred");
  ASSERT_TRUE(cancelled.ok()) << cancelled.status.message();
  for (auto& receiver : receivers) {
    const auto changed = receiver.client->wait_event(
        [&](const v1::Event& event) {
          return event.has_appointment_changed() &&
                 event.appointment_changed().appointment().id() == appointment_id &&
                 event.appointment_changed().appointment().state() ==
                     v1::APPOINTMENT_STATE_CANCELLED;
        },
        event_wait);
    ASSERT_TRUE(changed.has_value()) << "no cancellation event for the " << receiver.name;
    for (const auto& event : receiver.client->take_events()) {
      if (is_reminder(event)) ++receiver.reminders;
    }
    EXPECT_EQ(receiver.reminders, 1) << receiver.name;
  }
}

}  // namespace
}  // namespace tmc::e2e
