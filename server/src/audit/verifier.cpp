// The reading side of the audit log: full verification (tree, chain, signed heads) and export.
#include "audit/verifier.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>

#include "audit/audit_log.hpp"
#include "audit/canonical_record.hpp"
#include "audit/merkle.hpp"

namespace tmc::audit {
namespace {

class Verification {
 public:
  explicit Verification(VerifyReport& report) : report_(report) {}

  void fail(std::int64_t index, std::string problem) {
    report_.problems.push_back(std::move(problem));
    if (!report_.first_bad_index || index < *report_.first_bad_index) {
      report_.first_bad_index = index;
    }
  }

  // Something in [begin, end) is wrong; a known bad index in that range already explains it.
  void fail_range(std::int64_t begin, std::int64_t end, std::string problem) {
    const auto& known = report_.first_bad_index;
    fail(known && *known >= begin && *known < end ? *known : begin, std::move(problem));
  }

  // Per-record checks; only the first broken record is reported (later ones follow from it).
  void check_record(const store::AuditRow& row) {
    const auto position = range_.size();
    const auto actual_hash = leaf_hash(row.record);
    if (!record_problem_found_) {
      const auto previous = position == 0 ? zero_hash() : previous_hash_;
      std::string problem;
      std::int64_t bad = position;
      if (row.index != position) {
        problem = "record " + std::to_string(position) + " is missing (the next stored record is " +
                  std::to_string(row.index) + ")";
      } else if (!row.record.starts_with(record_header(position, previous))) {
        if (position >= 1 &&
            row.record.starts_with(record_header(
                position - 1, position == 1 ? zero_hash() : before_previous_hash_))) {
          bad = position - 1;
          problem = "record " + std::to_string(bad) + " was inserted (record " +
                    std::to_string(position) + " is the original record " + std::to_string(bad) +
                    ")";
        } else {
          problem = "record " + std::to_string(position) +
                    " does not follow record " + std::to_string(position - 1) +
                    " (removed, reordered, inserted or altered)";
        }
      } else if (actual_hash != row.leaf_hash) {
        problem = "record " + std::to_string(position) + " was altered (leaf hash mismatch)";
      }
      if (!problem.empty()) {
        record_problem_found_ = true;
        fail(bad, std::move(problem));
      }
    }
    check_columns(row, position);
    before_previous_hash_ = std::move(previous_hash_);
    previous_hash_ = actual_hash;
    range_.append(actual_hash);  // the tree over what is stored now, as the heads must match
    if (needed_sizes_.contains(range_.size())) roots_[range_.size()] = range_.root();
  }

  // The columns `audit export` filters on (time, actor, patient reference) and the action must
  // say what the record says: a changed column would hide the record from a filtered export.
  void check_columns(const store::AuditRow& row, std::int64_t position) {
    const auto decoded = decode_record(row.record);
    std::string problem;
    if (!decoded) {
      problem = "record " + std::to_string(row.index) + " is not a well-formed record";
    } else {
      std::string differing;
      const auto differs = [&](bool different, const char* column) {
        if (!different) return;
        if (!differing.empty()) differing += ", ";
        differing += column;
      };
      differs(decoded->time != format_utc(row.time), "time");
      differs(decoded->actor != row.actor_id, "actor_id");
      differs(decoded->action != row.action, "action");
      differs(decoded->patient_reference != row.patient_reference, "patient_reference");
      if (!differing.empty()) {
        problem = "record " + std::to_string(row.index) + "'s indexed columns (" + differing +
                  ") differ from the record: filtered exports may miss it";
      }
    }
    if (problem.empty()) return;
    if (column_problems_++ == 0) fail(position, std::move(problem));
  }

  // Adds the count of column problems not reported one by one.
  void finish() {
    if (column_problems_ > 1) {
      report_.problems.push_back(std::to_string(column_problems_ - 1) +
                                 " more records' indexed columns differ from the records");
    }
  }

  void need_root_at(std::int64_t size) { needed_sizes_[size] = true; }

  // nullopt when the log is shorter than size.
  std::optional<std::string> root_at(std::int64_t size) const {
    if (size == 0) return empty_tree_hash();
    const auto found = roots_.find(size);
    if (found == roots_.end()) return std::nullopt;
    return found->second;
  }

  std::int64_t size() const { return range_.size(); }

