// hoist_sudo.so as sudo sees it: dlopen()ed, `hoist_policy` looked up, its
// entry points called with fake sudo_conv/sudo_printf (recording output,
// scripting answers) against a scripted fake hoist-agent on a Unix socket.
// The real sudo is never run here (that is the end-to-end suite's job, in a
// private mount namespace).
#include <dlfcn.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <sudo_plugin.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fake_agent.h"
#include "ipc/messages.h"
#include "plugin/timestamp.h"
#include "plugin_test_support.h"

#ifndef HOIST_SUDO_SO
#error "HOIST_SUDO_SO must name the built hoist_sudo.so"
#endif

namespace hoist::plugin::testing {
namespace {

namespace fs = std::filesystem;

// What the fake front end saw and what it answers.
struct Recorder {
  std::vector<std::pair<int, std::string>> printed;  // (msg_type, text)
  std::vector<std::string> prompts;
  std::deque<std::optional<std::string>> answers;  // nullopt: the prompt fails (EOF, Ctrl-C)
};
Recorder* g_recorder = nullptr;

int fake_conv(int num, const sudo_conv_message msgs[], sudo_conv_reply replies[], sudo_conv_callback* /*cb*/) {
  for (int i = 0; i < num; ++i) {
    const int type = msgs[i].msg_type & 0xFF;
    if (type == SUDO_CONV_PROMPT_ECHO_ON || type == SUDO_CONV_PROMPT_ECHO_OFF || type == SUDO_CONV_PROMPT_MASK) {
      g_recorder->prompts.emplace_back(msgs[i].msg);
      if (g_recorder->answers.empty() || !g_recorder->answers.front()) {
        if (!g_recorder->answers.empty()) g_recorder->answers.pop_front();
        return -1;
      }
      replies[i].reply = ::strdup(g_recorder->answers.front()->c_str());
      g_recorder->answers.pop_front();
    } else {
      g_recorder->printed.emplace_back(msgs[i].msg_type, msgs[i].msg);
    }
  }
  return 0;
}

__attribute__((format(printf, 2, 3))) int fake_printf(int type, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char* text = nullptr;
  const int n = ::vasprintf(&text, fmt, ap);
  va_end(ap);
  if (n < 0) return -1;
  g_recorder->printed.emplace_back(type, text);
  std::free(text);
  return n;
}

std::vector<std::string> strings_of(char** array) {
  std::vector<std::string> out;
  for (; array != nullptr && *array != nullptr; ++array) out.emplace_back(*array);
  return out;
}

std::map<std::string, std::string> as_map(const std::vector<std::string>& kv) {
  std::map<std::string, std::string> out;
  for (const auto& e : kv) out[e.substr(0, e.find('='))] = e.substr(e.find('=') + 1);
  return out;
}

ipc::Fields decision(Action action, const std::string& reason = "", const std::string& contact = "") {
  ipc::DecisionMessage d;
  d.action = action;
  d.reason = reason;
  d.contact = contact;
  return ipc::to_fields(d);
}

ipc::Fields allow(std::uint64_t timeout_s = 0, bool record = false) {
  ipc::DecisionMessage d;
  d.action = Action::kAllow;
  d.timeout_s = timeout_s;
  d.record_processes = record;
  d.grant_id = timeout_s != 0 ? "grant-1" : "";
  return ipc::to_fields(d);
}

ipc::Fields request(std::uint64_t default_s, std::uint64_t max_s, std::uint64_t wait_s) {
  ipc::DecisionMessage d;
  d.action = Action::kRequest;
  d.reason = "installing packages needs approval";
  d.rule = "fleet/installs";
  d.contact = "Help desk: call 555-0100";
  d.default_duration_s = default_s;
  d.max_duration_s = max_s;
  d.approval_wait_s = wait_s;
  return ipc::to_fields(d);
}

ipc::Fields state(RequestState s, const std::string& reviewer = "", const std::string& comment = "") {
  ipc::RequestStateMessage m;
  m.request_id = "req-42";
  m.state = s;
  m.reviewer = reviewer;
  m.comment = comment;
  m.contact = s == RequestState::kDenied ? "Help desk: call 555-0100" : "";
  m.time_left_s = s == RequestState::kApproved ? 1800 : 0;
  return ipc::to_fields(m);
}

Step answer(const ipc::Fields& f) {
  return [f](const Received&) { return Answer::of(f); };
}

struct CheckResult {
  int rc = -99;
  std::vector<std::string> info;
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string errstr;
  [[nodiscard]] std::map<std::string, std::string> map() const { return as_map(info); }
};

class PluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_recorder = &recorder_;
    // RTLD_NODELETE: loaded once per process, as in sudo (every unload
    // would drop the emergency exception pool of the static libstdc++).
    handle_ = ::dlopen(HOIST_SUDO_SO, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    ASSERT_NE(handle_, nullptr) << ::dlerror();
    plugin_ = static_cast<policy_plugin*>(::dlsym(handle_, "hoist_policy"));
    ASSERT_NE(plugin_, nullptr);
    char tmpl[] = "/tmp/hoist-plugin-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/agent.sock";
    ASSERT_LT(socket_.size(), 100u);
    agent_ = std::make_unique<FakeAgent>(socket_);
    ASSERT_TRUE(agent_->listening());
    ::stat("/usr/bin/true", &true_stat_);
  }

