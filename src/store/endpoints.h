// Enrolled endpoints in the store and the enrolment tokens that let agents
// enrol. Only hashes of their secrets are stored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/result.h"

namespace hoist::store {

// An enrolment token: lets `uses_left` more agents enrol until it expires,
// giving them its labels. Only the secret's hash is stored.
struct EnrollmentTokenRecord {
  std::string id;
  std::string secret_hash;
  std::vector<std::string> labels;
  int uses_left = 1;
  TimePoint expires_at{};
  std::string created_by;
  TimePoint created_at{};
  std::optional<TimePoint> revoked_at;
};

// An enrolled endpoint. Its agent proves `credential_hash`'s secret on
// every call; retiring the endpoint erases the hash, so the credential dies.
struct EndpointRecord {
  std::string id;
  std::string hostname;
  std::vector<std::string> labels;
  std::string credential_hash;
  std::string agent_version;
  TimePoint enrolled_at{};
  std::optional<TimePoint> last_seen;
  std::optional<TimePoint> retired_at;
  // The generation of its offline admin-code key (docs/admin-codes.md):
  // rotation moves it, so every code made for the old key stops fitting.
  std::uint32_t codes_key_generation = 1;
};

// Inside a write transaction.
class EndpointsTx {
 public:
  virtual ~EndpointsTx() = default;
  // Conflict when the id is taken; InvalidArgument for no secret hash or
  // fewer than one use.
  virtual Status insert_enrollment_token(const EnrollmentTokenRecord& token) = 0;
  // Takes one use of the token, atomically: two agents racing for the last
  // use cannot both have it. NotFound for an unknown id; PermissionDenied,
  // saying why, when it is revoked, expired (at `now`, inclusive) or used
  // up. Returns the token after the use.
  virtual Result<EnrollmentTokenRecord> use_enrollment_token(const std::string& id, TimePoint now) = 0;
  virtual Status revoke_enrollment_token(const std::string& id, TimePoint at) = 0;
  // Conflict when the id is taken.
  virtual Status insert_endpoint(const EndpointRecord& endpoint) = 0;
  // Records last-seen time and agent version. NotFound for an unknown id,
  // PermissionDenied for a retired endpoint.
  virtual Status record_heartbeat(const std::string& id, TimePoint at, const std::string& agent_version) = 0;
  // Sets retired_at (once) and erases the credential hash. NotFound for an
  // unknown id.
  virtual Status retire_endpoint(const std::string& id, TimePoint at) = 0;
  // Moves the endpoint's codes key to the next generation and returns it.
  // NotFound for an unknown or retired endpoint.
  virtual Result<std::uint32_t> bump_codes_key_generation(const std::string& endpoint_id) = 0;
};

class EndpointsReader {
 public:
  virtual ~EndpointsReader() = default;
  virtual Result<std::optional<EnrollmentTokenRecord>> enrollment_token(const std::string& id) = 0;
  // Every enrolment token, revoked, used up and expired ones included; newest first.
  virtual Result<std::vector<EnrollmentTokenRecord>> enrollment_tokens() = 0;
  virtual Result<std::optional<EndpointRecord>> endpoint(const std::string& id) = 0;
  virtual Result<std::vector<EndpointRecord>> endpoints() = 0;  // by id, retired ones included
};

}  // namespace hoist::store
