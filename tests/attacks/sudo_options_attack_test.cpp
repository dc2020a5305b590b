// The unprivileged local user against the real sudo 1.9.13 loading
// hoist_sudo.so (tests/attacks/README.md): every sudo option and the
// combinations that mean something, the environment variables sudo and
// Hoist read, argv[0] tricks, symlinks and hard links into and out of
// trusted directories, a user-writable directory in PATH, sudoedit, and a
// race on the executable.
//
// Attacker (every case): a local user with no grant, under a policy that
// allows only harmless programs: /usr/bin/id, `systemctl status cron`, the
// probe (probe.cpp: it prints who it runs as, its argv, descriptors and
// environment) and a bash script that prints its euid; a trusted link with
// another name to the probe, named by its own rule; /usr/bin/whoami needs
// approval; /usr/bin/shred is denied. A few rules are an administrator's
// mistakes the attacker tries to use (a rule for a file in the attacker's
// own directory, a trusted link pointing into it).
//
// The attacker's payload is their own script (and shared library) in their
// own directory: it says "PAYLOAD-RAN euid=N" and, as root, creates a file
// in a root-only directory. Whatever a case expects, every case must hold:
//   - the payload never runs as root (not in the output, no marker file);
//   - a command that ran got the environment Hoist promises: PATH is the
//     secure path; HOME, USER, LOGNAME of the target; SUDO_USER/SUDO_UID of
//     the attacker; none of the loader and interpreter variables (LD_*,
//     BASH_ENV, SHELLOPTS, PS4, BASH_FUNC_*, ...), none of the variables
//     only sudo and Hoist read (SUDO_EDITOR, SUDO_ASKPASS, HOIST_REASON, ...);
//     no TERM/LANG/LC_* value with '/' or '%';
//   - no descriptor of the attacker's reaches the command.
//
// Each table row is a case: its goal and what must hold are fields (printed
// when it fails), run in one batch (one namespace, one `su`) to keep the
// suite fast. Cases needing their own set-up are TEST_Fs with the comment
// block.
#include <sys/inotify.h>

#include <cstdlib>
#include <functional>
#include <set>

#include "attacks/attack_support.h"
#include "plugin/sudo_args.h"

namespace hoist::testing::attacks {
namespace {

enum class Expect {
  kRefused,  // exit status not 0, nothing on stdout (refusals go to stderr)
  kRuns,     // exit status 0
  kEither,   // either, as long as every invariant holds (and `check`, when it ran)
};

struct AttackCase {
  AttackCase(std::string name_, std::string goal_, std::string must_hold_, std::string command_, Expect expect_,
             std::function<void(const StepResult&)> check_ = {})
      : name(std::move(name_)),
        goal(std::move(goal_)),
        must_hold(std::move(must_hold_)),
        command(std::move(command_)),
        expect(expect_),
        check(std::move(check_)) {}
  std::string name;
  std::string goal;
  std::string must_hold;
  std::string command;  // run by the attacker; {sudo}, {d}, {w}, ... are expanded
  Expect expect = Expect::kRefused;
  // Extra checks of the outcome (called whatever the exit status).
  std::function<void(const StepResult&)> check;
};

// The attacker's script: says it ran, and as root leaves a mark only root
// can leave.
constexpr std::string_view kPayload = R"sh(#!/bin/sh
echo "PAYLOAD-RAN euid=$(id -u) via=script"
echo "PAYLOAD-RAN euid=$(id -u) via=script" >&2
touch {m}/pwned-$(id -u) 2>/dev/null
exit 0
)sh";

// A root-owned bash script the policy allows: bash reads BASH_ENV,
// SHELLOPTS, PS4 and BASH_FUNC_* from its environment, and it calls `id`.
constexpr std::string_view kBashHelper = R"sh(#!/bin/bash
echo "helper-ran euid=$(id -u)"
)sh";

// The editor the sudoedit cases use (root-owned, so that any Hoist would
// accept it): its first argument is a tag; it prints every file it is
// given, appends "edited TAG by UID" to it and says as whom it ran.
constexpr std::string_view kEditor = R"sh(#!/bin/sh
tag=$1
shift
echo "editor-ran euid=$(id -u) tag=$tag"
for f in "$@"; do
  if [ -f "$f" ]; then cat "$f"; echo "edited $tag by $(id -u)" >> "$f"; fi
done
exit 0
)sh";

// Variables that must never reach an elevated command.
bool forbidden_variable(const std::string& name) {
  static const std::set<std::string> kNames = {"BASH_ENV",
                                               "ENV",
                                               "SHELLOPTS",
                                               "BASHOPTS",
                                               "PS4",
                                               "IFS",
                                               "CDPATH",
                                               "GCONV_PATH",
                                               "LOCPATH",
                                               "NLSPATH",
                                               "PYTHONPATH",
                                               "PYTHONHOME",
                                               "PERL5LIB",
                                               "PERL5OPT",
                                               "RUBYOPT",
                                               "NODE_OPTIONS",
                                               "GLIBC_TUNABLES",
                                               "SUDO_EDITOR",
                                               "VISUAL",
                                               "EDITOR",
                                               "SUDO_ASKPASS",
                                               "SUDO_PROMPT",
                                               "HOIST_REASON",
                                               "FOO",
                                               "TMPDIR",
                                               "HOSTALIASES",
                                               "RESOLV_HOST_CONF"};
  return kNames.count(name) != 0 || name.rfind("LD_", 0) == 0 || name.rfind("BASH_FUNC_", 0) == 0 ||
         name.rfind("MALLOC_", 0) == 0;
}

std::string home_of(long uid) {
  const passwd* pw = ::getpwuid(static_cast<uid_t>(uid));
  return pw != nullptr && pw->pw_dir != nullptr ? pw->pw_dir : "?";
}

std::string name_of(long uid) {
  const passwd* pw = ::getpwuid(static_cast<uid_t>(uid));
  return pw != nullptr ? pw->pw_name : "?";
}

// stdout without the lines the attacker's library prints when it is loaded
// into the attacker's own processes (timeout, env): they are not elevated.
std::string without_own_payload_lines(const std::string& out) {
  std::string kept;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PAYLOAD-RAN euid=", 0) == 0 && line.rfind("PAYLOAD-RAN euid=0 ", 0) != 0) continue;
    kept += line + "\n";
  }
  return kept;
}

// Watches a directory for new entries whose name starts with a prefix:
// sudoedit's copies of a file are /var/tmp/<name>.XXXXXXXX, made for the
// invoking user.
class CopyWatch {
 public:
  CopyWatch(const std::string& dir, std::string prefix) : prefix_(std::move(prefix)) {
    fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ >= 0) ok_ = ::inotify_add_watch(fd_, dir.c_str(), IN_CREATE | IN_MOVED_TO) >= 0;
  }
  ~CopyWatch() {
    if (fd_ >= 0) ::close(fd_);
  }
  CopyWatch(const CopyWatch&) = delete;
  CopyWatch& operator=(const CopyWatch&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }
  // The names seen since the last call.
  std::vector<std::string> seen() {
    std::vector<std::string> names;
    alignas(inotify_event) char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      for (ssize_t at = 0; at < n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buf + at);  // NOLINT
        const std::string name = e->len > 0 ? std::string(e->name) : std::string();
        if (name.rfind(prefix_, 0) == 0) names.push_back(name);
        at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      }
    }
    return names;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
  std::string prefix_;
};

// ---------------------------------------------------------------------------
// The fixture: the attacker, their directory, a trusted directory with the
// probe and the files the rules name, a root-only marker directory; the
// policy; hoistd and an enrolled hoist-agent; a sudo.conf loading
// hoist_sudo.so.

