#include "core/policy_merge.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/evaluator.h"
#include "core/policy_file.h"
#include "test_support.h"

namespace hoist {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using test::FakeTimeZones;

// Noon UTC on a Wednesday and on a Saturday.
constexpr TimePoint kWednesdayNoon{std::chrono::sys_days{std::chrono::year{2024} / 1 / 3} + std::chrono::hours{12}};
constexpr TimePoint kSaturdayNoon{std::chrono::sys_days{std::chrono::year{2024} / 1 / 6} + std::chrono::hours{12}};

// Settings unlike web's below, and a rule that overrides each of them.
const char* const kOps = R"(version = 1

[settings]
default_action = "request"
default_duration = "30m"
max_duration = "8h"
approval_wait = "5m"
request_expiry = "2d"
contact = "ops@example.com"
self_approval_groups = ["oncall", "sre"]
reauthenticate = true

[[rule]]
name = "apt"
action = "allow"
path = "/usr/bin/apt"

[[rule]]
name = "rm"
action = "deny"
path = "/usr/bin/rm"

[[rule]]
name = "tools"
action = "request"
folder = "/opt/tools"
approval = "autonomous"

[[rule]]
name = "journal"
action = "request"
path = "/usr/bin/journalctl"
approval = "autonomous"
max_duration = "4h"

[[rule]]
name = "systemctl"
action = "request"
path = "/usr/bin/systemctl"
approval = "self"
max_duration = "2h"
default_duration = "1h"
reauthenticate = false

[[rule]]
name = "weekend"
action = "deny"
path = "/usr/bin/systemctl"
days = "sat,sun"
timezone = "Test/Plus2"

[[auto_approval]]
name = "tools-for-dave"
users = ["dave"]
rules = ["tools"]
max_duration = "1h"

[[auto_approval]]
name = "any-ops"
groups = ["ops"]
max_duration = "30m"
)";

const char* const kWeb = R"(version = 1

[settings]
default_action = "deny"
default_duration = "10m"
max_duration = "12h"
approval_wait = "1m"
request_expiry = "1d"
self_approval_groups = ["sre", "web", "sre"]

[[rule]]
name = "apt"
action = "deny"
path = "/usr/bin/apt"

[[rule]]
name = "deploy"
action = "request"
path = "/usr/local/bin/deploy"
approval = "autonomous"

[[rule]]
name = "tools"
action = "request"
folder = "/opt/tools"

[[auto_approval]]
name = "deployers"
groups = ["web"]
rules = ["deploy"]
max_duration = "2h"

[[auto_approval]]
name = "anything-for-dave"
users = ["dave"]
max_duration = "8h"
)";

// Only manual approval, and an auto-approval for "any autonomous rule".
const char* const kDb = R"(version = 1

[settings]
contact = "dba@example.com"
approval_wait = "10m"

[[rule]]
name = "psql"
action = "request"
path = "/usr/bin/psql"

[[auto_approval]]
name = "all-for-erin"
users = ["erin"]
max_duration = "1h"
)";

Policy parse(const std::string& text) {
  const FakeTimeZones zones;
  auto r = parse_policy(text, "policy.toml", zones);
  if (!r.policy) {
    std::string all;
    for (const auto& e : r.errors) all += e.to_string() + "\n";
    throw std::runtime_error("test policy does not parse:\n" + all);
  }
  return std::move(*r.policy);
}

NamedPolicy named(std::string name, const char* text) {
  return NamedPolicy{std::move(name), 1, parse(text)};
}

std::shared_ptr<const CompiledPolicy> compile(Policy p) {
  auto c = CompiledPolicy::compile(std::move(p));
  if (!c.ok()) throw std::runtime_error("policy did not compile: " + c.error().message);
  return *c;
}

std::shared_ptr<const CompiledPolicy> merged(const std::vector<NamedPolicy>& policies) {
  auto m = merge_policies(policies);
  if (!m.ok()) throw std::runtime_error("merge failed: " + m.error().message);
  return compile(std::move(*m));
}

CommandLine command(std::string path) {
  CommandLine c;
  c.exe.path = std::move(path);
  c.exe.trusted_path = true;
  return c;
}

Subject dave() {
  return Subject{"dave", {"dave", "ops", "oncall"}, {"laptops"}};
}
Subject erin() {
  return Subject{"erin", {"erin", "web", "sre"}, {"servers"}};
}

std::string rule_name(const Decision& d) {
  return d.rule == nullptr ? std::string("(default)") : d.rule->name;
}

