// The sudo path, sudoedit: a local user against the real sudo with
// hoist_sudo.so and hoist-agent (issue 17, items 1 and 2). sudoedit copies
// files as root, runs the user's editor as the user on the copies and
// writes them back as root: a policy that judged the editor instead of the
// files would let any allowed program read or write any file.
#include <sys/stat.h>

#include "attacks/attack_harness.h"

namespace hoist::testing {
namespace {

class SudoeditAttack : public AttackE2E {
 protected:
  // Programs that can act as an "editor" are allowed to run as root; only
  // `edit` rules name files. The files live in a root-owned directory
  // under /run (a trusted path).
  [[nodiscard]] std::string policy_text() const override {
    return R"(version = 1
[settings]
default_action = "request"

[[rule]]
name = "env"
action = "allow"
path = "/usr/bin/env"

[[rule]]
name = "id"
action = "allow"
path = "/usr/bin/id"

[[rule]]
name = "status-cron"
action = "allow"
path = "/usr/bin/systemctl"
args = ["status", "cron"]

[[rule]]
name = "hosts"
action = "allow"
edit = [")" +
           root_ / "hosts" + R"(", ")" + root_ / "conf.d/*.conf" + R"(", ")" + root_ / "link" + R"(", ")" +
           open_ / "*" + R"("]
)";
  }

  void SetUp() override {
    AgentE2E::SetUp();
    ASSERT_TRUE(root_.ok() && open_.ok());
    ASSERT_TRUE(root_.put("hosts", "127.0.0.1 localhost\n", 0644));
    ASSERT_TRUE(root_.put("secret", "TOP-SECRET-CONTENT\n", 0600));
    ASSERT_EQ(::mkdir((root_ / "conf.d").c_str(), 0755), 0);
    ASSERT_TRUE(root_.put("conf.d/a.conf", "a\n", 0644));
    // An editor that appends a line to every file it is given.
    ASSERT_TRUE(root_.put("append.sh",
                          "#!/bin/sh\nfor f in \"$@\"; do [ \"$f\" = -- ] && continue; echo edited >> \"$f\"; done\n",
                          0755));
  }

  RootDir root_{"/run"};
  RootDir open_{"/run", 0777};  // a directory everyone may write
};

// Attacker: a local user allowed to run /usr/bin/env (or id) as root.
// Goal: read /etc/shadow-like files through sudoedit with that program as
//   the "editor" (env prints nothing of the file, but `env cat FILE`
//   would; the issue read a copy of /etc/shadow this way).
// Must hold: the edit is decided on the file, which no edit rule names:
//   refused before anything is copied; the secret is not shown.
TEST_F(SudoeditAttack, AnAllowedProgramAsTheEditorReadsNothing) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  for (const std::string editor : {"/usr/bin/env cat", "/usr/bin/env", "/usr/bin/id"}) {
    for (const std::string form : {"sudo -e", "sudoedit"}) {
      const auto r = as_user("SUDO_EDITOR=\"" + editor + "\" timeout 20 " + form + " " + root_ / "secret");
      EXPECT_NE(r.status, 0) << editor << " / " << form << ": " << r.out << r.err;
      EXPECT_EQ((r.out + r.err).find("TOP-SECRET"), std::string::npos) << r.out << r.err;
      EXPECT_NE(r.err.find("no rule lets you edit " + root_ / "secret"), std::string::npos) << r.err;
    }
  }
  // The same through VISUAL and EDITOR.
  for (const std::string var : {"VISUAL", "EDITOR"}) {
    const auto r = as_user(var + "=\"/usr/bin/env cat\" timeout 20 sudo -e " + root_ / "secret");
    EXPECT_NE(r.status, 0) << r.err;
    EXPECT_EQ((r.out + r.err).find("TOP-SECRET"), std::string::npos) << r.out << r.err;
  }
}