class SudoAttack : public AgentE2E {
 protected:
  [[nodiscard]] virtual std::string policy_template() const {
    return R"(version = 1

[settings]
default_action = "deny"
contact = "Call the help desk on 4711"

[[rule]]
name = "identity"
action = "allow"
path = "/usr/bin/id"

[[rule]]
name = "probe"
action = "allow"
path = "{d}/probe"

[[rule]]
name = "probe-by-another-name"
action = "allow"
path = "{d}/alias2"

[[rule]]
name = "bash-helper"
action = "allow"
path = "{d}/helper.bash"

[[rule]]
name = "cron-status"
action = "allow"
path = "/usr/bin/systemctl"
args = ["status", "cron"]

# An administrator's mistakes the attacker tries to use:
[[rule]]
name = "link-out-of-a-trusted-directory"
action = "allow"
path = "{d}/out-link"

[[rule]]
name = "tool-in-a-users-directory"
action = "allow"
path = "{w}/tool"

[[rule]]
name = "shred-by-another-name"
action = "allow"
path = "{d}/shred-alias"

[[rule]]
name = "no-shred"
action = "deny"
path = "/usr/bin/shred"

[[rule]]
name = "whoami"
action = "request"
path = "/usr/bin/whoami"
approval = "manual"
)";
  }
  [[nodiscard]] std::string policy_text() const override { return expand(policy_template(), vars_); }

  void SetUp() override {
    if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
    attacker_.emplace("-a");
    ASSERT_TRUE(attacker_->ok()) << "cannot create the attacker's account";
    trusted_.emplace("/run", "-trusted", 0, 0, 0755);
    mine_.emplace("/tmp", "-attacker", attacker_->uid(), attacker_->gid(), 0755);
    marks_.emplace("/run", "-marks", 0, 0, 0755);
    ASSERT_TRUE(trusted_->ok() && mine_->ok() && marks_->ok()) << "cannot make the test directories";
    const TestDir& d = *trusted_;
    const TestDir& w = *mine_;
    secret_name_ = unique_name("-secret");
    vars_ = {{"d", d.path()},
             {"w", w.path()},
             {"m", marks_->path()},
             {"user", attacker_->name()},
             {"secret", d / secret_name_},
             {"sudo", "/usr/bin/timeout 10 /usr/bin/sudo"},
             // On a terminal: timeout must leave sudo in the foreground
             // process group, or reading the password stops it (SIGTTIN).
             {"tty-sudo", "/usr/bin/timeout --foreground 10 /usr/bin/sudo"},
             {"timeout", "/usr/bin/timeout 10"}};

    // The trusted directory: the probe, links to it (another name, not in a
    // rule; another name, in a rule; a hard link; the same name one level
    // down), the bash helper, links out of it, a root-only secret, the
    // editor and a file the edit rules name.
    ASSERT_TRUE(install_probe(d));
    ASSERT_TRUE(d.symlink(d / "probe", "alias"));
    ASSERT_TRUE(d.symlink(d / "probe", "alias2"));
    ASSERT_TRUE(d.hardlink("probe", "hard"));
    ASSERT_TRUE(d.mkdir("sub"));
    ASSERT_TRUE(d.symlink("../probe", "sub/probe"));
    ASSERT_TRUE(d.put("helper.bash", std::string(kBashHelper), 0755));
    ASSERT_TRUE(d.symlink(w / "payload", "out-link"));
    ASSERT_TRUE(d.symlink("/usr/bin/shred", "shred-alias"));
    ASSERT_TRUE(d.put(secret_name_, "hoist-secret-" + std::to_string(::getpid()) + "\n", 0600));
    ASSERT_TRUE(d.symlink(d / secret_name_, "notes-link"));
    ASSERT_TRUE(d.put("notes", "notes of " + std::to_string(::getpid()) + "\n", 0644));
    ASSERT_TRUE(d.put("editor.sh", std::string(kEditor), 0755));
    ASSERT_TRUE(d.mkdir("conf.d"));
    ASSERT_TRUE(d.symlink(d / secret_name_, "conf.d/evil.conf"));
    ASSERT_TRUE(d.mkdir("other"));
    ASSERT_TRUE(d.put("other/notes", "other-secret-" + std::to_string(::getpid()) + "\n", 0600));

    // The attacker's directory: the payload and the shared library (theirs),
    // and a root-owned copy of id an administrator put there.
    const uid_t a = attacker_->uid();
    const gid_t g = attacker_->gid();
    ASSERT_TRUE(w.put("payload", expand(std::string(kPayload), vars_), 0755, a, g));
    ASSERT_TRUE(w.copy(HOIST_ATTACK_PRELOAD, "evil.so", 0755, a, g));
    ASSERT_TRUE(w.copy("/usr/bin/id", "tool", 0755));
    // A root-owned directory inside the attacker's, with a root-made link
    // under another name: the attacker can rename the directory away.
    ASSERT_TRUE(w.mkdir("rootdir"));
    ASSERT_TRUE(w.symlink(d / "probe", "rootdir/other"));

    AgentE2E::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_EQ(enroll(), 0) << slurp(log_);
    start_agent();
    if (HasFatalFailure()) return;
    conf_ = write_sudo_conf();
  }

  // Runs `commands` as the attacker in one private mount namespace with
  // hoist_sudo.so in sudo.conf. `clean` (a shell function) runs its
  // arguments with a small fixed environment, as a login would give.
  std::vector<StepResult> batch(const std::vector<std::string>& commands, int timeout_s = 240) {
    const std::string prelude = expand(
        "clean() { /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME={w} USER={user} LOGNAME={user} "
        "SHELL=/bin/sh TERM=xterm LANG=C.UTF-8 \"$@\"; }\ncd /",
        vars_);
    std::vector<std::pair<std::string, std::string>> steps;
    for (std::size_t i = 0; i < commands.size(); ++i) {
      steps.emplace_back(std::to_string(i), expand(commands[i], vars_));
    }
    EXPECT_TRUE(trusted_->put("batch.sh", batch_script(prelude, steps), 0644));
    const std::string driver = hoistd_.dir() + "/driver.sh";
    {
      std::ofstream out(driver, std::ios::trunc);
      out << "mount --bind " << conf_ << " /etc/sudo.conf || exit 97\n"
          << "su " << attacker_->name() << " -c " << shell_quote("/bin/sh " + (*trusted_ / "batch.sh")) << "\n";
    }
    const SudoRun r = run_in_namespace(driver, hoistd_.dir(), timeout_s);
    EXPECT_NE(r.status, 97) << "could not bind sudo.conf: " << r.err;
    EXPECT_NE(r.status, 124) << "the batch timed out";
    std::vector<StepResult> out;
    for (std::size_t i = 0; i < commands.size(); ++i) out.push_back(step_result(r, std::to_string(i)));
    if (commands.empty() || !out.back().found) {
      ADD_FAILURE() << "the batch did not finish:\n--- stdout ---\n" << r.out << "--- stderr ---\n" << r.err;
    }
    return out;
  }

  // What every step must hold, whatever the case expects.
  void check_invariants(const StepResult& r) {
    EXPECT_TRUE(r.found) << "the batch never reached this case";
    EXPECT_NE(r.status, 124) << "sudo hung (killed by timeout)";
    EXPECT_EQ(r.out.find("PAYLOAD-RAN euid=0 "), std::string::npos) << "THE PAYLOAD RAN AS ROOT";
    EXPECT_EQ(r.err.find("PAYLOAD-RAN euid=0 "), std::string::npos) << "THE PAYLOAD RAN AS ROOT";
    for (const auto& p : probe_reports(r.out)) {
      EXPECT_EQ(p.env_or("PATH"), std::string(plugin::kDefaultSecurePath)) << "PATH is not the secure path";
      EXPECT_EQ(p.env_or("HOME"), home_of(p.uid)) << "HOME is not the target's";
      EXPECT_EQ(p.env_or("USER"), name_of(p.uid)) << "USER is not the target's";
      EXPECT_EQ(p.env_or("LOGNAME"), name_of(p.uid)) << "LOGNAME is not the target's";
      EXPECT_EQ(p.env_or("SUDO_USER"), attacker_->name());
      EXPECT_EQ(p.env_or("SUDO_UID"), std::to_string(attacker_->uid()));
      for (const auto& [name, value] : p.env) {
        EXPECT_FALSE(forbidden_variable(name)) << name << "=" << value << " reached the command";
        EXPECT_EQ(value.find(mine_->path()), std::string::npos)
            << name << "=" << value << " names the attacker's directory";
        if (name == "TERM" || name == "LANG" || name.rfind("LC_", 0) == 0) {
          EXPECT_EQ(value.find_first_of("/%"), std::string::npos) << name << "=" << value;
        }
        EXPECT_EQ(value.find("()"), std::string::npos) << name << "=" << value;
      }
      for (const auto& fd : p.fds) {
        EXPECT_EQ(fd.find(mine_->path()), std::string::npos) << "the attacker's descriptor " << fd << " reached it";
      }
    }
  }

  // Runs the cases in one batch; `every` is checked for each of them too.
  void run_cases(const std::vector<AttackCase>& cases, const std::function<void(const StepResult&)>& every = {}) {
    std::vector<std::string> commands;
    for (const auto& c : cases) commands.push_back(c.command);
    const auto results = batch(commands);
    for (std::size_t i = 0; i < cases.size() && i < results.size(); ++i) {
      const auto& c = cases[i];
      const auto& r = results[i];
      SCOPED_TRACE("case \"" + c.name + "\"\n  goal:      " + c.goal + "\n  must hold: " + c.must_hold +
                   "\n  command:   " + expand(c.command, vars_) + "\n  outcome:   " + ::testing::PrintToString(r));
      if (std::getenv("HOIST_ATTACK_VERBOSE") != nullptr) {
        std::cerr << "=== " << c.name << ": " << expand(c.command, vars_) << "\n" << r << "\n";
      }
      check_invariants(r);
      switch (c.expect) {
        case Expect::kRefused:
          EXPECT_NE(r.status, 0) << "it was not refused";
          EXPECT_EQ(without_own_payload_lines(r.out), "") << "it was not refused";
          break;
        case Expect::kRuns: EXPECT_EQ(r.status, 0) << "it did not run"; break;
        case Expect::kEither: break;
      }
      if (c.check) c.check(r);
      if (every) every(r);
    }
    EXPECT_TRUE(fs::is_empty(marks_->path())) << "THE PAYLOAD LEFT ITS MARK AS ROOT in " << marks_->path();
  }

  // Checks for the probe's report in a step that ran.
  static ProbeReport single_report(const StepResult& r) {
    auto reports = probe_reports(r.out);
    EXPECT_EQ(reports.size(), 1U) << "the probe did not report once";
    return reports.empty() ? ProbeReport{} : reports.front();
  }

  std::optional<LocalUser> attacker_;
  std::optional<TestDir> trusted_, mine_, marks_;
  std::string secret_name_;
  std::map<std::string, std::string> vars_;
  std::string conf_;
};

