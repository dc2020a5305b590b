// hoist-agent end to end: the real hoistd and the real hoist-agent binary
// (enrolled with a token and the CA pin, then run as a daemon), asked over
// its Unix socket the way hoist_sudo.so asks (endpoint::AgentConnection, the
// executable's descriptor passed by SCM_RIGHTS): decisions from the synced
// policy, a request approved over the API and seen through the push
// channel, the grant that follows, the events uploaded to the audit trail,
// and decisions that go on while hoistd is down. Then the real sudo (as
// root only) loading hoist_sudo.so in a private mount namespace, run by a
// test user created and removed here.
#include <filesystem>
#include <fstream>

#include "agent/e2e_harness.h"

namespace hoist::testing {
namespace {

TEST_F(AgentE2E, DecidesRequestsAndUploadsItsEvents) {
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  ASSERT_NE(enroll(), 0) << "a second enrolment without --force must be refused";
  start_agent();

  auto allowed = check("/usr/bin/id", {"id", "-u"});
  ASSERT_TRUE(allowed) << allowed.error().message;
  EXPECT_EQ(allowed->action, Action::kAllow);
  EXPECT_EQ(allowed->rule, "base/identity");  // policy/rule in the merged policy
  EXPECT_EQ(allowed->timeout_s, 0U);

  auto denied = check("/usr/bin/od", {"od", "/etc/hostname"});
  ASSERT_TRUE(denied) << denied.error().message;
  EXPECT_EQ(denied->action, Action::kDeny);
  EXPECT_EQ(denied->contact, "Call the help desk on 4711");

  auto asked = check("/usr/bin/true", {"true"});
  ASSERT_TRUE(asked) << asked.error().message;
  ASSERT_EQ(asked->action, Action::kRequest);
  EXPECT_EQ(asked->rule, "base/truths");
  EXPECT_EQ(asked->max_duration_s, 7200U);
  EXPECT_EQ(asked->approval_wait_s, 120U);

  // A message naming someone else is refused: the kernel says who asks.
  auto forged = context("/usr/bin/id", {"id"});
  forged.uid += 1;
  auto refused = ask(ipc::to_fields(ipc::CheckMessage{forged}), "/usr/bin/id");
  ASSERT_TRUE(refused) << refused.error().message;
  auto refusal = ipc::error_from(*refused);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->code, ErrorCode::kPermissionDenied);

  // Submit, approve over the API, and see it through the push channel.
  auto submitted = state_of(
      ask(ipc::to_fields(ipc::SubmitMessage{context("/usr/bin/true", {"true"}), "restart the lab service", 600})));
  ASSERT_TRUE(submitted) << submitted.error().message;
  EXPECT_EQ(submitted->state, RequestState::kPending);
  const std::string id = submitted->request_id;
  ASSERT_FALSE(id.empty());
  auto waited = state_of(ask(ipc::to_fields(ipc::WaitMessage{id, 300}), "", 1000));
  ASSERT_TRUE(waited) << waited.error().message;
  EXPECT_EQ(waited->state, RequestState::kPending);

  const auto approved =
      hoistd_.call_json("POST", "/api/v1/requests/" + id + "/approve", json::object{{"comment", "go ahead"}}, admin_);
  ASSERT_EQ(approved.status, 200) << approved;
  const auto before_wait = steady_clock::now();
  auto seen = state_of(ask(ipc::to_fields(ipc::WaitMessage{id, 10000}), "", 11000));
  ASSERT_TRUE(seen) << seen.error().message;
  EXPECT_EQ(seen->state, RequestState::kApproved);
  EXPECT_EQ(seen->reviewer, "admin");
  EXPECT_EQ(seen->comment, "go ahead");
  EXPECT_GT(seen->time_left_s, 500U);
  EXPECT_LT(steady_clock::now() - before_wait, seconds(5));

  auto granted = check("/usr/bin/true", {"true"});
  ASSERT_TRUE(granted) << granted.error().message;
  EXPECT_EQ(granted->action, Action::kAllow);
  EXPECT_EQ(granted->grant_id, id);
  EXPECT_GT(granted->timeout_s, 500U);
  EXPECT_LE(granted->timeout_s, 600U);
  // The grant covers that command line only.
  auto other_args = check("/usr/bin/true", {"true", "--version"});
  ASSERT_TRUE(other_args) << other_args.error().message;
  EXPECT_EQ(other_args->action, Action::kRequest);

