// STUB: to be written (translated from the SQLite file of the same kind).
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

Result<PushMessage> PgTx::enqueue_push(const std::string& endpoint_id, const std::string& kind, const std::string& payload, TimePoint at) {
  return internal_error("enqueue_push: not written yet");
}

Status PgTx::acknowledge_push(const std::string& endpoint_id, std::uint64_t seq) {
  return internal_error("acknowledge_push: not written yet");
}

Result<bool> PgTx::record_agent_event(const std::string& id, const std::string& endpoint_id, const std::string& kind, TimePoint at) {
  return internal_error("record_agent_event: not written yet");
}

Result<std::vector<PushMessage>> PgStore::push_after(const std::string& endpoint_id, std::uint64_t after_seq, std::size_t limit) {
  return internal_error("push_after: not written yet");
}

}  // namespace hoist::store::pg_backend
