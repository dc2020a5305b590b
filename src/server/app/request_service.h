// The request lifecycle as hoistd's application service: submission (the
// server evaluates the endpoint's effective policy itself, opens the
// request, applies autonomous approval and the cap on waiting requests),
// reviews, self-approval, cancellation, revocation and expiry. Each step
// is one store transaction with its audit event and the push message to
// the request's endpoint. Typed inputs (the parsed body, who asks, the
// time), typed outcomes; the API parses and renders (handlers_requests.cpp).
//
// MUST: the server decides with its own copy of the policy; the agent's
// facts (path, digest, package, trust) are inputs, its opinion is not.
// MUST: every transition goes through the core's transition(), in one
// store transaction with its audit event and the push message to the
// request's endpoint; a second reviewer racing the first gets Conflict.
// MUST: an agent sees and acts on only its own endpoint's requests.
// MUST: a requester has at most kMaxPendingPerRequester requests waiting
// on one endpoint, and an endpoint at most kMaxPendingPerEndpoint, counted
// in the transaction that would add one.
// MUST: every submission passes throttle() before submit(); what it
// refuses is audited at most once per endpoint per report window
// (request.throttled, with how many), never once per attempt.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/evaluator.h"
#include "core/request.h"
#include "core/result.h"
#include "server/app/service_deps.h"
#include "server/app/submission_throttle.h"
#include "store/store.h"

namespace hoist::app {

// A requester may have at most this many requests waiting for a decision
// on one endpoint (docs/threat-model.md): one more is refused with
// RateLimited (429) and audited as request.refused. Auto-approved requests
// do not wait and do not count; a session request counts like a command.
inline constexpr std::size_t kMaxPendingPerRequester = 10;
// And one endpoint at most this many, whoever asked: the requester name is
// the agent's word, so an agent in a thief's hands could otherwise flood
// the approvers under made-up names. Ten users at their own cap fill it.
inline constexpr std::size_t kMaxPendingPerEndpoint = 100;

// An agent's elevation request as sent (POST /api/v1/agent/requests).
struct SubmitBody {
  struct Package {
    std::string name, origin, maintainer;
    bool verified = false;
  };
  std::string kind;
  std::string user;
  std::vector<std::string> groups;
  std::string justification;
  std::optional<std::int64_t> duration_s;
  std::string path;
  std::string real_path;  // the file behind a link under another name; "" otherwise
  std::vector<std::string> argv;
  std::optional<std::string> sha256;
  bool trusted_path = false;
  std::optional<Package> package;
  RunAs runas;  // sudo -u / -g as the agent resolved them (root when absent)
};

// A submission the throttle refused (submission_throttle.h): RateLimited,
// with what the user is told (through the agent, in sudo or `hoist
// elevate`), and how long to wait (the API's Retry-After).
struct Throttled {
  Error error;
  Seconds retry_after;
};

// What a submission came to: the policy's decision, and for a request the
// stored record (pending, or approved by an auto-approval rule).
struct SubmitOutcome {
  Action action = Action::kDeny;
  std::string reason;
  std::optional<store::RequestRecord> request;  // when action is kRequest
};

class RequestService {
 public:
  // Throws std::invalid_argument for throttle options that do not
  // validate (SubmissionThrottle::validate).
  explicit RequestService(ServiceDeps deps, const SubmissionThrottle::Options& throttle = {})
      : deps_(std::move(deps)), throttle_(throttle) {}

  // The faults of a submission on its own (its kind, a command's path, the
  // digest's form), before any policy is looked up. submit() checks them
  // too.
  static Status check(const SubmitBody& body);

  // Counts one submission of `user` by the agent `caller` against its
  // endpoint's limit and the user's on that endpoint: nullopt to go on
  // with submit(), or why not and for how long. A refusal is not audited
  // on its own: the first after a quiet window is audited at once as
  // request.throttled, the later ones are counted for report_throttled().
  std::optional<Throttled> throttle(const EndpointCaller& caller, const std::string& user, AuditTime now);

  // Audits one request.throttled event per endpoint whose refused
  // submissions wait to be reported and whose window has passed (every
  // one with `all`, at shutdown); returns how many. hoistd's sweep calls
  // it. A count that cannot be audited is kept for the next call.
  Result<std::size_t> report_throttled(AuditTime now, bool all = false);

  // Decides `body` with `policy` (the endpoint's effective policy) for the
  // agent `caller`; a deny is audited (request.refused) and stores
  // nothing, an allow stores nothing either.
  Result<SubmitOutcome> submit(const CompiledPolicy& policy, const EndpointCaller& caller, const SubmitBody& body,
                               std::chrono::system_clock::time_point now);

  // A console user's review and revocation.
  Result<store::RequestRecord> approve(const std::string& id, const UserCaller& by, std::optional<Seconds> duration,
                                       const std::string& comment, TimePoint now);
  Result<store::RequestRecord> deny(const std::string& id, const UserCaller& by, const std::string& comment,
                                    TimePoint now);
  Result<store::RequestRecord> revoke(const std::string& id, const UserCaller& by, const std::string& reason,
                                      TimePoint now);

  // The requester through their endpoint's agent: only a request of that
  // endpoint (NotFound otherwise), only their own (PermissionDenied).
  Result<store::RequestRecord> cancel(const EndpointCaller& caller, const std::string& id, const std::string& user,
                                      TimePoint now);
  Result<store::RequestRecord> self_approve(const EndpointCaller& caller, const std::string& id,
                                            const std::string& user, std::optional<Seconds> duration,
                                            const std::string& comment, TimePoint now);

  // Expires a request or grant whose deadline has passed (the sweep).
  Result<store::RequestRecord> expire(const store::RequestRecord& due, TimePoint now);

 private:
  // Applies one event to a stored request in one transaction: audit + push.
  Result<store::RequestRecord> apply(const std::string& id, const RequestEvent& event, const std::string& actor,
                                     const audited::RequestChange& change, TimePoint now,
                                     const std::function<Status(const store::RequestRecord&)>& check = {});
  Status enqueue_push(store::StoreTx& tx, const store::RequestRecord& rec, TimePoint now);
  Status audit_throttled(const SubmissionThrottle::Report& report);

  ServiceDeps deps_;
  SubmissionThrottle throttle_;
};

}  // namespace hoist::app
