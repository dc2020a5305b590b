#include "core/request.h"

#include <fmt/format.h>

#include "core/principal.h"

namespace hoist {

std::string_view to_string(RequestState s) {
  switch (s) {
    case RequestState::kPending: return "pending";
    case RequestState::kApproved: return "approved";
    case RequestState::kActive: return "active";
    case RequestState::kDenied: return "denied";
    case RequestState::kCancelled: return "cancelled";
    case RequestState::kExpired: return "expired";
    case RequestState::kRevoked: return "revoked";
  }
  return "unknown";
}

std::string_view to_string(RequestKind k) {
  return k == RequestKind::kSession ? "session" : "command";
}

bool is_terminal(RequestState s) {
  return s == RequestState::kDenied || s == RequestState::kCancelled || s == RequestState::kExpired ||
         s == RequestState::kRevoked;
}

Result<Request> open_request(const NewRequest& in, const Decision& decision, Seconds request_expiry, TimePoint now) {
  if (decision.action != Action::kRequest) {
    return invalid_argument(fmt::format("cannot open a request for a \"{}\" decision", to_string(decision.action)));
  }
  if (in.id.empty()) return invalid_argument("a request needs an id");
  if (in.requester.empty()) return invalid_argument("a request needs the requesting user");
  if (in.justification.find_first_not_of(" \t\r\n") == std::string::npos) {
    return invalid_argument("a justification is required: say why you need this");
  }
  if (in.duration && *in.duration <= Seconds{0}) return invalid_argument("the requested duration must be positive");
  if (request_expiry <= Seconds{0}) return invalid_argument("the pending-request expiry must be positive");
  Request r;
  r.id = in.id;
  r.kind = in.kind;
  r.requester = in.requester;
  r.host = in.host;
  r.rule = decision.rule != nullptr ? decision.rule->name : std::string();
  r.justification = in.justification;
  r.max_duration = decision.max_duration;
  r.requested_duration = cap_duration(in.duration.value_or(decision.default_duration), decision.max_duration);
  r.approval_mode = decision.approval;
  r.self_approval_allowed = decision.self_approval_allowed;
  r.created_at = now;
  r.pending_deadline = now + request_expiry;
  r.state = RequestState::kPending;
  return r;
}

RequestState effective_state(const Request& r, TimePoint now) {
  switch (r.state) {
    case RequestState::kPending: return now >= r.pending_deadline ? RequestState::kExpired : r.state;
    case RequestState::kApproved:
    case RequestState::kActive: return r.grant_deadline && now >= *r.grant_deadline ? RequestState::kExpired : r.state;
    default: return r.state;
  }
}

Seconds grant_time_left(const Request& r, TimePoint now) {
  const RequestState s = effective_state(r, now);
  if ((s != RequestState::kApproved && s != RequestState::kActive) || !r.grant_deadline) return Seconds{0};
  return *r.grant_deadline - now;
}

namespace {

Error wrong_state(const Request& r, RequestState effective, std::string_view what) {
  return conflict(fmt::format("cannot {} request {}: it is {}", what, r.id, to_string(effective)));
}

Request approved(Request r, Review review, Seconds duration, TimePoint now) {
  r.state = RequestState::kApproved;
  r.review = std::move(review);
  r.grant_start = now;
  r.grant_deadline = now + duration;
  return r;
}

struct Apply {
  const Request& r;
  TimePoint now{};
  RequestState eff = RequestState::kPending;

  // The granted duration: the requested one, or a shorter one.
  Result<Seconds> duration_of(const std::optional<Seconds>& asked) const {
    if (!asked) return r.requested_duration;
    if (*asked <= Seconds{0}) return invalid_argument("the approved duration must be positive");
    if (*asked > r.requested_duration) {
      return invalid_argument(fmt::format("an approval may shorten the grant but not lengthen it: {} were requested",
                                          format_duration(r.requested_duration)));
    }
    return *asked;
  }

