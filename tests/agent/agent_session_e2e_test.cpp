// A temporary admin session end to end, as root: the real `hoist elevate`
// asks the real hoist-agent, a technician approves over hoistd's API, and
// then the real sudo (hoist_sudo.so in a private mount namespace) runs
// anything for the test user, recording every process of the elevated tree
// through sudo's intercept (ptrace mode) into hoistd's audit trail, until
// the session is revoked, which stops what still runs.
#include <future>

#include "agent/e2e_harness.h"

namespace hoist::testing {
namespace {

constexpr std::string_view kSessionPolicy = R"(version = 1

[settings]
default_action = "deny"
contact = "Call the help desk on 4711"
end_session_processes = true

[[rule]]
name = "identity"
action = "allow"
path = "/usr/bin/id"

[[rule]]
name = "no-shred"
action = "deny"
path = "/usr/bin/shred"

[[rule]]
name = "admin-sessions"
action = "request"
session = true
approval = "manual"
max_duration = "1h"
)";

class SessionE2E : public AgentE2E {
 protected:
  [[nodiscard]] std::string policy_text() const override { return std::string(kSessionPolicy); }

  void SetUp() override {
    AgentE2E::SetUp();
    use_open_dir("hoist-session");
    for (const char* sub : {"/elevate", "/running"}) {
      ASSERT_EQ(::mkdir((hoistd_.dir() + sub).c_str(), 0700), 0);
    }
  }

  // The audit events `endpoint.process` recorded for session `id`.
  std::vector<json::object> processes(const std::string& id) {
    const auto r = hoistd_.call("GET", "/api/v1/audit?action=endpoint.process&limit=500", "", admin_);
    std::vector<json::object> out;
    for (const auto& e : r.array("/events")) {
      const auto& details = e.at("details").as_object();
      if (const auto* s = details.if_contains("session"); s != nullptr && *s == json::string(id)) {
        out.push_back(details);
      }
    }
    return out;
  }

  // The first pending request of kind `session`, or "".
  std::string pending_session() {
    const auto r = hoistd_.call("GET", "/api/v1/requests?state=pending", "", admin_);
    for (const auto& q : r.array("/requests")) {
      if (q.at("kind") == "session") return std::string(q.at("id").as_string());
    }
    return {};
  }
};

bool has_command(const std::vector<json::object>& events, std::string_view command, std::string_view action) {
  return std::any_of(events.begin(), events.end(), [&](const json::object& d) {
    return d.at("command") == json::string(command) && d.at("action") == json::string(action);
  });
}

TEST_F(SessionE2E, ASessionRecordsEveryProcessAndEndsOnRevocation) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  TestUser user;
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  const std::string conf = write_sudo_conf();
  const std::string dir = hoistd_.dir();

  // No session yet: a shell is denied.
  auto before = sudo_as(user.name(), conf, "timeout 20 sudo -n /bin/bash -c true", dir);
  EXPECT_NE(before.status, 0);

  // hoist elevate waits while a technician approves.
  auto elevate = std::async(std::launch::async, [&] {
    return sudo_as(
        user.name(), conf,
        "timeout 60 " + cli_ + " elevate --for 30m --reason \"patch night (T-17)\"" + " --wait 45s --socket " + socket_,
        dir + "/elevate");
  });
  std::string id;
  ASSERT_TRUE(eventually(
      [&] {
        id = pending_session();
        return !id.empty();
      },
      seconds(20)))
      << "no session request reached hoistd";
  const auto request = hoistd_.call("GET", "/api/v1/requests/" + id, "", admin_);
  EXPECT_EQ(request.str("/justification"), "patch night (T-17)") << request;
  EXPECT_EQ(request.str("/requester"), user.name()) << request;
  const auto approved =
      hoistd_.call_json("POST", "/api/v1/requests/" + id + "/approve", json::object{{"comment", "go"}}, admin_);
  ASSERT_EQ(approved.status, 200) << approved;
  const auto elevated = elevate.get();
  ASSERT_EQ(elevated.status, 0) << elevated.out << elevated.err;
  EXPECT_NE(elevated.out.find("Temporary admin session approved"), std::string::npos) << elevated.out;

  // hoist-agent status reads the state beside the running agent.
  const std::string status_out = dir + "/status.txt";
  EXPECT_TRUE(eventually(
      [&] {
        ::unlink(status_out.c_str());
        return run({HOIST_AGENT_PATH, "status", "--state-dir", state_dir_}, status_out) == 0 &&
               slurp(status_out).find("grant " + id + " for " + user.name() + ": temporary admin session") !=
                   std::string::npos;
      },
      seconds(10)))
      << slurp(status_out);

