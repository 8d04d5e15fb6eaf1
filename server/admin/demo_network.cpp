// The demo network of DOMAIN.md: county hospitals of Kashgar, Aksu and Hotan and their partners.
#include "demo_network.hpp"

#include "crypto/encoding.hpp"
#include "crypto/random.hpp"

namespace tmc::admin {
namespace {

using store::OrganizationKind;
using store::Role;

struct DemoUser {
  const char* username;
  const char* display_name;
  Role role;
  const char* organization_id;
  std::vector<std::string> specialties;
};

const std::vector<store::Organization>& demo_organizations() {
  static const std::vector<store::Organization> organizations = {
      {"bachu", "Bachu County People's Hospital", OrganizationKind::county_hospital, "Kashgar",
       "Asia/Urumqi"},
      {"yecheng", "Yecheng County People's Hospital", OrganizationKind::county_hospital,
       "Kashgar", "Asia/Urumqi"},
      {"yengisar", "Yengisar County People's Hospital", OrganizationKind::county_hospital,
       "Kashgar", "Asia/Urumqi"},
      {"wensu", "Wensu County People's Hospital", OrganizationKind::county_hospital, "Aksu",
       "Asia/Urumqi"},
      {"hotan", "Hotan County People's Hospital", OrganizationKind::county_hospital, "Hotan",
       "Asia/Urumqi"},
      {"shanghai", "Shanghai Partner Hospital", OrganizationKind::partner_hospital, "Shanghai",
       "Asia/Shanghai"},
      {"jining", "Jining Partner Hospital", OrganizationKind::partner_hospital,
       "Jining, Shandong", "Asia/Shanghai"},
      {"jinhua", "Jinhua Partner Hospital", OrganizationKind::partner_hospital,
       "Jinhua, Zhejiang", "Asia/Shanghai"},
      {"beijing", "Beijing Partner Hospital", OrganizationKind::partner_hospital, "Beijing",
       "Asia/Shanghai"},
  };
  return organizations;
}

const std::vector<store::Pairing>& demo_pairings() {
  static const std::vector<store::Pairing> pairings = {
      {"bachu", "shanghai"}, {"yecheng", "shanghai"}, {"yengisar", "jining"},
      {"wensu", "jinhua"},   {"hotan", "beijing"},
  };
  return pairings;
}

const std::vector<DemoUser>& demo_users() {
  static const std::vector<DemoUser> users = {
      {"bachu.clinician", "Dr. Aynur Tursun", Role::clinician, "bachu", {}},
      {"bachu.coordinator", "Gulnar Abdukerim", Role::coordinator, "bachu", {}},
      {"yecheng.clinician", "Dr. Mirzat Ehmet", Role::clinician, "yecheng", {}},
      {"yecheng.coordinator", "Patigul Rozi", Role::coordinator, "yecheng", {}},
      {"yengisar.clinician", "Dr. Abdulla Yasin", Role::clinician, "yengisar", {}},
      {"yengisar.coordinator", "Mehriban Qasim", Role::coordinator, "yengisar", {}},
      {"wensu.clinician", "Dr. Dilnur Hoshur", Role::clinician, "wensu", {}},
      {"wensu.coordinator", "Zulpiye Mamut", Role::coordinator, "wensu", {}},
      {"hotan.clinician", "Dr. Erkin Niyaz", Role::clinician, "hotan", {}},
      {"hotan.coordinator", "Ayshem Tohti", Role::coordinator, "hotan", {}},
      {"shanghai.ortho", "Dr. Chen Wei", Role::specialist, "shanghai",
       {"orthopedics", "radiology"}},
      {"shanghai.cardio", "Dr. Zhou Min", Role::specialist, "shanghai",
       {"pediatric cardiology", "cardiology"}},
      {"shanghai.coordinator", "Wang Li", Role::coordinator, "shanghai", {}},
      {"jining.eye1", "Dr. Kong Jie", Role::specialist, "jining", {"ophthalmology"}},
      {"jining.eye2", "Dr. Meng Hua", Role::specialist, "jining", {"ophthalmology", "radiology"}},
      {"jining.coordinator", "Sun Yan", Role::coordinator, "jining", {}},
      {"jinhua.cardio", "Dr. Lou Ping", Role::specialist, "jinhua", {"cardiology", "orthopedics"}},
      {"jinhua.eye", "Dr. Wu Qing", Role::specialist, "jinhua", {"ophthalmology", "radiology"}},
      {"jinhua.coordinator", "Hu Jing", Role::coordinator, "jinhua", {}},
      {"beijing.cardio", "Dr. Li Na", Role::specialist, "beijing",
       {"pediatric cardiology", "cardiology"}},
      {"beijing.ortho", "Dr. Zhang Tao", Role::specialist, "beijing", {"orthopedics", "radiology"}},
      {"beijing.coordinator", "Zhao Lei", Role::coordinator, "beijing", {}},
      {"admin", "Network Administrator", Role::admin, "shanghai", {}},
  };
  return users;
}

const char* role_name(Role role) {
  switch (role) {
    case Role::clinician: return "clinician";
    case Role::specialist: return "specialist";
    case Role::coordinator: return "coordinator";
    case Role::admin: return "admin";
    default: return "unspecified";
  }
}

}  // namespace

Result<std::vector<DemoLogin>> seed_demo_network(domain::DirectoryService& directory,
                                                 const domain::AuthService& auth) {
  for (const auto& organization : demo_organizations()) {
    if (auto status = directory.add_organization(organization); !status) return status.error();
  }
  for (const auto& pairing : demo_pairings()) {
    if (auto status = directory.add_pairing(pairing.county_organization_id,
                                            pairing.partner_organization_id);
        !status) {
      return status.error();
    }
  }
  std::vector<DemoLogin> logins;
  for (const auto& demo : demo_users()) {
    const auto password = crypto::base64url_encode(crypto::random_bytes(12));
    domain::NewUser user{demo.username, demo.display_name, demo.role, demo.organization_id,
                         demo.specialties};
    auto created = directory.add_user(user, auth.hash_password(password));
    if (!created) return created.error();
    logins.push_back({demo.username, password, role_name(demo.role), demo.organization_id});
  }
  return logins;
}

}  // namespace tmc::admin
