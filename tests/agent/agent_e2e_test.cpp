// hoist-agent end to end: the real hoistd and the real hoist-agent binary
// (enrolled with a token and the CA pin, then run as a daemon), asked over
// its Unix socket the way hoist_sudo.so asks (plugin::AgentClient, the
// executable's descriptor passed by SCM_RIGHTS): decisions from the synced
// policy, a request approved over the API and seen through the push
// channel, the grant that follows, the events uploaded to the audit trail,
// and decisions that go on while hoistd is down. Then the real sudo (as
// root only) loading hoist_sudo.so in a private mount namespace, run by a
// test user created and removed here.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "ipc/messages.h"
#include "plugin/agent_client.h"
#include "support/hoistd_process.h"

namespace hoist::testing {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr std::string_view kPolicy = R"(version = 1

[settings]
default_action = "deny"
contact = "Call the help desk on 4711"

[[rule]]
name = "identity"
action = "allow"
path = "/usr/bin/id"

[[rule]]
name = "environment"
action = "allow"
path = "/usr/bin/env"

[[rule]]
name = "whoami"
action = "request"
path = "/usr/bin/whoami"
approval = "manual"

[[rule]]
name = "truths"
action = "request"
path = "/usr/bin/true"
approval = "manual"
max_duration = "2h"
)";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

