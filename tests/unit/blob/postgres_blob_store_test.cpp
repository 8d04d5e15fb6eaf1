// PostgreSQL BlobStore beyond the contract: nodes racing on one segment, shared storage between
// nodes, exact quota accounting, reconnection after the server drops a connection.
#include "store/postgres/postgres_blob_store.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "postgres_test_schema.hpp"

namespace tmc::blob {
namespace {

using tmc::testing::PostgresTestSchema;

class PostgresBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      schema_.emplace("blob_pg_");
    } catch (const tmc::testing::PostgresUnavailable& e) {
      GTEST_SKIP() << e.what();
    }
  }

  // A store as one node opens it; application_name marks its connections in pg_stat_activity.
  std::unique_ptr<BlobStore> open_node(const std::string& application_name = "") const {
    store::PostgresOptions options;
    options.conninfo = schema_->conninfo_in_schema(application_name);
    options.schema = schema_->name();
    return store::open_postgres_blob_store(options);
  }

  std::optional<PostgresTestSchema> schema_;
};

TEST_F(PostgresBlobStoreTest, OfTwoNodesAppendingTheSameIndexExactlyOneWins) {
  const auto node_a = open_node();
  const auto node_b = open_node();
  constexpr int rounds = 20;
  for (int round = 0; round < rounds; ++round) {
    const std::string id = "race" + std::to_string(round);
    // Both race for index 0 of a new blob, and for index 1 after a shared segment 0.
    for (std::uint32_t index = 0; index < 2; ++index) {
      if (index == 1) node_a->put_segment(id + "x", 0, "shared");
      const std::string blob_id = index == 0 ? id : id + "x";
      std::latch start(2);
      bool won[2] = {false, false};
      auto attempt = [&](int node, BlobStore& store) {
        start.arrive_and_wait();
        try {
          store.put_segment(blob_id, index, "node" + std::to_string(node));
          won[node] = true;
        } catch (const BlobStoreError&) {
          // The loser is told its segment was not stored.
        }
      };
      std::thread first(attempt, 0, std::ref(*node_a));
      std::thread second(attempt, 1, std::ref(*node_b));
      first.join();
      second.join();
      ASSERT_NE(won[0], won[1]) << blob_id << " index " << index;
      EXPECT_EQ(node_a->segment_count(blob_id), index + 1);
      EXPECT_EQ(node_b->get_segment(blob_id, index), won[0] ? "node0" : "node1");
    }
  }
}

TEST_F(PostgresBlobStoreTest, NodesShareSegments) {
  const auto node_a = open_node();
  const auto node_b = open_node();
  node_a->put_segment("shared", 0, "from a");
  node_b->put_segment("shared", 1, "from b");
  EXPECT_EQ(node_a->get_segment("shared", 1), "from b");
  EXPECT_EQ(node_b->segment_count("shared"), 2u);
  node_b->truncate("shared", 1);
  EXPECT_EQ(node_a->segment_count("shared"), 1u);
  node_a->remove("shared");
  EXPECT_FALSE(node_b->get_segment("shared", 0));
}

TEST_F(PostgresBlobStoreTest, StoredBytesCountsTheSealedBytes) {
  const auto store = open_node();
  store->put_segment("q", 0, std::string(1000, 'a'));
  store->put_segment("q", 1, std::string(3 << 20, 'b'));
  store->put_segment("q", 2, "");
  store->put_segment("other", 0, std::string(777, 'c'));
  EXPECT_EQ(store->stored_bytes("q"), 1000u + (3u << 20));
  store->truncate("q", 1);
  EXPECT_EQ(store->stored_bytes("q"), 1000u);
  store->remove("q");
  EXPECT_EQ(store->stored_bytes("q"), 0u);
  EXPECT_EQ(store->stored_bytes("other"), 777u);
}

TEST_F(PostgresBlobStoreTest, ErrorsNeverQuoteSegmentBytes) {
  const auto store = open_node();
  const std::string secret = "patient-sealed-bytes-4711";
  store->put_segment("e1", 0, secret);
  try {
    store->put_segment("e1", 0, secret);
    FAIL() << "a second segment 0 was accepted";
  } catch (const BlobStoreError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("e1"), std::string::npos) << message;
    EXPECT_EQ(message.find(secret), std::string::npos) << message;
  }
}

TEST_F(PostgresBlobStoreTest, UnreachableServerIsABlobStoreError) {
  store::PostgresOptions options;
  options.conninfo = "postgresql://postgres@/postgres?host=/nonexistent-tmc-socket-dir&port=1";
  EXPECT_THROW(store::open_postgres_blob_store(options), BlobStoreError);
}

TEST_F(PostgresBlobStoreTest, ReconnectsAfterTheServerClosedItsConnections) {
  const std::string application = schema_->name() + "_node";
  const auto store = open_node(application);
  store->put_segment("r", 0, "before");
  ASSERT_EQ(store->get_segment("r", 0), "before");

  // Raises (so exec throws) unless the store's sessions are listed as expected.
  const auto expect_sessions = [&](bool listed) {
    schema_->exec(std::string("DO $$ BEGIN IF ") + (listed ? "NOT " : "") +
                  "EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = '" +
                  application + "') THEN RAISE EXCEPTION 'unexpected sessions'; END IF; END $$");
  };
  ASSERT_NO_THROW(expect_sessions(true));
  // From a session of its own, as a server restart or failover would; waits (up to 10 s each)
  // until the sessions have ended.
  schema_->exec(
      "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
      "WHERE application_name = '" +
      application + "'");
  ASSERT_NO_THROW(expect_sessions(false));

  store->put_segment("r", 1, "after");
  EXPECT_EQ(store->get_segment("r", 0), "before");
  EXPECT_EQ(store->get_segment("r", 1), "after");
  EXPECT_EQ(store->segment_count("r"), 2u);
}

}  // namespace
}  // namespace tmc::blob