  // Anything runs now; every process of the elevated tree is recorded, and
  // a deny rule still holds inside the session.
  auto run = sudo_as(user.name(), conf,
                     "timeout 30 sudo -n /bin/bash -c \"/usr/bin/id -u; /bin/ls / >/dev/null; "
                     "/usr/bin/env /usr/bin/true; /usr/bin/shred --version >/dev/null || echo shred-refused\"",
                     dir);
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, "0\nshred-refused\n") << run.err;
  std::vector<json::object> seen;
  ASSERT_TRUE(eventually(
      [&] {
        seen = processes(id);
        return has_command(seen, "/usr/bin/true", "allow") && has_command(seen, "/usr/bin/shred", "deny");
      },
      seconds(20)))
      << "recorded: " << json::serialize(json::value_from(seen));
  EXPECT_TRUE(has_command(seen, "/usr/bin/id", "allow"));
  EXPECT_TRUE(has_command(seen, "/usr/bin/ls", "allow"));
  EXPECT_TRUE(has_command(seen, "/usr/bin/env", "allow"));
  for (const auto& d : seen) {
    if (d.at("action") != "allow") continue;
    EXPECT_GT(d.at("pid").to_number<std::int64_t>(), 0) << json::serialize(d);
    EXPECT_GT(d.at("ppid").to_number<std::int64_t>(), 0) << json::serialize(d);
    EXPECT_EQ(d.at("exec_uid").to_number<std::int64_t>(), 0) << json::serialize(d);
    EXPECT_EQ(d.at("user"), json::string(user.name())) << json::serialize(d);
  }
  // /usr/bin/true was started by env, whose parent is the shell.
  const auto find = [&](std::string_view command) {
    return *std::find_if(seen.begin(), seen.end(),
                         [&](const json::object& d) { return d.at("command") == json::string(command); });
  };
  EXPECT_EQ(find("/usr/bin/true").at("pid"), find("/usr/bin/env").at("pid")) << "env execs true in place";

  // Revoked while a command runs: it is stopped, and nothing new starts.
  const auto started = steady_clock::now();
  auto running = std::async(std::launch::async, [&] {
    return sudo_as(user.name(), conf, "timeout 60 sudo -n /bin/bash -c \"/usr/bin/sleep 40; echo survived\"",
                   dir + "/running");
  });
  // The same on a terminal (script(1) gives it a pty): the user reads why
  // it stopped, not only the shell's "Hangup".
  ASSERT_EQ(::mkdir((dir + "/tty").c_str(), 0755), 0);
  auto on_terminal = std::async(std::launch::async, [&] {
    return sudo_as(user.name(), conf, "script -qec \"timeout 60 sudo -n /usr/bin/env /usr/bin/sleep 41\" /dev/null",
                   dir + "/tty");
  });
  ASSERT_TRUE(eventually(
      [&] {
        const auto seen_now = processes(id);
        return has_command(seen_now, "/usr/bin/sleep", "allow") &&
               std::count_if(seen_now.begin(), seen_now.end(), [](const json::object& d) {
                 return d.at("command") == json::string("/usr/bin/sleep");
               }) >= 2;
      },
      seconds(20)))
      << "on a terminal: " << [&] {
           const auto r = on_terminal.get();
           std::string commands;
           for (const auto& d : processes(id)) commands += json::serialize(d.at("argv")) + " ";
           return r.out + r.err + " status " + std::to_string(r.status) + " recorded: " + commands;
         }();
  const auto revoked =
      hoistd_.call_json("POST", "/api/v1/grants/" + id + "/revoke", json::object{{"reason", "done early"}}, admin_);
  ASSERT_EQ(revoked.status, 200) << revoked;
  const auto stopped = running.get();
  EXPECT_NE(stopped.status, 0);
  EXPECT_EQ(stopped.out.find("survived"), std::string::npos) << stopped.out;
  EXPECT_LT(steady_clock::now() - started, seconds(35)) << "the revoked session's command ran on";
  const auto told = on_terminal.get();
  EXPECT_NE(told.out.find("hoist: your temporary admin session " + id +
                          " was revoked by admin: done early. What "
                          "it still runs is being stopped."),
            std::string::npos)
      << told.out << told.err;
  auto after = sudo_as(user.name(), conf, "timeout 20 sudo -n /bin/bash -c true", dir);
  EXPECT_NE(after.status, 0) << "the session still allows commands after its revocation";
}

TEST_F(SessionE2E, AUserTheSessionRulesDoNotNameIsRefused) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  // Another policy: the session rule names a group the user is not in.
  const auto put = hoistd_.call_json(
      "PUT", "/api/v1/policies/base",
      json::object{{"text", std::string(kSessionPolicy) + "groups = [\"hoist-no-such-group\"]\n"}}, admin_);
  ASSERT_EQ(put.status, 200) << put;  // a new version
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  TestUser user;
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  const std::string conf = write_sudo_conf();
  auto refused =
      sudo_as(user.name(), conf, "timeout 30 " + cli_ + " elevate --reason \"just because\" --socket " + socket_,
              hoistd_.dir());
  EXPECT_EQ(refused.status, 77) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("no temporary admin session"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("Call the help desk on 4711"), std::string::npos) << refused.err;
  EXPECT_TRUE(pending_session().empty());
}

}  // namespace
}  // namespace hoist::testing
