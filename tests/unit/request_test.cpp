#include "core/request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_support.h"

namespace hoist {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using test::utc;

const TimePoint kT0 = utc(2024, 3, 1, 9, 0);
constexpr Seconds kExpiry = hours{24};

Decision request_decision(ApprovalMode mode = ApprovalMode::kManual, bool self_allowed = false) {
  Decision d;
  d.action = Action::kRequest;
  d.approval = mode;
  d.default_duration = minutes{15};
  d.max_duration = hours{2};
  d.self_approval_allowed = self_allowed;
  return d;
}

NewRequest new_request(std::optional<Seconds> duration = std::nullopt) {
  NewRequest n;
  n.id = "req-1";
  n.requester = "alice";
  n.host = "laptop-7";
  n.justification = "restart the stuck print spooler";
  n.duration = duration;
  return n;
}

Request pending(ApprovalMode mode = ApprovalMode::kManual, bool self_allowed = false) {
  auto r = open_request(new_request(hours{1}), request_decision(mode, self_allowed), kExpiry, kT0);
  if (!r.ok()) throw std::runtime_error(r.error().message);
  return *r;
}

Request must(Result<Request> r) {
  if (!r.ok()) throw std::runtime_error("transition failed: " + r.error().message);
  return std::move(r).value();
}

const TimePoint kApproveAt = kT0 + minutes{5};

Request approved_request() {
  return must(transition(pending(), event::Approve{"bob", std::nullopt, "ok"}, kApproveAt));
}
Request active_request() {
  return must(transition(approved_request(), event::Activate{}, kApproveAt + minutes{1}));
}
Request denied_request() {
  return must(transition(pending(), event::Deny{"bob", "no"}, kApproveAt));
}
Request cancelled_request() {
  return must(transition(pending(), event::Cancel{"alice"}, kApproveAt));
}
Request revoked_request() {
  return must(transition(active_request(), event::Revoke{"bob", "done"}, kApproveAt + minutes{2}));
}
Request expired_pending_request() {
  return must(transition(pending(), event::Expire{}, kT0 + kExpiry));
}
Request expired_grant_request() {
  return must(transition(active_request(), event::Expire{}, kApproveAt + hours{1}));
}

// ---------------------------------------------------------------------------
// open_request

TEST(OpenRequest, FillsEverything) {
  const Request r = pending();
  EXPECT_EQ(r.id, "req-1");
  EXPECT_EQ(r.requester, "alice");
  EXPECT_EQ(r.host, "laptop-7");
  EXPECT_EQ(r.justification, "restart the stuck print spooler");
  EXPECT_EQ(r.state, RequestState::kPending);
  EXPECT_EQ(r.requested_duration, hours{1});
  EXPECT_EQ(r.max_duration, hours{2});
  EXPECT_EQ(r.created_at, kT0);
  EXPECT_EQ(r.pending_deadline, kT0 + kExpiry);
  EXPECT_EQ(r.approval_mode, ApprovalMode::kManual);
  EXPECT_FALSE(r.self_approval_allowed);
  EXPECT_TRUE(r.rule.empty());  // the policy default applied
  EXPECT_FALSE(r.review.has_value());
  EXPECT_FALSE(r.grant_deadline.has_value());
}

TEST(OpenRequest, RuleNameAndModesComeFromTheDecision) {
  Rule rule;
  rule.name = "restart-services";
  Decision d = request_decision(ApprovalMode::kSelf, true);
  d.rule = &rule;
  NewRequest n = new_request();
  n.kind = RequestKind::kSession;
  const auto r = open_request(n, d, kExpiry, kT0);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->rule, "restart-services");
  EXPECT_EQ(r->approval_mode, ApprovalMode::kSelf);
  EXPECT_TRUE(r->self_approval_allowed);
  EXPECT_EQ(r->kind, RequestKind::kSession);
  EXPECT_EQ(r->requested_duration, minutes{15});  // no duration asked: the decision's default
}

TEST(OpenRequest, DurationAboveMaxIsCapped) {
  const auto r = open_request(new_request(hours{10}), request_decision(), kExpiry, kT0);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->requested_duration, hours{2});
  const auto exact = open_request(new_request(hours{2}), request_decision(), kExpiry, kT0);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->requested_duration, hours{2});
}

