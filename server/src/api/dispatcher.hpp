// Maps each decoded request to the domain service that serves it and encodes the outcome.
#pragma once

#include <functional>

#include "domain/caller.hpp"
#include "telemed/v1/frames.pb.h"

namespace tmc::api {

class Api;
class ApiConnection;

// Runs on a worker thread. Always returns exactly one Response carrying the request's id; an
// unauthenticated caller gets UNAUTHENTICATED for everything but login and resume; internal
// failures answer INTERNAL without details (they are logged by id).
telemed::v1::Response dispatch(Api& api, ApiConnection& connection,
                               const telemed::v1::ClientFrame& frame);

// Requests a signed-in connection may pipeline through dispatch_pipelined: stored messages
// (post_message that is not a signal). Their writes queue on the store without waiting for the
// lane's earlier ones to commit; queued writes commit in order and share commits.
bool pipelinable(const telemed::v1::ClientFrame& frame);

// Serves a pipelinable request without blocking: its message and its cluster events are
// written in one op of the store's group commit. respond runs exactly once, with the Response,
// after the commit on the store's writer thread (the request's events are delivered to this
// node's sessions first), or on the calling thread when the store is closed. respond must not
// block. Responses of requests started one after another come in that order.
void dispatch_pipelined(Api& api, const domain::Caller& caller,
                        const telemed::v1::ClientFrame& frame,
                        std::function<void(telemed::v1::Response)> respond);

}  // namespace tmc::api