// Checks used by several cases.
auto prints(std::string text) {
  return [text = std::move(text)](const StepResult& r) {
    if (r.status == 0) {
      EXPECT_EQ(r.out, text);
    }
  };
}
auto prints_nothing() {
  return [](const StepResult& r) { EXPECT_EQ(without_own_payload_lines(r.out), ""); };
}
auto no_gid_0() {
  return [](const StepResult& r) { EXPECT_EQ(r.out.find("gid=0("), std::string::npos) << "ran with group root"; };
}

// ---------------------------------------------------------------------------
// Every sudo option, and the combinations that mean something.

TEST_F(SudoAttack, EverySudoOptionAndVariable) {
  const std::string d = vars_["d"];
  const std::string w = vars_["w"];
  const std::string user = attacker_->name();
  // The probe ran as root with exactly this argv.
  auto probe_as_root = [](std::vector<std::string> argv) {
    return [argv = std::move(argv)](const StepResult& r) {
      if (r.status != 0) return;
      const auto p = single_report(r);
      EXPECT_EQ(p.euid, 0);
      EXPECT_EQ(p.argv, argv);
    };
  };
  // If the probe ran, argv[0] is never a path the attacker controls.
  auto argv0_not_attackers = [w](const StepResult& r) {
    for (const auto& p : probe_reports(r.out)) {
      ASSERT_FALSE(p.argv.empty());
      EXPECT_EQ(p.argv[0].find(w), std::string::npos) << "argv[0] is the attacker's path " << p.argv[0];
    }
  };

  // systemctl run as runlevel with arguments says so (and nothing else does).
  auto ran_as_runlevel = [](const StepResult& r) {
    EXPECT_EQ(r.err.find("Too many arguments"), std::string::npos) << "systemctl ran as root as runlevel";
  };
  CopyWatch copies("/var/tmp", secret_name_ + ".");
  ASSERT_TRUE(copies.ok()) << "cannot watch /var/tmp";
  auto secret_not_copied = [copy = "/var/tmp/" + secret_name_ + "."](const StepResult& r) {
    EXPECT_EQ(r.out.find(copy), std::string::npos) << "SUDOEDIT COPIED THE SECRET FOR THE ATTACKER";
    EXPECT_EQ(r.err.find(copy), std::string::npos) << "SUDOEDIT COPIED THE SECRET FOR THE ATTACKER";
  };

  const std::vector<AttackCase> cases = {
      // --- The set-up is what the cases assume.
      {"plugin-loaded", "(none: the fixture's own check)", "sudo answers through hoist_sudo.so", "{sudo} -V",
       Expect::kRuns,
       [](const StepResult& r) { EXPECT_NE(r.out.find("Hoist policy plugin version"), std::string::npos); }},
      {"allowed-id", "(none: a positive control)", "an allowed program runs as root", "clean {sudo} -n /usr/bin/id -u",
       Expect::kRuns, prints("0\n")},
      {"allowed-probe", "(none: a positive control)", "the probe runs as root with its arguments as given",
       "clean {sudo} -n {d}/probe a 'b c' ''", Expect::kRuns, probe_as_root({d + "/probe", "a", "b c", ""})},
      {"allowed-args-listed", "(none: a positive control)", "sudo -l CMD says systemctl status cron is allowed",
       "clean {sudo} -n -l /usr/bin/systemctl status cron", Expect::kRuns},

      // --- -u: the target user.
      {"u-unnamed-user", "run an allowed program as another account (nobody) that no rule names",
       "refused: a rule's target users default to root only", "clean {sudo} -n -u nobody /usr/bin/id -u",
       Expect::kRefused},
      {"u-minus-one", "become root through uid -1 (CVE-2019-14287)", "refused; nothing runs as uid 0",
       "clean {sudo} -n -u '#-1' /usr/bin/id -u", Expect::kRefused},
      {"u-uid-max", "become root through uid 4294967295 (CVE-2019-14287)", "refused; nothing runs as uid 0",
       "clean {sudo} -n -u '#4294967295' /usr/bin/id -u", Expect::kRefused},
      {"u-uppercase-root", "pass a target name that differs from root only in case", "refused (no such user)",
       "clean {sudo} -n -u ROOT /usr/bin/id -u", Expect::kRefused},
      {"u-root-by-number", "(none: #0 is root)", "if it runs, it runs as root and nothing else",
       "clean {sudo} -n -u '#0' /usr/bin/id -u", Expect::kEither, prints("0\n")},
      {"u-nobody-listed", "learn (sudo -l) that the rule lets them run id as nobody", "refused",
       "clean {sudo} -n -l -u nobody /usr/bin/id", Expect::kRefused},
      {"u-nobody-with-k", "combine -k with another target", "refused", "clean {sudo} -n -k -u nobody /usr/bin/id -u",
       Expect::kRefused},

      // --- -g: the target group.
      {"g-root", "run an allowed program with group root (gid 0) though no rule names a group",
       "refused; nothing runs with gid 0", "clean {sudo} -n -g root /usr/bin/id", Expect::kRefused, no_gid_0()},
      {"g-root-by-number", "the same with -g '#0'", "refused; nothing runs with gid 0",
       "clean {sudo} -n -g '#0' /usr/bin/id", Expect::kRefused, no_gid_0()},
      {"g-shadow", "read /etc/shadow through group shadow", "refused", "clean {sudo} -n -g shadow /usr/bin/id",
       Expect::kRefused},
      {"u-root-g-shadow", "root with group shadow", "refused", "clean {sudo} -n -u root -g shadow /usr/bin/id",
       Expect::kRefused},
      {"g-with-i", "a login shell with group root", "refused", "clean {sudo} -n -i -g root", Expect::kRefused},

      // --- -i and -s: shells.
      {"i-login-shell", "a root login shell", "refused (root's shell is not allowed)", "clean {sudo} -n -i",
       Expect::kRefused},
      {"i-with-payload", "run the payload through root's login shell", "refused", "clean {sudo} -n -i {w}/payload",
       Expect::kRefused},
      {"i-ignores-shell-variable", "make -i run the shell named by $SHELL (an allowed program)",
       "refused: -i runs the target's passwd shell, never $SHELL", "clean SHELL={d}/probe {sudo} -n -i",
       Expect::kRefused},
      {"i-as-nobody", "a login shell as another account", "refused", "clean {sudo} -n -i -u nobody", Expect::kRefused},
      {"s-bash", "a root shell with -s", "refused", "clean SHELL=/bin/bash {sudo} -n -s", Expect::kRefused},
      {"s-payload-as-shell", "run the payload as root by naming it in $SHELL", "refused",
       "clean SHELL={w}/payload {sudo} -n -s", Expect::kRefused},
      {"implied-shell-payload", "sudo with no command runs $SHELL: make it the payload", "refused",
       "clean SHELL={w}/payload {sudo} -n", Expect::kRefused},
      {"s-allowed-program-as-shell", "use an allowed program as $SHELL to run -c PAYLOAD",
       "the payload never runs as root (the -c string is an argument, not shell code)",
       "clean SHELL=/usr/bin/id {sudo} -n -s {w}/payload", Expect::kEither},
      {"s-probe-as-shell", "the same with the probe: see what the 'shell' receives",
       "if it runs, argv is [shell, -c, the command line] and nothing interprets it",
       "clean SHELL={d}/probe {sudo} -n -s '{w}/payload;' id", Expect::kEither,
       [d](const StepResult& r) {
         for (const auto& p : probe_reports(r.out)) {
           ASSERT_EQ(p.argv.size(), 3U);
           EXPECT_EQ(p.argv[0], d + "/probe");
           EXPECT_EQ(p.argv[1], "-c");
         }
       }},
      {"env-for-s-shell", "ENV names the payload for a POSIX shell started with -s", "refused",
       "clean ENV={w}/payload SHELL=/bin/sh {sudo} -n -s", Expect::kRefused},

      // --- -E, --preserve-env, VAR=value.
      {"E-whole-environment", "keep LD_LIBRARY_PATH and the rest with -E", "refused",
       "clean FOO=1 LD_LIBRARY_PATH={w} {sudo} -n -E {d}/probe", Expect::kRefused},
      {"E-with-preload", "keep LD_PRELOAD=payload library with -E", "refused; the library never loads as root",
       "clean LD_PRELOAD={w}/evil.so {sudo} -n -E {d}/probe", Expect::kRefused},
      {"preserve-env-list", "keep LD_PRELOAD and PATH by name", "refused",
       "clean LD_PRELOAD={w}/evil.so PATH={w}:/usr/bin:/bin {sudo} -n --preserve-env=LD_PRELOAD,PATH {d}/probe",
       Expect::kRefused},
      {"E-with-i", "-E with a login shell", "refused (sudo refuses the combination)", "clean {sudo} -n -E -i",
       Expect::kRefused},
      {"var-ld-preload", "LD_PRELOAD=payload library on the command line", "refused",
       "clean {sudo} -n LD_PRELOAD={w}/evil.so {d}/probe", Expect::kRefused},
      {"var-ld-library-path", "LD_LIBRARY_PATH on the command line", "refused",
       "clean {sudo} -n LD_LIBRARY_PATH={w} /usr/bin/id -u", Expect::kRefused},
      {"var-bash-env", "BASH_ENV=payload for an allowed bash script", "refused",
       "clean {sudo} -n BASH_ENV={w}/payload {d}/helper.bash", Expect::kRefused},
      {"var-bash-function", "export a bash function `id` that runs the payload", "refused",
       "clean {sudo} -n 'BASH_FUNC_id%%=() { {w}/payload; }' {d}/helper.bash", Expect::kRefused},
      {"var-shellopts-ps4", "SHELLOPTS=xtrace with PS4='$(payload)'", "refused",
       "clean {sudo} -n SHELLOPTS=xtrace 'PS4=$({w}/payload)' {d}/helper.bash", Expect::kRefused},
      {"var-gconv-path", "GCONV_PATH into the attacker's directory", "refused",
       "clean {sudo} -n GCONV_PATH={w} {d}/probe", Expect::kRefused},
      {"var-path", "PATH={w} for the command", "refused, or PATH is the secure path",
       "clean {sudo} -n PATH={w} {d}/helper.bash", Expect::kEither},
      {"var-home", "HOME={w} so a root program reads the attacker's dotfiles", "refused, or HOME is root's",
       "clean {sudo} -n HOME={w} {d}/probe", Expect::kEither},
      {"var-sudo-user", "forge SUDO_USER/SUDO_UID (programs trust them)", "refused, or they name the attacker",
       "clean {sudo} -n SUDO_USER=root SUDO_UID=0 {d}/probe", Expect::kEither},
      {"var-term-path", "TERM with a path (terminfo from the attacker's directory)", "refused, or TERM has no '/'",
       "clean {sudo} -n TERM=../../..{w}/x {d}/probe", Expect::kEither},
      {"var-lang-format", "LANG with format directives", "refused, or LANG has no '%'",
       "clean {sudo} -n 'LANG=%n%n%s' {d}/probe", Expect::kEither},
      {"var-tz-path", "TZ naming a file of the attacker's", "refused, or TZ does not name it",
       "clean {sudo} -n TZ={w}/tz {d}/probe", Expect::kEither},
      {"var-sudo-editor", "SUDO_EDITOR on the command line of a command", "refused, or it does not reach it",
       "clean {sudo} -n SUDO_EDITOR={w}/payload {d}/probe", Expect::kEither},

      // --- The variables sudo and Hoist read, in the attacker's environment.
      {"env-editors", "SUDO_EDITOR, VISUAL, EDITOR = payload for a command that is not an edit",
       "the probe runs; the payload does not; the variables do not reach it",
       "clean SUDO_EDITOR={w}/payload VISUAL={w}/payload EDITOR={w}/payload {sudo} -n {d}/probe", Expect::kRuns},
      {"env-ld-preload", "LD_PRELOAD=payload library in the attacker's environment",
       "the probe runs; the library never loads as root", "clean LD_PRELOAD={w}/evil.so {sudo} -n {d}/probe",
       Expect::kRuns},
      {"env-ld-library-path", "LD_LIBRARY_PATH in the attacker's environment", "id runs as root, unaffected",
       "clean LD_LIBRARY_PATH={w} {sudo} -n /usr/bin/id -u", Expect::kRuns, prints("0\n")},
      {"env-bash-env", "BASH_ENV=payload for an allowed bash script", "the script runs; the payload does not",
       "clean BASH_ENV={w}/payload {sudo} -n {d}/helper.bash", Expect::kRuns, prints("helper-ran euid=0\n")},
      {"env-bash-function", "an exported bash function `id` running the payload",
       "the script runs the real id; the payload does not",
       "clean 'BASH_FUNC_id%%=() { {w}/payload; }' {sudo} -n {d}/helper.bash", Expect::kRuns,
       prints("helper-ran euid=0\n")},
      {"env-shellopts-ps4", "SHELLOPTS=xtrace with PS4='$(payload)'", "the script runs; the payload does not",
       "clean SHELLOPTS=xtrace 'PS4=$({w}/payload)' {sudo} -n {d}/helper.bash", Expect::kRuns,
       prints("helper-ran euid=0\n")},
      {"env-askpass-prompt", "SUDO_ASKPASS and SUDO_PROMPT with format directives",
       "id runs as root; the askpass program never runs as root",
       "clean SUDO_ASKPASS={w}/payload 'SUDO_PROMPT=%n%s%s%p%U' {sudo} -n /usr/bin/id -u", Expect::kRuns,
       prints("0\n")},

      // --- PATH tricks.
      {"path-user-directory-first", "a payload named id first in PATH",
       "sudo finds id through the secure path: the real id runs",
       "ln -sf {w}/payload {w}/id && clean PATH={w}:/usr/bin:/bin {sudo} -n id -u", Expect::kRuns, prints("0\n")},
      {"path-dot", "'.' first in PATH, standing in the attacker's directory", "the real id runs",
       "cd {w} && clean PATH=.:/usr/bin:/bin {sudo} -n id -u", Expect::kRuns, prints("0\n")},
      {"path-empty", "an empty PATH", "the real id runs", "clean PATH= {sudo} -n id -u", Expect::kRuns, prints("0\n")},
      {"path-only-in-users-path", "name the probe by its name, found only through the attacker's PATH",
       "refused: it is not in the secure path", "clean PATH={d}:/usr/bin:/bin {sudo} -n probe", Expect::kRefused},

      // --- Options that change how or where the command runs.
      {"H-home", "HOME of the attacker kept with -H", "HOME is root's", "clean HOME={w} {sudo} -n -H {d}/probe",
       Expect::kRuns},
      {"P-groups", "keep the attacker's groups (-P)", "refused", "clean {sudo} -n -P {d}/probe", Expect::kRefused},
      {"P-groups-nobody", "-P with another target", "refused", "clean {sudo} -n -P -u nobody /usr/bin/id",
       Expect::kRefused},
      {"R-chroot", "chroot into a tree the attacker built, where /usr/bin/id is theirs", "refused",
       "mkdir -p {w}/root/usr/bin && cp {w}/payload {w}/root/usr/bin/id && clean {sudo} -n -R {w}/root /usr/bin/id",
       Expect::kRefused},
      {"D-directory", "run in a directory of the attacker's choice (-D)", "refused", "clean {sudo} -n -D {w} {d}/probe",
       Expect::kRefused},
      {"T-timeout", "set the command's timeout (-T)", "refused", "clean {sudo} -n -T 1 /usr/bin/id -u",
       Expect::kRefused},
      {"h-host", "name another host (-h)", "refused", "clean {sudo} -n -h otherhost /usr/bin/id -u", Expect::kRefused},
      {"c-login-class", "a login class (-c)", "refused", "clean {sudo} -n -c daemon /usr/bin/id -u", Expect::kRefused},
      {"r-selinux-role", "an SELinux role (-r)", "refused", "clean {sudo} -n -r sysadm_r /usr/bin/id -u",
       Expect::kRefused},
      {"t-selinux-type", "an SELinux type (-t)", "refused", "clean {sudo} -n -t sysadm_t /usr/bin/id -u",
       Expect::kRefused},
      {"C-descriptors", "pass a descriptor of the attacker's (fd 9) to a root command with -C 10",
       "fd 9 does not reach the command", "exec 9<{w}/payload; clean {sudo} -n -C 10 {d}/probe", Expect::kEither,
       [](const StepResult& r) {
         for (const auto& p : probe_reports(r.out)) {
           for (const auto& fd : p.fds) EXPECT_NE(fd.rfind("9:", 0), 0U) << fd;
         }
       }},
      {"b-payload", "run the payload in the background (-b)", "refused", "clean {sudo} -n -b {w}/payload",
       Expect::kRefused},
      {"b-probe", "(none: -b runs an allowed program in the background)", "it runs as root, with the usual checks",
       "clean {sudo} -n -b {d}/probe > {w}/bg.out && i=0 && while [ $i -lt 50 ] && ! grep -q '^end$' {w}/bg.out; "
       "do sleep 0.1; i=$((i+1)); done; cat {w}/bg.out",
       Expect::kRuns, probe_as_root({d + "/probe"})},
      {"b-login-shell", "a root login shell in the background", "refused", "clean {sudo} -n -b -i", Expect::kRefused},
      {"k-command", "(none: -k with an allowed command)", "it runs", "clean {sudo} -n -k /usr/bin/id -u", Expect::kRuns,
       prints("0\n")},
      {"N-command", "(none: -N with an allowed command)", "it runs", "clean {sudo} -n -N /usr/bin/id -u", Expect::kRuns,
       prints("0\n")},
      {"k-alone", "-k alone", "nothing runs", "clean {sudo} -k", Expect::kEither, prints_nothing()},
      {"K-alone", "-K alone", "nothing runs", "clean {sudo} -K", Expect::kEither, prints_nothing()},
      {"v-validate", "-v", "nothing runs", "clean {sudo} -n -v", Expect::kEither, prints_nothing()},
      {"l-list", "list their privileges", "only a listing", "clean {sudo} -n -l", Expect::kEither},
      {"ll-list", "list them in long form", "only a listing", "clean {sudo} -n -ll", Expect::kEither},
      {"l-payload", "get sudo -l to run or approve the payload", "refused; the payload does not run",
       "clean {sudo} -n -l {w}/payload", Expect::kRefused},
      {"l-U-root", "list root's privileges (-U root)", "refused: only root may list another user",
       "clean {sudo} -n -l -U root", Expect::kRefused},
      {"U-root-command", "ask whether root may run a command (-U root -l CMD)", "refused",
       "clean {sudo} -n -U root -l /usr/bin/id", Expect::kRefused},
      {"n-needs-approval", "run a program that needs approval without a terminal",
       "refused at once (the request waits); nothing ran", "clean {sudo} -n /usr/bin/whoami", Expect::kRefused},
      {"A-askpass", "make sudo run SUDO_ASKPASS (the payload) as root with -A",
       "id runs; the askpass program never runs as root", "clean SUDO_ASKPASS={w}/payload {sudo} -n -A /usr/bin/id -u",
       Expect::kRuns, prints("0\n")},
      {"A-askpass-request", "-A on a request without a terminal", "refused; askpass never runs as root",
       "clean SUDO_ASKPASS={w}/payload {sudo} -A /usr/bin/whoami", Expect::kRefused},
      {"A-and-S", "-A and -S together", "nothing but id runs",
       "echo x | clean SUDO_ASKPASS={w}/payload {sudo} -A -S /usr/bin/id -u", Expect::kEither, prints("0\n")},
      {"p-format", "a prompt full of format directives (-p)", "id runs, sudo does not crash",
       "clean {sudo} -n -p '%H%h%p%U%u%%%n%s%s%s' /usr/bin/id -u", Expect::kRuns, prints("0\n")},
      {"S-stdin", "a password on stdin (-S) where none is needed", "id runs",
       "echo not-a-password | clean {sudo} -S /usr/bin/id -u", Expect::kRuns, prints("0\n")},
      {"S-payload", "the payload with a password on stdin", "refused",
       "echo not-a-password | clean {sudo} -S {w}/payload", Expect::kRefused},
      {"dashdash-option-as-command", "a command named like an option after --", "refused (no such command)",
       "clean {sudo} -n -- -s", Expect::kRefused},
      {"dashdash-arguments", "(none: options after the command are its arguments)",
       "the probe runs as root and gets them as arguments", "clean {sudo} -n -- {d}/probe -u nobody -s", Expect::kRuns,
       probe_as_root({d + "/probe", "-u", "nobody", "-s"})},
      {"sudoedit-as-command", "run sudoedit itself as root (it would re-enter sudo)", "refused",
       "clean {sudo} -n sudoedit {secret}", Expect::kRefused},
      {"nested-sudo", "run sudo as root through sudo", "refused", "clean {sudo} -n /usr/bin/sudo /usr/bin/id",
       Expect::kRefused},

      // --- argv[0]: names that change what a multi-call program does.
      {"trusted-link-other-name-listed",
       "systemctl as `runlevel` (a root-owned link in /usr/sbin) under a rule for /usr/bin/systemctl",
       "refused: the rule names systemctl, the program would run as runlevel",
       "clean {sudo} -n -l runlevel status cron", Expect::kRefused},
      {"trusted-link-other-name-run", "the same, run", "refused (systemctl never runs as runlevel)",
       "clean {sudo} -n runlevel status cron", Expect::kRefused, ran_as_runlevel},
      {"user-link-other-name-systemctl", "their own link named runlevel to systemctl",
       "refused: a link with another name in a directory the user can write",
       "ln -sf /usr/bin/systemctl {w}/runlevel && clean {sudo} -n -l {w}/runlevel status cron", Expect::kRefused},
      {"user-link-other-name-run", "the same, run", "refused (systemctl never runs as runlevel)",
       "clean {sudo} -n {w}/runlevel status cron", Expect::kRefused, ran_as_runlevel},
      {"user-link-other-name-probe", "their own link with another name to an allowed program",
       "refused; the program never sees the attacker's name", "ln -sf {d}/probe {w}/other && clean {sudo} -n {w}/other",
       Expect::kRefused, argv0_not_attackers},
      {"user-link-same-name", "their own link with the allowed program's name",
       "if it runs, argv[0] is the real path, never the attacker's",
       "ln -sf {d}/probe {w}/probe && clean {sudo} -n {w}/probe", Expect::kEither, argv0_not_attackers},
      {"trusted-link-unnamed", "a root-owned link with another name that no rule names", "refused",
       "clean {sudo} -n {d}/alias", Expect::kRefused},
      {"trusted-link-named", "(none: a rule names the link)", "it runs with the link's path as argv[0]",
       "clean {sudo} -n {d}/alias2 x", Expect::kRuns, probe_as_root({d + "/alias2", "x"})},
      {"root-owned-link-in-users-directory",
       "a root-made link under another name, in a root-owned directory inside the attacker's directory",
       "refused: the attacker can rename the directory and put their own link there",
       "clean {sudo} -n {w}/rootdir/other", Expect::kRefused, argv0_not_attackers},
      {"trusted-hard-link", "a root-owned hard link with another name", "refused", "clean {sudo} -n {d}/hard",
       Expect::kRefused},
      {"relative-dot", "./probe from the trusted directory", "refused: Hoist runs only absolute paths",
       "cd {d} && clean {sudo} -n ./probe", Expect::kRefused},
      {"relative-dotdot", "../probe from below it", "refused", "cd {d}/sub && clean {sudo} -n ../probe",
       Expect::kRefused},
      {"relative-into-user-directory", "./x, their own link in their own directory", "refused",
       "ln -sf {d}/probe {w}/x && cd {w} && clean {sudo} -n ./x", Expect::kRefused},
      {"sudoedit-allowed-program-as-editor", "edit a root-only file with an allowed program (id) as the editor",
       "refused: no rule names the file; the secret is never copied for the attacker",
       "clean SUDO_EDITOR=/usr/bin/id {sudo} -n -e {secret}", Expect::kRefused, secret_not_copied},
      {"sudo-named-sudoedit", "run sudo through a link named sudoedit with an allowed program as editor",
       "refused; the secret is never copied for the attacker",
       "ln -sf /usr/bin/sudo {w}/sudoedit && clean SUDO_EDITOR=/usr/bin/id {timeout} {w}/sudoedit -n {secret}",
       Expect::kRefused, secret_not_copied},

      // --- Links and user-writable directories.
      {"link-out-of-trusted-directory", "a rule names a root-owned link that points into the attacker's directory",
       "refused: the file is the attacker's", "clean {sudo} -n {d}/out-link", Expect::kRefused},
      {"rule-in-users-directory", "a rule names a root-owned file in the attacker's directory",
       "refused: the attacker could swap it", "clean {sudo} -n {w}/tool -u", Expect::kRefused},
      {"swap-in-users-directory", "swap that file for the payload", "refused",
       "cp {w}/payload {w}/tool.new && mv -f {w}/tool.new {w}/tool && clean {sudo} -n {w}/tool", Expect::kRefused},
      {"hard-link-systemctl", "hard-link systemctl into their directory under another name",
       "refused (or the link cannot be made)",
       "ln /usr/bin/systemctl {w}/rl 2>/dev/null; clean {sudo} -n -l {w}/rl status cron", Expect::kRefused},
      {"hard-link-probe", "hard-link the probe into their directory", "refused (or the link cannot be made)",
       "ln {d}/probe {w}/probe-hard 2>/dev/null; clean {sudo} -n {w}/probe-hard", Expect::kRefused},
      {"deny-through-same-name-link", "reach denied shred through their own link named shred", "refused",
       "ln -sf /usr/bin/shred {w}/shred && clean {sudo} -n {w}/shred --version", Expect::kRefused},
      {"deny-through-other-name-link", "reach denied shred through their own link with another name", "refused",
       "ln -sf /usr/bin/shred {w}/wipe && clean {sudo} -n {w}/wipe --version", Expect::kRefused},
      {"deny-through-allowed-trusted-alias", "reach denied shred through a root-owned alias a rule allows",
       "refused: a deny rule on the program holds whatever name reaches it",
       "clean {sudo} -n {d}/shred-alias --version", Expect::kRefused},
      {"deny-direct", "(none: the deny rule itself)", "refused", "clean {sudo} -n /usr/bin/shred --version",
       Expect::kRefused},

      // --- HOIST_REASON: what an approver reads.
      {"hoist-reason-control-characters", "forge text on the approver's screen through HOIST_REASON",
       "refused now; the request's justification holds no control characters (checked below; other arguments "
       "than the earlier whoami cases, whose waiting request the agent would answer with)",
       "clean HOIST_REASON=\"$(printf 'ok\\033[2J\\r\\nApproved by admin\\a')\" {sudo} -n /usr/bin/whoami --version",
       Expect::kRefused},
  };
  run_cases(cases);
  const auto seen = copies.seen();
  EXPECT_TRUE(seen.empty()) << "SUDOEDIT COPIED THE SECRET FOR THE ATTACKER: /var/tmp/" << seen.front();

  const auto requests = hoistd_.call("GET", "/api/v1/requests?state=pending", "", admin_);
  ASSERT_EQ(requests.status, 200) << requests;
  bool found = false;
  for (const auto& q : requests.array("/requests")) {
    const std::string why(q.at("justification").as_string());
    if (why.find("Approved by admin") == std::string::npos) continue;
    found = true;
    for (const char c : why) {
      const auto b = static_cast<unsigned char>(c);
      EXPECT_TRUE(b >= 0x20 && b != 0x7F) << "a control character in the justification: " << why;
    }
  }
  EXPECT_TRUE(found) << "the request with HOIST_REASON did not reach hoistd: " << requests;
}

