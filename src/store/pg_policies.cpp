// STUB: to be written (translated from the SQLite file of the same kind).
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

Result<PolicyVersion> PgTx::add_policy_version(const PolicyVersion& v, int expected_current) {
  return internal_error("add_policy_version: not written yet");
}

Status PgTx::assign_policy(const std::string& name, const std::vector<std::string>& labels) {
  return internal_error("assign_policy: not written yet");
}

Status PgTx::delete_policy(const std::string& name, TimePoint at) {
  return internal_error("delete_policy: not written yet");
}

Result<std::optional<PolicyRecord>> PgStore::policy(const std::string& name) {
  return internal_error("policy: not written yet");
}

Result<std::vector<PolicyRecord>> PgStore::policies() {
  return internal_error("policies: not written yet");
}

Result<std::optional<PolicyVersion>> PgStore::policy_version(const std::string& name, int version) {
  return internal_error("policy_version: not written yet");
}

Result<std::vector<PolicyVersion>> PgStore::policy_history(const std::string& name) {
  return internal_error("policy_history: not written yet");
}

Result<std::vector<PolicyRecord>> PgStore::policies_for_labels(const std::vector<std::string>& labels) {
  return internal_error("policies_for_labels: not written yet");
}

}  // namespace hoist::store::pg_backend
