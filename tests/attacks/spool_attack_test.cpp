// The break-glass spool (issue 17, item 15): the plugin writes a file per
// break-glass use while the agent is down; the agent reads them back into
// the audit trail. Whatever lands in the spool must not hang the agent's
// thread, be followed elsewhere, or be taken as a break-glass use unless
// it is root's own 0600 regular file; and with a non-default state
// directory, the plugin and the agent must use the same spool. The real
// sudo, hoist_sudo.so, hoist-agent and hoistd.
#include <sys/stat.h>

#include <boost/json.hpp>

#include "attacks/agent_attack_support.h"
#include "ipc/frame.h"

namespace hoist::testing {
namespace {

namespace fs = std::filesystem;

std::string break_glass_frame(const std::string& user) {
  ipc::Fields event;
  event.add_uint("v", ipc::kProtocolVersion).add("type", "break_glass");
  event.add_uint("time", 1'800'000'000).add("host", "e2e-agent");
  event.add("user", user).add_uint("uid", 4242).add_uint("gid", 4242);
  event.add("runas_user", "root").add_uint("runas_uid", 0);
  event.add("command", "/usr/bin/id").add("argv", "id");
  event.add("cwd", "/").add("tty", "/dev/pts/9").add_uint("pid", 1234).add("cause", "attack test");
  auto frame = ipc::encode_frame(event);
  EXPECT_TRUE(frame.ok());
  return frame ? *frame : std::string();
}

class SpoolAttack : public AgentAttackE2E {
 protected:
  void SetUp() override {
    if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
    AgentAttackE2E::SetUp();
    if (HasFatalFailure()) return;
    use_open_dir("hoist-attack-spool");
    ASSERT_EQ(enroll(), 0) << slurp(log_);
    ASSERT_EQ(::mkdir(spool_dir().c_str(), 0700), 0);
  }

  // A file in the spool: root's, `mode`, written through a temporary name.
  void put(const std::string& name, const std::string& content, mode_t mode = 0600) {
    const std::string tmp = spool_dir() + "/.tmp-" + name;
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << content;
    }
    ASSERT_EQ(::chmod(tmp.c_str(), mode), 0);
    ASSERT_EQ(::rename(tmp.c_str(), (spool_dir() + "/" + name).c_str()), 0);
  }
  bool imported(const std::string& name) { return audited("endpoint.break_glass", "spool_file", name) > 0; }
  bool reported(const std::string& name) { return audited("endpoint.spool.rejected", "spool_file", name) > 0; }
  bool set_aside(const std::string& name) {
    struct stat st {};
    return ::lstat((spool_dir() + "/" + name + ".rejected").c_str(), &st) == 0;
  }
  // A decision made after the spool was filled reaches hoistd: the thread
  // that reads the spool (and uploads) is not stuck.
  void expect_uploads_flow(const std::string& user) {
    const std::string conf = attack_sudo_conf(hoistd_.dir(), socket_, spool_dir());
    EXPECT_EQ(sudo_as(user, conf, "timeout 20 sudo -n /usr/bin/id -u", hoistd_.dir()).out, "0\n");
    EXPECT_TRUE(eventually([&] { return audited("endpoint.decision", "user", user) >= 1; }, seconds(20)))
        << "a decision did not reach hoistd: the upload thread is stuck\n"
        << slurp(log_);
  }
};

// Attacker: whoever got a FIFO into the spool (a shared or misconfigured
//           spool directory, a restored backup).
// Goal:     hang the agent's thread that reads the spool, which also
//           uploads every event.
// Must hold: the FIFO is never opened: it is set aside and reported, and
//           events keep reaching hoistd.
TEST_F(SpoolAttack, AFifoHangsNothing) {
  AttackUser user("-pf");
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  ASSERT_EQ(::mkfifo((spool_dir() + "/1800000000-fifo.event").c_str(), 0600), 0);
  start_agent();
  expect_uploads_flow(user.name());
  EXPECT_TRUE(eventually([&] { return reported("1800000000-fifo.event"); }, seconds(20)));
  EXPECT_TRUE(set_aside("1800000000-fifo.event"));
}

// Attacker: whoever can place a symlink in the spool.
// Goal:     have a file elsewhere read as a break-glass use (a forged use,
//           or a root-only file's content read by the agent).
// Must hold: the link is not followed: nothing is imported through it, it
//           is set aside and reported, and its target is untouched.
TEST_F(SpoolAttack, ASymlinkIsNotFollowed) {
  RootDir elsewhere("/run");
  ASSERT_TRUE(elsewhere.ok());
  ASSERT_TRUE(elsewhere.put("forged", break_glass_frame("forged-user"), 0600));
  ASSERT_EQ(::symlink((elsewhere.path() + "/forged").c_str(), (spool_dir() + "/1800000000-link.event").c_str()), 0);
  put("1800000000-good.event", break_glass_frame("real-user"));
  start_agent();
  EXPECT_TRUE(eventually([&] { return imported("1800000000-good.event"); }, seconds(20))) << slurp(log_);
  EXPECT_TRUE(eventually([&] { return reported("1800000000-link.event"); }, seconds(20))) << slurp(log_);
  EXPECT_FALSE(imported("1800000000-link.event")) << "the symlink's target was imported";
  EXPECT_TRUE(set_aside("1800000000-link.event"));
  EXPECT_EQ(slurp(elsewhere.path() + "/forged"), break_glass_frame("forged-user"));
}

// Attacker: whoever could write a file into the spool without being root
//           (a spool directory others may write), or a damaged file.
// Goal:     a forged break-glass use in the audit trail; or a huge file the
//           agent reads whole.
// Must hold: only root's 0600 regular files of at most one frame are
//           imported; the others are set aside and reported.
TEST_F(SpoolAttack, OnlyRootsOwnSmallFilesAreImported) {
  AttackUser attacker("-po");
  ASSERT_TRUE(attacker.ok()) << "cannot create a test user";
  put("1800000000-owner.event", break_glass_frame("forged-owner"));
  ASSERT_EQ(::chown((spool_dir() + "/1800000000-owner.event").c_str(), attacker.uid(), attacker.gid()), 0);
  put("1800000000-mode.event", break_glass_frame("forged-mode"), 0644);
  put("1800000000-huge.event", std::string(10 * 1024 * 1024, 'H'));
  put("1800000000-good.event", break_glass_frame("real-user"));
  start_agent();
  EXPECT_TRUE(eventually([&] { return imported("1800000000-good.event"); }, seconds(20))) << slurp(log_);
  for (const std::string name : {"1800000000-owner.event", "1800000000-mode.event", "1800000000-huge.event"}) {
    EXPECT_TRUE(eventually([&] { return reported(name); }, seconds(20))) << name << "\n" << slurp(log_);
    EXPECT_FALSE(imported(name)) << name << " was imported as a break-glass use";
    EXPECT_TRUE(set_aside(name)) << name;
  }
}

// Attacker: a local user, where the spool directory is writable by others.
// Goal:     forged break-glass uses in the audit trail.
// Must hold: nothing is imported from a spool directory that is not root's
//           with mode 0700; once it is, its files are.
TEST_F(SpoolAttack, ASpoolOthersMayWriteIsNotRead) {
  put("1800000000-open.event", break_glass_frame("from-an-open-spool"));
  ASSERT_EQ(::chmod(spool_dir().c_str(), 0733), 0);
  start_agent();
  AttackUser user("-pd");
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  expect_uploads_flow(user.name());  // a whole round of the thread has passed
  EXPECT_FALSE(imported("1800000000-open.event")) << "imported from a directory others may write";
  ASSERT_EQ(::chmod(spool_dir().c_str(), 0700), 0);
  EXPECT_TRUE(eventually([&] { return imported("1800000000-open.event"); }, seconds(20))) << slurp(log_);
}

// Attacker: none: an administrator who keeps the agent's state somewhere
//           else (install-plugin --state-dir).
// Goal:     (the failure) break-glass uses that never reach the audit
//           trail, or break-glass refused, because the plugin spools to
//           /var/lib/hoist-agent/spool while the agent reads <state dir>/spool.
// Must hold: install-plugin writes the matching spool_dir=; a real
//           break-glass use (sudo, PAM, the agent down) reaches hoistd's
//           audit trail once the agent runs.
TEST_F(SpoolAttack, ANonDefaultStateDirectoryKeepsBreakGlassAudited) {
  RootDir etc("/run");
  ASSERT_TRUE(etc.ok()) << "cannot make a root-owned directory under /run";
  ASSERT_TRUE(etc.put_pam_service());
  TestGroup group("hoist-e2e-" + std::to_string(::getpid()) + "-pg");
  ASSERT_TRUE(group.ok()) << "cannot create a test group";
  ASSERT_TRUE(etc.put("break-glass", group.name() + "\n", 0644));
  ASSERT_TRUE(etc.put("hoist_sudo.so", slurp(HOIST_SUDO_SO), 0644));
  ASSERT_TRUE(etc.put("sudo.conf", "# the case's sudo.conf\n", 0644));
  ASSERT_TRUE(etc.put("host-sudo.conf", slurp("/etc/sudo.conf"), 0644));
  AttackUser member("-pb", group.name(), std::string(kAttackPassword));
  ASSERT_TRUE(member.ok()) << "cannot create a test user";
  ASSERT_EQ(::rmdir(spool_dir().c_str()), 0);  // the plugin makes it

  // install-plugin in a private mount namespace, the host's sudo.conf
  // bound to a copy as a safety net (it writes --sudo-conf only).
  const std::string install = "mount --bind " + etc.path() + "/host-sudo.conf /etc/sudo.conf && exec " +
                              HOIST_AGENT_PATH + " install-plugin --sudo-conf " + etc.path() + "/sudo.conf --plugin " +
                              etc.path() + "/hoist_sudo.so --agent-socket " + socket_ + " --break-glass-file " +
                              etc.path() + "/break-glass --state-dir " + state_dir_ +
                              " --plugin-option timestamp_dir=" + hoistd_.dir() +
                              "/ts --plugin-option pam_service=hoist-e2e --plugin-option pam_confdir=" + etc.path();
  ASSERT_EQ(run({"/usr/bin/timeout", "60", "/usr/bin/unshare", "-m", "/bin/sh", "-c", install}, log_), 0)
      << slurp(log_);
  const std::string conf = slurp(etc.path() + "/sudo.conf");
  EXPECT_NE(conf.find(" spool_dir=" + spool_dir()), std::string::npos) << conf;

  {
    TtySudo sudo(member.name(), etc.path() + "/sudo.conf", "sudo /usr/bin/id");
    ASSERT_TRUE(sudo.expect("break-glass", seconds(20))) << sudo.output();
    ASSERT_TRUE(sudo.expect("assword", seconds(10))) << sudo.output();
    sudo.type(std::string(kAttackPassword) + "\n");
    EXPECT_TRUE(sudo.expect("uid=0(root)", seconds(20))) << sudo.output();
    EXPECT_EQ(sudo.wait_exit(seconds(20)), 0) << sudo.output();
  }
  start_agent();
  EXPECT_TRUE(eventually([&] { return audited("endpoint.break_glass", "user", member.name()) == 1; }, seconds(20)))
      << "the break-glass use did not reach the audit trail\n"
      << slurp(log_);
}

}  // namespace
}  // namespace hoist::testing