  void TearDown() override {
    if (opened_) plugin_->close(0, 0);
    if (agent_) agent_->stop();
    agent_.reset();
    if (handle_ != nullptr) ::dlclose(handle_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
    g_recorder = nullptr;
  }

  std::vector<std::string> default_options() {
    return {"agent_socket=" + socket_, "timestamp_dir=" + dir_ + "/ts", "spool_dir=" + dir_ + "/spool"};
  }

  int open(std::vector<std::string> options = {}, std::vector<std::string> settings = {},
           std::vector<std::string> user_info = {}, std::vector<std::string> user_env = {}) {
    if (options.empty()) options = default_options();
    settings.insert(settings.begin(), {"progname=sudo", "network_addrs=192.0.2.1/255.255.255.0"});
    if (user_info.empty()) user_info = alice();
    if (user_env.empty()) {
      user_env = {"PATH=/home/alice/bin:/usr/bin", "HOME=/home/alice", "TERM=xterm", "SHELL=/bin/bash",
                  "LD_PRELOAD=/home/alice/evil.so"};
    }
    SudoArray s(settings), u(user_info), e(user_env), o(options);
    const char* errstr = nullptr;
    const int rc =
        plugin_->open(SUDO_API_VERSION, fake_conv, fake_printf, s.data(), u.data(), e.data(), o.data(), &errstr);
    opened_ = rc == 1;
    return rc;
  }

  static std::vector<std::string> alice(std::string uid = "1000", std::string tty = "/dev/pts/99",
                                        std::string groups = "1000") {
    return {"user=alice",
            "uid=" + uid,
            "gid=1000",
            "euid=0",
            "egid=1000",
            "groups=" + groups,
            "cwd=/tmp",
            "tty=" + tty,
            "host=testhost",
            "lines=24",
            "cols=80",
            "pid=" + std::to_string(::getpid()),
            "ppid=" + std::to_string(::getppid()),
            "pgid=" + std::to_string(::getpgrp()),
            "sid=" + std::to_string(::getsid(0)),
            "umask=022"};
  }

  CheckResult check(std::vector<std::string> argv, std::vector<std::string> env_add = {}) {
    SudoArray a(argv), add(env_add);
    char** info = nullptr;
    char** argv_out = nullptr;
    char** env_out = nullptr;
    const char* errstr = nullptr;
    CheckResult r;
    r.rc = plugin_->check_policy(static_cast<int>(argv.size()), a.data(), const_cast<char**>(add.data()), &info,
                                 &argv_out, &env_out, &errstr);
    if (r.rc == 1) {
      r.info = strings_of(info);
      r.argv = strings_of(argv_out);
      r.env = strings_of(env_out);
    }
    r.errstr = errstr != nullptr ? errstr : "";
    return r;
  }

  std::string output() const {
    std::string out;
    for (const auto& [type, text] : recorder_.printed) out += text;
    return out;
  }

  void start(std::vector<Step> steps) {
    agent_->script(std::move(steps));
    agent_->start();
  }

  void write_file(const std::string& path, const std::string& text, mode_t mode = 0644) {
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
  }

  // A PAM configuration directory with a permitting and a denying service.
  std::string pam_dir() {
    const std::string d = dir_ + "/pam.d";
    fs::create_directories(d);
    write_file(d + "/hoist-permit",
               "auth required pam_permit.so\naccount required pam_permit.so\nsession required pam_permit.so\n");
    write_file(d + "/hoist-deny",
               "auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\n");
    return d;
  }

  Recorder recorder_;
  void* handle_ = nullptr;
  policy_plugin* plugin_ = nullptr;
  bool opened_ = false;
  std::string dir_;
  std::string socket_;
  std::unique_ptr<FakeAgent> agent_;
  struct stat true_stat_ {};
};

TEST_F(PluginTest, ExportsExactlyHoistPolicy) {
  FILE* p = ::popen((std::string("nm -D --defined-only ") + HOIST_SUDO_SO).c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::vector<std::string> symbols;
  char line[512];
  while (std::fgets(line, sizeof(line), p) != nullptr) {
    std::string s(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    symbols.push_back(s.substr(s.rfind(' ') + 1));
  }
  ASSERT_EQ(::pclose(p), 0);
  EXPECT_EQ(symbols, std::vector<std::string>{"hoist_policy"});
  EXPECT_EQ(plugin_->type, static_cast<unsigned>(SUDO_POLICY_PLUGIN));
  EXPECT_EQ(plugin_->version, static_cast<unsigned>(SUDO_API_VERSION));
}

TEST_F(PluginTest, ShowVersionPrintsTheVersion) {
  ASSERT_EQ(open(), 1);
  EXPECT_EQ(plugin_->show_version(0), 1);
  EXPECT_NE(output().find("Hoist policy plugin version "), std::string::npos) << output();
}

TEST_F(PluginTest, RefusesAnotherApiMajorVersion) {
  SudoArray empty{};
  const char* errstr = nullptr;
  EXPECT_EQ(plugin_->open(SUDO_API_MKVERSION(2, 0), fake_conv, fake_printf, empty.data(), empty.data(), empty.data(),
                          empty.data(), &errstr),
            -1);
  ASSERT_NE(errstr, nullptr);
}

TEST_F(PluginTest, BadOptionsOpenSucceedsAndEveryCommandIsDenied) {
  start({answer(allow())});
  ASSERT_EQ(open({"agent_socket=" + socket_, "agent_sock=/typo"}), 1);
  auto r = check({"true"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(output().find("misconfigured"), std::string::npos) << output();
  EXPECT_NE(output().find("agent_sock"), std::string::npos) << output();
  EXPECT_TRUE(agent_->received().empty()) << "the agent must not be asked";
}

TEST_F(PluginTest, BadOptionsStillLetRootRun) {
  ASSERT_EQ(open({"agent_sock=/typo"}, {}, alice("0")), 1);
  auto r = check({"true"});
  EXPECT_EQ(r.rc, 1) << output();
  EXPECT_EQ(r.map()["command"], "/usr/bin/true");
}

TEST_F(PluginTest, AllowGivesExactCommandInfoAndPassesTheFileToTheAgent) {
  start({answer(allow(1700))});
  ASSERT_EQ(open(), 1);
  auto r = check({"true", "--version"});
  ASSERT_EQ(r.rc, 1) << output();
  auto m = r.map();
  ASSERT_TRUE(m.count("execfd"));
  const int fd = std::stoi(m["execfd"]);
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_ino, true_stat_.st_ino);
  EXPECT_EQ(st.st_dev, true_stat_.st_dev);
  std::string groups = "0";
  {
    int n = 64;
    std::vector<gid_t> gids(64);
    ASSERT_GE(::getgrouplist("root", 0, gids.data(), &n), 0);
    for (int i = 0; i < n; ++i) {
      if (gids[static_cast<std::size_t>(i)] != 0) groups += "," + std::to_string(gids[static_cast<std::size_t>(i)]);
    }
  }
  EXPECT_EQ(r.info,
            (std::vector<std::string>{"command=/usr/bin/true", "runas_user=root", "runas_uid=0", "runas_gid=0",
                                      "runas_euid=0", "runas_egid=0", "runas_groups=" + groups, "cwd=/tmp",
                                      "closefrom=3", "execfd=" + std::to_string(fd), "umask=022", "timeout=1700"}));
  // argv[0] is the path decided on, never the name as typed.
  EXPECT_EQ(r.argv, (std::vector<std::string>{"/usr/bin/true", "--version"}));
  auto env = as_map(r.env);
  EXPECT_EQ(env["PATH"], "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  EXPECT_EQ(env["SUDO_USER"], "alice");
  EXPECT_EQ(env.count("LD_PRELOAD"), 0u);
  auto got = agent_->received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, "check");
  EXPECT_TRUE(got[0].had_fd);
  EXPECT_EQ(got[0].fd_ino, true_stat_.st_ino);
  EXPECT_EQ(got[0].fd_dev, true_stat_.st_dev);
  auto c = ipc::check_from(got[0].fields);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->context.command, "/usr/bin/true");
  EXPECT_EQ(c->context.uid, 1000u);
  EXPECT_FALSE(c->context.noninteractive);
}

TEST_F(PluginTest, RecordedSessionInterceptsAndAsksTheAgentPerCommand) {
  start({answer(allow(600, true)), answer(allow()), answer(decision(Action::kDeny, "not in this session"))});
  ASSERT_EQ(open(), 1);
  auto r = check({"true"});
  ASSERT_EQ(r.rc, 1) << output();
  auto m = r.map();
  EXPECT_EQ(m["intercept"], "true");
  EXPECT_EQ(m["use_ptrace"], "true");
  EXPECT_EQ(m["intercept_verify"], "true");
  EXPECT_EQ(m["timeout"], "600");
  auto sub = check({"/usr/bin/id", "-u"});
  ASSERT_EQ(sub.rc, 1) << output();
  EXPECT_EQ(sub.info, std::vector<std::string>{"command=/usr/bin/id"});
  EXPECT_EQ(sub.argv, (std::vector<std::string>{"/usr/bin/id", "-u"}));
  EXPECT_EQ(check({"/usr/bin/id"}).rc, 0);
  EXPECT_NE(output().find("not in this session"), std::string::npos) << output();
  // A relative path is the process's own: there is no such file here.
  EXPECT_EQ(check({"relative/id"}).rc, 0);
  auto got = agent_->received();
  ASSERT_EQ(got.size(), 3u);
  auto exec = ipc::exec_from(got[1].fields);
  ASSERT_TRUE(exec.ok()) << exec.error().message;
  EXPECT_EQ(exec->context.command, "/usr/bin/id");
  EXPECT_EQ(exec->context.argv, (std::vector<std::string>{"/usr/bin/id", "-u"}));
  EXPECT_TRUE(exec->context.noninteractive);
  EXPECT_EQ(exec->grant_id, "grant-1");
  // Nothing traced here: the caller's pid is unknown, and said so (0).
  EXPECT_EQ(exec->pid, 0u);
}

TEST_F(PluginTest, DenyPrintsReasonAndContact) {
  start({answer(decision(Action::kDeny, "games are not allowed", "Help desk: call 555-0100"))});
  ASSERT_EQ(open(), 1);
  auto r = check({"true"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(output().find("games are not allowed"), std::string::npos) << output();
  EXPECT_NE(output().find("555-0100"), std::string::npos) << output();
  EXPECT_TRUE(recorder_.prompts.empty());
}

TEST_F(PluginTest, EscapeSequencesFromTheAgentAreDefused) {
  start({answer(decision(Action::kDeny, "no\x1b]0;owned\x07", "desk"))});
  ASSERT_EQ(open(), 1);
  EXPECT_EQ(check({"true"}).rc, 0);
  EXPECT_EQ(output().find('\x1b'), std::string::npos);
  EXPECT_NE(output().find("no\\x1b]0;owned\\x07"), std::string::npos) << output();
}

TEST_F(PluginTest, AgentErrorReplyDenies) {
  start({answer(ipc::to_fields(ipc::ErrorMessage{ErrorCode::kPermissionDenied, "uid does not match the peer"}))});
  ASSERT_EQ(open(), 1);
  EXPECT_EQ(check({"true"}).rc, 0);
  EXPECT_NE(output().find("uid does not match the peer"), std::string::npos) << output();
}

TEST_F(PluginTest, RequestApprovedRunsTheCommand) {
  start({answer(request(1800, 3600, 30)), answer(state(RequestState::kPending)),
         answer(state(RequestState::kApproved, "bob", "go ahead")), answer(allow(1800))});
  ASSERT_EQ(open(), 1);
  recorder_.answers = {"", "   ", "ticket 4711", ""};
  auto r = check({"true"});
  ASSERT_EQ(r.rc, 1) << output();
  EXPECT_EQ(r.map()["timeout"], "1800");
  ASSERT_EQ(recorder_.prompts.size(), 4u);
  EXPECT_NE(recorder_.prompts[3].find("30m"), std::string::npos) << recorder_.prompts[3];
  EXPECT_NE(recorder_.prompts[3].find("at most 1h"), std::string::npos) << recorder_.prompts[3];
  EXPECT_NE(output().find("A reason is required"), std::string::npos) << output();
  EXPECT_NE(output().find("Approved by bob"), std::string::npos) << output();
  EXPECT_EQ(agent_->types(), (std::vector<std::string>{"check", "submit", "wait", "check"}));
  auto got = agent_->received();
  auto submit = ipc::submit_from(got[1].fields);
  ASSERT_TRUE(submit.ok()) << submit.error().message;
  EXPECT_EQ(submit->justification, "ticket 4711");
  EXPECT_EQ(submit->duration_s, 1800u);
  auto wait = ipc::wait_from(got[2].fields);
  ASSERT_TRUE(wait.ok());
  EXPECT_EQ(wait->request_id, "req-42");
  EXPECT_LE(wait->wait_ms, 1000u);
  EXPECT_TRUE(got[3].had_fd);
  EXPECT_EQ(got[3].fd_ino, true_stat_.st_ino);
}

ipc::Fields self_approvable(RequestState s, const std::string& reviewer = "") {
  ipc::RequestStateMessage m;
  m.request_id = "req-42";
  m.state = s;
  m.reviewer = reviewer;
  m.time_left_s = s == RequestState::kApproved ? 1800 : 0;
  m.self_approval_allowed = s == RequestState::kPending;
  return ipc::to_fields(m);
}

TEST_F(PluginTest, SelfApprovalYesApprovesChecksAgainAndRuns) {
  start({answer(request(1800, 3600, 30)), answer(self_approvable(RequestState::kPending)),
         answer(self_approvable(RequestState::kApproved, "alice")), answer(allow(1800))});
  ASSERT_EQ(open(), 1);
  recorder_.answers = {"ticket 4711", "", " Y "};
  auto r = check({"true"});
  ASSERT_EQ(r.rc, 1) << output();
  EXPECT_EQ(r.map()["timeout"], "1800");
  ASSERT_EQ(recorder_.prompts.size(), 3u);
  EXPECT_EQ(recorder_.prompts[2], "You may approve this yourself. Approve it now? [y/N] ");
  EXPECT_NE(output().find("Approved by you."), std::string::npos) << output();
  EXPECT_EQ(output().find("Waiting for approval"), std::string::npos) << "no countdown: " << output();
  EXPECT_EQ(agent_->types(), (std::vector<std::string>{"check", "submit", "self_approve", "check"}));
  auto got = agent_->received();
  auto self = ipc::self_approve_from(got[2].fields);
  ASSERT_TRUE(self.ok()) << self.error().message;
  EXPECT_EQ(self->request_id, "req-42");
  EXPECT_TRUE(got[3].had_fd) << "the second check passes the file again";
  EXPECT_EQ(got[3].fd_ino, true_stat_.st_ino);
}

TEST_F(PluginTest, SelfApprovalNoWaitsForATechnician) {
  start({answer(request(1800, 3600, 30)), answer(self_approvable(RequestState::kPending)),
         answer(self_approvable(RequestState::kPending)), answer(state(RequestState::kApproved, "bob", "ok")),
         answer(allow(1800))});
  ASSERT_EQ(open(), 1);
  recorder_.answers = {"ticket 4711", "", ""};
  auto r = check({"true"});
  ASSERT_EQ(r.rc, 1) << output();
  ASSERT_EQ(recorder_.prompts.size(), 3u);
  EXPECT_NE(recorder_.prompts[2].find("[y/N]"), std::string::npos);
  EXPECT_NE(output().find("Waiting for approval"), std::string::npos) << output();
  EXPECT_NE(output().find("Approved by bob"), std::string::npos) << output();
  EXPECT_EQ(agent_->types(), (std::vector<std::string>{"check", "submit", "wait", "wait", "check"}));
}

TEST_F(PluginTest, SelfApprovalRefusedByTheAgentFallsBackToTheWait) {
  ipc::ErrorMessage refused{ErrorCode::kPermissionDenied, "request req-42 needs a technician's approval"};
  start({answer(request(1800, 3600, 30)), answer(self_approvable(RequestState::kPending)),
         answer(ipc::to_fields(refused)), answer(state(RequestState::kDenied, "bob", "no"))});
  ASSERT_EQ(open(), 1);
  recorder_.answers = {"ticket 4711", "", "yes"};
  EXPECT_EQ(check({"true"}).rc, 0);
  EXPECT_NE(output().find("You could not approve it yourself"), std::string::npos) << output();
  EXPECT_NE(output().find("denied by bob"), std::string::npos) << output();
  EXPECT_EQ(agent_->types(), (std::vector<std::string>{"check", "submit", "self_approve", "wait"}));
}

TEST_F(PluginTest, NoAnswerToTheSelfApprovalQuestionWithdrawsTheRequest) {
  start({answer(request(1800, 3600, 30)), answer(self_approvable(RequestState::kPending)),
         answer(state(RequestState::kCancelled))});
  ASSERT_EQ(open(), 1);
  recorder_.answers = {"ticket 4711", "", std::nullopt};
  EXPECT_EQ(check({"true"}).rc, 0);
  EXPECT_NE(output().find("Cancelled"), std::string::npos) << output();
  EXPECT_EQ(agent_->types(), (std::vector<std::string>{"check", "submit", "cancel"}));
}

TEST_F(PluginTest, NoSelfApprovalQuestionWhenNotAllowed) {
  start({answer(request(1800, 3600, 30)), answer(state(RequestState::kPending)),
         answer(state(RequestState::kApproved, "bob")), answer(allow(1800))});
  ASSERT_EQ(open(), 1);
  recorder_.answers = {"ticket 4711", "", "y"};
  ASSERT_EQ(check({"true"}).rc, 1) << output();
  EXPECT_EQ(recorder_.prompts.size(), 2u);
  EXPECT_EQ(agent_->types(), (std::vector<std::string>{"check", "submit", "wait", "check"}));
}

TEST_F(PluginTest, SelfApprovalUnderDashNNeverAsks) {
  start({answer(request(600, 3600, 30)), answer(self_approvable(RequestState::kPending))});
  ASSERT_EQ(open({}, {"noninteractive=true"}), 1);
  EXPECT_EQ(check({"true"}).rc, 0);
  EXPECT_TRUE(recorder_.prompts.empty());
  EXPECT_EQ(agent_->types(), (std::vector<std::string>{"check", "submit"}));
}

TEST_F(PluginTest, RequestDurationCapAndInvalidThenDenied) {
  start({answer(request(1800, 3600, 30)), answer(state(RequestState::kPending)), answer(state(RequestState::kPending)),
         answer(state(RequestState::kDenied, "bob", "use the staging box"))});
  ASSERT_EQ(open(), 1);
  recorder_.answers = {"deploy", "3h", "soon", "45m"};
  auto r = check({"true"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(output().find("at most 1h"), std::string::npos) << output();
  EXPECT_NE(output().find("is not a duration"), std::string::npos) << output();
  EXPECT_NE(output().find("denied by bob: use the staging box"), std::string::npos) << output();
  EXPECT_NE(output().find("555-0100"), std::string::npos) << output();
  EXPECT_NE(output().find("Waiting for approval 0:"), std::string::npos) << output();
  auto got = agent_->received();
  ASSERT_GE(got.size(), 2u);
  auto submit = ipc::submit_from(got[1].fields);
  ASSERT_TRUE(submit.ok());
  EXPECT_EQ(submit->duration_s, 2700u);
  EXPECT_EQ(submit->justification, "deploy");
}

TEST_F(PluginTest, PromptFailureSendsNothing) {
  start({answer(request(1800, 3600, 30))});
  ASSERT_EQ(open(), 1);
  recorder_.answers = {std::nullopt};
  EXPECT_EQ(check({"true"}).rc, 0);
  EXPECT_EQ(agent_->types(), std::vector<std::string>{"check"});
  EXPECT_NE(output().find("no request was sent"), std::string::npos) << output();
}

TEST_F(PluginTest, WaitRunsOutAndTheRequestStaysPending) {
  std::vector<Step> steps{answer(request(600, 0, 2)), answer(state(RequestState::kPending))};
  for (int i = 0; i < 10; ++i) steps.push_back(answer(state(RequestState::kPending)));
  start(steps);
  ASSERT_EQ(open(), 1);
  recorder_.answers = {"ticket 1", ""};
  auto r = check({"true"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(output().find("req-42 stays pending"), std::string::npos) << output();
  EXPECT_NE(output().find("hoist status req-42"), std::string::npos) << output();
  const auto types = agent_->types();
  const auto waits = std::count(types.begin(), types.end(), "wait");
  EXPECT_GE(waits, 1);
  EXPECT_LE(waits, 3);
}

pthread_t g_main_thread;

TEST_F(PluginTest, CtrlCDuringTheWaitCancelsTheRequest) {
  g_main_thread = ::pthread_self();
  struct sigaction before {};
  ::sigaction(SIGINT, nullptr, &before);
  start({answer(request(600, 0, 30)), answer(state(RequestState::kPending)),
         [](const Received&) {
           ::pthread_kill(g_main_thread, SIGINT);
           ::usleep(100 * 1000);
           return Answer::of(state(RequestState::kPending));
         },
         answer(state(RequestState::kCancelled))});
  ASSERT_EQ(open(), 1);
  recorder_.answers = {"ticket 1", ""};
  auto r = check({"true"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(output().find("Cancelled"), std::string::npos) << output();
  auto got = agent_->received();
  ASSERT_EQ(got.size(), 4u) << ::testing::PrintToString(agent_->types());
  EXPECT_EQ(got[3].type, "cancel");
  auto cancel = ipc::cancel_from(got[3].fields);
  ASSERT_TRUE(cancel.ok());
  EXPECT_EQ(cancel->request_id, "req-42");
  struct sigaction after {};
  ::sigaction(SIGINT, nullptr, &after);
  EXPECT_EQ(after.sa_handler, before.sa_handler) << "the plugin must restore SIGINT";
}

TEST_F(PluginTest, NoninteractiveRequestIsSentAndDeniedAtOnceWithoutPrompts) {
  start({answer(request(600, 3600, 30)), answer(state(RequestState::kPending))});
  ASSERT_EQ(open({}, {"noninteractive=true"}, {},
                 {"PATH=/usr/bin", "HOME=/home/alice", "HOIST_REASON=  nightly\x1b[2J backup  "}),
            1);
  auto r = check({"true"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_TRUE(recorder_.prompts.empty());
  EXPECT_NE(output().find("Request req-42 is waiting"), std::string::npos) << output();
  EXPECT_NE(output().find("hoist status req-42"), std::string::npos) << output();
  EXPECT_EQ(agent_->types(), (std::vector<std::string>{"check", "submit"}));
  auto c = ipc::check_from(agent_->received()[0].fields);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->context.noninteractive);
  auto submit = ipc::submit_from(agent_->received()[1].fields);
  ASSERT_TRUE(submit.ok()) << submit.error().message;
  EXPECT_EQ(submit->justification, "nightly[2J backup") << "trimmed, control characters dropped";
  EXPECT_EQ(submit->duration_s, 600U);
  EXPECT_TRUE(submit->context.noninteractive);
}

TEST_F(PluginTest, NoninteractiveRequestWithoutAReasonSaysSo) {
  start({answer(request(600, 3600, 30)), answer(state(RequestState::kPending))});
  ASSERT_EQ(open({}, {"noninteractive=true"}), 1);
  EXPECT_EQ(check({"true"}).rc, 0);
  auto submit = ipc::submit_from(agent_->received().at(1).fields);
  ASSERT_TRUE(submit.ok()) << submit.error().message;
  EXPECT_NE(submit->justification.find("no reason given"), std::string::npos) << submit->justification;
}

TEST_F(PluginTest, NoTtyIsNoninteractive) {
  start({answer(request(600, 3600, 30)), answer(state(RequestState::kPending))});
  ASSERT_EQ(open({}, {}, alice("1000", "")), 1);
  EXPECT_EQ(check({"true"}).rc, 0);
  EXPECT_TRUE(recorder_.prompts.empty());
  EXPECT_EQ(agent_->types(), (std::vector<std::string>{"check", "submit"}));
}

TEST_F(PluginTest, AgentDownDeniesWithAClearMessage) {
  ASSERT_EQ(open({"agent_socket=" + dir_ + "/nobody.sock"}), 1);
  auto r = check({"true"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(output().find("hoist-agent is not running; ask your help desk"), std::string::npos) << output();
}

TEST_F(PluginTest, GarbageReplyDenies) {
  start({[](const Received&) { return Answer::bytes(std::string("\xff\xff\xff\xffgarbage", 11)); }});
  ASSERT_EQ(open(), 1);
  EXPECT_EQ(check({"true"}).rc, 0);
  EXPECT_NE(output().find("hoist-agent"), std::string::npos) << output();
}

TEST_F(PluginTest, WrongMessageAndHangUpDeny) {
  start({answer(ipc::to_fields(ipc::ListingMessage{{"x"}}))});
  ASSERT_EQ(open(), 1);
  EXPECT_EQ(check({"true"}).rc, 0);
  EXPECT_NE(output().find("hoist-agent"), std::string::npos) << output();
}

TEST_F(PluginTest, AgentHangsUpDenies) {
  start({[](const Received&) { return Answer::hang_up(); }});
  ASSERT_EQ(open(), 1);
  EXPECT_EQ(check({"true"}).rc, 0);
  // Something listens at the socket: the agent runs, and did not answer.
  EXPECT_NE(output().find("hoist-agent is not answering"), std::string::npos) << output();
}

TEST_F(PluginTest, SudoeditRunsTheEditorNeverSudoedit) {
  start({answer(allow())});
  ASSERT_EQ(open({}, {"sudoedit=true"}, {}, {"SUDO_EDITOR=true -x", "HOME=/home/alice"}), 1);
  auto r = check({"sudoedit", "/etc/hosts"});
  ASSERT_EQ(r.rc, 1) << output();
  auto m = r.map();
  EXPECT_EQ(m["command"], "/usr/bin/true");
  EXPECT_EQ(m["sudoedit"], "true");
  EXPECT_EQ(m.count("execfd"), 0u);
  EXPECT_EQ(r.argv, (std::vector<std::string>{"true", "-x", "--", "/etc/hosts"}));
  for (const auto& e : r.info) EXPECT_EQ(e.find("sudoedit="), e.rfind("sudoedit=")) << e;
  for (const auto& e : r.info) EXPECT_EQ(e.find("/usr/bin/sudoedit"), std::string::npos) << e;
}

// A command's allow may come before hoist-agent has recorded it
// (record_after): sudo opens the PAM session meanwhile, and init_session
// lets the command run only once the agent says it is recorded. An edit
// never asks (sudo copies the files before any session).
TEST_F(PluginTest, ACommandRunsOnlyOnceTheAgentSaysItIsRecorded) {
  const auto cannot = ipc::to_fields(
      ipc::ErrorMessage{ErrorCode::kUnavailable, "hoist-agent cannot record this decision (disk full); nothing runs"});
  start({answer(allow()), [&](const Received&) { return Answer::followed(allow(), cannot); },
         [](const Received&) { return Answer::never_recorded(allow()); }});
  auto options = default_options();
  options.push_back("pam_confdir=" + pam_dir());
  options.push_back("pam_service=hoist-permit");
  char** env = nullptr;
  const char* errstr = nullptr;

  ASSERT_EQ(open(options), 1);
  ASSERT_EQ(check({"true"}).rc, 1) << output();
  EXPECT_EQ(agent_->received().back().fields.optional("record_after")->value_or(""), "1");
  EXPECT_EQ(plugin_->init_session(::getpwnam("root"), &env, &errstr), 1) << output();
  plugin_->close(0, 0);
  opened_ = false;

  ASSERT_EQ(open(options), 1);
  ASSERT_EQ(check({"true"}).rc, 1) << output();
  EXPECT_NE(plugin_->init_session(::getpwnam("root"), &env, &errstr), 1) << "the record failed: nothing runs";
  EXPECT_NE(output().find("cannot record this decision (disk full); nothing runs"), std::string::npos) << output();
  plugin_->close(0, 0);
  opened_ = false;

  // Silence after the allow (an agent that died or froze before its
  // record): refused once the silence limit passes.
  ASSERT_EQ(open(options), 1);
  ASSERT_EQ(check({"true"}).rc, 1) << output();
  const auto started = std::chrono::steady_clock::now();
  EXPECT_NE(plugin_->init_session(::getpwnam("root"), &env, &errstr), 1) << "never recorded: nothing runs";
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  EXPECT_NE(output().find("did not confirm that it recorded this decision"), std::string::npos) << output();
  // Without a passwd entry for the target, sudo passes no pwd: still no
  // run without the record.
  plugin_->close(0, 0);
  opened_ = false;
}

TEST_F(PluginTest, WithoutATargetPasswdTheRecordIsStillAwaited) {
  start({[](const Received&) { return Answer::never_recorded(allow()); }});
  ASSERT_EQ(open(), 1);
  ASSERT_EQ(check({"true"}).rc, 1) << output();
  char** env = nullptr;
  const char* errstr = nullptr;
  EXPECT_NE(plugin_->init_session(nullptr, &env, &errstr), 1);
  EXPECT_NE(output().find("did not confirm"), std::string::npos) << output();
}

TEST_F(PluginTest, AnEditIsRecordedBeforeItIsAnswered) {
  start({answer(allow())});
  ASSERT_EQ(open({}, {"sudoedit=true"}, {}, {"SUDO_EDITOR=true -x", "HOME=/home/alice"}), 1);
  ASSERT_EQ(check({"sudoedit", "/etc/hosts"}).rc, 1) << output();
  ASSERT_EQ(agent_->received().size(), 1U);
  EXPECT_EQ(agent_->received()[0].fields.optional("record_after")->value_or(""), "0");
}

TEST_F(PluginTest, SudoeditAsACommandIsRefused) {
  start({answer(allow())});
  ASSERT_EQ(open(), 1);
  auto r = check({"sudoedit", "/etc/hosts"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_TRUE(agent_->received().empty());
  EXPECT_NE(output().find("sudo -e"), std::string::npos) << output();
  auto root = check({"/usr/bin/sudoedit", "/etc/hosts"});  // a second call is refused outright
  EXPECT_NE(root.rc, 1);
}

TEST_F(PluginTest, RootIsAllowedWithoutAnAgent) {
  ASSERT_EQ(open({"agent_socket=" + dir_ + "/nobody.sock"}, {}, alice("0")), 1);
  auto r = check({"true"});
  ASSERT_EQ(r.rc, 1) << output();
  EXPECT_EQ(r.map()["command"], "/usr/bin/true");
  EXPECT_EQ(r.map()["closefrom"], "3");
}

TEST_F(PluginTest, UntrustedCommandIsRefusedBeforeAskingTheAgent) {
  start({answer(allow())});
  const std::string script = dir_ + "/tool";
  write_file(script, "#!/bin/sh\n", 0755);
  ASSERT_EQ(open(), 1);
  EXPECT_EQ(check({script}).rc, 0);
  EXPECT_NE(output().find("root-owned"), std::string::npos) << output();
  EXPECT_TRUE(agent_->received().empty());
}

TEST_F(PluginTest, UserPathIsNeverSearched) {
  ASSERT_EQ(open(), 1);
  EXPECT_EQ(check({"hoist-no-such-command"}).rc, 0);
  EXPECT_NE(output().find("secure path"), std::string::npos) << output();
}

TEST_F(PluginTest, ListWithoutACommandPrintsTheAgentsListing) {
  start({answer(ipc::to_fields(ipc::ListingMessage{{"You may run:", "  /usr/bin/apt-get (on request)"}}))});
  ASSERT_EQ(open(), 1);
  SudoArray none{};
  const char* errstr = nullptr;
  EXPECT_EQ(plugin_->list(0, none.data(), 0, nullptr, &errstr), 1);
  EXPECT_NE(output().find("/usr/bin/apt-get (on request)"), std::string::npos) << output();
  auto got = agent_->received();
  ASSERT_EQ(got.size(), 1u);
  auto list = ipc::list_from(got[0].fields);
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_EQ(list->uid, 1000u);
  EXPECT_EQ(list->list_user, "");
}

TEST_F(PluginTest, ListWithACommandSaysWhetherItWouldRun) {
  start({answer(allow()), answer(request(600, 600, 30))});
  ASSERT_EQ(open(), 1);
  SudoArray cmd{"true"};
  const char* errstr = nullptr;
  EXPECT_EQ(plugin_->list(1, cmd.data(), 0, nullptr, &errstr), 1);
  EXPECT_NE(output().find("/usr/bin/true"), std::string::npos) << output();
  EXPECT_EQ(plugin_->list(1, cmd.data(), 0, nullptr, &errstr), 0);
  EXPECT_NE(output().find("needs approval"), std::string::npos) << output();
  auto got = agent_->received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].had_fd);
  EXPECT_TRUE(recorder_.prompts.empty());
}

TEST_F(PluginTest, ListForAnotherUserIsRootsOnly) {
  ASSERT_EQ(open(), 1);
  SudoArray none{};
  const char* errstr = nullptr;
  EXPECT_EQ(plugin_->list(0, none.data(), 0, "bob", &errstr), 0);
}

TEST_F(PluginTest, ReauthenticationGoesThroughPam) {
  start({answer([] {
    ipc::DecisionMessage d;
    d.action = Action::kAllow;
    d.reauthenticate = true;
    return ipc::to_fields(d);
  }())});
  auto options = default_options();
  options.push_back("pam_confdir=" + pam_dir());
  options.push_back("pam_service=hoist-deny");
  ASSERT_EQ(open(options), 1);
  EXPECT_EQ(check({"true"}).rc, 0);
  EXPECT_NE(output().find("authentication failed"), std::string::npos) << output();
}

TEST_F(PluginTest, ValidateAuthenticatesAndInvalidateForgets) {
  auto options = default_options();
  options.push_back("pam_confdir=" + pam_dir());
  options.push_back("pam_service=hoist-permit");
  ASSERT_EQ(open(options), 1);
  const char* errstr = nullptr;
  EXPECT_EQ(plugin_->validate(&errstr), 1) << output();
  plugin_->close(0, 0);
  opened_ = false;
  options.back() = "pam_service=hoist-deny";
  ASSERT_EQ(open(options), 1);
  EXPECT_EQ(plugin_->validate(&errstr), 0);
  plugin_->invalidate(1);
}

TEST_F(PluginTest, ValidateNeverPromptsUnderDashN) {
  auto options = default_options();
  options.push_back("pam_confdir=" + pam_dir());
  options.push_back("pam_service=hoist-permit");
  ASSERT_EQ(open(options, {"noninteractive=true"}), 1);
  const char* errstr = nullptr;
  EXPECT_EQ(plugin_->validate(&errstr), 0);
  EXPECT_NE(output().find("without -n"), std::string::npos) << output();
}

TEST_F(PluginTest, MalformedSudoArraysAreErrorsNotRootAccess) {
  ASSERT_EQ(open({}, {}, {"user=alice", "gid=1000", "cwd=/tmp"}), 1);  // no uid: it must not read as 0
  EXPECT_EQ(check({"true"}).rc, -1);
  const char* errstr = nullptr;
  EXPECT_EQ(plugin_->validate(&errstr), -1);
  ASSERT_NE(errstr, nullptr);
  EXPECT_NE(std::string(errstr).find("uid"), std::string::npos) << errstr;
}

TEST_F(PluginTest, PreserveEnvironmentIsRefused) {
  start({answer(allow())});
  ASSERT_EQ(open({}, {"preserve_environment=true"}), 1);
  EXPECT_EQ(check({"true"}).rc, 0);
  EXPECT_NE(output().find("-E"), std::string::npos) << output();
}

TEST_F(PluginTest, RunAsAnotherUserAndGroup) {
  start({answer(allow())});
  ASSERT_EQ(open({}, {"runas_user=nobody", "runas_group=#0"}), 1);
  auto r = check({"true"});
  ASSERT_EQ(r.rc, 1) << output();
  auto m = r.map();
  EXPECT_EQ(m["runas_user"], "nobody");
  EXPECT_EQ(m["runas_uid"], std::to_string(::getpwnam("nobody")->pw_uid));
  EXPECT_EQ(m["runas_gid"], "0");
  EXPECT_EQ(m["runas_group"], ::getgrgid(0)->gr_name);
  auto c = ipc::check_from(agent_->received()[0].fields);
  ASSERT_TRUE(c.ok());
  // The agent gets the names NSS gave, never "#0" as typed.
  EXPECT_EQ(c->context.runas_user, "nobody");
  EXPECT_EQ(c->context.runas_group, ::getgrgid(0)->gr_name);
}

TEST_F(PluginTest, UnknownTargetUserIsDenied) {
  ASSERT_EQ(open({}, {"runas_user=hoist-no-such-user"}), 1);
  EXPECT_EQ(check({"true"}).rc, 0);
  EXPECT_NE(output().find("unknown user"), std::string::npos) << output();
}

TEST_F(PluginTest, LoginShellRunsTheTargetsShell) {
  start({answer(allow())});
  ASSERT_EQ(open({}, {"login_shell=true"}), 1);
  auto r = check({"/bin/bash"});
  ASSERT_EQ(r.rc, 1) << output();
  const std::string shell = ::getpwnam("root")->pw_shell;
  char real[PATH_MAX];
  ASSERT_NE(::realpath(shell.c_str(), real), nullptr);
  auto m = r.map();
  EXPECT_EQ(m["command"], real);
  EXPECT_EQ(m["cwd"], ::getpwnam("root")->pw_dir);
  EXPECT_EQ(m["cwd_optional"], "true");
  EXPECT_EQ(r.argv, std::vector<std::string>{"-" + shell.substr(shell.rfind('/') + 1)});
}

TEST_F(PluginTest, ReauthenticationUnderDashNDeniesWithoutPrompting) {
  ipc::DecisionMessage d;
  d.action = Action::kAllow;
  d.reauthenticate = true;
  start({answer(ipc::to_fields(d))});
  auto options = default_options();
  options.push_back("pam_confdir=" + pam_dir());
  options.push_back("pam_service=hoist-permit");
  ASSERT_EQ(open(options, {"noninteractive=true"}), 1);
  EXPECT_EQ(check({"true"}).rc, 0);
  EXPECT_TRUE(recorder_.prompts.empty());
  EXPECT_NE(output().find("password is required"), std::string::npos) << output();
}

TEST_F(PluginTest, AFreshTimestampSkipsPamUntilSudoDashK) {
  if (::geteuid() != 0) GTEST_SKIP() << "timestamp records need a root-owned directory";
  auto options = default_options();
  options.push_back("pam_confdir=" + pam_dir());
  options.push_back("pam_service=hoist-deny");  // PAM would refuse: only the record can pass
  // No tty: the record is keyed on the parent process (here: this test).
  auto info = alice("1000", "");
  for (auto& e : info) {
    if (e.rfind("ppid=", 0) == 0) e = "ppid=" + std::to_string(::getpid());
  }
  plugin::UserInfo user;
  user.uid = 1000;
  user.ppid = ::getpid();
  auto key = plugin::timestamp_key(user);
  ASSERT_TRUE(key.ok()) << key.error().message;
  ASSERT_TRUE(plugin::TimestampStore(dir_ + "/ts").update(*key).ok());
  ASSERT_EQ(open(options, {}, info), 1);
  const char* errstr = nullptr;
  EXPECT_EQ(plugin_->validate(&errstr), 1) << output();
  plugin_->invalidate(0);
  EXPECT_EQ(plugin_->validate(&errstr), 0);
  EXPECT_TRUE(recorder_.prompts.empty());
}

TEST_F(PluginTest, InitSessionOpensAPamSessionForTheTarget) {
  start({answer(allow()), answer(allow())});
  auto options = default_options();
  options.push_back("pam_confdir=" + pam_dir());
  options.push_back("pam_service=hoist-permit");
  ASSERT_EQ(open(options), 1);
  auto r = check({"true"});
  ASSERT_EQ(r.rc, 1) << output();
  char** env = nullptr;
  const char* errstr = nullptr;
  EXPECT_EQ(plugin_->init_session(::getpwnam("root"), &env, &errstr), 1) << output();
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(as_map(strings_of(env))["SUDO_USER"], "alice");
  plugin_->close(0, 0);  // pam_close_session + pam_end
  opened_ = false;

  options.back() = "pam_service=hoist-deny";
  ASSERT_EQ(open(options), 1);
  ASSERT_EQ(check({"true"}).rc, 1) << output();
  EXPECT_EQ(plugin_->init_session(::getpwnam("root"), &env, &errstr), -1);
}

TEST_F(PluginTest, BreakGlassWhenTheAgentIsDown) {
  if (::geteuid() != 0) GTEST_SKIP() << "break-glass needs root-owned files in a trusted directory";
  // A trusted directory chain: /tmp is world-writable, /run is not.
  char tmpl[] = "/run/hoist-plugin-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string trusted = tmpl;
  ::chmod(trusted.c_str(), 0755);
  group* gr = ::getgrgid(0);
  ASSERT_NE(gr, nullptr);
  write_file(trusted + "/break-glass", std::string("# emergency admins\n") + gr->gr_name + "\n", 0644);
  auto options = std::vector<std::string>{"agent_socket=" + dir_ + "/nobody.sock",
                                          "break_glass_file=" + trusted + "/break-glass",
                                          "spool_dir=" + trusted + "/spool",
                                          "timestamp_dir=" + trusted + "/ts",
                                          "pam_confdir=" + pam_dir(),
                                          "pam_service=hoist-permit"};
  ASSERT_EQ(open(options, {}, alice("1000", "/dev/pts/99", "1000,0")), 1);
  auto r = check({"true"});
  EXPECT_EQ(r.rc, 1) << output();
  EXPECT_EQ(r.map()["command"], "/usr/bin/true");
  std::vector<fs::path> events;
  for (const auto& e : fs::directory_iterator(trusted + "/spool")) events.push_back(e.path());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].extension(), ".event");
  std::ifstream in(events[0], std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto frame = ipc::decode_frame(bytes);
  ASSERT_TRUE(frame.ok() && frame->has_value());
  EXPECT_EQ(*(*frame)->fields.one("type"), "break_glass");
  EXPECT_EQ(*(*frame)->fields.one("command"), "/usr/bin/true");
  EXPECT_EQ(*(*frame)->fields.one("user"), "alice");
  struct stat st {};
  ASSERT_EQ(::stat((trusted + "/spool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  plugin_->close(0, 0);
  opened_ = false;

  // Not in the group: plain denial. A group-writable file: nobody.
  ASSERT_EQ(open(options), 1);
  EXPECT_EQ(check({"true"}).rc, 0);
  plugin_->close(0, 0);
  opened_ = false;
  ::chmod((trusted + "/break-glass").c_str(), 0664);
  ASSERT_EQ(open(options, {}, alice("1000", "/dev/pts/99", "1000,0")), 1);
  EXPECT_EQ(check({"true"}).rc, 0);
  std::error_code ec;
  fs::remove_all(trusted, ec);
}

// Attacker: a member of a break-glass group. Goal: break-glass (which
// needs no approval) while the agent runs, by making it refuse them (over
// a connection limit), hang up or answer nothing. Must hold: break-glass
// only when nothing listens at the agent's socket.
TEST_F(PluginTest, BreakGlassOnlyWhenNothingListens) {
  if (::geteuid() != 0) GTEST_SKIP() << "break-glass needs root-owned files in a trusted directory";
  char tmpl[] = "/run/hoist-plugin-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string trusted = tmpl;
  ::chmod(trusted.c_str(), 0755);
  group* gr = ::getgrgid(0);
  ASSERT_NE(gr, nullptr);
  write_file(trusted + "/break-glass", std::string(gr->gr_name) + "\n", 0644);
  const auto options =
      std::vector<std::string>{"agent_socket=" + socket_,         "break_glass_file=" + trusted + "/break-glass",
                               "spool_dir=" + trusted + "/spool", "timestamp_dir=" + trusted + "/ts",
                               "pam_confdir=" + pam_dir(),        "pam_service=hoist-permit"};
  const auto member = alice("1000", "/dev/pts/99", "1000,0");
  start({[](const Received&) {
           return Answer::of(ipc::to_fields(ipc::ErrorMessage{
               ErrorCode::kRateLimited, "hoist-agent is already answering 16 sudo commands of uid 1000"}));
         },
         [](const Received&) { return Answer::hang_up(); },
         [](const Received&) { return Answer::bytes("garbage that is no frame"); },
         // The agent's own refusal of category "unavailable" is a refusal,
         // not an agent that is down.
         [](const Received&) {
           return Answer::of(ipc::to_fields(ipc::ErrorMessage{ErrorCode::kUnavailable, "the state store is busy"}));
         },
         // A reply of the wrong type: garbled, and the agent still listens.
         [](const Received&) { return Answer::of(ipc::to_fields(ipc::ListingMessage{{"a line"}})); }});
  for (const std::string expected : {"already answering 16 sudo commands", "not answering", "not answering",
                                     "the state store is busy", "not answering"}) {
    recorder_.printed.clear();
    ASSERT_EQ(open(options, {}, member), 1);
    EXPECT_EQ(check({"true"}).rc, 0) << output();
    EXPECT_NE(output().find(expected), std::string::npos) << output();
    EXPECT_EQ(output().find("break-glass"), std::string::npos) << "break-glass offered: " << output();
    plugin_->close(0, 0);
    opened_ = false;
  }
  EXPECT_FALSE(fs::exists(trusted + "/spool")) << "nothing was spooled";
  std::error_code ec;
  fs::remove_all(trusted, ec);
}

}  // namespace
}  // namespace hoist::plugin::testing
