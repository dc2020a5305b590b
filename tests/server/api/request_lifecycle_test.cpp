// The request lifecycle through the API: submission (the server decides
// with its own copy of the policy), reviews, autonomous and self-approval,
// revocation, expiry, and what each step audits and pushes.
#include <algorithm>

#include "api_test_support.h"
#include "core/timestamp.h"

namespace hoist::api::testing {
namespace {

class RequestLifecycle : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    put_policy("fleet", kFleetPolicy, {"web"});
    agent_ = enrol({"web"});
  }

  // The newest push message about request `id`, or null.
  json::value last_push_for(const Agent& agent, const std::string& id) {
    json::value out;
    for (const auto& m : push_messages(agent)) {
      const auto& payload = m.at("payload");
      if (m.at("kind") == "request" && payload.is_object() && payload.at("request_id") == json::string(id)) {
        out = payload;
      }
    }
    return out;
  }

  std::string submit_pending(const Submission& s) {
    const auto r = submit(agent_, s);
    EXPECT_EQ(r.status, 201) << r;
    EXPECT_EQ(r.str("/request/state"), "pending") << r;
    return r.str("/request/id");
  }

  Agent agent_;
};

TEST_F(RequestLifecycle, ManualRequestIsApprovedWithAShorterDuration) {
  Submission s;
  s.duration_s = 3600;
  const auto created = submit(agent_, s);
  ASSERT_EQ(created.status, 201) << created;
  EXPECT_EQ(created.str("/decision"), "request");
  EXPECT_EQ(created.str("/contact"), "Call the help desk at 4357.");
  const std::string id = created.str("/request/id");
  EXPECT_EQ(created.str("/request/state"), "pending");
  EXPECT_EQ(created.str("/request/approval_mode"), "manual");
  EXPECT_EQ(created.str("/request/rule"), "fleet/installs");
  EXPECT_EQ(created.str("/request/requester"), "alice");
  EXPECT_EQ(created.str("/request/host"), "web-01");
  EXPECT_EQ(created.str("/request/endpoint_id"), agent_.id);
  EXPECT_EQ(created.num("/request/requested_duration_s"), 3600);
  EXPECT_EQ(created.str("/request/pending_deadline"), format_timestamp(clock_.now_s() + Seconds{3600}));

  const int wakes_before = wakes_;
  clock_.advance(std::chrono::minutes{5});
  const auto approved =
      call_json("POST", "/api/v1/requests/" + id + "/approve",
                json::object{{"duration_s", 600}, {"comment", "ten minutes is enough"}}, as(store::Role::kApprover));
  ASSERT_EQ(approved.status, 200) << approved;
  EXPECT_EQ(approved.str("/state"), "approved");
  EXPECT_EQ(approved.str("/review/by"), "approver");
  EXPECT_EQ(approved.str("/review/reviewer"), "test-approver");
  EXPECT_EQ(approved.str("/review/comment"), "ten minutes is enough");
  EXPECT_EQ(approved.str("/grant_start"), now_text());
  EXPECT_EQ(approved.str("/grant_deadline"), format_timestamp(clock_.now_s() + Seconds{600}));
  EXPECT_EQ(approved.num("/time_left_s"), 600);
  EXPECT_GT(wakes_, wakes_before) << "a decision must wake the agents' long polls";
  EXPECT_EQ(woken_.back(), agent_.id) << "only the requesting endpoint's long polls need to wake";

  const auto actions = audit_actions_for(id);
  EXPECT_EQ(actions, (std::vector<std::string>{"request.created", "request.approved"}));
  const auto events = audit_for(id);
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].at("actor"), json::string("agent:" + agent_.id));
  EXPECT_NE(std::string(events[1].at("actor").as_string()).find("test-approver"), std::string::npos);

  const auto push = last_push_for(agent_, id);
  ASSERT_TRUE(push.is_object()) << "no push message for " << id;
  EXPECT_EQ(push.at("state"), "approved");
  EXPECT_EQ(push.at("grant_deadline"), json::string(format_timestamp(clock_.now_s() + Seconds{600})));
  EXPECT_EQ(push.at("reviewer"), "test-approver");

  // The agent sees the same through its own view.
  const auto seen = call("GET", "/api/v1/agent/requests/" + id, "", agent_.headers());
  ASSERT_EQ(seen.status, 200) << seen;
  EXPECT_EQ(seen.str("/state"), "approved");

  // Approvals may shorten a grant, never lengthen it.
  const std::string other = submit_pending(s);
  const auto longer = call_json("POST", "/api/v1/requests/" + other + "/approve", json::object{{"duration_s", 7200}},
                                as(store::Role::kApprover));
  EXPECT_EQ(longer.status, 400) << longer;
}

