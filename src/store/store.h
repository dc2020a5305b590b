// Storage for hoistd behind one interface. Backends (SQLite today,
// PostgreSQL for several replicas) pass the same conformance suite
// (tests/store/store_conformance.h); nothing here names a backend's types.
//
// MUST: a write() is all or nothing: when the callback or any statement
// fails, nothing of it is stored.
// MUST: audit events are appended only through StoreTx::append_audit, which
// chains each event to the one before it inside the same transaction, so
// concurrent writers cannot fork the chain.
// MUST: append_audit refuses (Unavailable, naming the event) to append after
// an event that does not match its own hash, or when the newest event this
// store committed is gone or changed: nothing is chained to a tampered tail.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit.h"
#include "core/request.h"
#include "core/result.h"

namespace hoist::store {

// An audit event before the store gives it its place in the chain.
struct AuditDraft {
  AuditTime time{};
  std::string actor;
  std::string action;
  std::string target;
  std::string host;
  std::string details;  // JSON object text
};

struct AuditFilter {
  std::optional<AuditTime> since;  // inclusive
  std::optional<AuditTime> until;  // exclusive
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::optional<std::string> target;  // a request id, a policy name, ...
  std::optional<std::string> host;
  std::uint64_t after_seq = 0;  // pagination: events with seq > after_seq
  std::size_t limit = 100;      // at most kMaxPage
};

inline constexpr std::size_t kMaxPage = 1000;

// What was asked for, as the agent resolved it.
struct CommandInfo {
  std::string path;               // resolved absolute path ("" for a session)
  std::vector<std::string> argv;  // argv[0..]
  std::optional<Sha256> sha256;
  std::string package;             // owning Debian package, "" when none
  std::string runas_user{"root"};  // sudo -u: whom it runs as
  std::string runas_group{};       // sudo -g: "" when not given
};

// A request as stored: the core's state-machine record plus what it is
// about. `version` grows by one with every update (optimistic concurrency).
struct RequestRecord {
  Request request;
  CommandInfo command;
  std::vector<std::string> requester_groups;
  std::string endpoint_id;  // where it was asked; "" for none (stored before schema 7)
  std::int64_t version = 0;
};

struct RequestFilter {
  std::optional<RequestState> state;  // stored state (see effective_state)
  std::optional<std::string> requester;
  std::optional<std::string> host;
  std::optional<std::string> endpoint_id;
  std::string after_id;  // pagination: ids after this one, in id order
  std::size_t limit = 100;
};

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

// An offline admin code hoistd issued. Never the code itself: hoistd can
// recompute any code from its master key, so storing one would only give
// a copy of the database something to steal.
enum class IssuedCodeKind { kResponse, kPreIssued };
std::string_view to_string(IssuedCodeKind kind);  // "response", "preissued"
std::optional<IssuedCodeKind> parse_issued_code_kind(std::string_view text);

struct IssuedCode {
  std::int64_t id = 0;  // given by the store
  std::string endpoint_id;
  IssuedCodeKind kind = IssuedCodeKind::kResponse;
  std::int64_t ref = 0;  // the challenge's nonce (response) or the pre-issued id
  std::uint32_t generation = 1;
  std::string user;
  std::int64_t duration_s = 0;
  std::string command;  // "" for a session
  std::string issued_by;
  TimePoint issued_at{};
  std::optional<TimePoint> valid_until;  // pre-issued codes only
  std::optional<TimePoint> used_at;      // as the endpoint reported it
  std::optional<std::string> used_event_id;
};

struct IssuedCodeFilter {
  std::optional<std::string> endpoint_id;
  std::optional<std::string> user;
  std::size_t limit = 100;  // at most kMaxPage
};

// What an endpoint reported about a code's use: matched against the codes
// issued for it.
struct CodeUse {
  std::string endpoint_id;
  IssuedCodeKind kind = IssuedCodeKind::kResponse;
  std::int64_t ref = 0;
  std::uint32_t generation = 1;
  std::string user;
  TimePoint used_at{};
  std::string event_id;  // the agent's event that reported it
};

// One version of a named policy: the TOML text as an admin wrote it.
struct PolicyVersion {
  std::string name;
  int version = 0;  // 1, 2, 3, ...
  std::string text;
  std::string author;
  std::string comment;
  TimePoint created_at{};
};

// A named policy: its newest version and the endpoint groups (labels) it
// is assigned to. A deleted policy keeps its history but applies nowhere.
struct PolicyRecord {
  std::string name;
  int current_version = 0;
  std::vector<std::string> labels;
  std::optional<TimePoint> deleted_at;
};

// A message for one endpoint's push channel (a request's new state, a
// policy change, a new admin-code key). seq grows across all endpoints; an
// agent resumes after the last seq it processed, so a reconnect loses
// nothing.
struct PushMessage {
  std::uint64_t seq = 0;
  std::string endpoint_id;
  std::string kind;     // "request", "policy", "codes_key"
  std::string payload;  // JSON object text
  TimePoint created_at{};
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

// Operations inside one write transaction.
class StoreTx {
 public:
  virtual ~StoreTx() = default;
  // Appends an event after the current head; returns it with seq and hashes.
  // Unavailable when the head does not verify (see the MUST above): then
  // the whole write fails, so nothing changes unaudited.
  virtual Result<AuditEvent> append_audit(const AuditDraft& draft) = 0;

