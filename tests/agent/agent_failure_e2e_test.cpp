// hoist-agent and hoist_sudo.so end to end when things go wrong: the real
// hoistd, the real hoist-agent and (as root) the real sudo loading
// hoist_sudo.so in a private mount namespace (tests/agent/e2e_harness.h).
//
//   - the agent killed -9 with queued events: after hoistd and the agent
//     come back every event reaches the audit trail exactly once, also when
//     the agent sends them again (an acknowledgement that was lost);
//   - a binary swapped after the check is not the one executed (execfd);
//   - break-glass with PAM (pam_unix, a real password) while the agent is
//     down, spooled and uploaded once the agent is back;
//   - the approval wait running out;
//   - an unlisted command requested and approved with the `hoist` CLI;
//   - `sudo -n` and no terminal with a request rule.
//
// Everything on the host is made by the test and removed by it (users,
// groups, a root-owned directory under /usr/local/lib and one under /run);
// /etc/sudo.conf is only ever replaced by a bind mount inside `unshare -m`.
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "agent/e2e_harness.h"
#include "agent/state/sqlite_agent_state.h"
#include "core/sha256.h"

namespace hoist::testing {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Helpers of this file

struct Captured {
  int status = -1;
  std::string out;  // stdout and stderr together
};
std::ostream& operator<<(std::ostream& os, const Captured& c) {
  return os << "exit " << c.status << ", output:\n" << c.out;
}

// Runs `args` with `env` added to the environment (stdin /dev/null), waits
// at most `timeout`, and returns the exit status and the output.
Captured capture(const std::vector<std::string>& args, const std::vector<std::pair<std::string, std::string>>& env,
                 seconds timeout = seconds(30)) {
  int pipefd[2];
  Captured c;
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return c;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    const int in = ::open("/dev/null", O_RDONLY);
    if (in >= 0) ::dup2(in, 0);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));  // NOLINT
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  const auto until = steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(until - steady_clock::now()).count();
    if (left <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd p{pipefd[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n <= 0) break;
    c.out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipefd[0]);
  int status = 0;
  if (pid > 0 && ::waitpid(pid, &status, 0) == pid) {
    c.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return c;
}

// A local user made for one test (optionally in a supplementary group and
// with a password) and removed after it; several may exist at once.
class LocalUser {
 public:
  LocalUser(const std::string& suffix, const std::string& group, const std::string& password)
      : name_("hoist-e2e-" + std::to_string(::getpid()) + suffix) {
    std::vector<std::string> args{"/usr/sbin/useradd", "--no-create-home", "--shell", "/bin/sh"};
    if (!group.empty()) {
      args.emplace_back("-G");
      args.push_back(group);
    }
    args.push_back(name_);
    ok_ = run(args, "/dev/null") == 0;
    if (ok_ && !password.empty()) {
      // chpasswd reads "name:password" on stdin; both are plain words here.
      ok_ = run({"/bin/sh", "-c", "echo '" + name_ + ":" + password + "' | /usr/sbin/chpasswd"}, "/dev/null") == 0;
    }
  }
  ~LocalUser() {
    if (!name_.empty()) (void)run({"/usr/sbin/userdel", name_}, "/dev/null");
  }
  LocalUser(const LocalUser&) = delete;
  LocalUser& operator=(const LocalUser&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  std::string name_;
  bool ok_ = false;
};

// The number in hoist-agent status's "events waiting for upload: N" line, or -1.
long waiting_events(const std::string& status_output) {
  constexpr std::string_view kKey = "events waiting for upload: ";
  const auto at = status_output.find(kKey);
  if (at == std::string::npos) return -1;
  return std::strtol(status_output.c_str() + at + kKey.size(), nullptr, 10);
}

std::vector<std::string> spool_files(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".event")) out.push_back(e.path().string());
  }
  return out;
}

// ---------------------------------------------------------------------------
// The fixture: AgentE2E plus what these tests share.

class AgentFailureE2E : public AgentE2E {
 protected:
  // hoist-agent status --state-dir: its exit status and output.
  Captured agent_status() { return capture({HOIST_AGENT_PATH, "status", "--state-dir", state_dir_}, {}); }

