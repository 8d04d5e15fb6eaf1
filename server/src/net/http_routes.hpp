// HTTP routing for the TLS port without I/O: which response to send, or whether to upgrade.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/transport.hpp"

namespace tmc::net {

// The WebSocket subprotocol every client must offer.
inline constexpr std::string_view websocket_subprotocol = "telemed.v1";
inline constexpr std::string_view websocket_target = "/v1/ws";

// What the router needs to know about one request (views into the parsed request).
struct HttpRequestFacts {
  std::string_view method;           // e.g. "GET"
  std::string_view target;           // origin-form, may carry a query
  bool websocket_upgrade = false;    // Connection: upgrade + Upgrade: websocket
  std::string_view subprotocols;     // Sec-WebSocket-Protocol values joined by ','
  bool has_origin = false;
  std::string_view origin;
};

struct HttpRoute {
  bool upgrade = false;      // accept the WebSocket upgrade; the fields below are unused
  unsigned status = 404;
  std::string content_type;  // with status: the plain response to send
  std::string body;
};

// GET /healthz -> 200 "ok\n"; GET /readyz -> 200 or 503 from handler.ready(); GET /metrics ->
// 200 Prometheus text from handler.metrics_text(); an upgrade on /v1/ws: Origin not allowed ->
// 403, "telemed.v1" not offered -> 400, otherwise upgrade; /v1/ws without upgrade -> 426; a
// known path with another method -> 405; anything else -> 404. Calls the handler on this thread.
HttpRoute route_http_request(const HttpRequestFacts& request,
                             const std::vector<std::string>& allowed_origins,
                             const api::Handler& handler);

// True when the comma-separated token list contains token (surrounding spaces ignored).
bool header_list_contains(std::string_view list, std::string_view token);

// True when allowed is empty or holds origin (ASCII case-insensitive).
bool origin_allowed(std::string_view origin, const std::vector<std::string>& allowed);

}  // namespace tmc::net