  // Stores a new request at version 1. Conflict when the id exists.
  virtual Result<RequestRecord> insert_request(const RequestRecord& record) = 0;
  virtual Result<std::optional<RequestRecord>> get_request(const std::string& id) = 0;
  // Replaces the request's state-machine fields when the stored version is
  // `record.version`; returns the record at version + 1. Conflict when
  // someone else updated it first, NotFound when it does not exist. The
  // command, requester and groups never change.
  virtual Result<RequestRecord> update_request(const RequestRecord& record) = 0;

  // A new user at version 1; Conflict when the name is taken.
  virtual Result<UserRecord> insert_user(const UserRecord& user) = 0;
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

  // Records an issued code (code.id is ignored) and returns it with its id.
  // Conflict when the endpoint's codes key is no longer at
  // code.generation (rotated meanwhile: the code would not fit); NotFound
  // for an unknown or retired endpoint; InvalidArgument for an empty user
  // or issuer.
  virtual Result<IssuedCode> insert_issued_code(const IssuedCode& code) = 0;
  // Marks the newest unused code matching the use's endpoint, kind, ref,
  // generation and user as used; returns its id, or nullopt when none
  // matches (already used, never issued here, or issued for another key).
  virtual Result<std::optional<std::int64_t>> mark_code_used(const CodeUse& use) = 0;

  // Adds the next version of policy `v.name` (creating the policy at
  // version 1), and returns it with its number. `expected_current` is the
  // version the writer read (0 for a new policy): Conflict when another
  // version was added meanwhile. Re-creating a deleted policy continues its
  // numbering. InvalidArgument for an empty name, text or author.
  virtual Result<PolicyVersion> add_policy_version(const PolicyVersion& v, int expected_current) = 0;
  // Replaces the endpoint groups the policy is assigned to. NotFound for an
  // unknown or deleted policy.
  virtual Status assign_policy(const std::string& name, const std::vector<std::string>& labels) = 0;
  // Marks the policy deleted (history kept, assignments removed). NotFound
  // for an unknown or already deleted policy.
  virtual Status delete_policy(const std::string& name, TimePoint at) = 0;

  // Queues a message for an endpoint; NotFound for an unknown endpoint.
  virtual Result<PushMessage> enqueue_push(const std::string& endpoint_id, const std::string& kind,
                                           const std::string& payload, TimePoint at) = 0;
  // Drops the endpoint's messages up to and including `seq` (acknowledged).
  virtual Status acknowledge_push(const std::string& endpoint_id, std::uint64_t seq) = 0;

  // Records that an agent's event `id` was received from `endpoint_id`, so
  // a re-sent event is recognised: true when it is new, false when this
  // endpoint sent it before. Conflict when another endpoint used the id;
  // NotFound for an unknown endpoint; InvalidArgument for an empty id or kind.
  virtual Result<bool> record_agent_event(const std::string& id, const std::string& endpoint_id,
                                          const std::string& kind, TimePoint at) = 0;

