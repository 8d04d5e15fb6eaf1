// HTTP routing for the TLS port without I/O: which response to send, or whether to upgrade.
#include "net/http_routes.hpp"

#include <algorithm>

namespace tmc::net {
namespace {

constexpr std::string_view plain_text = "text/plain; charset=utf-8";
constexpr std::string_view prometheus_text = "text/plain; version=0.0.4; charset=utf-8";

HttpRoute respond(unsigned status, std::string_view content_type, std::string body) {
  return HttpRoute{false, status, std::string(content_type), std::move(body)};
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

bool iequals(std::string_view a, std::string_view b) {
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) {
           return lower(x) == lower(y);
         });
}

HttpRoute route_upgrade(const HttpRequestFacts& request,
                        const std::vector<std::string>& allowed_origins) {
  if (request.has_origin && !origin_allowed(request.origin, allowed_origins)) {
    return respond(403, plain_text, "origin not allowed\n");
  }
  if (!header_list_contains(request.subprotocols, websocket_subprotocol)) {
    return respond(400, plain_text, "subprotocol telemed.v1 required\n");
  }
  return HttpRoute{true, 101, {}, {}};
}

}  // namespace

bool header_list_contains(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (trim(list.substr(0, comma)) == token) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool origin_allowed(std::string_view origin, const std::vector<std::string>& allowed) {
  return allowed.empty() || std::any_of(allowed.begin(), allowed.end(), [&](const auto& entry) {
           return iequals(entry, origin);
         });
}

HttpRoute route_http_request(const HttpRequestFacts& request,
                             const std::vector<std::string>& allowed_origins,
                             const api::Handler& handler) {
  const std::string_view path = request.target.substr(0, request.target.find('?'));
  const bool get = request.method == "GET";
  if (path == websocket_target) {
    if (get && request.websocket_upgrade) return route_upgrade(request, allowed_origins);
    if (get) return respond(426, plain_text, "websocket upgrade required\n");
    return respond(405, plain_text, "method not allowed\n");
  }
  if (path != "/healthz" && path != "/readyz" && path != "/metrics") {
    return respond(404, plain_text, "not found\n");
  }
  if (!get) return respond(405, plain_text, "method not allowed\n");
  if (path == "/healthz") return respond(200, plain_text, "ok\n");
  if (path == "/readyz") {
    return handler.ready() ? respond(200, plain_text, "ready\n")
                           : respond(503, plain_text, "not ready\n");
  }
  return respond(200, prometheus_text, handler.metrics_text());
}

}  // namespace tmc::net
