// STUB: to be written (translated from the SQLite file of the same kind).
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

Result<AuditEvent> PgTx::append_audit(const AuditDraft& draft) {
  return internal_error("append_audit: not written yet");
}

Result<std::vector<AuditEvent>> PgStore::audit_events(const AuditFilter& filter) {
  return internal_error("audit_events: not written yet");
}

Result<std::vector<AuditEvent>> PgStore::audit_range(std::uint64_t first, std::size_t count) {
  return internal_error("audit_range: not written yet");
}

Result<std::optional<ChainHead>> PgStore::audit_head() {
  return internal_error("audit_head: not written yet");
}

}  // namespace hoist::store::pg_backend

namespace hoist::store::pg_backend {
Result<std::optional<AuditEvent>> PgStore::last_event(Conn& conn) {
  return internal_error("last_event: not written yet");
}
Status PgStore::check_head(Conn& conn, const std::optional<AuditEvent>& prev) {
  return internal_error("check_head: not written yet");
}
}  // namespace hoist::store::pg_backend
