// Output helpers of tmc-client: aligned text tables, JSON, enum labels, status lines.
#pragma once

#include <google/protobuf/message.h>

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "telemed/v1/status.pb.h"

namespace tmc::cli {

// A text table: columns padded to their widest cell (counted in code points), two spaces apart.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void add_row(std::vector<std::string> cells);  // missing cells print empty
  void print(std::ostream& out) const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// The message as pretty-printed JSON with the .proto field names, then a newline.
void print_json(std::ostream& out, const google::protobuf::Message& message);

// An enum value name without its type prefix, lower case, words separated by spaces:
// enum_label("ORGANIZATION_KIND_COUNTY_HOSPITAL", "ORGANIZATION_KIND_") == "county hospital".
std::string enum_label(std::string_view name, std::string_view prefix);

// "CODE_NAME: message" (PERMISSION_DENIED: not a participant).
std::string describe_status(const telemed::v1::Status& status);

// Items joined with separator.
std::string join(const std::vector<std::string>& items, std::string_view separator);

}  // namespace tmc::cli
