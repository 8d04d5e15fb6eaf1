// HTTP routing decisions on the TLS port, without sockets.
#include "net/http_routes.hpp"

#include <gtest/gtest.h>

namespace tmc::net {
namespace {

class FakeHandler : public api::Handler {
 public:
  std::shared_ptr<api::Connection> open(std::shared_ptr<api::Outbound>, api::PeerInfo) override {
    return nullptr;
  }
  bool ready() const override { return ready_; }
  std::string metrics_text() const override { return "tmc_up 1\n"; }
  bool ready_ = true;
};

HttpRequestFacts get(std::string_view target) {
  HttpRequestFacts facts;
  facts.method = "GET";
  facts.target = target;
  return facts;
}

HttpRequestFacts upgrade(std::string_view subprotocols) {
  HttpRequestFacts facts = get("/v1/ws");
  facts.websocket_upgrade = true;
  facts.subprotocols = subprotocols;
  return facts;
}

class HttpRoutes : public ::testing::Test {
 protected:
  HttpRoute route(const HttpRequestFacts& facts) {
    return route_http_request(facts, allowed_origins_, handler_);
  }
  FakeHandler handler_;
  std::vector<std::string> allowed_origins_;
};

TEST_F(HttpRoutes, HealthzAnswersOk) {
  const auto result = route(get("/healthz"));
  EXPECT_FALSE(result.upgrade);
  EXPECT_EQ(result.status, 200u);
  EXPECT_EQ(result.body, "ok\n");
}

TEST_F(HttpRoutes, ReadyzFollowsTheHandler) {
  EXPECT_EQ(route(get("/readyz")).status, 200u);
  handler_.ready_ = false;
  EXPECT_EQ(route(get("/readyz")).status, 503u);
}

TEST_F(HttpRoutes, MetricsUsePrometheusTextFormat) {
  const auto result = route(get("/metrics?x=1"));
  EXPECT_EQ(result.status, 200u);
  EXPECT_EQ(result.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(result.body, "tmc_up 1\n");
}

TEST_F(HttpRoutes, UnknownPathIsNotFound) {
  EXPECT_EQ(route(get("/")).status, 404u);
  EXPECT_EQ(route(get("/healthz/x")).status, 404u);
}

TEST_F(HttpRoutes, OtherMethodsOnKnownPathsAreRefused) {
  auto facts = get("/healthz");
  facts.method = "POST";
  EXPECT_EQ(route(facts).status, 405u);
}

TEST_F(HttpRoutes, UpgradeWithTheSubprotocolIsAccepted) {
  EXPECT_TRUE(route(upgrade("telemed.v1")).upgrade);
  EXPECT_TRUE(route(upgrade("chat, telemed.v1 ,other")).upgrade);
}

TEST_F(HttpRoutes, UpgradeWithoutTheSubprotocolIsBadRequest) {
  for (const auto* offered : {"", "telemed.v2", "telemed.v1x", "xtelemed.v1"}) {
    const auto result = route(upgrade(offered));
    EXPECT_FALSE(result.upgrade) << offered;
    EXPECT_EQ(result.status, 400u) << offered;
  }
}

TEST_F(HttpRoutes, UpgradeElsewhereOrPlainGetOfTheSocketIsRefused) {
  auto elsewhere = upgrade("telemed.v1");
  elsewhere.target = "/ws";
  EXPECT_EQ(route(elsewhere).status, 404u);
  EXPECT_EQ(route(get("/v1/ws")).status, 426u);
}

TEST_F(HttpRoutes, OriginIsCheckedOnlyWhenConfiguredAndPresent) {
  auto facts = upgrade("telemed.v1");
  facts.has_origin = true;
  facts.origin = "https://evil.example";
  EXPECT_TRUE(route(facts).upgrade);  // no allow-list configured

  allowed_origins_ = {"https://clinic.example"};
  EXPECT_EQ(route(facts).status, 403u);
  facts.origin = "https://CLINIC.example";
  EXPECT_TRUE(route(facts).upgrade);
  facts.has_origin = false;
  facts.origin = {};
  EXPECT_TRUE(route(facts).upgrade);  // non-browser clients send no Origin
}

TEST(HeaderList, MatchesWholeTokensOnly) {
  EXPECT_TRUE(header_list_contains("a,b", "b"));
  EXPECT_TRUE(header_list_contains(" b ", "b"));
  EXPECT_FALSE(header_list_contains("ab,bc", "b"));
  EXPECT_FALSE(header_list_contains("", "b"));
  EXPECT_FALSE(header_list_contains(",,", "b"));
}

}  // namespace
}  // namespace tmc::net
