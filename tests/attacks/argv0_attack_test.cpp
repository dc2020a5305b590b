// The sudo path, argv[0]: a local user against the real sudo with
// hoist_sudo.so and hoist-agent (issue 17, item 3). Multi-call programs
// (systemctl, busybox, vim) do what their argv[0] names: a rule for one
// personality must not run another.
#include <sys/stat.h>

#include "attacks/attack_harness.h"

namespace hoist::testing {
namespace {

class Argv0Attack : public AttackE2E {
 protected:
  [[nodiscard]] std::string policy_text() const override {
    return R"(version = 1
[settings]
default_action = "deny"

[[rule]]
name = "probe-status"
action = "allow"
path = ")" +
           bin_ / "multi" + R"("
args = ["status"]

[[rule]]
name = "probe-named-link"
action = "allow"
path = ")" +
           bin_ / "named" + R"("

[[rule]]
name = "systemctl-status-cron"
action = "allow"
path = "/usr/bin/systemctl"
args = ["status", "cron"]
)";
  }

  void SetUp() override {
    AgentE2E::SetUp();
    ASSERT_TRUE(bin_.ok());
    ASSERT_EQ(run({"/usr/bin/install", "-o", "root", "-g", "root", "-m", "0755", HOIST_ARGV0_PROBE, bin_ / "multi"},
                  "/dev/null"),
              0);
    // Root's own links under other names, in the trusted directory.
    ASSERT_EQ(::symlink("multi", (bin_ / "other").c_str()), 0);
    ASSERT_EQ(::symlink("multi", (bin_ / "named").c_str()), 0);
  }

  // The user's own directory, with links they made.
  std::string user_links() {
    const std::string dir = "/tmp/hoist-attack-links-" + std::to_string(::getpid());
    const auto* pw = ::getpwnam(user_.name().c_str());
    EXPECT_NE(pw, nullptr);
    (void)::mkdir(dir.c_str(), 0755);
    if (pw != nullptr) {
      EXPECT_EQ(::chown(dir.c_str(), pw->pw_uid, pw->pw_gid), 0);
    }
    links_ = dir;
    return dir;
  }

  void TearDown() override {
    if (!links_.empty()) (void)run({"/bin/rm", "-rf", links_}, "/dev/null");
    AttackE2E::TearDown();
  }

  RootDir bin_{"/run"};
  std::string links_;
};

// Attacker: a local user allowed `multi status` (read-only, say).
// Goal: run the same binary as root under another personality through a
//   link they make in their own directory (the issue's
//   `sudo /tmp/x/runlevel status cron` with systemctl).
// Must hold: refused, and nothing ran (sudoers refuses this too: it
//   compares the base name).
TEST_F(Argv0Attack, TheUsersLinkUnderAnotherNameIsRefused) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const std::string dir = user_links();
  const auto r =
      as_user("ln -s " + bin_ / "multi" + " " + dir + "/runlevel && timeout 20 sudo " + dir + "/runlevel status");
  EXPECT_NE(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("argv0="), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("under another name"), std::string::npos) << r.err;
}

// Attacker: the same user.
// Goal: use a link root made (a trusted one) with another name.
// Must hold: refused unless a rule names that link; and what runs gets
//   the name the rule allowed, never the name as typed.
TEST_F(Argv0Attack, RootsLinkUnderAnotherNameNeedsItsOwnRule) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  auto r = as_user("timeout 20 sudo " + bin_ / "other" + " status");
  EXPECT_NE(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("argv0="), std::string::npos) << r.out;
  r = as_user("timeout 20 sudo " + bin_ / "named");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "argv0=" + bin_ / "named" + " euid=0 args=0\n");
}

// Attacker: the same user.
// Goal: pass an argv[0] of their choosing to an allowed program: a link of
//   the same name in their directory, a path with "..", a relative path.
// Must hold: the program sees the real path as argv[0] (same name), or
//   the command is refused (a relative path depends on the cwd).
TEST_F(Argv0Attack, TheProgramSeesTheDecidedPathNeverTheTypedOne) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const std::string dir = user_links();
  const std::string expected = "argv0=" + bin_ / "multi" + " euid=0 args=1\n";
  auto r = as_user("ln -s " + bin_ / "multi" + " " + dir + "/multi && timeout 20 sudo " + dir + "/multi status");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, expected);
  r = as_user("timeout 20 sudo " + bin_.path() + "/../" + bin_.path().substr(5) + "/multi status");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, expected);
  r = as_user("cd " + bin_.path() + " && timeout 20 sudo ./multi status");
  EXPECT_NE(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("argv0="), std::string::npos) << r.out;
}

// Attacker: the same user, with a hard link instead of a symlink.
// Must hold: a hard link in the user's directory is not a trusted path:
//   refused (if the kernel lets the user make it at all).
TEST_F(Argv0Attack, AHardLinkInTheUsersDirectoryIsRefused) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const std::string dir = user_links();
  const auto r =
      as_user("ln " + bin_ / "multi" + " " + dir + "/hard 2>/dev/null; timeout 20 sudo " + dir + "/hard status");
  EXPECT_NE(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("argv0="), std::string::npos) << r.out;
}

// The issue's own case, where systemd is installed: a rule for
// `systemctl status cron` does not run the runlevel personality through
// Debian's own /usr/sbin/runlevel link, nor through the user's.
TEST_F(Argv0Attack, SystemctlUnderRunlevelIsRefused) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  if (!exists("/usr/bin/systemctl") || !exists("/usr/sbin/runlevel")) GTEST_SKIP() << "systemd is not installed";
  arm();
  const std::string dir = user_links();
  for (const std::string& link : {std::string("/usr/sbin/runlevel"), dir + "/runlevel"}) {
    const auto r = as_user("ln -sf /usr/bin/systemctl " + dir + "/runlevel; timeout 20 sudo " + link +
                           " status cron; echo \"exit=$?\"");
    EXPECT_NE(r.out.find("exit=1"), std::string::npos) << link << ": " << r.out << r.err;
    EXPECT_TRUE(r.err.find("under another name") != std::string::npos ||
                r.err.find("no rule matched") != std::string::npos)
        << link << ": " << r.err;
  }
}

}  // namespace
}  // namespace hoist::testing
