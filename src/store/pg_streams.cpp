// STUB: to be written (translated from the SQLite file of the same kind).
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

Status PgTx::set_stream_cursor(const std::string& name, std::uint64_t seq, TimePoint at) {
  return internal_error("set_stream_cursor: not written yet");
}

Result<std::uint64_t> PgStore::stream_cursor(const std::string& name) {
  return internal_error("stream_cursor: not written yet");
}

}  // namespace hoist::store::pg_backend
