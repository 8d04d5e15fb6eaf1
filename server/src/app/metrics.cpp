// Prometheus metrics: counters, gauges, fixed-bucket histograms with labels; text exposition.
#include "app/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <stdexcept>
#include <variant>

namespace tmc::metrics {
namespace {

bool valid_name(const std::string& name, bool allow_colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char ch = name[i];
    const bool letter = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
                        (allow_colon && ch == ':');
    const bool digit = ch >= '0' && ch <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

std::string escape_help(const std::string& help) {
  std::string out;
  for (char ch : help) {
    if (ch == '\\') {
      out += "\\\\";
    } else if (ch == '\n') {
      out += "\\n";
    } else {
      out += ch;
    }
  }
  return out;
}

const char* type_name(Type type) {
  switch (type) {
    case Type::counter:
      return "counter";
    case Type::gauge:
      return "gauge";
    case Type::histogram:
      return "histogram";
  }
  return "untyped";
}

// `name{a="x",b="y"} value` with an optional extra label (the histogram's le) appended.
void write_sample(std::string& out, const std::string& name, const std::vector<std::string>& names,
                  const LabelValues& values, const std::string& value,
                  const std::string& extra_label = {}, const std::string& extra_value = {}) {
  out += name;
  if (!names.empty() || !extra_label.empty()) {
    out += '{';
    bool first = true;
    auto label = [&](const std::string& label_name, const std::string& label_value) {
      if (!first) out += ',';
      first = false;
      out += label_name;
      out += "=\"";
      out += escape_label_value(label_value);
      out += '"';
    };
    for (std::size_t i = 0; i < names.size(); ++i) label(names[i], values[i]);
    if (!extra_label.empty()) label(extra_label, extra_value);
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

void write_histogram(std::string& out, const std::string& name,
                     const std::vector<std::string>& names, const LabelValues& values,
                     const Histogram& histogram) {
  const auto snapshot = histogram.snapshot();
  const auto& bounds = histogram.bounds();
  for (std::size_t i = 0; i < snapshot.cumulative.size(); ++i) {
    const std::string le = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
    write_sample(out, name + "_bucket", names, values, std::to_string(snapshot.cumulative[i]),
                 "le", le);
  }
  write_sample(out, name + "_sum", names, values, format_value(snapshot.sum));
  write_sample(out, name + "_count", names, values, std::to_string(snapshot.count));
}

}  // namespace

std::string escape_label_value(const std::string& value) {
  std::string out;
  for (char ch : value) {
    if (ch == '\\') {
      out += "\\\\";
    } else if (ch == '"') {
      out += "\\\"";
    } else if (ch == '\n') {
      out += "\\n";
    } else {
      out += ch;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc{}) return "NaN";
  return std::string(buffer, end);
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1])) {
      throw std::invalid_argument("histogram bounds must be finite and strictly increasing");
    }
  }
  buckets_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::observe(double value) {
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(running);
  }
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

template <class Metric>
Metric& Family<Metric>::with(const LabelValues& values) {
  if (values.size() != label_count_) {
    throw std::invalid_argument("metric family: wrong number of label values");
  }
  std::lock_guard lock(mutex_);
  auto& child = children_[values];
  if (!child) child = make_();
  return *child;
}

template <class Metric>
void Family<Metric>::for_each(
    const std::function<void(const LabelValues&, const Metric&)>& fn) const {
  std::lock_guard lock(mutex_);
  for (const auto& [values, metric] : children_) fn(values, *metric);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

struct Registry::Entry {
  std::string name;
  std::string help;
  Type type = Type::counter;
  std::vector<std::string> label_names;
  std::variant<std::monostate, std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>,
               std::unique_ptr<Family<Histogram>>, std::function<std::vector<Sample>()>>
      source;

  void write(std::string& out) const {
    out += "# HELP " + name + " " + escape_help(help) + "\n";
    out += "# TYPE " + name + " " + type_name(type) + "\n";
    if (const auto* counters = std::get_if<1>(&source)) {
      (*counters)->for_each([&](const LabelValues& values, const Counter& counter) {
        write_sample(out, name, label_names, values, std::to_string(counter.value()));
      });
    } else if (const auto* gauges = std::get_if<2>(&source)) {
      (*gauges)->for_each([&](const LabelValues& values, const Gauge& gauge) {
        write_sample(out, name, label_names, values, format_value(gauge.value()));
      });
    } else if (const auto* histograms = std::get_if<3>(&source)) {
      (*histograms)->for_each([&](const LabelValues& values, const Histogram& histogram) {
        write_histogram(out, name, label_names, values, histogram);
      });
    } else if (const auto* read = std::get_if<4>(&source)) {
      for (const auto& sample : (*read)()) {
        if (sample.labels.size() != label_names.size()) continue;  // a bug in read; skip it
        write_sample(out, name, label_names, sample.labels, format_value(sample.value));
      }
    }
  }
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Entry& Registry::add(const std::string& name, const std::string& help, Type type,
                               std::vector<std::string> label_names) {
  if (!valid_name(name, true)) throw std::invalid_argument("invalid metric name '" + name + "'");
  for (const auto& entry : entries_) {
    if (entry->name == name) throw std::invalid_argument("duplicate metric '" + name + "'");
  }
  std::set<std::string> seen;
  for (const auto& label : label_names) {
    if (!valid_name(label, false) || label.rfind("__", 0) == 0 || !seen.insert(label).second ||
        (type == Type::histogram && label == "le")) {
      throw std::invalid_argument("invalid label '" + label + "' of metric '" + name + "'");
    }
  }
  auto entry = std::make_unique<Entry>();
  entry->name = name;
  entry->help = help;
  entry->type = type;
  entry->label_names = std::move(label_names);
  entries_.push_back(std::move(entry));
  return *entries_.back();
}

Family<Counter>& Registry::counter_family(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names) {
  auto& entry = add(name, help, Type::counter, std::move(label_names));
  auto family = std::make_unique<Family<Counter>>(entry.label_names.size(),
                                                  [] { return std::make_unique<Counter>(); });
  auto& result = *family;
  entry.source = std::move(family);
  return result;
}

Family<Gauge>& Registry::gauge_family(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  auto& entry = add(name, help, Type::gauge, std::move(label_names));
  auto family = std::make_unique<Family<Gauge>>(entry.label_names.size(),
                                                [] { return std::make_unique<Gauge>(); });
  auto& result = *family;
  entry.source = std::move(family);
  return result;
}

Family<Histogram>& Registry::histogram_family(const std::string& name, const std::string& help,
                                              std::vector<std::string> label_names,
                                              std::vector<double> bounds) {
  Histogram check(bounds);  // validates the bounds now rather than at the first observation
  auto& entry = add(name, help, Type::histogram, std::move(label_names));
  auto family = std::make_unique<Family<Histogram>>(
      entry.label_names.size(), [bounds] { return std::make_unique<Histogram>(bounds); });
  auto& result = *family;
  entry.source = std::move(family);
  return result;
}

Counter& Registry::counter(const std::string& name, const std::string& help) {
  return counter_family(name, help, {}).with({});
}

Gauge& Registry::gauge(const std::string& name, const std::string& help) {
  return gauge_family(name, help, {}).with({});
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               std::vector<double> bounds) {
  return histogram_family(name, help, {}, std::move(bounds)).with({});
}

void Registry::callback(const std::string& name, const std::string& help, Type type,
                        std::vector<std::string> label_names,
                        std::function<std::vector<Sample>()> read) {
  if (type == Type::histogram) {
    throw std::invalid_argument("callback metric '" + name + "' must be a counter or gauge");
  }
  add(name, help, type, std::move(label_names)).source = std::move(read);
}

std::string Registry::expose() const {
  std::string out;
  for (const auto& entry : entries_) entry->write(out);
  return out;
}

}  // namespace tmc::metrics