 private:
  VerifyReport& report_;
  CompactRange range_;
  std::string previous_hash_;
  std::string before_previous_hash_;
  bool record_problem_found_ = false;
  std::int64_t column_problems_ = 0;
  std::map<std::int64_t, bool> needed_sizes_;
  std::map<std::int64_t, std::string> roots_;
};

}  // namespace

VerifyReport verify_log(store::Store& store, std::string_view trusted_public_key,
                        const std::optional<SignedTreeHead>& external_head) {
  return verify_log(store, std::vector<std::string>{std::string(trusted_public_key)},
                    external_head);
}

VerifyReport verify_log(store::Store& store, const std::vector<std::string>& trusted_public_keys,
                        const std::optional<SignedTreeHead>& external_head) {
  VerifyReport report;
  Verification verification(report);
  store.read([&](store::Tx& tx) {
    auto heads = tx.list_audit_heads();
    for (const auto& head : heads) verification.need_root_at(head.tree_size);
    if (external_head) verification.need_root_at(external_head->tree_size);
    for_each_record(tx, 0, [&](const store::AuditRow& row) { verification.check_record(row); });
    report.records = verification.size();
    verification.finish();
    const auto gaps = tx.find_audit_search_gaps();
    if (gaps.count > 0) {
      const auto first = "record " + std::to_string(gaps.first_index);
      verification.fail(gaps.first_index,
                        (gaps.count == 1 ? first + " is"
                                         : std::to_string(gaps.count) + " records (the first " +
                                               first + ") are") +
                            " missing from the store's audit search tables: exports filtered by"
                            " actor or patient would miss them");
    }

    // A head that does not match locates the damage after the largest smaller matching head.
    std::set<std::int64_t> matched_sizes{0};
    const auto check_head = [&](const SignedTreeHead& head, const std::string& name) {
      ++report.heads_checked;
      if (head.tree_size < 0) {
        verification.fail(0, name + " has a negative size");
        return;
      }
      const auto matched_size = *std::prev(matched_sizes.upper_bound(head.tree_size));
      if (std::find(trusted_public_keys.begin(), trusted_public_keys.end(), head.public_key) ==
          trusted_public_keys.end()) {
        verification.fail(matched_size, name + " is signed by an unknown key");
        return;
      }
      if (!signature_valid(head)) {
        verification.fail(matched_size, name + " has an invalid signature");
        return;
      }
      const auto root = verification.root_at(head.tree_size);
      if (!root) {
        verification.fail(report.records, name + " covers " + std::to_string(head.tree_size) +
                                              " records but the log has " +
                                              std::to_string(report.records) + ": truncated");
      } else if (*root != head.root_hash) {
        verification.fail_range(matched_size, head.tree_size,
                                name + " does not match: records " +
                                    std::to_string(matched_size) + ".." +
                                    std::to_string(head.tree_size - 1) + " were changed");
      } else {
        matched_sizes.insert(head.tree_size);
        report.signed_records = std::max(report.signed_records, head.tree_size);
      }
    };
    // Once one stored head fails, larger ones mostly fail for the same reason: report the first.
    bool head_failed = false;
    int later_failures = 0;
    for (const auto& head : heads) {
      const auto before = report.problems.size();
      check_head(head, "signed head of size " + std::to_string(head.tree_size));
      if (report.problems.size() == before) continue;
      if (head_failed) {
        report.problems.pop_back();
        ++later_failures;
      }
      head_failed = true;
    }
    if (later_failures > 0) {
      report.problems.push_back(std::to_string(later_failures) +
                                " larger signed heads do not match either");
    }
    if (external_head) {
      // The off-host copy: today's log must be an extension of the log it was signed for.
      check_head(*external_head, "the given head (size " +
                                     std::to_string(external_head->tree_size) + ")");
    }
  });
  return report;
}

std::optional<SignedTreeHead> latest_head(store::Store& store) {
  std::optional<SignedTreeHead> head;
  store.read([&](store::Tx& tx) { head = tx.latest_audit_head(); });
  return head;
}

std::int64_t export_records(store::Store& store, store::AuditQuery filter,
                            const std::function<void(const std::string& record)>& line) {
  std::int64_t count = 0;
  for (;;) {
    std::vector<store::AuditRow> rows;
    store.read([&](store::Tx& tx) { rows = tx.find_audit_records(filter); });
    for (const auto& row : rows) line(row.record);
    count += static_cast<std::int64_t>(rows.size());
    if (static_cast<int>(rows.size()) < filter.limit) return count;
    filter.after_index = rows.back().index;
  }
}

}  // namespace tmc::audit
