// Red team, issue 17 (commits 09e30d3, df95695): a local user against the
// real sudo 1.9.13p3 loading hoist_sudo.so, the real hoist-agent and hoistd
// (tests/attacks/attack_harness.h). One case per attack; each FAILS when the
// attack works. Cases that Hoist withstands stay as regression guards.
//
// The user's scripts are written to a root-owned directory under /run and
// run with `sh FILE` (as_user wraps the line in su -c '...').
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <memory>
#include <vector>

#include "attacks/attack_harness.h"
#include "core/display_text.h"
#include "endpoint/terminal.h"

namespace hoist::testing {
namespace {

std::string sha256_of(const std::string& file) {
  std::string out;
  if (FILE* p = ::popen(("/usr/bin/sha256sum " + file).c_str(), "r")) {
    char buf[128];
    if (std::fgets(buf, sizeof buf, p) != nullptr) out = std::string(buf).substr(0, 64);
    ::pclose(p);
  }
  return out;
}

// What the red-team fixtures share: the user's own directories under /tmp
// (removed after the test) and scripts the user runs.
class Redteam : public AttackE2E {
 protected:
  void SetUp() override {
    AgentE2E::SetUp();
    ASSERT_TRUE(scripts_.ok());
  }

  void TearDown() override {
    for (const auto& d : user_dirs_) (void)run({"/bin/rm", "-rf", d}, "/dev/null");
    AttackE2E::TearDown();
  }

  [[nodiscard]] uid_t user_uid() const {
    const passwd* pw = ::getpwnam(user_.name().c_str());
    return pw != nullptr ? pw->pw_uid : static_cast<uid_t>(-1);
  }
  [[nodiscard]] gid_t user_gid() const {
    const passwd* pw = ::getpwnam(user_.name().c_str());
    return pw != nullptr ? pw->pw_gid : static_cast<gid_t>(-1);
  }

  // A directory under /tmp owned by the test user (mode 0755).
  std::string user_dir() {
    const std::string dir =
        "/tmp/hoist-redteam-" + std::to_string(::getpid()) + "-" + std::to_string(user_dirs_.size());
    (void)run({"/bin/rm", "-rf", dir}, "/dev/null");
    EXPECT_EQ(::mkdir(dir.c_str(), 0755), 0);
    EXPECT_EQ(::chown(dir.c_str(), user_uid(), user_gid()), 0);
    user_dirs_.push_back(dir);
    return dir;
  }

  // `body` as a /bin/sh script the user runs; returns the output.
  SudoRun user_script(const std::string& body) {
    const std::string name = "s" + std::to_string(script_count_++) + ".sh";
    EXPECT_TRUE(scripts_.put(name, "set -u\n" + body, 0755));
    auto r = as_user("sh " + scripts_ / name);
    if (std::getenv("HOIST_REDTEAM_VERBOSE") != nullptr) {
      std::cerr << "--- " << name << " exit " << r.status << "\n"
                << r.out << "--- stderr\n"
                << r.err.substr(0, 4000) << "---\n";
    }
    return r;
  }

  RootDir scripts_{"/run"};
  std::vector<std::string> user_dirs_;
  int script_count_ = 0;
};

// ---------------------------------------------------------------------------
// sudoedit
// ---------------------------------------------------------------------------

class RedEdit : public Redteam {
 protected:
  [[nodiscard]] std::string policy_text() const override {
    return R"(version = 1
[settings]
default_action = "request"

[[rule]]
name = "id"
action = "allow"
path = "/usr/bin/id"

[[rule]]
name = "conf"
action = "allow"
edit = [")" +
           root_ / "conf.d/*.conf" + R"(", ")" + root_ / "any/*" + R"("]

[[rule]]
name = "never-deny-me"
action = "deny"
edit = [")" +
           root_ / "any/deny.me" + R"("]
)";
  }