  // Every audit event with this action (up to 1000).
  json::array audit_events(const std::string& action) {
    const auto r = hoistd_.call("GET", "/api/v1/audit?limit=1000&action=" + action, "", admin_);
    EXPECT_EQ(r.status, 200) << r;
    return r.array("/events");
  }
  // How often each event_id appears among those audit events.
  std::map<std::string, int> audited_ids(const std::string& action) {
    std::map<std::string, int> out;
    for (const auto& e : audit_events(action)) {
      const auto* id = e.as_object().at("details").as_object().if_contains("event_id");
      if (id != nullptr && id->is_string()) ++out[std::string(id->as_string())];
    }
    return out;
  }

  // A sudo.conf loading hoist_sudo.so with this test's socket and
  // directories and `extra` options; the plugin's spool is the agent's
  // default spool (<state dir>/spool), so the agent imports what it writes.
  std::string write_conf(const std::string& extra) {
    const std::string conf = hoistd_.dir() + "/sudo-failure.conf";
    {
      std::ofstream out(conf, std::ios::trunc);
      out << "Plugin hoist_policy " << HOIST_SUDO_SO << " agent_socket=" << socket_
          << " timestamp_dir=" << hoistd_.dir() << "/ts spool_dir=" << spool_dir() << (extra.empty() ? "" : " " + extra)
          << "\n";
    }
    EXPECT_EQ(::chmod(conf.c_str(), 0644), 0);
    return conf;
  }
  [[nodiscard]] std::string spool_dir() const { return state_dir_ + "/spool"; }

  // A PAM directory (for pam_confdir) with the service "hoist-e2e": the real
  // password through pam_unix, sessions allowed.
  [[nodiscard]] static bool write_pam_service(const RootDir& dir) { return dir.put_pam_service(); }

  // The ids of the requests pending at the server.
  std::vector<std::string> pending_ids() {
    std::vector<std::string> ids;
    const auto r = hoistd_.call("GET", "/api/v1/requests?state=pending", "", admin_);
    for (const auto& q : r.array("/requests")) ids.emplace_back(q.at("id").as_string());
    return ids;
  }

  // Answers the two questions of a request on the terminal and returns the
  // id of the request that then waits at the server ("" if none appears).
  std::string ask_on(TtySudo& sudo, const std::string& reason) {
    EXPECT_TRUE(sudo.expect("Why do you need it?", seconds(20))) << sudo.output();
    sudo.type(reason + "\n");
    EXPECT_TRUE(sudo.expect("For how long?", seconds(10))) << sudo.output();
    sudo.type("\n");
    EXPECT_TRUE(sudo.expect("Waiting for approval", seconds(10))) << sudo.output();
    std::string id;
    EXPECT_TRUE(eventually(
        [&] {
          const auto ids = pending_ids();
          if (!ids.empty()) id = ids.front();
          return !id.empty();
        },
        seconds(10)));
    return id;
  }
};

// ---------------------------------------------------------------------------
// 1. Killed -9 with queued events: each reaches the server exactly once.

