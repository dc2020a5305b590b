// The evaluator's target users (runas), links under another name (argv[0])
// and edits (sudoedit): each rule kind matching and not matching, and the
// attacks issue 17 found, as pure cases.
#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/evaluator.h"
#include "core/policy_file.h"
#include "test_support.h"

namespace hoist {
namespace {

using test::FakeTimeZones;
using test::utc;

const TimePoint kNoon = utc(2024, 1, 3, 12, 0);

std::shared_ptr<const CompiledPolicy> policy_of(std::string_view text) {
  const FakeTimeZones zones;
  auto parsed = parse_policy(text, "test.toml", zones);
  if (!parsed.policy) {
    throw std::runtime_error("policy did not parse: " +
                             (parsed.errors.empty() ? std::string("?") : parsed.errors.front().to_string()));
  }
  auto compiled = CompiledPolicy::compile(std::move(*parsed.policy));
  if (!compiled.ok()) throw std::runtime_error(compiled.error().message);
  return *compiled;
}

std::vector<std::string> errors_of(std::string_view text) {
  const FakeTimeZones zones;
  auto parsed = parse_policy(text, "test.toml", zones);
  std::vector<std::string> out;
  for (const auto& e : parsed.errors) out.push_back(e.to_string());
  return out;
}

Subject alice() {
  return Subject{"alice", {"alice", "staff"}, {}};
}

CommandLine run(std::string path, std::vector<std::string> args = {}, RunAs runas = {}) {
  CommandLine c;
  c.exe.path = std::move(path);
  c.exe.trusted_path = true;
  c.args = std::move(args);
  c.runas = std::move(runas);
  return c;
}

Action decide(const CompiledPolicy& p, const CommandLine& c) {
  const FakeTimeZones zones;
  return p.evaluate(alice(), c, kNoon, zones).action;
}

// ---------------------------------------------------------------------------
// runas

constexpr std::string_view kRunasPolicy = R"(version = 1
[settings]
default_action = "deny"

[[rule]]
name = "id-as-root"
action = "allow"
path = "/usr/bin/id"

[[rule]]
name = "psql-as-postgres"
action = "allow"
path = "/usr/bin/psql"
runas = ["postgres"]

[[rule]]
name = "env-as-anyone"
action = "allow"
path = "/usr/bin/env"
runas = ["*"]

[[rule]]
name = "ls-with-adm"
action = "allow"
path = "/usr/bin/ls"
runas_groups = ["adm"]

[[rule]]
name = "cat-as-root-with-adm"
action = "allow"
path = "/usr/bin/cat"
runas = ["root"]
runas_groups = ["adm"]

[[rule]]
name = "no-psql-as-backup"
action = "deny"
path = "/usr/bin/psql"
runas = ["backup"]

[[rule]]
name = "never-dd"
action = "deny"
path = "/usr/bin/dd"

[[rule]]
name = "dd-as-anyone"
action = "allow"
path = "/usr/bin/dd"
runas = ["*"]
)";

TEST(Runas, AnAllowRuleWithoutRunasHoldsForRootOnly) {
  const auto p = policy_of(kRunasPolicy);
  EXPECT_EQ(decide(*p, run("/usr/bin/id")), Action::kAllow);
  // Attacker: a user allowed `id` as root. Goal: run it as another user
  // (whose files they then reach). Must hold: refused.
  EXPECT_EQ(decide(*p, run("/usr/bin/id", {}, RunAs{"postgres", "", "postgres"})), Action::kDeny);
  EXPECT_EQ(decide(*p, run("/usr/bin/id", {}, RunAs{"daemon", "", "daemon"})), Action::kDeny);
}

TEST(Runas, ARuleNamingATargetHoldsForItAlone) {
  const auto p = policy_of(kRunasPolicy);
  EXPECT_EQ(decide(*p, run("/usr/bin/psql", {}, RunAs{"postgres", "", "postgres"})), Action::kAllow);
  // A grant "as postgres" is no grant as root.
  EXPECT_EQ(decide(*p, run("/usr/bin/psql")), Action::kDeny);
  EXPECT_EQ(decide(*p, run("/usr/bin/psql", {}, RunAs{"daemon", "", "daemon"})), Action::kDeny);
  EXPECT_EQ(decide(*p, run("/usr/bin/env", {}, RunAs{"daemon", "", "daemon"})), Action::kAllow);
  EXPECT_EQ(decide(*p, run("/usr/bin/env")), Action::kAllow);
}

TEST(Runas, RunasGroupsAloneMeansTheInvokerWithThoseGroupsNeverRoot) {
  const auto p = policy_of(kRunasPolicy);
  // sudoers' "(:adm)": sudo -g adm, as yourself.
  EXPECT_EQ(decide(*p, run("/usr/bin/ls", {}, RunAs{"alice", "adm", "alice"})), Action::kAllow);
  // Attacker: a user given `ls` with group adm. Goal: run ls as root (with
  // or without -g). Must hold: refused, as sudoers refuses.
  EXPECT_EQ(decide(*p, run("/usr/bin/ls", {}, RunAs{"root", "adm", "root"})), Action::kDeny);
  EXPECT_EQ(decide(*p, run("/usr/bin/ls")), Action::kDeny);
  EXPECT_EQ(decide(*p, run("/usr/bin/ls", {}, RunAs{"daemon", "adm", "daemon"})), Action::kDeny);
}

TEST(Runas, AGroupNeedsRunasGroupsUnlessItIsTheTargetsOwn) {
  const auto p = policy_of(kRunasPolicy);
  EXPECT_EQ(decide(*p, run("/usr/bin/psql", {}, RunAs{"root", "adm", "root"})), Action::kDeny);
  EXPECT_EQ(decide(*p, run("/usr/bin/cat", {}, RunAs{"root", "adm", "root"})), Action::kAllow);
  EXPECT_EQ(decide(*p, run("/usr/bin/cat")), Action::kAllow);
  EXPECT_EQ(decide(*p, run("/usr/bin/id", {}, RunAs{"root", "adm", "root"})), Action::kDeny);
  EXPECT_EQ(decide(*p, run("/usr/bin/id", {}, RunAs{"root", "shadow", "root"})), Action::kDeny);
  // -g naming the target's own primary group changes nothing.
  EXPECT_EQ(decide(*p, run("/usr/bin/id", {}, RunAs{"root", "root", "root"})), Action::kAllow);
  EXPECT_EQ(decide(*p, run("/usr/bin/psql", {}, RunAs{"postgres", "postgres", "postgres"})), Action::kAllow);
}

TEST(Runas, SudoGAloneRunsAsTheInvokerAndOnlyTheGroupIsChecked) {
  const auto p = policy_of(kRunasPolicy);
  EXPECT_EQ(decide(*p, run("/usr/bin/ls", {}, RunAs{"alice", "adm", "alice"})), Action::kAllow);
  EXPECT_EQ(decide(*p, run("/usr/bin/id", {}, RunAs{"alice", "adm", "alice"})), Action::kDeny);
  // Without a group, running as yourself still needs a rule naming you.
  EXPECT_EQ(decide(*p, run("/usr/bin/id", {}, RunAs{"alice", "", "alice"})), Action::kDeny);
}

TEST(Runas, ADenyRuleHoldsForEveryTargetUnlessItNamesSome) {
  const auto p = policy_of(kRunasPolicy);
  EXPECT_EQ(decide(*p, run("/usr/bin/dd")), Action::kDeny);
  EXPECT_EQ(decide(*p, run("/usr/bin/dd", {}, RunAs{"daemon", "", "daemon"})), Action::kDeny);
  EXPECT_EQ(decide(*p, run("/usr/bin/psql", {}, RunAs{"backup", "", "backup"})), Action::kDeny);
}

TEST(Runas, ThePolicyFileChecksRunas) {
  EXPECT_FALSE(errors_of(R"(version = 1
[[rule]]
name = "x"
action = "allow"
path = "/usr/bin/id"
runas = ["root", "*"]
)")
                   .empty());
  EXPECT_FALSE(errors_of(R"(version = 1
[[rule]]
name = "x"
action = "deny"
path = "/usr/bin/id"
runas_groups = ["adm"]
)")
                   .empty());
  EXPECT_FALSE(errors_of(R"(version = 1
[[rule]]
name = "x"
action = "allow"
path = "/usr/bin/id"
runas = []
)")
                   .empty());
  EXPECT_FALSE(errors_of(R"(version = 1
[[rule]]
name = "x"
action = "request"
session = true
runas = ["postgres"]
)")
                   .empty());
}

// ---------------------------------------------------------------------------
// Links under another name (argv[0])

constexpr std::string_view kLinkPolicy = R"(version = 1
[settings]
default_action = "deny"

[[rule]]
name = "status-cron"
action = "allow"
path = "/usr/bin/systemctl"
args = ["status", "cron"]

[[rule]]
name = "reboot"
action = "allow"
path = "/usr/sbin/reboot"

[[rule]]
name = "systemd-programs"
action = "allow"
package = "systemd"

[[rule]]
name = "no-vim"
action = "deny"
path = "/usr/bin/vim.basic"
)";