struct OpenBadCase {
  std::string what;
  std::function<void(NewRequest&, Decision&, Seconds&)> spoil;
};

std::ostream& operator<<(std::ostream& os, const OpenBadCase& c) {
  return os << c.what;
}

class OpenRequestBad : public ::testing::TestWithParam<OpenBadCase> {};

TEST_P(OpenRequestBad, IsInvalidArgument) {
  NewRequest n = new_request();
  Decision d = request_decision();
  Seconds expiry = kExpiry;
  GetParam().spoil(n, d, expiry);
  const auto r = open_request(n, d, expiry, kT0);
  ASSERT_FALSE(r.ok()) << GetParam().what;
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << GetParam().what;
  EXPECT_FALSE(r.error().message.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Table, OpenRequestBad,
    ::testing::Values(
        OpenBadCase{"allow decision", [](NewRequest&, Decision& d, Seconds&) { d.action = Action::kAllow; }},
        OpenBadCase{"deny decision", [](NewRequest&, Decision& d, Seconds&) { d.action = Action::kDeny; }},
        OpenBadCase{"empty justification", [](NewRequest& n, Decision&, Seconds&) { n.justification.clear(); }},
        OpenBadCase{"blank justification", [](NewRequest& n, Decision&, Seconds&) { n.justification = " \t\r\n "; }},
        OpenBadCase{"no id", [](NewRequest& n, Decision&, Seconds&) { n.id.clear(); }},
        OpenBadCase{"no requester", [](NewRequest& n, Decision&, Seconds&) { n.requester.clear(); }},
        OpenBadCase{"zero duration", [](NewRequest& n, Decision&, Seconds&) { n.duration = Seconds{0}; }},
        OpenBadCase{"negative duration", [](NewRequest& n, Decision&, Seconds&) { n.duration = Seconds{-60}; }},
        OpenBadCase{"zero expiry", [](NewRequest&, Decision&, Seconds& e) { e = Seconds{0}; }},
        OpenBadCase{"negative expiry", [](NewRequest&, Decision&, Seconds& e) { e = Seconds{-1}; }}));

TEST(OpenRequest, JustificationMessageSaysWhatToDo) {
  NewRequest n = new_request();
  n.justification = "";
  const auto r = open_request(n, request_decision(), kExpiry, kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("justification"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Valid transitions.

TEST(Transition, ApproveRecordsReviewAndGrant) {
  const Request r = approved_request();
  EXPECT_EQ(r.state, RequestState::kApproved);
  ASSERT_TRUE(r.review.has_value());
  EXPECT_EQ(r.review->by, Review::By::kApprover);
  EXPECT_EQ(r.review->reviewer, "bob");
  EXPECT_TRUE(r.review->approved);
  EXPECT_EQ(r.review->comment, "ok");
  EXPECT_EQ(r.review->at, kApproveAt);
  EXPECT_EQ(r.grant_start, kApproveAt);
  EXPECT_EQ(r.grant_deadline, kApproveAt + hours{1});
  EXPECT_FALSE(r.ended_at.has_value());
}

TEST(Transition, ApproveWithShorterDuration) {
  const auto r = transition(pending(), event::Approve{"bob", minutes{20}, ""}, kApproveAt);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->grant_deadline, kApproveAt + minutes{20});
  const auto same = transition(pending(), event::Approve{"bob", hours{1}, ""}, kApproveAt);
  ASSERT_TRUE(same.ok()) << same.error().message;
  EXPECT_EQ(same->grant_deadline, kApproveAt + hours{1});
}

TEST(Transition, AutoApproveInAutonomousMode) {
  const auto r = transition(pending(ApprovalMode::kAutonomous), event::AutoApprove{"ops-office-hours"}, kApproveAt);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->state, RequestState::kApproved);
  ASSERT_TRUE(r->review.has_value());
  EXPECT_EQ(r->review->by, Review::By::kAutonomous);
  EXPECT_EQ(r->review->reviewer, "ops-office-hours");
  EXPECT_TRUE(r->review->approved);
  EXPECT_EQ(r->grant_deadline, kApproveAt + hours{1});
}

TEST(Transition, DenyRecordsReviewAndEnd) {
  const Request r = denied_request();
  EXPECT_EQ(r.state, RequestState::kDenied);
  ASSERT_TRUE(r.review.has_value());
  EXPECT_FALSE(r.review->approved);
  EXPECT_EQ(r.review->reviewer, "bob");
  EXPECT_EQ(r.review->comment, "no");
  EXPECT_EQ(r.ended_at, kApproveAt);
  EXPECT_EQ(r.ended_by, "bob");
  EXPECT_FALSE(r.grant_deadline.has_value());
}

TEST(Transition, CancelEndsTheRequest) {
  const Request r = cancelled_request();
  EXPECT_EQ(r.state, RequestState::kCancelled);
  EXPECT_EQ(r.ended_at, kApproveAt);
  EXPECT_EQ(r.ended_by, "alice");
  EXPECT_FALSE(r.review.has_value());
}

TEST(Transition, ActivateFromApprovedAndAgainFromActive) {
  const Request a = active_request();
  EXPECT_EQ(a.state, RequestState::kActive);
  EXPECT_EQ(a.grant_deadline, kApproveAt + hours{1});  // activation does not move the deadline
  const auto again = transition(a, event::Activate{}, kApproveAt + minutes{30});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->state, RequestState::kActive);
  EXPECT_EQ(again->grant_deadline, kApproveAt + hours{1});
}

TEST(Transition, RevokeFromApprovedAndFromActive) {
  for (const Request& from : {approved_request(), active_request()}) {
    const auto r = transition(from, event::Revoke{"carol", "incident over"}, kApproveAt + minutes{10});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->state, RequestState::kRevoked);
    EXPECT_EQ(r->ended_at, kApproveAt + minutes{10});
    EXPECT_EQ(r->ended_by, "carol");
    EXPECT_EQ(r->end_reason, "incident over");
  }
}