  void SetUp() override {
    Redteam::SetUp();
    ASSERT_TRUE(root_.ok());
    ASSERT_EQ(::mkdir((root_ / "conf.d").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((root_ / "any").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((root_ / "any/sub").c_str(), 0755), 0);
    ASSERT_TRUE(root_.put("conf.d/a.conf", "a\n", 0644));
    ASSERT_TRUE(root_.put("secret.conf", "TOP-SECRET\n", 0600));
    ASSERT_TRUE(root_.put("any/deny.me", "DENIED-FILE\n", 0600));
    // An editor that appends a line to every file it is given.
    ASSERT_TRUE(root_.put("append.sh",
                          "#!/bin/sh\nfor f in \"$@\"; do [ \"$f\" = -- ] && continue; echo edited >> \"$f\"; done\n",
                          0755));
  }

  [[nodiscard]] std::string editor() const { return "SUDO_EDITOR=" + root_ / "append.sh"; }

  RootDir root_{"/run"};
};

// Attacker: a local user allowed to edit anything in DIR/any/ except
//   DIR/any/deny.me (a deny rule), and DIR/conf.d/*.conf.
// Goal:     write the denied file (or one outside the patterns) through
//   another spelling of its path: "/./", "//", "..", a trailing slash, a
//   relative name, a symlinked directory the user owns, /proc/self/root,
//   /proc/self/cwd, /dev/fd/N of a directory.
// Must hold: every spelling is refused; neither file changes. Withstood:
//   the plugin resolves the directories and the agent matches the result.
TEST_F(RedEdit, AnotherSpellingOfADeniedPathIsRefused) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const std::string u = user_dir();
  const std::string any = root_ / "any";
  const std::vector<std::string> forms = {
      any + "/./deny.me",        root_.path() + "//any//deny.me",
      any + "/sub/../deny.me",   any + "/deny.me/",
      u + "/l/deny.me",          "/proc/self/root" + any + "/deny.me",
      "/proc/self/cwd/deny.me",  "/dev/fd/3/deny.me",
      "/proc/self/fd/3/deny.me", "deny.me",
      "sub/../deny.me",          root_ / "conf.d/../secret.conf",
      u + "/c/../secret.conf",
  };
  std::string body =
      "ln -s " + any + " " + u + "/l\nln -s " + root_ / "conf.d" + " " + u + "/c\ncd " + any + "\nexec 3<" + any + "\n";
  for (const auto& f : forms) {
    body += "echo \"== " + f + "\"; " + editor() + " timeout 20 sudo -n -e \"" + f + "\"; echo \"rc=$?\"\n";
  }
  const auto r = user_script(body);
  EXPECT_EQ(slurp_file(any + "/deny.me"), "DENIED-FILE\n") << r.out << r.err;
  EXPECT_EQ(slurp_file(root_ / "secret.conf"), "TOP-SECRET\n") << r.out << r.err;
  EXPECT_EQ(r.out.find("rc=0"), std::string::npos) << r.out << r.err;
}

// Attacker: the same user.
// Goal:     the agent decides on a path it resolves again, not on the
//   string sudo is handed: while the user's directory in that string is a
//   symlink to an allowed directory, the agent allows; sudo then opens the
//   string in whatever the directory has become (the plugin's comment: "the
//   files decided on are the files sudo copies, whatever happens to the
//   invoker's directories meanwhile").
// Must hold: the agent refuses an edit whose path is not the resolved one
//   it decides on (it must decide on exactly the bytes sudo opens). Today
//   only sudo's own sudoedit_checkdir (no symlink, no file, in a directory
//   the user owns or can write) stops the swap; see the next case.
TEST_F(RedEdit, TheAgentDecidesOnThePathSudoOpens) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const std::string u = user_dir();
  ASSERT_EQ(::symlink((root_ / "conf.d").c_str(), (u + "/d").c_str()), 0);
  auto c = context("/usr/bin/true", {"sudoedit", u + "/d/secret.conf"});
  c.mode = ipc::RunMode::kEdit;
  auto reply = ask(ipc::to_fields(ipc::CheckMessage{c}));
  ASSERT_TRUE(reply) << reply.error().message;
  if (auto e = ipc::error_from(*reply)) {
    SUCCEED() << "refused: " << e->message;
    return;
  }
  const auto d = ipc::decision_from(*reply);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_NE(d->action, Action::kAllow) << "the agent allowed editing " << u
                                       << "/d/secret.conf (a path through the user's symlink): " << d->reason;
}

// Attacker: the same user, racing: the directory in the path flips between
//   a real directory of theirs, a symlink to the allowed DIR/conf.d and a
//   symlink to DIR (where secret.conf is), while sudo -e runs in a loop.
// Goal:     plugin sees a real directory, the agent the allowed one, sudo
//   the secret one.
// Must hold: DIR/secret.conf is never written (sudo's checkdir refuses a
//   symlink or a file in the user's directory; this guards that Hoist keeps
//   sudoedit_checkdir=true and sudoedit_follow=false).
TEST_F(RedEdit, SwappingTheUsersDirectoryDuringTheEditWritesNothingElse) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const std::string u = user_dir();
  const auto r =
      user_script("cd " + u + "\nmkdir d\nln -s " + root_ / "conf.d" + " L1\nln -s " + root_.path() +
                  " L2\n"
                  "perl -e 'my ($d, $a, $b) = (\"d\", \"L1\", \"L2\"); while (1) { syscall(316, -100, $d, -100, "
                  "rand() < 0.5 ? $a : $b, 2) }' &\n"
                  "racer=$!\n"
                  "ok=0; for i in $(seq 60); do " +
                  editor() + " timeout 10 sudo -n -e " + u +
                  "/d/secret.conf 2>>err && ok=$((ok+1)); done\n"
                  "kill $racer; echo \"ok=$ok\"; sed \"s/-[0-9]*/-N/g\" err | sort | uniq -c\n");
  EXPECT_EQ(slurp_file(root_ / "secret.conf"), "TOP-SECRET\n") << r.out << r.err;
}

