// `hoist-agent doctor` end to end, as root: the real binary against a real
// hoistd (tests/support), a real hoist-agent enrolled with it and serving a
// socket in a root-owned directory under /run, hoist_sudo.so copied beside
// a sudo.conf made for the test (--sudo-conf; the host's is only read by
// nobody here) and a break-glass file. Each case breaks one thing and reads
// doctor's words and exit status; the attack cases check that doctor
// follows no link it must not and talks to no socket a user serves.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstring>

#include "e2e_harness.h"

namespace hoist::testing {
namespace {

struct DoctorRun {
  int status = -1;
  std::string out;
};

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class DoctorE2E : public AgentE2E {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (doctor reads the agent's private state)";
    AgentE2E::SetUp();
    if (HasFatalFailure()) return;
    dir_ = std::make_unique<RootDir>("/run");
    ASSERT_TRUE(dir_->ok()) << dir_->path();
    socket_ = *dir_ / "agent.sock";
    plugin_ = *dir_ / "hoist_sudo.so";
    ASSERT_TRUE(dir_->put("hoist_sudo.so", slurp(HOIST_SUDO_SO), 0644));
    ASSERT_TRUE(dir_->put("break-glass", "# who may elevate while the agent is down\nroot\n", 0644));
    conf_ = write_conf(socket_, *dir_ / "break-glass");
    ASSERT_EQ(enroll(), 0) << slurp(log_);
    start_agent();
  }

  // A sudo.conf loading the test's plugin copy, in the test's directory.
  std::string write_conf(const std::string& agent_socket, const std::string& break_glass,
                         const std::string& plugin = "") {
    std::string line = "Plugin hoist_policy " + (plugin.empty() ? plugin_ : plugin) + " agent_socket=" + agent_socket +
                       " spool_dir=" + state_dir_ + "/spool";
    if (!break_glass.empty()) line += " break_glass_file=" + break_glass;
    EXPECT_TRUE(
        dir_->put("sudo.conf", "# the test's sudo.conf\nPath askpass /usr/bin/ssh-askpass\n" + line + "\n", 0644));
    return *dir_ / "sudo.conf";
  }

  DoctorRun doctor(std::vector<std::string> extra = {}, const std::string& socket = "") {
    std::vector<std::string> args = {"/usr/bin/timeout", "60",
                                     HOIST_AGENT_PATH,   "doctor",
                                     "--sudo-conf",      conf_,
                                     "--state-dir",      state_dir_,
                                     "--socket",         socket.empty() ? socket_ : socket};
    args.insert(args.end(), extra.begin(), extra.end());
    const std::string out = *dir_ / "doctor.out";
    ::unlink(out.c_str());
    DoctorRun r;
    r.status = run(args, out);
    r.out = slurp(out);
    return r;
  }

  std::unique_ptr<RootDir> dir_;
  std::string plugin_, conf_;
};

TEST_F(DoctorE2E, AHealthyEndpointIsAllOk) {
  const auto r = doctor();
  EXPECT_EQ(r.status, 0) << r.out;
  for (const char* want :
       {"ok       sudo.conf: ", "loads Hoist's policy plugin",
        "ok       plugin: ", "ok       plugin options: valid; agent_socket=", "ok       agent: hoist-agent answers at ",
        "ok       enrolment: enrolled as ", "ok       hoistd: hoistd accepts this endpoint", "ok       clock: within ",
        "ok       policy: current: 1 document(s)", "ok       break-glass: ", "1 group(s), 1 with members",
        "ok       versions: hoist-agent and hoist_sudo.so are both ",
        "note     hoist-agent: not installed from a package", "all ok"}) {
    EXPECT_TRUE(has(r.out, want)) << "missing: " << want << "\n" << r.out;
  }
  EXPECT_FALSE(has(r.out, "PROBLEM")) << r.out;

  // --json: the same, for scripts.
  const auto j = doctor({"--json"});
  EXPECT_EQ(j.status, 0) << j.out;
  const auto json = boost::json::parse(j.out).as_object();
  EXPECT_EQ(json.at("exit_code").as_int64(), 0);
  EXPECT_GE(json.at("findings").as_array().size(), 10u);

  // The endpoint's credential is in no output.
  EXPECT_FALSE(has(r.out + j.out, "hoist_agent_")) << r.out;
}

TEST_F(DoctorE2E, SudoersInUseIsClassOne) {
  ASSERT_TRUE(dir_->put("sudo.conf", "Plugin sudoers_policy sudoers.so\n", 0644));
  const auto r = doctor();
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(has(r.out, "PROBLEM  sudo.conf: " + conf_ + " line 1 loads the policy plugin sudoers_policy")) << r.out;
  EXPECT_TRUE(has(r.out, "fix: run hoist-agent install-plugin")) << r.out;
  // The agent itself is fine, and said so.
  EXPECT_TRUE(has(r.out, "ok       agent: hoist-agent answers at ")) << r.out;
}

TEST_F(DoctorE2E, AStoppedAgentIsClassTwoAndAWrongPathIsToldApart) {
  // The agent serves, but doctor is told another path, which the plugin does not name.
  const auto wrong = doctor({}, *dir_ / "other.sock");
  EXPECT_EQ(wrong.status, 1) << wrong.out;  // the plugin's agent_socket is not the one given: class 1
  EXPECT_TRUE(has(wrong.out, "the plugin asks the agent at " + socket_)) << wrong.out;
  EXPECT_TRUE(has(wrong.out, "a wrong path, not a stopped agent")) << wrong.out;

  ASSERT_EQ(stop_agent(), 0);
  const auto stale = doctor();
  EXPECT_EQ(stale.status, 2) << stale.out;
  EXPECT_TRUE(has(stale.out, "PROBLEM  agent: a socket is at " + socket_ + " but nothing listens")) << stale.out;
  EXPECT_TRUE(has(stale.out, "fix: start it: systemctl start hoist-agent")) << stale.out;

  ASSERT_EQ(::unlink(socket_.c_str()), 0);
  const auto gone = doctor();
  EXPECT_EQ(gone.status, 2) << gone.out;
  EXPECT_TRUE(has(gone.out, "PROBLEM  agent: no socket at " + socket_ + ": hoist-agent is not running")) << gone.out;
}

TEST_F(DoctorE2E, HoistdDownIsClassThreeAndNotAClockProblem) {
  ASSERT_EQ(hoistd_.stop(), 0);
  const auto r = doctor();
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_TRUE(has(r.out, "PROBLEM  hoistd: hoistd at " + hoistd_.url() + " cannot be reached")) << r.out;
  EXPECT_TRUE(has(r.out, "note     clock: not compared: hoistd did not answer")) << r.out;
  EXPECT_TRUE(has(r.out, "note     policy: 1 document(s), received ")) << r.out;
  EXPECT_FALSE(has(r.out, "PROBLEM  clock")) << r.out;
  // The agent still answers from its last policy.
  EXPECT_TRUE(has(r.out, "ok       agent: hoist-agent answers at ")) << r.out;
}

TEST_F(DoctorE2E, ARetiredEndpointIsClassThree) {
  const auto endpoints = hoistd_.call("GET", "/api/v1/endpoints", "", admin_);
  ASSERT_EQ(endpoints.status, 200) << endpoints;
  ASSERT_EQ(endpoints.array("/endpoints").size(), 1u) << endpoints;
  const std::string id(endpoints.array("/endpoints").front().at("id").as_string());
  const auto retired = hoistd_.call("DELETE", "/api/v1/endpoints/" + id, "", admin_);
  ASSERT_LT(retired.status, 300) << retired;
  const auto r = doctor();
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_TRUE(has(r.out, "PROBLEM  hoistd: hoistd refused this endpoint's credential (HTTP 401")) << r.out;
  EXPECT_TRUE(has(r.out, "fix: enrol it: hoist-agent enroll")) << r.out;
  EXPECT_FALSE(has(r.out, "PROBLEM  clock")) << r.out;
}

// The clock against the real hoistd's heartbeat: doctor alone runs with a
// clock made wrong by libfaketime (LD_PRELOAD; the machine's is untouched).
TEST_F(DoctorE2E, AClockOffFromHoistdsIsClassFour) {
  if (::access("/usr/bin/faketime", X_OK) != 0) GTEST_SKIP() << "needs faketime (scripts/install-deps.sh)";
  const std::vector<std::string> base = {"--sudo-conf", conf_, "--state-dir", state_dir_, "--socket", socket_};
  const auto skewed = [&](const std::string& offset) {
    // libfaketime is an LD_PRELOAD: a sanitizer build's doctor must be told
    // that its runtime need not come first.
    std::vector<std::string> args = {"/usr/bin/timeout",
                                     "60",
                                     "/usr/bin/env",
                                     "ASAN_OPTIONS=verify_asan_link_order=0",
                                     "/usr/bin/faketime",
                                     "-f",
                                     offset,
                                     HOIST_AGENT_PATH,
                                     "doctor"};
    args.insert(args.end(), base.begin(), base.end());
    const std::string out = *dir_ / "doctor-skewed.out";
    ::unlink(out.c_str());
    DoctorRun r;
    r.status = run(args, out);
    r.out = slurp(out);
    return r;
  };
  auto r = skewed("+10m");
  EXPECT_EQ(r.status, 4) << r.out;
  EXPECT_TRUE(has(r.out, "PROBLEM  clock: this computer's clock is 10m")) << r.out;  // and a second, at most
  EXPECT_TRUE(has(r.out, " ahead of hoistd's: grants would start and end at the wrong time")) << r.out;
  EXPECT_TRUE(has(r.out, "fix: let the clock follow NTP: timedatectl set-ntp true")) << r.out;
  r = skewed("-1m");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r.out, "warning  clock: this computer's clock is ")) << r.out;
  EXPECT_TRUE(has(r.out, " behind hoistd's (grants end by this clock)")) << r.out;
}

