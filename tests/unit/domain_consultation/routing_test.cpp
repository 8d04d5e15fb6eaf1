// Routing policy across the demo pairing network of DOMAIN.md.
#include "domain/routing.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tmc::domain {
namespace {

using store::Organization;
using store::OrganizationKind;
using store::Pairing;
using store::Role;
using store::User;
using Ids = std::vector<std::string>;

class DemoNetwork : public ::testing::Test {
 protected:
  DemoNetwork() {
    for (const char* id : {"bachu", "yecheng", "yengisar", "wensu", "hotan"}) {
      organizations_.push_back(
          {id, id, OrganizationKind::county_hospital, "Xinjiang", "Asia/Urumqi"});
    }
    for (const char* id : {"shanghai", "jining", "jinhua", "beijing"}) {
      organizations_.push_back({id, id, OrganizationKind::partner_hospital, "", "Asia/Shanghai"});
    }
    pairings_ = {{"bachu", "shanghai"},
                 {"yecheng", "shanghai"},
                 {"yengisar", "jining"},
                 {"wensu", "jinhua"},
                 {"hotan", "beijing"}};

    // Two specialists per partner; Beijing has no orthopedist.
    add_specialist("sh-ortho", "shanghai", {"orthopedics", "radiology"});
    add_specialist("sh-eye", "shanghai", {"cardiology", "ophthalmology", "pediatric cardiology"});
    add_specialist("jn-eye1", "jining", {"ophthalmology"});
    add_specialist("jn-eye2", "jining", {"ophthalmology", "radiology"});
    add_specialist("jh-eye", "jinhua", {"ophthalmology", "orthopedics"});
    add_specialist("jh-card", "jinhua", {"cardiology"});
    add_specialist("bj-pcard", "beijing", {"cardiology", "pediatric cardiology"});
    add_specialist("bj-eye", "beijing", {"ophthalmology", "radiology"});
    // Never candidates: disabled, at a county hospital, not a specialist.
    add_specialist("jn-eye-disabled", "jining", {"ophthalmology"}).disabled = true;
    add_specialist("yc-eye", "yecheng", {"ophthalmology"});
    add_specialist("jn-coord", "jining", {"ophthalmology"}).role = Role::coordinator;
  }

  User& add_specialist(std::string id, std::string org, std::vector<std::string> specialties) {
    User user;
    user.id = std::move(id);
    user.role = Role::specialist;
    user.organization_id = std::move(org);
    user.specialties = std::move(specialties);
    specialists_.push_back(std::move(user));
    return specialists_.back();
  }

  const Organization& org(const std::string& id) const {
    for (const auto& candidate : organizations_) {
      if (candidate.id == id) return candidate;
    }
    throw std::logic_error("no organization " + id);
  }

  RoutingInput input(const std::string& county, std::string specialty) const {
    return RoutingInput{org(county), std::move(specialty), {},           {},
                        pairings_,   organizations_,       specialists_, false};
  }