TEST_F(RequestLifecycle, DenialCarriesTheComment) {
  const std::string id = submit_pending(Submission{});
  const auto denied = call_json("POST", "/api/v1/requests/" + id + "/deny",
                                json::object{{"comment", "use the staging box"}}, as(store::Role::kAdmin));
  ASSERT_EQ(denied.status, 200) << denied;
  EXPECT_EQ(denied.str("/state"), "denied");
  EXPECT_EQ(denied.str("/review/comment"), "use the staging box");
  EXPECT_EQ(denied.str("/ended_by"), "test-admin");
  EXPECT_EQ(audit_actions_for(id), (std::vector<std::string>{"request.created", "request.denied"}));
  const auto push = last_push_for(agent_, id);
  ASSERT_TRUE(push.is_object());
  EXPECT_EQ(push.at("state"), "denied");
  EXPECT_EQ(push.at("comment"), "use the staging box");
  // A denied request cannot be approved afterwards.
  const auto late = call("POST", "/api/v1/requests/" + id + "/approve", "", as(store::Role::kAdmin));
  EXPECT_EQ(late.status, 409) << late;
}

// A user matched by a request rule cannot flood the approvers: at most 10
// of their requests wait on one endpoint (kMaxPendingPerRequester).
TEST_F(RequestLifecycle, AUserHasAtMostTenRequestsWaitingOnOneEndpoint) {
  Submission s;
  for (int i = 0; i < 10; ++i) {
    s.argv = {"apt-get", "install", "pkg-" + std::to_string(i)};
    submit_pending(s);
  }
  s.argv = {"apt-get", "install", "one-more"};
  const auto refused = submit(agent_, s);
  EXPECT_EQ(refused.status, 429) << refused;
  EXPECT_EQ(refused.error_code(), "rate_limited");
  EXPECT_EQ(refused.error_message(),
            "alice has 10 requests waiting on web-01; an approver must decide one, or withdraw one with "
            "`hoist cancel ID` (`hoist status` lists them)");
  const auto audited = call("GET", "/api/v1/audit?action=request.refused", "", as(store::Role::kAuditor));
  ASSERT_EQ(audited.array("/events").size(), 1U) << audited;
  const auto& details = audited.array("/events")[0].at("details");
  EXPECT_EQ(details.at("user"), "alice");
  EXPECT_EQ(details.at("path"), "/usr/bin/apt-get");
  EXPECT_EQ(details.at("rule"), "fleet/installs");
  EXPECT_EQ(details.at("reason"), json::string(refused.error_message()));
  EXPECT_EQ(
      call("GET", "/api/v1/requests?state=pending&user=alice", "", as(store::Role::kAuditor)).array("/requests").size(),
      10U);

  // Someone else, or alice on another endpoint, still asks.
  Submission bob = s;
  bob.user = "bob";
  submit_pending(bob);
  const Agent other = enrol({"web"}, "web-02");
  EXPECT_EQ(submit(other, s).status, 201);

  // An auto-approved request does not wait, so it is not refused.
  Submission dev = s;
  dev.user = "alice";
  dev.groups = {"developers"};
  dev.path = "/usr/bin/docker";
  dev.argv = {"docker", "ps"};
  dev.duration_s = 600;
  const auto approved = submit(agent_, dev);
  EXPECT_EQ(approved.status, 201) << approved;
  EXPECT_EQ(approved.str("/request/state"), "approved");

  // Once they expire (request_expiry = 1h), alice asks again.
  clock_.advance(std::chrono::hours{1});
  submit_pending(s);
}

