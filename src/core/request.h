// The life of an elevation request and the grant it becomes, as pure
// transitions of (request, event, now):
//
//   pending --approve/auto-approve--> approved --activate--> active
//   pending --deny--> denied          approved|active --revoke--> revoked
//   pending --cancel--> cancelled     approved|active --expire--> expired
//   pending --expire--> expired
//
// MUST: deadlines stored in the request are the truth. A pending request is
// expired from its pending_deadline on (inclusive), a grant from its
// grant_deadline on; effective_state() says so even before an Expire event
// was recorded, so a restart or a missed timer never extends anything.
// MUST: nobody reviews their own request: a reviewer who is the requester
// (same_principal, core/principal.h: case, realm and domain do not make
// another person) is refused. The one exception is SelfApprove, which only
// the requester's own endpoint sends (its agent vouches for the local
// user), and only when self-approval was granted when the request was made.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/duration.h"
#include "core/evaluator.h"
#include "core/policy.h"
#include "core/result.h"

namespace hoist {

enum class RequestState { kPending, kApproved, kActive, kDenied, kCancelled, kExpired, kRevoked };
enum class RequestKind { kCommand, kSession };

std::string_view to_string(RequestState s);
std::string_view to_string(RequestKind k);
bool is_terminal(RequestState s);

struct Review {
  enum class By { kApprover, kSelf, kAutonomous };
  By by = By::kApprover;
  std::string reviewer;  // user name, or the auto-approval entry's name
  bool approved = false;
  std::string comment;
  TimePoint at{};
};

struct Request {
  std::string id;
  RequestKind kind = RequestKind::kCommand;
  std::string requester;
  std::string host;
  std::string rule;  // the request rule that applied; empty for the policy default
  std::string justification;
  Seconds requested_duration{0};
  Seconds max_duration{0};
  ApprovalMode approval_mode = ApprovalMode::kManual;
  bool self_approval_allowed = false;
  TimePoint created_at{};
  TimePoint pending_deadline{};
  RequestState state = RequestState::kPending;
  std::optional<Review> review;
  std::optional<TimePoint> grant_start;
  std::optional<TimePoint> grant_deadline;
  std::optional<TimePoint> ended_at;  // cancelled, expired or revoked
  std::string ended_by;
  std::string end_reason;
};

struct NewRequest {
  std::string id;
  RequestKind kind = RequestKind::kCommand;
  std::string requester;
  std::string host;
  std::string justification;
  std::optional<Seconds> duration;  // nullopt: the decision's default
};

// Opens a request from a request decision. Fails when the decision is not a
// request, the justification is empty, or ids are missing. A duration above
// the decision's maximum is capped to it (the cap is the policy's word).
Result<Request> open_request(const NewRequest& in, const Decision& decision, Seconds request_expiry, TimePoint now);

namespace event {
// An approver's approval; never the requester's (see SelfApprove).
struct Approve {
  std::string reviewer;
  std::optional<Seconds> duration;  // shorter than requested, never longer
  std::string comment;
};
// The requester approves their own request, as their endpoint's agent
// vouches (it identified the local user by SO_PEERCRED). `requester` must be
// the request's requester exactly, and self-approval must have been granted.
struct SelfApprove {
  std::string requester;
  std::optional<Seconds> duration;  // shorter than requested, never longer
  std::string comment;
};
struct AutoApprove {
  std::string auto_approval;  // the entry's name
};
struct Deny {
  std::string reviewer;
  std::string comment;
};
struct Cancel {
  std::string actor;
};
struct Activate {};
struct Revoke {
  std::string actor;
  std::string reason;
};
struct Expire {};
}  // namespace event

using RequestEvent = std::variant<event::Approve, event::SelfApprove, event::AutoApprove, event::Deny, event::Cancel,
                                  event::Activate, event::Revoke, event::Expire>;

// Applies one event. Invalid transitions fail with Conflict (wrong state),
// PermissionDenied (own request) or InvalidArgument (bad duration), and a
// message that says why.
Result<Request> transition(const Request& r, const RequestEvent& e, TimePoint now);

// The state with deadlines applied: what the request is at `now`, whether
// or not an Expire event has been recorded yet.
RequestState effective_state(const Request& r, TimePoint now);

// Time a grant has left at `now` (zero when not approved/active or past its
// deadline).
Seconds grant_time_left(const Request& r, TimePoint now);

}  // namespace hoist
