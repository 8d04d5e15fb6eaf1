// Waiting for the cluster event log on PostgreSQL: a dedicated connection that LISTENs.
#pragma once

#include <memory>

#include "store/postgres/connection.hpp"
#include "store/store.hpp"

namespace tmc::store::postgres {

// SQL for the channel append_event notifies (payload: the event id). One per schema, so stores
// in other schemas of the same database do not wake this one; hashed to fit a channel name.
inline constexpr const char* event_channel_sql = "('tmc_events_' || md5(current_schema()))";

std::unique_ptr<EventWaiter> open_event_waiter(const ConnectionSettings& settings);

}  // namespace tmc::store::postgres
