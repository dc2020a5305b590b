// STUB: to be written (translated from the SQLite file of the same kind).
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

Status PgTx::insert_enrollment_token(const EnrollmentTokenRecord& token) {
  return internal_error("insert_enrollment_token: not written yet");
}

Result<EnrollmentTokenRecord> PgTx::use_enrollment_token(const std::string& id, TimePoint now) {
  return internal_error("use_enrollment_token: not written yet");
}

Status PgTx::revoke_enrollment_token(const std::string& id, TimePoint at) {
  return internal_error("revoke_enrollment_token: not written yet");
}

Status PgTx::insert_endpoint(const EndpointRecord& endpoint) {
  return internal_error("insert_endpoint: not written yet");
}

Status PgTx::record_heartbeat(const std::string& id, TimePoint at, const std::string& agent_version) {
  return internal_error("record_heartbeat: not written yet");
}

Status PgTx::retire_endpoint(const std::string& id, TimePoint at) {
  return internal_error("retire_endpoint: not written yet");
}

Result<std::uint32_t> PgTx::bump_codes_key_generation(const std::string& endpoint_id) {
  return internal_error("bump_codes_key_generation: not written yet");
}

Result<std::optional<EnrollmentTokenRecord>> PgStore::enrollment_token(const std::string& id) {
  return internal_error("enrollment_token: not written yet");
}

Result<std::vector<EnrollmentTokenRecord>> PgStore::enrollment_tokens() {
  return internal_error("enrollment_tokens: not written yet");
}

Result<std::optional<EndpointRecord>> PgStore::endpoint(const std::string& id) {
  return internal_error("endpoint: not written yet");
}

Result<std::vector<EndpointRecord>> PgStore::endpoints() {
  return internal_error("endpoints: not written yet");
}

}  // namespace hoist::store::pg_backend