// Attacker: the same user.
// Goal:     names that look like options ("-", "--", "-rf"), or hold a
//   newline or an escape sequence, confuse the editor's command line or
//   sudo's file list (editor args -- FILES, sudoedit_nfiles).
// Must hold: exactly the named files are edited, nothing else appears in
//   DIR/any, and the terminal never gets a raw ESC from Hoist.
TEST_F(RedEdit, NamesThatLookLikeOptionsEditOnlyThoseFiles) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const auto r = user_script("cd " + root_ / "any" + "\n" + editor() +
                             " timeout 20 sudo -n -e -- - -- -rf \"$(printf \"a\\nb\")\" \"$(printf \"\\033[31mred\")\""
                             "; echo \"rc=$?\"\n");
  EXPECT_NE(r.out.find("rc=0"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(slurp_file(root_ / "any/-"), "edited\n");
  EXPECT_EQ(slurp_file(root_ / "any/--"), "edited\n");
  EXPECT_EQ(slurp_file(root_ / "any/-rf"), "edited\n");
  EXPECT_EQ(slurp_file(root_ / "any/a\nb"), "edited\n");
  EXPECT_EQ(slurp_file(root_ / "any/deny.me"), "DENIED-FILE\n");
  std::size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(root_ / "any")) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 7U);  // sub, deny.me and the five edited
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
}

// Attacker: the same user, choosing the editor.
// Goal:     make the "editor" run as root (SUDO_EDITOR/VISUAL/EDITOR with
//   arguments, "--", spaces), or hand it an extra file.
// Must hold: the editor always runs as the user, on the temporary copy
//   only; a value with "--" is skipped; the real files are untouched
//   except through sudo's write-back.
TEST_F(RedEdit, TheEditorRunsAsTheUserWhateverItsArguments) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const std::string u = user_dir();
  const auto r = user_script("cat > " + u + "/ed <<EOF\n#!/bin/sh\nid -u >> " + u + "/who\necho \"\\$@\" >> " + u +
                             "/args\ncat /etc/shadow >> " + u + "/stolen 2>/dev/null\nEOF\nchmod 755 " + u + "/ed\n" +
                             "SUDO_EDITOR=\"" + u + "/ed -x " + root_ / "secret.conf" + "\" timeout 20 sudo -n -e " +
                             root_ / "conf.d/a.conf" + "; echo \"rc1=$?\"\n" + "SUDO_EDITOR=\"" + root_ / "append.sh" +
                             " -- " + root_ / "secret.conf" + "\" VISUAL=" + u + "/ed timeout 20 sudo -n -e " +
                             root_ / "conf.d/a.conf" + "; echo \"rc2=$?\"\n");
  EXPECT_EQ(slurp_file(u + "/who"), std::to_string(user_uid()) + "\n" + std::to_string(user_uid()) + "\n")
      << r.out << r.err;
  EXPECT_EQ(slurp_file(u + "/stolen"), "");
  EXPECT_EQ(slurp_file(root_ / "secret.conf"), "TOP-SECRET\n");
  EXPECT_EQ(slurp_file(root_ / "conf.d/a.conf"), "a\n");  // the editor wrote nothing
}