TEST_F(AgentFailureE2E, KilledWithQueuedEventsDeliversEachEventOnce) {
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  // One decision while hoistd is up: the policy is in force and uploads work.
  auto warm = check("/usr/bin/id", {"id"});
  ASSERT_TRUE(warm) << warm.error().message;
  ASSERT_EQ(warm->action, Action::kAllow);
  ASSERT_TRUE(eventually([&] { return audited_ids("endpoint.decision").size() == 1; }, seconds(15)));
  const auto before = audited_ids("endpoint.decision");

  // hoistd goes away; its port is kept for the restart (the agent was
  // enrolled with that address).
  const std::uint16_t port = hoistd_.port();
  ASSERT_EQ(hoistd_.stop(), 0);

  std::size_t decisions = 0;
  for (const auto& [cmd, argv, action] : std::vector<std::tuple<std::string, std::vector<std::string>, Action>>{
           {"/usr/bin/id", {"id", "-u"}, Action::kAllow},
           {"/usr/bin/od", {"od", "/etc/hostname"}, Action::kDeny},
           {"/usr/bin/true", {"true"}, Action::kRequest},
           {"/usr/bin/env", {"env"}, Action::kAllow}}) {
    auto d = check(cmd, argv);
    ASSERT_TRUE(d) << cmd << ": " << d.error().message;
    EXPECT_EQ(d->action, action) << cmd;
    ++decisions;
  }
  std::optional<TestUser> user;
  if (real_sudo_possible()) {
    // The real sudo decides too (allow, deny, a request it cannot ask for).
    user.emplace();
    ASSERT_TRUE(user->ok()) << "cannot create a test user";
    const std::string conf = write_sudo_conf();
    auto ran = sudo_as(user->name(), conf, "timeout 20 sudo -n /usr/bin/id -u", hoistd_.dir());
    EXPECT_EQ(ran.status, 0) << ran.err;
    EXPECT_EQ(ran.out, "0\n") << ran.err;
    auto denied = sudo_as(user->name(), conf, "timeout 20 sudo -n /usr/bin/od /etc/hostname", hoistd_.dir());
    EXPECT_NE(denied.status, 0);
    auto request = sudo_as(user->name(), conf, "timeout 20 sudo -n /usr/bin/true", hoistd_.dir());
    EXPECT_NE(request.status, 0);
    EXPECT_NE(request.err.find("needs approval"), std::string::npos) << request.err;
    decisions += 3;
  }

  // Killed; then hoist-agent status (which needs the state directory's lock,
  // held by a running agent) says the events wait.
  EXPECT_EQ(stop_agent(SIGKILL), 128 + SIGKILL);
  const auto status = agent_status();
  ASSERT_EQ(status.status, 0) << status;
  EXPECT_EQ(waiting_events(status.out), static_cast<long>(decisions)) << status;

  // The very events in the outbox, for the checks below.
  std::vector<agent::OutboxEvent> queued;
  {
    auto state = agent::open_sqlite_agent_state(state_dir_);
    ASSERT_TRUE(state) << state.error().message;
    auto batch = (*state)->next_batch(agent::kMaxBatch);
    ASSERT_TRUE(batch) << batch.error().message;
    queued = std::move(*batch);
  }
  ASSERT_EQ(queued.size(), decisions);
  std::set<std::string> ids;
  for (const auto& e : queued) {
    EXPECT_EQ(e.kind, "decision");
    ids.insert(e.id);
  }
  ASSERT_EQ(ids.size(), decisions) << "two queued events share an id";

  // hoistd back on the same port and data, then the agent.
  hoistd_.options().port = port;
  ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
  ASSERT_EQ(hoistd_.port(), port);
  start_agent();
  ASSERT_TRUE(eventually([&] { return audited_ids("endpoint.decision").size() == 1 + decisions; }, seconds(30)))
      << "not every queued event reached the audit trail; the agent said:\n"
      << slurp(log_);
  std::this_thread::sleep_for(milliseconds(2500));  // more upload rounds: nothing twice
  auto audited = audited_ids("endpoint.decision");
  EXPECT_EQ(audited.size(), 1 + decisions);
  EXPECT_EQ(audit_events("endpoint.decision").size(), 1 + decisions) << "an event was audited twice";
  for (const auto& id : ids) EXPECT_EQ(audited[id], 1) << "event " << id;
  for (const auto& [id, n] : before) EXPECT_EQ(audited[id], n) << "event " << id;

  // A lost acknowledgement (kill -9 after the upload, before the ack): the
  // same events are in the outbox again and are sent again. hoistd
  // acknowledges them without a second audit event, and the outbox empties.
  EXPECT_EQ(stop_agent(SIGKILL), 128 + SIGKILL);
  {
    auto state = agent::open_sqlite_agent_state(state_dir_);
    ASSERT_TRUE(state) << state.error().message;
    auto pending = (*state)->pending_count();
    ASSERT_TRUE(pending) << pending.error().message;
    ASSERT_EQ(*pending, 0U) << "acknowledged events stayed in the outbox";
    auto again = (*state)->enqueue_all(queued);
    ASSERT_TRUE(again) << again.error().message;
  }
  EXPECT_EQ(waiting_events(agent_status().out), static_cast<long>(decisions));
  // The agent uploads at once when it starts; status reads the state only
  // while no agent holds it, so the agent is stopped to look.
  bool drained = false;
  for (int round = 0; round < 5 && !drained; ++round) {
    start_agent();
    std::this_thread::sleep_for(seconds(3));
    EXPECT_EQ(stop_agent(), 0);
    drained = waiting_events(agent_status().out) == 0;
  }
  EXPECT_TRUE(drained) << "the re-sent events were not acknowledged:\n" << agent_status() << slurp(log_);
  audited = audited_ids("endpoint.decision");
  EXPECT_EQ(audit_events("endpoint.decision").size(), 1 + decisions) << "a re-sent event was audited again";
  for (const auto& id : ids) EXPECT_EQ(audited[id], 1) << "event " << id;
}