// The agent stopped (so it does not sync), then another policy is applied
// at hoistd: the stored one is no longer hoistd's.
TEST_F(DoctorE2E, APolicyHoistdHasReplacedIsAWarningOfClassFour) {
  ASSERT_EQ(stop_agent(), 0);
  std::string text = policy_text() + "\n[[rule]]\nname = \"later\"\naction = \"allow\"\npath = \"/usr/bin/uptime\"\n";
  const auto put = hoistd_.call_json("PUT", "/api/v1/policies/base", json::object{{"text", text}}, admin_);
  ASSERT_LT(put.status, 300) << put;
  const auto r = doctor({"--strict"});
  EXPECT_EQ(r.status, 2) << r.out;  // the agent is down: the lowest class
  EXPECT_TRUE(has(r.out, "warning  policy: hoistd has another policy than the agent's (1 document(s), received "))
      << r.out;
  start_agent();
  ASSERT_TRUE(eventually([&] { return doctor().status == 0; }, milliseconds(20000))) << doctor().out;
  EXPECT_TRUE(has(doctor().out, "ok       policy: current: 1 document(s)"));
}

TEST_F(DoctorE2E, NoPolicyForTheEndpointsLabelsIsClassFour) {
  const auto unassign =
      hoistd_.call_json("PUT", "/api/v1/policies/base/labels", json::object{{"labels", json::array{}}}, admin_);
  ASSERT_EQ(unassign.status, 200) << unassign;
  ASSERT_EQ(stop_agent(), 0);
  start_agent();  // it syncs its policy as it starts
  const auto r = doctor();
  EXPECT_EQ(r.status, 4) << r.out;
  EXPECT_TRUE(has(r.out, "PROBLEM  policy: hoistd gives this endpoint no policy")) << r.out;
  EXPECT_TRUE(has(r.out, "fix: assign a policy to one of this endpoint's labels (hoist policy assign NAME LABEL)"))
      << r.out;
}