template <class F>
bool eventually(F&& f, milliseconds timeout) {
  const auto until = steady_clock::now() + timeout;
  while (steady_clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return f();
}

// Runs a program to completion; its exit status, or -1.
int run(std::vector<std::string> args, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// The real-sudo tests need root (useradd, a mount namespace, the agent as
// root; CI runs as root), and an uninstrumented plugin: an ASan-built
// hoist_sudo.so cannot load into the uninstrumented sudo.
constexpr std::string_view kRealSudoSkip =
    "needs root and a build without sanitizers (CI's default build runs it as root)";
bool real_sudo_possible() {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#else
  return ::geteuid() == 0;
#endif
}

class AgentE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
    auto token = hoistd_.admin_token();
    ASSERT_TRUE(token) << token.error().message;
    admin_ = bearer(*token);
    const auto put = hoistd_.call_json("PUT", "/api/v1/policies/base", json::object{{"text", kPolicy}}, admin_);
    ASSERT_EQ(put.status, 201) << put;
    const auto assign = hoistd_.call_json("PUT", "/api/v1/policies/base/labels",
                                          json::object{{"labels", json::array{"agents"}}}, admin_);
    ASSERT_EQ(assign.status, 200) << assign;
    state_dir_ = hoistd_.dir() + "/agent";
    socket_ = hoistd_.dir() + "/agent.sock";
    log_ = hoistd_.dir() + "/agent.log";
  }

  void TearDown() override {
    stop_agent();
    if (HasFailure()) {
      std::cerr << "--- hoist-agent's output ---\n" << slurp(log_) << "---\n";
    }
  }

  int enroll() {
    const auto token =
        hoistd_.call_json("POST", "/api/v1/enrolment-tokens", json::object{{"labels", json::array{"agents"}}}, admin_);
    EXPECT_EQ(token.status, 201) << token;
    return run({HOIST_AGENT_PATH, "enroll", "--state-dir", state_dir_, "--server", hoistd_.url(), "--token",
                token.str("/token"), "--ca-pin", hoistd_.ca_fingerprint(), "--hostname", "e2e-agent"},
               log_);
  }

  void start_agent() {
    const std::string ready = hoistd_.dir() + "/agent-ready.json";
    ::unlink(ready.c_str());
    agent_pid_ = ::fork();
    if (agent_pid_ == 0) {
      const int out = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (out >= 0) {
        ::dup2(out, 1);
        ::dup2(out, 2);
      }
      ::execl(HOIST_AGENT_PATH, HOIST_AGENT_PATH, "run", "--state-dir", state_dir_.c_str(), "--socket", socket_.c_str(),
              "--ready-file", ready.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ASSERT_GT(agent_pid_, 0);
    ASSERT_TRUE(eventually([&] { return !slurp(ready).empty(); }, milliseconds(20000))) << "hoist-agent did not start";
  }

  // SIGTERM (or `signal`) and the exit status.
  int stop_agent(int signal = SIGTERM) {
    if (agent_pid_ <= 0) return -1;
    ::kill(agent_pid_, signal);
    int status = 0;
    const pid_t pid = agent_pid_;
    agent_pid_ = -1;
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    ADD_FAILURE() << "hoist-agent did not stop within 20 s";
    return -1;
  }

  ipc::CommandContext context(const std::string& command, std::vector<std::string> argv) const {
    ipc::CommandContext c;
    const passwd* pw = ::getpwuid(::getuid());
    c.user = pw != nullptr ? pw->pw_name : "root";
    c.uid = ::getuid();
    c.gid = ::getgid();
    c.command = command;
    c.argv = std::move(argv);
    c.cwd = "/";
    return c;
  }

  // One turn with the agent, as the plugin takes it.
  Result<ipc::Fields> ask(const ipc::Fields& request, const std::string& exe = "", int extra_ms = 0) {
    auto client = plugin::AgentClient::connect(socket_);
    if (!client) return client.error();
    int fd = -1;
    if (!exe.empty()) fd = ::open(exe.c_str(), O_RDONLY | O_CLOEXEC);
    auto reply = client->call(request, fd, extra_ms);
    if (fd >= 0) ::close(fd);
    return reply;
  }

  Result<ipc::DecisionMessage> check(const std::string& command, std::vector<std::string> argv) {
    auto reply = ask(ipc::to_fields(ipc::CheckMessage{context(command, std::move(argv))}), command);
    if (!reply) return reply.error();
    if (auto e = ipc::error_from(*reply)) return Error{e->code, e->message};
    return ipc::decision_from(*reply);
  }

  Result<ipc::RequestStateMessage> state_of(const Result<ipc::Fields>& reply) {
    if (!reply) return reply.error();
    if (auto e = ipc::error_from(*reply)) return Error{e->code, e->message};
    return ipc::request_state_from(*reply);
  }

  std::vector<std::string> audit_actions(const std::string& query) {
    const auto r = hoistd_.call("GET", "/api/v1/audit?" + query, "", admin_);
    std::vector<std::string> out;
    for (const auto& e : r.array("/events")) out.emplace_back(e.at("action").as_string());
    return out;
  }

  // The sudo.conf the real-sudo tests bind over /etc/sudo.conf: hoist_sudo.so
  // with this test's agent socket and state directories.
  std::string write_sudo_conf() {
    const std::string conf = hoistd_.dir() + "/sudo.conf";
    {
      std::ofstream out(conf);
      out << "Plugin hoist_policy " << HOIST_SUDO_SO << " agent_socket=" << socket_
          << " timestamp_dir=" << hoistd_.dir() << "/ts spool_dir=" << hoistd_.dir() << "/spool\n";
    }
    EXPECT_EQ(::chmod(conf.c_str(), 0644), 0);
    return conf;
  }

  HoistdProcess hoistd_;
  Headers admin_;
  std::string state_dir_, socket_, log_;
  pid_t agent_pid_ = -1;
};

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

// A local user made for one test and removed after it.
class TestUser {
 public:
  TestUser() : name_("hoist-e2e-" + std::to_string(::getpid())) {
    ok_ = run({"/usr/sbin/useradd", "--no-create-home", "--shell", "/bin/sh", name_}, "/dev/null") == 0;
  }
  ~TestUser() {
    if (ok_) (void)run({"/usr/sbin/userdel", name_}, "/dev/null");
  }
  TestUser(const TestUser&) = delete;
  TestUser& operator=(const TestUser&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  std::string name_;
  bool ok_ = false;
};

struct SudoRun {
  int status = -1;
  std::string out;
  std::string err;
};

// The real sudo, run by the test user inside a private mount namespace in
// which /etc/sudo.conf loads hoist_sudo.so; never the host's configuration.
// `shell` is a /bin/sh command line run as the user; every sudo in it must
// carry its own `timeout`.
SudoRun sudo_as(const std::string& user, const std::string& conf, const std::string& shell, const std::string& dir) {
  const std::string inner =
      "mount --bind " + conf + " /etc/sudo.conf && exec su " + user + " -c 'cd / && " + shell + "'";
  const std::string out = dir + "/sudo.out";
  const std::string err = dir + "/sudo.err";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int in = ::open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || in < 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    ::setsid();  // no controlling terminal: the no-tty path
    ::execl("/usr/bin/timeout", "timeout", "60", "/usr/bin/unshare", "-m", "/bin/sh", "-c", inner.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  SudoRun r;
  int status = 0;
  if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) r.status = WEXITSTATUS(status);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
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

// A terminal session with the real sudo: a pseudo-terminal we type into,
// then, inside the mount namespace, `su USER -c` (which leaves no
// controlling terminal) running script(1) (which gives sudo one again).
class TtySudo {
 public:
  TtySudo(const std::string& user, const std::string& conf, const std::string& command) {
    const std::string inner = "mount --bind " + conf + " /etc/sudo.conf && exec su " + user +
                              " -c 'cd / && exec script -qec \"timeout --foreground 90 " + command + "\" /dev/null'";
    pid_ = ::forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      // --foreground: timeout(1) must not move script(1) out of the
      // terminal's foreground process group (it would stop on SIGTTIN).
      ::execl("/usr/bin/timeout", "timeout", "--foreground", "120", "/usr/bin/unshare", "-m", "/bin/sh", "-c",
              inner.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~TtySudo() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) ::close(master_);
  }
  TtySudo(const TtySudo&) = delete;
  TtySudo& operator=(const TtySudo&) = delete;

  // Reads until `text` has appeared (true) or `timeout` passes.
  bool expect(std::string_view text, milliseconds timeout) {
    const auto until = steady_clock::now() + timeout;
    while (output_.find(text, seen_) == std::string::npos) {
      const auto left = std::chrono::duration_cast<milliseconds>(until - steady_clock::now()).count();
      if (left <= 0 || !read_some(static_cast<int>(left))) return false;
    }
    seen_ = output_.find(text, seen_) + text.size();
    return true;
  }
  // sudo sets the terminal up (flushing typed-ahead input) just after it
  // shows a prompt: a person types later than that, and so does this.
  void type(std::string_view text) {
    std::this_thread::sleep_for(milliseconds(500));
    EXPECT_EQ(::write(master_, text.data(), text.size()), std::ssize(text));
  }
  // The exit status of the whole chain (sudo's, through script and su).
  int wait_exit(milliseconds timeout) {
    const auto until = steady_clock::now() + timeout;
    int status = 0;
    while (steady_clock::now() < until) {
      read_some(100);
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        while (read_some(50)) {
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    return -1;
  }
  [[nodiscard]] const std::string& output() const { return output_; }

 private:
  bool read_some(int timeout_ms) {
    pollfd p{master_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::read(master_, buf, sizeof buf);
    if (n <= 0) return false;
    output_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int master_ = -1;
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string output_;
  std::size_t seen_ = 0;
};

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
    const auto approved =
        hoistd_.call_json("POST", "/api/v1/requests/" + id + "/approve", json::object{{"comment", "go ahead"}}, admin_);
    ASSERT_EQ(approved.status, 200) << approved;
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

}  // namespace
}  // namespace hoist::testing