// ---------------------------------------------------------------------------
// A race on the executable.

// Attacker: a local user allowed to run /usr/bin/id.
// Goal:     run the payload as root by flipping their own link `id` between
//           /usr/bin/id and the payload while sudo checks and runs it.
// Must hold: the payload never runs as root: whatever the link named when
//           it was checked, what runs is the file that was checked (execfd).
TEST_F(SudoAttack, RaceSwappingTheExecutable) {
  const std::string flip =
      "ln -sf /usr/bin/id {w}/id && "
      "( while :; do ln -sf {w}/payload {w}/id.new; mv -Tf {w}/id.new {w}/id; "
      "ln -sf /usr/bin/id {w}/id.new; mv -Tf {w}/id.new {w}/id; done ) & f=$!; "
      "i=0; while [ $i -lt 80 ]; do clean {sudo} -n {w}/id -u; i=$((i+1)); done; "
      "kill $f; wait $f 2>/dev/null; true";
  const auto results = batch({flip});
  ASSERT_EQ(results.size(), 1U);
  const auto& r = results[0];
  SCOPED_TRACE(::testing::PrintToString(r));
  check_invariants(r);
  EXPECT_TRUE(fs::is_empty(marks_->path())) << "THE PAYLOAD LEFT ITS MARK AS ROOT";
  // Some runs happen; none is the payload's.
  std::istringstream lines(r.out);
  std::string line;
  int as_root = 0;
  while (std::getline(lines, line)) as_root += line == "0" ? 1 : 0;
  std::cerr << "race: id ran as root " << as_root << " times in 80 tries\n";
}

