// What a request handler gets: the api, the connection, the caller and the response to fill.
#pragma once

#include "api/api.hpp"
#include "api/codec.hpp"
#include "api/connection.hpp"
#include "telemed/v1/frames.pb.h"

namespace tmc::api {

using Frame = v1::ClientFrame;

// Handlers return an Error, or fill response's result and return ok(). They run on a worker
// thread, may block on the store, and publish notifications only after their commit.
struct Context {
  Api& api;
  ApiConnection& connection;
  const domain::Caller* caller;  // null before login/resume; handlers below route() get non-null
  v1::Response& response;
};

// Request groups, one per area; each answers UNIMPLEMENTED for requests outside its group.
Status handle_consultation(Context& ctx, const Frame& frame);
Status handle_case_file(Context& ctx, const Frame& frame);
Status handle_scheduling(Context& ctx, const Frame& frame);

}  // namespace tmc::api
