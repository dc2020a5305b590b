// The audit events hoistd records, one type per kind (core/audit_kind.h):
// the fields each kind's details hold, and their JSON. Every field of a
// details object hoistd writes is written here and nowhere else; the text
// is what earlier versions wrote, byte for byte, field order included
// (audit chains hold it; `hoist audit` and the console read it). Text from
// a request body goes through json_text (invalid UTF-8 becomes U+FFFD)
// exactly where it did before.
//
// A field without a default is one every event of its kind holds: an
// initializer that leaves it out does not compile (-Wextra's
// missing-field-initializers, an error in this build). `{}` marks the
// optional ones.
// Pure: no I/O, no clock.
#pragma once

#include <boost/json/object.hpp>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/audit_kind.h"
#include "core/duration.h"
#include "core/policy.h"
#include "core/request.h"
#include "core/sha256.h"
#include "store/store.h"

namespace hoist::app::audited {

// --- requests and grants -------------------------------------------------

// A request the policy denies outright (no request is stored).
struct RequestRefused {
  std::string user;
  std::string path;
  std::string rule;  // "" for the default
  std::string reason;

  static constexpr AuditKind kind() { return AuditKind::kRequestRefused; }
  [[nodiscard]] boost::json::object details() const;
};

// Submissions of one endpoint that the throttle refused
// (submission_throttle.h): one event for many, at most one per endpoint per
// report window, so a flood is on the trail without an event per attempt.
struct RequestThrottled {
  std::uint64_t throttled;          // refused since this endpoint's last request.throttled
  std::uint64_t by_endpoint_limit;  // of those, over the endpoint's limit (the rest over a user's)
  TimePoint first_at;               // the first and the last of them
  TimePoint last_at;
  std::string last_user;  // the user name the last one was sent for (the agent's word)

  static constexpr AuditKind kind() { return AuditKind::kRequestThrottled; }
  [[nodiscard]] boost::json::object details() const;
};

// Uploads of one endpoint's events cut short by its limit
// (upload_throttle.h), counted since its last endpoint.events_throttled.
struct EndpointEventsThrottled {
  std::uint64_t uploads;  // uploads cut short or refused
  std::uint64_t events;   // events not taken from them (sent again later; a re-sent one counted again)
  TimePoint first_at;
  TimePoint last_at;

  static constexpr AuditKind kind() { return AuditKind::kEndpointEventsThrottled; }
  [[nodiscard]] boost::json::object details() const;
};

struct RequestCreated {
  std::string requester;
  RequestKind request_kind;
  std::string path;
  std::vector<std::string> argv;
  std::string runas;
  std::string runas_group;
  std::optional<Sha256> sha256;
  std::string rule;
  ApprovalMode approval_mode;
  std::string justification;
  Seconds requested_duration;

  static constexpr AuditKind kind() { return AuditKind::kRequestCreated; }
  [[nodiscard]] boost::json::object details() const;
};

// An auto-approval rule approved the request as it was created.
struct RequestAutoApproved {
  std::string auto_approval;  // the rule's name (the actor is "auto-approval:<name>")
  std::optional<TimePoint> grant_deadline;

  static constexpr AuditKind kind() { return AuditKind::kRequestApproved; }
  [[nodiscard]] boost::json::object details() const;
};

// The changes to a stored request (RequestService, request_service.h). Their details
// end with the request's state, requester and grant_deadline after the
// change (RequestChange below).

struct RequestApproved {  // by an approver
  std::string comment;

  static constexpr AuditKind kind() { return AuditKind::kRequestApproved; }
  [[nodiscard]] boost::json::object details() const;
};

struct RequestSelfApproved {  // by the requester, through their endpoint
  std::string via;            // the endpoint's actor ("agent:<id>")
  std::string comment;

  static constexpr AuditKind kind() { return AuditKind::kRequestApproved; }
  [[nodiscard]] boost::json::object details() const;
};

struct RequestDenied {
  std::string comment;

  static constexpr AuditKind kind() { return AuditKind::kRequestDenied; }
  [[nodiscard]] boost::json::object details() const;
};

struct RequestCancelled {
  std::string user;

  static constexpr AuditKind kind() { return AuditKind::kRequestCancelled; }
  [[nodiscard]] boost::json::object details() const;
};

struct RequestExpired {  // unanswered
  static constexpr AuditKind kind() { return AuditKind::kRequestExpired; }
  [[nodiscard]] boost::json::object details() const;
};

struct GrantRevoked {
  std::string reason;

