// Text tables, enum labels, status lines and JSON output of tmc-client.
#include "cli/output.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "telemed/v1/directory.pb.h"

namespace tmc::cli {
namespace {

TEST(Table, PadsColumnsToTheWidestCellCountingCodePoints) {
  Table table({"ID", "NAME"});
  table.add_row({"org-1", "Bachu"});
  table.add_row({"o2", "巴楚县人民医院"});  // 7 code points, 21 bytes
  table.add_row({"o3"});                    // missing cells print empty
  std::ostringstream out;
  table.print(out);
  EXPECT_EQ(out.str(),
            "ID     NAME\n"
            "org-1  Bachu\n"
            "o2     巴楚县人民医院\n"
            "o3     \n");
}

TEST(EnumLabel, StripsPrefixAndLowercases) {
  EXPECT_EQ(enum_label("ORGANIZATION_KIND_COUNTY_HOSPITAL", "ORGANIZATION_KIND_"),
            "county hospital");
  EXPECT_EQ(enum_label("ROLE_SPECIALIST", "ROLE_"), "specialist");
  EXPECT_EQ(enum_label("OTHER", "ROLE_"), "other");
}

TEST(DescribeStatus, NamesTheCodeAndMessage) {
  telemed::v1::Status status;
  status.set_code(telemed::v1::PERMISSION_DENIED);
  status.set_message("not a participant");
  EXPECT_EQ(describe_status(status), "PERMISSION_DENIED: not a participant");
  status.clear_message();
  EXPECT_EQ(describe_status(status), "PERMISSION_DENIED");
}

TEST(PrintJson, UsesProtoFieldNames) {
  telemed::v1::Organization organization;
  organization.set_id("org-1");
  organization.set_time_zone("Asia/Urumqi");
  organization.set_kind(telemed::v1::ORGANIZATION_KIND_COUNTY_HOSPITAL);
  std::ostringstream out;
  print_json(out, organization);
  EXPECT_NE(out.str().find("\"time_zone\": \"Asia/Urumqi\""), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("\"ORGANIZATION_KIND_COUNTY_HOSPITAL\""), std::string::npos);
  EXPECT_EQ(out.str().back(), '\n');
}

TEST(Join, SeparatesItems) {
  EXPECT_EQ(join({"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(join({}, ", "), "");
}

}  // namespace
}  // namespace tmc::cli