// ---------------------------------------------------------------------------
// Passwords: -S, -A, -k, -N, -v and the timestamp, under a rule that asks
// for the password.

constexpr std::string_view kPassword = "Hoist-e2e-pw-4711";

class PasswordAttack : public SudoAttack {
 protected:
  [[nodiscard]] std::string policy_template() const override {
    return R"(version = 1

[settings]
default_action = "deny"

[[rule]]
name = "identity-with-password"
action = "allow"
path = "/usr/bin/id"
reauthenticate = true
)";
  }

  void SetUp() override {
    SudoAttack::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    // The attacker's password, and PAM through pam_unix from the trusted
    // directory (a service of this test's own, never /etc/pam.d).
    ASSERT_EQ(
        run({"/bin/sh", "-c", "echo '" + attacker_->name() + ":" + std::string(kPassword) + "' | /usr/sbin/chpasswd"},
            "/dev/null"),
        0);
    ASSERT_TRUE(trusted_->put("hoist-e2e",
                              "auth required pam_unix.so nodelay\n"
                              "account required pam_unix.so\n"
                              "session required pam_permit.so\n"
                              "password required pam_deny.so\n",
                              0644));
    conf_ = hoistd_.dir() + "/sudo-password.conf";
    {
      std::ofstream out(conf_, std::ios::trunc);
      out << "Plugin hoist_policy " << HOIST_SUDO_SO << " agent_socket=" << socket_
          << " timestamp_dir=" << hoistd_.dir() << "/ts spool_dir=" << hoistd_.dir()
          << "/spool pam_service=hoist-e2e pam_confdir=" << trusted_->path() << "\n";
    }
    ASSERT_EQ(::chmod(conf_.c_str(), 0644), 0);
    ASSERT_TRUE(
        mine_->put("wrong-askpass", "#!/bin/sh\necho not-the-password\n", 0755, attacker_->uid(), attacker_->gid()));
  }
};