  std::vector<Organization> organizations_;
  std::vector<Pairing> pairings_;
  std::vector<User> specialists_;
};

TEST_F(DemoNetwork, YengisarOphthalmologyReachesJiningNotShanghai) {
  auto candidates = route(input("yengisar", "ophthalmology"));
  ASSERT_TRUE(candidates.has_value()) << candidates.error().message;
  EXPECT_EQ(*candidates, (Ids{"jn-eye1", "jn-eye2"}));
}

TEST_F(DemoNetwork, BachuOrthopedicsReachesShanghai) {
  auto candidates = route(input("bachu", "orthopedics"));
  ASSERT_TRUE(candidates.has_value()) << candidates.error().message;
  EXPECT_EQ(*candidates, (Ids{"sh-ortho"}));
}

TEST_F(DemoNetwork, TargetPairedPartnerNarrows) {
  auto request = input("yecheng", "ophthalmology");
  request.target_organization_id = "shanghai";
  auto candidates = route(request);
  ASSERT_TRUE(candidates.has_value()) << candidates.error().message;
  EXPECT_EQ(*candidates, (Ids{"sh-eye"}));
}

TEST_F(DemoNetwork, TargetNotPairedIsPermissionDenied) {
  auto request = input("yengisar", "ophthalmology");
  request.target_organization_id = "shanghai";
  auto candidates = route(request);
  ASSERT_FALSE(candidates.has_value());
  EXPECT_EQ(candidates.error().code, Code::permission_denied);
  EXPECT_NE(candidates.error().message.find("not paired"), std::string::npos);
}

TEST_F(DemoNetwork, TargetCountyHospitalIsPermissionDenied) {
  auto request = input("yengisar", "ophthalmology");
  request.target_organization_id = "yecheng";
  auto candidates = route(request);
  ASSERT_FALSE(candidates.has_value());
  EXPECT_EQ(candidates.error().code, Code::permission_denied);
}

TEST_F(DemoNetwork, UnknownTargetIsNotFound) {
  auto request = input("yengisar", "ophthalmology");
  request.target_organization_id = "nowhere";
  auto candidates = route(request);
  ASSERT_FALSE(candidates.has_value());
  EXPECT_EQ(candidates.error().code, Code::not_found);
}

TEST_F(DemoNetwork, PreferredEligibleSpecialistIsTheOnlyCandidate) {
  auto request = input("yengisar", "ophthalmology");
  request.preferred_specialist_id = "jn-eye2";
  auto candidates = route(request);
  ASSERT_TRUE(candidates.has_value()) << candidates.error().message;
  EXPECT_EQ(*candidates, (Ids{"jn-eye2"}));
}

TEST_F(DemoNetwork, PreferredSpecialistOfWrongSpecialtyIsInvalid) {
  auto request = input("bachu", "orthopedics");
  request.preferred_specialist_id = "sh-eye";
  auto candidates = route(request);
  ASSERT_FALSE(candidates.has_value());
  EXPECT_EQ(candidates.error().code, Code::invalid_argument);
  EXPECT_NE(candidates.error().message.find("does not practise orthopedics"), std::string::npos);
}

TEST_F(DemoNetwork, IneligiblePreferredSpecialistsAreInvalidNeverWidened) {
  struct Case {
    const char* preferred;
    const char* target;
    const char* why;
  };
  for (const auto& c : {Case{"sh-eye", "", "paired"},  // other partner's ophthalmologist
                        Case{"jn-eye-disabled", "", "enabled"}, Case{"jn-coord", "", "enabled"},
                        Case{"nobody", "", "enabled"}, Case{"yc-eye", "", "paired"}}) {
    SCOPED_TRACE(c.preferred);
    auto request = input("yengisar", "ophthalmology");
    request.preferred_specialist_id = c.preferred;
    request.target_organization_id = c.target;
    auto candidates = route(request);
    ASSERT_FALSE(candidates.has_value());
    EXPECT_EQ(candidates.error().code, Code::invalid_argument);
    EXPECT_NE(candidates.error().message.find(c.why), std::string::npos)
        << candidates.error().message;
  }
}

TEST_F(DemoNetwork, WidenedRoutingReachesEveryPartnersOphthalmologists) {
  auto request = input("yengisar", "ophthalmology");
  request.widen = true;
  request.target_organization_id = "jining";  // the narrowing no longer applies
  auto candidates = route(request);
  ASSERT_TRUE(candidates.has_value()) << candidates.error().message;
  EXPECT_EQ(*candidates, (Ids{"bj-eye", "jh-eye", "jn-eye1", "jn-eye2", "sh-eye"}));
}

TEST_F(DemoNetwork, NoEligibleSpecialistIsAnEmptyResult) {
  auto candidates = route(input("hotan", "orthopedics"));
  ASSERT_TRUE(candidates.has_value()) << candidates.error().message;
  EXPECT_TRUE(candidates->empty());
}

TEST_F(DemoNetwork, PartnerHospitalCannotRequest) {
  auto candidates = route(input("jining", "ophthalmology"));
  ASSERT_FALSE(candidates.has_value());
  EXPECT_EQ(candidates.error().code, Code::permission_denied);
}

TEST_F(DemoNetwork, EmptySpecialtyIsInvalid) {
  auto candidates = route(input("bachu", ""));
  ASSERT_FALSE(candidates.has_value());
  EXPECT_EQ(candidates.error().code, Code::invalid_argument);
}

TEST_F(DemoNetwork, ReachablePartnersFollowPairings) {
  EXPECT_EQ(reachable_partner_ids(input("bachu", "x")), (Ids{"shanghai"}));
  auto widened = input("bachu", "x");
  widened.widen = true;
  EXPECT_EQ(reachable_partner_ids(widened), (Ids{"beijing", "jinhua", "jining", "shanghai"}));
}

}  // namespace
}  // namespace tmc::domain