// Attacker: the same user (edit rules hold for root only).
// Goal:     combine -e with -u, -g, -s, -i, -E, -l or odd targets to edit
//   as someone else or outside the rules.
// Must hold: -u nobody, -g adm and -g root are refused, -s/-i/-E/-l with -e
//   are refused; "#0" is root and works; nothing else is written.
TEST_F(RedEdit, EditWithOtherTargetsAndFlags) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const std::string f = root_ / "conf.d/a.conf";
  std::string body;
  for (const std::string how : {"-u nobody", "-g adm", "-g root", "-u root -g shadow", "-s", "-i", "-E", "-l",
                                "-u \"#65534\"", "-u \"#-1\"", "-u \"#4294967295\""}) {
    body += "echo \"== " + how + "\"; " + editor() + " timeout 20 sudo -n " + how + " -e " + f +
            " </dev/null; echo \"rc=$?\"\n";
  }
  const auto r = user_script(body);
  EXPECT_EQ(r.out.find("rc=0"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(slurp_file(f), "a\n") << r.out << r.err;
  const auto ok = user_script(editor() + " timeout 20 sudo -n -u \"#0\" -e " + f + "; echo \"rc=$?\"\n");
  EXPECT_NE(ok.out.find("rc=0"), std::string::npos) << ok.out << ok.err;
  EXPECT_EQ(slurp_file(f), "a\nedited\n");
}

// Attacker: the same user.
// Goal:     create a file where no rule lets them (a new name outside the
//   patterns, a new file in a directory others can write), or edit
//   something that is not a regular file: a directory, a FIFO (hang
//   sudo as root), /dev and /proc files.
// Must hold: a new file matching a rule is created root's; everything
//   else is refused promptly; nothing hangs.
TEST_F(RedEdit, NewFilesAndFilesThatAreNotRegular) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  ASSERT_EQ(::mkfifo((root_ / "any/fifo").c_str(), 0600), 0);
  ASSERT_EQ(::mkdir((root_ / "any/dir.conf").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root_ / "conf.d/d.conf").c_str(), 0755), 0);
  auto r = user_script(editor() + " timeout 20 sudo -n -e " + root_ / "conf.d/new.conf" + "; echo \"rc=$?\"\n");
  EXPECT_NE(r.out.find("rc=0"), std::string::npos) << r.out << r.err;
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "conf.d/new.conf").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0U);
  std::string body;
  for (const std::string& f :
       {root_ / "new.conf", root_ / "any/fifo", root_ / "any/dir.conf", root_ / "conf.d/d.conf",
        std::string("/dev/null"), std::string("/proc/self/environ"), std::string("/proc/sys/kernel/hostname")}) {
    body += "echo \"== " + f + "\"; " + editor() + " timeout 15 sudo -n -e " + f + "; echo \"rc=$?\"\n";
  }
  r = user_script(body);
  EXPECT_EQ(r.out.find("rc=0"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.out.find("rc=124"), std::string::npos) << "sudo hung: " << r.out << r.err;
  EXPECT_FALSE(exists(root_ / "new.conf"));
}

// Attacker: the same user.
// Goal:     crash or confuse the plugin or the agent with very many or very
//   long names (frame limits, PATH_MAX, sudoedit_nfiles).
// Must hold: refused cleanly (no crash, exit 1), nothing written.
TEST_F(RedEdit, VeryManyOrVeryLongNames) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const std::string many = "set -- $(seq -f " + root_ / "any/f%g" + " 0 4999)\n" + editor() +
                           " timeout 30 sudo -n -e \"$@\"; echo \"rc=$?\"\n";
  auto r = user_script(many);
  EXPECT_NE(r.out.find("rc=1\n"), std::string::npos) << r.out << r.err.substr(0, 2000);
  const std::string name(250, 'x');
  std::string deep;
  for (int i = 0; i < 20; ++i) deep += "/" + name;
  r = user_script(editor() + " timeout 30 sudo -n -e " + root_ / "any" + deep + "; echo \"rc=$?\"\n" + editor() +
                  " timeout 30 sudo -n -e " + root_ / "any/" + std::string(300, 'y') + "; echo \"rc=$?\"\n");
  EXPECT_EQ(r.out, "rc=1\nrc=1\n") << r.out << r.err.substr(0, 2000);
  EXPECT_FALSE(exists(root_ / "any/f0"));
}

// ---------------------------------------------------------------------------
// argv[0] and links
// ---------------------------------------------------------------------------

class RedArgv0 : public Redteam {
 protected:
  [[nodiscard]] std::string policy_text() const override {
    return R"(version = 1
[settings]
default_action = "deny"

[[rule]]
name = "tool"
action = "allow"
path = ")" +
           bin_ / "tool" + R"("

[[rule]]
name = "our-tools"
action = "allow"
folder = ")" +
           tools_.path() + R"("

[[rule]]
name = "multi-status-by-content"
action = "allow"
sha256 = ")" +
           sha256_of(HOIST_ARGV0_PROBE) + R"("
args = ["status"]

[[rule]]
name = "multi-status"
action = "allow"
path = ")" +
           bin_ / "multi" + R"("
args = ["status"]
)";
  }

  void SetUp() override {
    Redteam::SetUp();
    ASSERT_TRUE(bin_.ok());
    ASSERT_EQ(run({"/usr/bin/install", "-o", "root", "-g", "root", "-m", "0755", HOIST_ARGV0_PROBE, bin_ / "multi"},
                  "/dev/null"),
              0);
    // Root's own link under another name (like /usr/sbin/reboot ->
    // systemctl, /usr/sbin/insmod -> kmod), in the trusted directory.
    ASSERT_EQ(::symlink("multi", (bin_ / "other").c_str()), 0);
    ASSERT_TRUE(tools_.ok());
  }

  RootDir bin_{"/run"};
  RootDir tools_{"/run"};  // "our tools": a folder rule allows all of it
};