TEST_F(RequestLifecycle, AutonomousRequestIsApprovedAtOnce) {
  Submission s;
  s.user = "dev";
  s.groups = {"developers"};
  s.path = "/usr/bin/docker";
  s.argv = {"docker", "ps"};
  s.duration_s = 1800;
  const auto r = submit(agent_, s);
  ASSERT_EQ(r.status, 201) << r;
  const std::string id = r.str("/request/id");
  EXPECT_EQ(r.str("/request/state"), "approved");
  EXPECT_EQ(r.str("/request/approval_mode"), "autonomous");
  EXPECT_EQ(r.str("/request/review/by"), "autonomous");
  EXPECT_EQ(r.str("/request/review/reviewer"), "fleet/dev-short");
  EXPECT_EQ(r.str("/request/grant_deadline"), format_timestamp(clock_.now_s() + Seconds{1800}));
  const auto events = audit_for(id);
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[1].at("action"), "request.approved");
  EXPECT_EQ(events[1].at("actor"), "auto-approval:fleet/dev-short");
  const auto push = last_push_for(agent_, id);
  ASSERT_TRUE(push.is_object());
  EXPECT_EQ(push.at("state"), "approved");

  // Longer than the entry covers, or someone it does not name: a technician decides.
  s.duration_s = 7200;
  EXPECT_EQ(submit(agent_, s).str("/request/state"), "pending");
  s.duration_s = 600;
  s.groups = {"staff"};
  EXPECT_EQ(submit(agent_, s).str("/request/state"), "pending");
}

TEST_F(RequestLifecycle, SelfApprovalIsForTheRequesterOnly) {
  Submission s;
  s.user = "carol";
  s.groups = {"oncall"};
  s.path = "/usr/bin/journalctl";
  s.argv = {"journalctl", "-u", "nginx"};
  const auto created = submit(agent_, s);
  ASSERT_EQ(created.status, 201) << created;
  const std::string id = created.str("/request/id");
  EXPECT_EQ(created.str("/request/state"), "pending");
  EXPECT_EQ(created.at("/request/self_approval_allowed")->as_bool(), true);

  const auto by_other = call_json("POST", "/api/v1/agent/requests/" + id + "/self-approve",
                                  json::object{{"user", "dave"}}, agent_.headers());
  EXPECT_EQ(by_other.status, 403) << by_other;

  const auto by_self = call_json("POST", "/api/v1/agent/requests/" + id + "/self-approve",
                                 json::object{{"user", "carol"}, {"comment", "incident 12"}}, agent_.headers());
  ASSERT_EQ(by_self.status, 200) << by_self;
  EXPECT_EQ(by_self.str("/state"), "approved");
  EXPECT_EQ(by_self.str("/review/by"), "self");
  EXPECT_EQ(by_self.str("/review/reviewer"), "carol");
  EXPECT_EQ(audit_actions_for(id), (std::vector<std::string>{"request.created", "request.approved"}));
  const auto push = last_push_for(agent_, id);
  ASSERT_TRUE(push.is_object());
  EXPECT_EQ(push.at("state"), "approved");

  // Someone outside the self-approval groups asking under the same rule
  // does not match it at all (it is for on-call only): denied by default.
  s.groups = {"staff"};
  EXPECT_EQ(submit(agent_, s).str("/decision"), "deny");

  // A manual request cannot be self-approved.
  const std::string manual = submit_pending(Submission{});
  const auto self_manual = call_json("POST", "/api/v1/agent/requests/" + manual + "/self-approve",
                                     json::object{{"user", "alice"}}, agent_.headers());
  EXPECT_EQ(self_manual.status, 403) << self_manual;
}

TEST_F(RequestLifecycle, AnApproverCannotReviewTheirOwnRequest) {
  const std::string alice_token = token_of_new_user("alice", store::Role::kApprover);
  const std::string id = submit_pending(Submission{});  // requested by "alice"
  const auto approve = call("POST", "/api/v1/requests/" + id + "/approve", "", bearer(alice_token));
  EXPECT_EQ(approve.status, 403) << approve;
  const auto deny = call("POST", "/api/v1/requests/" + id + "/deny", "", bearer(alice_token));
  EXPECT_EQ(deny.status, 403) << deny;
  const auto still = call("GET", "/api/v1/requests/" + id, "", as(store::Role::kAuditor));
  EXPECT_EQ(still.str("/state"), "pending") << still;
  EXPECT_EQ(audit_actions_for(id), (std::vector<std::string>{"request.created"}));
}

