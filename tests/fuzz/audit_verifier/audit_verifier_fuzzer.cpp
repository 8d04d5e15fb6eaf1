// Fuzzes the audit verifier: a log and signed heads are built from the input, tampered with as
// the input says (flipped bytes, deleted, swapped or inserted records, consistent rewrites,
// changed indexed columns, forged heads), stored in SQLite and verified; the transaction is then
// rolled back.
//
// What must hold: an untampered log verifies; a record whose index or leaf hash is wrong, or
// whose indexed columns differ from it, is reported at or before its position; a change covered
// by an untouched signed head is found; the report is self-consistent; a head survives
// format_tree_head/parse_tree_head unchanged.
//
// Input: records, heads, tampering steps and the external head, in that order, read by
// fuzz::ByteReader (see build_log, add_heads, tamper and external_head).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "audit/canonical_record.hpp"
#include "audit/merkle.hpp"
#include "audit/signing_key.hpp"
#include "audit/tree_head.hpp"
#include "audit/verifier.hpp"
#include "fuzz_support.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace {

using namespace tmc;

constexpr std::size_t kMaxRecords = 40;
constexpr std::size_t kMaxHeads = 6;
constexpr std::size_t kMaxTampering = 6;

constexpr const char* kActions[] = {"login", "consultation.read", "consultation.open",
                                    "case_file.read", "case_file.upload_finish"};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "audit verifier fuzzer: %s\n", what.c_str());
  std::abort();
}

// The verifier reads through Store::read; this lets it read the (uncommitted) write Tx.
class TxStore final : public store::Store {
 public:
  explicit TxStore(store::Tx& tx) : tx_(tx) {}
  void read(const std::function<void(store::Tx&)>& fn) override { fn(tx_); }
  bool write(store::WriteOp) override { throw std::logic_error("read-only view"); }
  void write_async(store::WriteOp, std::function<void(bool, std::exception_ptr)>) override {
    throw std::logic_error("read-only view");
  }
  int schema_version() override { return 0; }

 private:
  store::Tx& tx_;
};