CommandLine linked(std::string link, std::string real, bool trusted, std::vector<std::string> args = {},
                   bool verified_systemd = false) {
  CommandLine c = run(std::move(link), std::move(args));
  c.exe.real_path = std::move(real);
  c.exe.trusted_path = trusted;
  if (verified_systemd) c.exe.package = PackageFacts{"systemd", "Debian", "systemd team", true};
  return c;
}

TEST(Argv0, APathRuleForTheRealFileDoesNotCoverAnotherName) {
  const auto p = policy_of(kLinkPolicy);
  EXPECT_EQ(decide(*p, run("/usr/bin/systemctl", {"status", "cron"})), Action::kAllow);
  // Attacker: a user allowed `systemctl status cron`. Goal: run systemctl
  // as root under another personality (runlevel, halt, ...) through a
  // link, trusted or their own. Must hold: refused.
  EXPECT_EQ(decide(*p, linked("/usr/sbin/runlevel", "/usr/bin/systemctl", true, {"status", "cron"})), Action::kDeny);
  EXPECT_EQ(decide(*p, linked("/tmp/x/runlevel", "/usr/bin/systemctl", false, {"status", "cron"})), Action::kDeny);
}

TEST(Argv0, ARuleNamingTheLinkAllowsIt) {
  const auto p = policy_of(kLinkPolicy);
  EXPECT_EQ(decide(*p, linked("/usr/sbin/reboot", "/usr/bin/systemctl", true)), Action::kAllow);
  // The same name in a directory the user can change is not that link.
  EXPECT_EQ(decide(*p, linked("/usr/sbin/reboot", "/usr/bin/systemctl", false)), Action::kDeny);
}