// Issue 17, item 12: the console user opsbob approved the Linux user
// OpsBob's request; alice@corp against alice is the same gap.
TEST_F(RequestLifecycle, AnApproverCannotReviewTheirOwnRequestUnderAnotherSpelling) {
  const std::string opsbob = token_of_new_user("opsbob", store::Role::kApprover);
  const std::string alice_at_corp = token_of_new_user("alice@corp", store::Role::kApprover);
  Submission s;
  s.user = "OpsBob";
  const std::string bobs = submit_pending(s);
  const std::string alices = submit_pending(Submission{});  // requested by "alice"
  for (const auto& [id, token] : {std::pair{bobs, opsbob}, std::pair{alices, alice_at_corp}}) {
    const auto approve = call("POST", "/api/v1/requests/" + id + "/approve", "", bearer(token));
    EXPECT_EQ(approve.status, 403) << approve;
    EXPECT_NE(approve.error_message().find("same person"), std::string::npos) << approve;
    const auto deny = call("POST", "/api/v1/requests/" + id + "/deny", "", bearer(token));
    EXPECT_EQ(deny.status, 403) << deny;
    EXPECT_EQ(audit_actions_for(id), (std::vector<std::string>{"request.created"}));
  }
  // Someone else may.
  const auto other = call("POST", "/api/v1/requests/" + bobs + "/approve", "", bearer(alice_at_corp));
  EXPECT_EQ(other.status, 200) << other;
}

// docs/requests.md: self-approval goes through the agent, which vouches for
// the local user. The approve route never self-approves, even where the
// policy allows it.
TEST_F(RequestLifecycle, TheApproveRouteNeverSelfApproves) {
  const std::string carol = token_of_new_user("carol", store::Role::kApprover);
  Submission s;
  s.user = "carol";
  s.groups = {"oncall"};
  s.path = "/usr/bin/journalctl";
  s.argv = {"journalctl", "-u", "nginx"};
  const auto created = submit(agent_, s);
  ASSERT_EQ(created.status, 201) << created;
  const std::string id = created.str("/request/id");
  ASSERT_EQ(created.at("/request/self_approval_allowed")->as_bool(), true);

  const auto approve = call("POST", "/api/v1/requests/" + id + "/approve", "", bearer(carol));
  EXPECT_EQ(approve.status, 403) << approve;
  EXPECT_EQ(call("GET", "/api/v1/requests/" + id, "", as(store::Role::kAuditor)).str("/state"), "pending");
  // The agent's route, for the same person, does.
  const auto by_self = call_json("POST", "/api/v1/agent/requests/" + id + "/self-approve",
                                 json::object{{"user", "carol"}}, agent_.headers());
  ASSERT_EQ(by_self.status, 200) << by_self;
  EXPECT_EQ(by_self.str("/review/by"), "self");
}

TEST_F(RequestLifecycle, DenyRuleRefusesWithoutARequest) {
  const std::size_t before = stored_request_count();
  Submission s;
  s.path = "/usr/bin/bash";
  s.argv = {"bash"};
  const auto r = submit(agent_, s);
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(r.str("/decision"), "deny");
  EXPECT_TRUE(r.at("/request") != nullptr && r.at("/request")->is_null()) << r;
  EXPECT_NE(r.str("/reason").find("no-shells"), std::string::npos) << r;
  EXPECT_EQ(r.str("/contact"), "Call the help desk at 4357.");
  EXPECT_EQ(stored_request_count(), before);
  const auto refused = call("GET", "/api/v1/audit?action=request.refused", "", as(store::Role::kAuditor));
  ASSERT_EQ(refused.array("/events").size(), 1U) << refused;
  EXPECT_EQ(refused.array("/events")[0].at("details").at("rule"), "fleet/no-shells");
}

TEST_F(RequestLifecycle, SecondApprovalConflicts) {
  const std::string id = submit_pending(Submission{});
  const auto first = call("POST", "/api/v1/requests/" + id + "/approve", "", as(store::Role::kApprover));
  ASSERT_EQ(first.status, 200) << first;
  const auto second = call("POST", "/api/v1/requests/" + id + "/approve", "", as(store::Role::kAdmin));
  EXPECT_EQ(second.status, 409) << second;
  EXPECT_EQ(second.error_code(), "conflict");
  EXPECT_EQ(audit_actions_for(id), (std::vector<std::string>{"request.created", "request.approved"}));
}

