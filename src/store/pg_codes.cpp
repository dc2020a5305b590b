// STUB: to be written (translated from the SQLite file of the same kind).
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

Result<IssuedCode> PgTx::insert_issued_code(const IssuedCode& code) {
  return internal_error("insert_issued_code: not written yet");
}

Result<std::optional<std::int64_t>> PgTx::mark_code_used(const CodeUse& use) {
  return internal_error("mark_code_used: not written yet");
}

Result<std::vector<IssuedCode>> PgStore::issued_codes(const IssuedCodeFilter& filter) {
  return internal_error("issued_codes: not written yet");
}

}  // namespace hoist::store::pg_backend