  static constexpr AuditKind kind() { return AuditKind::kGrantRevoked; }
  [[nodiscard]] boost::json::object details() const;
};

struct GrantExpired {  // its deadline passed
  static constexpr AuditKind kind() { return AuditKind::kGrantExpired; }
  [[nodiscard]] boost::json::object details() const;
};

using RequestChange = std::variant<RequestApproved, RequestSelfApproved, RequestDenied, RequestCancelled,
                                   RequestExpired, GrantRevoked, GrantExpired>;

AuditKind kind_of(const RequestChange& change);
// The change's own fields, then "state", "requester" and (once there is
// one) "grant_deadline" of the request after it.
boost::json::object details_of(const RequestChange& change, const Request& after);

// --- policies ------------------------------------------------------------

struct PolicyVersionAdded {
  std::int64_t version;
  std::string comment;
  std::string diff;  // against the current version, bounded
  bool diff_truncated;

  static constexpr AuditKind kind() { return AuditKind::kPolicyVersionAdded; }
  [[nodiscard]] boost::json::object details() const;
};

struct PolicyAssigned {
  std::vector<std::string> labels;
  std::vector<std::string> previous_labels;

  static constexpr AuditKind kind() { return AuditKind::kPolicyAssigned; }
  [[nodiscard]] boost::json::object details() const;
};

struct PolicyDeleted {
  static constexpr AuditKind kind() { return AuditKind::kPolicyDeleted; }
  [[nodiscard]] boost::json::object details() const;
};

// --- endpoints -----------------------------------------------------------

struct EnrolmentTokenCreated {
  std::vector<std::string> labels;
  int uses;
  TimePoint expires_at;

  static constexpr AuditKind kind() { return AuditKind::kEnrolmentTokenCreated; }
  [[nodiscard]] boost::json::object details() const;
};

struct EnrolmentTokenRevoked {
  static constexpr AuditKind kind() { return AuditKind::kEnrolmentTokenRevoked; }
  [[nodiscard]] boost::json::object details() const;
};

struct EndpointEnrolled {
  std::string enrolment_token;  // the token's id
  std::vector<std::string> labels;
  std::string agent_version;
  std::string remote;  // the agent's address

  static constexpr AuditKind kind() { return AuditKind::kEndpointEnrolled; }
  [[nodiscard]] boost::json::object details() const;
};

struct EndpointRetired {
  static constexpr AuditKind kind() { return AuditKind::kEndpointRetired; }
  [[nodiscard]] boost::json::object details() const;
};

// Never the key.
struct EndpointCodesKeyRotated {
  std::uint32_t old_generation;
  std::uint32_t new_generation;

  static constexpr AuditKind kind() { return AuditKind::kEndpointCodesKeyRotated; }
  [[nodiscard]] boost::json::object details() const;
};

// An event an agent uploaded, of any kind (a newer agent's too): audited as
// "endpoint.<kind>" (not a kind of this list, so no kind()), its details
// as the agent sent them with hoistd's fields set on top.
struct EndpointEvent {
  std::string agent_kind;
  boost::json::object agent_details;
  std::string event_id;
  TimePoint endpoint_time;
  // For a code.used event: the issued code its use marked (nullopt: none
  // matched), or why its details could not be read.
  struct CodeMatch {
    std::optional<std::int64_t> issued_code_id;
  };
  struct CodeUnreadable {
    std::string problem;
  };
  std::variant<std::monostate, CodeMatch, CodeUnreadable> code_use{};

  [[nodiscard]] std::string action() const;
  [[nodiscard]] boost::json::object details() const;
};

// --- admin codes ---------------------------------------------------------

// Never the code itself.
struct CodeIssued {
  std::string endpoint;  // its id
  std::string user;
  std::int64_t duration_s;
  std::string command;
  std::string reason;
  std::uint32_t generation;
  struct Response {
    std::uint32_t nonce;  // the challenge's
  };
  struct PreIssued {
    std::uint32_t code_id;
    std::uint32_t days;
  };
  using Code = std::variant<Response, PreIssued>;
  Code code;
  std::int64_t issued_code_id;  // the issued code's record

  static constexpr AuditKind kind() { return AuditKind::kCodeIssued; }
  [[nodiscard]] boost::json::object details() const;
};

// --- users and API tokens ------------------------------------------------

struct UserCreated {
  store::Role role;

