// The Prometheus registry: exposition text, label escaping, histogram buckets, registration rules.
#include <gtest/gtest.h>

#include <limits>
#include <thread>
#include <vector>

#include "../../integration/ops/exposition.hpp"
#include "app/metrics.hpp"

namespace tmc::metrics {
namespace {

TEST(MetricsRegistry, ExposesCountersGaugesAndHistogramsInRegistrationOrder) {
  Registry registry;
  auto& requests = registry.counter_family("tmc_requests_total", "Requests.", {"type", "code"});
  auto& sessions = registry.gauge("tmc_live_sessions", "Sessions.");
  auto& latency = registry.histogram("tmc_request_duration_seconds", "Latency.", {0.125, 1});
  requests.with({"login", "OK"}).add(3);
  requests.with({"login", "UNAUTHENTICATED"}).add();
  sessions.set(2);
  latency.observe(0.0625);
  latency.observe(0.125);  // on the bound: counted in le="0.125"
  latency.observe(4);

  EXPECT_EQ(registry.expose(),
            "# HELP tmc_requests_total Requests.\n"
            "# TYPE tmc_requests_total counter\n"
            "tmc_requests_total{type=\"login\",code=\"OK\"} 3\n"
            "tmc_requests_total{type=\"login\",code=\"UNAUTHENTICATED\"} 1\n"
            "# HELP tmc_live_sessions Sessions.\n"
            "# TYPE tmc_live_sessions gauge\n"
            "tmc_live_sessions 2\n"
            "# HELP tmc_request_duration_seconds Latency.\n"
            "# TYPE tmc_request_duration_seconds histogram\n"
            "tmc_request_duration_seconds_bucket{le=\"0.125\"} 2\n"
            "tmc_request_duration_seconds_bucket{le=\"1\"} 2\n"
            "tmc_request_duration_seconds_bucket{le=\"+Inf\"} 3\n"
            "tmc_request_duration_seconds_sum 4.1875\n"
            "tmc_request_duration_seconds_count 3\n");
  EXPECT_TRUE(testing::exposition::parse(registry.expose()).problems.empty());
}

TEST(MetricsRegistry, EscapesLabelValuesAndHelp) {
  Registry registry;
  registry.counter_family("tmc_odd_total", "Back\\slash\nnewline.", {"v"})
      .with({"a\"b\\c\nd"})
      .add();
  const auto text = registry.expose();
  EXPECT_NE(text.find("# HELP tmc_odd_total Back\\\\slash\\nnewline.\n"), std::string::npos);
  EXPECT_NE(text.find("tmc_odd_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos);
  const auto parsed = testing::exposition::parse(text);
  EXPECT_TRUE(parsed.problems.empty());
  EXPECT_EQ(parsed.value("tmc_odd_total", {{"v", "a\"b\\c\nd"}}), 1.0);
}

TEST(MetricsRegistry, CallbackMetricsAreReadAtScrapeTime) {
  Registry registry;
  int calls = 0;
  registry.callback("tmc_things", "Things.", Type::gauge, {"kind"}, [&] {
    ++calls;
    return std::vector<Sample>{{{"a"}, 1.5}, {{"b"}, 0}};
  });
  EXPECT_EQ(calls, 0);
  const auto text = registry.expose();
  EXPECT_EQ(calls, 1);
  EXPECT_NE(text.find("tmc_things{kind=\"a\"} 1.5\ntmc_things{kind=\"b\"} 0\n"), std::string::npos);
}

TEST(MetricsRegistry, RefusesBadRegistrations) {
  Registry registry;
  registry.counter("tmc_a_total", "A.");
  EXPECT_THROW(registry.counter("tmc_a_total", "again"), std::invalid_argument);
  EXPECT_THROW(registry.gauge("9lives", "digit first"), std::invalid_argument);
  EXPECT_THROW(registry.counter_family("tmc_b_total", "B.", {"bad-label"}), std::invalid_argument);
  EXPECT_THROW(registry.counter_family("tmc_c_total", "C.", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(registry.histogram_family("tmc_d_seconds", "D.", {"le"}, {1}),
               std::invalid_argument);
  EXPECT_THROW(registry.histogram("tmc_e_seconds", "E.", {1, 1}), std::invalid_argument);
  auto& family = registry.counter_family("tmc_f_total", "F.", {"x"});
  EXPECT_THROW(family.with({}), std::invalid_argument);
}

TEST(MetricsRegistry, ConcurrentRecordingLosesNothing) {
  Registry registry;
  auto& counter = registry.counter_family("tmc_hits_total", "Hits.", {"t"});
  auto& histogram = registry.histogram("tmc_work_seconds", "Work.", latency_buckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        counter.with({std::to_string(t % 2)}).add();
        histogram.observe(0.001 * (i % 7));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter.with({"0"}).value() + counter.with({"1"}).value(), 40000u);
  const auto snapshot = histogram.snapshot();
  EXPECT_EQ(snapshot.count, 40000u);
  EXPECT_EQ(snapshot.cumulative.back(), 40000u);
}

TEST(MetricsRegistry, FormatsSpecialValues) {
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(1e21), "1e+21");
}

}  // namespace
}  // namespace tmc::metrics