// Attacker: a local user allowed `multi status` by a rule that names the
//   program by content (sha256; `package =`, `verified` behave the same:
//   they look at the real file).
// Goal:     run it as root under another personality through a link root
//   made under another name (the case of `sudo /usr/sbin/insmod list`
//   under a rule for `kmod list`, or `reboot` under a rule for
//   `systemctl ...` by package "systemd").
// Must hold: refused, or run under its own name (argv[0] = the real path):
//   a rule for one personality never runs another (argv0_attack_test.cpp's
//   premise). sudoers has no digest-only rule with arguments: a digest is
//   always tied to a path, and the base name must match.
TEST_F(RedArgv0, AContentRuleDoesNotRunAnotherPersonality) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const auto ok = as_user("timeout 20 sudo -n " + bin_ / "multi" + " status");
  EXPECT_EQ(ok.out, "argv0=" + bin_ / "multi" + " euid=0 args=1\n") << ok.err;
  const auto r = as_user("timeout 20 sudo -n " + bin_ / "other" + " status");
  EXPECT_EQ(r.out.find("argv0=" + bin_ / "other"), std::string::npos)
      << "ran as root under another name: " << r.out << r.err;
}

// Attacker: a local user allowed root's link DIR/tool (a rule with
//   `path`), where root's link goes through a link the user controls
//   (DIR/tool -> /tmp/USERDIR/hop -> DIR/multi: say a vendor's
//   /usr/local/bin/tool -> /opt/vendor/current/bin/tool with `current`
//   writable by a deploy account).
// Goal:     point the hop at any other root-owned program (here
//   /usr/bin/id; /bin/bash works the same) and run it as root: since
//   09e30d3 the rule matches the first link's path, and only that link's
//   directory is checked, never the links after it.
// Must hold: refused (before the change the decision was on the real path,
//   /usr/bin/id, which no rule allows). sudoers (same rule, checked in a
//   namespace) runs it too: it matches the path typed and stats it; Hoist's
//   docs promise more ("a link someone other than root could have made is
//   granted by no rule").
TEST_F(RedArgv0, ALinkTheUserControlsInsideRootsLinkIsNotTrusted) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const std::string u = user_dir();
  ASSERT_EQ(::symlink((u + "/hop").c_str(), (bin_ / "tool").c_str()), 0);
  const auto r = user_script("ln -s " + bin_ / "multi" + " " + u + "/hop\ntimeout 20 sudo -n " + bin_ / "tool" +
                             "; echo \"rc=$?\"\nln -sfn /usr/bin/id " + u + "/hop\ntimeout 20 sudo -n " +
                             bin_ / "tool" + " -u; echo \"rc=$?\"\n");
  EXPECT_EQ(r.out.find("\n0\nrc=0"), std::string::npos) << "id ran as root: " << r.out << r.err;
}

// Attacker: a local user; the policy allows a folder of root's tools, and
//   root once linked a developer's build into it (TOOLS/node ->
//   /tmp/USERDIR/node, as with `ln -s ~dev/.nvm/.../bin/node
//   /usr/local/bin/node`). Until now that link was useless: its real file
//   is the user's, untrusted, refused.
// Goal:     point their file's name at /usr/bin/id (any root-owned program
//   with another name: /bin/bash) and run it as root through the folder
//   rule.
// Must hold: refused, as it was before 09e30d3 (the real path, /usr/bin/id,
//   is in no allowed folder).
TEST_F(RedArgv0, AFolderRuleDoesNotAdoptAProgramBehindAUsersLink) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const std::string u = user_dir();
  ASSERT_EQ(::symlink((u + "/node").c_str(), (tools_ / "node").c_str()), 0);
  const auto r = user_script("printf \"#!/bin/sh\\nid -u\\n\" > " + u + "/node; chmod 755 " + u + "/node\n" +
                             "timeout 20 sudo -n " + tools_ / "node" + "; echo \"rc=$?\"\n" + "rm " + u +
                             "/node; ln -s /usr/bin/id " + u + "/node\n" + "timeout 20 sudo -n " + tools_ / "node" +
                             " -u; echo \"rc=$?\"\n");
  EXPECT_EQ(r.out.find("0\nrc=0"), std::string::npos) << "id ran as root: " << r.out << r.err;
}

// Attacker: a local user allowed `multi status` (by path, and by content).
// Goal:     pass another argv[0] through paths that resolve to the allowed
//   file: /proc/self/root/..., /dev/fd/N and /proc/self/fd/N (a descriptor
//   the user opened and sudo inherits), /proc/self/exe.
// Must hold: each is refused, or runs with argv[0] = the real path. Today
//   /dev/fd/3 and /proc/self/fd/3 run as root with argv[0]
//   "/proc/<sudo's pid>/fd/3": the name the user picked counts as a
//   trusted link, since /proc/<pid>/fd of the setuid sudo is root's 0500,
//   and the content rule then grants it (sudoers refuses: the base name
//   "3" is not "multi").
TEST_F(RedArgv0, ProcAndFdPathsGetNoOtherName) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const std::string body = "exec 3<" + bin_ / "multi" + "\n" + "timeout 20 sudo -n /proc/self/root" + bin_ / "multi" +
                           " status\n"
                           "timeout 20 sudo -n /dev/fd/3 status\n"
                           "timeout 20 sudo -n /proc/self/fd/3 status\n"
                           "timeout 20 sudo -n /proc/self/exe status\n"
                           "echo done\n";
  const auto r = user_script(body);
  std::size_t pos = 0;
  while ((pos = r.out.find("argv0=", pos)) != std::string::npos) {
    const auto end = r.out.find(' ', pos);
    EXPECT_EQ(r.out.substr(pos, end - pos), "argv0=" + bin_ / "multi") << r.out << r.err;
    pos = end;
  }
}

