// hoist-agent's durable local state: its identity, the last good policy,
// grants, the requests it submitted, the event outbox and the push cursor.
//
// MUST: every operation returns a Result/Status and never throws across this
// interface; the caller decides how to fail closed.
// MUST: no clock inside: every time is passed in by the caller.
// MUST: a grant's stored deadline is the truth. A grant is active at `now`
// while now < deadline and it is not revoked; the deadline itself is expired.
// MUST: a revocation is sticky: once a grant is revoked, no later upsert
// (a stale copy from the server, an offline code) makes it active again.
// MUST: enqueue returns only once the event is durable, and an event leaves
// the outbox only when acknowledged. Nothing is dropped silently: past the
// cap, enqueue fails with Unavailable and stores nothing.
// MUST: an event leaves the outbox without an acknowledgement only into the
// quarantine (hoistd refused it for good), in the transaction that queues
// the report of it.
// MUST: bad input (over-long, malformed, NUL bytes) is refused with
// InvalidArgument before anything is written; both implementations share
// the checks below, so the fake refuses exactly what the real store does.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.h"
#include "core/grant.h"
#include "core/result.h"

namespace hoist::agent {

// Event times are milliseconds since the Unix epoch (the audit trail's unit).
using EventTime = std::chrono::sys_time<std::chrono::milliseconds>;

// What enrolment gave this endpoint. The credential is a secret: the store
// keeps it only in a 0600 file in a 0700 directory.
// At most this many hoistd URLs in an identity (net::kMaxServers).
inline constexpr std::size_t kMaxServerUrls = 16;

struct Identity {
  std::string server_url;  // https://..., the first hoistd URL the agent tries
  // The other replicas' URLs, tried in this order after server_url when it
  // cannot be reached (net/client/failover_client.h); all share the one CA
  // pin. Empty for an endpoint enrolled with one URL.
  std::vector<std::string> fallback_server_urls;
  std::string ca_pin_sha256;  // SHA-256 of the server CA, 64 lowercase hex digits
  std::string endpoint_id;
  std::string credential;  // hoist_agent_...
  std::string hostname;
  std::vector<std::string> labels;
  TimePoint enrolled_at{};
  // The host key for offline admin codes (docs/admin-codes.md): 32 bytes,
  // or empty when hoistd has none; its generation (0 with no key). A secret
  // like the credential.
  std::vector<std::uint8_t> codes_key;
  std::uint32_t codes_key_generation = 0;

  bool operator==(const Identity&) const = default;
};

// server_url, then the fallbacks.
std::vector<std::string> server_urls(const Identity& identity);

// Which hoistd URL answered the agent last, since when (for status and
// doctor; a hint, not a decision).
struct ServerAnswer {
  std::string url;
  TimePoint since{};

  bool operator==(const ServerAnswer&) const = default;
};

struct PolicyDocument {
  std::string name;
  int version = 0;   // >= 1
  std::string text;  // TOML, opaque here

  bool operator==(const PolicyDocument&) const = default;
};

// The last policy the server sent that the agent could compile.
struct PolicySnapshot {
  std::string etag;
  TimePoint fetched_at{};
  std::vector<std::string> labels;
  std::vector<PolicyDocument> documents;  // names unique; order kept

  bool operator==(const PolicySnapshot&) const = default;
};

// A request this endpoint submitted and is waiting on.
struct PendingRequest {
  std::string id;  // the server's request id
  std::uint32_t uid = 0;
  std::string user;
  std::string command_summary;  // for `hoist status`; shown, never parsed
  TimePoint submitted_at{};
  std::string state;  // the last state the server reported, e.g. "pending"

  bool operator==(const PendingRequest&) const = default;
};

// An event waiting to be delivered to the server. The id makes delivery
// idempotent: the server drops an id it has already stored.
struct OutboxEvent {
  std::string id;       // 32 lowercase hex digits (128 random bits); see new_event_id()
  std::string kind;     // e.g. "decision", "grant.used", "break_glass" (core/audit_kind.h)
  EventTime time{};     // when it happened
  std::string payload;  // JSON text, opaque here

  bool operator==(const OutboxEvent&) const = default;
};

// An event hoistd refused for good (for what it holds, not for being sent
// at a bad moment): set aside so the outbox moves on, kept for a look, and
// reported to hoistd by a small event of its own.
struct QuarantinedEvent {
  OutboxEvent event;
  std::string reason;  // hoistd's answer
  TimePoint quarantined_at{};

  bool operator==(const QuarantinedEvent&) const = default;
};

// A challenge this agent showed a user (hoist code, or sudo's prompt), so
// that only a response to a challenge it made, for that user, is taken.
struct CodeChallengeRecord {
  std::uint32_t nonce = 0;  // 30 bits; unique among stored challenges
  std::uint32_t uid = 0;
  TimePoint issued_at{};
  TimePoint expires_at{};