  // Every decision reaches the audit trail, each once.
  ASSERT_TRUE(eventually([&] { return audit_actions("action=endpoint.grant.used").size() == 1; }, seconds(15)))
      << "the grant's use was not uploaded";
  // id, od, true (request), true --version; the granted run is the grant.used
  ASSERT_TRUE(eventually([&] { return audit_actions("action=endpoint.decision").size() >= 4; }, seconds(15)));
  std::this_thread::sleep_for(milliseconds(1500));  // another upload round: nothing twice
  EXPECT_EQ(audit_actions("action=endpoint.decision").size(), 4U);
  const auto use = hoistd_.call("GET", "/api/v1/audit?action=endpoint.grant.used", "", admin_);
  ASSERT_EQ(use.array("/events").size(), 1U);
  const auto& event = use.array("/events")[0].as_object();
  EXPECT_EQ(event.at("target"), json::string(id));
  EXPECT_EQ(event.at("host"), "e2e-agent");
  EXPECT_EQ(event.at("details").at("command"), "/usr/bin/true");

  // hoistd down: decisions go on from the last good policy and the grant.
  EXPECT_EQ(hoistd_.stop(), 0);
  auto offline = check("/usr/bin/id", {"id"});
  ASSERT_TRUE(offline) << offline.error().message;
  EXPECT_EQ(offline->action, Action::kAllow);
  auto offline_grant = check("/usr/bin/true", {"true"});
  ASSERT_TRUE(offline_grant) << offline_grant.error().message;
  EXPECT_EQ(offline_grant->action, Action::kAllow);
  // A restart of the agent keeps both (the state is on disk).
  EXPECT_EQ(stop_agent(), 0);
  start_agent();
  auto after_restart = check("/usr/bin/true", {"true"});
  ASSERT_TRUE(after_restart) << after_restart.error().message;
  EXPECT_EQ(after_restart->action, Action::kAllow);
  EXPECT_EQ(after_restart->grant_id, id);
  auto new_request = state_of(ask(
      ipc::to_fields(ipc::SubmitMessage{context("/usr/bin/true", {"true", "x"}), "while the server is down", 600})));
  ASSERT_FALSE(new_request);
  EXPECT_EQ(new_request.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(stop_agent(), 0);
}

TEST_F(AgentE2E, RealSudoRunsThroughThePlugin) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  TestUser user;
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  const std::string conf = write_sudo_conf();

  // Allowed: runs as root, with root's groups.
  auto id =
      sudo_as(user.name(), conf, "timeout 20 sudo -n /usr/bin/id -u; timeout 20 sudo -n /usr/bin/id -G", hoistd_.dir());
  EXPECT_EQ(id.status, 0) << id.err;
  EXPECT_EQ(id.out, "0\n0\n") << id.err;

  // A clean environment: the user's variables stay behind.
  auto env = sudo_as(user.name(), conf, "HOIST_E2E_SECRET=leak timeout 20 sudo -n /usr/bin/env", hoistd_.dir());
  EXPECT_EQ(env.status, 0) << env.err;
  EXPECT_EQ(env.out.find("HOIST_E2E_SECRET"), std::string::npos) << env.out;
  EXPECT_NE(env.out.find("SUDO_USER=" + user.name() + "\n"), std::string::npos) << env.out;
  EXPECT_NE(env.out.find("HOME=/root\n"), std::string::npos) << env.out;
  EXPECT_NE(env.out.find("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"), std::string::npos)
      << env.out;

  // Needs approval, but sudo -n cannot ask: refused at once, saying why.
  auto request = sudo_as(user.name(), conf, "timeout 20 sudo -n /usr/bin/true", hoistd_.dir());
  EXPECT_NE(request.status, 0);
  EXPECT_NE(request.err.find("needs approval"), std::string::npos) << request.err;
  // Not in the policy: denied, with the help desk's words.
  auto denied = sudo_as(user.name(), conf, "timeout 20 sudo -n /usr/bin/od /etc/hostname", hoistd_.dir());
  EXPECT_NE(denied.status, 0);
  EXPECT_TRUE(denied.out.empty()) << denied.out;
  EXPECT_NE(denied.err.find("Call the help desk on 4711"), std::string::npos) << denied.err;
  // sudoedit never re-enters sudo.
  auto edit = sudo_as(user.name(), conf, "timeout 20 sudo -n -e /etc/hostname", hoistd_.dir());
  EXPECT_NE(edit.status, 0);
  EXPECT_NE(edit.status, 124) << "sudo -e hung: " << edit.err;  // timeout(1)'s status