  static constexpr AuditKind kind() { return AuditKind::kUserCreated; }
  [[nodiscard]] boost::json::object details() const;
};

// What changed: only the fields given. A disabled user or a new password
// revokes the user's sessions and tokens (how many, then).
struct UserUpdated {
  std::optional<store::Role> role{};
  std::optional<bool> disabled{};
  bool password_changed = false;
  std::optional<std::size_t> sessions_revoked{};
  std::optional<std::size_t> tokens_revoked{};

  static constexpr AuditKind kind() { return AuditKind::kUserUpdated; }
  [[nodiscard]] boost::json::object details() const;
};

struct UserLogin {
  std::string remote;
  bool step_up = false;  // the password confirmed again in a session (POST /api/v1/session/reauth)

  static constexpr AuditKind kind() { return AuditKind::kUserLogin; }
  [[nodiscard]] boost::json::object details() const;
};

// The name is only claimed: the target, never the actor.
struct UserLoginFailed {
  std::string remote;
  bool known_user;  // known and enabled: the password was wrong
  bool step_up = false;

  static constexpr AuditKind kind() { return AuditKind::kUserLoginFailed; }
  [[nodiscard]] boost::json::object details() const;
};

struct UserLogout {
  static constexpr AuditKind kind() { return AuditKind::kUserLogout; }
  [[nodiscard]] boost::json::object details() const;
};

struct TokenCreated {
  std::string label;
  std::optional<TimePoint> expires_at;

  static constexpr AuditKind kind() { return AuditKind::kTokenCreated; }
  [[nodiscard]] boost::json::object details() const;
};

// At most once an hour per token (each action it takes is audited anyway).
struct TokenUsed {
  std::string label;

  static constexpr AuditKind kind() { return AuditKind::kTokenUsed; }
  [[nodiscard]] boost::json::object details() const;
};

struct TokenRevoked {
  std::string user;  // the token's

  static constexpr AuditKind kind() { return AuditKind::kTokenRevoked; }
  [[nodiscard]] boost::json::object details() const;
};

// --- access ----------------------------------------------------------------

// An authenticated user called a route their role may not call (403): the
// attempt, not what it would have changed.
struct AccessDenied {
  std::string method;
  std::string route;  // the route's pattern ("/api/v1/notify/channels")
  store::Role role;
  std::string needs;  // the role the route needs

  static constexpr AuditKind kind() { return AuditKind::kAccessDenied; }
  [[nodiscard]] boost::json::object details() const;
};

// --- notification channels (docs/notifications.md) ---------------------------
// Never a secret: only whether one was set or rotated.

struct ChannelCreated {
  std::string kind_name;  // the channel's kind ("webhook")
  std::string name;
  std::string config;  // its JSON object text, without secrets, URLs redacted (notify::audited_config)
  std::vector<std::string> events;
  bool enabled;
  std::vector<std::string> labels{};  // routing filters; empty: any
  std::vector<std::string> rules{};

  static constexpr AuditKind kind() { return AuditKind::kNotifyChannelCreated; }
  [[nodiscard]] boost::json::object details() const;
};

// What changed: only the fields given.
struct ChannelUpdated {
  std::optional<std::string> name{};
  std::optional<std::string> config{};
  std::optional<std::vector<std::string>> events{};
  std::optional<std::vector<std::string>> labels{};  // with rules: the filters changed
  std::optional<std::vector<std::string>> rules{};
  std::optional<bool> enabled{};
  bool secret_rotated = false;
  std::optional<TimePoint> previous_secret_valid_until{};

  static constexpr AuditKind kind() { return AuditKind::kNotifyChannelUpdated; }
  [[nodiscard]] boost::json::object details() const;
};

struct ChannelDeleted {
  std::string name;
  std::size_t pending_dropped;

  static constexpr AuditKind kind() { return AuditKind::kNotifyChannelDeleted; }
  [[nodiscard]] boost::json::object details() const;
};

// The event a test message delivers (to its one channel).
struct ChannelTested {
  std::string name;

  static constexpr AuditKind kind() { return AuditKind::kNotifyChannelTested; }
  [[nodiscard]] boost::json::object details() const;
};

struct DeliveryRedriven {
  std::string channel;  // its id
  std::uint64_t audit_seq;
  std::string last_error;

  static constexpr AuditKind kind() { return AuditKind::kNotifyDeliveryRedriven; }
  [[nodiscard]] boost::json::object details() const;
};

// One of the types above with a kind of its own.
template <class E>
concept Event = requires(const E& e) {
  { E::kind() } -> std::same_as<AuditKind>;
  { e.details() } -> std::same_as<boost::json::object>;
};

}  // namespace hoist::app::audited