  bool operator==(const CodeChallengeRecord&) const = default;
};

// One admin code used on this endpoint: never usable again. kind is
// "response" (ref = the challenge's nonce) or "preissued" (ref = its id);
// the key generation is part of the identity of a use.
struct CodeUse {
  std::string kind;
  std::uint32_t ref = 0;
  std::uint32_t generation = 0;
  std::uint32_t uid = 0;
  std::string user;
  std::string grant_id;
  TimePoint used_at{};

  bool operator==(const CodeUse&) const = default;
};

// Wrong codes entered by one uid since their last good one.
struct CodeAttempts {
  std::uint32_t failures = 0;
  TimePoint last_failure{};

  bool operator==(const CodeAttempts&) const = default;
};

// Limits on what is stored. Strings longer than these are refused, so a
// confused or hostile caller cannot fill the disk through one field.
inline constexpr std::size_t kMaxIdBytes = 128;
inline constexpr std::size_t kMaxNameBytes = 256;  // user, hostname, label, etag, kind, state, policy name
inline constexpr std::size_t kMaxUrlBytes = 2048;
inline constexpr std::size_t kMaxCredentialBytes = 512;
inline constexpr std::size_t kMaxLabels = 256;
inline constexpr std::size_t kMaxPathBytes = 4096;
inline constexpr std::size_t kMaxArgvPatterns = 256;
inline constexpr std::size_t kMaxSummaryBytes = 4096;
inline constexpr std::size_t kMaxPolicyDocuments = 1024;
inline constexpr std::size_t kMaxPolicyBytes = std::size_t{4} * 1024 * 1024;  // one document's text
inline constexpr std::size_t kMaxPolicySnapshotBytes = std::size_t{16} * 1024 * 1024;
inline constexpr std::size_t kMaxPayloadBytes = std::size_t{256} * 1024;
inline constexpr std::size_t kMaxBatch = 1000;          // next_batch, enqueue_all and acknowledge
inline constexpr std::size_t kMaxChallengesPerUid = 8;  // live challenges kept per user
inline constexpr std::size_t kMaxReasonBytes = 2000;    // a quarantined event's reason
inline constexpr std::size_t kMaxQuarantined = 100;     // the newest quarantined events are kept

// How much the outbox may hold before enqueue fails. The defaults hold weeks
// of a busy endpoint's events; an outbox that fills means the server has
// been unreachable for that long, which an operator must see, not a queue
// that quietly forgets.
struct OutboxLimits {
  std::uint64_t max_events = 200'000;
  std::uint64_t max_payload_bytes = std::uint64_t{512} * 1024 * 1024;
};

class AgentState {
 public:
  virtual ~AgentState() = default;
  AgentState() = default;
  AgentState(const AgentState&) = delete;
  AgentState& operator=(const AgentState&) = delete;

  // --- identity -------------------------------------------------------
  // nullopt before enrolment.
  virtual Result<std::optional<Identity>> identity() = 0;
  // Replaces the whole identity at once (a reader sees the old or the new).
  virtual Status set_identity(const Identity& identity) = 0;
  // nullopt until the daemon recorded one.
  virtual Result<std::optional<ServerAnswer>> server_answer() = 0;
  virtual Status set_server_answer(const ServerAnswer& answer) = 0;

  // --- last good policy -------------------------------------------------
  // nullopt until one was stored.
  virtual Result<std::optional<PolicySnapshot>> policy() = 0;
  // Replaces the whole snapshot at once.
  virtual Status set_policy(const PolicySnapshot& snapshot) = 0;

  // --- grants -----------------------------------------------------------
  // Inserts or replaces the grant with this id. A revocation already stored
  // is kept (revocations are sticky; the first time wins).
  virtual Status upsert_grant(const Grant& grant) = 0;
  // Records a revocation; a grant already revoked keeps its first time.
  // NotFound for an unknown id.
  virtual Status revoke_grant(const std::string& id, TimePoint at) = 0;
  virtual Result<std::optional<Grant>> grant(const std::string& id) = 0;
  // The grants of `uid` active at `now` (Grant::active_at), by deadline.
  virtual Result<std::vector<Grant>> active_grants(std::uint32_t uid, TimePoint now) = 0;
  // Every stored grant, by id.
  virtual Result<std::vector<Grant>> grants() = 0;
  // Deletes the grants that ended before `before`: deadline < before, or
  // revoked before it. Returns how many were deleted.
  virtual Result<std::size_t> delete_grants_ended_before(TimePoint before) = 0;