TEST_F(RequestLifecycle, RevokedGrantIsPushed) {
  const std::string id = submit_pending(Submission{});
  ASSERT_EQ(call("POST", "/api/v1/requests/" + id + "/approve", "", as(store::Role::kApprover)).status, 200);
  const auto grants = call("GET", "/api/v1/grants", "", as(store::Role::kAuditor));
  ASSERT_EQ(grants.array("/grants").size(), 1U) << grants;

  clock_.advance(std::chrono::minutes{1});
  const auto revoked = call_json("POST", "/api/v1/grants/" + id + "/revoke", json::object{{"reason", "done early"}},
                                 as(store::Role::kApprover));
  ASSERT_EQ(revoked.status, 200) << revoked;
  EXPECT_EQ(revoked.str("/state"), "revoked");
  EXPECT_EQ(revoked.str("/end_reason"), "done early");
  EXPECT_EQ(revoked.str("/ended_at"), now_text());
  EXPECT_EQ(revoked.num("/time_left_s"), 0);
  EXPECT_EQ(audit_actions_for(id), (std::vector<std::string>{"request.created", "request.approved", "grant.revoked"}));
  const auto push = last_push_for(agent_, id);
  ASSERT_TRUE(push.is_object());
  EXPECT_EQ(push.at("state"), "revoked");
  EXPECT_EQ(push.at("end_reason"), "done early");
  EXPECT_TRUE(call("GET", "/api/v1/grants", "", as(store::Role::kAuditor)).array("/grants").empty());
  // Revoking twice, or revoking something that is not a grant, conflicts.
  EXPECT_EQ(call("POST", "/api/v1/grants/" + id + "/revoke", "", as(store::Role::kApprover)).status, 409);
  const std::string pending = submit_pending(Submission{});
  EXPECT_EQ(call("POST", "/api/v1/grants/" + pending + "/revoke", "", as(store::Role::kApprover)).status, 409);
}

TEST_F(RequestLifecycle, DeadlinesExpireRequestsAndGrants) {
  const std::string pending = submit_pending(Submission{});  // expires after 1h (request_expiry)
  const std::string grant = submit_pending(Submission{});
  ASSERT_EQ(call_json("POST", "/api/v1/requests/" + grant + "/approve", json::object{{"duration_s", 600}},
                      as(store::Role::kApprover))
                .status,
            200);

  auto expired = api_->expire_due();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 0U) << "nothing is due yet";

  clock_.advance(Seconds{600});  // the grant's deadline, inclusive
  expired = api_->expire_due();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 1U);
  const auto g = call("GET", "/api/v1/requests/" + grant, "", as(store::Role::kAuditor));
  EXPECT_EQ(g.str("/state"), "expired") << g;
  EXPECT_EQ(g.str("/stored_state"), "expired") << g;
  EXPECT_EQ(g.str("/ended_at"), g.str("/grant_deadline")) << g;
  EXPECT_EQ(audit_actions_for(grant),
            (std::vector<std::string>{"request.created", "request.approved", "grant.expired"}));
  auto push = last_push_for(agent_, grant);
  ASSERT_TRUE(push.is_object());
  EXPECT_EQ(push.at("state"), "expired");

  // Before the sweep the pending request already reads as expired (stored
  // deadlines are the truth), and a late approval cannot revive it.
  clock_.advance(Seconds{3000});
  const auto p = call("GET", "/api/v1/requests/" + pending, "", as(store::Role::kAuditor));
  EXPECT_EQ(p.str("/state"), "expired") << p;
  EXPECT_EQ(p.str("/stored_state"), "pending") << p;
  EXPECT_EQ(call("POST", "/api/v1/requests/" + pending + "/approve", "", as(store::Role::kApprover)).status, 409);

  expired = api_->expire_due();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 1U);
  EXPECT_EQ(call("GET", "/api/v1/requests/" + pending, "", as(store::Role::kAuditor)).str("/stored_state"), "expired");
  EXPECT_EQ(audit_actions_for(pending), (std::vector<std::string>{"request.created", "request.expired"}));
  const auto events = audit_for(pending);
  EXPECT_EQ(events.back().at("actor"), "system");
  push = last_push_for(agent_, pending);
  ASSERT_TRUE(push.is_object());
  EXPECT_EQ(push.at("state"), "expired");

  expired = api_->expire_due();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 0U) << "a second sweep finds nothing more";
}

