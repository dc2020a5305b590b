// The harness of hoist-agent's end-to-end tests: a real hoistd
// (tests/support), the real hoist-agent binary enrolled with a token and the
// CA pin, the agent asked over its socket as hoist_sudo.so asks, and the
// real sudo loading hoist_sudo.so inside a private mount namespace, run by
// a test user created and removed by the test.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "endpoint/agent_connection.h"
#include "ipc/messages.h"
#include "support/hoistd_process.h"

namespace hoist::testing {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

inline constexpr std::string_view kPolicy = R"(version = 1

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

inline std::string slurp(const std::string& path) {
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
inline int run(std::vector<std::string> args, const std::string& log) {
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
inline constexpr std::string_view kRealSudoSkip =
    "needs root and a build without sanitizers (CI's default build runs it as root)";
inline bool real_sudo_possible() {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#else
  return ::geteuid() == 0;
#endif
}

class AgentE2E : public ::testing::Test {
 protected:
  // The policy assigned to the test endpoint.
  [[nodiscard]] virtual std::string policy_text() const { return std::string(kPolicy); }

  void SetUp() override {
    ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
    auto token = hoistd_.admin_token();
    ASSERT_TRUE(token) << token.error().message;
    admin_ = bearer(*token);
    const auto put = hoistd_.call_json("PUT", "/api/v1/policies/base", json::object{{"text", policy_text()}}, admin_);
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
    if (!open_dir_.empty()) (void)run({"/bin/rm", "-rf", open_dir_}, "/dev/null");
  }

  int enroll() {
    const auto token =
        hoistd_.call_json("POST", "/api/v1/enrolment-tokens", json::object{{"labels", json::array{"agents"}}}, admin_);
    EXPECT_EQ(token.status, 201) << token;
    // The pin pasted as hoistd prints it ("SHA256 AB:CD:..."); other tests
    // give the bare form.
    return run({HOIST_AGENT_PATH, "enroll", "--state-dir", state_dir_, "--server", hoistd_.url(), "--token",
                token.str("/token"), "--ca-pin", "SHA256 " + hoistd_.ca_fingerprint(), "--hostname", "e2e-agent"},
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
    auto client = endpoint::AgentConnection::connect(socket_);
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

  // For tests in which the test user runs `hoist` and reaches the agent's
  // socket: both move to a directory anyone may enter (the harness's own
  // is root's, 0700), removed in TearDown. Call from SetUp, before
  // start_agent().
  void use_open_dir(const char* prefix) {
    std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    open_dir_ = tmpl;
    ASSERT_EQ(::chmod(open_dir_.c_str(), 0755), 0);
    socket_ = open_dir_ + "/agent.sock";
    cli_ = open_dir_ + "/hoist";
    ASSERT_EQ(run({"/usr/bin/install", "-m", "0755", HOIST_CLI_PATH, cli_}, "/dev/null"), 0);
  }

  HoistdProcess hoistd_;
  Headers admin_;
  std::string state_dir_, socket_, log_;
  std::string open_dir_, cli_;  // see use_open_dir()
  pid_t agent_pid_ = -1;
};

// A directory made for one test and removed with everything in it:
// root-owned with `mode`. With the default 0755 under /run (root's, not
// writable by others) it is a trusted path; /tmp is writable by everyone,
// so nothing under it is.
class RootDir {
 public:
  explicit RootDir(const std::string& parent, mode_t mode = 0755)
      : path_(parent + "/hoist-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++)) {
    ok_ = ::mkdir(path_.c_str(), mode) == 0 && ::chown(path_.c_str(), 0, 0) == 0 && ::chmod(path_.c_str(), mode) == 0;
  }
  ~RootDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  RootDir(const RootDir&) = delete;
  RootDir& operator=(const RootDir&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string operator/(const std::string& name) const { return path_ + "/" + name; }

  // Writes `name` (root-owned, `mode`) through a temporary name and rename().
  // `name` may name a file in a subdirectory ("conf.d/a.conf").
  bool put(const std::string& name, const std::string& content, mode_t mode) const {
    const auto slash = name.rfind('/');
    const std::string tmp = path_ + "/" + (slash == std::string::npos ? "" : name.substr(0, slash + 1)) + "." +
                            name.substr(slash == std::string::npos ? 0 : slash + 1) + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << content;
      if (!out) return false;
    }
    return ::chown(tmp.c_str(), 0, 0) == 0 && ::chmod(tmp.c_str(), mode) == 0 &&
           ::rename(tmp.c_str(), (path_ + "/" + name).c_str()) == 0;
  }
  // The PAM service "hoist-e2e" (for pam_confdir): the real password
  // through pam_unix, sessions allowed.
  [[nodiscard]] bool put_pam_service() const {
    return put("hoist-e2e",
               "auth required pam_unix.so nodelay\n"
               "account required pam_unix.so\n"
               "session required pam_permit.so\n"
               "password required pam_deny.so\n",
               0644);
  }

 private:
  static inline int counter_ = 0;
  std::string path_;
  bool ok_ = false;
};

// Accounts (users in /etc/passwd, groups in /etc/group) of earlier runs
// that were killed before their destructors ran: hoist-e2e-PID[...] whose
// PID is no longer alive are removed with `remove_tool`, so none piles up.
inline void remove_leftover_accounts(const std::string& file, const std::string& remove_tool) {
  std::istringstream accounts(slurp(file));
  std::string line;
  while (std::getline(accounts, line)) {
    const std::string name = line.substr(0, line.find(':'));
    constexpr std::string_view kPrefix = "hoist-e2e-";
    if (name.rfind(kPrefix, 0) != 0) continue;
    const std::string digits =
        name.substr(kPrefix.size(), name.find_first_not_of("0123456789", kPrefix.size()) - kPrefix.size());
    if (digits.empty() || digits.size() > 9) continue;
    const pid_t owner = static_cast<pid_t>(std::stol(digits));
    if (owner == ::getpid() || ::kill(owner, 0) == 0 || errno != ESRCH) continue;
    (void)run({remove_tool, name}, "/dev/null");
  }
}

// A local group made for one test (named hoist-e2e-PID...) and removed after it.
class TestGroup {
 public:
  explicit TestGroup(std::string name) : name_(std::move(name)) {
    remove_leftover_accounts("/etc/group", "/usr/sbin/groupdel");
    ok_ = run({"/usr/sbin/groupadd", name_}, "/dev/null") == 0;
  }
  ~TestGroup() {
    if (ok_) (void)run({"/usr/sbin/groupdel", name_}, "/dev/null");
  }
  TestGroup(const TestGroup&) = delete;
  TestGroup& operator=(const TestGroup&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  std::string name_;
  bool ok_ = false;
};

// A local user made for one test and removed after it.
class TestUser {
 public:
  TestUser() : name_("hoist-e2e-" + std::to_string(::getpid())) {
    remove_leftover_accounts("/etc/passwd", "/usr/sbin/userdel");
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
inline SudoRun sudo_as(const std::string& user, const std::string& conf, const std::string& shell,
                       const std::string& dir) {
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

// The first process whose command line is exactly `argv`, or -1.
inline pid_t process_with_cmdline(const std::vector<std::string>& argv) {
  std::string want;
  for (const auto& a : argv) want += a + '\0';
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (slurp(entry.path() / "cmdline") == want) return static_cast<pid_t>(std::stoi(name));
  }
  return -1;
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

}  // namespace hoist::testing