// Attacker: a local user whose only rule asks for their password.
// Goal:     run it without the password: -n, a wrong password on stdin
//           (-S) or from an askpass program (-A), validating (-v) first.
// Must hold: every one is refused; nothing runs as root.
TEST_F(PasswordAttack, NoPasswordNoRun) {
  const std::vector<AttackCase> cases = {
      {"n-without-password", "run it under -n", "refused", "clean {sudo} -n /usr/bin/id -u", Expect::kRefused},
      {"S-wrong-password", "a wrong password on stdin (-S)", "refused",
       "echo not-the-password | clean {sudo} -S /usr/bin/id -u", Expect::kRefused},
      {"A-wrong-password", "a wrong password from an askpass program (-A)", "refused",
       "clean SUDO_ASKPASS={w}/wrong-askpass {sudo} -A /usr/bin/id -u", Expect::kRefused},
      {"v-then-n", "validate without a password, then run under -n", "refused",
       "clean {sudo} -n -v; clean {sudo} -n /usr/bin/id -u", Expect::kRefused},
      {"k-then-n", "-k, then -n", "refused", "clean {sudo} -k; clean {sudo} -n /usr/bin/id -u", Expect::kRefused},
  };
  run_cases(cases);
}

// Attacker: a local user who typed their password once on their terminal.
// Goal:     ride on that authentication where it should not count: after
//           -k, after -N (which must not leave a timestamp), and from
//           another session without a terminal.
// Must hold: the timestamp serves only the session that authenticated,
//           -k ends it, -N never makes one.
TEST_F(PasswordAttack, TheTimestampServesOnlyItsOwnSession) {
  const std::string script = expand(
      "r=$({tty-sudo} /usr/bin/id -u); echo \"first=$r\"\n"
      "r=$({tty-sudo} -n /usr/bin/id -u 2>/dev/null); echo \"cached=$r\"\n"
      "{tty-sudo} -k\n"
      "r=$({tty-sudo} -n /usr/bin/id -u 2>/dev/null); echo \"after-k=$r\"\n"
      "r=$({tty-sudo} -N /usr/bin/id -u); echo \"with-N=$r\"\n"
      "r=$({tty-sudo} -n /usr/bin/id -u 2>/dev/null); echo \"after-N=$r\"\n"
      "echo DONE\n",
      vars_);
  ASSERT_TRUE(trusted_->put("session.sh", script, 0644));
  {
    TtySudo tty(attacker_->name(), conf_, "/bin/sh " + (*trusted_ / "session.sh"));
    ASSERT_TRUE(tty.expect("assword", seconds(20))) << tty.output();
    tty.type(std::string(kPassword) + "\n");
    ASSERT_TRUE(tty.expect("after-k=", seconds(20))) << tty.output();
    ASSERT_TRUE(tty.expect("assword", seconds(20))) << tty.output();
    tty.type(std::string(kPassword) + "\n");
    ASSERT_TRUE(tty.expect("DONE", seconds(20))) << tty.output();
    EXPECT_EQ(tty.wait_exit(seconds(20)), 0) << tty.output();
    const std::string& out = tty.output();
    EXPECT_NE(out.find("first=0"), std::string::npos) << out;
    EXPECT_NE(out.find("cached=0"), std::string::npos) << "the timestamp did not serve its own session: " << out;
    EXPECT_NE(out.find("after-k=\r\n"), std::string::npos) << "-k did not end the timestamp: " << out;
    EXPECT_NE(out.find("with-N=0"), std::string::npos) << out;
    EXPECT_NE(out.find("after-N=\r\n"), std::string::npos) << "-N left a timestamp: " << out;
  }
  // Authenticated again (a fresh timestamp on that terminal's session),
  // then another session without a terminal tries it.
  {
    ASSERT_TRUE(trusted_->put("again.sh", expand("{tty-sudo} /usr/bin/id -u\n", vars_), 0644));
    TtySudo tty(attacker_->name(), conf_, "/bin/sh " + (*trusted_ / "again.sh"));
    ASSERT_TRUE(tty.expect("assword", seconds(20))) << tty.output();
    tty.type(std::string(kPassword) + "\n");
    EXPECT_EQ(tty.wait_exit(seconds(20)), 0) << tty.output();
  }
  const auto results = batch({"clean {sudo} -n /usr/bin/id -u"});
  ASSERT_EQ(results.size(), 1U);
  check_invariants(results[0]);
  EXPECT_NE(results[0].status, 0) << "another session used the timestamp: " << results[0];
  EXPECT_EQ(results[0].out, "") << results[0];
}