TEST(Argv0, ContentAloneNeverGrantsAnotherName) {
  const auto p = policy_of(kLinkPolicy);
  // The package rule matches the file's content, but content says nothing
  // of the personality: neither a trusted link (halt) nor one the user made
  // is granted by it.
  EXPECT_EQ(decide(*p, linked("/usr/sbin/halt", "/usr/bin/systemctl", true, {}, true)), Action::kDeny);
  EXPECT_EQ(decide(*p, linked("/tmp/x/halt", "/usr/bin/systemctl", false, {}, true)), Action::kDeny);
  // Under its own name it is granted.
  CommandLine own = run("/usr/bin/systemctl");
  own.exe.package = PackageFacts{"systemd", "Debian", "systemd team", true};
  EXPECT_EQ(decide(*p, own), Action::kAllow);
  // any_command means any name.
  const auto any = policy_of(R"(version = 1
[[rule]]
name = "anything"
action = "allow"
any_command = true
)");
  EXPECT_EQ(decide(*any, linked("/usr/sbin/halt", "/usr/bin/systemctl", true)), Action::kAllow);
}

TEST(Argv0, ADenyRuleMatchesTheRealFileBehindALink) {
  const auto p = policy_of(R"(version = 1
[[rule]]
name = "no-vim"
action = "deny"
path = "/usr/bin/vim.basic"
[[rule]]
name = "editors"
action = "allow"
folder = "/usr/bin"
)");
  const FakeTimeZones zones;
  const Decision d = p->evaluate(alice(), linked("/usr/bin/view", "/usr/bin/vim.basic", true), kNoon, zones);
  EXPECT_EQ(d.action, Action::kDeny);
  ASSERT_NE(d.rule, nullptr);
  EXPECT_EQ(d.rule->name, "no-vim");
}

// ---------------------------------------------------------------------------
// Edits (sudoedit)

constexpr std::string_view kEditPolicy = R"(version = 1
[settings]
default_action = "request"

[[rule]]
name = "everything"
action = "allow"
any_command = true

[[rule]]
name = "hosts"
action = "allow"
edit = "/etc/hosts"

[[rule]]
name = "nginx"
action = "allow"
edit = ["/etc/nginx/*.conf"]
runas = ["root", "www-data"]

[[rule]]
name = "not-the-default-site"
action = "deny"
edit = "/etc/nginx/default.conf"
)";

