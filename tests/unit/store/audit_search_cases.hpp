// Audit records and searches shared by the store contract (both engines) and SQLite's bulk
// indexing tests: record i's fields follow from i, so each search's answer can be computed.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace tmc::store::testing::audit_search {

using namespace std::chrono_literals;

inline const TimePoint base_time{std::chrono::seconds(1'790'000'000)};

// Record i: actor usr_(i % 3), patient P-1, P-2 or none in turn, i seconds after base_time.
inline AuditRow record(std::int64_t i) {
  AuditRow row;
  row.index = i;
  row.time = base_time + std::chrono::seconds(i);
  row.actor_id = "usr_" + std::to_string(i % 3);
  row.action = "consultation.read";
  const char* patients[] = {"P-1", "P-2", ""};
  row.patient_reference = patients[(i / 2) % 3];
  row.record = "{\"index\":" + std::to_string(i) + "}";
  row.leaf_hash = std::string(32, static_cast<char>(i));
  return row;
}

inline void append(Store& store, std::int64_t from, std::int64_t count) {
  store.write([&](Tx& tx) {
    for (auto i = from; i < from + count; ++i) tx.append_audit_record(record(i));
    return true;
  });
}

// Every page of a search, by index.
inline std::vector<std::int64_t> search(Store& store, AuditQuery filter) {
  std::vector<std::int64_t> found;
  for (;;) {
    std::vector<AuditRow> rows;
    store.read([&](Tx& tx) { rows = tx.find_audit_records(filter); });
    for (const auto& row : rows) found.push_back(row.index);
    if (static_cast<int>(rows.size()) < filter.limit) return found;
    filter.after_index = rows.back().index;
  }
}

// What a search of the first `records` records must find.
inline std::vector<std::int64_t> expected(std::int64_t records, const AuditQuery& filter) {
  std::vector<std::int64_t> indexes;
  for (std::int64_t i = 0; i < records; ++i) {
    const auto row = record(i);
    if (row.time < filter.from || row.time >= filter.to || i <= filter.after_index) continue;
    if (!filter.actor_id.empty() && row.actor_id != filter.actor_id) continue;
    if (!filter.patient_reference.empty() && row.patient_reference != filter.patient_reference) {
      continue;
    }
    indexes.push_back(i);
  }
  return indexes;
}

inline std::int64_t with_patient(std::int64_t records) {
  std::int64_t named = 0;
  for (std::int64_t i = 0; i < records; ++i) named += record(i).patient_reference.empty() ? 0 : 1;
  return named;
}

// Everything, by actor, by patient, both, a time window, after an index, and nobody's.
inline std::vector<AuditQuery> filters() {
  AuditQuery all;
  all.from = base_time;
  all.to = base_time + 1h;
  all.limit = 4;  // several pages each
  std::vector<AuditQuery> list{all};
  auto by_actor = all;
  by_actor.actor_id = "usr_1";
  list.push_back(by_actor);
  auto by_patient = all;
  by_patient.patient_reference = "P-2";
  list.push_back(by_patient);
  auto both = by_patient;
  both.actor_id = "usr_2";
  list.push_back(both);
  auto window = by_actor;  // records 10..29 only
  window.from = base_time + 10s;
  window.to = base_time + 30s;
  list.push_back(window);
  auto later = by_patient;
  later.after_index = 17;
  list.push_back(later);
  auto nobody = all;
  nobody.actor_id = "usr_9";
  list.push_back(nobody);
  return list;
}

}  // namespace tmc::store::testing::audit_search
