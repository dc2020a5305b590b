// hoist-agent's pure parts: the parsers of hoistd's answers and the Uid
// line; and the Agent's self-approval over a fake hoistd and the in-memory
// state. (The decision precedence with grants is core's: tests/unit/decide_test.cpp.)
#include <gtest/gtest.h>

#include <algorithm>

#include "agent/agent.h"
#include "agent/peer.h"
#include "agent/server_api.h"
#include "agent/state/fake_agent_state.h"
#include "core/policy_file.h"
#include "fake_server.h"
#include "ipc/messages.h"
#include "platform/executable.h"
#include "platform/system_time_zones.h"

namespace hoist::agent {
namespace {

const TimePoint kNow{Seconds{1'800'000'000}};

TEST(ServerJson, RequestsAreReadStrictly) {
  auto r = server_request_from_json(
      R"({"id":"r1","kind":"command","state":"approved","requester":"alice","grant_deadline":"2027-01-15T08:00:00Z",
          "time_left_s":300,"review":{"reviewer":"bob","comment":"ok"},
          "command":{"path":"/usr/bin/apt-get","argv":["apt-get","update"],"sha256":"ab"},"extra":1})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->state, RequestState::kApproved);
  EXPECT_EQ(r->reviewer, "bob");
  EXPECT_EQ(r->argv, (std::vector<std::string>{"apt-get", "update"}));
  ASSERT_TRUE(r->grant_deadline);
  EXPECT_FALSE(r->self_approval_allowed) << "absent: not allowed";
  auto self = server_request_from_json(
      R"({"id":"r2","kind":"session","state":"pending","requester":"alice","time_left_s":0,
          "self_approval_allowed":true})");
  ASSERT_TRUE(self) << self.error().message;
  EXPECT_TRUE(self->self_approval_allowed);
  auto odd = server_request_from_json(
      R"({"id":"r2","kind":"session","state":"pending","requester":"alice","time_left_s":0,
          "self_approval_allowed":"yes"})");
  ASSERT_FALSE(odd);
  EXPECT_NE(odd.error().message.find("self_approval_allowed"), std::string::npos) << odd.error().message;
  for (const char* bad :
       {"", "[]", R"({"id":"r1"})", R"({"id":"r1","kind":"odd","state":"approved","requester":"a","time_left_s":0})",
        R"({"id":"r1","kind":"command","state":"odd","requester":"a","time_left_s":0})",
        R"({"id":1,"kind":"command","state":"pending","requester":"a","time_left_s":0})"}) {
    auto bad_r = server_request_from_json(bad);
    ASSERT_FALSE(bad_r) << bad;
    EXPECT_EQ(bad_r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_FALSE(bad_r.error().message.empty());
  }
}

TEST(ServerJson, PushPagesAndPolicies) {
  auto page = push_page_from_json(
      R"({"messages":[{"seq":7,"kind":"request","payload":{"request_id":"r1"}},{"seq":9,"kind":"policy"}],"cursor":9})",
      5);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->cursor, 9U);
  ASSERT_EQ(page->messages.size(), 2U);
  EXPECT_EQ(page->messages[0].payload, R"({"request_id":"r1"})");
  EXPECT_EQ(push_page_from_json(R"({"messages":[]})", 5)->cursor, 5U);
  EXPECT_FALSE(push_page_from_json(R"({"messages":[{"seq":0,"kind":"x"}]})", 5));
  auto policy = policy_fetch_from_json(
      R"({"etag":"\"e1\"","labels":["web"],"policies":[{"name":"base","version":2,"text":"version = 1"}]})");
  ASSERT_TRUE(policy) << policy.error().message;
  EXPECT_EQ(policy->documents.at(0).version, 2);
  EXPECT_FALSE(policy_fetch_from_json(R"({"etag":"x","policies":[{"name":"base"}]})"));
  auto outcome = submit_outcome_from_json(R"({"decision":"deny","reason":"no","contact":"desk","request":null})");
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->decision, Action::kDeny);
  EXPECT_FALSE(submit_outcome_from_json(R"({"decision":"request","request":null})"));
}

