// `hoist-agent install-plugin` / `uninstall-plugin` end to end, as root: the
// real binary, the real visudo and `sudo -V`, an endpoint enrolled against
// a real hoistd. The host is never changed: the file edited is a sudo.conf
// in a private temporary directory (--sudo-conf), and every hoist-agent
// runs under `unshare -m` with a copy bound over /etc/sudo.conf, so even a
// stray write to /etc/sudo.conf would land in the copy (and a rename onto
// it fails with EBUSY). The test checks at the end that the host's file is
// byte for byte what it was.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/hoistd_process.h"
#include "support/temp_dir.h"

namespace hoist::testing {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr std::string_view kSkip =
    "needs root and a build without sanitizers (an ASan-built hoist_sudo.so cannot load into sudo)";

bool possible() {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#else
  return ::geteuid() == 0 && ::access("/etc/sudo.conf", F_OK) == 0 && ::access("/usr/bin/unshare", X_OK) == 0 &&
         ::access("/usr/sbin/visudo", X_OK) == 0;
#endif
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const std::string& path, std::string_view text, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

struct AgentRun {
  int status = -1;
  std::string out;
};

constexpr std::string_view kInitial =
    "# sudo.conf of the test\n"
    "#Plugin sudoers_policy sudoers.so\n"
    "Path askpass /usr/bin/ssh-askpass\n"
    "Plugin sudoers_policy sudoers.so\n"
    "Set disable_coredump false\n";

class PluginInstallE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!possible()) GTEST_SKIP() << kSkip;
    host_sudo_conf_ = slurp("/etc/sudo.conf");
    ASSERT_FALSE(trusted_base().empty()) << "no root-owned directory chain for the test's files";
    work_ = std::make_unique<TempDir>(trusted_base());
    const std::string w = work_->path();
    for (const char* d : {"/etc", "/lib", "/ts", "/spool"}) ASSERT_EQ(::mkdir((w + d).c_str(), 0755), 0) << d;
    conf_ = w + "/etc/sudo.conf";
    backup_ = conf_ + ".hoist-backup";
    state_ = w + "/state";
    plugin_ = w + "/lib/hoist_sudo.so";
    host_copy_ = w + "/host-sudo.conf";
    spit(host_copy_, host_sudo_conf_, 0644);
    spit(plugin_, slurp(HOIST_SUDO_SO), 0755);
    spit(conf_, kInitial, 0644);
  }

  void TearDown() override {
    if (!possible()) return;
    EXPECT_EQ(slurp("/etc/sudo.conf"), host_sudo_conf_) << "the host's /etc/sudo.conf changed";
  }

  // hoist-agent with `args`, in a private mount namespace in which the
  // host's /etc/sudo.conf is a bound copy (and `extra_binds` "SRC DST" too).
  AgentRun agent(const std::vector<std::string>& args, const std::vector<std::string>& extra_binds = {}) {
    std::string script = "set -e; mount --bind \"$HOST_COPY\" /etc/sudo.conf; ";
    for (const auto& b : extra_binds) script += "mount --bind " + b + "; ";
    script += "exec \"$@\"";
    std::vector<std::string> argv = {"/usr/bin/timeout", "120", "/usr/bin/unshare", "-m", "/bin/sh", "-c", script, "sh",
                                     HOIST_AGENT_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string log = work_->path() + "/agent.out";
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (out < 0) ::_exit(127);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::setenv("HOST_COPY", host_copy_.c_str(), 1);
      std::vector<char*> raw;
      for (auto& a : argv) raw.push_back(a.data());
      raw.push_back(nullptr);
      ::execv(raw[0], raw.data());
      ::_exit(127);
    }
    AgentRun r;
    int status = 0;
    if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) r.status = WEXITSTATUS(status);
    r.out = slurp(log);
    return r;
  }

  std::vector<std::string> install_args(const std::string& plugin) const {
    const std::string w = work_->path();
    return {"install-plugin",
            "--sudo-conf",
            conf_,
            "--state-dir",
            state_,
            "--plugin",
            plugin,
            "--agent-socket",
            w + "/agent.sock",
            "--plugin-option",
            "timestamp_dir=" + w + "/ts",
            "--plugin-option",
            "spool_dir=" + w + "/spool"};
  }

  std::string hoist_line(const std::string& plugin) const {
    const std::string w = work_->path();
    return "Plugin hoist_policy " + plugin + " agent_socket=" + w + "/agent.sock timestamp_dir=" + w +
           "/ts spool_dir=" + w + "/spool";
  }

  void enroll() {
    ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
    auto admin = hoistd_.admin_token();
    ASSERT_TRUE(admin) << admin.error().message;
    const auto token = hoistd_.call_json("POST", "/api/v1/enrolment-tokens",
                                         json::object{{"labels", json::array{"agents"}}}, bearer(*admin));
    ASSERT_EQ(token.status, 201) << token;
    auto r = agent({"enroll", "--state-dir", state_, "--server", hoistd_.url(), "--token", token.str("/token"),
                    "--ca-pin", hoistd_.ca_fingerprint(), "--hostname", "install-e2e"});
    ASSERT_EQ(r.status, 0) << r.out;
  }

  // No candidate left behind in the directory after a refusal.
  void expect_no_leftovers() {
    for (const auto& e : fs::directory_iterator(work_->path() + "/etc")) {
      const auto name = e.path().filename().string();
      EXPECT_TRUE(name == "sudo.conf" || name == "sudo.conf.hoist-backup") << "left behind: " << name;
    }
  }

  std::string host_sudo_conf_;
  std::unique_ptr<TempDir> work_;
  std::string conf_, backup_, state_, plugin_, host_copy_;
  HoistdProcess hoistd_;
};