TEST_F(RequestLifecycle, AnAgentSeesOnlyItsOwnEndpointsRequests) {
  const Agent other = enrol({"web"}, "web-02");
  const std::string id = submit_pending(Submission{});
  const auto seen = call("GET", "/api/v1/agent/requests/" + id, "", other.headers());
  EXPECT_EQ(seen.status, 404) << seen;
  const auto cancel =
      call_json("POST", "/api/v1/agent/requests/" + id + "/cancel", json::object{{"user", "alice"}}, other.headers());
  EXPECT_EQ(cancel.status, 404) << cancel;
  const auto self = call_json("POST", "/api/v1/agent/requests/" + id + "/self-approve", json::object{{"user", "alice"}},
                              other.headers());
  EXPECT_EQ(self.status, 404) << self;
  EXPECT_FALSE(last_push_for(other, id).is_object()) << "another endpoint was told about the request";
  EXPECT_EQ(call("GET", "/api/v1/requests/" + id, "", as(store::Role::kAuditor)).str("/state"), "pending");

  // Its own agent may cancel it, for the requester only.
  const auto wrong_user = call_json("POST", "/api/v1/agent/requests/" + id + "/cancel",
                                    json::object{{"user", "mallory"}}, agent_.headers());
  EXPECT_EQ(wrong_user.status, 403) << wrong_user;
  const auto mine =
      call_json("POST", "/api/v1/agent/requests/" + id + "/cancel", json::object{{"user", "alice"}}, agent_.headers());
  ASSERT_EQ(mine.status, 200) << mine;
  EXPECT_EQ(mine.str("/state"), "cancelled");
  EXPECT_EQ(audit_actions_for(id), (std::vector<std::string>{"request.created", "request.cancelled"}));
}

