// STUB: to be written (translated from the SQLite file of the same kind).
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

Result<UserRecord> PgTx::insert_user(const UserRecord& user) {
  return internal_error("insert_user: not written yet");
}

Result<UserRecord> PgTx::update_user(const UserRecord& user) {
  return internal_error("update_user: not written yet");
}

Status PgTx::insert_token(const TokenRecord& token) {
  return internal_error("insert_token: not written yet");
}

Status PgTx::revoke_token(const std::string& id, TimePoint at) {
  return internal_error("revoke_token: not written yet");
}

Result<std::size_t> PgTx::revoke_user_tokens(const std::string& user, TimePoint at) {
  return internal_error("revoke_user_tokens: not written yet");
}

Status PgTx::touch_token(const std::string& id, TimePoint at) {
  return internal_error("touch_token: not written yet");
}

Status PgTx::insert_session(const SessionRecord& session) {
  return internal_error("insert_session: not written yet");
}

Status PgTx::revoke_session(const std::string& id_hash, TimePoint at) {
  return internal_error("revoke_session: not written yet");
}

Result<std::size_t> PgTx::revoke_user_sessions(const std::string& user, TimePoint at) {
  return internal_error("revoke_user_sessions: not written yet");
}

Result<std::optional<UserRecord>> PgStore::user(const std::string& name) {
  return internal_error("user: not written yet");
}

Result<std::vector<UserRecord>> PgStore::users() {
  return internal_error("users: not written yet");
}

Result<std::optional<TokenRecord>> PgStore::token(const std::string& id) {
  return internal_error("token: not written yet");
}

Result<std::vector<TokenRecord>> PgStore::tokens(const std::string& user) {
  return internal_error("tokens: not written yet");
}

Result<std::optional<SessionRecord>> PgStore::session(const std::string& id_hash) {
  return internal_error("session: not written yet");
}

}  // namespace hoist::store::pg_backend