// Attacker: a local user allowed `multi status`.
// Goal:     sudo -s with SHELL pointing at a link of theirs or root's under
//   another name, or a script run through its #! interpreter.
// Must hold: refused; nothing runs as root.
TEST_F(RedArgv0, ShellAndInterpreterTricks) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const std::string u = user_dir();
  const auto r = user_script("ln -s " + bin_ / "multi" + " " + u + "/status\n" + "SHELL=" + u +
                             "/status timeout 20 sudo -n -s\n" + "SHELL=" + bin_ / "other" +
                             " timeout 20 sudo -n -s status\n" + "printf \"#!" + bin_ / "multi" + " status\\n\" > " +
                             u + "/s.sh; chmod 755 " + u + "/s.sh\ntimeout 20 sudo -n " + u + "/s.sh\necho done\n");
  EXPECT_EQ(r.out.find("euid=0"), std::string::npos) << r.out << r.err;
}

// Attacker: a local user allowed `multi status`, racing: a link of the same
//   name in their directory flips between DIR/multi and /usr/bin/id.
// Goal:     the plugin judges multi, the program that runs is id.
// Must hold: id never runs as root (execfd runs the inode judged).
TEST_F(RedArgv0, SwappingTheLinkDuringTheCheckRunsNothingElse) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const std::string u = user_dir();
  const auto r = user_script("cd " + u + "\nln -s " + bin_ / "multi" + " A\nln -s /usr/bin/id B\nln -s A multi\n" +
                             "perl -e 'while (1) { symlink(rand() < 0.5 ? \"A\" : \"B\", \"t\"); rename(\"t\", "
                             "\"multi\") }' &\nracer=$!\n"
                             "for i in $(seq 60); do timeout 10 sudo -n " +
                             u + "/multi status 2>/dev/null; done\nkill $racer\n");
  EXPECT_EQ(r.out.find("uid=0("), std::string::npos) << r.out;
}

// Inside a temporary admin session every program the elevated tree starts
// is checked by sudo's intercept (ptrace), and deny rules still hold there.
class RedSessionArgv0 : public Redteam {
 protected:
  [[nodiscard]] std::string policy_text() const override {
    return R"(version = 1
[settings]
default_action = "deny"

[[rule]]
name = "never-the-other-personality"
action = "deny"
path = ")" +
           bin_ / "other" + R"("

[[rule]]
name = "admin-sessions"
action = "request"
session = true
approval = "manual"
max_duration = "1h"
)";
  }

  void SetUp() override {
    Redteam::SetUp();
    use_open_dir("hoist-redteam");
    ASSERT_EQ(::mkdir((hoistd_.dir() + "/elevate").c_str(), 0700), 0);
    ASSERT_TRUE(bin_.ok());
    ASSERT_EQ(run({"/usr/bin/install", "-o", "root", "-g", "root", "-m", "0755", HOIST_ARGV0_PROBE, bin_ / "multi"},
                  "/dev/null"),
              0);
    ASSERT_EQ(::symlink("multi", (bin_ / "other").c_str()), 0);
  }

  // hoist elevate as the user, approved over hoistd's API.
  void elevate() {
    auto asked = std::async(std::launch::async, [&] {
      return sudo_as(user_.name(), conf_,
                     "timeout 60 " + cli_ + " elevate --for 30m --reason \"red team\" --wait 45s --socket " + socket_,
                     hoistd_.dir() + "/elevate");
    });
    std::string id;
    ASSERT_TRUE(eventually(
        [&] {
          const auto r = hoistd_.call("GET", "/api/v1/requests?state=pending", "", admin_);
          for (const auto& q : r.array("/requests")) {
            if (q.at("kind") == "session") id = std::string(q.at("id").as_string());
          }
          return !id.empty();
        },
        seconds(20)));
    const auto approved =
        hoistd_.call_json("POST", "/api/v1/requests/" + id + "/approve", json::object{{"comment", "go"}}, admin_);
    ASSERT_EQ(approved.status, 200) << approved;
    const auto done = asked.get();
    ASSERT_EQ(done.status, 0) << done.out << done.err;
  }

  RootDir bin_{"/run"};
};

