// The verifier against an attacker with SQL access: every kind of tampering is found at the
// right index; plus export filters.
#include <gtest/gtest.h>

#include <chrono>

#include "audit/canonical_record.hpp"
#include "audit/merkle.hpp"
#include "audit/verifier.hpp"
#include "audit_fixture.hpp"
#include "crypto/encoding.hpp"

namespace tmc::audit {
namespace {

class Verifier : public testing::AuditStoreTest {
 protected:
  VerifyReport verify(const std::optional<SignedTreeHead>& external = std::nullopt) {
    return verify_log(*store_, key_.public_key(), external);
  }

  void expect_bad_at(std::int64_t index) {
    const auto report = verify();
    EXPECT_FALSE(report.ok());
    ASSERT_TRUE(report.first_bad_index);
    EXPECT_EQ(*report.first_bad_index, index);
    for (const auto& problem : report.problems) std::cerr << "  reported: " << problem << '\n';
  }

  // Makes room at index by moving every record from it one place up.
  void shift_up_from(int index) {
    const auto at = std::to_string(index);
    sql("UPDATE audit_records SET idx = -idx - 1 WHERE idx >= " + at + ";"
        "UPDATE audit_records SET idx = -idx WHERE idx < 0;");
  }

  void insert_row(int index, const std::string& record, const std::string& hash) {
    sql("INSERT INTO audit_records(idx, time, actor_id, action, patient_reference, record, "
        "leaf_hash) VALUES (" + std::to_string(index) + ", 0, 'usr_x', 'login', '', '" + record +
        "', X'" + crypto::hex_encode(hash) + "')");
  }