TEST(Transition, ExpirePendingAtItsDeadline) {
  const Request r = expired_pending_request();
  EXPECT_EQ(r.state, RequestState::kExpired);
  EXPECT_EQ(r.ended_at, kT0 + kExpiry);
}

TEST(Transition, ExpireRecordsTheDeadlineNotTheLateNow) {
  // The timer fired late; the record still says when it really ended.
  const auto r = transition(pending(), event::Expire{}, kT0 + kExpiry + hours{5});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->ended_at, kT0 + kExpiry);
  const auto g = transition(active_request(), event::Expire{}, kApproveAt + hours{3});
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->ended_at, kApproveAt + hours{1});
}

TEST(Transition, ExpireApprovedAndActiveGrants) {
  for (const Request& from : {approved_request(), active_request()}) {
    const auto r = transition(from, event::Expire{}, kApproveAt + hours{1});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->state, RequestState::kExpired);
    EXPECT_EQ(r->ended_at, kApproveAt + hours{1});
  }
}

// ---------------------------------------------------------------------------
// Invalid transitions: every (state, event) pair not in the diagram.

struct InvalidCase {
  std::string what;
  std::function<Request()> from;
  RequestEvent event;
  TimePoint now;
  ErrorCode code;
};

std::ostream& operator<<(std::ostream& os, const InvalidCase& c) {
  return os << c.what;
}

class InvalidTransition : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidTransition, FailsWithTheRightCode) {
  const auto& c = GetParam();
  const Request from = c.from();
  const auto r = transition(from, c.event, c.now);
  ASSERT_FALSE(r.ok()) << c.what << ": went to " << to_string(r->state);
  EXPECT_EQ(r.error().code, c.code) << c.what << ": " << r.error().message;
  if (c.code == ErrorCode::kInvalidArgument) {
    EXPECT_FALSE(r.error().message.empty());
  } else {
    EXPECT_NE(r.error().message.find(from.id), std::string::npos) << r.error().message;
  }
}

const TimePoint kLater = kApproveAt + minutes{3};

event::Approve approve_by_bob() {
  return event::Approve{"bob", std::nullopt, ""};
}

