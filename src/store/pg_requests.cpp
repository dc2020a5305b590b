// STUB: to be written (translated from the SQLite file of the same kind).
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

Result<RequestRecord> PgTx::insert_request(const RequestRecord& record) {
  return internal_error("insert_request: not written yet");
}

Result<std::optional<RequestRecord>> PgTx::get_request(const std::string& id) {
  return internal_error("get_request: not written yet");
}

Result<RequestRecord> PgTx::update_request(const RequestRecord& record) {
  return internal_error("update_request: not written yet");
}

Result<std::size_t> PgTx::count_pending(const std::optional<std::string>& requester, const std::string& endpoint_id,
                                        TimePoint now) {
  return internal_error("count_pending: not written yet");
}

Result<std::optional<RequestRecord>> PgStore::request(const std::string& id) {
  return internal_error("request: not written yet");
}

Result<std::vector<RequestRecord>> PgStore::requests(const RequestFilter& filter) {
  return internal_error("requests: not written yet");
}

Result<std::vector<RequestRecord>> PgStore::due_requests(TimePoint now, std::size_t limit) {
  return internal_error("due_requests: not written yet");
}

Result<std::vector<std::pair<RequestState, std::size_t>>> PgStore::request_counts() {
  return internal_error("request_counts: not written yet");
}

}  // namespace hoist::store::pg_backend