// ---------------------------------------------------------------------------
// 2. A binary swapped after the check is not the one executed.

constexpr std::string_view kOriginalTool = "#!/bin/sh\necho hoist-e2e-ORIGINAL-ran-as-$(/usr/bin/id -u)\n";
// Another digest than kOriginalTool's (which an allow rule names), same output.
constexpr std::string_view kRequestedTool =
    "#!/bin/sh\n# requested\necho hoist-e2e-ORIGINAL-ran-as-$(/usr/bin/id -u)\n";
constexpr std::string_view kReplacementTool = "#!/bin/sh\necho hoist-e2e-REPLACEMENT-ran-as-$(/usr/bin/id -u)\n";
constexpr std::string_view kPassword = "Hoist-e2e-pw-4711";

class SwapE2E : public AgentFailureE2E {
 protected:
  void SetUp() override {
    if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
    tools_.emplace("/usr/local/lib");
    ASSERT_TRUE(tools_->ok()) << "cannot make a root-owned directory under /usr/local/lib";
    ASSERT_TRUE(tools_->put("allowed-tool", std::string(kOriginalTool), 0755));
    ASSERT_TRUE(tools_->put("requested-tool", std::string(kRequestedTool), 0755));
    AgentFailureE2E::SetUp();
  }

  [[nodiscard]] std::string policy_text() const override {
    return R"(version = 1

[settings]
default_action = "deny"
contact = "Call the help desk on 4711"

[[rule]]
name = "swap-allowed"
action = "allow"
sha256 = ")" +
           sha256(kOriginalTool).hex() +
           R"("
reauthenticate = true

[[rule]]
name = "swap-requested"
action = "request"
path = ")" +
           tools_->path() +
           R"(/requested-tool"
approval = "manual"
)";
  }

  // Replaces `name` by the replacement tool with rename(): a new inode at
  // the same path, as an attacker who can write there would do it.
  void swap(const std::string& name) {
    ASSERT_TRUE(tools_->put(name, std::string(kReplacementTool), 0755));
    ASSERT_EQ(slurp(tools_->path() + "/" + name), kReplacementTool) << "the swap did not happen";
  }

  std::optional<RootDir> tools_;
};

TEST_F(SwapE2E, AllowedThenSwappedDuringReauthenticationRunsTheCheckedFile) {
  RootDir pam("/run");
  ASSERT_TRUE(pam.ok());
  ASSERT_TRUE(write_pam_service(pam));
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  LocalUser user("-swap", "", std::string(kPassword));
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  const std::string conf = write_conf("pam_service=hoist-e2e pam_confdir=" + pam.path());
  const std::string tool = tools_->path() + "/allowed-tool";

  // The check has allowed the file (by its SHA-256) and the plugin asks for
  // the password (reauthenticate): the file is swapped now, before exec.
  TtySudo sudo(user.name(), conf, "sudo " + tool);
  ASSERT_TRUE(sudo.expect("assword", seconds(20))) << sudo.output();
  swap("allowed-tool");
  sudo.type(std::string(kPassword) + "\n");
  EXPECT_EQ(sudo.wait_exit(seconds(20)), 0) << sudo.output();
  EXPECT_NE(sudo.output().find("hoist-e2e-ORIGINAL-ran-as-0"), std::string::npos)
      << "the checked file did not run: " << sudo.output();
  EXPECT_EQ(sudo.output().find("REPLACEMENT-ran"), std::string::npos)
      << "THE SWAPPED FILE RAN AS ROOT: " << sudo.output();

  // The path now holds the replacement, whose digest no rule allows.
  auto again = sudo_as(user.name(), conf, "timeout 20 sudo -n " + tool, hoistd_.dir());
  EXPECT_NE(again.status, 0) << again.out;
  EXPECT_EQ(again.out.find("REPLACEMENT-ran"), std::string::npos) << again.out;
}

