// The live sessions the revocation sweep checks: each login session (token) once, for as long
// as one of its connections is signed in.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/api.hpp"
#include "api/connection.hpp"

namespace tmc::api {
namespace {

class NullOutbound : public Outbound {
 public:
  void send(std::shared_ptr<const std::string>, Lane) override {}
  void close(CloseCode, std::string) override {}
};

domain::Caller caller(const std::string& user_id, const std::string& token_hash) {
  domain::Caller out;
  out.user.id = user_id;
  out.session_token_hash = token_hash;
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  return values;
}

class LiveTokens : public ::testing::Test {
 protected:
  std::shared_ptr<ApiConnection> open() {
    auto connection = api_.open(std::make_shared<NullOutbound>(), PeerInfo{"127.0.0.1:1", "", ""});
    return std::static_pointer_cast<ApiConnection>(connection);
  }
  std::vector<std::string> live() const { return sorted(api_.live_session_token_hashes()); }

  Api api_{Services{}, ApiOptions{}};
};

TEST_F(LiveTokens, EachTokenOnceWhileOneOfItsConnectionsIsSignedIn) {
  auto phone = open();
  auto laptop = open();
  auto other = open();
  auto never_signed_in = open();
  phone->set_caller(caller("u1", "token-a"));
  laptop->set_caller(caller("u1", "token-a"));  // the same login resumed on a second device
  other->set_caller(caller("u2", "token-b"));
  EXPECT_EQ(live(), (std::vector<std::string>{"token-a", "token-b"}));

  phone->on_closed();
  EXPECT_EQ(live(), (std::vector<std::string>{"token-a", "token-b"}));
  phone->on_closed();  // told twice: counted once
  EXPECT_EQ(live(), (std::vector<std::string>{"token-a", "token-b"}));
  laptop->on_closed();
  EXPECT_EQ(live(), std::vector<std::string>{"token-b"});

  other->set_caller(std::nullopt);  // logged out on this connection
  EXPECT_TRUE(live().empty());
  other->on_closed();
  never_signed_in->on_closed();
  EXPECT_TRUE(live().empty());
  api_.stop();
}

TEST_F(LiveTokens, ASignInOnAClosedConnectionIsNotLive) {
  auto connection = open();
  connection->on_closed();
  connection->set_caller(caller("u1", "token-a"));
  EXPECT_TRUE(live().empty());
  api_.stop();
}

TEST_F(LiveTokens, AConnectionDroppedWithoutCloseLeavesOnTheNextRemovalForItsUser) {
  auto dropped = open();
  auto kept = open();
  dropped->set_caller(caller("u1", "token-a"));
  kept->set_caller(caller("u1", "token-b"));
  dropped.reset();  // gone without on_closed: only a weak reference was held
  kept->set_caller(caller("u1", "token-c"));  // replacing the caller removes for user u1
  EXPECT_EQ(live(), std::vector<std::string>{"token-c"});
  api_.stop();
}

TEST_F(LiveTokens, TheGenerationMovesExactlyWhenTheSetOfTokensChanges) {
  auto phone = open();
  auto laptop = open();
  auto last = api_.live_session_token_generation();
  // Whether the generation moved since the last call.
  const auto moved = [&] {
    const auto now = api_.live_session_token_generation();
    return std::exchange(last, now) != now;
  };
  phone->set_caller(caller("u1", "token-a"));
  EXPECT_TRUE(moved()) << "a token joined";
  laptop->set_caller(caller("u1", "token-a"));
  EXPECT_FALSE(moved()) << "a second connection of the same token";
  phone->on_closed();
  EXPECT_FALSE(moved()) << "the token is still live on the laptop";
  laptop->set_caller(caller("u1", "token-b"));
  EXPECT_TRUE(moved()) << "token-a left, token-b joined";
  EXPECT_EQ(live(), std::vector<std::string>{"token-b"});
  laptop->on_closed();
  EXPECT_TRUE(moved()) << "the last token left";
  EXPECT_TRUE(live().empty());
  api_.stop();
}

}  // namespace
}  // namespace tmc::api
