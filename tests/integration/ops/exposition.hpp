// A strict reader of the Prometheus text exposition format, for tests of GET /metrics.
#pragma once

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace tmc::testing::exposition {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Parsed {
  std::map<std::string, std::string> types;  // family -> counter | gauge | histogram
  std::map<std::string, std::string> help;
  std::vector<Sample> samples;
  std::vector<std::string> problems;  // empty when the text is well-formed

  // Value of the sample with exactly these labels, if present.
  std::optional<double> value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& sample : samples) {
      if (sample.name == name && sample.labels == labels) return sample.value;
    }
    return std::nullopt;
  }
};

inline bool metric_name(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != ':') return false;
  }
  return true;
}

inline std::optional<double> parse_value(const std::string& text) {
  if (text == "+Inf") return HUGE_VAL;
  if (text == "-Inf") return -HUGE_VAL;
  if (text == "NaN") return NAN;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) return std::nullopt;
  return value;
}

// Parses `{a="x",b="y\"z"}` starting at text[pos] == '{'; advances pos past '}'.
inline bool parse_labels(const std::string& text, std::size_t& pos,
                         std::map<std::string, std::string>& labels) {
  ++pos;
  while (pos < text.size() && text[pos] != '}') {
    const auto eq = text.find('=', pos);
    if (eq == std::string::npos) return false;
    const auto name = text.substr(pos, eq - pos);
    if (!metric_name(name) || name.find(':') != std::string::npos) return false;
    pos = eq + 1;
    if (pos >= text.size() || text[pos] != '"') return false;
    ++pos;
    std::string value;
    for (;; ++pos) {
      if (pos >= text.size()) return false;
      const char ch = text[pos];
      if (ch == '"') break;
      if (ch == '\\') {
        if (++pos >= text.size()) return false;
        const char escaped = text[pos];
        if (escaped == 'n') value += '\n';
        else if (escaped == '\\' || escaped == '"') value += escaped;
        else return false;
      } else {
        value += ch;
      }
    }
    ++pos;  // closing quote
    if (!labels.emplace(name, value).second) return false;
    if (pos < text.size() && text[pos] == ',') ++pos;
  }
  if (pos >= text.size()) return false;
  ++pos;
  return true;
}

// The family a sample belongs to (histogram series have suffixes).
inline std::string family_of(const std::string& name,
                             const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const auto base = name.substr(0, name.size() - s.size());
      auto found = types.find(base);
      if (found != types.end() && found->second == "histogram") return base;
    }
  }
  return name;
}

inline Parsed parse(const std::string& text) {
  Parsed parsed;
  auto problem = [&](const std::string& line, const std::string& what) {
    parsed.problems.push_back(what + ": '" + line + "'");
  };
  if (!text.empty() && text.back() != '\n') parsed.problems.push_back("no final newline");
  std::istringstream lines(text);
  std::string line;
  std::set<std::string> families_with_samples;
  std::string current;  // family of the last TYPE line
  while (std::getline(lines, line)) {
    if (line.empty()) {
      problem(line, "empty line");
      continue;
    }
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, keyword, name;
      words >> hash >> keyword >> name;
      if (keyword == "HELP") {
        if (!metric_name(name) || parsed.help.count(name)) problem(line, "bad or repeated HELP");
        std::string rest;
        std::getline(words, rest);
        parsed.help[name] = rest.empty() ? rest : rest.substr(1);
      } else if (keyword == "TYPE") {
        std::string type;
        words >> type;
        if (type != "counter" && type != "gauge" && type != "histogram") {
          problem(line, "unknown type");
        }
        if (parsed.types.count(name) || families_with_samples.count(name)) {
          problem(line, "TYPE repeated or after samples");
        }
        if (!parsed.help.count(name)) problem(line, "TYPE without HELP before it");
        parsed.types[name] = type;
        current = name;
      }
      continue;
    }
    Sample sample;
    std::size_t pos = 0;
    while (pos < line.size() && line[pos] != '{' && line[pos] != ' ') ++pos;
    sample.name = line.substr(0, pos);
    if (!metric_name(sample.name)) {
      problem(line, "bad metric name");
      continue;
    }
    if (pos < line.size() && line[pos] == '{' && !parse_labels(line, pos, sample.labels)) {
      problem(line, "bad labels");
      continue;
    }
    if (pos >= line.size() || line[pos] != ' ') {
      problem(line, "no value");
      continue;
    }
    const auto value = parse_value(line.substr(pos + 1));
    if (!value) {
      problem(line, "bad value");
      continue;
    }
    sample.value = *value;
    const auto family = family_of(sample.name, parsed.types);
    if (family != current) problem(line, "sample outside its family's block");
    families_with_samples.insert(family);
    parsed.samples.push_back(sample);
  }

  // Conventions and histogram invariants.
  for (const auto& [name, type] : parsed.types) {
    if (name.rfind("tmc_", 0) != 0) parsed.problems.push_back(name + ": no tmc_ prefix");
    const bool total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
    if ((type == "counter") != total) {
      parsed.problems.push_back(name + ": counters and only counters end in _total");
    }
    if (type != "histogram") continue;
    // Per label set (without le): buckets ascending in le, cumulative, ending in +Inf == count.
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
    std::map<std::map<std::string, std::string>, double> counts, sums;
    for (const auto& sample : parsed.samples) {
      auto labels = sample.labels;
      if (sample.name == name + "_bucket") {
        const auto le = labels.find("le");
        if (le == labels.end()) {
          parsed.problems.push_back(name + ": bucket without le");
          continue;
        }
        const auto bound = parse_value(le->second);
        labels.erase(le);
        buckets[labels].push_back({bound.value_or(NAN), sample.value});
      } else if (sample.name == name + "_count") {
        counts[labels] = sample.value;
      } else if (sample.name == name + "_sum") {
        sums[labels] = sample.value;
      }
    }
    for (const auto& [labels, series] : buckets) {
      for (std::size_t i = 1; i < series.size(); ++i) {
        if (!(series[i].first > series[i - 1].first) || series[i].second < series[i - 1].second) {
          parsed.problems.push_back(name + ": buckets not ascending and cumulative");
        }
      }
      if (series.empty() || !std::isinf(series.back().first)) {
        parsed.problems.push_back(name + ": no +Inf bucket");
      } else if (!counts.count(labels) || counts[labels] != series.back().second) {
        parsed.problems.push_back(name + ": _count missing or not the +Inf bucket");
      }
      if (!sums.count(labels)) parsed.problems.push_back(name + ": _sum missing");
    }
  }
  return parsed;
}

}  // namespace tmc::testing::exposition
