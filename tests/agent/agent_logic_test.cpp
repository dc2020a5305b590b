// hoist-agent's pure parts: the decision precedence with grants, what a
// command grant covers, the parsers of hoistd's answers, and the Uid line;
// and the Agent's self-approval over a fake hoistd and the in-memory state.
#include <gtest/gtest.h>

#include <algorithm>

#include "agent/agent.h"
#include "agent/decide.h"
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

std::shared_ptr<const CompiledPolicy> compile(std::string_view text) {
  platform::SystemTimeZones zones;
  auto parsed = parse_policy(text, "test.toml", zones);
  EXPECT_TRUE(parsed.policy.has_value()) << (parsed.errors.empty() ? "" : parsed.errors.front().to_string());
  auto compiled = CompiledPolicy::compile(std::move(*parsed.policy));
  EXPECT_TRUE(compiled.ok());
  return *compiled;
}

constexpr std::string_view kPolicy = R"(version = 1
[settings]
default_action = "request"
approval_wait = "90s"
contact = "desk"

[[rule]]
name = "never"
action = "deny"
path = "/usr/bin/od"

[[rule]]
name = "ids"
action = "allow"
path = "/usr/bin/id"

[[rule]]
name = "installs"
action = "request"
path = "/usr/bin/apt-get"
max_duration = "2h"
default_duration = "30m"
)";

CheckFacts facts(const std::string& path, std::vector<std::string> args = {}) {
  CheckFacts f;
  f.subject = Subject{"alice", {"alice", "staff"}, {"web"}};
  f.command.exe.path = path;
  f.command.exe.trusted_path = true;
  f.command.exe.sha256 = sha256("contents of " + path);
  f.command.args = std::move(args);
  f.now = kNow;
  return f;
}

Grant command_grant(const std::string& path, std::vector<std::string> args, Seconds left = Seconds{600}) {
  Grant g;
  g.id = "req-1";
  g.user = "alice";
  g.uid = 1000;
  g.kind = GrantKind::kCommand;
  g.scope.command_path = path;
  g.scope.sha256 = sha256("contents of " + path).hex();
  g.scope.argv_patterns = std::move(args);
  g.start = kNow - Seconds{10};
  g.deadline = kNow + left;
  return g;
}

TEST(Decide, PolicyAloneDecides) {
  platform::SystemTimeZones zones;
  const auto policy = compile(kPolicy);
  auto allow = decide(policy.get(), {}, facts("/usr/bin/id"), zones);
  EXPECT_EQ(allow.action, Action::kAllow);
  EXPECT_EQ(allow.rule, "ids");
  EXPECT_EQ(allow.timeout_s, 0U);
  auto deny = decide(policy.get(), {}, facts("/usr/bin/od"), zones);
  EXPECT_EQ(deny.action, Action::kDeny);
  EXPECT_EQ(deny.contact, "desk");
  auto request = decide(policy.get(), {}, facts("/usr/bin/apt-get", {"install", "curl"}), zones);
  EXPECT_EQ(request.action, Action::kRequest);
  EXPECT_EQ(request.default_duration_s, 1800U);
  EXPECT_EQ(request.max_duration_s, 7200U);
  EXPECT_EQ(request.approval_wait_s, 90U);
  auto none = decide(nullptr, {}, facts("/usr/bin/id"), zones);
  EXPECT_EQ(none.action, Action::kDeny);
  EXPECT_NE(none.reason.find("no Hoist policy"), std::string::npos);
}

TEST(Decide, AGrantAllowsExactlyItsCommandForItsTimeLeft) {
  platform::SystemTimeZones zones;
  const auto policy = compile(kPolicy);
  const std::vector<Grant> grants = {command_grant("/usr/bin/apt-get", {"install", "curl"})};
  auto granted = decide(policy.get(), grants, facts("/usr/bin/apt-get", {"install", "curl"}), zones);
  EXPECT_EQ(granted.action, Action::kAllow);
  EXPECT_EQ(granted.grant_id, "req-1");
  EXPECT_EQ(granted.timeout_s, 600U);
  EXPECT_FALSE(granted.record_processes);
  // Other arguments, another file at the path, another program: not covered.
  EXPECT_EQ(decide(policy.get(), grants, facts("/usr/bin/apt-get", {"purge", "curl"}), zones).action, Action::kRequest);
  auto swapped = facts("/usr/bin/apt-get", {"install", "curl"});
  swapped.command.exe.sha256 = sha256("something else");
  EXPECT_EQ(decide(policy.get(), grants, swapped, zones).action, Action::kRequest);
  EXPECT_EQ(decide(policy.get(), grants, facts("/usr/bin/dpkg"), zones).action, Action::kRequest);
  // A deny rule beats any grant.
  const std::vector<Grant> od = {command_grant("/usr/bin/od", {})};
  EXPECT_EQ(decide(policy.get(), od, facts("/usr/bin/od"), zones).action, Action::kDeny);
}

TEST(Decide, ExpiredOrRevokedGrantsDoNotCount) {
  const auto expired = command_grant("/usr/bin/apt-get", {}, Seconds{0});
  auto revoked = command_grant("/usr/bin/apt-get", {});
  revoked.revoked_at = kNow - Seconds{1};
  EXPECT_EQ(covering_grant({expired, revoked}, facts("/usr/bin/apt-get").command, kNow), nullptr);
  const auto live = command_grant("/usr/bin/apt-get", {}, Seconds{5});
  EXPECT_EQ(covering_grant({expired, live}, facts("/usr/bin/apt-get").command, kNow)->deadline, live.deadline);
}