std::string auto_name(const AutoApproval* a) {
  return a == nullptr ? std::string("(none)") : a->name;
}

// Expects the merged decision to be the original's, with rule and
// auto-approval names prefixed by "<policy>/".
void expect_same_decision(const CompiledPolicy& original, const CompiledPolicy& merged_policy,
                          const std::string& policy_name, const Subject& subject, const CommandLine& cmd,
                          TimePoint now) {
  const FakeTimeZones zones;
  const Decision o = original.evaluate(subject, cmd, now, zones);
  const Decision m = merged_policy.evaluate(subject, cmd, now, zones);
  const std::string what = subject.user + " runs " + cmd.exe.path;
  EXPECT_EQ(m.action, o.action) << what;
  EXPECT_EQ(rule_name(m), o.rule == nullptr ? "(default)" : policy_name + "/" + o.rule->name) << what;
  EXPECT_EQ(m.approval, o.approval) << what;
  EXPECT_EQ(m.default_duration, o.default_duration) << what;
  EXPECT_EQ(m.max_duration, o.max_duration) << what;
  EXPECT_EQ(m.reauthenticate, o.reauthenticate) << what;
  EXPECT_EQ(m.self_approval_allowed, o.self_approval_allowed) << what;
  if (o.rule == nullptr || m.rule == nullptr) return;
  for (const Seconds duration : {Seconds{minutes{10}}, Seconds{minutes{45}}, Seconds{hours{2}}}) {
    const AutoApproval* oa = original.find_auto_approval(subject, *o.rule, duration, now, zones);
    const AutoApproval* ma = merged_policy.find_auto_approval(subject, *m.rule, duration, now, zones);
    EXPECT_EQ(auto_name(ma), oa == nullptr ? "(none)" : policy_name + "/" + oa->name)
        << what << " for " << duration.count() << "s";
  }
}

constexpr std::array<std::string_view, 8> kPaths = {
    "/usr/bin/apt",       "/usr/bin/rm",           "/opt/tools/fix", "/usr/bin/journalctl",
    "/usr/bin/systemctl", "/usr/local/bin/deploy", "/usr/bin/psql",  "/usr/bin/unknown-tool"};

TEST(MergePolicies, OnePolicyDecidesAsItself) {
  for (const auto& [name, text] : {std::pair{"ops", kOps}, std::pair{"web", kWeb}, std::pair{"db", kDb}}) {
    const auto original = compile(parse(text));
    const auto merged_policy = merged({named(name, text)});
    for (const auto& subject : {dave(), erin(), Subject{"mallory", {"mallory"}, {}}}) {
      for (const auto& path : kPaths) {
        for (const auto now : {kWednesdayNoon, kSaturdayNoon}) {
          expect_same_decision(*original, *merged_policy, name, subject, command(std::string(path)), now);
        }
      }
    }
  }
}

TEST(MergePolicies, OnePolicyKeepsItsSettings) {
  const Policy ops = parse(kOps);
  const auto m = merge_policies({named("ops", kOps)});
  ASSERT_TRUE(m.ok()) << m.error().message;
  const Settings& s = m->settings;
  EXPECT_EQ(s.default_action, ops.settings.default_action);
  EXPECT_EQ(s.default_duration, ops.settings.default_duration);
  EXPECT_EQ(s.max_duration, ops.settings.max_duration);
  EXPECT_EQ(s.approval_wait, ops.settings.approval_wait);
  EXPECT_EQ(s.request_expiry, ops.settings.request_expiry);
  EXPECT_EQ(s.contact, ops.settings.contact);
  EXPECT_EQ(s.self_approval_groups, ops.settings.self_approval_groups);
  EXPECT_EQ(s.reauthenticate, ops.settings.reauthenticate);
}

TEST(MergePolicies, RulesAreRenamedAndConcatenatedInInputOrder) {
  const auto m = merge_policies({named("ops", kOps), named("web", kWeb)});
  ASSERT_TRUE(m.ok()) << m.error().message;
  std::vector<std::string> names;
  for (const auto& r : m->rules) names.push_back(r.name);
  EXPECT_EQ(names, (std::vector<std::string>{"ops/apt", "ops/rm", "ops/tools", "ops/journal", "ops/systemctl",
                                             "ops/weekend", "web/apt", "web/deploy", "web/tools"}));
  EXPECT_EQ(m->version, kPolicyFormatVersion);
}