TEST_F(DoctorE2E, NotEnrolledIsClassThree) {
  RootDir empty("/run", 0700);
  ASSERT_TRUE(empty.ok());
  const std::string enrolled = state_dir_;
  state_dir_ = empty.path();
  const auto r = doctor();
  state_dir_ = enrolled;
  EXPECT_EQ(r.status, 3) << r.out;  // the plugin's spool is another one's, a warning; the agent answers
  EXPECT_TRUE(has(r.out, "PROBLEM  enrolment: this computer is not enrolled")) << r.out;
  EXPECT_TRUE(has(r.out, "fix: enrol it: hoist-agent enroll --server")) << r.out;
}

TEST_F(DoctorE2E, BreakGlassMissingWritableOrEmptyIsClassFive) {
  conf_ = write_conf(socket_, "");
  auto r = doctor();
  EXPECT_EQ(r.status, 0) << r.out;  // a warning, not a problem
  EXPECT_TRUE(has(r.out, "warning  break-glass: no break-glass is configured")) << r.out;
  EXPECT_EQ(doctor({"--strict"}).status, 5);

  conf_ = write_conf(socket_, *dir_ / "break-glass");
  ASSERT_EQ(::chmod((*dir_ / "break-glass").c_str(), 0666), 0);
  r = doctor();
  EXPECT_EQ(r.status, 5) << r.out;
  EXPECT_TRUE(has(r.out, "is writable by group or others (mode 0666)")) << r.out;
  EXPECT_TRUE(has(r.out, "fix: chown root:root " + *dir_ / "break-glass")) << r.out;

  TestGroup lonely("hoist-e2e-" + std::to_string(::getpid()) + "-bg");
  ASSERT_TRUE(lonely.ok());
  ASSERT_TRUE(dir_->put("break-glass", lonely.name() + "\nno-such-group-hoist-e2e\n", 0644));
  r = doctor();
  EXPECT_EQ(r.status, 5) << r.out;
  EXPECT_TRUE(has(r.out, "warning  break-glass: the break-glass group " + lonely.name() + " has no members")) << r.out;
  EXPECT_TRUE(has(r.out, "no-such-group-hoist-e2e, which does not exist")) << r.out;
  EXPECT_TRUE(has(r.out, "PROBLEM  break-glass: no group in")) << r.out;
}

// --- attacks: doctor runs as root over paths others may control -------------