TEST(Decide, ASessionGrantCoversEveryCommandAndRecordsThem) {
  platform::SystemTimeZones zones;
  const auto policy = compile(kPolicy);
  Grant session;
  session.id = "req-2";
  session.uid = 1000;
  session.kind = GrantKind::kSession;
  session.deadline = kNow + Seconds{1200};
  auto d = decide(policy.get(), {session}, facts("/usr/bin/dpkg", {"-i", "x.deb"}), zones);
  EXPECT_EQ(d.action, Action::kAllow);
  EXPECT_EQ(d.grant_id, "req-2");
  EXPECT_TRUE(d.record_processes);
  EXPECT_EQ(d.timeout_s, 1200U);
  // An allowed command is recorded too while the session is in force, but
  // not bounded by it.
  auto allowed = decide(policy.get(), {session}, facts("/usr/bin/id"), zones);
  EXPECT_EQ(allowed.action, Action::kAllow);
  EXPECT_EQ(allowed.rule, "ids");
  EXPECT_EQ(allowed.grant_id, "req-2");
  EXPECT_TRUE(allowed.record_processes);
  EXPECT_EQ(allowed.timeout_s, 0U);
  // Under a default deny, a session still covers what no rule names; a
  // command grant does not (its request rule is gone).
  auto deny_policy = std::string(kPolicy);
  deny_policy.replace(deny_policy.find("default_action = \"request\""), 26, "default_action = \"deny\"   ");
  const auto strict = compile(deny_policy);
  EXPECT_EQ(decide(strict.get(), {session}, facts("/usr/bin/dpkg", {"-i", "x.deb"}), zones).action, Action::kAllow);
  auto orphan = session;
  orphan.kind = GrantKind::kCommand;
  orphan.scope.command_path = "/usr/bin/dpkg";
  orphan.scope.argv_patterns = {"-i", "x.deb"};
  EXPECT_EQ(decide(strict.get(), {orphan}, facts("/usr/bin/dpkg", {"-i", "x.deb"}), zones).action, Action::kDeny);
  // Ended: nothing is recorded any more, and the rest needs a request again.
  session.revoked_at = kNow - Seconds{1};
  EXPECT_FALSE(decide(policy.get(), {session}, facts("/usr/bin/id"), zones).record_processes);
  EXPECT_EQ(decide(policy.get(), {session}, facts("/usr/bin/dpkg", {"-i", "x.deb"}), zones).action, Action::kRequest);
}

TEST(Decide, AGrantHoldsForItsTargetUserAndGroupAlone) {
  platform::SystemTimeZones zones;
  const auto policy = compile(kPolicy);
  auto as_postgres = command_grant("/usr/bin/apt-get", {"install", "curl"});
  as_postgres.scope.runas_user = "postgres";
  const std::vector<Grant> grants = {as_postgres};
  auto f = facts("/usr/bin/apt-get", {"install", "curl"});
  // Asked as root: the grant for postgres does not cover it.
  EXPECT_EQ(decide(policy.get(), grants, f, zones).action, Action::kRequest);
  f.command.runas.user = "postgres";
  EXPECT_EQ(decide(policy.get(), grants, f, zones).action, Action::kAllow);
  f.command.runas.group = "dba";
  EXPECT_EQ(decide(policy.get(), grants, f, zones).action, Action::kRequest);
}

TEST(Decide, AnEditIsDecidedOnItsFilesAndASessionMayEditAnything) {
  platform::SystemTimeZones zones;
  const auto policy = compile(R"(version = 1
[settings]
default_action = "request"
[[rule]]
name = "hosts"
action = "allow"
edit = "/etc/hosts"
[[rule]]
name = "never-shadow"
action = "deny"
edit = "/etc/shadow"
[[rule]]
name = "editors"
action = "allow"
any_command = true
)");
  auto edit = [](std::vector<std::string> files) {
    CheckFacts f;
    f.subject = Subject{"alice", {"alice"}, {}};
    f.now = kNow;
    std::vector<EditFile> e;
    for (auto& p : files) e.push_back(EditFile{std::move(p), true});
    f.edit = std::move(e);
    return f;
  };
  EXPECT_EQ(decide(policy.get(), {}, edit({"/etc/hosts"}), zones).action, Action::kAllow);
  // Not a request, whatever default_action says; any_command does not help.
  EXPECT_EQ(decide(policy.get(), {}, edit({"/etc/passwd"}), zones).action, Action::kDeny);
  // A command grant never covers an edit; a session does, but not past a
  // deny rule.
  const std::vector<Grant> command = {command_grant("/usr/bin/vi", {"/etc/passwd"})};
  EXPECT_EQ(decide(policy.get(), command, edit({"/etc/passwd"}), zones).action, Action::kDeny);
  Grant session;
  session.id = "req-9";
  session.uid = 1000;
  session.kind = GrantKind::kSession;
  session.deadline = kNow + Seconds{1200};
  const auto in_session = decide(policy.get(), {session}, edit({"/etc/passwd"}), zones);
  EXPECT_EQ(in_session.action, Action::kAllow);
  EXPECT_EQ(in_session.grant_id, "req-9");
  EXPECT_EQ(decide(policy.get(), {session}, edit({"/etc/shadow"}), zones).action, Action::kDeny);
}

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
    return agent_.handle(Caller{uid, 0, true}, ipc::to_fields(ipc::SubmitMessage{c, "ticket 4711", 0}), -1);
  }
  ipc::Fields self_approve(std::uint32_t uid, const std::string& id) {
    return agent_.handle(Caller{uid, 0, true}, ipc::to_fields(ipc::SelfApproveMessage{id}), -1);
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

}  // namespace
}  // namespace hoist::agent