TEST(MergePolicies, DenyInOnePolicyBeatsAllowInAnother) {
  const FakeTimeZones zones;
  for (const auto& order :
       {std::vector{named("ops", kOps), named("web", kWeb)}, std::vector{named("web", kWeb), named("ops", kOps)}}) {
    const auto policy = merged(order);
    const Decision d = policy->evaluate(dave(), command("/usr/bin/apt"), kWednesdayNoon, zones);
    EXPECT_EQ(d.action, Action::kDeny) << d.reason;
    EXPECT_EQ(rule_name(d), "web/apt");
    EXPECT_EQ(d.reason, "rule \"web/apt\" denies it");
  }
}

TEST(MergePolicies, InputOrderDecidesBetweenRequestRules) {
  // Both policies have a request rule for /opt/tools; the first listed wins.
  const FakeTimeZones zones;
  const auto ops_first = merged({named("ops", kOps), named("web", kWeb)});
  const Decision a = ops_first->evaluate(dave(), command("/opt/tools/fix"), kWednesdayNoon, zones);
  EXPECT_EQ(rule_name(a), "ops/tools");
  EXPECT_EQ(a.approval, ApprovalMode::kAutonomous);
  const auto web_first = merged({named("web", kWeb), named("ops", kOps)});
  const Decision b = web_first->evaluate(dave(), command("/opt/tools/fix"), kWednesdayNoon, zones);
  EXPECT_EQ(rule_name(b), "web/tools");
  EXPECT_EQ(b.approval, ApprovalMode::kManual);
}

TEST(MergePolicies, SettingsAreTheMostRestrictive) {
  const auto m = merge_policies({named("db", kDb), named("ops", kOps), named("web", kWeb)});
  ASSERT_TRUE(m.ok()) << m.error().message;
  const Settings& s = m->settings;
  EXPECT_EQ(s.default_action, Action::kDeny);
  EXPECT_EQ(s.default_duration, minutes{10});
  EXPECT_EQ(s.max_duration, hours{8});
  EXPECT_EQ(s.approval_wait, minutes{1});
  EXPECT_EQ(s.request_expiry, hours{24});
  EXPECT_EQ(s.contact, "dba@example.com");
  EXPECT_TRUE(s.self_approval_groups.empty());  // db allows no group
  EXPECT_TRUE(s.reauthenticate);

  const FakeTimeZones zones;
  const auto policy = compile(*m);
  const Decision d = policy->evaluate(dave(), command("/usr/bin/unknown-tool"), kWednesdayNoon, zones);
  EXPECT_EQ(d.action, Action::kDeny);
  EXPECT_EQ(d.rule, nullptr);
}

TEST(MergePolicies, SettingsOfTwoPolicies) {
  const auto m = merge_policies({named("ops", kOps), named("db", kDb)});
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->settings.default_action, Action::kRequest);
  EXPECT_EQ(m->settings.default_duration, minutes{15});  // db's default
  EXPECT_EQ(m->settings.contact, "ops@example.com");
  EXPECT_EQ(m->settings.approval_wait, minutes{5});
  EXPECT_TRUE(m->settings.self_approval_groups.empty());

  const auto w = merge_policies({named("ops", kOps), named("web", kWeb)});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->settings.self_approval_groups, std::vector<std::string>{"sre"});
  EXPECT_EQ(w->settings.contact, "ops@example.com");
}

TEST(MergePolicies, SelfApprovalGroupsIntersectionHasNoDuplicates) {
  const auto m = merge_policies({named("web", kWeb)});
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->settings.self_approval_groups, (std::vector<std::string>{"sre", "web"}));
}

TEST(MergePolicies, DefaultDurationIsCappedByTheMergedMaximum) {
  Policy short_max;
  short_max.settings.max_duration = minutes{5};
  short_max.settings.default_duration = minutes{5};
  Policy long_default;
  long_default.settings.default_duration = hours{1};
  const auto m = merge_policies({{"a", 1, long_default}, {"b", 1, short_max}});
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->settings.max_duration, minutes{5});
  EXPECT_EQ(m->settings.default_duration, minutes{5});
}

