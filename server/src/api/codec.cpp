// Conversions between wire messages (telemed.v1) and domain records; the only place both meet.
#include "api/codec.hpp"

namespace tmc::api {

google::protobuf::Timestamp to_proto(TimePoint time) {
  google::protobuf::Timestamp out;
  const auto micros = time.time_since_epoch().count();
  auto seconds = micros / 1'000'000;
  auto remainder = micros % 1'000'000;
  if (remainder < 0) {
    remainder += 1'000'000;
    --seconds;
  }
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int>(remainder * 1000));
  return out;
}

TimePoint from_proto(const google::protobuf::Timestamp& time) {
  return TimePoint(std::chrono::microseconds(time.seconds() * 1'000'000 + time.nanos() / 1000));
}

v1::Role to_proto(store::Role role) { return static_cast<v1::Role>(static_cast<int>(role)); }

v1::OrganizationKind to_proto(store::OrganizationKind kind) {
  return static_cast<v1::OrganizationKind>(static_cast<int>(kind));
}

void to_proto(const store::User& user, v1::User* out) {
  out->set_id(user.id);
  out->set_username(user.username);
  out->set_display_name(user.display_name);
  out->set_role(to_proto(user.role));
  out->set_organization_id(user.organization_id);
  for (const auto& specialty : user.specialties) out->add_specialties(specialty);
}

void to_proto(const store::Organization& organization, v1::Organization* out) {
  out->set_id(organization.id);
  out->set_name(organization.name);
  out->set_kind(to_proto(organization.kind));
  out->set_region(organization.region);
  out->set_time_zone(organization.time_zone);
}

void to_proto(const store::Pairing& pairing, v1::Pairing* out) {
  out->set_county_organization_id(pairing.county_organization_id);
  out->set_partner_organization_id(pairing.partner_organization_id);
}

v1::Code to_proto(Code code) { return static_cast<v1::Code>(static_cast<int>(code)); }

void set_error(v1::Response& response, const Error& error) {
  response.clear_result();
  response.mutable_status()->set_code(to_proto(error.code));
  response.mutable_status()->set_message(error.message);
}

std::string code_name(Code code) { return v1::Code_Name(to_proto(code)); }

}  // namespace tmc::api
