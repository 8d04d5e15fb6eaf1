// Prometheus metrics: counters, gauges, fixed-bucket histograms with labels; text exposition.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tmc::metrics {

// Label values, in the order of the family's label names.
using LabelValues = std::vector<std::string>;

// A monotonic count. Thread-safe.
class Counter {
 public:
  void add(std::uint64_t amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down. Thread-safe.
class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, +Inf implied), with sum and count.
// Thread-safe; a scrape concurrent with observe() may see the count one observation apart from
// the buckets, which Prometheus tolerates.
class Histogram {
 public:
  // bounds: strictly increasing finite upper bounds. Throws std::invalid_argument otherwise.
  explicit Histogram(std::vector<double> bounds);

  void observe(double value);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bucket, last is +Inf
  std::atomic<double> sum_{0};
};

// Request latency buckets in seconds (0.5 ms .. 10 s).
std::vector<double> latency_buckets();

// One sample of a metric whose value is read at scrape time.
struct Sample {
  LabelValues labels;
  double value = 0;
};

enum class Type { counter, gauge, histogram };

// Metrics of one name that differ by label values. Children are created on first use and live
// as long as the family; references returned by with() stay valid. Thread-safe.
template <class Metric>
class Family {
 public:
  Family(std::size_t label_count, std::function<std::unique_ptr<Metric>()> make)
      : label_count_(label_count), make_(std::move(make)) {}

  // Throws std::invalid_argument when the number of values does not match the label names.
  Metric& with(const LabelValues& values);

  // Calls fn(values, metric) for every child, in label-value order.
  void for_each(const std::function<void(const LabelValues&, const Metric&)>& fn) const;

 private:
  std::size_t label_count_;
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mutex_;
  std::map<LabelValues, std::unique_ptr<Metric>> children_;
};

// The set of metrics one process exposes. Registration happens at start-up: it throws
// std::invalid_argument for an invalid or duplicate name, an invalid label name, or "le" on a
// histogram. Recording and expose() are thread-safe; registration must not race with expose().
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& counter(const std::string& name, const std::string& help);
  Gauge& gauge(const std::string& name, const std::string& help);
  Histogram& histogram(const std::string& name, const std::string& help,
                       std::vector<double> bounds);
  Family<Counter>& counter_family(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names);
  Family<Gauge>& gauge_family(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names);
  Family<Histogram>& histogram_family(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> bounds);

  // A counter or gauge whose samples are read by read() at each scrape. read runs on the
  // scraping thread (an io thread): it must be quick and must not block.
  void callback(const std::string& name, const std::string& help, Type type,
                std::vector<std::string> label_names, std::function<std::vector<Sample>()> read);

  // Prometheus text exposition format 0.0.4: HELP and TYPE lines, then the samples, for every
  // metric in registration order.
  std::string expose() const;

  struct Entry;

 private:
  Entry& add(const std::string& name, const std::string& help, Type type,
             std::vector<std::string> label_names);

  std::vector<std::unique_ptr<Entry>> entries_;
};

// Text helpers of the exposition format (exposed for tests).
std::string escape_label_value(const std::string& value);
std::string format_value(double value);  // shortest round-trip form; +Inf, -Inf, NaN

}  // namespace tmc::metrics