struct Fixture {
  fuzz::ScratchDir dir;
  std::unique_ptr<store::Store> store;
  audit::SigningKey trusted = audit::SigningKey::generate();
  audit::SigningKey stranger = audit::SigningKey::generate();
  TimePoint base{std::chrono::microseconds(1'740'000'000'000'000)};

  Fixture() {
    store::SqliteOptions options;
    options.path = (dir.path() / "tmc.db").string();
    store = store::open_sqlite_store(options);
  }
};

Fixture& fixture() {
  static Fixture instance;
  return instance;
}

struct Head {
  audit::SignedTreeHead head;
  bool genuine = true;  // signed by the trusted key over the genuine log, never changed
};

class Case {
 public:
  explicit Case(fuzz::ByteReader& input) : input_(input), f_(fixture()) {}

  void build_log() {
    const auto count = input_.u8() % (kMaxRecords + 1);
    std::string previous = audit::zero_hash();
    for (std::size_t i = 0; i < count; ++i) {
      const auto flags = input_.u8();
      domain::AuditEvent event;
      event.actor_id = (flags & 1) != 0 ? std::string(input_.short_bytes())
                                        : "usr_" + std::to_string(input_.u8());
      event.organization_id = (flags & 2) != 0 ? "bachu" : "shanghai";
      event.action = kActions[input_.u8() % std::size(kActions)];
      event.outcome = static_cast<domain::AuditOutcome>(flags % 3);
      if ((flags & 4) != 0) event.object_ids.push_back("con_" + std::to_string(input_.u8()));
      if ((flags & 8) != 0) event.patient_reference = std::string(input_.short_bytes());
      event.remote_address = "10.0.0.1:5000";
      store::AuditRow row;
      row.index = static_cast<std::int64_t>(i);
      row.time = f_.base + std::chrono::seconds(input_.u16());
      row.actor_id = event.actor_id;
      row.action = event.action;
      row.patient_reference = event.patient_reference;
      row.record = audit::encode_record(row.index, previous, row.time, event);
      row.leaf_hash = audit::leaf_hash(row.record);
      previous = row.leaf_hash;
      genuine_.push_back(row);
    }
    rows_ = genuine_;
  }

  void add_heads() {
    const auto count = input_.u8() % (kMaxHeads + 1);
    for (std::size_t i = 0; i < count; ++i) {
      const auto size = static_cast<std::int64_t>(input_.u8() % (genuine_.size() + 1));
      const auto signed_at = f_.base + std::chrono::seconds(input_.u16());
      heads_.push_back({audit::sign_tree_head(f_.trusted, size, genuine_root(size), signed_at)});
    }
  }

  void tamper() {
    const auto count = input_.u8() % (kMaxTampering + 1);
    for (std::size_t i = 0; i < count; ++i) {
      const auto kind = input_.u8() % 9;
      if (kind >= 7) {
        tamper_head(kind);
      } else if (!rows_.empty()) {
        tamper_record(kind, input_.u8() % rows_.size());
      }
    }
  }

  void external_head() {
    switch (input_.u8() % 4) {
      case 1:  // a genuine head, as kept off the host
        if (!heads_.empty()) {
          const auto& chosen = heads_[input_.u8() % heads_.size()];
          external_ = chosen.head;
          external_genuine_ = chosen.genuine;
        }
        break;
      case 2:  // whatever text the operator's file holds
        external_ = audit::parse_tree_head(input_.bytes(input_.u16()));
        external_genuine_ = false;
        break;
      case 3: {  // a head for records the log never had
        const auto size = static_cast<std::int64_t>(input_.u8());
        std::string root(input_.bytes(32));
        root.resize(32, '\0');
        external_ = audit::sign_tree_head(f_.trusted, size, root, f_.base);
        external_genuine_ = false;
        break;
      }
      default:
        break;
    }
    if (external_ && external_->tree_size >= 0) {  // the text form has no negative sizes
      const auto text = audit::format_tree_head(*external_);
      const auto round_trip = audit::parse_tree_head(text);
      if (!round_trip || !same_head(*round_trip, *external_)) {
        fail("a head does not survive format_tree_head/parse_tree_head:\n" + text);
      }
    }
  }

  // Stores the case in one write, verifies inside it and rolls it back.
  void verify() {
    f_.store->write([&](store::Tx& tx) {
      std::set<std::int64_t> used;
      for (const auto& row : rows_) {
        if (used.insert(row.index).second) tx.append_audit_record(row);
      }
      for (const auto& head : heads_) tx.insert_audit_head(head.head);
      TxStore view(tx);
      check(audit::verify_log(view, f_.trusted.public_key(), external_), used.size());
      return false;
    });
  }

 private:
  std::string genuine_root(std::int64_t size) const {
    std::vector<std::string> leaves;
    for (std::int64_t i = 0; i < size; ++i) {
      leaves.push_back(genuine_[static_cast<std::size_t>(i)].leaf_hash);
    }
    return audit::merkle_root(leaves);
  }

  static bool same_head(const audit::SignedTreeHead& a, const audit::SignedTreeHead& b) {
    return a.tree_size == b.tree_size && a.signed_at == b.signed_at && a.root_hash == b.root_hash &&
           a.public_key == b.public_key && a.signature == b.signature;
  }

  void flip(std::string& bytes) {
    if (bytes.empty()) return;
    const auto position = input_.u8() % bytes.size();
    bytes[position] = static_cast<char>(bytes[position] ^ static_cast<char>(input_.u8() | 1));
  }

  void tamper_record(int kind, std::size_t at) {
    auto& row = rows_[at];
    switch (kind) {
      case 0:  // an edited record, stored hash left alone
        flip(row.record);
        break;
      case 1:  // an edited record with its own hash recomputed
        flip(row.record);
        row.leaf_hash = audit::leaf_hash(row.record);
        break;
      case 2:  // a deleted record
        rows_.erase(rows_.begin() + static_cast<std::ptrdiff_t>(at));
        break;
      case 3: {  // two records trade places
        auto& other = rows_[input_.u8() % rows_.size()];
        std::swap(row.record, other.record);
        std::swap(row.leaf_hash, other.leaf_hash);
        break;
      }
      case 4: {  // a record inserted before this one, chained to its predecessor
        const auto index = row.index;
        for (auto& later : rows_) {
          if (later.index >= index) ++later.index;
        }
        store::AuditRow forged = genuine_[std::min(at, genuine_.size() - 1)];
        forged.index = index;
        const auto previous = at == 0 ? audit::zero_hash() : rows_[at - 1].leaf_hash;
        domain::AuditEvent event;
        event.actor_id = "usr_forged";
        event.action = "login";
        forged.record = audit::encode_record(index, previous, forged.time, event);
        forged.leaf_hash = audit::leaf_hash(forged.record);
        rows_.insert(rows_.begin() + static_cast<std::ptrdiff_t>(at), forged);
        break;
      }
      case 5:  // a consistent rewrite from here on: every later header and hash recomputed
        rewrite_from(at);
        break;
      default:  // an indexed column changed, the record left alone
        switch (input_.u8() % 4) {
          case 0:
            row.actor_id = std::string(input_.short_bytes());
            break;
          case 1:
            row.action = kActions[input_.u8() % std::size(kActions)];
            break;
          case 2:
            row.patient_reference = std::string(input_.short_bytes());
            break;
          default:
            row.time += std::chrono::microseconds(static_cast<std::int8_t>(input_.u8()));
            break;
        }
        break;
    }
  }

  void rewrite_from(std::size_t at) {
    std::string previous = at == 0 ? audit::zero_hash() : rows_[at - 1].leaf_hash;
    for (std::size_t i = at; i < rows_.size(); ++i) {
      auto& row = rows_[i];
      const auto header_size = audit::record_header(row.index, audit::zero_hash()).size();
      auto body = row.record.size() >= header_size ? row.record.substr(header_size) : "";
      if (i == at) flip(body);
      row.record = audit::record_header(row.index, previous) + body;
      row.leaf_hash = audit::leaf_hash(row.record);
      previous = row.leaf_hash;
    }
  }

  void tamper_head(int kind) {
    if (heads_.empty()) return;
    auto& entry = heads_[input_.u8() % heads_.size()];
    auto& head = entry.head;
    entry.genuine = false;
    if (kind == 7) {
      switch (input_.u8() % 4) {
        case 0:
          flip(head.root_hash);
          break;
        case 1:
          flip(head.signature);
          break;
        case 2:
          head.tree_size += static_cast<std::int8_t>(input_.u8());
          break;
        default:
          head.signed_at += std::chrono::microseconds(input_.u8() + 1);
          break;
      }
    } else {  // a head an attacker signed over the log as it is now
      std::vector<std::string> leaves;
      for (std::size_t i = 0; i < rows_.size() && i < static_cast<std::size_t>(head.tree_size);
           ++i) {
        leaves.push_back(rows_[i].leaf_hash);
      }
      head = audit::sign_tree_head(f_.stranger, head.tree_size, audit::merkle_root(leaves),
                                   head.signed_at);
    }
  }

  // Position of the first stored row (in index order) whose index or leaf hash is wrong, or
  // whose indexed columns are not what its record says.
  std::optional<std::size_t> first_broken_row(const std::vector<store::AuditRow>& stored) const {
    for (std::size_t p = 0; p < stored.size(); ++p) {
      const auto& row = stored[p];
      const auto decoded = audit::decode_record(row.record);
      if (row.index != static_cast<std::int64_t>(p) ||
          audit::leaf_hash(row.record) != row.leaf_hash || !decoded ||
          decoded->time != audit::format_utc(row.time) || decoded->actor != row.actor_id ||
          decoded->action != row.action || decoded->patient_reference != row.patient_reference) {
        return p;
      }
    }
    return std::nullopt;
  }

  // First position where the stored log differs from the genuine one (its size if a prefix).
  std::optional<std::size_t> first_difference(const std::vector<store::AuditRow>& stored) const {
    for (std::size_t p = 0; p < genuine_.size(); ++p) {
      if (p >= stored.size()) return p;
      const auto& row = stored[p];
      const auto& genuine = genuine_[p];
      if (row.index != genuine.index || row.record != genuine.record ||
          row.leaf_hash != genuine.leaf_hash || row.time != genuine.time ||
          row.actor_id != genuine.actor_id || row.action != genuine.action ||
          row.patient_reference != genuine.patient_reference) {
        return p;
      }
    }
    return std::nullopt;
  }

  void check(const audit::VerifyReport& report, std::size_t stored_count) const {
    if (report.ok() == report.first_bad_index.has_value()) {
      fail("first_bad_index is set although the log verifies, or missing although it does not");
    }
    if (report.records != static_cast<std::int64_t>(stored_count)) {
      fail("the report counts " + std::to_string(report.records) + " records, not " +
           std::to_string(stored_count));
    }
    if (report.first_bad_index &&
        (*report.first_bad_index < 0 || *report.first_bad_index > report.records)) {
      fail("first_bad_index is outside the log");
    }
    if (report.signed_records > report.records) fail("more signed records than records");

    // What the store holds, as the verifier reads it: by index, first row of each index.
    std::vector<store::AuditRow> stored;
    std::set<std::int64_t> used;
    for (const auto& row : rows_) {
      if (used.insert(row.index).second) stored.push_back(row);
    }
    std::sort(stored.begin(), stored.end(),
              [](const auto& a, const auto& b) { return a.index < b.index; });

    const bool heads_genuine =
        std::all_of(heads_.begin(), heads_.end(), [](const Head& head) { return head.genuine; });
    const auto difference = first_difference(stored);
    if (!difference && stored.size() == genuine_.size() && heads_genuine && external_genuine_ &&
        !report.ok()) {
      fail("an untampered log does not verify: " + report.problems.front());
    }
    if (const auto broken = first_broken_row(stored)) {
      if (report.ok() || *report.first_bad_index > static_cast<std::int64_t>(*broken)) {
        fail("a broken record at position " + std::to_string(*broken) + " is not reported there");
      }
    }
    if (difference) {
      for (const auto& head : heads_) {
        if (head.genuine && head.head.tree_size > static_cast<std::int64_t>(*difference) &&
            report.ok()) {
          fail("a change at " + std::to_string(*difference) +
               " is covered by a signed head but the log verifies");
        }
      }
    }
  }

  fuzz::ByteReader& input_;
  Fixture& f_;
  std::vector<store::AuditRow> genuine_;
  std::vector<store::AuditRow> rows_;
  std::vector<Head> heads_;
  std::optional<audit::SignedTreeHead> external_;
  bool external_genuine_ = true;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::ByteReader input(data, size);
  Case test(input);
  test.build_log();
  test.add_heads();
  test.tamper();
  test.external_head();
  test.verify();
  return 0;
}
