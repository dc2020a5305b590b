// The endpoint's decision (core/decide.h): the precedence of deny rules,
// allow rules, grants and the policy's default, what a command grant covers
// (core/grant.h), sessions and edits.
#include "core/decide.h"

#include <gtest/gtest.h>

#include "core/policy_file.h"
#include "core/sha256.h"
#include "test_support.h"

namespace hoist {
namespace {

const TimePoint kNow{Seconds{1'800'000'000}};

std::shared_ptr<const CompiledPolicy> compile(std::string_view text) {
  const test::FakeTimeZones zones;
  auto parsed = parse_policy(text, "test.toml", zones);
  EXPECT_TRUE(parsed.policy.has_value()) << (parsed.errors.empty() ? "" : parsed.errors.front().to_string());
  auto compiled = CompiledPolicy::compile(std::move(*parsed.policy));
  EXPECT_TRUE(compiled.ok());
  return *compiled;
}

constexpr std::string_view kPolicy = R"(version = 1
[settings]
default_action = "request"
approval_wait = "90s"
contact = "desk"

[[rule]]
name = "never"
action = "deny"
path = "/usr/bin/od"

[[rule]]
name = "ids"
action = "allow"
path = "/usr/bin/id"

[[rule]]
name = "installs"
action = "request"
path = "/usr/bin/apt-get"
max_duration = "2h"
default_duration = "30m"
)";

CheckFacts facts(const std::string& path, std::vector<std::string> args = {}) {
  CheckFacts f;
  f.subject = Subject{"alice", {"alice", "staff"}, {"web"}};
  f.command.exe.path = path;
  f.command.exe.trusted_path = true;
  f.command.exe.sha256 = sha256("contents of " + path);
  f.command.args = std::move(args);
  f.now = kNow;
  return f;
}

Grant command_grant(const std::string& path, std::vector<std::string> args, Seconds left = Seconds{600}) {
  Grant g;
  g.id = "req-1";
  g.user = "alice";
  g.uid = 1000;
  g.kind = GrantKind::kCommand;
  g.scope.command_path = path;
  g.scope.sha256 = sha256("contents of " + path).hex();
  g.scope.argv_patterns = std::move(args);
  g.start = kNow - Seconds{10};
  g.deadline = kNow + left;
  return g;
}

TEST(Decide, PolicyAloneDecides) {
  const test::FakeTimeZones zones;
  const auto policy = compile(kPolicy);
  auto allow = decide(policy.get(), {}, facts("/usr/bin/id"), zones);
  EXPECT_EQ(allow.action, Action::kAllow);
  EXPECT_EQ(allow.rule, "ids");
  EXPECT_EQ(allow.timeout_s, 0U);
  auto deny = decide(policy.get(), {}, facts("/usr/bin/od"), zones);
  EXPECT_EQ(deny.action, Action::kDeny);
  EXPECT_EQ(deny.contact, "desk");
  auto request = decide(policy.get(), {}, facts("/usr/bin/apt-get", {"install", "curl"}), zones);
  EXPECT_EQ(request.action, Action::kRequest);
  EXPECT_EQ(request.default_duration_s, 1800U);
  EXPECT_EQ(request.max_duration_s, 7200U);
  EXPECT_EQ(request.approval_wait_s, 90U);
  auto none = decide(nullptr, {}, facts("/usr/bin/id"), zones);
  EXPECT_EQ(none.action, Action::kDeny);
  EXPECT_NE(none.reason.find("no Hoist policy"), std::string::npos);
}

TEST(Decide, AGrantAllowsExactlyItsCommandForItsTimeLeft) {
  const test::FakeTimeZones zones;
  const auto policy = compile(kPolicy);
  const std::vector<Grant> grants = {command_grant("/usr/bin/apt-get", {"install", "curl"})};
  auto granted = decide(policy.get(), grants, facts("/usr/bin/apt-get", {"install", "curl"}), zones);
  EXPECT_EQ(granted.action, Action::kAllow);
  EXPECT_EQ(granted.grant_id, "req-1");
  EXPECT_EQ(granted.timeout_s, 600U);
  EXPECT_FALSE(granted.record_processes);
  // Other arguments, another file at the path, another program: not covered.
  EXPECT_EQ(decide(policy.get(), grants, facts("/usr/bin/apt-get", {"purge", "curl"}), zones).action, Action::kRequest);
  auto swapped = facts("/usr/bin/apt-get", {"install", "curl"});
  swapped.command.exe.sha256 = sha256("something else");
  EXPECT_EQ(decide(policy.get(), grants, swapped, zones).action, Action::kRequest);
  EXPECT_EQ(decide(policy.get(), grants, facts("/usr/bin/dpkg"), zones).action, Action::kRequest);
  // A deny rule beats any grant.
  const std::vector<Grant> od = {command_grant("/usr/bin/od", {})};
  EXPECT_EQ(decide(policy.get(), od, facts("/usr/bin/od"), zones).action, Action::kDeny);
}

TEST(Decide, ExpiredOrRevokedGrantsDoNotCount) {
  const auto expired = command_grant("/usr/bin/apt-get", {}, Seconds{0});
  auto revoked = command_grant("/usr/bin/apt-get", {});
  revoked.revoked_at = kNow - Seconds{1};
  EXPECT_EQ(covering_grant({expired, revoked}, facts("/usr/bin/apt-get").command, kNow), nullptr);
  const auto live = command_grant("/usr/bin/apt-get", {}, Seconds{5});
  EXPECT_EQ(covering_grant({expired, live}, facts("/usr/bin/apt-get").command, kNow)->deadline, live.deadline);
}

TEST(Decide, ASessionGrantCoversEveryCommandAndRecordsThem) {
  const test::FakeTimeZones zones;
  const auto policy = compile(kPolicy);
  Grant session;
  session.id = "req-2";
  session.uid = 1000;
  session.kind = GrantKind::kSession;
  session.deadline = kNow + Seconds{1200};
  auto d = decide(policy.get(), {session}, facts("/usr/bin/dpkg", {"-i", "x.deb"}), zones);
  EXPECT_EQ(d.action, Action::kAllow);
  EXPECT_EQ(d.grant_id, "req-2");
  EXPECT_TRUE(d.record_processes);
  EXPECT_EQ(d.timeout_s, 1200U);
  // An allowed command is recorded too while the session is in force, but
  // not bounded by it.
  auto allowed = decide(policy.get(), {session}, facts("/usr/bin/id"), zones);
  EXPECT_EQ(allowed.action, Action::kAllow);
  EXPECT_EQ(allowed.rule, "ids");
  EXPECT_EQ(allowed.grant_id, "req-2");
  EXPECT_TRUE(allowed.record_processes);
  EXPECT_EQ(allowed.timeout_s, 0U);
  // Under a default deny, a session still covers what no rule names; a
  // command grant does not (its request rule is gone).
  auto deny_policy = std::string(kPolicy);
  deny_policy.replace(deny_policy.find("default_action = \"request\""), 26, "default_action = \"deny\"   ");
  const auto strict = compile(deny_policy);
  EXPECT_EQ(decide(strict.get(), {session}, facts("/usr/bin/dpkg", {"-i", "x.deb"}), zones).action, Action::kAllow);
  auto orphan = session;
  orphan.kind = GrantKind::kCommand;
  orphan.scope.command_path = "/usr/bin/dpkg";
  orphan.scope.argv_patterns = {"-i", "x.deb"};
  EXPECT_EQ(decide(strict.get(), {orphan}, facts("/usr/bin/dpkg", {"-i", "x.deb"}), zones).action, Action::kDeny);
  // Ended: nothing is recorded any more, and the rest needs a request again.
  session.revoked_at = kNow - Seconds{1};
  EXPECT_FALSE(decide(policy.get(), {session}, facts("/usr/bin/id"), zones).record_processes);
  EXPECT_EQ(decide(policy.get(), {session}, facts("/usr/bin/dpkg", {"-i", "x.deb"}), zones).action, Action::kRequest);
}

TEST(Decide, AGrantHoldsForItsTargetUserAndGroupAlone) {
  const test::FakeTimeZones zones;
  const auto policy = compile(kPolicy);
  auto as_postgres = command_grant("/usr/bin/apt-get", {"install", "curl"});
  as_postgres.scope.runas_user = "postgres";
  const std::vector<Grant> grants = {as_postgres};
  auto f = facts("/usr/bin/apt-get", {"install", "curl"});
  // Asked as root: the grant for postgres does not cover it.
  EXPECT_EQ(decide(policy.get(), grants, f, zones).action, Action::kRequest);
  f.command.runas.user = "postgres";
  EXPECT_EQ(decide(policy.get(), grants, f, zones).action, Action::kAllow);
  f.command.runas.group = "dba";
  EXPECT_EQ(decide(policy.get(), grants, f, zones).action, Action::kRequest);
}

TEST(Decide, AnEditIsDecidedOnItsFilesAndASessionMayEditAnything) {
  const test::FakeTimeZones zones;
  const auto policy = compile(R"(version = 1
[settings]
default_action = "request"
[[rule]]
name = "hosts"
action = "allow"
edit = "/etc/hosts"
[[rule]]
name = "never-shadow"
action = "deny"
edit = "/etc/shadow"
[[rule]]
name = "editors"
action = "allow"
any_command = true
)");
  auto edit = [](std::vector<std::string> files) {
    CheckFacts f;
    f.subject = Subject{"alice", {"alice"}, {}};
    f.now = kNow;
    std::vector<EditFile> e;
    for (auto& p : files) e.push_back(EditFile{std::move(p), true});
    f.edit = std::move(e);
    return f;
  };
  EXPECT_EQ(decide(policy.get(), {}, edit({"/etc/hosts"}), zones).action, Action::kAllow);
  // Not a request, whatever default_action says; any_command does not help.
  EXPECT_EQ(decide(policy.get(), {}, edit({"/etc/passwd"}), zones).action, Action::kDeny);
  // A command grant never covers an edit; a session does, but not past a
  // deny rule.
  const std::vector<Grant> command = {command_grant("/usr/bin/vi", {"/etc/passwd"})};
  EXPECT_EQ(decide(policy.get(), command, edit({"/etc/passwd"}), zones).action, Action::kDeny);
  Grant session;
  session.id = "req-9";
  session.uid = 1000;
  session.kind = GrantKind::kSession;
  session.deadline = kNow + Seconds{1200};
  const auto in_session = decide(policy.get(), {session}, edit({"/etc/passwd"}), zones);
  EXPECT_EQ(in_session.action, Action::kAllow);
  EXPECT_EQ(in_session.grant_id, "req-9");
  EXPECT_EQ(decide(policy.get(), {session}, edit({"/etc/shadow"}), zones).action, Action::kDeny);
}

}  // namespace
}  // namespace hoist
