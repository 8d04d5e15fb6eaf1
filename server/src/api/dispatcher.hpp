// Maps each decoded request to the domain service that serves it and encodes the outcome.
#pragma once

#include <functional>
#include <memory>

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
// (post_message that is not a signal) and upload chunks. A message's write queues on the store
// without waiting for the lane's earlier ones to commit; queued writes commit in order and
// share commits. A chunk is sealed by the caller of dispatch_pipelined and written by the case
// file service's file writer while the lane's next chunk is being sealed.
bool pipelinable(const telemed::v1::ClientFrame& frame);
// The pipelinable requests cheap enough to start on an io thread (messages; chunks are sealed
// on a worker).
bool pipelinable_inline(const telemed::v1::ClientFrame& frame);

// Serves a pipelinable request without blocking on the disk: a message and its cluster events
// are written in one op of the store's group commit; a chunk is hashed and sealed here. respond
// runs exactly once, with the Response: for a message after the commit on the store's writer
// thread (the request's events are delivered to this node's sessions first), for a chunk once
// it is durable, on a file-writer thread; on the calling thread when nothing could be queued.
// respond must not block. Responses of messages started one after another, and of one
// upload's chunks, come in that order.
void dispatch_pipelined(Api& api, const domain::Caller& caller,
                        const telemed::v1::ClientFrame& frame,
                        std::function<void(telemed::v1::Response)> respond);

// Serves a login on a connection not signed in, without holding the worker while the password
// check waits for its turn (AuthService::login_async): respond runs exactly once, with the
// Response, on this thread or on a worker, after the connection's caller is set on success.
void dispatch_login(Api& api, std::shared_ptr<ApiConnection> connection,
                    const telemed::v1::ClientFrame& frame,
                    std::function<void(telemed::v1::Response)> respond);

}  // namespace tmc::api