ServerRequest pending_request(const std::string& id, bool self_allowed) {
  ServerRequest r;
  r.id = id;
  r.kind = RequestKind::kCommand;
  r.state = RequestState::kPending;
  r.requester = "alice";
  r.self_approval_allowed = self_allowed;
  r.command_path = "/usr/bin/true";
  r.argv = {"true"};
  return r;
}

class SelfApprovalTest : public ::testing::Test {
 protected:
  SelfApprovalTest()
      : agent_(AgentDeps{state_,
                         server_,
                         zones_,
                         inspector_,
                         [] { return kNow; },
                         [](std::uint32_t uid) -> Result<Account> {
                           if (uid == 1000) return Account{"alice", 1000, 1000, {"alice", "admins"}};
                           if (uid == 1001) return Account{"bob", 1001, 1001, {"bob"}};
                           return not_found("no such user");
                         },
                         "host1",
                         {},
                         nullptr}) {}

  ipc::Fields submit(std::uint32_t uid, const ServerRequest& answer) {
    server_.next_submit = answer;
    ipc::CommandContext c;
    c.user = uid == 1000 ? "alice" : "bob";
    c.uid = uid;
    c.gid = uid;
    c.command = "/usr/bin/true";
    c.argv = {"true"};
    c.tty = "/dev/pts/1";
    return agent_.handle(Caller{uid, 0, true}, ipc::to_fields(ipc::SubmitMessage{c, "ticket 4711", 0}), -1).reply;
  }
  ipc::Fields self_approve(std::uint32_t uid, const std::string& id) {
    return agent_.handle(Caller{uid, 0, true}, ipc::to_fields(ipc::SelfApproveMessage{id}), -1).reply;
  }
  static ErrorCode refused(const ipc::Fields& reply) {
    auto e = ipc::error_from(reply);
    EXPECT_TRUE(e.ok()) << "expected an error reply";
    return e ? e->code : ErrorCode::kInternal;
  }
  std::vector<std::string> event_kinds() {
    std::vector<std::string> out;
    auto batch = state_.next_batch(100);
    EXPECT_TRUE(batch.ok());
    if (batch) {
      for (const auto& e : *batch) out.push_back(e.kind);
    }
    return out;
  }

  platform::SystemTimeZones zones_;
  platform::ExecutableInspector inspector_{nullptr, nullptr};
  FakeAgentState state_;
  FakeServer server_;
  Agent agent_;
};

TEST_F(SelfApprovalTest, TheRequesterApprovesTheirOwnRequest) {
  auto submitted = ipc::request_state_from(submit(1000, pending_request("r1", true)));
  ASSERT_TRUE(submitted.ok()) << submitted.error().message;
  EXPECT_EQ(submitted->state, RequestState::kPending);
  EXPECT_TRUE(submitted->self_approval_allowed) << "the submit answer says so";

  // Someone else may not, nor for a request the agent does not know.
  EXPECT_EQ(refused(self_approve(1001, "r1")), ErrorCode::kPermissionDenied);
  EXPECT_EQ(refused(self_approve(1000, "nope")), ErrorCode::kNotFound);
  EXPECT_TRUE(server_.self_approvals.empty());

  ServerRequest approved = pending_request("r1", true);
  approved.state = RequestState::kApproved;
  approved.reviewer = "alice";
  approved.grant_deadline = kNow + Seconds{1800};
  server_.approve_answer = approved;
  auto state = ipc::request_state_from(self_approve(1000, "r1"));
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(state->state, RequestState::kApproved);
  EXPECT_EQ(state->reviewer, "alice");
  EXPECT_EQ(state->time_left_s, 1800U);
  EXPECT_FALSE(state->self_approval_allowed) << "only a pending request is offered";
  EXPECT_EQ(server_.self_approvals, std::vector<std::string>{"r1 alice - "});
  // Recorded like an approval: the grant is in force for alice's command.
  auto grants = state_.active_grants(1000, kNow);
  ASSERT_TRUE(grants.ok());
  ASSERT_EQ(grants->size(), 1U);
  EXPECT_EQ(grants->front().id, "r1");
  EXPECT_EQ(grants->front().scope.command_path, "/usr/bin/true");
  const auto kinds = event_kinds();
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "request.self_approved"), kinds.end())
      << ::testing::PrintToString(kinds);

  // Once approved it is no longer pending: refused, hoistd not asked.
  EXPECT_EQ(refused(self_approve(1000, "r1")), ErrorCode::kConflict);
  EXPECT_EQ(server_.self_approvals.size(), 1U);
}