// Attacker: a user in a temporary admin session, as in the case below.
// Goal:     run the denied personality through a link of that name they
//   make themselves (/tmp/USERDIR/other -> DIR/multi): inside a session
//   the plugin does not refuse a link under another name in a directory
//   the user can write (intercept_check opens it with require_trusted
//   false), and the deny rule looks only at that link's path and the real
//   file's, neither of which it names.
// Must hold: the personality never runs (at top level the same link is
//   refused: "under another name, in a directory someone other than root
//   can change").
TEST_F(RedSessionArgv0, AUserLinkUnderTheDeniedNameInsideASession) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  elevate();
  const std::string u = user_dir();
  const auto r =
      as_user("ln -s " + bin_ / "multi" + " " + u + "/other && timeout 30 sudo -n /bin/bash -c \"" + u + "/other\"");
  EXPECT_EQ(r.out.find("/other euid=0"), std::string::npos) << "the denied personality ran as root: " << r.out << r.err;
}

// Attacker: a user in a temporary admin session, where a deny rule forbids
//   a multi-call program's personality (DIR/other -> multi; think
//   `path = "/usr/sbin/reboot"` or ".../insmod").
// Goal:     run that personality anyway from inside the session's tree:
//   `exec -a other DIR/multi` (the execve path is multi, argv[0] is
//   "other").
// Must hold: the personality never runs. sudo's ptrace intercept hands
//   the plugin the execve path as argv[0]; intercept_verify=true (which
//   Hoist sets) then kills the process whose real argv[0] differs ("argv[0]
//   mismatch"). Withstood today; guards intercept_verify. (Top level,
//   `sudo DIR/other` is refused by the deny rule; so is a direct exec of
//   DIR/other inside the session.)
TEST_F(RedSessionArgv0, ExecDashAInsideASessionDoesNotDodgeADenyRule) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  elevate();
  const auto direct = as_user("timeout 30 sudo -n /bin/bash -c \"" + bin_ / "other" + "; echo rc=\\$?\"");
  EXPECT_EQ(direct.out.find("argv0="), std::string::npos) << direct.out << direct.err;
  const auto r = as_user("timeout 30 sudo -n /bin/bash -c \"exec -a other " + bin_ / "multi" + "\"");
  EXPECT_EQ(r.out.find("argv0=other euid=0"), std::string::npos)
      << "the denied personality ran as root: " << r.out << r.err;
  if (std::getenv("HOIST_REDTEAM_VERBOSE") != nullptr) std::cerr << direct.out << direct.err << r.out << r.err;
}

// ---------------------------------------------------------------------------
// runas
// ---------------------------------------------------------------------------

class RedRunas : public Redteam {
 protected:
  [[nodiscard]] std::string policy_text() const override {
    return R"(version = 1
[settings]
default_action = "deny"

[[rule]]
name = "id"
action = "allow"
path = "/usr/bin/id"

[[rule]]
name = "whoami-as-nobody"
action = "allow"
path = "/usr/bin/whoami"
runas = ["nobody"]

[[rule]]
name = "never-as-root"
action = "deny"
path = "/usr/bin/env"
runas = ["root"]

[[rule]]
name = "env-anyone"
action = "allow"
path = "/usr/bin/env"
runas = ["*"]
)";
  }
};

// Attacker: a local user allowed `id` (as root only).
// Goal:     reach another target through the spellings of a user:
//   "#uid" forms (leading zeros, -1, 2^32-1, 2^32, a uid without a passwd
//   entry), other case, blanks, a bare number.
// Must hold: only root is ever the target; the rest is refused.
TEST_F(RedRunas, SpellingsOfATargetUser) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  std::string body;
  for (const std::string t : {"\"#0\"", "\"#00\"", "\"#-1\"", "\"#4294967295\"", "\"#4294967296\"", "\"#65534\"",
                              "\"#54321\"", "ROOT", "\" root\"", "\"root \"", "0", "Nobody", "\"#1\""}) {
    body += "echo \"== " + t + "\"; timeout 20 sudo -n -u " + t + " /usr/bin/id -u; echo \"rc=$?\"\n";
  }
  const auto r = user_script(body);
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("==", 0) == 0 || line.rfind("rc=", 0) == 0) continue;
    EXPECT_EQ(line, "0") << r.out << r.err;
  }
}

// Attacker: a local user allowed `whoami` as nobody (no runas_groups).
// Goal:     add a group: -g root / "#0" / shadow, -g naming the target's
//   primary group through a number, -g alone with a group they are not in.
// Must hold: only nobody's own primary group (by name or number) is
//   accepted; -g alone with another group is refused.
TEST_F(RedRunas, GroupsWithATargetUser) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const gid_t nogroup = ::getpwnam("nobody")->pw_gid;
  auto r = user_script("timeout 20 sudo -n -u nobody -g \"#" + std::to_string(nogroup) +
                       "\" /usr/bin/whoami; echo \"rc=$?\"\n");
  EXPECT_EQ(r.out, "nobody\nrc=0\n") << r.err;
  std::string body;
  for (const std::string how : {"-u nobody -g root", "-u nobody -g \"#0\"", "-u nobody -g shadow", "-g shadow",
                                "-g root", "-u root", "-u \"#0\" -g \"#0\""}) {
    body += "echo \"== " + how + "\"; timeout 20 sudo -n " + how + " /usr/bin/whoami; echo \"rc=$?\"\n";
  }
  r = user_script(body);
  EXPECT_EQ(r.out.find("rc=0"), std::string::npos) << r.out << r.err;
}

