// Conversions between wire messages (telemed.v1) and domain records; the only place both meet.
#pragma once

#include <google/protobuf/timestamp.pb.h>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "domain/consultation_service.hpp"
#include "store/model.hpp"
#include "telemed/v1/case_file.pb.h"
#include "telemed/v1/consultation.pb.h"
#include "telemed/v1/events.pb.h"
#include "telemed/v1/messaging.pb.h"
#include "telemed/v1/directory.pb.h"
#include "telemed/v1/frames.pb.h"

namespace tmc::api {

namespace v1 = ::telemed::v1;

google::protobuf::Timestamp to_proto(TimePoint time);
TimePoint from_proto(const google::protobuf::Timestamp& time);

v1::Role to_proto(store::Role role);
v1::OrganizationKind to_proto(store::OrganizationKind kind);
void to_proto(const store::User& user, v1::User* out);
void to_proto(const store::Organization& organization, v1::Organization* out);
void to_proto(const store::Pairing& pairing, v1::Pairing* out);

void to_proto(const domain::ConsultationView& view, v1::Consultation* out);
// Metadata only: the key material and storage names of a case file never leave the server.
void to_proto(const store::CaseFile& file, v1::CaseFile* out);
void to_proto(const domain::LogEntry& entry, v1::LogEntry* out);
void to_proto(const domain::MessageBody& body, v1::MessageBody* out);
domain::MessageBody from_proto(const v1::MessageBody& body);
domain::Report from_proto(const v1::Report& report);
domain::OpenConsultation from_proto(const v1::OpenConsultationRequest& request);
store::ConsultationState from_proto(v1::ConsultationState state);
// Scheduling.
void to_proto(const store::SlotRecord& slot, v1::Slot* out);
void to_proto(const store::Appointment& appointment, v1::Appointment* out);
// The wire event for a domain notification.
v1::Event to_event(const domain::Notification& notification);

v1::Code to_proto(Code code);
// Fills response.status from an expected failure.
void set_error(v1::Response& response, const Error& error);

// The canonical upper-case name of a code, e.g. "PERMISSION_DENIED".
std::string code_name(Code code);

}  // namespace tmc::api
