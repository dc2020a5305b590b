// hoist-agent's reply frames, pinned field by field for every handler's
// refusals and the main answers, over a fake hoistd and the in-memory
// state: the type, the error category and the exact message the plugin and
// the CLI show. tests/ipc pins the bytes each field list encodes to, so
// together they pin what leaves the agent's socket. Taken from the agent as
// it answered before its handlers returned typed results (issue 18).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <string_view>

#include "agent/agent.h"
#include "agent/state/fake_agent_state.h"
#include "core/admin_code.h"
#include "fake_server.h"
#include "ipc/frame.h"
#include "ipc/messages.h"
#include "platform/executable.h"
#include "platform/system_time_zones.h"

namespace hoist::agent {
namespace {

const TimePoint kNow{Seconds{1'800'000'000}};
constexpr std::uint32_t kAlice = 1000;
constexpr std::uint32_t kBob = 1001;
constexpr std::uint32_t kNobody = 4242;  // no account

constexpr std::string_view kPolicy = R"(version = 1
[settings]
default_action = "deny"
contact = "the help desk, ext. 4711"

[[rule]]
name = "ids"
action = "allow"
path = "/usr/bin/id"

[[rule]]
name = "trues"
action = "request"
path = "/usr/bin/true"
)";

// Each reply as "key=value" lines, in wire order.
const std::map<std::string_view, std::string_view> kReplies = {
    {"version", R"(v=1
type=error
code=invalid_argument
message=protocol version 2 is not spoken here (this side speaks version 1); update hoist-agent and hoist_sudo.so together
)"},
    {"unknown type", R"(v=1
type=error
code=invalid_argument
message=field "type" has an unknown value
)"},
    {"a reply's type", R"(v=1
type=error
code=invalid_argument
message=hoist-agent does not take "listing" messages
)"},
    {"a missing field", R"(v=1
type=error
code=invalid_argument
message=field "command" is missing
)"},
    {"an unknown field", R"(v=1
type=error
code=invalid_argument
message=unknown field "extra"
)"},
    {"an empty id", R"(v=1
type=error
code=invalid_argument
message=request id must be 1 to 128 bytes
)"},
    {"check not from sudo", R"(v=1
type=error
code=permission_denied
message=only sudo asks hoist-agent to check a command: run it with sudo
)"},
    {"check for another uid", R"(v=1
type=error
code=permission_denied
message=the message speaks for uid 1001, but it comes from uid 1000
)"},
    {"check without an account", R"(v=1
type=decision
action=deny
reason=no such user
rule=
contact=
reauthenticate=0
default_duration_s=0
max_duration_s=0
approval_wait_s=0
grant_id=
timeout_s=0
record_processes=0
)"},
    {"check a relative command", R"(v=1
type=error
code=invalid_argument
message=field "command" must be an absolute path
)"},
    {"check a missing command", R"(v=1
type=decision
action=deny
reason=/usr/bin/no-such-program-here: no such command
rule=
contact=
reauthenticate=0
default_duration_s=0
max_duration_s=0
approval_wait_s=0
grant_id=
timeout_s=0
record_processes=0
)"},
    {"check an edit of no file", R"(v=1
type=decision
action=deny
reason=an edit names no file
rule=
contact=
reauthenticate=0
default_duration_s=0
max_duration_s=0
approval_wait_s=0
grant_id=
timeout_s=0
record_processes=0
)"},
    {"check without a policy", R"(v=1
type=decision
action=deny
reason=this computer has no Hoist policy yet (hoist-agent has not reached hoistd since it was enrolled)
rule=
contact=
reauthenticate=0
default_duration_s=0
max_duration_s=0
approval_wait_s=0
grant_id=
timeout_s=0
record_processes=0
)"},
    {"check allowed", R"(v=1
type=decision
action=allow
reason=rule "base/ids" allows it
rule=base/ids
contact=the help desk, ext. 4711
reauthenticate=0
default_duration_s=0
max_duration_s=0
approval_wait_s=0
grant_id=
timeout_s=0
record_processes=0
)"},
    {"check to request", R"(v=1
type=decision
action=request
reason=rule "base/trues" requires approval
rule=base/trues
contact=the help desk, ext. 4711
reauthenticate=0
default_duration_s=900
max_duration_s=28800
approval_wait_s=120
grant_id=
timeout_s=0
record_processes=0
)"},
    {"check denied", R"(v=1
type=decision
action=deny
reason=no rule matched and the policy denies by default
rule=
contact=the help desk, ext. 4711
reauthenticate=0
default_duration_s=0
max_duration_s=0
approval_wait_s=0
grant_id=
timeout_s=0
record_processes=0
)"},
    {"check allowed, not recorded", R"(v=1
type=decision
action=deny
reason=hoist-agent cannot record this decision (disk full); nothing runs
rule=
contact=
reauthenticate=0
default_duration_s=0
max_duration_s=0
approval_wait_s=0
grant_id=
timeout_s=0
record_processes=0
)"},
    {"check denied, not recorded", R"(v=1
type=decision
action=deny
reason=no rule matched and the policy denies by default
rule=
contact=the help desk, ext. 4711
reauthenticate=0
default_duration_s=0
max_duration_s=0
approval_wait_s=0
grant_id=
timeout_s=0
record_processes=0
)"},
    {"exec not from sudo", R"(v=1
type=error
code=permission_denied
message=exec messages come from sudo's plugin only
)"},
    {"exec for another uid", R"(v=1
type=error
code=permission_denied
message=the message speaks for uid 1001, but it comes from uid 1000
)"},
    {"exec a relative command", R"(v=1
type=error
code=invalid_argument
message=field "command" must be an absolute path
)"},
    {"exec allowed", R"(v=1
type=decision
action=allow
reason=rule "base/ids" allows it
rule=base/ids
contact=the help desk, ext. 4711
reauthenticate=0
default_duration_s=0
max_duration_s=0
approval_wait_s=0
grant_id=
timeout_s=0
record_processes=0
)"},
    {"exec to request", R"(v=1
type=decision
action=deny
reason=the temporary admin session has ended, and this program needs approval
rule=base/trues
contact=the help desk, ext. 4711
reauthenticate=0
default_duration_s=900
max_duration_s=28800
approval_wait_s=120
grant_id=
timeout_s=0
record_processes=0
)"},
    {"exec denied", R"(v=1
type=decision
action=deny
reason=no rule matched and the policy denies by default
rule=
contact=the help desk, ext. 4711
reauthenticate=0
default_duration_s=0
max_duration_s=0
approval_wait_s=0
grant_id=
timeout_s=0
record_processes=0
)"},
    {"exec allowed, not recorded", R"(v=1
type=decision
action=deny
reason=hoist-agent cannot record this process (disk full); it does not run
rule=
contact=
reauthenticate=0
default_duration_s=0
max_duration_s=0
approval_wait_s=0
grant_id=
timeout_s=0
record_processes=0
)"},
    {"elevate for another uid", R"(v=1
type=error
code=permission_denied
message=the message speaks for uid 1001, but it comes from uid 1000
)"},
    {"elevate without a reason", R"(v=1
type=error
code=invalid_argument
message=a temporary admin session needs a reason
)"},
    {"elevate without an account", R"(v=1
type=error
code=not_found
message=no such user
)"},
    {"elevate, hoistd unreachable", R"(v=1
type=error
code=unavailable
message=cannot reach the Hoist server to ask for the session; try again later (connection refused)
)"},
    {"elevate, hoistd refuses", R"(v=1
type=error
code=invalid_argument
message=hoistd says no
)"},
    {"elevate denied with a reason", R"(v=1
type=error
code=permission_denied
message=not on a Friday. ask Carol
)"},
    {"elevate denied", R"(v=1
type=error
code=permission_denied
message=the Hoist server refused the session
)"},
    {"elevate requested", R"(v=1
type=request_state
request_id=s1
state=pending
reviewer=
comment=
contact=ask Carol
time_left_s=0
self_approval_allowed=0
)"},
    {"elevate, not recorded", R"(v=1
type=error
code=unavailable
message=disk full
)"},
    {"submit for another uid", R"(v=1
type=error
code=permission_denied
message=the message speaks for uid 1001, but it comes from uid 1000
)"},
    {"submit without an account", R"(v=1
type=error
code=not_found
message=no such user
)"},
    {"submit a relative command", R"(v=1
type=error
code=invalid_argument
message=field "command" must be an absolute path
)"},
    {"submit an edit", R"(v=1
type=error
code=permission_denied
message=an edit is allowed by an edit rule or a temporary admin session; it is never requested
)"},
    {"submit without a reason", R"(v=1
type=error
code=invalid_argument
message=a request needs a justification
)"},
    {"submit, hoistd unreachable", R"(v=1
type=error
code=unavailable
message=cannot reach the Hoist server to send the request; try again later (connection refused)
)"},
    {"submit, hoistd refuses", R"(v=1
type=error
code=invalid_argument
message=hoistd says no
)"},
    {"submit denied with a reason", R"(v=1
type=error
code=permission_denied
message=not on a Friday
)"},
    {"submit denied", R"(v=1
type=error
code=permission_denied
message=the Hoist server refused this request
)"},
    {"submit, the policy changed", R"(v=1
type=error
code=conflict
message=the policy changed meanwhile; run the command again
)"},
    {"submit, no request", R"(v=1
type=error
code=conflict
message=the policy changed meanwhile; run the command again
)"},
    {"submit requested", R"(v=1
type=request_state
request_id=r1
state=pending
reviewer=
comment=
contact=ask Carol
time_left_s=0
self_approval_allowed=0
)"},
    {"submit again with sudo -n", R"(v=1
type=request_state
request_id=r1
state=pending
reviewer=
comment=
contact=the help desk, ext. 4711
time_left_s=0
self_approval_allowed=0
)"},
    {"submit, not recorded", R"(v=1
type=error
code=unavailable
message=disk full
)"},
    {"wait for an unknown request", R"(v=1
type=error
code=not_found
message=there is no request nope of yours on this computer
)"},
    {"wait for someone else's", R"(v=1
type=error
code=permission_denied
message=that request is someone else's
)"},
    {"wait pending", R"(v=1
type=request_state
request_id=r1
state=pending
reviewer=
comment=
contact=
time_left_s=0
self_approval_allowed=0
)"},
    {"wait approved", R"(v=1
type=request_state
request_id=r1
state=approved
reviewer=bob
comment=ok
contact=the help desk, ext. 4711
time_left_s=1800
self_approval_allowed=0
)"},
    {"cancel an unknown request", R"(v=1
type=error
code=not_found
message=there is no pending request nope of yours on this computer
)"},
    {"cancel someone else's", R"(v=1
type=error
code=permission_denied
message=that request is someone else's
)"},
    {"cancel, hoistd refuses", R"(v=1
type=error
code=internal
message=not used
)"},
    {"cancel, not recorded", R"(v=1
type=error
code=unavailable
message=disk full
)"},
    {"cancelled", R"(v=1
type=request_state
request_id=r1
state=cancelled
reviewer=
comment=
contact=
time_left_s=0
self_approval_allowed=0
)"},
    {"self-approve an unknown request", R"(v=1
type=error
code=not_found
message=there is no pending request nope of yours on this computer
)"},
    {"self-approve someone else's", R"(v=1
type=error
code=permission_denied
message=that request is someone else's
)"},
    {"self-approve for a technician", R"(v=1
type=error
code=permission_denied
message=request r1 needs a technician's approval; you may not approve it yourself
)"},
    {"self-approve, hoistd unreachable", R"(v=1
type=error
code=unavailable
message=cannot reach the Hoist server to approve the request; try again later (connection refused)
)"},
    {"self-approve, hoistd refuses", R"(v=1
type=error
code=conflict
message=hoistd says it changed
)"},
    {"self-approved", R"(v=1
type=request_state
request_id=r2
state=approved
reviewer=bob
comment=ok
contact=
time_left_s=1800
self_approval_allowed=0
)"},
    {"self-approve, no longer pending", R"(v=1
type=error
code=conflict
message=request r2 is no longer pending (it is approved)
)"},
    {"list for another uid", R"(v=1
type=error
code=permission_denied
message=the message speaks for uid 1001, but it comes from uid 1000
)"},
    {"list another user", R"(v=1
type=error
code=permission_denied
message=listing another user's rules is for administrators, in the console
)"},
    {"list without an account", R"(v=1
type=error
code=not_found
message=no such user
)"},
    {"list without a policy", R"(v=1
type=listing
line=This computer has no Hoist policy yet.
)"},
    {"list", R"(v=1
type=listing
line=Hoist rules for alice on host1:
line=  runs at once: /usr/bin/id (rule base/ids)
line=  needs approval: /usr/bin/true (rule base/trues)
line=Anything else is refused.
line=Waiting for approval:
line=  r1 /usr/bin/true
)"},
    {"challenge for another uid", R"(v=1
type=error
code=permission_denied
message=the message speaks for uid 1001, but it comes from uid 1000
)"},
    {"challenge, not enrolled", R"(v=1
type=error
code=unavailable
message=this computer is not enrolled
)"},
    {"redeem for another uid", R"(v=1
type=error
code=permission_denied
message=the message speaks for uid 1001, but it comes from uid 1000
)"},
    {"redeem without an account", R"(v=1
type=error
code=not_found
message=no such user
)"},
    {"redeem, not enrolled", R"(v=1
type=error
code=unavailable
message=this computer is not enrolled
)"},
    {"challenge without a key", R"(v=1
type=error
code=unavailable
message=this computer has no admin-code key: it gets one from hoistd at enrolment or when next online (hoistd needs a code master key, docs/admin-codes.md)
)"},
    {"redeem without a key", R"(v=1
type=error
code=unavailable
message=this computer has no admin-code key: it gets one from hoistd at enrolment or when next online (hoistd needs a code master key, docs/admin-codes.md)
)"},
    {"redeem a typing slip", R"(v=1
type=error
code=invalid_argument
message=1 characters: a response from the help desk has 12, a pre-issued code 20
)"},
    {"redeem a challenge", R"(v=1
type=error
code=invalid_argument
message=that is a challenge (8 characters): read it to the help desk, then enter the code they give back
)"},
    {"redeem a response without a challenge", R"(v=1
type=error
code=invalid_argument
message=a 12-character code answers a challenge: run "hoist code" to see one and read it to the help desk
)"},
    {"redeem against a bad challenge", R"(v=1
type=error
code=invalid_argument
message=this challenge is from another version of Hoist
)"},
    {"redeem against a foreign challenge", R"(v=1
type=error
code=permission_denied
message=challenge ABCD-EFGH is not one this computer gave you, or it expired (after 60 min): ask for a new one with "hoist code"
)"},
    {"redeem a code of another version", R"(v=1
type=error
code=invalid_argument
message=this code is from another version of Hoist
)"},
    {"redeem a code outside its days", R"(v=1
type=error
code=permission_denied
message=this code is valid on 2 day(s) from day 20828 (days since 1970), not today
)"},
    {"redeem a code", R"(v=1
type=code_grant
grant_id=code-preissued-00000002-g1
session=1
command=
time_left_s=7200
)"},
    {"redeem a code again", R"(v=1
type=error
code=permission_denied
message=this code was used already: a code is good once; ask the help desk for a new one
)"},
    {"redeem bob's code", R"(v=1
type=error
code=permission_denied
message=the code does not fit: check it with the help desk (host, user, and each character)
)"},
    {"redeem bob's code again", R"(v=1
type=error
code=permission_denied
message=the code does not fit: check it with the help desk (host, user, and each character)
)"},
    {"redeem bob's code a third time", R"(v=1
type=error
code=permission_denied
message=the code does not fit: check it with the help desk (host, user, and each character) (next try in 2 s)
)"},
    {"redeem while locked out", R"(v=1
type=error
code=rate_limited
message=too many wrong codes: try again in 2 seconds
)"},
    {"redeem a wrong code, not recorded", R"(v=1
type=error
code=unavailable
message=hoist-agent cannot record the attempt (disk full); no code is checked until it can
)"},
    {"redeem a code, not recorded", R"(v=1
type=error
code=unavailable
message=disk full
)"},
};

std::string show(const ipc::Fields& reply) {
  std::string out;
  for (const auto& f : reply.all()) out += fmt::format("{}={}\n", f.key, f.value);
  return out;
}

ipc::Fields without(const ipc::Fields& fields, std::string_view key) {
  std::vector<ipc::Field> kept;
  for (const auto& f : fields.all()) {
    if (f.key != key) kept.push_back(f);
  }
  return ipc::Fields(std::move(kept));
}

ServerRequest request(const std::string& id, RequestState state, bool self_allowed = false) {
  ServerRequest r;
  r.id = id;
  r.kind = RequestKind::kCommand;
  r.state = state;
  r.requester = "alice";
  r.self_approval_allowed = self_allowed;
  r.command_path = "/usr/bin/true";
  r.argv = {"true"};
  if (state == RequestState::kApproved) {
    r.reviewer = "bob";
    r.comment = "ok";
    r.grant_deadline = kNow + Seconds{1800};
  }
  return r;
}

SubmitOutcome outcome(Action decision, std::string reason, std::string contact,
                      std::optional<ServerRequest> request = std::nullopt) {
  SubmitOutcome out;
  out.decision = decision;
  out.reason = std::move(reason);
  out.contact = std::move(contact);
  out.request = std::move(request);
  return out;
}

class AgentRepliesTest : public ::testing::Test {
 protected:
  AgentRepliesTest()
      : agent_(AgentDeps{state_,
                         server_,
                         zones_,
                         inspector_,
                         [] { return kNow; },
                         [](std::uint32_t uid) -> Result<Account> {
                           if (uid == kAlice) return Account{"alice", kAlice, kAlice, {"alice"}};
                           if (uid == kBob) return Account{"bob", kBob, kBob, {"bob"}};
                           return not_found("no such user");
                         },
                         "host1",
                         {},
                         nullptr}) {}

  void use_policy() {
    ASSERT_TRUE(state_.set_policy(PolicySnapshot{"\"1\"", kNow, {}, {{"base", 1, std::string(kPolicy)}}}).ok());
    ASSERT_TRUE(agent_.load().ok());
  }

  static ipc::CommandContext context(std::uint32_t uid, std::string command, std::vector<std::string> argv) {
    ipc::CommandContext c;
    c.user = uid == kAlice ? "alice" : "bob";
    c.uid = uid;
    c.gid = uid;
    c.command = std::move(command);
    c.argv = std::move(argv);
    c.cwd = "/";
    c.tty = "/dev/pts/1";
    return c;
  }

  ipc::Fields ask(std::uint32_t uid, const ipc::Fields& request, bool sudo = true) {
    return agent_.handle(Caller{uid, 4321, sudo}, request, -1).reply;
  }
  ipc::Fields submit(std::uint32_t uid, const ipc::CommandContext& c, std::string justification = "ticket 4711") {
    return ask(uid, ipc::to_fields(ipc::SubmitMessage{c, std::move(justification), 0}));
  }
  ipc::Fields elevate(std::uint32_t uid, std::uint32_t claimed, std::string justification = "ticket 4711") {
    return ask(
        uid, ipc::to_fields(ipc::ElevateMessage{"alice", claimed, claimed, "/dev/pts/1", std::move(justification), 0}));
  }
  // Submits r1 for alice, pending.
  void submitted(bool self_allowed = false) {
    server_.next_submit = request("r1", RequestState::kPending, self_allowed);
    ASSERT_TRUE(ipc::request_state_from(submit(kAlice, context(kAlice, "/usr/bin/true", {"true"}))).ok());
  }

  // The reply pinned as `name` in kReplies.
  static void pinned(std::string_view name, const ipc::Fields& reply) {
    const auto it = kReplies.find(name);
    if (it == kReplies.end()) {
      ADD_FAILURE() << "no pinned reply for " << name << ":\n    {\"" << name << "\", R\"(" << show(reply) << ")\"},";
      return;
    }
    EXPECT_EQ(show(reply), it->second) << name;
  }

  platform::SystemTimeZones zones_;
  platform::ExecutableInspector inspector_{nullptr, nullptr};
  FakeAgentState state_;
  FakeServer server_;
  Agent agent_;
};

TEST_F(AgentRepliesTest, TheDispatcher) {
  pinned("version", ask(kAlice, ipc::Fields().add("v", "2").add("type", "check")));
  pinned("unknown type", ask(kAlice, ipc::Fields().add("v", "1").add("type", "nonsense")));
  pinned("a reply's type", ask(kAlice, ipc::to_fields(ipc::ListingMessage{{"x"}})));
  pinned("a missing field",
         ask(kAlice, without(ipc::to_fields(ipc::CheckMessage{context(kAlice, "/usr/bin/id", {"id"})}), "command")));
  pinned("an unknown field", ask(kAlice, ipc::to_fields(ipc::WaitMessage{"r1", 0}).add("extra", "1")));
  pinned("an empty id", ask(kAlice, ipc::to_fields(ipc::CancelMessage{""})));
}

TEST_F(AgentRepliesTest, Check) {
  const auto check = [&](std::uint32_t uid, const ipc::CommandContext& c, bool sudo = true) {
    return ask(uid, ipc::to_fields(ipc::CheckMessage{c}), sudo);
  };
  pinned("check not from sudo", check(kAlice, context(kAlice, "/usr/bin/id", {"id"}), false));
  pinned("check for another uid", check(kAlice, context(kBob, "/usr/bin/id", {"id"})));
  pinned("check without an account", check(kNobody, context(kNobody, "/usr/bin/id", {"id"})));
  pinned("check a relative command", check(kAlice, context(kAlice, "id", {"id"})));
  pinned("check a missing command", check(kAlice, context(kAlice, "/usr/bin/no-such-program-here", {"x"})));
  auto edit = context(kAlice, "/usr/bin/vi", {"sudoedit"});
  edit.mode = ipc::RunMode::kEdit;
  pinned("check an edit of no file", check(kAlice, edit));
  pinned("check without a policy", check(kAlice, context(kAlice, "/usr/bin/id", {"id"})));
  use_policy();
  pinned("check allowed", check(kAlice, context(kAlice, "/usr/bin/id", {"id", "-u"})));
  pinned("check to request", check(kAlice, context(kAlice, "/usr/bin/true", {"true"})));
  pinned("check denied", check(kAlice, context(kAlice, "/usr/bin/env", {"env"})));
  state_.fail_writes(unavailable("disk full"));
  pinned("check allowed, not recorded", check(kAlice, context(kAlice, "/usr/bin/id", {"id"})));
  pinned("check denied, not recorded", check(kAlice, context(kAlice, "/usr/bin/env", {"env"})));
}

TEST_F(AgentRepliesTest, Exec) {
  const auto exec = [&](std::uint32_t uid, const ipc::CommandContext& c, bool sudo = true) {
    return ask(uid, ipc::to_fields(ipc::ExecMessage{c, "g1", 77, 76, 0}), sudo);
  };
  pinned("exec not from sudo", exec(kAlice, context(kAlice, "/usr/bin/id", {"id"}), false));
  pinned("exec for another uid", exec(kAlice, context(kBob, "/usr/bin/id", {"id"})));
  pinned("exec a relative command", exec(kAlice, context(kAlice, "id", {"id"})));
  use_policy();
  pinned("exec allowed", exec(kAlice, context(kAlice, "/usr/bin/id", {"id"})));
  pinned("exec to request", exec(kAlice, context(kAlice, "/usr/bin/true", {"true"})));
  pinned("exec denied", exec(kAlice, context(kAlice, "/usr/bin/env", {"env"})));
  state_.fail_writes(unavailable("disk full"));
  pinned("exec allowed, not recorded", exec(kAlice, context(kAlice, "/usr/bin/id", {"id"})));
}

TEST_F(AgentRepliesTest, Elevate) {
  pinned("elevate for another uid", elevate(kAlice, kBob));
  pinned("elevate without a reason", elevate(kAlice, kAlice, ""));
  pinned("elevate without an account", elevate(kNobody, kNobody));
  server_.submit_answer = unavailable("connection refused");
  pinned("elevate, hoistd unreachable", elevate(kAlice, kAlice));
  server_.submit_answer = invalid_argument("hoistd says no");
  pinned("elevate, hoistd refuses", elevate(kAlice, kAlice));
  server_.submit_answer = outcome(Action::kDeny, "not on a Friday", "ask Carol");
  pinned("elevate denied with a reason", elevate(kAlice, kAlice));
  server_.submit_answer = outcome(Action::kDeny, "", "");
  pinned("elevate denied", elevate(kAlice, kAlice));
  auto session = request("s1", RequestState::kPending);
  session.kind = RequestKind::kSession;
  server_.submit_answer = outcome(Action::kRequest, "", "ask Carol", session);
  pinned("elevate requested", elevate(kAlice, kAlice));
  state_.fail_writes(unavailable("disk full"));
  pinned("elevate, not recorded", elevate(kAlice, kAlice));
}

TEST_F(AgentRepliesTest, Submit) {
  pinned("submit for another uid", submit(kAlice, context(kBob, "/usr/bin/true", {"true"})));
  pinned("submit without an account", submit(kNobody, context(kNobody, "/usr/bin/true", {"true"})));
  pinned("submit a relative command", submit(kAlice, context(kAlice, "true", {"true"})));
  auto edit = context(kAlice, "/usr/bin/vi", {"sudoedit", "/etc/hosts"});
  edit.mode = ipc::RunMode::kEdit;
  pinned("submit an edit", submit(kAlice, edit));
  pinned("submit without a reason", submit(kAlice, context(kAlice, "/usr/bin/true", {"true"}), ""));
  const auto c = context(kAlice, "/usr/bin/true", {"true"});
  server_.submit_answer = unavailable("connection refused");
  pinned("submit, hoistd unreachable", submit(kAlice, c));
  server_.submit_answer = invalid_argument("hoistd says no");
  pinned("submit, hoistd refuses", submit(kAlice, c));
  server_.submit_answer = outcome(Action::kDeny, "not on a Friday", "ask Carol");
  pinned("submit denied with a reason", submit(kAlice, c));
  server_.submit_answer = outcome(Action::kDeny, "", "");
  pinned("submit denied", submit(kAlice, c));
  server_.submit_answer = outcome(Action::kAllow, "", "");
  pinned("submit, the policy changed", submit(kAlice, c));
  server_.submit_answer = outcome(Action::kRequest, "", "");
  pinned("submit, no request", submit(kAlice, c));
  use_policy();
  server_.submit_answer = outcome(Action::kRequest, "", "ask Carol", request("r1", RequestState::kPending));
  pinned("submit requested", submit(kAlice, c));
  auto again = c;
  again.noninteractive = true;
  server_.submit_answer = outcome(Action::kRequest, "", "", request("r2", RequestState::kPending));
  pinned("submit again with sudo -n", submit(kAlice, again));
  state_.fail_writes(unavailable("disk full"));
  pinned("submit, not recorded", submit(kAlice, c));
}

TEST_F(AgentRepliesTest, Wait) {
  const auto wait = [&](std::uint32_t uid, const std::string& id) {
    return ask(uid, ipc::to_fields(ipc::WaitMessage{id, 0}));
  };
  pinned("wait for an unknown request", wait(kAlice, "nope"));
  submitted();
  pinned("wait for someone else's", wait(kBob, "r1"));
  pinned("wait pending", wait(kAlice, "r1"));
  use_policy();
  server_.stored = request("r1", RequestState::kApproved);
  ASSERT_TRUE(agent_.apply_push(PushPage{{PushMessage{1, "request", R"({"request_id":"r1"})"}}, 1}).ok());
  pinned("wait approved", wait(kAlice, "r1"));
}

TEST_F(AgentRepliesTest, Cancel) {
  const auto cancel = [&](std::uint32_t uid, const std::string& id) {
    return ask(uid, ipc::to_fields(ipc::CancelMessage{id}));
  };
  pinned("cancel an unknown request", cancel(kAlice, "nope"));
  submitted();
  pinned("cancel someone else's", cancel(kBob, "r1"));
  pinned("cancel, hoistd refuses", cancel(kAlice, "r1"));
  server_.cancel_answer = request("r1", RequestState::kCancelled);
  state_.fail_writes(unavailable("disk full"));
  pinned("cancel, not recorded", cancel(kAlice, "r1"));
  state_.fail_writes(std::nullopt);
  pinned("cancelled", cancel(kAlice, "r1"));
}

TEST_F(AgentRepliesTest, SelfApprove) {
  const auto self_approve = [&](std::uint32_t uid, const std::string& id) {
    return ask(uid, ipc::to_fields(ipc::SelfApproveMessage{id}));
  };
  pinned("self-approve an unknown request", self_approve(kAlice, "nope"));
  submitted(false);
  pinned("self-approve someone else's", self_approve(kBob, "r1"));
  pinned("self-approve for a technician", self_approve(kAlice, "r1"));
  server_.next_submit = request("r2", RequestState::kPending, true);
  ASSERT_TRUE(ipc::request_state_from(submit(kAlice, context(kAlice, "/usr/bin/true", {"true"}))).ok());
  server_.approve_answer = unavailable("connection refused");
  pinned("self-approve, hoistd unreachable", self_approve(kAlice, "r2"));
  server_.approve_answer = conflict("hoistd says it changed");
  pinned("self-approve, hoistd refuses", self_approve(kAlice, "r2"));
  server_.approve_answer = request("r2", RequestState::kApproved);
  pinned("self-approved", self_approve(kAlice, "r2"));
  pinned("self-approve, no longer pending", self_approve(kAlice, "r2"));
}

TEST_F(AgentRepliesTest, List) {
  const auto list = [&](std::uint32_t uid, std::uint32_t claimed, const std::string& list_user = "") {
    return ask(uid, ipc::to_fields(ipc::ListMessage{"alice", claimed, claimed, list_user}));
  };
  pinned("list for another uid", list(kAlice, kBob));
  pinned("list another user", list(kAlice, kAlice, "bob"));
  pinned("list without an account", list(kNobody, kNobody));
  pinned("list without a policy", list(kAlice, kAlice));
  use_policy();
  submitted();
  pinned("list", list(kAlice, kAlice));
}

// Whatever a policy holds, the listing reads back through the protocol and
// shows nothing a terminal would obey: a description with a newline and an
// escape sequence is escaped, and a policy of 3,000 rules lists what fits
// and counts the rest (from the attack pass: listing failed for everyone).
TEST_F(AgentRepliesTest, ListingsOfAnyPolicyAreSafeAndWithinTheLimits) {
  std::string text = "version = 1\n[settings]\ndefault_action = \"deny\"\n";
  text +=
      "[[rule]]\nname = \"odd\"\naction = \"allow\"\npath = \"/usr/bin/id\"\n"
      "description = \"line one\\nline two \\u001b[31mred\\u001b[0m\"\n";
  for (int i = 0; i < 3000; ++i) {
    text +=
        fmt::format("[[rule]]\nname = \"r{}\"\naction = \"allow\"\npath = \"/usr/bin/tool{}\"\ndescription = \"{}\"\n",
                    i, i, std::string(300, 'x'));
  }
  ASSERT_TRUE(state_.set_policy(PolicySnapshot{"\"2\"", kNow, {}, {{"big", 1, text}}}).ok());
  ASSERT_TRUE(agent_.load().ok());
  const auto reply = ask(kAlice, ipc::to_fields(ipc::ListMessage{"alice", kAlice, kAlice, ""}));
  const auto frame = ipc::encode_frame(reply);
  ASSERT_TRUE(frame.ok()) << frame.error().message;
  auto listing = ipc::listing_from(reply);
  ASSERT_TRUE(listing.ok()) << listing.error().message;
  ASSERT_GE(listing->lines.size(), 3U);
  EXPECT_EQ(listing->lines[1],
            "  runs at once: /usr/bin/id (rule big/odd: line one\\x0aline two \\x1b[31mred\\x1b[0m)");
  for (const auto& line : listing->lines) {
    EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
    EXPECT_LE(line.size(), ipc::kMaxTextBytes);
  }
  EXPECT_LE(listing->lines.size(), ipc::kMaxListingLines);
  bool counted = false;
  for (const auto& line : listing->lines) counted = counted || line.find("more rules naming you") != std::string::npos;
  EXPECT_TRUE(counted) << listing->lines.size() << " lines";
  EXPECT_EQ(listing->lines.back(), "Anything else is refused.");
}

TEST_F(AgentRepliesTest, AdminCodes) {
  const auto challenge = [&](std::uint32_t uid, std::uint32_t claimed) {
    return ask(uid, ipc::to_fields(ipc::CodeChallengeMessage{"alice", claimed}), false);
  };
  const auto redeem = [&](std::uint32_t uid, std::uint32_t claimed, const std::string& challenge_text,
                          const std::string& code) {
    return ask(uid, ipc::to_fields(ipc::CodeRedeemMessage{"alice", claimed, "/dev/pts/1", challenge_text, code, ""}),
               false);
  };
  pinned("challenge for another uid", challenge(kAlice, kBob));
  pinned("challenge, not enrolled", challenge(kAlice, kAlice));
  pinned("redeem for another uid", redeem(kAlice, kBob, "", "x"));
  pinned("redeem without an account", redeem(kNobody, kNobody, "", "x"));
  pinned("redeem, not enrolled", redeem(kAlice, kAlice, "", "x"));
  Identity id;
  id.server_url = "https://hoistd.test";
  id.ca_pin_sha256 = std::string(64, 'a');
  id.endpoint_id = "ep-replies-1";
  id.credential = "hoist_agent_x";
  id.hostname = "host1";
  ASSERT_TRUE(state_.set_identity(id).ok());
  pinned("challenge without a key", challenge(kAlice, kAlice));
  pinned("redeem without a key", redeem(kAlice, kAlice, "", "x"));
  id.codes_key.assign(32, 0x42);
  id.codes_key_generation = 1;
  ASSERT_TRUE(state_.set_identity(id).ok());
  pinned("redeem a typing slip", redeem(kAlice, kAlice, "", "x"));
  pinned("redeem a challenge", redeem(kAlice, kAlice, "", "ABCD-EFGH"));
  pinned("redeem a response without a challenge", redeem(kAlice, kAlice, "", "7ABC-DEFG-HJKM"));
  pinned("redeem against a bad challenge", redeem(kAlice, kAlice, "nonsense", "7ABC-DEFG-HJKM"));
  pinned("redeem against a foreign challenge", redeem(kAlice, kAlice, "ABCD-EFGH", "7ABC-DEFG-HJKM"));
  pinned("redeem a code of another version", redeem(kAlice, kAlice, "", "P7AB-CDEF-GHJK-MNPQ-RSTV"));
  codes::HostKey key{};
  key.fill(0x42);
  const auto today = static_cast<std::uint32_t>(kNow.time_since_epoch().count() / 86400);
  const auto preissued = [&](std::uint32_t serial, std::uint32_t first_day, const std::string& user) {
    auto code = codes::issue_preissued(key, codes::PreIssued{serial, first_day, 2}, {user, Seconds{7200}, ""});
    EXPECT_TRUE(code.ok());
    return code ? *code : std::string();
  };
  pinned("redeem a code outside its days", redeem(kAlice, kAlice, "", preissued(1, today - 5, "alice")));
  pinned("redeem a code", redeem(kAlice, kAlice, "", preissued(2, today, "alice")));
  pinned("redeem a code again", redeem(kAlice, kAlice, "", preissued(2, today, "alice")));
  pinned("redeem bob's code", redeem(kAlice, kAlice, "", preissued(3, today, "bob")));
  pinned("redeem bob's code again", redeem(kAlice, kAlice, "", preissued(3, today, "bob")));
  pinned("redeem bob's code a third time", redeem(kAlice, kAlice, "", preissued(3, today, "bob")));
  pinned("redeem while locked out", redeem(kAlice, kAlice, "", preissued(3, today, "bob")));
  state_.fail_writes(unavailable("disk full"));
  pinned("redeem a wrong code, not recorded", redeem(kBob, kBob, "", preissued(4, today, "alice")));
  pinned("redeem a code, not recorded", redeem(kBob, kBob, "", preissued(5, today, "bob")));
}

}  // namespace
}  // namespace hoist::agent
