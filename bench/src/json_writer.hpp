// A small streaming JSON writer for the benchmark results (objects, arrays, numbers, strings).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tmc::bench {

// Builds a JSON document in a string. Commas are inserted automatically; keys are only valid
// inside objects. Non-finite numbers are written as null.
class JsonWriter {
 public:
  JsonWriter& begin_object(std::string_view key = {});
  JsonWriter& end_object();
  JsonWriter& begin_array(std::string_view key = {});
  JsonWriter& end_array();
  JsonWriter& number(std::string_view key, double value);
  JsonWriter& integer(std::string_view key, long long value);
  JsonWriter& string(std::string_view key, std::string_view value);
  JsonWriter& boolean(std::string_view key, bool value);

  const std::string& text() const { return out_; }

 private:
  void prefix(std::string_view key);
  void quoted(std::string_view text);

  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written in it yet
};

}  // namespace tmc::bench
