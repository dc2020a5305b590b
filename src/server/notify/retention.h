// Retention of the notification outbox (docs/notifications.md,
// "Retention"): delivered and dead deliveries that finished longer ago than
// the retention, and chat message references last stored longer ago, are
// deleted in batches, each its own short transaction, so the store's write
// lock is never held for long and the tables stop growing with every event.
// hoistd runs it at start and then every `interval` (main.cpp).
//
// MUST: never a delivery still owed (pending, whatever its age): the
// store's prune decides that in its DELETE (store/outbox.h).
// MUST: a run is bounded (max_batches per table); what is left waits for
// the next run, which comes soon when a run was cut short (Pruned::more).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>

#include "core/audit.h"
#include "core/result.h"
#include "store/store.h"

namespace hoist::notify {

struct RetentionOptions {
  std::chrono::milliseconds retention{std::chrono::hours(30 * 24)};
  std::size_t batch = 500;                                    // rows per transaction, 1 to store::kMaxPage
  std::size_t max_batches = 200;                              // per table and run
  std::chrono::milliseconds interval{std::chrono::hours(1)};  // between runs that finished
};

struct Pruned {
  AuditTime before{};  // what finished (or was stored) before this went
  std::size_t deliveries = 0;
  std::size_t message_refs = 0;
  bool more = false;            // cut short: rows older than `before` are left
  std::optional<Error> failed;  // a batch failed; the counts say what went before it
};

// Deletes what is older than `now - retention`. `between` is called before
// every batch but the first; returning false ends the run at once (hoistd
// stopping: `more` is set). hoistd's waits a little there, so other
// writers take the store between batches.
Pruned prune_outbox(store::Store& store, AuditTime now, const RetentionOptions& options,
                    const std::function<bool()>& between = {});

}  // namespace hoist::notify