// ---------------------------------------------------------------------------
// sudoedit: decided on the files, never on the editor.

class SudoeditAttack : public SudoAttack {
 protected:
  [[nodiscard]] std::string policy_template() const override {
    return R"(version = 1

[settings]
default_action = "deny"

[[rule]]
name = "notes"
action = "allow"
edit = ["{d}/notes", "{d}/notes-link", "{w}/planted", "{d}/conf.d/*.conf"]

[[rule]]
name = "identity"
action = "allow"
path = "/usr/bin/id"

[[rule]]
name = "truths"
action = "allow"
path = "/usr/bin/true"
)";
  }
};

// Attacker: a local user who may edit {d}/notes (and, by an administrator's
//           mistakes, a file in their own directory and a root-owned link
//           to a root-only secret), and run /usr/bin/id and /usr/bin/true.
// Goal:     read or change a root-only file with sudoedit: an allowed
//           program as the editor, a second file, links, path spellings.
// Must hold: the secret is never copied for the attacker (no sudoedit copy
//           of it appears in /var/tmp), never changed; the editor runs as
//           the attacker; the named file is edited and written back.
TEST_F(SudoeditAttack, EditsAreDecidedOnTheFilesNeverOnTheEditor) {
  const std::string notes = vars_["d"] + "/notes";
  const std::string secret = vars_["secret"];
  const std::string secret_before = slurp(secret);
  const std::string uid = std::to_string(attacker_->uid());
  CopyWatch copies("/var/tmp", secret_name_ + ".");
  ASSERT_TRUE(copies.ok()) << "cannot watch /var/tmp";
  auto edited = [&](const std::string& tag) {
    return [&, tag](const StepResult& r) {
      if (r.status != 0) return;
      EXPECT_NE(r.out.find("editor-ran euid=" + uid + " tag=" + tag), std::string::npos) << "the editor ran as root";
      EXPECT_EQ(r.err.find("unable to write"), std::string::npos) << "sudoedit could not write the file back";
      EXPECT_NE(slurp(notes).find("edited " + tag + " by " + uid), std::string::npos) << "the edit was lost";
    };
  };
  const std::vector<AttackCase> cases = {
      {"edit-named-file", "(none: the positive control)", "the editor runs as the attacker; the edit is saved",
       "clean SUDO_EDITOR='{d}/editor.sh E1' {sudo} -n -e {d}/notes", Expect::kRuns, edited("E1")},
      {"sudoedit-named-file", "(none: sudoedit, EDITOR)", "the same",
       "clean EDITOR='{d}/editor.sh E2' {timeout} sudoedit -n {d}/notes", Expect::kRuns, edited("E2")},
      {"visual-named-file", "(none: VISUAL)", "the same", "clean VISUAL='{d}/editor.sh E3' {sudo} -n -e {d}/notes",
       Expect::kRuns, edited("E3")},
      {"allowed-program-as-editor", "name an allowed program (true) as the editor to have the secret copied",
       "refused: no rule names the file", "clean SUDO_EDITOR=/usr/bin/true {sudo} -n -e {secret}", Expect::kRefused},
      {"allowed-program-as-visual", "the same through VISUAL with id", "refused",
       "clean VISUAL=/usr/bin/id {sudo} -n -e {secret}", Expect::kRefused},
      {"allowed-program-as-editor-sudoedit", "the same through EDITOR and sudoedit", "refused",
       "clean EDITOR=/usr/bin/true {timeout} sudoedit -n {secret}", Expect::kRefused},
      {"second-file", "add the secret after the named file", "refused as a whole",
       "clean SUDO_EDITOR='{d}/editor.sh E4' {sudo} -n -e {d}/notes {secret}", Expect::kRefused},
      {"planted-symlink", "turn the named file in their own directory into a link to the secret",
       "refused (sudoedit's own checks); the secret is not copied",
       "ln -sf {secret} {w}/planted && clean SUDO_EDITOR='{d}/editor.sh E5' {sudo} -n -e {w}/planted",
       Expect::kRefused},
      {"trusted-symlink", "a named file that is a root-owned link to the secret",
       "refused (sudoedit does not follow links)", "clean SUDO_EDITOR='{d}/editor.sh E6' {sudo} -n -e {d}/notes-link",
       Expect::kRefused},
      {"dot-spelling", "the named file spelled with /./", "refused, or notes is what gets edited",
       "clean SUDO_EDITOR='{d}/editor.sh E7' {sudo} -n -e {d}/./notes", Expect::kEither, edited("E7")},
      {"double-slash-spelling", "the named file spelled with //", "refused, or notes is what gets edited",
       "clean SUDO_EDITOR='{d}/editor.sh E8' {sudo} -n -e {d}//notes", Expect::kEither, edited("E8")},
      {"dotdot-spelling", "the named file spelled through sub/..", "refused, or notes is what gets edited",
       "clean SUDO_EDITOR='{d}/editor.sh E9' {sudo} -n -e {d}/sub/../notes", Expect::kEither, edited("E9")},
      {"relative-spelling", "the named file by a relative name", "refused, or notes is what gets edited",
       "cd {d} && clean SUDO_EDITOR='{d}/editor.sh E10' {sudo} -n -e notes", Expect::kEither, edited("E10")},
      {"editor-arguments-name-the-secret", "the editor's own arguments name the secret",
       "the editor runs as the attacker and cannot change it",
       "clean SUDO_EDITOR='{d}/editor.sh E11 {secret}' {sudo} -n -e {d}/notes", Expect::kEither, edited("E11")},
      {"editor-with-dashdash", "an editor value with -- and the secret after it", "the secret is not copied",
       "clean 'SUDO_EDITOR={d}/editor.sh E12 -- {secret}' {sudo} -n -e {d}/notes", Expect::kEither},
      {"attackers-own-editor", "their own program as the editor", "it never runs as root",
       "clean SUDO_EDITOR={w}/payload {sudo} -n -e {d}/notes", Expect::kEither},
      {"edit-as-nobody", "edit as another account", "the secret is untouched",
       "clean SUDO_EDITOR='{d}/editor.sh E13' {sudo} -n -e -u nobody {d}/notes", Expect::kEither},
      {"edit-a-directory", "edit the trusted directory", "refused", "clean SUDO_EDITOR=/usr/bin/true {sudo} -n -e {d}",
       Expect::kRefused},
      {"glob-new-file", "(none: a new file the rule's glob names)", "it is created, root-owned",
       "clean SUDO_EDITOR='{d}/editor.sh E14' {sudo} -n -e {d}/conf.d/new.conf", Expect::kRuns,
       [&](const StepResult& r) {
         if (r.status != 0) return;
         struct stat st {};
         ASSERT_EQ(::stat((vars_["d"] + "/conf.d/new.conf").c_str(), &st), 0) << "the new file was not written";
         EXPECT_EQ(st.st_uid, 0U);
       }},
      {"glob-link-to-secret", "a root-made link matching the rule's glob, pointing at the secret", "refused (no links)",
       "clean SUDO_EDITOR='{d}/editor.sh E15' {sudo} -n -e {d}/conf.d/evil.conf", Expect::kRefused},
      {"glob-dotdot", "leave the glob's directory with ..", "refused",
       "clean SUDO_EDITOR='{d}/editor.sh E16' {sudo} -n -e {d}/conf.d/../" + secret_name_, Expect::kRefused},
      {"glob-through-missing-directory", "name a .conf directory that does not exist, then ..", "refused",
       "clean SUDO_EDITOR='{d}/editor.sh E17' {sudo} -n -e {d}/conf.d/x.conf/../../" + secret_name_, Expect::kRefused},
      {"glob-below", "a .conf file one directory further down", "refused (* stops at /)",
       "clean SUDO_EDITOR=/usr/bin/true {sudo} -n -e {d}/conf.d/sub/x.conf", Expect::kRefused},
      {"run-the-named-file", "run the file an edit rule names", "refused: an edit rule allows editing only",
       "clean {sudo} -n {d}/notes", Expect::kRefused},
      {"sudoedit-through-sudo", "sudo sudoedit FILE (sudoedit as a command of sudo)", "refused",
       "clean EDITOR=/usr/bin/true {sudo} -n sudoedit {d}/notes", Expect::kRefused},
      {"sudo-named-sudoedit", "sudo through a link named sudoedit on the secret", "refused",
       "ln -sf /usr/bin/sudo {w}/sudoedit && clean SUDO_EDITOR=/usr/bin/true {timeout} {w}/sudoedit -n {secret}",
       Expect::kRefused},
  };
  run_cases(cases, [copy = "/var/tmp/" + secret_name_ + "."](const StepResult& r) {
    EXPECT_EQ(r.err.find(copy), std::string::npos) << "SUDOEDIT COPIED THE SECRET FOR THE ATTACKER";
  });

  EXPECT_EQ(slurp(secret), secret_before) << "THE SECRET WAS CHANGED";
  struct stat st {};
  ASSERT_EQ(::stat(secret.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0U);
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  ASSERT_EQ(::stat(notes.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0U) << "the edited file changed owner";
  EXPECT_EQ(st.st_mode & 07777, 0644U) << "the edited file changed mode";
  const auto seen = copies.seen();
  EXPECT_TRUE(seen.empty()) << "SUDOEDIT COPIED THE SECRET FOR THE ATTACKER: /var/tmp/" << seen.front();
}

// Attacker: a local user who may edit {d}/notes.
// Goal:     edit {d}/other/notes (root-only, same base name) by naming the
//           file through their own directory link, flipped between {d} and
//           {d}/other while sudo checks and copies it.
// Must hold: the other file is never shown to the editor, never changed:
//           sudo edits the path that was decided on (directories resolved).
TEST_F(SudoeditAttack, RaceFlippingADirectoryLink) {
  const std::string other = vars_["d"] + "/other/notes";
  const std::string before = slurp(other);
  const std::string flip =
      "ln -sfn {d} {w}/dir && "
      "( while :; do ln -sfn {d}/other {w}/dir.new; mv -Tf {w}/dir.new {w}/dir; "
      "ln -sfn {d} {w}/dir.new; mv -Tf {w}/dir.new {w}/dir; done ) & f=$!; "
      "i=0; while [ $i -lt 40 ]; do clean SUDO_EDITOR='{d}/editor.sh RACE' {sudo} -n -e {w}/dir/notes; "
      "i=$((i+1)); done; kill $f; wait $f 2>/dev/null; true";
  const auto results = batch({flip});
  ASSERT_EQ(results.size(), 1U);
  const auto& r = results[0];
  SCOPED_TRACE(::testing::PrintToString(r));
  check_invariants(r);
  EXPECT_EQ(r.out.find("other-secret-"), std::string::npos) << "THE EDITOR WAS GIVEN THE OTHER FILE";
  EXPECT_EQ(slurp(other), before) << "THE OTHER FILE WAS CHANGED";
  std::istringstream lines(r.out);
  std::string line;
  int edits = 0;
  while (std::getline(lines, line)) edits += line.rfind("editor-ran ", 0) == 0 ? 1 : 0;
  std::cerr << "race: " << edits << " edits of 40 tries went through\n";
}

}  // namespace
}  // namespace hoist::testing::attacks