TEST_F(DoctorE2E, ABreakGlassLinkToASecretIsNeitherFollowedNorRead) {
  ASSERT_EQ(::symlink("/etc/shadow", (*dir_ / "bg-link").c_str()), 0);
  conf_ = write_conf(socket_, *dir_ / "bg-link");
  const auto r = doctor();
  EXPECT_EQ(r.status, 5) << r.out;
  EXPECT_TRUE(has(r.out, "bg-link is a symbolic link: the plugin never follows one")) << r.out;
  EXPECT_FALSE(has(r.out, "root:")) << r.out;  // no line of /etc/shadow
}

// A FIFO where a file is expected would hold a reader for good: doctor
// looks before it opens, and answers at once.
TEST_F(DoctorE2E, AFifoForAFileHangsNothing) {
  ASSERT_EQ(::mkfifo((*dir_ / "bg-fifo").c_str(), 0600), 0);
  conf_ = write_conf(socket_, *dir_ / "bg-fifo");
  auto started = steady_clock::now();
  auto r = doctor();
  EXPECT_LT(steady_clock::now() - started, seconds(15)) << r.out;
  EXPECT_EQ(r.status, 5) << r.out;
  EXPECT_TRUE(has(r.out, "bg-fifo is not a regular file")) << r.out;

  ASSERT_EQ(::mkfifo((*dir_ / "conf-fifo").c_str(), 0644), 0);
  conf_ = *dir_ / "conf-fifo";
  started = steady_clock::now();
  r = doctor();
  EXPECT_LT(steady_clock::now() - started, seconds(15)) << r.out;
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(has(r.out, "conf-fifo is not a regular file")) << r.out;
}

TEST_F(DoctorE2E, ASocketLinkIsNotFollowed) {
  const std::string link = *dir_ / "link.sock";
  ASSERT_EQ(::symlink(socket_.c_str(), link.c_str()), 0);
  conf_ = write_conf(link, *dir_ / "break-glass");
  const auto r = doctor({}, link);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r.out, "PROBLEM  agent: " + link + " is a symbolic link")) << r.out;
}

TEST_F(DoctorE2E, APluginUnderAWorldWritableDirectoryIsClassOne) {
  char tmpl[] = "/tmp/hoist-e2e-doctor-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string tmp = tmpl;
  ASSERT_EQ(::chmod(tmp.c_str(), 0755), 0);
  const std::string so = tmp + "/hoist_sudo.so";
  ASSERT_EQ(run({"/usr/bin/install", "-m", "0644", HOIST_SUDO_SO, so}, "/dev/null"), 0);
  conf_ = write_conf(socket_, *dir_ / "break-glass", so);
  const auto r = doctor();
  (void)run({"/bin/rm", "-rf", tmp}, "/dev/null");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(has(r.out, "PROBLEM  plugin: a directory above " + so)) << r.out;  // /tmp is everyone's
}

// A socket in the agent's directory served by an unprivileged process (say a
// root-owned directory that was briefly 1777): doctor names its uid and
// sends it nothing.
TEST_F(DoctorE2E, ASocketServedByAnotherUserIsNamedAndToldNothing) {
  ASSERT_EQ(stop_agent(), 0);
  ::unlink(socket_.c_str());
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(pipe_fds[0]);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket_.data(), socket_.size());
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ::_exit(2);
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)
      ::_exit(3);
    if (::listen(fd, 4) != 0) ::_exit(4);
    (void)!::write(pipe_fds[1], "L", 1);  // listening
    const int conn = ::accept(fd, nullptr, nullptr);
    char buf[64];
    pollfd p{conn, POLLIN, 0};
    ssize_t got = 0;
    if (::poll(&p, 1, 8000) > 0) got = ::read(conn, buf, sizeof buf);
    const char report = got > 0 ? 'R' : 'N';  // read something, or nothing
    (void)!::write(pipe_fds[1], &report, 1);
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  char listening = 0;
  ASSERT_EQ(::read(pipe_fds[0], &listening, 1), 1);
  ASSERT_EQ(listening, 'L');
  const auto r = doctor();
  char report = 0;
  ASSERT_EQ(::read(pipe_fds[0], &report, 1), 1);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r.out, "PROBLEM  agent: the process serving " + socket_ + " runs as uid 65534, not root")) << r.out;
  EXPECT_EQ(report, 'N') << "doctor sent the stranger a request";
}

TEST_F(DoctorE2E, OnlyRootRunsIt) {
  const std::string out = *dir_ / "nobody.out";
  const int status = run({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", HOIST_AGENT_PATH,
                          "doctor", "--state-dir", state_dir_},
                         out);
  if (status == 127 || has(slurp(out), "Permission denied")) GTEST_SKIP() << "the build tree is not readable by nobody";
  EXPECT_EQ(status, 77) << slurp(out);
  EXPECT_TRUE(has(slurp(out), "doctor must run as root")) << slurp(out);
}

}  // namespace
}  // namespace hoist::testing