  // Conflict when the id hash is taken; NotFound for an unknown user.
  virtual Status insert_session(const SessionRecord& session) = 0;
  // Sets revoked_at once; NotFound for an unknown session.
  virtual Status revoke_session(const std::string& id_hash, TimePoint at) = 0;
  // Revokes every live session of the user (sign out everywhere, disable)
  // and returns how many. Revoked stays revoked: enabling the user again
  // brings none back.
  virtual Result<std::size_t> revoke_user_sessions(const std::string& user, TimePoint at) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Runs fn in one write transaction. Commits when fn returns ok, rolls back
  // otherwise (and on any store error); returns fn's error or the store's.
  virtual Status write(const std::function<Status(StoreTx&)>& fn) = 0;

  // Events matching the filter, in seq order, at most filter.limit.
  virtual Result<std::vector<AuditEvent>> audit_events(const AuditFilter& filter) = 0;
  // Events with seq in [first, first + count), in order: for verification.
  virtual Result<std::vector<AuditEvent>> audit_range(std::uint64_t first, std::size_t count) = 0;
  // The newest event's seq and hash; nullopt for an empty trail.
  virtual Result<std::optional<ChainHead>> audit_head() = 0;

  virtual Result<std::optional<RequestRecord>> request(const std::string& id) = 0;
  // Requests matching the filter, in id order, at most filter.limit.
  virtual Result<std::vector<RequestRecord>> requests(const RequestFilter& filter) = 0;
  // Requests whose stored state is pending, approved or active and whose
  // deadline has passed at `now` (for the expiry sweep), oldest deadline
  // first, at most `limit`.
  virtual Result<std::vector<RequestRecord>> due_requests(TimePoint now, std::size_t limit) = 0;

  virtual Result<std::optional<UserRecord>> user(const std::string& name) = 0;
  virtual Result<std::vector<UserRecord>> users() = 0;  // by name
  virtual Result<std::optional<TokenRecord>> token(const std::string& id) = 0;
  virtual Result<std::vector<TokenRecord>> tokens(const std::string& user) = 0;  // by id

  virtual Result<std::optional<EnrollmentTokenRecord>> enrollment_token(const std::string& id) = 0;
  // Every enrolment token, revoked, used up and expired ones included; newest first.
  virtual Result<std::vector<EnrollmentTokenRecord>> enrollment_tokens() = 0;
  virtual Result<std::optional<EndpointRecord>> endpoint(const std::string& id) = 0;
  virtual Result<std::vector<EndpointRecord>> endpoints() = 0;  // by id, retired ones included
  // Issued codes matching the filter, newest first, at most filter.limit.
  virtual Result<std::vector<IssuedCode>> issued_codes(const IssuedCodeFilter& filter) = 0;

  virtual Result<std::optional<PolicyRecord>> policy(const std::string& name) = 0;
  virtual Result<std::vector<PolicyRecord>> policies() = 0;  // by name, deleted ones included
  // One version, or nullopt.
  virtual Result<std::optional<PolicyVersion>> policy_version(const std::string& name, int version) = 0;
  // Every version, oldest first.
  virtual Result<std::vector<PolicyVersion>> policy_history(const std::string& name) = 0;
  // Live policies assigned to any of `labels` (an endpoint's groups), by name.
  virtual Result<std::vector<PolicyRecord>> policies_for_labels(const std::vector<std::string>& labels) = 0;

  // The endpoint's messages with seq > after_seq, in order, at most limit.
  virtual Result<std::vector<PushMessage>> push_after(const std::string& endpoint_id, std::uint64_t after_seq,
                                                      std::size_t limit) = 0;
  virtual Result<std::optional<SessionRecord>> session(const std::string& id_hash) = 0;

  // The schema version the store is at (the number of migrations applied).
  virtual Result<int> schema_version() = 0;
};

// Verifies the whole stored trail in pages; `expected_head` as in
// verify_chain. Fails only when the store cannot be read.
Result<ChainVerification> verify_stored_chain(Store& store, const std::optional<ChainHead>& expected_head,
                                              std::size_t page = kMaxPage);

}  // namespace hoist::store
