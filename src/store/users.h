// Console and API users in the store, their API tokens and their console
// login sessions. Only hashes of secrets are stored, never a secret.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.h"
#include "core/result.h"

namespace hoist::store {

// Console and API users. Roles: admin (everything), approver (review
// requests, revoke grants, issue offline codes), auditor (read-only).
enum class Role { kAdmin, kApprover, kAuditor };
std::string_view to_string(Role role);
std::optional<Role> parse_role(std::string_view text);

struct UserRecord {
  std::string name;  // login name, unique
  Role role = Role::kAuditor;
  std::string password_hash;  // an encoded password hash (Argon2id); never a password
  TimePoint created_at{};
  bool disabled = false;
  std::int64_t version = 0;
};

// An API token. The secret itself is never stored: only its hash, so a
// copy of the database cannot be used to call the API.
struct TokenRecord {
  std::string id;  // public part of the token, used to look it up
  std::string user;
  std::string label;        // what it is for ("ci", "laptop cli")
  std::string secret_hash;  // hash of the secret part
  TimePoint created_at{};
  std::optional<TimePoint> expires_at;
  std::optional<TimePoint> revoked_at;
  std::optional<TimePoint> last_used_at;
};

// A console login. Only hashes of the session id and the CSRF token are
// stored, so a copy of the database cannot be used to log in.
struct SessionRecord {
  std::string id_hash;
  std::string user;
  std::string csrf_hash;
  TimePoint created_at{};
  TimePoint expires_at{};
  std::optional<TimePoint> revoked_at;
};

// Inside a write transaction.
class UsersTx {
 public:
  virtual ~UsersTx() = default;
  // A new user at version 1; Conflict when the name is taken.
  virtual Result<UserRecord> insert_user(const UserRecord& user) = 0;
  // The same, only while there is no user at all: Conflict ("there are
  // users already") otherwise. The check and the insert are one write, so
  // of several processes (replicas) making a first user at once, with any
  // names, one does and the others get Conflict.
  virtual Result<UserRecord> insert_first_user(const UserRecord& user) = 0;
  // Replaces role, password hash and disabled flag when the stored version
  // is `user.version`; returns the user at version + 1. Conflict or
  // NotFound as for requests.
  virtual Result<UserRecord> update_user(const UserRecord& user) = 0;
  // Conflict when the id is taken, NotFound when the user does not exist.
  virtual Status insert_token(const TokenRecord& token) = 0;
  // Sets revoked_at (once; a second revocation keeps the first time).
  // NotFound when there is no such token.
  virtual Status revoke_token(const std::string& id, TimePoint at) = 0;
  // Revokes every API token of the user that is neither revoked nor
  // expired at `at` (a new password, disabling) and returns how many.
  // Revoked stays revoked: enabling the user again brings none back.
  virtual Result<std::size_t> revoke_user_tokens(const std::string& user, TimePoint at) = 0;
  virtual Status touch_token(const std::string& id, TimePoint at) = 0;

  // Conflict when the id hash is taken; NotFound for an unknown user.
  virtual Status insert_session(const SessionRecord& session) = 0;
  // Sets revoked_at once; NotFound for an unknown session.
  virtual Status revoke_session(const std::string& id_hash, TimePoint at) = 0;
  // Revokes every live session of the user (sign out everywhere, disable)
  // and returns how many. Revoked stays revoked: enabling the user again
  // brings none back.
  virtual Result<std::size_t> revoke_user_sessions(const std::string& user, TimePoint at) = 0;
};

class UsersReader {
 public:
  virtual ~UsersReader() = default;
  virtual Result<std::optional<UserRecord>> user(const std::string& name) = 0;
  virtual Result<std::vector<UserRecord>> users() = 0;  // by name
  virtual Result<std::optional<TokenRecord>> token(const std::string& id) = 0;
  virtual Result<std::vector<TokenRecord>> tokens(const std::string& user) = 0;  // by id
  virtual Result<std::optional<SessionRecord>> session(const std::string& id_hash) = 0;
};

}  // namespace hoist::store