TEST_F(SwapE2E, RequestedThenSwappedWhileWaitingNeverRunsTheReplacement) {
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  TestUser user;
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  const std::string conf = write_conf("");
  const std::string tool = tools_->path() + "/requested-tool";

  // Checked and submitted; swapped while sudo waits for the approval.
  TtySudo sudo(user.name(), conf, "sudo " + tool);
  const std::string id = ask_on(sudo, "swap test");
  ASSERT_FALSE(id.empty()) << sudo.output();
  swap("requested-tool");
  const auto approved =
      hoistd_.call_json("POST", "/api/v1/requests/" + id + "/approve", json::object{{"comment", "go ahead"}}, admin_);
  ASSERT_EQ(approved.status, 200) << approved;
  const int status = sudo.wait_exit(seconds(30));
  EXPECT_EQ(sudo.output().find("REPLACEMENT-ran"), std::string::npos)
      << "THE SWAPPED FILE RAN AS ROOT: " << sudo.output();
  // The plugin checks again after the approval with the descriptor it
  // opened first; the agent sees the path now names another file and
  // refuses (the original would also have been safe to run: execfd).
  EXPECT_TRUE(sudo.output().find("changed while it was being checked") != std::string::npos ||
              sudo.output().find("hoist-e2e-ORIGINAL-ran-as-0") != std::string::npos)
      << sudo.output();
  if (sudo.output().find("hoist-e2e-ORIGINAL-ran-as-0") == std::string::npos) {
    EXPECT_NE(status, 0) << sudo.output();
  }
  // The grant recorded the original's digest: it does not cover the
  // replacement at the same path.
  auto again = sudo_as(user.name(), conf, "timeout 20 sudo -n " + tool, hoistd_.dir());
  EXPECT_NE(again.status, 0) << again.out;
  EXPECT_EQ(again.out.find("REPLACEMENT-ran"), std::string::npos) << again.out;
}

// ---------------------------------------------------------------------------
// 3. Break-glass with PAM while the agent is down.