TEST_F(PluginInstallE2E, RefusesWhenNotEnrolled) {
  auto r = agent(install_args(plugin_));
  EXPECT_EQ(r.status, 69) << r.out;
  EXPECT_NE(r.out.find("hoist-agent enroll"), std::string::npos) << r.out;
  EXPECT_EQ(slurp(conf_), kInitial);
  EXPECT_FALSE(fs::exists(backup_));
  expect_no_leftovers();
}

TEST_F(PluginInstallE2E, InstallsIdempotentlyRefusesBrokenPluginsAndUninstalls) {
  enroll();
  if (HasFatalFailure()) return;

  // Refusals first: each leaves the file as it was.
  auto missing = agent(install_args(work_->path() + "/lib/missing.so"));
  EXPECT_EQ(missing.status, 69) << missing.out;
  EXPECT_NE(missing.out.find("missing.so cannot be used"), std::string::npos) << missing.out;

  const std::string writable = work_->path() + "/lib/writable.so";
  spit(writable, slurp(HOIST_SUDO_SO), 0775);
  auto group_writable = agent(install_args(writable));
  EXPECT_EQ(group_writable.status, 69) << group_writable.out;
  EXPECT_NE(group_writable.out.find("writable by group or others"), std::string::npos) << group_writable.out;

  // Root's, safe, but no hoist_policy in it: only `sudo -V` can tell.
  const std::string not_hoist = work_->path() + "/lib/not_hoist.so";
  spit(not_hoist, slurp("/usr/libexec/sudo/sudoers.so"), 0644);
  auto wrong_so = agent(install_args(not_hoist));
  EXPECT_EQ(wrong_so.status, 69) << wrong_so.out;
  EXPECT_NE(wrong_so.out.find("failed its test"), std::string::npos) << wrong_so.out;

  auto typo_args = install_args(plugin_);
  typo_args.insert(typo_args.end(), {"--plugin-option", "agent_sokcet=/run/x"});
  auto typo = agent(typo_args);
  EXPECT_EQ(typo.status, 64) << typo.out;

  // An invalid /etc/sudoers (bound over the host's in the namespace) is refused.
  const std::string bad_sudoers = work_->path() + "/bad-sudoers";
  spit(bad_sudoers, "this is not sudoers\n", 0440);
  auto sudoers = agent(install_args(plugin_), {bad_sudoers + " /etc/sudoers"});
  EXPECT_EQ(sudoers.status, 69) << sudoers.out;
  EXPECT_NE(sudoers.out.find("/etc/sudoers is not valid"), std::string::npos) << sudoers.out;

  EXPECT_EQ(slurp(conf_), kInitial);
  EXPECT_FALSE(fs::exists(backup_));
  expect_no_leftovers();

  // Install: the policy line replaced, every other line kept, a backup.
  auto installed = agent(install_args(plugin_));
  ASSERT_EQ(installed.status, 0) << installed.out;
  EXPECT_NE(installed.out.find("tested: sudo -V loads hoist_sudo.so"), std::string::npos) << installed.out;
  EXPECT_NE(installed.out.find("replaced line 4"), std::string::npos) << installed.out;
  const std::string expected =
      "# sudo.conf of the test\n"
      "#Plugin sudoers_policy sudoers.so\n"
      "Path askpass /usr/bin/ssh-askpass\n" +
      hoist_line(plugin_) +
      "\n"
      "Set disable_coredump false\n";
  EXPECT_EQ(slurp(conf_), expected);
  EXPECT_EQ(slurp(backup_), kInitial);
  struct stat st {};
  ASSERT_EQ(::stat(conf_.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0U);
  EXPECT_EQ(st.st_mode & 07777, 0644U);
  ASSERT_EQ(::stat(backup_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644U);
  expect_no_leftovers();

  // Again: nothing to do, nothing written.
  ASSERT_EQ(::stat(conf_.c_str(), &st), 0);
  const ino_t inode = st.st_ino;
  auto again = agent(install_args(plugin_));
  EXPECT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("nothing changed"), std::string::npos) << again.out;
  ASSERT_EQ(::stat(conf_.c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, inode);
  EXPECT_EQ(slurp(conf_), expected);
  EXPECT_EQ(slurp(backup_), kInitial);

  // A broken plugin path while installed: refused, the working line stays.
  auto broken = agent(install_args(work_->path() + "/lib/missing.so"));
  EXPECT_NE(broken.status, 0) << broken.out;
  EXPECT_EQ(slurp(conf_), expected);

  // Uninstall: the Hoist line goes, sudo's default (sudoers) applies.
  auto removed = agent({"uninstall-plugin", "--sudo-conf", conf_});
  ASSERT_EQ(removed.status, 0) << removed.out;
  EXPECT_NE(removed.out.find("tested: sudo -V loads sudoers"), std::string::npos) << removed.out;
  EXPECT_EQ(slurp(conf_),
            "# sudo.conf of the test\n"
            "#Plugin sudoers_policy sudoers.so\n"
            "Path askpass /usr/bin/ssh-askpass\n"
            "Set disable_coredump false\n");
  EXPECT_EQ(slurp(backup_), kInitial);
  auto removed_again = agent({"uninstall-plugin", "--sudo-conf", conf_});
  EXPECT_EQ(removed_again.status, 0) << removed_again.out;
  EXPECT_NE(removed_again.out.find("nothing changed"), std::string::npos) << removed_again.out;
  expect_no_leftovers();
}

TEST_F(PluginInstallE2E, UninstallIsRefusedWhileSudoersIsInvalid) {
  spit(conf_, hoist_line(plugin_) + "\n", 0644);
  const std::string bad_sudoers = work_->path() + "/bad-sudoers";
  spit(bad_sudoers, "this is not sudoers\n", 0440);
  auto r = agent({"uninstall-plugin", "--sudo-conf", conf_}, {bad_sudoers + " /etc/sudoers"});
  EXPECT_EQ(r.status, 69) << r.out;
  EXPECT_EQ(slurp(conf_), hoist_line(plugin_) + "\n");
  expect_no_leftovers();
}

}  // namespace
}  // namespace hoist::testing
