// Maps each decoded request to the domain service that serves it and encodes the outcome.
#pragma once

#include "telemed/v1/frames.pb.h"

namespace tmc::api {

class Api;
class ApiConnection;

// Runs on a worker thread. Always returns exactly one Response carrying the request's id; an
// unauthenticated caller gets UNAUTHENTICATED for everything but login and resume; internal
// failures answer INTERNAL without details (they are logged by id).
telemed::v1::Response dispatch(Api& api, ApiConnection& connection,
                               const telemed::v1::ClientFrame& frame);

}  // namespace tmc::api