TEST_F(RequestLifecycle, PushChannelLongPollsAndAcknowledges) {
  const auto drained = push_messages(agent_);
  const std::uint64_t cursor = drained.empty() ? 0 : drained.back().at("seq").to_number<std::uint64_t>();
  const std::string target = "/api/v1/agent/push?after=" + std::to_string(cursor);

  // Nothing new: the answer waits (a long poll the server completes later).
  const auto waiting = call("GET", target + "&wait=30", "", agent_.headers());
  ASSERT_NE(waiting.raw.long_poll, nullptr) << waiting;
  EXPECT_FALSE(waiting.raw.long_poll->poll(false).has_value());
  const std::string id = submit_pending(Submission{});
  const auto woken = waiting.raw.long_poll->poll(false);
  ASSERT_TRUE(woken.has_value()) << "a new message completes the long poll";
  const auto body = json::parse(woken->body);
  ASSERT_EQ(body.at("messages").as_array().size(), 1U) << woken->body;
  EXPECT_EQ(body.at("messages").at(0).at("payload").at("request_id"), json::string(id));
  const auto seq = body.at("cursor").to_number<std::uint64_t>();
  EXPECT_GT(seq, cursor);

  // At its deadline a long poll answers, empty if need be.
  const auto idle = call("GET", "/api/v1/agent/push?after=" + std::to_string(seq) + "&wait=30", "", agent_.headers());
  ASSERT_NE(idle.raw.long_poll, nullptr) << idle;
  const auto last = idle.raw.long_poll->poll(true);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(json::parse(last->body).at("messages").as_array().size(), 0U) << last->body;

  // Acknowledged messages are gone; polling with after=N acknowledges up to N.
  const auto ack = call_json("POST", "/api/v1/agent/push/ack", json::object{{"seq", seq}}, agent_.headers());
  ASSERT_EQ(ack.status, 200) << ack;
  EXPECT_TRUE(push_messages(agent_).empty());
  EXPECT_EQ(call("POST", "/api/v1/agent/push/ack", "", agent_.headers()).status, 400) << "seq is required";
  EXPECT_EQ(call("GET", "/api/v1/agent/push?wait=61", "", agent_.headers()).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/agent/push?after=x", "", agent_.headers()).status, 400);
}

TEST_F(RequestLifecycle, RequestListFiltersAndPages) {
  for (int i = 0; i < 3; ++i) {
    clock_.advance(std::chrono::seconds{1});
    submit_pending(Submission{});
  }
  Submission bob;
  bob.user = "bob";
  const std::string bob_id = submit_pending(bob);
  const auto by_user = call("GET", "/api/v1/requests?user=bob", "", as(store::Role::kAuditor));
  ASSERT_EQ(by_user.array("/requests").size(), 1U) << by_user;
  EXPECT_EQ(by_user.array("/requests")[0].at("id"), json::string(bob_id));

  std::vector<std::string> seen;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    const auto r = call("GET", "/api/v1/requests?limit=3" + (after.empty() ? "" : "&after=" + after), "",
                        as(store::Role::kAuditor));
    ASSERT_EQ(r.status, 200) << r;
    for (const auto& q : r.array("/requests")) {
      seen.emplace_back(q.at("id").as_string());
    }
    if (r.at("/next_after")->is_null()) {
      break;
    }
    after = r.str("/next_after");
  }
  EXPECT_EQ(seen.size(), 4U);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(call("GET", "/api/v1/requests?state=nonsense", "", as(store::Role::kAuditor)).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/requests?limit=0", "", as(store::Role::kAuditor)).status, 400);
}

// The console's request history: decided requests stay findable by state,
// user, host, time and text, newest first, a page at a time.
TEST_F(RequestLifecycle, RequestHistoryFiltersNewestFirst) {
  const auto t0 = now_text();
  Submission early;
  early.justification = "Rotate <b>the</b> KEYS";
  const std::string early_id = submit_pending(early);
  clock_.advance(std::chrono::minutes{10});
  const auto t1 = now_text();
  Submission denied;
  denied.user = "bob";
  denied.argv = {"apt-get", "purge", "openssh-server"};
  const std::string denied_id = submit_pending(denied);
  ASSERT_EQ(call_json("POST", "/api/v1/requests/" + denied_id + "/deny", json::object{{"comment", "use a ticket"}},
                      as(store::Role::kApprover))
                .status,
            200);
  clock_.advance(std::chrono::minutes{10});
  const std::string late_id = submit_pending(Submission{});
  const auto ids = [&](const std::string& query) {
    const auto r = call("GET", "/api/v1/requests?" + query, "", as(store::Role::kAuditor));
    EXPECT_EQ(r.status, 200) << query << ": " << r;
    std::vector<std::string> out;
    for (const auto& q : r.array("/requests")) out.emplace_back(q.at("id").as_string());
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids("order=newest"), (V{late_id, denied_id, early_id}));
  EXPECT_EQ(ids("order=oldest"), (V{early_id, denied_id, late_id}));
  EXPECT_EQ(ids("state=denied"), V{denied_id});
  EXPECT_EQ(ids("since=" + t1), (V{denied_id, late_id}));
  EXPECT_EQ(ids("until=" + t1), V{early_id});
  EXPECT_EQ(ids("since=" + t0 + "&until=" + t1 + "&order=newest"), V{early_id});
  EXPECT_EQ(ids("text=keys"), V{early_id});
  EXPECT_EQ(ids("text=<b>"), V{early_id});  // as typed (this harness does not percent-decode)
  EXPECT_EQ(ids("text=openssh"), V{denied_id});
  EXPECT_EQ(ids("text=USE A TICKET"), V{denied_id});
  EXPECT_EQ(ids("text=req-&order=newest&limit=2").size(), 2U);
  EXPECT_EQ(ids("user=bob&state=denied&text=purge&host=web-01"), V{denied_id});

  // Pages of one, newest first, reach every request once.
  V seen;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    const auto r = call("GET", "/api/v1/requests?order=newest&limit=1" + (after.empty() ? "" : "&after=" + after), "",
                        as(store::Role::kAuditor));
    ASSERT_EQ(r.status, 200) << r;
    for (const auto& q : r.array("/requests")) seen.emplace_back(q.at("id").as_string());
    if (r.at("/next_after")->is_null()) break;
    after = r.str("/next_after");
  }
  EXPECT_EQ(seen, (V{late_id, denied_id, early_id}));

  // Mistakes are refused, never answered with everything.
  for (const std::string& bad :
       std::vector<std::string>{"states=denied", "order=up", "since=yesterday", "until=2026-13-01T00:00:00Z",
                                "text=" + std::string(257, 'a'), "limit=1001"}) {
    const auto r = call("GET", "/api/v1/requests?" + bad, "", as(store::Role::kAuditor));
    EXPECT_EQ(r.status, 400) << bad << ": " << r;
  }
}

}  // namespace
}  // namespace hoist::api::testing
