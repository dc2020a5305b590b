#include "server/notify/retention.h"

namespace hoist::notify {

Pruned prune_outbox(store::Store& store, AuditTime now, const RetentionOptions& options,
                    const std::function<bool()>& between) {
  Pruned out;
  out.before = now - options.retention;
  bool first = true;
  // One table after the other; each batch is a transaction of its own.
  const auto run = [&](auto prune, std::size_t& count) -> bool {
    for (std::size_t i = 0; i < options.max_batches; ++i) {
      if (!first && between && !between()) {
        out.more = true;
        return false;
      }
      first = false;
      std::size_t n = 0;
      const Status st = store.write([&](store::StoreTx& tx) -> Status {
        auto deleted = prune(tx);
        if (!deleted) return deleted.error();
        n = *deleted;
        return {};
      });
      if (!st) {
        out.failed = st.error();
        return false;
      }
      count += n;
      if (n < options.batch) return true;
    }
    out.more = true;  // max_batches full ones: there may be more
    return true;
  };
  if (!run([&](store::StoreTx& tx) { return tx.prune_deliveries(out.before, options.batch); }, out.deliveries)) {
    return out;
  }
  run([&](store::StoreTx& tx) { return tx.prune_message_refs(out.before, options.batch); }, out.message_refs);
  return out;
}

}  // namespace hoist::notify