TEST(MergePolicies, RulesKeepTheirOwnPolicysDefaults) {
  const FakeTimeZones zones;
  const auto policy = merged({named("ops", kOps), named("web", kWeb)});

  // ops/tools sets nothing itself: 30m and ops' reauthenticate, not web's
  // 10m and no reauthentication.
  const Decision tools = policy->evaluate(dave(), command("/opt/tools/fix"), kWednesdayNoon, zones);
  EXPECT_EQ(rule_name(tools), "ops/tools");
  EXPECT_EQ(tools.default_duration, minutes{30});
  EXPECT_EQ(tools.max_duration, hours{8});
  EXPECT_TRUE(tools.reauthenticate);

  // An explicit "reauthenticate = false" overrides ops' settings, also
  // merged with a policy that has reauthenticate = any.
  const Decision systemctl = policy->evaluate(dave(), command("/usr/bin/systemctl"), kWednesdayNoon, zones);
  EXPECT_EQ(rule_name(systemctl), "ops/systemctl");
  EXPECT_FALSE(systemctl.reauthenticate);
  EXPECT_EQ(systemctl.default_duration, hours{1});
  EXPECT_EQ(systemctl.max_duration, hours{2});
  // ops' self_approval_groups, although "oncall" is not in the merged ones.
  EXPECT_TRUE(systemctl.self_approval_allowed);
  const Subject mallory{"mallory", {"mallory", "web"}, {}};
  EXPECT_FALSE(policy->evaluate(mallory, command("/usr/bin/systemctl"), kWednesdayNoon, zones).self_approval_allowed);

  // web/deploy: web's 10m default and web's reauthenticate (false) although
  // the merged settings say 10m and true.
  const Decision deploy = policy->evaluate(erin(), command("/usr/local/bin/deploy"), kWednesdayNoon, zones);
  EXPECT_EQ(rule_name(deploy), "web/deploy");
  EXPECT_EQ(deploy.default_duration, minutes{10});
  EXPECT_FALSE(deploy.reauthenticate);

  // The time window of ops/weekend still applies in its zone.
  const Decision weekend = policy->evaluate(dave(), command("/usr/bin/systemctl"), kSaturdayNoon, zones);
  EXPECT_EQ(weekend.action, Action::kDeny);
  EXPECT_EQ(rule_name(weekend), "ops/weekend");
}

TEST(MergePolicies, RuleDefaultsAreWrittenIntoEveryRule) {
  const auto m = merge_policies({named("ops", kOps), named("web", kWeb)});
  ASSERT_TRUE(m.ok()) << m.error().message;
  const auto find = [&](const std::string& name) -> const Rule& {
    for (const auto& r : m->rules) {
      if (r.name == name) return r;
    }
    throw std::runtime_error("no rule " + name);
  };
  EXPECT_EQ(find("ops/tools").max_duration, hours{8});
  EXPECT_EQ(find("ops/tools").default_duration, minutes{30});
  EXPECT_EQ(find("ops/journal").max_duration, hours{4});
  EXPECT_EQ(find("ops/journal").default_duration, minutes{30});
  EXPECT_EQ(find("web/deploy").max_duration, hours{12});
  EXPECT_EQ(find("web/deploy").default_duration, minutes{10});
  EXPECT_EQ(find("ops/systemctl").self_approval_groups, (std::vector<std::string>{"oncall", "sre"}));
}

TEST(MergePolicies, RuleMaximumIsCappedByTheShortestPolicyMaximum) {
  // LIMITATION (policy_merge.h): the evaluator caps every rule by
  // settings.max_duration, which the merge makes the minimum. web/deploy may
  // be granted for 12h under web alone, for 8h once merged with ops.
  const FakeTimeZones zones;
  const Decision alone =
      compile(parse(kWeb))->evaluate(erin(), command("/usr/local/bin/deploy"), kWednesdayNoon, zones);
  EXPECT_EQ(alone.max_duration, hours{12});
  const Decision together = merged({named("ops", kOps), named("web", kWeb)})
                                ->evaluate(erin(), command("/usr/local/bin/deploy"), kWednesdayNoon, zones);
  EXPECT_EQ(together.max_duration, hours{8});
  EXPECT_EQ(together.default_duration, minutes{10});
}

