// GET /metrics over TLS: well-formed Prometheus text with the operational series; /readyz.
#include <chrono>

#include "exposition.hpp"
#include "ops_support.hpp"

namespace tmc::testing::ops {
namespace {

// Scrapes until pred holds for the parsed text or the deadline passes; returns the last scrape.
template <class Pred>
exposition::Parsed scrape_until(std::uint16_t port, const std::filesystem::path& scratch,
                                Pred&& pred, std::chrono::seconds deadline = 15s) {
  const auto give_up = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    const auto http = https_get(port, "/metrics", scratch);
    EXPECT_EQ(http.status, 200);
    auto parsed = exposition::parse(http.body);
    if (pred(parsed) || std::chrono::steady_clock::now() > give_up) return parsed;
    std::this_thread::sleep_for(100ms);  // polling a scrape target, not synchronising threads
  }
}

TEST(Metrics, ScrapeIsWellFormedAndCountsWhatHappened) {
  TestServer server;
  TempDir scratch;
  auto clinician = server.login("bachu.clinician");
  auto specialist = server.login("shanghai.ortho");
  const auto id = open_accepted_consultation(*clinician, *specialist, "Metrics?");
  EXPECT_EQ(clinician->call(get_frame("con_does_not_exist")).status().code(), v1::NOT_FOUND);
  const auto data = files::random_data(5000, 3);
  ASSERT_EQ(files::upload(*clinician, "lab.pdf", data, id).status().code(), v1::OK);
  // Plain HTTP on the TLS port: a TLS handshake failure.
  EXPECT_NE(run_command("curl -sS --max-time 5 http://localhost:" +
                            std::to_string(server.port()) + "/metrics",
                        scratch.path())
                .exit_code,
            0);

  const auto parsed = scrape_until(server.port(), scratch.path(), [](const auto& p) {
    return p.value("tmc_consultations", {{"state", "accepted"}}) == 1.0 &&
           p.value("tmc_handshake_failures_total", {{"reason", "tls"}}).value_or(0) >= 1;
  });
  for (const auto& problem : parsed.problems) ADD_FAILURE() << problem;

  EXPECT_EQ(parsed.types.at("tmc_requests_total"), "counter");
  EXPECT_EQ(parsed.types.at("tmc_request_duration_seconds"), "histogram");
  EXPECT_EQ(parsed.types.at("tmc_live_sessions"), "gauge");
  EXPECT_EQ(parsed.value("tmc_requests_total", {{"type", "login"}, {"code", "OK"}}), 2.0);
  EXPECT_EQ(
      parsed.value("tmc_requests_total", {{"type", "get_consultation"}, {"code", "NOT_FOUND"}}),
      1.0);
  EXPECT_EQ(parsed.value("tmc_request_duration_seconds_count", {{"type", "login"}}), 2.0);
  EXPECT_EQ(
      parsed.value("tmc_request_duration_seconds_bucket", {{"type", "login"}, {"le", "+Inf"}}),
      2.0);
  EXPECT_EQ(parsed.value("tmc_live_sessions"), 2.0);
  EXPECT_EQ(parsed.value("tmc_upload_bytes_total"), static_cast<double>(data.size()));
  EXPECT_EQ(parsed.value("tmc_consultations", {{"state", "accepted"}}), 1.0);
  EXPECT_EQ(parsed.value("tmc_consultations", {{"state", "closed"}}), 0.0);
  EXPECT_GE(parsed.value("tmc_handshake_failures_total", {{"reason", "tls"}}).value_or(0), 1.0);
  EXPECT_GE(parsed.value("tmc_tls_handshakes_total").value_or(0), 3.0);
  EXPECT_GE(parsed.value("tmc_events_delivered_total").value_or(0), 1.0);
  EXPECT_GE(parsed.value("tmc_store_batches_committed_total").value_or(0), 1.0);
  EXPECT_GE(parsed.value("tmc_store_ops_committed_total").value_or(0),
            parsed.value("tmc_store_batches_committed_total").value_or(0));
  EXPECT_TRUE(parsed.value("tmc_store_commit_seconds_total").has_value());
  EXPECT_EQ(parsed.value("tmc_slow_consumer_closes_total"), 0.0);
  EXPECT_TRUE(parsed.value("tmc_outbound_queue_bytes").has_value());
  EXPECT_EQ(parsed.value("tmc_reminder_lag_seconds"), 0.0);
  EXPECT_EQ(parsed.value("tmc_ready"), 1.0);
}

TEST(Metrics, ReadyzReflectsTheStoreAndHealthzIsLiveness) {
  TestServer server;
  TempDir scratch;
  const auto ready = https_get(server.port(), "/readyz", scratch.path());
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready\n");
  const auto health = https_get(server.port(), "/healthz", scratch.path());
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
}

}  // namespace
}  // namespace tmc::testing::ops