  // --- requests this endpoint submitted -------------------------------
  virtual Status upsert_pending_request(const PendingRequest& request) = 0;
  virtual Result<std::optional<PendingRequest>> pending_request(const std::string& id) = 0;
  // The user's requests, oldest first (ties by id).
  virtual Result<std::vector<PendingRequest>> pending_requests_for(std::uint32_t uid) = 0;
  // Returns whether there was one to remove.
  virtual Result<bool> remove_pending_request(const std::string& id) = 0;

  // --- event outbox -----------------------------------------------------
  // Returns once the event is durable (committed and synced). An id already
  // in the outbox is a no-op, whatever the rest of the event says. Unavailable
  // when the outbox is full (OutboxLimits); nothing is stored then.
  virtual Status enqueue(const OutboxEvent& event) = 0;
  // Up to kMaxBatch events in one transaction: all are stored or none.
  virtual Status enqueue_all(const std::vector<OutboxEvent>& events) = 0;
  // The oldest `limit` (1..kMaxBatch) events, in enqueue order.
  virtual Result<std::vector<OutboxEvent>> next_batch(std::size_t limit) = 0;
  // Deletes these events (up to kMaxBatch ids); unknown ids are ignored, a
  // malformed id is refused and nothing is deleted.
  virtual Status acknowledge(const std::vector<std::string>& ids) = 0;
  virtual Result<std::uint64_t> pending_count() = 0;

  // --- quarantine (events hoistd refused for good) ------------------------
  // In one transaction: moves the outbox event `id` to the quarantine with
  // `reason`, queues `report` when given (the outbox has room for it: the
  // event left it), and past kMaxQuarantined deletes the oldest
  // quarantined events. NotFound when `id` is not in the outbox.
  virtual Status quarantine(const std::string& id, const std::string& reason, TimePoint at,
                            const std::optional<OutboxEvent>& report) = 0;
  // The newest `limit` (1..kMaxBatch) quarantined events, newest first.
  virtual Result<std::vector<QuarantinedEvent>> quarantined(std::size_t limit) = 0;
  virtual Result<std::uint64_t> quarantined_count() = 0;

  // --- offline admin codes -------------------------------------------------
  // Stores a challenge; first deletes the expired ones (expires_at <= now)
  // and, past kMaxChallengesPerUid live ones of this uid, the oldest.
  // Conflict when the nonce is already stored or was ever used: draw again.
  virtual Status add_code_challenge(const CodeChallengeRecord& challenge, TimePoint now) = 0;
  // The stored challenge with this nonce (expired or not).
  virtual Result<std::optional<CodeChallengeRecord>> code_challenge(std::uint32_t nonce) = 0;
  // Whether this code was used.
  virtual Result<bool> code_used(std::string_view kind, std::uint32_t ref, std::uint32_t generation) = 0;
  // In one transaction: records the use, stores the grant, queues the
  // event, deletes the challenge (for a response) and clears the uid's
  // wrong attempts. Conflict, with nothing written, when the code was used
  // before: a code is good once, whatever happens after this returns.
  virtual Status redeem_code(const CodeUse& use, const Grant& grant, const OutboxEvent& event) = 0;
  // The uid's wrong attempts (zero when none are stored).
  virtual Result<CodeAttempts> code_attempts(std::uint32_t uid) = 0;
  // In one transaction: stores the uid's attempts and queues the event.
  virtual Status record_code_failure(std::uint32_t uid, const CodeAttempts& attempts, const OutboxEvent& event) = 0;

  // --- push cursor -------------------------------------------------------
  // The last push seq acknowledged to the server; 0 before the first.
  virtual Result<std::uint64_t> push_cursor() = 0;
  // At most INT64_MAX (the server's seqs are SQLite rowids).
  virtual Status set_push_cursor(std::uint64_t seq) = 0;
};

// A fresh event id: 128 bits from getrandom(2), as 32 lowercase hex digits.
// Unavailable when the kernel gives no randomness.
Result<std::string> new_event_id();

// The checks both implementations run before writing. InvalidArgument,
// naming the field and the limit, when something is refused.
Status validate(const Identity& identity);
Status validate(const ServerAnswer& answer);
Status validate(const PolicySnapshot& snapshot);
Status validate(const Grant& grant);
Status validate(const PendingRequest& request);
Status validate(const OutboxEvent& event);
Status validate(const CodeChallengeRecord& challenge);
Status validate(const CodeUse& use);
Status validate_record_id(std::string_view what, std::string_view id);  // grant / request ids
Status validate_event_id(std::string_view id);
Status validate_batch_limit(std::size_t limit);
Status validate_batch_size(std::string_view what, std::size_t size);  // enqueue_all, acknowledge
Status validate_push_cursor(std::uint64_t seq);
Status validate_quarantine_reason(std::string_view reason);

}  // namespace hoist::agent