  Result<Request> operator()(const event::Approve& e) const {
    if (eff != RequestState::kPending) return wrong_state(r, eff, "approve");
    if (e.reviewer.empty()) return invalid_argument("an approval needs the reviewer's name");
    if (same_principal(e.reviewer, r.requester)) {
      return permission_denied(
          fmt::format("{} cannot approve request {}: it was made by {}, the same person. Where the policy allows "
                      "self-approval, the requester approves it on their endpoint (sudo's prompt, or hoist elevate "
                      "--self-approve), where the agent vouches for who they are",
                      e.reviewer, r.id, r.requester));
    }
    auto duration = duration_of(e.duration);
    if (!duration) return duration.error();
    return approved(r, Review{Review::By::kApprover, e.reviewer, true, e.comment, now}, *duration, now);
  }

  Result<Request> operator()(const event::SelfApprove& e) const {
    if (eff != RequestState::kPending) return wrong_state(r, eff, "self-approve");
    if (e.requester.empty()) return invalid_argument("a self-approval needs the requester's name");
    if (e.requester != r.requester) {
      return permission_denied(
          fmt::format("{} cannot self-approve request {}: only its requester may", e.requester, r.id));
    }
    if (!r.self_approval_allowed) {
      return permission_denied(fmt::format(
          "{} cannot approve their own request {}: the policy does not allow self-approval for it", e.requester, r.id));
    }
    auto duration = duration_of(e.duration);
    if (!duration) return duration.error();
    return approved(r, Review{Review::By::kSelf, e.requester, true, e.comment, now}, *duration, now);
  }

  Result<Request> operator()(const event::AutoApprove& e) const {
    if (eff != RequestState::kPending) return wrong_state(r, eff, "auto-approve");
    if (r.approval_mode != ApprovalMode::kAutonomous) {
      return permission_denied(fmt::format("request {} is not in autonomous approval mode", r.id));
    }
    if (e.auto_approval.empty()) return invalid_argument("an autonomous approval must name its entry");
    return approved(r, Review{Review::By::kAutonomous, e.auto_approval, true, {}, now}, r.requested_duration, now);
  }

  Result<Request> operator()(const event::Deny& e) const {
    if (eff != RequestState::kPending) return wrong_state(r, eff, "deny");
    if (e.reviewer.empty()) return invalid_argument("a denial needs the reviewer's name");
    if (same_principal(e.reviewer, r.requester)) {
      return permission_denied(
          fmt::format("{} cannot review request {}: it was made by {}, the same person; "
                      "the requester cancels it instead",
                      e.reviewer, r.id, r.requester));
    }
    Request out = r;
    out.state = RequestState::kDenied;
    out.review = Review{Review::By::kApprover, e.reviewer, false, e.comment, now};
    out.ended_at = now;
    out.ended_by = e.reviewer;
    return out;
  }

  Result<Request> operator()(const event::Cancel& e) const {
    if (eff != RequestState::kPending) return wrong_state(r, eff, "cancel");
    Request out = r;
    out.state = RequestState::kCancelled;
    out.ended_at = now;
    out.ended_by = e.actor;
    return out;
  }

  Result<Request> operator()(const event::Activate&) const {
    if (eff != RequestState::kApproved && eff != RequestState::kActive) return wrong_state(r, eff, "use the grant of");
    Request out = r;
    out.state = RequestState::kActive;
    return out;
  }

  Result<Request> operator()(const event::Revoke& e) const {
    if (eff != RequestState::kApproved && eff != RequestState::kActive) return wrong_state(r, eff, "revoke");
    if (e.actor.empty()) return invalid_argument("a revocation needs the actor's name");
    Request out = r;
    out.state = RequestState::kRevoked;
    out.ended_at = now;
    out.ended_by = e.actor;
    out.end_reason = e.reason;
    return out;
  }

  Result<Request> operator()(const event::Expire&) const {
    if (eff != RequestState::kExpired || r.state == RequestState::kExpired) {
      return conflict(fmt::format("request {} is {} and not due to expire", r.id, to_string(eff)));
    }
    Request out = r;
    out.state = RequestState::kExpired;
    out.ended_at = r.state == RequestState::kPending ? r.pending_deadline : *r.grant_deadline;
    return out;
  }
};

}  // namespace

Result<Request> transition(const Request& r, const RequestEvent& e, TimePoint now) {
  return std::visit(Apply{r, now, effective_state(r, now)}, e);
}

}  // namespace hoist
