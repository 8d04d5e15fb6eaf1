// Parsing of `tmc-client schedule` subcommands into requests, local times read in a zone, and
// how slots are shown in the viewer's zone beside the specialist's.
#include "cli/schedule_args.hpp"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include "cli/schedule_view.hpp"
#include "cli/settings.hpp"

namespace tmc::cli {
namespace {

namespace v1 = telemed::v1;
using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp utc(const std::string& text) {
  google::protobuf::Timestamp time;
  EXPECT_TRUE(TimeUtil::FromString(text, &time)) << text;
  return time;
}

TEST(ScheduleArgs, WeeklyRuleInTheGivenZone) {
  const auto invocation = parse_schedule(
      {"publish", "--weekdays", "tue,thu", "--from", "14:00", "--to", "17:00", "--tz",
       "Asia/Shanghai", "--slot", "30m", "--capacity", "2", "--valid-until", "2026-12-31",
       "--specialist", "u9"});
  EXPECT_EQ(invocation.time_zone, "Asia/Shanghai");
  const auto frame = schedule_request(invocation, invocation.time_zone);
  const auto& publish = frame.publish_availability();
  EXPECT_EQ(publish.specialist_id(), "u9");
  ASSERT_EQ(publish.rules_size(), 1);
  const auto& rule = publish.rules(0);
  ASSERT_EQ(rule.weekdays_size(), 2);
  EXPECT_EQ(rule.weekdays(0), v1::WEEKDAY_TUESDAY);
  EXPECT_EQ(rule.weekdays(1), v1::WEEKDAY_THURSDAY);
  EXPECT_EQ(rule.local_start(), "14:00");
  EXPECT_EQ(rule.local_end(), "17:00");
  EXPECT_EQ(rule.time_zone(), "Asia/Shanghai");
  EXPECT_EQ(rule.slot_minutes(), 30u);
  EXPECT_EQ(rule.capacity(), 2u);
  EXPECT_EQ(rule.valid_until(), "2026-12-31");
  EXPECT_FALSE(publish.withdraw_rules());
}

TEST(ScheduleArgs, SingleSlotIsReadInTheZone) {
  const auto invocation =
      parse_schedule({"publish", "--at", "2026-12-01 12:00", "--length", "1h30m"});
  EXPECT_TRUE(invocation.time_zone.empty()) << "the caller's organisation's zone applies";
  const auto frame = schedule_request(invocation, "Asia/Urumqi");
  ASSERT_EQ(frame.publish_availability().slots_size(), 1);
  const auto& slot = frame.publish_availability().slots(0);
  EXPECT_EQ(slot.starts_at(), utc("2026-12-01T06:00:00Z"));
  EXPECT_EQ(slot.ends_at(), utc("2026-12-01T07:30:00Z"));
  EXPECT_EQ(slot.capacity(), 1u);
  EXPECT_THROW((void)schedule_request(
                   parse_schedule({"publish", "--at", "2026-02-30 12:00", "--length", "30"}),
                   "Asia/Urumqi"),
               UsageError);
}

TEST(ScheduleArgs, DatesAreWholeLocalDaysInTheViewersZone) {
  const auto invocation = parse_schedule(
      {"slots", "--specialty", "ophthalmology", "--from", "2026-12-01", "--to", "2026-12-01"});
  const auto frame = schedule_request(invocation, "Asia/Urumqi");
  const auto& list = frame.list_slots();
  EXPECT_EQ(list.specialty(), "ophthalmology");
  EXPECT_EQ(list.from(), utc("2026-11-30T18:00:00Z"));
  EXPECT_EQ(list.to(), utc("2026-12-01T18:00:00Z"));
  const auto open_ended = schedule_request(parse_schedule({"list"}), "Asia/Shanghai");
  EXPECT_FALSE(open_ended.list_appointments().has_from());
  EXPECT_FALSE(open_ended.list_appointments().has_to());
}

TEST(ScheduleArgs, OtherSubcommands) {
  const auto book = schedule_request(
      parse_schedule({"book", "slt-1", "--consultation", "c-1", "--print-id"}), "UTC");
  EXPECT_EQ(book.book_review().slot_id(), "slt-1");
  EXPECT_EQ(book.book_review().consultation_id(), "c-1");
  const auto move =
      schedule_request(parse_schedule({"reschedule", "apt-1", "--slot", "slt-2"}), "UTC");
  EXPECT_EQ(move.reschedule_appointment().new_slot_id(), "slt-2");
  const auto cancel =
      schedule_request(parse_schedule({"cancel", "apt-1", "--reason", "recovered"}), "UTC");
  EXPECT_EQ(cancel.cancel_appointment().reason(), "recovered");
  const auto withdraw = schedule_request(parse_schedule({"withdraw"}), "UTC");
  EXPECT_TRUE(withdraw.publish_availability().withdraw_rules());
  EXPECT_EQ(withdraw.publish_availability().rules_size(), 0);
}

TEST(ScheduleArgs, UsageErrors) {
  EXPECT_THROW((void)parse_schedule({}), UsageError);
  EXPECT_THROW((void)parse_schedule({"tomorrow"}), UsageError);
  EXPECT_THROW((void)parse_schedule({"slots"}), UsageError);
  EXPECT_THROW((void)parse_schedule({"list", "--tz", "Asia/Nowhere"}), UsageError);
  EXPECT_THROW((void)parse_schedule({"publish", "--weekdays", "tue", "--from", "14:00"}),
               UsageError);
  EXPECT_THROW((void)parse_schedule({"publish", "--at", "2026-12-01 12:00", "--length", "30m",
                                     "--slot", "30m"}),
               UsageError);
  EXPECT_THROW((void)parse_schedule({"book", "slt-1"}), UsageError);
}

TEST(ScheduleArgs, LengthsAndWeekdays) {
  EXPECT_EQ(parse_minutes("30m"), 30);
  EXPECT_EQ(parse_minutes("45"), 45);
  EXPECT_EQ(parse_minutes("1h"), 60);
  EXPECT_EQ(parse_minutes("1h30m"), 90);
  EXPECT_EQ(parse_minutes("90min"), 90);
  for (const char* bad : {"", "m", "0", "30s", "25h", "-5"}) {
    EXPECT_THROW((void)parse_minutes(bad), UsageError) << bad;
  }
  EXPECT_EQ(parse_weekdays("mon-fri").size(), 5u);
  const auto weekend = parse_weekdays("Sat-mon,sun");
  ASSERT_EQ(weekend.size(), 3u);
  EXPECT_EQ(weekend[0], v1::WEEKDAY_SATURDAY);
  EXPECT_EQ(weekend[2], v1::WEEKDAY_MONDAY);
  EXPECT_EQ(parse_weekdays("Tuesday").front(), v1::WEEKDAY_TUESDAY);
  EXPECT_THROW((void)parse_weekdays("tu"), UsageError);
  EXPECT_THROW((void)parse_weekdays(""), UsageError);
}

TEST(ScheduleView, ViewerZoneFirstSpecialistZoneAlongside) {
  // Tuesdays 14:00 Beijing time is 12:00 Xinjiang time.
  const auto start = utc("2026-12-01T06:00:00Z");
  const auto end = utc("2026-12-01T06:30:00Z");
  EXPECT_EQ(format_span(start, end, "Asia/Urumqi", "Asia/Shanghai"),
            "Tue 2026-12-01 12:00-12:30 Asia/Urumqi (14:00-14:30 Asia/Shanghai)");
  EXPECT_EQ(format_span(start, end, "Asia/Shanghai", "Asia/Shanghai"),
            "Tue 2026-12-01 14:00-14:30 Asia/Shanghai");
  EXPECT_EQ(format_span(start, end, "Asia/Shanghai", ""),
            "Tue 2026-12-01 14:00-14:30 Asia/Shanghai");
  // Dates appear where they change: 23:30 in Urumqi is already the next day in Shanghai.
  EXPECT_EQ(format_span(utc("2026-12-01T17:30:00Z"), utc("2026-12-01T18:30:00Z"), "Asia/Urumqi",
                        "Asia/Shanghai"),
            "Tue 2026-12-01 23:30-Wed 2026-12-02 00:30 Asia/Urumqi "
            "(Wed 2026-12-02 01:30-02:30 Asia/Shanghai)");
}

TEST(ScheduleView, DirectoryNamesSpecialistsAndTheirZones) {
  v1::ListOrganizationsResult organizations;
  auto* jining = organizations.add_organizations();
  jining->set_id("jining");
  jining->set_name("Jining Partner Hospital");
  jining->set_time_zone("Asia/Shanghai");
  v1::ListSpecialistsResult specialists;
  auto* eye = specialists.add_users();
  eye->set_id("u1");
  eye->set_display_name("Dr. Kong Jie");
  eye->set_organization_id("jining");
  const ScheduleDirectory directory(organizations, specialists);
  EXPECT_EQ(directory.specialist_zone("u1"), "Asia/Shanghai");
  EXPECT_EQ(directory.specialist_label("u1"), "Dr. Kong Jie (Jining Partner Hospital)");
  EXPECT_EQ(directory.specialist_zone("u2"), "");
  EXPECT_EQ(directory.specialist_label("u2"), "u2");
  EXPECT_EQ(directory.organization_zone("jining"), "Asia/Shanghai");
}

}  // namespace
}  // namespace tmc::cli