  // Rewrites records from `from` on as an attacker who recomputes every hash: record `from`
  // gets new content (and its action column with it), each later one a re-chained header.
  void rewrite_consistently_from(int from) {
    auto all = rows();
    std::string previous = from == 0 ? zero_hash() : all[from - 1].leaf_hash;
    for (std::size_t i = static_cast<std::size_t>(from); i < all.size(); ++i) {
      auto& row = all[i];
      // Headers have a fixed length for a given index (the hash is always 64 hex digits).
      const auto body = row.record.substr(record_header(row.index, zero_hash()).size());
      row.record = record_header(row.index, previous) + body;
      if (static_cast<int>(i) == from) {
        row.record.replace(row.record.find("consultation.read"), 17, "consultation.open");
        sql("UPDATE audit_records SET action = 'consultation.open' WHERE idx = " +
            std::to_string(row.index));
      }
      row.leaf_hash = leaf_hash(row.record);
      previous = row.leaf_hash;
      sql("UPDATE audit_records SET record = '" + row.record + "', leaf_hash = X'" +
          crypto::hex_encode(row.leaf_hash) + "' WHERE idx = " + std::to_string(row.index));
    }
  }
};

TEST_F(Verifier, EmptyLogVerifies) {
  const auto report = verify();
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.records, 0);
}

TEST_F(Verifier, CleanLogVerifies) {
  append_simple(10, true);
  const auto report = verify();
  EXPECT_TRUE(report.ok()) << report.problems.front();
  EXPECT_EQ(report.records, 10);
  EXPECT_EQ(report.heads_checked, 10);
  EXPECT_EQ(report.signed_records, 10);
  EXPECT_FALSE(report.first_bad_index);
}

TEST_F(Verifier, RecordsAreChainedAndHashed) {
  append_simple(3, false);
  const auto all = rows();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_TRUE(all[0].record.starts_with(record_header(0, zero_hash())));
  EXPECT_TRUE(all[2].record.starts_with(record_header(2, all[1].leaf_hash)));
  EXPECT_EQ(all[1].leaf_hash, leaf_hash(all[1].record));
  EXPECT_EQ(all[1].actor_id, "usr_1");
}

TEST_F(Verifier, FlippedByteInRecord) {
  append_simple(10, true);
  sql("UPDATE audit_records SET record = replace(record, 'con_4', 'con_5') WHERE idx = 4");
  expect_bad_at(4);
}

TEST_F(Verifier, FlippedByteInStoredLeafHash) {
  append_simple(10, true);
  sql("UPDATE audit_records SET leaf_hash = randomblob(32) WHERE idx = 6");
  expect_bad_at(6);
}

TEST_F(Verifier, DeletedRecord) {
  append_simple(10, true);
  sql("DELETE FROM audit_records WHERE idx = 3");
  expect_bad_at(3);
}

TEST_F(Verifier, DeletedRecordWithRenumbering) {
  append_simple(10, true);
  sql("DELETE FROM audit_records WHERE idx = 3;"
      "UPDATE audit_records SET idx = idx - 1 WHERE idx > 3;");
  expect_bad_at(3);
}

TEST_F(Verifier, ReorderedRecords) {
  append_simple(10, true);
  sql("UPDATE audit_records SET idx = -1 WHERE idx = 2;"
      "UPDATE audit_records SET idx = 2 WHERE idx = 6;"
      "UPDATE audit_records SET idx = 6 WHERE idx = -1;");
  expect_bad_at(2);
}

TEST_F(Verifier, InsertedCopyOfAnotherRecord) {
  append_simple(10, true);
  const auto copy = rows()[2];
  shift_up_from(5);
  insert_row(5, copy.record, copy.leaf_hash);
  expect_bad_at(5);
}

TEST_F(Verifier, InsertedForgedRecordWithValidChain) {
  append_simple(10, true);
  const auto all = rows();
  domain::AuditEvent forged{"usr_x", "bachu", "login", {}, domain::AuditOutcome::success, ""};
  const auto record = encode_record(5, all[4].leaf_hash, base_time_, forged);
  shift_up_from(5);
  insert_row(5, record, leaf_hash(record));
  expect_bad_at(5);
}

TEST_F(Verifier, Truncated) {
  append_simple(10, true);
  sql("DELETE FROM audit_records WHERE idx >= 7");
  expect_bad_at(7);
}

TEST_F(Verifier, ConsistentRewriteIsCaughtBySignedHeads) {
  append_simple(10, true);
  rewrite_consistently_from(6);
  expect_bad_at(6);
}

TEST_F(Verifier, ConsistentRewriteWithOneHeadIsLocatedBeforeIt) {
  append_simple(4, false);
  sign_head();
  append_simple(6, false);
  sign_head();
  rewrite_consistently_from(6);
  expect_bad_at(4);  // the head of size 4 still matches; the one of size 10 does not
}

TEST_F(Verifier, ExternalHeadAcceptsExtensionAndCatchesTruncation) {
  append_simple(8, false);
  sign_head();
  const auto kept = parse_tree_head(format_tree_head(*latest_head(*store_)));
  ASSERT_TRUE(kept);
  append_simple(4, false);
  sign_head();
  EXPECT_TRUE(verify(kept).ok());

  // The attacker drops records and every stored head: only the off-host head notices.
  sql("DELETE FROM audit_records WHERE idx >= 6; DELETE FROM audit_heads;");
  EXPECT_TRUE(verify().ok());
  const auto report = verify(kept);
  EXPECT_FALSE(report.ok());
  ASSERT_TRUE(report.first_bad_index);
  EXPECT_EQ(*report.first_bad_index, 6);
}

TEST_F(Verifier, HeadsSignedByAnotherKeyAreRejected) {
  append_simple(3, true);
  const auto intruder = SigningKey::generate();
  store_->write([&](store::Tx& tx) {
    std::vector<std::string> hashes;
    for_each_record(tx, 0, [&](const store::AuditRow& row) { hashes.push_back(row.leaf_hash); });
    tx.insert_audit_head(sign_tree_head(intruder, 3, merkle_root(hashes), base_time_));
    return true;
  });
  EXPECT_FALSE(verify().ok());
  const auto foreign = sign_tree_head(intruder, 3, rows().back().leaf_hash, base_time_);
  sql("DELETE FROM audit_heads WHERE public_key = X'" + crypto::hex_encode(intruder.public_key()) +
      "'");
  EXPECT_TRUE(verify().ok());
  EXPECT_FALSE(verify(foreign).ok());
}

TEST_F(Verifier, ForgedSignatureIsRejected) {
  append_simple(3, true);
  sql("UPDATE audit_heads SET signature = randomblob(64)");
  EXPECT_FALSE(verify().ok());
}

// Columns `audit export` filters on, changed so that a filtered export would skip the record:
// the record and every hash are intact, so only the comparison with the record finds it.
TEST_F(Verifier, ChangedIndexedColumns) {
  append_simple(10, true);
  sql("UPDATE audit_records SET actor_id = 'usr_9' WHERE idx = 4");
  expect_bad_at(4);
  sql("UPDATE audit_records SET actor_id = 'usr_4' WHERE idx = 4");
  EXPECT_TRUE(verify().ok());

  sql("UPDATE audit_records SET time = time + 1 WHERE idx = 6");
  expect_bad_at(6);
  sql("UPDATE audit_records SET time = time - 1 WHERE idx = 6;"
      "UPDATE audit_records SET patient_reference = 'P-other' WHERE idx >= 2");
  expect_bad_at(2);
  const auto report = verify();
  ASSERT_EQ(report.problems.size(), 2u);
  EXPECT_NE(report.problems[0].find("patient_reference"), std::string::npos);
  EXPECT_EQ(report.problems[1], "7 more records' indexed columns differ from the records");
}

// SQLite searches by actor and patient through tables filled in bulk: a record taken out of
// them is as hidden from a filtered export as one whose column was changed.
TEST_F(Verifier, RecordRemovedFromTheSearchTables) {
  append_simple(10, true);
  sql("INSERT INTO audit_by_actor SELECT actor_id, time, idx FROM audit_records;"
      "UPDATE audit_indexed SET next_idx = 10");
  EXPECT_TRUE(verify().ok());
  sql("DELETE FROM audit_by_actor WHERE idx = 3");
  expect_bad_at(3);
}

TEST_F(Verifier, ChangedActionColumn) {
  append_simple(3, true);
  sql("UPDATE audit_records SET action = 'login' WHERE idx = 1");
  expect_bad_at(1);
}

// ---- export ----

class Export : public testing::AuditStoreTest {
 protected:
  std::vector<std::string> run(store::AuditQuery query) {
    std::vector<std::string> lines;
    export_records(*store_, query, [&](const std::string& line) { lines.push_back(line); });
    return lines;
  }
};

TEST_F(Export, FiltersByTimeActorAndPatient) {
  domain::AuditEvent read_a{"usr_a", "bachu", "consultation.read", {"con_1"},
                            domain::AuditOutcome::success, ""};
  read_a.patient_reference = "P-1";
  domain::AuditEvent read_b = read_a;
  read_b.actor_id = "usr_b";
  domain::AuditEvent other = read_a;
  other.patient_reference = "P-2";
  domain::AuditEvent login{"usr_a", "bachu", "login", {}, domain::AuditOutcome::success, ""};
  append({read_a, read_b, other, login, read_a});  // times base + 0..4 s

  store::AuditQuery all;
  all.from = base_time_;
  all.to = base_time_ + std::chrono::hours(1);
  all.limit = 2;  // exercises paging
  const auto everything = run(all);
  ASSERT_EQ(everything.size(), 5u);
  EXPECT_TRUE(everything[4].starts_with("{\"v\":1,\"index\":4,"));

  auto by_actor = all;
  by_actor.actor_id = "usr_a";
  EXPECT_EQ(run(by_actor).size(), 4u);

  auto by_patient = all;
  by_patient.patient_reference = "P-1";
  const auto patient = run(by_patient);
  ASSERT_EQ(patient.size(), 3u);
  for (const auto& line : patient) EXPECT_NE(line.find("\"patient_ref\":\"P-1\""), std::string::npos);

  auto both = by_patient;
  both.actor_id = "usr_b";
  EXPECT_EQ(run(both).size(), 1u);

  auto window = all;
  window.from = base_time_ + std::chrono::seconds(1);
  window.to = base_time_ + std::chrono::seconds(3);  // [1 s, 3 s): records 1 and 2
  const auto windowed = run(window);
  ASSERT_EQ(windowed.size(), 2u);
  EXPECT_TRUE(windowed[0].starts_with("{\"v\":1,\"index\":1,"));
}

}  // namespace
}  // namespace tmc::audit