std::vector<InvalidCase> invalid_cases() {
  const std::vector<std::pair<std::string, std::function<Request()>>> terminal = {
      {"denied", denied_request},
      {"cancelled", cancelled_request},
      {"revoked", revoked_request},
      {"expired pending", expired_pending_request},
      {"expired grant", expired_grant_request}};
  std::vector<InvalidCase> out;
  // Nothing leaves a terminal state.
  for (const auto& [name, make] : terminal) {
    const TimePoint now = kApproveAt + hours{30};  // after every deadline involved
    out.push_back({"approve " + name, make, approve_by_bob(), kLater, ErrorCode::kConflict});
    out.push_back({"auto-approve " + name, make, event::AutoApprove{"x"}, kLater, ErrorCode::kConflict});
    out.push_back({"deny " + name, make, event::Deny{"bob", ""}, kLater, ErrorCode::kConflict});
    out.push_back({"cancel " + name, make, event::Cancel{"alice"}, kLater, ErrorCode::kConflict});
    out.push_back({"activate " + name, make, event::Activate{}, kLater, ErrorCode::kConflict});
    out.push_back({"revoke " + name, make, event::Revoke{"bob", ""}, kLater, ErrorCode::kConflict});
    out.push_back({"expire " + name, make, event::Expire{}, now, ErrorCode::kConflict});
  }
  // Pending: only approve, auto-approve, deny, cancel and (when due) expire.
  out.push_back({"activate pending", [] { return pending(); }, event::Activate{}, kLater, ErrorCode::kConflict});
  out.push_back({"revoke pending", [] { return pending(); }, event::Revoke{"bob", ""}, kLater, ErrorCode::kConflict});
  out.push_back({"expire pending before due", [] { return pending(); }, event::Expire{}, kT0 + kExpiry - Seconds{1},
                 ErrorCode::kConflict});
  // Approved/active: no second review, no cancel, no early expiry.
  for (const auto& [name, make] : std::vector<std::pair<std::string, std::function<Request()>>>{
           {"approved", approved_request}, {"active", active_request}}) {
    out.push_back({"approve " + name, make, approve_by_bob(), kLater, ErrorCode::kConflict});
    out.push_back({"auto-approve " + name, make, event::AutoApprove{"x"}, kLater, ErrorCode::kConflict});
    out.push_back({"deny " + name, make, event::Deny{"bob", ""}, kLater, ErrorCode::kConflict});
    out.push_back({"cancel " + name, make, event::Cancel{"alice"}, kLater, ErrorCode::kConflict});
    out.push_back({"expire " + name + " before due", make, event::Expire{}, kApproveAt + hours{1} - Seconds{1},
                   ErrorCode::kConflict});
    // Past the grant deadline the grant is expired even before Expire is recorded.
    out.push_back({"activate " + name + " at its deadline", make, event::Activate{}, kApproveAt + hours{1},
                   ErrorCode::kConflict});
    out.push_back({"revoke " + name + " after its deadline", make, event::Revoke{"bob", ""}, kApproveAt + hours{2},
                   ErrorCode::kConflict});
  }
  // Pending but past its deadline: too late for any review.
  const TimePoint due = kT0 + kExpiry;
  out.push_back({"approve at pending deadline", [] { return pending(); }, approve_by_bob(), due, ErrorCode::kConflict});
  out.push_back({"auto-approve at pending deadline", [] { return pending(ApprovalMode::kAutonomous); },
                 event::AutoApprove{"x"}, due, ErrorCode::kConflict});
  out.push_back(
      {"deny at pending deadline", [] { return pending(); }, event::Deny{"bob", ""}, due, ErrorCode::kConflict});
  out.push_back(
      {"cancel at pending deadline", [] { return pending(); }, event::Cancel{"alice"}, due, ErrorCode::kConflict});
  // Own request.
  out.push_back({"approve own request", [] { return pending(); }, event::Approve{"alice", std::nullopt, ""}, kLater,
                 ErrorCode::kPermissionDenied});
  out.push_back(
      {"deny own request", [] { return pending(); }, event::Deny{"alice", ""}, kLater, ErrorCode::kPermissionDenied});
  out.push_back({"deny own request even with self-approval", [] { return pending(ApprovalMode::kSelf, true); },
                 event::Deny{"alice", ""}, kLater, ErrorCode::kPermissionDenied});
  out.push_back({"approve own in self mode without the right", [] { return pending(ApprovalMode::kSelf, false); },
                 event::Approve{"alice", std::nullopt, ""}, kLater, ErrorCode::kPermissionDenied});
  // An approver's approval is never a self-approval, even where the policy
  // allows one: only SelfApprove (the agent vouching) is.
  out.push_back({"approve own with the right, as an approver", [] { return pending(ApprovalMode::kSelf, true); },
                 event::Approve{"alice", std::nullopt, ""}, kLater, ErrorCode::kPermissionDenied});
  // The same person under another spelling (issue 17, item 12).
  for (const std::string reviewer : {"Alice", "ALICE", "alice@corp", "Alice@Corp.Example", "CORP\\alice"}) {
    out.push_back({"approve own request as " + reviewer, [] { return pending(); },
                   event::Approve{reviewer, std::nullopt, ""}, kLater, ErrorCode::kPermissionDenied});
    out.push_back({"approve own with the right as " + reviewer, [] { return pending(ApprovalMode::kSelf, true); },
                   event::Approve{reviewer, std::nullopt, ""}, kLater, ErrorCode::kPermissionDenied});
    out.push_back({"deny own request as " + reviewer, [] { return pending(); }, event::Deny{reviewer, ""}, kLater,
                   ErrorCode::kPermissionDenied});
  }
  // Self-approval: only the requester, exactly, and only with the right.
  out.push_back({"self-approve without the right", [] { return pending(ApprovalMode::kSelf, false); },
                 event::SelfApprove{"alice", std::nullopt, ""}, kLater, ErrorCode::kPermissionDenied});
  out.push_back({"self-approve a manual request", [] { return pending(); },
                 event::SelfApprove{"alice", std::nullopt, ""}, kLater, ErrorCode::kPermissionDenied});
  out.push_back({"self-approve someone else's request", [] { return pending(ApprovalMode::kSelf, true); },
                 event::SelfApprove{"bob", std::nullopt, ""}, kLater, ErrorCode::kPermissionDenied});
  out.push_back({"self-approve under another spelling", [] { return pending(ApprovalMode::kSelf, true); },
                 event::SelfApprove{"Alice", std::nullopt, ""}, kLater, ErrorCode::kPermissionDenied});
  out.push_back({"self-approve longer than requested", [] { return pending(ApprovalMode::kSelf, true); },
                 event::SelfApprove{"alice", hours{1} + Seconds{1}, ""}, kLater, ErrorCode::kInvalidArgument});
  out.push_back({"self-approve without requester", [] { return pending(ApprovalMode::kSelf, true); },
                 event::SelfApprove{"", std::nullopt, ""}, kLater, ErrorCode::kInvalidArgument});
  // Auto-approval outside autonomous mode.
  out.push_back({"auto-approve manual request", [] { return pending(ApprovalMode::kManual); }, event::AutoApprove{"x"},
                 kLater, ErrorCode::kPermissionDenied});
  out.push_back({"auto-approve self request", [] { return pending(ApprovalMode::kSelf, true); },
                 event::AutoApprove{"x"}, kLater, ErrorCode::kPermissionDenied});
  // Durations and missing names.
  out.push_back({"approve longer than requested", [] { return pending(); },
                 event::Approve{"bob", hours{1} + Seconds{1}, ""}, kLater, ErrorCode::kInvalidArgument});
  out.push_back({"approve zero duration", [] { return pending(); }, event::Approve{"bob", Seconds{0}, ""}, kLater,
                 ErrorCode::kInvalidArgument});
  out.push_back({"approve negative duration", [] { return pending(); }, event::Approve{"bob", Seconds{-5}, ""}, kLater,
                 ErrorCode::kInvalidArgument});
  out.push_back({"approve without reviewer", [] { return pending(); }, event::Approve{"", std::nullopt, ""}, kLater,
                 ErrorCode::kInvalidArgument});
  out.push_back(
      {"deny without reviewer", [] { return pending(); }, event::Deny{"", ""}, kLater, ErrorCode::kInvalidArgument});
  out.push_back({"auto-approve without entry name", [] { return pending(ApprovalMode::kAutonomous); },
                 event::AutoApprove{""}, kLater, ErrorCode::kInvalidArgument});
  out.push_back(
      {"revoke without actor", active_request, event::Revoke{"", "why"}, kLater, ErrorCode::kInvalidArgument});
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllPairs, InvalidTransition, ::testing::ValuesIn(invalid_cases()));