  // The agent down: denied with a clear message; root keeps sudo.
  EXPECT_EQ(stop_agent(), 0);
  auto down = sudo_as(user.name(), conf, "timeout 20 sudo -n /usr/bin/id -u", hoistd_.dir());
  EXPECT_NE(down.status, 0);
  EXPECT_TRUE(down.out.empty()) << down.out;
  EXPECT_NE(down.err.find("hoist-agent"), std::string::npos) << down.err;
  auto root = sudo_as("root", conf, "timeout 20 sudo -n /usr/bin/id -u", hoistd_.dir());
  EXPECT_EQ(root.status, 0) << root.err;
  EXPECT_EQ(root.out, "0\n") << root.err;
}

// The PAM session: opened (as sudoers opens it) for an allowed command, its
// environment merged in; never opened for a refused one, although the
// plugin starts PAM (pam_start, which runs no module) while hoist-agent
// decides; and a session module that fails refuses the command.
TEST_F(AgentE2E, RealSudoOpensThePamSessionOnlyForAnAllowedCommand) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  TestUser user;
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  RootDir pam("/run");
  ASSERT_TRUE(pam.ok());
  const std::string marker = pam / "session-opened";
  ASSERT_TRUE(pam.put("env", "HOIST_E2E_PAM_SESSION=opened\n", 0644));
  ASSERT_TRUE(pam.put("hoist-e2e-session",
                      "auth required pam_permit.so\n"
                      "account required pam_permit.so\n"
                      "session required pam_env.so readenv=1 user_readenv=0 envfile=" +
                          (pam / "env") +
                          "\n"
                          "session required pam_exec.so quiet /usr/bin/touch " +
                          marker +
                          "\n"
                          "password required pam_deny.so\n",
                      0644));
  ASSERT_TRUE(pam.put("hoist-e2e-no-session",
                      "auth required pam_permit.so\n"
                      "account required pam_permit.so\n"
                      "session required pam_deny.so\n"
                      "password required pam_deny.so\n",
                      0644));
  const std::string base = write_sudo_conf();
  const auto conf_with = [&](const std::string& service) {
    const std::string conf = hoistd_.dir() + "/sudo-" + service + ".conf";
    std::string line = slurp(base);
    line.insert(line.find('\n'), " pam_service=" + service + " pam_confdir=" + pam.path());
    std::ofstream(conf) << line;
    EXPECT_EQ(::chmod(conf.c_str(), 0644), 0);
    return conf;
  };
  const std::string with_session = conf_with("hoist-e2e-session");

  // Refused: PAM was started while the agent decided, but no session opened.
  auto denied = sudo_as(user.name(), with_session, "timeout 20 sudo -n /usr/bin/od /etc/hostname", hoistd_.dir());
  EXPECT_NE(denied.status, 0);
  EXPECT_NE(denied.err.find("Call the help desk on 4711"), std::string::npos) << denied.err;
  EXPECT_FALSE(std::filesystem::exists(marker)) << "a session was opened for a refused command";

  // Allowed: the session is opened and its environment reaches the command.
  auto env = sudo_as(user.name(), with_session, "timeout 20 sudo -n /usr/bin/env", hoistd_.dir());
  EXPECT_EQ(env.status, 0) << env.err;
  EXPECT_NE(env.out.find("HOIST_E2E_PAM_SESSION=opened\n"), std::string::npos) << env.out;
  EXPECT_TRUE(std::filesystem::exists(marker)) << "no session was opened for an allowed command";

  // A session module that fails: the allowed command does not run.
  auto refused =
      sudo_as(user.name(), conf_with("hoist-e2e-no-session"), "timeout 20 sudo -n /usr/bin/id -u", hoistd_.dir());
  EXPECT_NE(refused.status, 0);
  EXPECT_TRUE(refused.out.empty()) << refused.out;
  EXPECT_NE(refused.err.find("PAM could not open a session"), std::string::npos) << refused.err;
}