TEST_F(AgentFailureE2E, BreakGlassWithPamWhileTheAgentIsDown) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  RootDir etc("/run");
  ASSERT_TRUE(etc.ok()) << "cannot make a root-owned directory under /run";
  ASSERT_TRUE(write_pam_service(etc));
  TestGroup group("hoist-e2e-" + std::to_string(::getpid()) + "-glass");
  ASSERT_TRUE(group.ok()) << "cannot create a test group";
  ASSERT_TRUE(etc.put("break-glass", "# who may elevate while hoist-agent is down\n" + group.name() + "\n", 0644));
  LocalUser member("-bg", group.name(), std::string(kPassword));
  ASSERT_TRUE(member.ok()) << "cannot create a test user";
  LocalUser outsider("-nobg", "", std::string(kPassword));
  ASSERT_TRUE(outsider.ok()) << "cannot create a test user";
  ASSERT_EQ(enroll(), 0) << slurp(log_);  // enrolled, not running
  const std::string conf = write_conf("break_glass_file=" + etc.path() + "/break-glass pam_service=hoist-e2e" +
                                      " pam_confdir=" + etc.path());

  // A wrong password: refused, nothing spooled.
  {
    TtySudo sudo(member.name(), conf, "sudo /usr/bin/id");
    ASSERT_TRUE(sudo.expect("break-glass", seconds(20))) << sudo.output();
    ASSERT_TRUE(sudo.expect("assword", seconds(10))) << sudo.output();
    sudo.type("not-the-password\n");
    EXPECT_NE(sudo.wait_exit(seconds(20)), 0) << sudo.output();
    EXPECT_EQ(sudo.output().find("uid=0(root)"), std::string::npos) << "ran with a wrong password: " << sudo.output();
  }
  EXPECT_TRUE(spool_files(spool_dir()).empty());
  // Not in a break-glass group: refused without a password prompt.
  {
    TtySudo sudo(outsider.name(), conf, "sudo /usr/bin/id");
    EXPECT_NE(sudo.wait_exit(seconds(20)), 0) << sudo.output();
    EXPECT_EQ(sudo.output().find("uid=0(root)"), std::string::npos) << "an outsider got break-glass: " << sudo.output();
    EXPECT_NE(sudo.output().find("hoist-agent"), std::string::npos) << sudo.output();
    EXPECT_EQ(sudo.output().find("assword"), std::string::npos) << sudo.output();
  }
  // Not on a terminal: break-glass needs the password, refused.
  {
    auto r = sudo_as(member.name(), conf, "timeout 20 sudo -n /usr/bin/id", hoistd_.dir());
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(r.out.find("uid=0(root)"), std::string::npos) << r.out;
  }
  EXPECT_TRUE(spool_files(spool_dir()).empty());
  // The right password: runs as root, and the use is spooled.
  {
    TtySudo sudo(member.name(), conf, "sudo /usr/bin/id");
    ASSERT_TRUE(sudo.expect("break-glass", seconds(20))) << sudo.output();
    ASSERT_TRUE(sudo.expect("assword", seconds(10))) << sudo.output();
    sudo.type(std::string(kPassword) + "\n");
    EXPECT_TRUE(sudo.expect("uid=0(root) gid=0(root)", seconds(20))) << sudo.output();
    EXPECT_EQ(sudo.wait_exit(seconds(20)), 0) << sudo.output();
  }
  const auto spooled = spool_files(spool_dir());
  ASSERT_EQ(spooled.size(), 1U);
  struct stat st {};
  ASSERT_EQ(::stat(spooled[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0U);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  const std::string frame = slurp(spooled[0]);
  EXPECT_NE(frame.find("break_glass"), std::string::npos);
  EXPECT_NE(frame.find(member.name()), std::string::npos);
  EXPECT_NE(frame.find("/usr/bin/id"), std::string::npos);

  // The agent back: it imports the spool and the use reaches the audit trail once.
  start_agent();
  ASSERT_TRUE(eventually([&] { return audit_events("endpoint.break_glass").size() == 1; }, seconds(20))) << slurp(log_);
  EXPECT_TRUE(eventually([&] { return spool_files(spool_dir()).empty(); }, seconds(5)));
  std::this_thread::sleep_for(milliseconds(2500));
  const auto events = audit_events("endpoint.break_glass");
  ASSERT_EQ(events.size(), 1U);
  const auto& details = events[0].at("details").as_object();
  EXPECT_EQ(details.at("user"), json::string(member.name())) << events[0];
  EXPECT_EQ(details.at("command"), "/usr/bin/id") << events[0];
  EXPECT_EQ(details.at("spool_file"), json::string(fs::path(spooled[0]).filename().string())) << events[0];
  EXPECT_EQ(events[0].at("host"), "e2e-agent") << events[0];
  EXPECT_EQ(stop_agent(), 0);
}

// ---------------------------------------------------------------------------
// 4. The approval wait runs out.

class ShortWaitE2E : public AgentFailureE2E {
 protected:
  [[nodiscard]] std::string policy_text() const override {
    return R"(version = 1

[settings]
default_action = "deny"
approval_wait = "4s"

[[rule]]
name = "whoami"
action = "request"
path = "/usr/bin/whoami"
approval = "manual"
)";
  }
};

TEST_F(ShortWaitE2E, TheWaitRunsOutAndTheRequestStaysPending) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  TestUser user;
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  const std::string conf = write_conf("");

  TtySudo sudo(user.name(), conf, "sudo /usr/bin/whoami");
  const std::string id = ask_on(sudo, "waiting for nobody");
  ASSERT_FALSE(id.empty()) << sudo.output();
  const auto waited_from = steady_clock::now();
  ASSERT_TRUE(sudo.expect("stays pending", seconds(15))) << sudo.output();
  EXPECT_LT(steady_clock::now() - waited_from, seconds(8)) << "approval_wait is 4 s";
  EXPECT_NE(sudo.wait_exit(seconds(10)), 0) << sudo.output();
  EXPECT_NE(sudo.output().find("hoist status " + id), std::string::npos) << sudo.output();
  EXPECT_EQ(sudo.output().find("\nroot"), std::string::npos) << "the command ran: " << sudo.output();
  const auto request = hoistd_.call("GET", "/api/v1/requests/" + id, "", admin_);
  ASSERT_EQ(request.status, 200) << request;
  EXPECT_EQ(request.str("/state"), "pending") << request;
  EXPECT_EQ(request.str("/requester"), user.name()) << request;
}