// Attacker: a local user; a deny rule holds for root only
//   (runas = ["root"]) next to an allow for anyone.
// Goal:     reach root while the deny looks at another name: "#0", -g with
//   -u root, -g alone (runs as the user), -i/-s.
// Must hold: env never runs with euid 0.
TEST_F(RedRunas, ADenyForRootHoldsForEverySpellingOfRoot) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  std::string body;
  for (const std::string how : {"", "-u root", "-u \"#0\"", "-u \"#00\"", "-u root -g root", "-g root", "-g adm"}) {
    body += "timeout 20 sudo -n " + how + " /usr/bin/env /usr/bin/id -u; echo \"rc=$?\"\n";
  }
  const auto r = user_script(body);
  EXPECT_EQ(r.out.find("\n0\n"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.rfind("0\n", 0), 0U) << r.out << r.err;
}

// Attacker: a local user.
// Goal:     see what someone else may run (sudo -l -U), or list as another
//   target.
// Must hold: -U of another user is refused for anyone but root.
TEST_F(RedRunas, ListingAnotherUsersRulesIsRefused) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const auto r = user_script(
      "timeout 20 sudo -n -l -U root; echo \"rc=$?\"\n"
      "timeout 20 sudo -n -l -U nobody /usr/bin/id; echo \"rc=$?\"\n");
  EXPECT_EQ(r.out.find("rc=0"), std::string::npos) << r.out << r.err;
}

// ---------------------------------------------------------------------------
// Display
// ---------------------------------------------------------------------------

// Attacker: a local user whose argv, file names and justification are
//   shown to an approver (hoist CLI, CSV export) and in the audit trail.
// Goal:     hide part of the text from the approver: characters that render
//   as nothing or as a blank (tag characters U+E0000..U+E007F, variation
//   selectors, U+034F, U+180E, U+115F/U+1160/U+3164/U+FFA0 Hangul fillers,
//   U+2028/U+2029 separators, U+FFF9..U+FFFB
//   annotations).
// Must hold: core/display_text escapes them as it does the bidi controls
//   (display_text.h: "nothing shown can ... make text read in another order
//   than it is stored ... zero-width characters ... are shown escaped").
TEST(RedDisplay, InvisibleCharactersAreShownEscaped) {
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"U+E0041 tag A", "\xF3\xA0\x81\x81"},
      {"U+E0001 language tag", "\xF3\xA0\x80\x81"},
      {"U+FE0F variation selector", "\xEF\xB8\x8F"},
      {"U+034F grapheme joiner", "\xCD\x8F"},
      {"U+180E Mongolian vowel separator", "\xE1\xA0\x8E"},
      {"U+115F Hangul choseong filler", "\xE1\x85\x9F"},
      {"U+1160 Hangul jungseong filler", "\xE1\x85\xA0"},
      {"U+3164 Hangul filler", "\xE3\x85\xA4"},
      {"U+FFA0 halfwidth Hangul filler", "\xEF\xBE\xA0"},
      {"U+2028 line separator", "\xE2\x80\xA8"},
      {"U+2029 paragraph separator", "\xE2\x80\xA9"},
      {"U+FFF9 annotation anchor", "\xEF\xBF\xB9"},
  };
  for (const auto& [what, ch] : cases) {
    const std::string text = "rm" + ch + "-rf";
    EXPECT_EQ(visible_text(text).find(ch), std::string::npos) << what << " passes through to the approver's terminal";
    EXPECT_EQ(endpoint::safe_for_terminal(text).find(ch), std::string::npos)
        << what << " passes through to sudo's user";
  }
}

// Attacker: a local user whose file names come back in Hoist's messages.
// Goal:     a deny reason that rewrites the terminal (ESC, C1 CSI, bidi
//   override) through a file name.
// Must hold: Hoist's messages carry no raw ESC, CSI (U+009B) or RLO.
TEST_F(RedEdit, FileNamesInMessagesAreEscaped) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const auto r = user_script(editor() + " timeout 20 sudo -n -e \"" + root_.path() +
                             "/$(printf \"\\033]0;pwned\\007\\302\\233\\342\\200\\256x\")\"; echo \"rc=$?\"\n");
  EXPECT_NE(r.out.find("rc=1"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("\xC2\x9B"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("\xE2\x80\xAE"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hoist::testing