TEST_F(AgentE2E, RealSudoAsksWaitsAndRunsOnceApproved) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  TestUser user;
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  const std::string conf = write_sudo_conf();
  // Runs `command` through sudo on a terminal, answers the two questions,
  // and returns the request id once the request waits at the server.
  const auto ask = [&](TtySudo& sudo, const std::string& reason, const std::string& duration) -> std::string {
    EXPECT_TRUE(sudo.expect("Why do you need it?", seconds(20))) << sudo.output();
    sudo.type(reason + "\n");
    EXPECT_TRUE(sudo.expect("For how long?", seconds(10))) << sudo.output();
    sudo.type(duration + "\n");
    EXPECT_TRUE(sudo.expect("Waiting for approval", seconds(10))) << sudo.output();
    std::string id;
    EXPECT_TRUE(eventually(
        [&] {
          const auto r = hoistd_.call("GET", "/api/v1/requests?state=pending", "", admin_);
          if (!r.array("/requests").empty()) id = std::string(r.array("/requests")[0].at("id").as_string());
          return !id.empty();
        },
        seconds(10)));
    return id;
  };

  // Approved: the command runs at once, as root.
  {
    TtySudo sudo(user.name(), conf, "sudo /usr/bin/whoami");
    const std::string id = ask(sudo, "restart the lab service", "");
    ASSERT_FALSE(id.empty());
    // For less time than asked (the default, 30 minutes): the user is told.
    const auto approved = hoistd_.call_json("POST", "/api/v1/requests/" + id + "/approve",
                                            json::object{{"comment", "go ahead"}, {"duration_s", 300}}, admin_);
    ASSERT_EQ(approved.status, 200) << approved;
    EXPECT_TRUE(sudo.expect("The grant is shorter than you asked for: 5m, not ", seconds(10))) << sudo.output();
    ASSERT_TRUE(sudo.expect("root", seconds(10))) << sudo.output();
    EXPECT_EQ(sudo.wait_exit(seconds(10)), 0) << sudo.output();
    const auto request = hoistd_.call("GET", "/api/v1/requests/" + id, "", admin_);
    EXPECT_EQ(request.str("/justification"), "restart the lab service") << request;
    EXPECT_EQ(request.str("/requester"), user.name()) << request;
  }
  // Denied: the approver's comment and the help desk, nothing runs.
  {
    TtySudo sudo(user.name(), conf, "sudo /usr/bin/whoami --version");
    const std::string id = ask(sudo, "look at the version", "5m");
    ASSERT_FALSE(id.empty());
    const auto denied = hoistd_.call_json("POST", "/api/v1/requests/" + id + "/deny",
                                          json::object{{"comment", "not on a Friday"}}, admin_);
    ASSERT_EQ(denied.status, 200) << denied;
    ASSERT_TRUE(sudo.expect("not on a Friday", seconds(10))) << sudo.output();
    EXPECT_TRUE(sudo.expect("Call the help desk on 4711", seconds(5))) << sudo.output();
    EXPECT_NE(sudo.wait_exit(seconds(10)), 0) << sudo.output();
    EXPECT_EQ(sudo.output().find("GNU coreutils"), std::string::npos) << "the command ran: " << sudo.output();
  }
  // Ctrl-C while waiting withdraws the request.
  {
    TtySudo sudo(user.name(), conf, "sudo /usr/bin/whoami --help");
    const std::string id = ask(sudo, "help text", "");
    ASSERT_FALSE(id.empty());
    sudo.type("\x03");
    ASSERT_TRUE(sudo.expect("Cancelled", seconds(10))) << sudo.output();
    EXPECT_NE(sudo.wait_exit(seconds(10)), 0) << sudo.output();
    const auto request = hoistd_.call("GET", "/api/v1/requests/" + id, "", admin_);
    EXPECT_EQ(request.str("/state"), "cancelled") << request;
  }
  // So do a kill and a closed terminal (SIGHUP), as in `hoist elevate`:
  // before, sudo kept waiting, died once approved, and left the grant.
  for (const auto& [sig, args] : {std::pair{SIGTERM, std::string("term")}, std::pair{SIGHUP, std::string("hup")}}) {
    TtySudo sudo(user.name(), conf, "sudo /usr/bin/true " + args);
    const std::string id = ask(sudo, "signal " + std::to_string(sig), "");
    ASSERT_FALSE(id.empty());
    const pid_t pid = process_with_cmdline({"sudo", "/usr/bin/true", args});
    ASSERT_GT(pid, 0) << "cannot find the sudo process";
    ASSERT_EQ(::kill(pid, sig), 0);
    EXPECT_TRUE(eventually(
        [&] { return hoistd_.call("GET", "/api/v1/requests/" + id, "", admin_).str("/state") == "cancelled"; },
        seconds(10)))
        << "signal " << sig << " did not withdraw the request: " << sudo.output();
    EXPECT_NE(sudo.wait_exit(seconds(10)), 0) << sudo.output();
  }
}