Decision edit(const CompiledPolicy& p, std::vector<EditFile> files, RunAs runas = {}) {
  const FakeTimeZones zones;
  return p.evaluate_edit(alice(), files, runas, kNoon, zones);
}

TEST(Edit, AnEditRuleAllowsTheFilesItNames) {
  const auto p = policy_of(kEditPolicy);
  EXPECT_EQ(edit(*p, {{"/etc/hosts", true}}).action, Action::kAllow);
  EXPECT_EQ(edit(*p, {{"/etc/nginx/site.conf", true}}).action, Action::kAllow);
  EXPECT_EQ(edit(*p, {{"/etc/hosts", true}, {"/etc/nginx/a.conf", true}}).action, Action::kAllow);
  EXPECT_EQ(edit(*p, {{"/etc/nginx/site.conf", true}}, RunAs{"www-data", "", "www-data"}).action, Action::kAllow);
}

TEST(Edit, NothingElseAllowsAnEdit) {
  const auto p = policy_of(kEditPolicy);
  // Attacker: a user allowed some programs (even every program). Goal:
  // read or overwrite /etc/shadow through sudoedit, choosing an allowed
  // program as the editor. Must hold: an edit is decided on the files,
  // and only an edit rule naming the file allows it; default_action =
  // "request" does not make it a request.
  const Decision d = edit(*p, {{"/etc/shadow", true}});
  EXPECT_EQ(d.action, Action::kDeny);
  EXPECT_NE(d.reason.find("/etc/shadow"), std::string::npos) << d.reason;
  // Every file must be allowed.
  EXPECT_EQ(edit(*p, {{"/etc/hosts", true}, {"/etc/shadow", true}}).action, Action::kDeny);
  EXPECT_EQ(edit(*p, {{"/etc/nginx/sub/a.conf", true}}).action, Action::kDeny);
  EXPECT_EQ(edit(*p, {{"/etc/hosts", true}}, RunAs{"www-data", "", "www-data"}).action, Action::kDeny);
  EXPECT_EQ(edit(*p, {}).action, Action::kDeny);
}

TEST(Edit, AnUntrustedPathOrALinkIsNotAllowed) {
  const auto p = policy_of(kEditPolicy);
  EXPECT_EQ(edit(*p, {{"/etc/hosts", false}}).action, Action::kDeny);
}

TEST(Edit, DenyRulesComeFirst) {
  const auto p = policy_of(kEditPolicy);
  const Decision d = edit(*p, {{"/etc/nginx/default.conf", true}});
  EXPECT_EQ(d.action, Action::kDeny);
  ASSERT_NE(d.rule, nullptr);
  EXPECT_EQ(d.rule->name, "not-the-default-site");
  const auto all = policy_of(R"(version = 1
[[rule]]
name = "nothing"
action = "deny"
any_command = true
[[rule]]
name = "hosts"
action = "allow"
edit = "/etc/hosts"
)");
  EXPECT_EQ(edit(*all, {{"/etc/hosts", true}}).action, Action::kDeny);
}

TEST(Edit, EditRulesNeverDecideAProgram) {
  const auto p = policy_of(R"(version = 1
[settings]
default_action = "deny"
[[rule]]
name = "hosts"
action = "allow"
edit = "/etc/hosts"
)");
  EXPECT_EQ(decide(*p, run("/etc/hosts")), Action::kDeny);
  EXPECT_EQ(decide(*p, run("/usr/bin/vi", {"/etc/hosts"})), Action::kDeny);
}

TEST(Edit, ThePolicyFileChecksEditRules) {
  for (const std::string_view bad : {
           R"(version = 1
[[rule]]
name = "x"
action = "request"
edit = "/etc/hosts"
)",
           R"(version = 1
[[rule]]
name = "x"
action = "allow"
edit = "/etc/hosts"
path = "/usr/bin/vi"
)",
           R"(version = 1
[[rule]]
name = "x"
action = "allow"
edit = "etc/hosts"
)",
           R"(version = 1
[[rule]]
name = "x"
action = "allow"
edit = "/etc/../etc/hosts"
)",
           R"(version = 1
[[rule]]
name = "x"
action = "allow"
edit = []
)",
       }) {
    EXPECT_FALSE(errors_of(bad).empty()) << bad;
  }
  EXPECT_TRUE(errors_of(kEditPolicy).empty());
}

}  // namespace
}  // namespace hoist