TEST(InvalidTransition, WrongStateMessageNamesTheState) {
  const auto r = transition(denied_request(), approve_by_bob(), kLater);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("denied"), std::string::npos) << r.error().message;
}

TEST(InvalidTransition, FailedTransitionLeavesInputUnchanged) {
  const Request r = pending();
  const auto out = transition(r, event::Approve{"alice", std::nullopt, ""}, kLater);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(r.state, RequestState::kPending);
  EXPECT_FALSE(r.review.has_value());
}

// ---------------------------------------------------------------------------
// Self-approval.

TEST(SelfApproval, AllowedRequesterApprovesOwnAndItIsRecordedAsSelf) {
  const auto r =
      transition(pending(ApprovalMode::kSelf, true), event::SelfApprove{"alice", std::nullopt, "on call"}, kLater);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->state, RequestState::kApproved);
  ASSERT_TRUE(r->review.has_value());
  EXPECT_EQ(r->review->by, Review::By::kSelf);
  EXPECT_EQ(r->review->reviewer, "alice");
}

TEST(SelfApproval, MayShortenButNotLengthen) {
  const auto r = transition(pending(ApprovalMode::kSelf, true), event::SelfApprove{"alice", minutes{10}, ""}, kLater);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->grant_deadline, kLater + minutes{10});
}