// Attacker: a local user allowed only `systemctl status cron`.
// Goal: `SUDO_EDITOR=/usr/bin/systemctl sudo -e status cron` makes root
//   create or overwrite files named "status" and "cron" where they like.
// Must hold: refused; no file is created.
TEST_F(SudoeditAttack, AnExactRuleAsTheEditorWritesNothing) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const auto r = as_user("cd " + open_.path() + " && SUDO_EDITOR=/usr/bin/systemctl timeout 20 sudo -e status cron");
  EXPECT_NE(r.status, 0) << r.out << r.err;
  EXPECT_FALSE(exists(open_ / "status"));
  EXPECT_FALSE(exists(open_ / "cron"));
}

// Attacker: a local user allowed to edit some files.
// Goal: overwrite a root-only file next to them, through a relative name,
//   "..", a second file in the same command line, or a symlink.
// Must hold: only the files an edit rule names are written; the rest is
//   refused whole; a symlink is never followed.
TEST_F(SudoeditAttack, OnlyTheNamedFilesAreWritten) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const std::string editor = "SUDO_EDITOR=" + root_ / "append.sh";
  // Two files, one not allowed: nothing is edited.
  auto r = as_user(editor + " timeout 20 sudo -e " + root_ / "hosts" + " " + root_ / "secret");
  EXPECT_NE(r.status, 0) << r.err;
  EXPECT_EQ(slurp_file(root_ / "hosts"), "127.0.0.1 localhost\n");
  EXPECT_EQ(slurp_file(root_ / "secret"), "TOP-SECRET-CONTENT\n");
  // ".." out of an allowed directory.
  r = as_user(editor + " timeout 20 sudo -e " + root_ / "conf.d/../secret");
  EXPECT_NE(r.status, 0) << r.err;
  EXPECT_EQ(slurp_file(root_ / "secret"), "TOP-SECRET-CONTENT\n");
  // A name an edit rule allows, made a symlink to the secret by root's
  // mistake: not followed.
  ASSERT_EQ(::symlink((root_ / "secret").c_str(), (root_ / "link").c_str()), 0);
  r = as_user(editor + " timeout 20 sudo -e " + root_ / "link");
  EXPECT_NE(r.status, 0) << r.err;
  EXPECT_EQ(slurp_file(root_ / "secret"), "TOP-SECRET-CONTENT\n");
  // A directory others can write, even one a rule names: refused (the
  // user could swap the file between the check and sudo's copy).
  r = as_user(editor + " timeout 20 sudo -e " + open_ / "x.conf");
  EXPECT_NE(r.status, 0) << r.err;
  EXPECT_FALSE(exists(open_ / "x.conf"));
}

// Attacker: none; the use after free of issue 17 item 2 made every save
// with an absolute name fail ("unable to write to <random bytes>": root
// opened a path made of freed memory).
// Must hold: an allowed edit is written back, by absolute and by relative
//   name, the file stays root's with its mode, and the edit is audited
//   with its files.
TEST_F(SudoeditAttack, AnAllowedEditIsWrittenBackAndAudited) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const std::string editor = "SUDO_EDITOR=" + root_ / "append.sh";
  auto r = as_user(editor + " timeout 20 sudo -e " + root_ / "hosts");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.err.find("unable to write"), std::string::npos) << r.err;
  EXPECT_EQ(slurp_file(root_ / "hosts"), "127.0.0.1 localhost\nedited\n");
  r = as_user("cd " + root_ / "conf.d" + " && " + editor + " timeout 20 sudoedit a.conf");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(slurp_file(root_ / "conf.d/a.conf"), "a\nedited\n");
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "hosts").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0U);
  EXPECT_EQ(st.st_mode & 07777, 0644U);
  // The audit trail has the edit with its files (and never the editor as
  // the command).
  ASSERT_TRUE(eventually(
      [&] {
        const auto events = hoistd_.call("GET", "/api/v1/audit?action=endpoint.edit&limit=100", "", admin_);
        return events.body.find(root_ / "hosts") != std::string::npos &&
               events.body.find(root_ / "conf.d/a.conf") != std::string::npos;
      },
      seconds(20)));
}

}  // namespace
}  // namespace hoist::testing