// ---------------------------------------------------------------------------
// 5. An unlisted command: request, approved with the hoist CLI, runs.

class UnlistedE2E : public AgentFailureE2E {
 protected:
  [[nodiscard]] std::string policy_text() const override {
    return R"(version = 1

[settings]
default_action = "request"

[[rule]]
name = "no-od"
action = "deny"
path = "/usr/bin/od"
)";
  }
};

TEST_F(UnlistedE2E, RequestedAndApprovedWithTheCliThenRuns) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  TestUser user;
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  const std::string conf = write_conf("");
  auto token = hoistd_.admin_token();
  ASSERT_TRUE(token) << token.error().message;
  const std::vector<std::pair<std::string, std::string>> env = {{"HOIST_SERVER", hoistd_.url()},
                                                                {"HOIST_TOKEN", *token},
                                                                {"HOIST_CA_FINGERPRINT", hoistd_.ca_fingerprint()},
                                                                {"HOIST_CLI_CONFIG", "/nonexistent/cli.json"}};

  TtySudo sudo(user.name(), conf, "sudo /usr/bin/whoami");
  ASSERT_TRUE(sudo.expect("This needs approval", seconds(20))) << sudo.output();
  const std::string id = ask_on(sudo, "unlisted command");
  ASSERT_FALSE(id.empty()) << sudo.output();

  const auto listed = capture({HOIST_CLI_PATH, "requests", "list"}, env);
  EXPECT_EQ(listed.status, 0) << listed;
  EXPECT_NE(listed.out.find(id), std::string::npos) << listed;
  const auto approved = capture({HOIST_CLI_PATH, "requests", "approve", id, "--comment", "approved-by-cli"}, env);
  ASSERT_EQ(approved.status, 0) << approved;

  ASSERT_TRUE(sudo.expect("approved-by-cli", seconds(15))) << sudo.output();
  ASSERT_TRUE(sudo.expect("root", seconds(10))) << sudo.output();
  EXPECT_EQ(sudo.wait_exit(seconds(10)), 0) << sudo.output();
  const auto request = hoistd_.call("GET", "/api/v1/requests/" + id, "", admin_);
  EXPECT_NE(request.str("/state"), "pending") << request;
  EXPECT_EQ(request.str("/requester"), user.name()) << request;
  EXPECT_NE(request.body.find("approved-by-cli"), std::string::npos) << request;
  // Approving again is a conflict, said by the CLI's exit code.
  const auto twice = capture({HOIST_CLI_PATH, "requests", "approve", id}, env);
  EXPECT_EQ(twice.status, 75) << twice;
}

// ---------------------------------------------------------------------------
// 6. sudo -n, and no terminal, with a request rule.