TEST(SelfApproval, TheApproveEventSaysWhereSelfApprovalGoes) {
  const auto r = transition(pending(ApprovalMode::kSelf, true), event::Approve{"Alice", std::nullopt, ""}, kLater);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("same person"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("--self-approve"), std::string::npos) << r.error().message;
}

TEST(SelfApproval, SomeoneElseApprovingASelfRequestIsAnApprover) {
  const auto r = transition(pending(ApprovalMode::kSelf, true), approve_by_bob(), kLater);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->review.has_value());
  EXPECT_EQ(r->review->by, Review::By::kApprover);
}

TEST(SelfApproval, ManualApprovalOfAnAutonomousRequestIsAllowed) {
  const auto r = transition(pending(ApprovalMode::kAutonomous), approve_by_bob(), kLater);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->review->by, Review::By::kApprover);
}

// ---------------------------------------------------------------------------
// Deadlines at their exact boundaries.

TEST(Deadlines, PendingExpiresExactlyAtItsDeadline) {
  const Request r = pending();
  const TimePoint due = r.pending_deadline;
  EXPECT_EQ(effective_state(r, due - Seconds{1}), RequestState::kPending);
  EXPECT_EQ(effective_state(r, due), RequestState::kExpired);
  EXPECT_EQ(effective_state(r, due + hours{100}), RequestState::kExpired);
  EXPECT_TRUE(transition(r, approve_by_bob(), due - Seconds{1}).ok());
  EXPECT_FALSE(transition(r, approve_by_bob(), due).ok());
  EXPECT_TRUE(transition(r, event::Expire{}, due).ok());
  EXPECT_FALSE(transition(r, event::Expire{}, due - Seconds{1}).ok());
}

TEST(Deadlines, GrantExpiresExactlyAtItsDeadline) {
  for (const Request& r : {approved_request(), active_request()}) {
    ASSERT_TRUE(r.grant_deadline.has_value());
    const TimePoint due = *r.grant_deadline;
    EXPECT_EQ(effective_state(r, due - Seconds{1}), r.state);
    EXPECT_EQ(effective_state(r, due), RequestState::kExpired);
    EXPECT_TRUE(transition(r, event::Activate{}, due - Seconds{1}).ok());
    EXPECT_FALSE(transition(r, event::Activate{}, due).ok());
    EXPECT_TRUE(transition(r, event::Revoke{"bob", ""}, due - Seconds{1}).ok());
    EXPECT_FALSE(transition(r, event::Revoke{"bob", ""}, due).ok());
  }
}