TEST_F(SelfApprovalTest, ARequestForATechnicianIsNotSelfApprovable) {
  auto submitted = ipc::request_state_from(submit(1000, pending_request("r2", false)));
  ASSERT_TRUE(submitted.ok()) << submitted.error().message;
  EXPECT_FALSE(submitted->self_approval_allowed);
  auto reply = self_approve(1000, "r2");
  EXPECT_EQ(refused(reply), ErrorCode::kPermissionDenied);
  EXPECT_NE(ipc::error_from(reply)->message.find("technician"), std::string::npos);
  EXPECT_TRUE(server_.self_approvals.empty());
}

TEST_F(SelfApprovalTest, HoistdsRefusalReachesTheCaller) {
  ASSERT_TRUE(ipc::request_state_from(submit(1000, pending_request("r3", true))).ok());
  server_.approve_answer = unavailable("connection refused");
  auto reply = self_approve(1000, "r3");
  EXPECT_EQ(refused(reply), ErrorCode::kUnavailable);
  EXPECT_NE(ipc::error_from(reply)->message.find("cannot reach the Hoist server"), std::string::npos);
  const auto kinds = event_kinds();
  EXPECT_EQ(std::find(kinds.begin(), kinds.end(), "request.self_approved"), kinds.end());
  EXPECT_EQ(refused(self_approve(1000, "")), ErrorCode::kInvalidArgument);
}

TEST(Peer, RealUidComesFromTheUidLine) {
  EXPECT_EQ(*real_uid_from_status("Name:\tsudo\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n"), 1000U);
  EXPECT_EQ(*real_uid_from_status("Uid:  0 0 0 0\n"), 0U);
  for (const char* bad : {"", "Name: x\n", "Uid:\t\n", "Uid:\t-1\t0\n", "Uid:\t99999999999\t0\n", "Uid:\t12a\t0\n",
                          "Uid:\t4294967295\t0\n"}) {
    EXPECT_FALSE(real_uid_from_status(bad)) << bad;
  }
}

TEST(Peer, AccountsComeFromNss) {
  auto root = account_of(0);
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(root->name, "root");
  ASSERT_FALSE(root->groups.empty());
  EXPECT_EQ(root->groups.front(), "root");
  auto nobody = account_of(4294967294U - 7);
  EXPECT_FALSE(nobody);
}

// What a session's user reads on their terminal when it ends (rather than
// only the shell's "Hangup").
TEST(SessionEndNotice, SaysRevokedByWhomAndWhyOrExpired) {
  ServerRequest r;
  r.id = "req-1";
  r.kind = RequestKind::kSession;
  r.state = RequestState::kRevoked;
  r.ended_by = "bob";
  r.end_reason = "done early";
  EXPECT_EQ(session_end_notice(r),
            "hoist: your temporary admin session req-1 was revoked by bob: done early. What it still runs is being "
            "stopped.");
  r.ended_by.clear();
  r.end_reason.clear();
  EXPECT_EQ(session_end_notice(r),
            "hoist: your temporary admin session req-1 was revoked. What it still runs is being stopped.");
  r.state = RequestState::kExpired;
  EXPECT_EQ(session_end_notice(r),
            "hoist: your temporary admin session req-1 has ended (its time is up). What it still runs is being "
            "stopped.");
}

TEST(ServerJson, RequestsCarryWhoEndedThemAndWhy) {
  auto r = server_request_from_json(R"({"id":"r1","kind":"session","state":"revoked","requester":"alice",
      "time_left_s":0,"ended_by":"bob","end_reason":"done early"})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->ended_by, "bob");
  EXPECT_EQ(r->end_reason, "done early");
}

}  // namespace
}  // namespace hoist::agent