TEST_F(AgentFailureE2E, NonInteractiveRequestIsSubmittedAndRefusedAtOnce) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  TestUser user;
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  const std::string conf = write_conf("");

  const auto before = steady_clock::now();
  // -n with a reason in HOIST_REASON (sudo_as has no terminal either), then
  // without -n and without a terminal: the same request, not a second one.
  auto dash_n =
      sudo_as(user.name(), conf, "HOIST_REASON=\"nightly backup job\" timeout 20 sudo -n /usr/bin/true", hoistd_.dir());
  auto no_tty = sudo_as(user.name(), conf, "timeout 20 sudo /usr/bin/true", hoistd_.dir());
  EXPECT_LT(steady_clock::now() - before, seconds(15)) << "sudo waited";
  const auto requests = hoistd_.call("GET", "/api/v1/requests?state=pending", "", admin_);
  ASSERT_EQ(requests.status, 200) << requests;
  ASSERT_EQ(requests.array("/requests").size(), 1U) << requests;
  const auto& request = requests.array("/requests")[0].as_object();
  const std::string id(request.at("id").as_string());
  EXPECT_EQ(request.at("justification"), "nightly backup job") << request;
  EXPECT_EQ(request.at("requester"), json::string(user.name())) << request;
  for (const auto* r : {&dash_n, &no_tty}) {
    EXPECT_NE(r->status, 0) << r->err;
    EXPECT_NE(r->status, 124) << "timed out: " << r->err;
    EXPECT_TRUE(r->out.empty()) << r->out;
    EXPECT_NE(r->err.find("needs approval"), std::string::npos) << r->err;
    EXPECT_NE(r->err.find("Request " + id + " is waiting"), std::string::npos) << r->err;
    EXPECT_NE(r->err.find("hoist status " + id), std::string::npos) << r->err;
    EXPECT_NE(r->err.find("sudo /usr/bin/true"), std::string::npos) << r->err;
    EXPECT_NE(r->err.find("Call the help desk on 4711"), std::string::npos) << r->err;
    EXPECT_EQ(r->err.find("Why do you need it?"), std::string::npos) << "prompted: " << r->err;
  }
  // Approved, the same command runs without a terminal.
  const auto approved =
      hoistd_.call_json("POST", "/api/v1/requests/" + id + "/approve", json::object{{"comment", "ok"}}, admin_);
  ASSERT_EQ(approved.status, 200) << approved;
  std::this_thread::sleep_for(milliseconds(500));  // the push reaches the agent
  SudoRun after;
  ASSERT_TRUE(eventually(
      [&] {
        after = sudo_as(user.name(), conf, "timeout 20 sudo -n /usr/bin/true && echo ran", hoistd_.dir());
        return after.status == 0;
      },
      seconds(10)))
      << after.err;
  EXPECT_EQ(after.out, "ran\n") << after.err;
}

// ---------------------------------------------------------------------------
// An allow leaves hoist-agent before its event is durable (the record
// overlaps sudo's PAM session), so the plugin runs nothing until the agent
// says the event is recorded. Attacker: whatever stops that record after
// the allow (a full disk, the database locked, the agent killed). Must
// hold: the command does not run, and the user reads why.

TEST_F(AgentFailureE2E, RealSudoRunsNothingTheAgentCouldNotRecord) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  TestUser user;
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  const std::string conf = write_sudo_conf();
  auto ran = sudo_as(user.name(), conf, "timeout 20 sudo -n /usr/bin/id -u", hoistd_.dir());
  ASSERT_EQ(ran.status, 0) << ran.err;
  ASSERT_EQ(ran.out, "0\n");

  // Another writer holds the agent's database: the decision is made
  // (readers go on under WAL), its record waits out the busy timeout.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((state_dir_ + "/agent.db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  auto locked = sudo_as(user.name(), conf, "timeout 30 sudo -n /usr/bin/id -u", hoistd_.dir());
  EXPECT_NE(locked.status, 0);
  EXPECT_TRUE(locked.out.empty()) << locked.out;
  EXPECT_NE(locked.err.find("cannot record this decision"), std::string::npos) << locked.err;

  // Killed between its allow and its record: a PAM session module (which
  // runs after the allow, while the record still waits on the lock)
  // kills the agent.
  RootDir pam("/run");
  ASSERT_TRUE(pam.ok());
  ASSERT_TRUE(pam.put("hoist-e2e-kill",
                      "auth required pam_permit.so\n"
                      "account required pam_permit.so\n"
                      "session required pam_exec.so quiet /bin/kill -KILL " +
                          std::to_string(agent_pid_) +
                          "\n"
                          "password required pam_deny.so\n",
                      0644));
  std::string killing = slurp(conf);
  killing.insert(killing.find('\n'), " pam_service=hoist-e2e-kill pam_confdir=" + pam.path());
  const std::string kill_conf = hoistd_.dir() + "/sudo-kill.conf";
  std::ofstream(kill_conf) << killing;
  ASSERT_EQ(::chmod(kill_conf.c_str(), 0644), 0);
  auto killed = sudo_as(user.name(), kill_conf, "timeout 30 sudo -n /usr/bin/id -u", hoistd_.dir());
  EXPECT_NE(killed.status, 0);
  EXPECT_TRUE(killed.out.empty()) << killed.out;
  EXPECT_NE(killed.err.find("did not confirm that it recorded this decision"), std::string::npos) << killed.err;
  EXPECT_EQ(stop_agent(), 128 + SIGKILL) << "the session module killed the agent";
  EXPECT_EQ(sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

}  // namespace
}  // namespace hoist::testing