TEST(Deadlines, ApprovalNearThePendingDeadlineStillGetsTheFullGrant) {
  const Request r = pending();
  const TimePoint late = r.pending_deadline - Seconds{1};
  const auto a = transition(r, approve_by_bob(), late);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->grant_deadline, late + hours{1});
  EXPECT_EQ(effective_state(*a, late + minutes{30}), RequestState::kApproved);
}

TEST(EffectiveState, TerminalStatesStayPut) {
  const TimePoint far = kT0 + hours{1000};
  EXPECT_EQ(effective_state(denied_request(), far), RequestState::kDenied);
  EXPECT_EQ(effective_state(cancelled_request(), far), RequestState::kCancelled);
  EXPECT_EQ(effective_state(revoked_request(), far), RequestState::kRevoked);
  EXPECT_EQ(effective_state(expired_pending_request(), far), RequestState::kExpired);
}

TEST(EffectiveState, ApprovedWithoutDeadlineDoesNotExpire) {
  Request r = approved_request();
  r.grant_deadline.reset();  // a malformed record: no deadline, no expiry
  EXPECT_EQ(effective_state(r, kT0 + hours{1000}), RequestState::kApproved);
  EXPECT_EQ(grant_time_left(r, kT0 + hours{1}), Seconds{0});
}

TEST(GrantTimeLeft, CountsDownToZero) {
  const Request a = active_request();
  EXPECT_EQ(grant_time_left(a, kApproveAt), hours{1});
  EXPECT_EQ(grant_time_left(a, kApproveAt + minutes{45}), minutes{15});
  EXPECT_EQ(grant_time_left(a, kApproveAt + hours{1} - Seconds{1}), Seconds{1});
  EXPECT_EQ(grant_time_left(a, kApproveAt + hours{1}), Seconds{0});
  EXPECT_EQ(grant_time_left(a, kApproveAt + hours{9}), Seconds{0});
  EXPECT_EQ(grant_time_left(approved_request(), kApproveAt + minutes{1}), minutes{59});
}

TEST(GrantTimeLeft, ZeroWhenThereIsNoLiveGrant) {
  const TimePoint t = kApproveAt + minutes{10};
  EXPECT_EQ(grant_time_left(pending(), t), Seconds{0});
  EXPECT_EQ(grant_time_left(denied_request(), t), Seconds{0});
  EXPECT_EQ(grant_time_left(cancelled_request(), t), Seconds{0});
  EXPECT_EQ(grant_time_left(revoked_request(), t), Seconds{0});
  EXPECT_EQ(grant_time_left(expired_grant_request(), t), Seconds{0});
}

TEST(ToString, StatesAndKinds) {
  EXPECT_EQ(to_string(RequestState::kPending), "pending");
  EXPECT_EQ(to_string(RequestState::kApproved), "approved");
  EXPECT_EQ(to_string(RequestState::kActive), "active");
  EXPECT_EQ(to_string(RequestState::kDenied), "denied");
  EXPECT_EQ(to_string(RequestState::kCancelled), "cancelled");
  EXPECT_EQ(to_string(RequestState::kExpired), "expired");
  EXPECT_EQ(to_string(RequestState::kRevoked), "revoked");
  EXPECT_EQ(to_string(RequestKind::kCommand), "command");
  EXPECT_EQ(to_string(RequestKind::kSession), "session");
}

TEST(IsTerminal, Table) {
  EXPECT_FALSE(is_terminal(RequestState::kPending));
  EXPECT_FALSE(is_terminal(RequestState::kApproved));
  EXPECT_FALSE(is_terminal(RequestState::kActive));
  EXPECT_TRUE(is_terminal(RequestState::kDenied));
  EXPECT_TRUE(is_terminal(RequestState::kCancelled));
  EXPECT_TRUE(is_terminal(RequestState::kExpired));
  EXPECT_TRUE(is_terminal(RequestState::kRevoked));
}

}  // namespace
}  // namespace hoist
