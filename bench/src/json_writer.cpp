// JSON writer: escaping and separators.
#include "json_writer.hpp"

#include <cmath>
#include <cstdio>

namespace tmc::bench {

void JsonWriter::quoted(std::string_view text) {
  out_ += '"';
  for (const char c : text) {
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\n': out_ += "\\n"; break;
      case '\t': out_ += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          out_ += escaped;
        } else {
          out_ += c;
        }
    }
  }
  out_ += '"';
}

void JsonWriter::prefix(std::string_view key) {
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
  if (!key.empty()) {
    quoted(key);
    out_ += ':';
  }
}

JsonWriter& JsonWriter::begin_object(std::string_view key) {
  prefix(key);
  out_ += '{';
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  out_ += '}';
  first_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::begin_array(std::string_view key) {
  prefix(key);
  out_ += '[';
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  out_ += ']';
  first_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::number(std::string_view key, double value) {
  prefix(key);
  if (!std::isfinite(value)) {
    out_ += "null";
  } else {
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", value);
    out_ += text;
  }
  return *this;
}

JsonWriter& JsonWriter::integer(std::string_view key, long long value) {
  prefix(key);
  out_ += std::to_string(value);
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view key, std::string_view value) {
  prefix(key);
  quoted(value);
  return *this;
}

JsonWriter& JsonWriter::boolean(std::string_view key, bool value) {
  prefix(key);
  out_ += value ? "true" : "false";
  return *this;
}

}  // namespace tmc::bench