TEST_F(AgentE2E, RefusesToRunUnenrolled) {
  EXPECT_NE(run({HOIST_AGENT_PATH, "run", "--state-dir", state_dir_, "--socket", socket_}, log_), 0);
  EXPECT_NE(slurp(log_).find("not enrolled"), std::string::npos) << slurp(log_);
  EXPECT_EQ(run({HOIST_AGENT_PATH, "enroll", "--state-dir", state_dir_, "--server", hoistd_.url(), "--token",
                 "hoist_enrol_nonsense", "--ca-pin", hoistd_.ca_fingerprint()},
                log_),
            69);
  EXPECT_EQ(run({HOIST_AGENT_PATH, "enroll", "--state-dir", state_dir_, "--server", hoistd_.url(), "--token", "x",
                 "--ca-pin", "not-a-pin"},
                log_),
            64);
}

// A user whom a request rule matches floods the approvers: `sudo -n` in a
// loop, a new argv (so a new request) each time. hoistd keeps 10 of them
// waiting (docs/threat-model.md); sudo says why the rest were not sent and
// how to withdraw one, and `hoist cancel` makes room.
class FloodE2E : public AgentE2E {
 protected:
  void SetUp() override {
    AgentE2E::SetUp();
    use_open_dir("hoist-flood");
  }
};

std::size_t occurrences(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

TEST_F(FloodE2E, SudoSaysWhyARequestOverTheCapWasNotSentAndHoistCancelMakesRoom) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  TestUser user;
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  const std::string conf = write_sudo_conf();

  auto flood = sudo_as(user.name(), conf,
                       "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do HOIST_REASON=\"URGENT $i\" timeout 20 sudo -n "
                       "/usr/bin/true $i; done",
                       hoistd_.dir());
  EXPECT_EQ(occurrences(flood.err, "is waiting for a technician"), 10U) << flood.err;
  EXPECT_EQ(occurrences(flood.err, "This command needs approval, but the request could not be sent: " + user.name() +
                                       " has 10 requests waiting on e2e-agent; an approver must decide one, or "
                                       "withdraw one with `hoist cancel ID` (`hoist status` lists them)"),
            2U)
      << flood.err;
  const auto pending = [&] {
    return hoistd_.call("GET", "/api/v1/requests?state=pending&user=" + user.name(), "", admin_).array("/requests");
  };
  const auto waiting = pending();
  ASSERT_EQ(waiting.size(), 10U);

  // The user withdraws one; then one more request goes out.
  const std::string id(waiting.front().at("id").as_string());
  auto cancelled =
      sudo_as(user.name(), conf, "timeout 20 " + cli_ + " cancel --socket " + socket_ + " " + id, hoistd_.dir());
  EXPECT_EQ(cancelled.status, 0) << cancelled.err;
  EXPECT_NE(cancelled.err.find("Request " + id + " was withdrawn"), std::string::npos) << cancelled.err;
  auto again = sudo_as(user.name(), conf, "HOIST_REASON=again timeout 20 sudo -n /usr/bin/true 13", hoistd_.dir());
  EXPECT_NE(again.err.find("is waiting for a technician"), std::string::npos) << again.err;
  EXPECT_EQ(pending().size(), 10U);
}

// hoistd's submission limits as a user meets them through real sudo: past
// their burst, sudo says the request was not sent, whose limit it was and
// when to try again; nothing waits for a technician and nothing is queued.
class ThrottleE2E : public AgentE2E {
 protected:
  void SetUp() override {
    hoistd_.options().config_toml = "[requests]\nuser_burst = 2\nuser_every = \"1h\"\n";
    AgentE2E::SetUp();
    use_open_dir("hoist-throttle");
  }
};

TEST_F(ThrottleE2E, SudoSaysWhenToTryAgainPastTheSubmissionLimit) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  TestUser user;
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  const std::string conf = write_sudo_conf();

  auto burst =
      sudo_as(user.name(), conf,
              "for i in 1 2 3; do HOIST_REASON=\"deploy $i\" timeout 20 sudo -n /usr/bin/true $i; done", hoistd_.dir());
  EXPECT_EQ(occurrences(burst.err, "is waiting for a technician"), 2U) << burst.err;
  const std::string refused = "This command needs approval, but the request could not be sent: " + user.name() +
                              " has sent too many requests from e2e-agent in a short time (at most 2 at once, then "
                              "one every 1h); try again in ";
  EXPECT_EQ(occurrences(burst.err, refused), 1U) << burst.err;
  const auto pending =
      hoistd_.call("GET", "/api/v1/requests?state=pending&user=" + user.name(), "", admin_).array("/requests");
  EXPECT_EQ(pending.size(), 2U);
  // The refusal is on the trail once, as request.throttled.
  EXPECT_TRUE(eventually([&] { return audit_actions("action=request.throttled").size() == 1; }, milliseconds(5000)));
}

}  // namespace
}  // namespace hoist::testing
