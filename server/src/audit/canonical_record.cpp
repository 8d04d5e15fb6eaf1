// Canonical encoding of an audit record: the exact bytes that become a Merkle leaf.
#include "audit/canonical_record.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>

#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"

namespace tmc::audit {
namespace {

void append_field(std::string& out, const char* key, std::string_view value) {
  out += ",\"";
  out += key;
  out += "\":";
  append_json_string(out, value);
}

// Parses exactly `digits` decimal digits at text[pos]; advances pos past them.
std::optional<int> read_number(std::string_view text, std::size_t& pos, std::size_t digits) {
  if (pos + digits > text.size()) return std::nullopt;
  int value = 0;
  const auto* begin = text.data() + pos;
  const auto [end, error] = std::from_chars(begin, begin + digits, value);
  if (error != std::errc() || end != begin + digits) return std::nullopt;
  pos += digits;
  return value;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

// Reads a JSON string literal as append_json_string writes it.
std::optional<std::string> read_string(std::string_view text, std::size_t& pos) {
  if (!expect(text, pos, '"')) return std::nullopt;
  std::string value;
  while (pos < text.size()) {
    const char c = text[pos++];
    if (c == '"') return value;
    if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;
    if (c != '\\') {
      value += c;
      continue;
    }
    if (pos >= text.size()) return std::nullopt;
    switch (text[pos++]) {
      case '"': value += '"'; break;
      case '\\': value += '\\'; break;
      case 'b': value += '\b'; break;
      case 'f': value += '\f'; break;
      case 'n': value += '\n'; break;
      case 'r': value += '\r'; break;
      case 't': value += '\t'; break;
      case 'u': {
        unsigned code = 0;
        if (pos + 4 > text.size()) return std::nullopt;
        const auto* digits = text.data() + pos;
        const auto [end, error] = std::from_chars(digits, digits + 4, code, 16);
        if (error != std::errc() || end != digits + 4 || code >= 0x20) {
          return std::nullopt;
        }
        pos += 4;
        value += static_cast<char>(code);
        break;
      }
      default: return std::nullopt;
    }
  }
  return std::nullopt;
}

// Expects `,"key":` (or `"key":` when first) at pos.
bool expect_key(std::string_view text, std::size_t& pos, std::string_view key, bool first = false) {
  if (!first && !expect(text, pos, ',')) return false;
  const auto quoted = "\"" + std::string(key) + "\":";
  if (text.substr(pos, quoted.size()) != quoted) return false;
  pos += quoted.size();
  return true;
}

std::optional<std::int64_t> read_integer(std::string_view text, std::size_t& pos) {
  std::int64_t value = 0;
  const auto* begin = text.data() + pos;
  const auto [end, error] = std::from_chars(begin, text.data() + text.size(), value);
  if (error != std::errc() || end == begin) return std::nullopt;
  pos += static_cast<std::size_t>(end - begin);
  return value;
}

// Reads `,"key":"value"` into out.
bool read_field(std::string_view text, std::size_t& pos, std::string_view key, std::string& out) {
  if (!expect_key(text, pos, key)) return false;
  auto value = read_string(text, pos);
  if (!value) return false;
  out = std::move(*value);
  return true;
}

}  // namespace

std::optional<DecodedRecord> decode_record(std::string_view line) {
  DecodedRecord record;
  std::size_t pos = 0;
  if (!expect(line, pos, '{') || !expect_key(line, pos, "v", true) || !expect(line, pos, '1') ||
      !expect_key(line, pos, "index")) {
    return std::nullopt;
  }
  const auto index = read_integer(line, pos);
  if (!index) return std::nullopt;
  record.index = *index;
  if (!read_field(line, pos, "prev", record.previous_leaf_hash_hex) ||
      !read_field(line, pos, "time", record.time) ||
      !read_field(line, pos, "actor", record.actor) ||
      !read_field(line, pos, "org", record.organization) ||
      !read_field(line, pos, "action", record.action) ||
      !read_field(line, pos, "outcome", record.outcome) || !expect_key(line, pos, "objects") ||
      !expect(line, pos, '[')) {
    return std::nullopt;
  }
  if (!expect(line, pos, ']')) {
    do {
      auto object = read_string(line, pos);
      if (!object) return std::nullopt;
      record.objects.push_back(std::move(*object));
    } while (expect(line, pos, ','));
    if (!expect(line, pos, ']')) return std::nullopt;
  }
  if (!read_field(line, pos, "patient_ref", record.patient_reference) ||
      !read_field(line, pos, "remote", record.remote) || !expect(line, pos, '}') ||
      pos != line.size()) {
    return std::nullopt;
  }
  return record;
}

std::string zero_hash() { return std::string(crypto::sha256_size, '\0'); }

const char* outcome_name(domain::AuditOutcome outcome) {
  switch (outcome) {
    case domain::AuditOutcome::success: return "success";
    case domain::AuditOutcome::denied: return "denied";
    case domain::AuditOutcome::failed: return "failed";
  }
  return "unknown";
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string record_header(std::int64_t index, std::string_view previous_leaf_hash) {
  std::string out = "{\"v\":1,\"index\":";
  out += std::to_string(index);
  out += ",\"prev\":\"";
  out += crypto::hex_encode(previous_leaf_hash);
  out += "\",";
  return out;
}

std::string encode_record(std::int64_t index, std::string_view previous_leaf_hash,
                          TimePoint time, const domain::AuditEvent& event) {
  std::string out = record_header(index, previous_leaf_hash);
  out += "\"time\":\"" + format_utc(time) + "\"";
  append_field(out, "actor", event.actor_id);
  append_field(out, "org", event.organization_id);
  append_field(out, "action", event.action);
  append_field(out, "outcome", outcome_name(event.outcome));
  out += ",\"objects\":[";
  for (std::size_t i = 0; i < event.object_ids.size(); ++i) {
    if (i != 0) out += ',';
    append_json_string(out, event.object_ids[i]);
  }
  out += ']';
  append_field(out, "patient_ref", event.patient_reference);
  append_field(out, "remote", event.remote_address);
  out += '}';
  return out;
}

std::string format_utc(TimePoint time) {
  using namespace std::chrono;
  const auto day = floor<days>(time);
  const year_month_day date(day);
  const hh_mm_ss clock(time - day);
  const int year_number = static_cast<int>(date.year());
  if (year_number < 0 || year_number > 9999) {  // what %04d gives them; never a real record's
    char text[48];
    std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ", year_number,
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                  static_cast<int>(clock.hours().count()),
                  static_cast<int>(clock.minutes().count()),
                  static_cast<int>(clock.seconds().count()),
                  static_cast<long long>(clock.subseconds().count()));
    return text;
  }
  // Every audit record carries one: written digit by digit, not through snprintf (1% of the
  // store writer's time under load).
  std::string text = "0000-00-00T00:00:00.000000Z";
  const auto put = [&](std::size_t at, std::size_t width, long long value) {
    for (std::size_t i = width; i-- > 0; value /= 10) {
      text[at + i] = static_cast<char>('0' + value % 10);
    }
  };
  put(0, 4, year_number);
  put(5, 2, static_cast<unsigned>(date.month()));
  put(8, 2, static_cast<unsigned>(date.day()));
  put(11, 2, clock.hours().count());
  put(14, 2, clock.minutes().count());
  put(17, 2, clock.seconds().count());
  put(20, 6, clock.subseconds().count());
  return text;
}

std::optional<TimePoint> parse_utc(std::string_view text) {
  using namespace std::chrono;
  std::size_t pos = 0;
  const auto y = read_number(text, pos, 4);
  if (!y || !expect(text, pos, '-')) return std::nullopt;
  const auto mo = read_number(text, pos, 2);
  if (!mo || !expect(text, pos, '-')) return std::nullopt;
  const auto d = read_number(text, pos, 2);
  if (!d) return std::nullopt;
  const year_month_day date{year(*y), month(static_cast<unsigned>(*mo)),
                            day(static_cast<unsigned>(*d))};
  if (!date.ok()) return std::nullopt;
  microseconds offset{0};
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != ' ') return std::nullopt;
    ++pos;
    const auto h = read_number(text, pos, 2);
    if (!h || *h > 23 || !expect(text, pos, ':')) return std::nullopt;
    const auto mi = read_number(text, pos, 2);
    if (!mi || *mi > 59) return std::nullopt;
    offset = hours(*h) + minutes(*mi);
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      const auto s = read_number(text, pos, 2);
      if (!s || *s > 60) return std::nullopt;
      offset += seconds(*s);
      if (pos < text.size() && text[pos] == '.') {
        ++pos;
        std::int64_t fraction = 0;
        int digits = 0;
        for (; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, ++digits) {
          if (digits < 6) fraction = fraction * 10 + (text[pos] - '0');
        }
        if (digits == 0) return std::nullopt;
        for (; digits < 6; ++digits) fraction *= 10;
        offset += microseconds(fraction);
      }
    }
    if (pos < text.size() && text[pos] == 'Z') ++pos;
    if (pos != text.size()) return std::nullopt;
  }
  return TimePoint(sys_days(date).time_since_epoch() + offset);
}

}  // namespace tmc::audit