TEST(MergePolicies, AutoApprovalsCoverOnlyRulesOfTheirOwnPolicy) {
  const FakeTimeZones zones;
  const auto m = merge_policies({named("db", kDb), named("ops", kOps), named("web", kWeb)});
  ASSERT_TRUE(m.ok()) << m.error().message;
  std::vector<std::string> names;
  for (const auto& a : m->auto_approvals) names.push_back(a.name);
  // db/all-for-erin covered "any autonomous rule" and db has none: dropped.
  EXPECT_EQ(names,
            (std::vector<std::string>{"ops/tools-for-dave", "ops/any-ops", "web/deployers", "web/anything-for-dave"}));
  EXPECT_EQ(m->auto_approvals[0].rules, std::vector<std::string>{"ops/tools"});
  EXPECT_EQ(m->auto_approvals[1].rules, (std::vector<std::string>{"ops/tools", "ops/journal"}));
  EXPECT_EQ(m->auto_approvals[2].rules, std::vector<std::string>{"web/deploy"});
  EXPECT_EQ(m->auto_approvals[3].rules, std::vector<std::string>{"web/deploy"});

  const auto policy = compile(*m);
  const Rule* deploy = policy->find_rule("web/deploy");
  const Rule* tools = policy->find_rule("ops/tools");
  const Rule* journal = policy->find_rule("ops/journal");
  ASSERT_NE(deploy, nullptr);
  ASSERT_NE(tools, nullptr);
  ASSERT_NE(journal, nullptr);
  // dave is in "ops": ops/any-ops would have covered web/deploy without the
  // rewrite; web's own entry for dave applies instead.
  const Subject ops_member{"carol", {"carol", "ops"}, {}};
  EXPECT_EQ(auto_name(policy->find_auto_approval(ops_member, *deploy, minutes{10}, kWednesdayNoon, zones)), "(none)");
  EXPECT_EQ(auto_name(policy->find_auto_approval(ops_member, *journal, minutes{10}, kWednesdayNoon, zones)),
            "ops/any-ops");
  EXPECT_EQ(auto_name(policy->find_auto_approval(dave(), *deploy, hours{3}, kWednesdayNoon, zones)),
            "web/anything-for-dave");
  // web's entries do not reach ops' rules.
  EXPECT_EQ(auto_name(policy->find_auto_approval(dave(), *journal, hours{3}, kWednesdayNoon, zones)), "(none)");
  EXPECT_EQ(auto_name(policy->find_auto_approval(erin(), *tools, minutes{10}, kWednesdayNoon, zones)), "(none)");
  EXPECT_EQ(auto_name(policy->find_auto_approval(erin(), *deploy, minutes{10}, kWednesdayNoon, zones)),
            "web/deployers");
}

TEST(MergePolicies, NothingAssignedGrantsNothing) {
  const auto m = merge_policies({});
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->settings.default_action, Action::kDeny);
  EXPECT_TRUE(m->rules.empty());
  EXPECT_TRUE(m->auto_approvals.empty());
  const FakeTimeZones zones;
  const auto policy = compile(*m);
  for (const auto& path : kPaths) {
    EXPECT_EQ(policy->evaluate(dave(), command(std::string(path)), kWednesdayNoon, zones).action, Action::kDeny)
        << path;
  }
}

struct BadInput {
  std::string what;
  std::vector<NamedPolicy> policies;
  std::string message_part;
};

TEST(MergePolicies, RefusesBadNamesAndDuplicates) {
  Policy future;
  future.version = kPolicyFormatVersion + 1;
  const std::vector<BadInput> cases = {
      {"empty name", {{"", 1, Policy{}}}, "empty name"},
      {"slash", {{"ops/extra", 1, Policy{}}}, "policy \"ops/extra\""},
      {"space", {{"ops team", 1, Policy{}}}, "policy \"ops team\""},
      {"tab", {{"ops\tteam", 1, Policy{}}}, "whitespace"},
      {"newline", {{"ops\n", 1, Policy{}}}, "whitespace"},
      {"control character", {{"ops\x01", 1, Policy{}}}, "control character"},
      {"duplicate",
       {{"ops", 1, Policy{}}, {"web", 1, Policy{}}, {"ops", 2, Policy{}}},
       "policy \"ops\" is listed twice"},
      {"unknown format version", {{"ops", 1, future}}, "policy \"ops\": format version 2"},
      {"bad name after good ones", {{"a", 1, Policy{}}, {"b/c", 1, Policy{}}}, "policy \"b/c\""},
  };
  for (const auto& c : cases) {
    const auto m = merge_policies(c.policies);
    ASSERT_FALSE(m.ok()) << c.what;
    EXPECT_EQ(m.error().code, ErrorCode::kInvalidArgument) << c.what;
    EXPECT_NE(m.error().message.find(c.message_part), std::string::npos) << c.what << ": " << m.error().message;
  }
}

TEST(MergePolicies, NamesWithDotsDashesAndUnderscoresAreFine) {
  const auto m = merge_policies({named("ops.team-1_a", kOps)});
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->rules.front().name, "ops.team-1_a/apt");
}

}  // namespace
}  // namespace hoist
