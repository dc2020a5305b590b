#include "core/policy_file.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/evaluator.h"
#include "test_support.h"

namespace hoist {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using test::FakeTimeZones;

const std::string kDigest1 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kDigest2 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";

PolicyParseResult parse(const std::string& text) {
  const FakeTimeZones zones;
  return parse_policy(text, "policy.toml", zones);
}

std::string all_errors(const PolicyParseResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.to_string() + "\n";
  return out;
}

// A policy that uses every field the format has.
const std::string kFullPolicy = R"(version = 1

[settings]
default_action = "deny"
default_duration = "30m"
max_duration = "1d"
approval_wait = "5m"
request_expiry = "2d"
contact = "helpdesk@example.com"
self_approval_groups = ["oncall"]
reauthenticate = true

[[rule]]
name = "apt-by-hash"
description = "Pinned apt binary"
action = "allow"
sha256 = [")" + kDigest1 + R"(", ")" +
                                kDigest2 + R"("]
path = "/usr/bin/apt"
users = ["alice"]
groups = ["admins"]
labels = ["laptops", "desktops"]
reauthenticate = false

[[rule]]
name = "local-tools"
action = "request"
folder = "/opt/tools"
approval = "autonomous"
max_duration = "2h"
default_duration = "20m"
days = "mon-fri"
hours = "08:00-18:00"
timezone = "Test/Plus2"

[[rule]]
name = "helpers"
action = "deny"
path_glob = "/usr/lib/*/helper-[!x]*"

[[rule]]
name = "debian-pkgs"
action = "request"
package = "lib*"
origin = "Debian"
maintainer = "*@debian.org>"
verified = true
approval = "self"
self_approval_groups = ["sre", "dba"]

[[rule]]
name = "verified-only"
action = "allow"
verified = true
args = ["install", "*", "..."]

[[rule]]
name = "systemctl"
action = "request"
path = "/usr/bin/systemctl"
args_regex = ["restart|status", "[a-z-]+\\.service"]
approval = "self"

[[rule]]
name = "session"
action = "request"
any_command = true
days = "fri"
hours = "22:00-06:00"

[[auto_approval]]
name = "ops-office"
description = "Ops may restart their tools in office hours"
users = ["dave"]
groups = ["ops"]
rules = ["local-tools"]
max_duration = "1h"
days = "mon-fri"
hours = "09:00-17:00"
timezone = "UTC"
)";

TEST(PolicyFile, HostsAreReadInLowerCase) {
  const FakeTimeZones zones;
  auto parsed = parse_policy(
      "version = 1\n[[rule]]\nname = \"one\"\naction = \"allow\"\npath = \"/bin/x\"\n"
      "hosts = [\"Laptop-7\", \"db-1.example.com\"]\n",
      "hosts.toml", zones);
  ASSERT_TRUE(parsed.policy.has_value()) << (parsed.errors.empty() ? "" : parsed.errors.front().to_string());
  EXPECT_EQ(parsed.policy->rules.at(0).scope.hosts, (std::vector<std::string>{"laptop-7", "db-1.example.com"}));
}

TEST(PolicyFile, FullPolicyParsesEveryField) {
  const auto r = parse(kFullPolicy);
  ASSERT_TRUE(r.errors.empty()) << all_errors(r);
  ASSERT_TRUE(r.policy.has_value());
  const Policy& p = *r.policy;
  EXPECT_EQ(p.version, 1);

  const Settings& s = p.settings;
  EXPECT_EQ(s.default_action, Action::kDeny);
  EXPECT_EQ(s.default_duration, minutes{30});
  EXPECT_EQ(s.max_duration, hours{24});
  EXPECT_EQ(s.approval_wait, minutes{5});
  EXPECT_EQ(s.request_expiry, hours{48});
  EXPECT_EQ(s.contact, "helpdesk@example.com");
  EXPECT_EQ(s.self_approval_groups, std::vector<std::string>{"oncall"});
  EXPECT_TRUE(s.reauthenticate);

  ASSERT_EQ(p.rules.size(), 7U);
  const Rule& apt = p.rules[0];
  EXPECT_EQ(apt.name, "apt-by-hash");
  EXPECT_EQ(apt.description, "Pinned apt binary");
  EXPECT_EQ(apt.action, Action::kAllow);
  ASSERT_EQ(apt.match.sha256.size(), 2U);
  EXPECT_EQ(apt.match.sha256[0], sha256("abc"));
  EXPECT_EQ(apt.match.sha256[1], sha256(""));  // uppercase hex accepted
  EXPECT_EQ(apt.match.path, "/usr/bin/apt");
  EXPECT_EQ(apt.scope.users, std::vector<std::string>{"alice"});
  EXPECT_EQ(apt.scope.groups, std::vector<std::string>{"admins"});
  EXPECT_EQ(apt.scope.labels, (std::vector<std::string>{"laptops", "desktops"}));
  EXPECT_FALSE(apt.reauthenticate);  // the rule overrides [settings]
  EXPECT_EQ(apt.line, 13);

  const Rule& tools = p.rules[1];
  EXPECT_EQ(tools.action, Action::kRequest);
  EXPECT_EQ(tools.match.folder, "/opt/tools");
  EXPECT_EQ(tools.approval, ApprovalMode::kAutonomous);
  EXPECT_EQ(tools.max_duration, hours{2});
  EXPECT_EQ(tools.default_duration, minutes{20});
  EXPECT_TRUE(tools.reauthenticate);                                          // inherited from [settings]
  EXPECT_EQ(tools.self_approval_groups, std::vector<std::string>{"oncall"});  // inherited
  ASSERT_TRUE(tools.scope.when.has_value());
  EXPECT_EQ(tools.scope.when->days, 0x1f);
  EXPECT_EQ(tools.scope.when->start_minute, 8 * 60);
  EXPECT_EQ(tools.scope.when->end_minute, 18 * 60);
  EXPECT_EQ(tools.scope.when->zone, "Test/Plus2");

  const Rule& helpers = p.rules[2];
  EXPECT_EQ(helpers.action, Action::kDeny);
  ASSERT_TRUE(helpers.match.path_glob.has_value());
  EXPECT_EQ(helpers.match.path_glob->source(), "/usr/lib/*/helper-[!x]*");
  EXPECT_TRUE(helpers.match.path_glob->matches("/usr/lib/a/helper-y"));
  EXPECT_FALSE(helpers.match.path_glob->matches("/usr/lib/a/b/helper-y"));

  const Rule& pkgs = p.rules[3];
  ASSERT_TRUE(pkgs.match.package.has_value());
  EXPECT_TRUE(pkgs.match.package->matches("libc6"));
  ASSERT_TRUE(pkgs.match.origin.has_value());
  EXPECT_EQ(pkgs.match.origin->source(), "Debian");
  ASSERT_TRUE(pkgs.match.maintainer.has_value());
  EXPECT_TRUE(pkgs.match.maintainer->matches("X <x@debian.org>"));
  EXPECT_TRUE(pkgs.match.verified);
  EXPECT_EQ(pkgs.approval, ApprovalMode::kSelf);
  EXPECT_EQ(pkgs.self_approval_groups, (std::vector<std::string>{"sre", "dba"}));

  const Rule& verified = p.rules[4];
  EXPECT_TRUE(verified.match.verified);
  ASSERT_TRUE(verified.match.args.has_value());
  EXPECT_EQ(verified.match.args->patterns.size(), 2U);
  EXPECT_TRUE(verified.match.args->rest_allowed);
  EXPECT_TRUE(verified.match.args->patterns[1].matches("/tmp/x.deb"));  // '*' in args crosses '/'

  const Rule& systemctl = p.rules[5];
  ASSERT_TRUE(systemctl.match.args.has_value());
  ASSERT_EQ(systemctl.match.args->patterns.size(), 2U);
  EXPECT_FALSE(systemctl.match.args->rest_allowed);
  EXPECT_EQ(systemctl.match.args->patterns[0].kind(), StringMatcher::Kind::kRegex);
  EXPECT_TRUE(systemctl.match.args->patterns[1].matches("nginx.service"));
  EXPECT_FALSE(systemctl.match.args->patterns[1].matches("nginx.service;x"));
  EXPECT_EQ(systemctl.approval, ApprovalMode::kSelf);
  EXPECT_EQ(systemctl.self_approval_groups, std::vector<std::string>{"oncall"});  // from [settings]

  const Rule& session = p.rules[6];
  EXPECT_TRUE(session.match.any_command);
  EXPECT_EQ(session.approval, ApprovalMode::kManual);
  ASSERT_TRUE(session.scope.when.has_value());
  EXPECT_EQ(session.scope.when->zone, "UTC");  // the default zone
  EXPECT_EQ(session.scope.when->start_minute, 22 * 60);
  EXPECT_EQ(session.scope.when->end_minute, 6 * 60);

  ASSERT_EQ(p.auto_approvals.size(), 1U);
  const AutoApproval& a = p.auto_approvals[0];
  EXPECT_EQ(a.name, "ops-office");
  EXPECT_EQ(a.users, std::vector<std::string>{"dave"});
  EXPECT_EQ(a.groups, std::vector<std::string>{"ops"});
  EXPECT_EQ(a.rules, std::vector<std::string>{"local-tools"});
  EXPECT_EQ(a.max_duration, hours{1});
  ASSERT_TRUE(a.when.has_value());
  EXPECT_EQ(a.when->start_minute, 9 * 60);

  // What the parser produces, the evaluator accepts.
  const auto compiled = CompiledPolicy::compile(*r.policy);
  ASSERT_TRUE(compiled.ok()) << compiled.error().message;
}

TEST(PolicyFile, MinimalPolicyGetsDefaults) {
  const auto r = parse("version = 1\n");
  ASSERT_TRUE(r.errors.empty()) << all_errors(r);
  ASSERT_TRUE(r.policy.has_value());
  EXPECT_TRUE(r.policy->rules.empty());
  EXPECT_EQ(r.policy->settings.default_action, Action::kRequest);
  EXPECT_EQ(r.policy->settings.max_duration, hours{8});
}

TEST(PolicyFile, SingleDigestStringIsAccepted) {
  const auto r = parse("version = 1\n[[rule]]\nname = \"x\"\naction = \"allow\"\nsha256 = \"" + kDigest1 + "\"\n");
  ASSERT_TRUE(r.errors.empty()) << all_errors(r);
  ASSERT_EQ(r.policy->rules.size(), 1U);
  EXPECT_EQ(r.policy->rules[0].match.sha256, std::vector<Sha256>{sha256("abc")});
}

TEST(PolicyFile, ArgsOnlyRestAndEmptyArgs) {
  const auto r = parse(R"(version = 1
[[rule]]
name = "a"
action = "allow"
path = "/usr/bin/a"
args = ["..."]
[[rule]]
name = "b"
action = "allow"
path = "/usr/bin/b"
args = []
)");
  ASSERT_TRUE(r.errors.empty()) << all_errors(r);
  const auto& rules = r.policy->rules;
  ASSERT_EQ(rules.size(), 2U);
  EXPECT_TRUE(rules[0].match.args->patterns.empty());
  EXPECT_TRUE(rules[0].match.args->rest_allowed);
  EXPECT_TRUE(rules[1].match.args->patterns.empty());
  EXPECT_FALSE(rules[1].match.args->rest_allowed);
}

// ---------------------------------------------------------------------------
// Malformed policies: each error names the file, the line and the field.

struct BadPolicy {
  std::string what;
  std::string text;
  int line;             // expected line of the error
  std::string where;    // expected in PolicyDiagnostic::where (the field); empty: not checked
  std::string message;  // expected in the message
};

std::ostream& operator<<(std::ostream& os, const BadPolicy& c) {
  return os << c.what;
}

class MalformedPolicy : public ::testing::TestWithParam<BadPolicy> {};

TEST_P(MalformedPolicy, ReportsFileLineAndField) {
  const auto& c = GetParam();
  const auto r = parse(c.text);
  EXPECT_FALSE(r.policy.has_value()) << c.what;
  ASSERT_FALSE(r.errors.empty()) << c.what;
  // Some cases legitimately cause a second error; the expected one must be there.
  const PolicyDiagnostic* found = nullptr;
  for (const auto& e : r.errors) {
    if (e.message.find(c.message) != std::string::npos && e.where.find(c.where) != std::string::npos) found = &e;
  }
  ASSERT_NE(found, nullptr) << c.what << ": expected an error in \"" << c.where << "\" saying \"" << c.message
                            << "\", got:\n"
                            << all_errors(r);
  EXPECT_EQ(found->file, "policy.toml");
  EXPECT_EQ(found->line, c.line) << c.what << ": " << found->to_string();
  const std::string text = found->to_string();
  EXPECT_EQ(text.rfind("policy.toml:" + std::to_string(c.line) + ":", 0), 0U) << text;
  EXPECT_NE(text.find(c.where), std::string::npos) << text;
  EXPECT_NE(text.find(c.message), std::string::npos) << text;
}

std::string rule(const std::string& body) {
  return "version = 1\n[[rule]]\nname = \"r\"\n" + body;
}
std::string allow_rule(const std::string& body) {
  return rule("action = \"allow\"\n" + body);
}
std::string request_rule(const std::string& body) {
  return rule("action = \"request\"\n" + body);
}

INSTANTIATE_TEST_SUITE_P(
    TopLevel, MalformedPolicy,
    ::testing::Values(
        BadPolicy{"invalid TOML", "version = 1\n[[rule]\nname = \"x\"\n", 2, "", "not valid TOML"},
        BadPolicy{"invalid TOML value", "version = 1\ncontact = \n", 2, "", "not valid TOML"},
        BadPolicy{"duplicate TOML key", "version = 1\nversion = 1\n", 2, "", "not valid TOML"},
        BadPolicy{"missing version", "\n[settings]\ncontact = \"x\"\n", 1, "field \"version\"", "is required"},
        BadPolicy{"wrong version", "version = 2\n", 1, "field \"version\"", "got 2"},
        BadPolicy{"version as string", "version = \"1\"\n", 1, "field \"version\"", "got a string"},
        BadPolicy{"unknown top-level field", "version = 1\nrules = []\n", 2, "field \"rules\"",
                  "did you mean \"rule\"?"},
        BadPolicy{"unknown field far from all", "version = 1\nfrobnicate = true\n", 2, "field \"frobnicate\"",
                  "expected one of: version, settings, rule, auto_approval"},
        BadPolicy{"settings not a table", "version = 1\nsettings = 5\n", 2, "field \"settings\"",
                  "expected a [settings] table"},
        BadPolicy{"rule not an array of tables", "version = 1\nrule = 5\n", 2, "rule", "expected [[rule]] tables"},
        BadPolicy{"auto_approval as one table", "version = 1\n[auto_approval]\nname = \"x\"\n", 2, "auto_approval",
                  "expected [[auto_approval]] tables"}));

INSTANTIATE_TEST_SUITE_P(
    Settings, MalformedPolicy,
    ::testing::Values(BadPolicy{"unknown settings field", "version = 1\n[settings]\nmax_durration = \"1h\"\n", 3,
                                "[settings] field \"max_durration\"", "did you mean \"max_duration\"?"},
                      BadPolicy{"allow-all default", "version = 1\n[settings]\ndefault_action = \"allow\"\n", 3,
                                "field \"default_action\"", "expected \"request\" or \"deny\""},
                      BadPolicy{"bad settings duration", "version = 1\n[settings]\nmax_duration = \"8 hours\"\n", 3,
                                "field \"max_duration\"", "invalid duration"},
                      BadPolicy{"duration as integer", "version = 1\n[settings]\nrequest_expiry = 3600\n", 3,
                                "field \"request_expiry\"", "expected a duration string"},
                      BadPolicy{"zero duration", "version = 1\n[settings]\napproval_wait = \"0s\"\n", 3,
                                "field \"approval_wait\"", "zero"},
                      BadPolicy{"too long", "version = 1\n[settings]\nmax_duration = \"400d\"\n", 3,
                                "field \"max_duration\"", "too long"},
                      BadPolicy{"default above max",
                                "version = 1\n[settings]\nmax_duration = \"1h\"\ndefault_duration = \"2h\"\n", 4,
                                "field \"default_duration\"", "longer than max_duration"},
                      BadPolicy{"reauthenticate as string", "version = 1\n[settings]\nreauthenticate = \"yes\"\n", 3,
                                "field \"reauthenticate\"", "expected true or false, got a string"},
                      BadPolicy{"bad self-approval group",
                                "version = 1\n[settings]\nself_approval_groups = [\"on call\"]\n", 3,
                                "field \"self_approval_groups\"", "not a valid group name"},
                      BadPolicy{"contact as array", "version = 1\n[settings]\ncontact = [\"a\"]\n", 3,
                                "field \"contact\"", "expected a string, got an array"}));

INSTANTIATE_TEST_SUITE_P(
    RuleFields, MalformedPolicy,
    ::testing::Values(
        BadPolicy{"unknown rule field", rule("acton = \"allow\"\npath = \"/bin/x\"\n"), 4, "rule \"r\" field \"acton\"",
                  "did you mean \"action\"?"},
        BadPolicy{"missing action", rule("path = \"/bin/x\"\n"), 2, "field \"action\"", "is required"},
        BadPolicy{"missing name", "version = 1\n[[rule]]\naction = \"allow\"\npath = \"/bin/x\"\n", 2,
                  "rule #1 field \"name\"", "is required"},
        BadPolicy{"bad name", "version = 1\n[[rule]]\nname = \"my rule\"\naction = \"allow\"\npath = \"/bin/x\"\n", 3,
                  "rule #1 field \"name\"", "1-64 characters"},
        BadPolicy{"name as integer", "version = 1\n[[rule]]\nname = 5\naction = \"allow\"\npath = \"/bin/x\"\n", 3,
                  "field \"name\"", "expected a string, got an integer"},
        BadPolicy{"bad action", rule("action = \"permit\"\npath = \"/bin/x\"\n"), 4, "field \"action\"",
                  "expected \"allow\", \"request\" or \"deny\", got \"permit\""},
        BadPolicy{"users as string", allow_rule("path = \"/bin/x\"\nusers = \"alice\"\n"), 6, "field \"users\"",
                  "expected an array of strings, got a string"},
        BadPolicy{"groups with integer", allow_rule("path = \"/bin/x\"\ngroups = [\"a\", 7]\n"), 6, "field \"groups\"",
                  "every element must be a string, got an integer"},
        BadPolicy{"user with colon", allow_rule("path = \"/bin/x\"\nusers = [\"a:b\"]\n"), 6, "field \"users\"",
                  "not a valid user name"},
        BadPolicy{"empty label", allow_rule("path = \"/bin/x\"\nlabels = [\"\"]\n"), 6, "field \"labels\"",
                  "not a valid label name"},
        BadPolicy{"host with a space", allow_rule("path = \"/bin/x\"\nhosts = [\"a b\"]\n"), 6, "field \"hosts\"",
                  "not a valid host name"},
        BadPolicy{"verified as string", allow_rule("verified = \"yes\"\n"), 5, "field \"verified\"",
                  "expected true or false"},
        BadPolicy{"bad sha256", allow_rule("sha256 = [\"abc\"]\n"), 5, "field \"sha256\"", "64 hex digits"},
        BadPolicy{"non-hex sha256", allow_rule("sha256 = [\"" + std::string(63, 'a') + "g\"]\n"), 5, "field \"sha256\"",
                  "only hex digits"},
        BadPolicy{"empty sha256 list", allow_rule("sha256 = []\n"), 5, "field \"sha256\"", "at least one digest"},
        BadPolicy{"relative path", allow_rule("path = \"usr/bin/apt\"\n"), 5, "field \"path\"", "not an absolute path"},
        BadPolicy{"empty path", allow_rule("path = \"\"\n"), 5, "field \"path\"", "empty path"},
        BadPolicy{"non-normalised path", allow_rule("path = \"/usr/bin/../bin/apt\"\n"), 5, "field \"path\"",
                  "not in normal form; write \"/usr/bin/apt\""},
        BadPolicy{"non-normalised folder", allow_rule("folder = \"/usr/bin/\"\n"), 5, "field \"folder\"",
                  "write \"/usr/bin\""},
        BadPolicy{"double slash folder", allow_rule("folder = \"/usr//bin\"\n"), 5, "field \"folder\"",
                  "not in normal form"},
        BadPolicy{"relative path_glob", allow_rule("path_glob = \"bin/*\"\n"), 5, "field \"path_glob\"",
                  "absolute pattern"},
        BadPolicy{"bad path_glob", allow_rule("path_glob = \"/bin/[ab\"\n"), 5, "field \"path_glob\"", "unterminated"},
        BadPolicy{"path_glob class with slash", allow_rule("path_glob = \"/bin[/]x\"\n"), 5, "field \"path_glob\"",
                  "cannot match '/'"},
        BadPolicy{"path and folder", allow_rule("path = \"/usr/bin/apt\"\nfolder = \"/usr/bin\"\n"), 2, "rule \"r\"",
                  "only one of \"path\", \"folder\" and \"path_glob\""},
        BadPolicy{"folder and path_glob", allow_rule("folder = \"/usr/bin\"\npath_glob = \"/usr/bin/*\"\n"), 2,
                  "rule \"r\"", "only one of \"path\", \"folder\" and \"path_glob\""},
        BadPolicy{"empty package", allow_rule("package = \"\"\n"), 5, "field \"package\"", "must not be empty"},
        BadPolicy{"bad package glob", allow_rule("package = \"lib\\\\\"\n"), 5, "field \"package\"", "backslash"},
        BadPolicy{"package with verified = false", allow_rule("package = \"apt\"\nverified = false\n"), 6,
                  "field \"verified\"", "always require a verified file"},
        BadPolicy{"no command criterion", allow_rule("users = [\"alice\"]\n"), 2, "rule \"r\"",
                  "says nothing about which programs"},
        BadPolicy{"only args", allow_rule("args = [\"x\"]\n"), 2, "rule \"r\"", "says nothing about which programs"},
        BadPolicy{"session with a path", request_rule("session = true\npath = \"/bin/sh\"\n"), 5, "field \"session\"",
                  "not programs"},
        BadPolicy{"session with args", request_rule("session = true\nargs = [\"x\"]\n"), 5, "field \"session\"",
                  "not programs"},
        BadPolicy{"allowed session", allow_rule("session = true\n"), 4, "field \"action\"", "always requested"},
        BadPolicy{"session = false", request_rule("session = false\npath = \"/bin/sh\"\n"), 5, "field \"session\"",
                  "means nothing"},
        BadPolicy{"any_command with path", allow_rule("any_command = true\npath = \"/bin/sh\"\n"), 5,
                  "field \"any_command\"", "cannot be combined"},
        BadPolicy{"any_command with verified", allow_rule("any_command = true\nverified = true\n"), 5,
                  "field \"any_command\"", "cannot be combined"},
        BadPolicy{"any_command = false", allow_rule("any_command = false\npath = \"/bin/sh\"\n"), 5,
                  "field \"any_command\"", "means nothing"},
        BadPolicy{"rest not last", allow_rule("path = \"/bin/x\"\nargs = [\"a\", \"...\", \"b\"]\n"), 6,
                  "field \"args\"", "may only be the last element"},
        BadPolicy{"args and args_regex", allow_rule("path = \"/bin/x\"\nargs = [\"a\"]\nargs_regex = [\"a\"]\n"), 7,
                  "field \"args_regex\"", "not both"},
        BadPolicy{"bad regex", allow_rule("path = \"/bin/x\"\nargs_regex = [\"(unclosed\"]\n"), 6,
                  "field \"args_regex\"", "not a valid RE2 regular expression"},
        BadPolicy{"bad args glob", allow_rule("path = \"/bin/x\"\nargs = [\"[x\"]\n"), 6, "field \"args\"",
                  "unterminated"},
        BadPolicy{"args as string", allow_rule("path = \"/bin/x\"\nargs = \"x\"\n"), 6, "field \"args\"",
                  "expected an array of strings"}));

INSTANTIATE_TEST_SUITE_P(
    RuleOptions, MalformedPolicy,
    ::testing::Values(
        BadPolicy{"approval on allow", allow_rule("path = \"/bin/x\"\napproval = \"manual\"\n"), 6,
                  "field \"approval\"", "applies only to rules with action = \"request\""},
        BadPolicy{"max_duration on deny", rule("action = \"deny\"\npath = \"/bin/x\"\nmax_duration = \"1h\"\n"), 6,
                  "field \"max_duration\"", "applies only to rules with action = \"request\""},
        BadPolicy{"self_approval_groups on allow", allow_rule("path = \"/bin/x\"\nself_approval_groups = [\"a\"]\n"), 6,
                  "field \"self_approval_groups\"", "applies only to rules with action = \"request\""},
        BadPolicy{"bad approval", request_rule("path = \"/bin/x\"\napproval = \"auto\"\n"), 6, "field \"approval\"",
                  "expected \"manual\", \"autonomous\" or \"self\""},
        BadPolicy{"self without groups", request_rule("path = \"/bin/x\"\napproval = \"self\"\n"), 6,
                  "field \"approval\"", "needs self_approval_groups"},
        BadPolicy{"self with empty groups",
                  request_rule("path = \"/bin/x\"\napproval = \"self\"\nself_approval_groups = []\n"), 6,
                  "field \"approval\"", "needs self_approval_groups"},
        BadPolicy{"rule max above settings",
                  "version = 1\n[settings]\nmax_duration = \"4h\"\n[[rule]]\nname = \"r\"\naction = \"request\"\n"
                  "path = \"/bin/x\"\nmax_duration = \"5h\"\n",
                  8, "rule \"r\" field \"max_duration\"", "longer than the policy-wide [settings] max_duration 4h"},
        BadPolicy{"rule default above rule max",
                  request_rule("path = \"/bin/x\"\nmax_duration = \"1h\"\ndefault_duration = \"90m\"\n"), 7,
                  "field \"default_duration\"", "longer than this rule's maximum 1h"},
        BadPolicy{"bad rule duration", request_rule("path = \"/bin/x\"\nmax_duration = \"1y\"\n"), 6,
                  "field \"max_duration\"", "unknown unit 'y'"}));

INSTANTIATE_TEST_SUITE_P(
    TimeWindows, MalformedPolicy,
    ::testing::Values(BadPolicy{"unknown timezone",
                                allow_rule("path = \"/bin/x\"\ndays = \"mon\"\ntimezone = \"Mars/Olympus\"\n"), 7,
                                "field \"timezone\"", "unknown time zone \"Mars/Olympus\""},
                      BadPolicy{"timezone alone", allow_rule("path = \"/bin/x\"\ntimezone = \"UTC\"\n"), 6,
                                "field \"timezone\"", "has no effect"},
                      BadPolicy{"bad days", allow_rule("path = \"/bin/x\"\ndays = \"monday-friday\"\n"), 6,
                                "field \"days\"", "not a day or day range"},
                      BadPolicy{"days as array", allow_rule("path = \"/bin/x\"\ndays = [\"mon\"]\n"), 6,
                                "field \"days\"", "expected a string"},
                      BadPolicy{"bad hours", allow_rule("path = \"/bin/x\"\nhours = \"8-18\"\n"), 6, "field \"hours\"",
                                "not an hour range"},
                      BadPolicy{"empty hours", allow_rule("path = \"/bin/x\"\nhours = \"08:00-08:00\"\n"), 6,
                                "field \"hours\"", "is empty"},
                      BadPolicy{"hours past 24", allow_rule("path = \"/bin/x\"\nhours = \"08:00-25:00\"\n"), 6,
                                "field \"hours\"", "not an hour range"}));

INSTANTIATE_TEST_SUITE_P(
    Names, MalformedPolicy,
    ::testing::Values(BadPolicy{"duplicate rule names",
                                "version = 1\n[[rule]]\nname = \"r\"\naction = \"allow\"\npath = \"/a\"\n\n"
                                "[[rule]]\nname = \"r\"\naction = \"deny\"\npath = \"/b\"\n",
                                7, "rule \"r\"", "same name"},
                      BadPolicy{
                          "duplicate auto_approval names",
                          "version = 1\n[[auto_approval]]\nname = \"a\"\nmax_duration = \"1h\"\ngroups = [\"g\"]\n"
                          "[[auto_approval]]\nname = \"a\"\nmax_duration = \"1h\"\ngroups = [\"g\"]\n",
                          6, "auto_approval \"a\"", "same name"}));

const std::string kAutoRules = R"(version = 1
[[rule]]
name = "auto"
action = "request"
path = "/bin/auto"
approval = "autonomous"
[[rule]]
name = "manual"
action = "request"
path = "/bin/manual"
[[rule]]
name = "allowed"
action = "allow"
path = "/bin/allowed"
)";

INSTANTIATE_TEST_SUITE_P(
    AutoApprovals, MalformedPolicy,
    ::testing::Values(
        BadPolicy{"missing rule",
                  kAutoRules + "[[auto_approval]]\nname = \"a\"\nrules = [\"auto\", \"nope\"]\n"
                               "max_duration = \"1h\"\n",
                  17, "auto_approval \"a\" field \"rules\"", "no rule is named \"nope\""},
        BadPolicy{"manual rule",
                  kAutoRules + "[[auto_approval]]\nname = \"a\"\nrules = [\"manual\"]\n"
                               "max_duration = \"1h\"\n",
                  17, "field \"rules\"", "rule \"manual\" is not a request rule with approval = \"autonomous\""},
        BadPolicy{"allow rule",
                  kAutoRules + "[[auto_approval]]\nname = \"a\"\nrules = [\"allowed\"]\n"
                               "max_duration = \"1h\"\n",
                  17, "field \"rules\"", "rule \"allowed\" is not a request rule"},
        BadPolicy{"missing max_duration", kAutoRules + "[[auto_approval]]\nname = \"a\"\nrules = [\"auto\"]\n", 15,
                  "auto_approval \"a\" field \"max_duration\"", "is required"},
        BadPolicy{"unknown auto field",
                  kAutoRules + "[[auto_approval]]\nname = \"a\"\nmax_duration = \"1h\"\nuser = [\"x\"]\n", 18,
                  "field \"user\"", "did you mean \"users\"?"},
        BadPolicy{"auto unknown timezone",
                  kAutoRules + "[[auto_approval]]\nname = \"a\"\nmax_duration = \"1h\"\nhours = \"09:00-17:00\"\n"
                               "timezone = \"Nowhere/City\"\n",
                  19, "field \"timezone\"", "unknown time zone"},
        BadPolicy{"auto bad days",
                  kAutoRules + "[[auto_approval]]\nname = \"a\"\nmax_duration = \"1h\"\ndays = \"someday\"\n", 18,
                  "field \"days\"", "not a day"}));

TEST(MalformedPolicy, AutoApprovalMustNameSomeoneOrSomeRule) {
  const auto r = parse("version = 1\n[[auto_approval]]\nname = \"everyone\"\nmax_duration = \"1h\"\n");
  EXPECT_FALSE(r.policy.has_value());
  ASSERT_EQ(r.errors.size(), 1U) << all_errors(r);
  EXPECT_EQ(r.errors[0].line, 2);
  EXPECT_NE(r.errors[0].message.find("would approve every autonomous request"), std::string::npos);
}

TEST(ValidPolicy, ImplicitDefaultDurationFollowsALowerMaximum) {
  const auto r = parse("version = 1\n[settings]\nmax_duration = \"10m\"\n");
  ASSERT_TRUE(r.policy.has_value()) << all_errors(r);
  EXPECT_EQ(r.policy->settings.default_duration, std::chrono::minutes{10});
  // Written explicitly, a default above the maximum is still an error.
  const auto bad = parse("version = 1\n[settings]\nmax_duration = \"10m\"\ndefault_duration = \"15m\"\n");
  EXPECT_FALSE(bad.policy.has_value());
  EXPECT_NE(all_errors(bad).find("default_duration"), std::string::npos);
}

TEST(MalformedPolicy, RuleWithOnlyVerifiedFalseHasNoCommandCriterion) {
  const auto r = parse(allow_rule("verified = false\n"));
  EXPECT_FALSE(r.policy.has_value()) << "an allow rule with no command criterion was accepted";
  EXPECT_NE(all_errors(r).find("\"verified = false\" means nothing"), std::string::npos) << all_errors(r);
  if (r.policy.has_value()) {
    // What the accepted rule does: it allows every program, on any path.
    const FakeTimeZones zones;
    const auto compiled = CompiledPolicy::compile(*r.policy);
    ASSERT_TRUE(compiled.ok());
    CommandLine sh;
    sh.exe.path = "/tmp/evil";
    EXPECT_NE((*compiled)->evaluate(Subject{"mallory", {}, {}}, sh, test::utc(2024, 1, 1), zones).action,
              Action::kAllow);
  }
}

TEST(MalformedPolicy, PathGlobMustBeNormalised) {
  for (const std::string glob : {"/usr//bin/*", "/usr/./bin/*", "/usr/bin/../sbin/*", "/opt/tools/*/"}) {
    const auto r = parse(rule("action = \"deny\"\npath_glob = \"" + glob + "\"\n"));
    EXPECT_FALSE(r.policy.has_value()) << glob << " was accepted";
    EXPECT_NE(all_errors(r).find("field \"path_glob\""), std::string::npos) << glob << ":\n" << all_errors(r);
  }
}

TEST(MalformedPolicy, SeveralErrorsAreAllReportedInLineOrder) {
  const std::string text = R"(version = 1
[settings]
max_duration = "9x"

[[rule]]
name = "one"
action = "permit"
path = "/usr/bin/apt"

[[rule]]
name = "two"
action = "allow"
folder = "relative/dir"
colour = "blue"

[[rule]]
name = "ok"
action = "allow"
path = "/bin/true"

[[auto_approval]]
name = "a"
rules = ["missing"]
max_duration = "1h"
)";
  const auto r = parse(text);
  EXPECT_FALSE(r.policy.has_value());
  ASSERT_EQ(r.errors.size(), 5U) << all_errors(r);
  const std::vector<std::pair<int, std::string>> expected = {
      {3, "max_duration"}, {7, "action"}, {13, "folder"}, {14, "colour"}, {23, "rules"}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(r.errors[i].line, expected[i].first) << r.errors[i].to_string();
    EXPECT_NE(r.errors[i].where.find(expected[i].second), std::string::npos) << r.errors[i].to_string();
  }
}

TEST(MalformedPolicy, OversizedFileIsRefusedBeforeParsing) {
  const std::string text = "version = 1\n" + std::string(kMaxPolicyBytes, '#');
  const auto r = parse(text);
  EXPECT_FALSE(r.policy.has_value());
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_NE(r.errors[0].message.find("limited to"), std::string::npos);
  EXPECT_EQ(r.errors[0].to_string().rfind("policy.toml: ", 0), 0U) << r.errors[0].to_string();
}

TEST(PolicyDiagnostic, ToStringFormats) {
  EXPECT_EQ((PolicyDiagnostic{"p.toml", 3, 7, "rule \"x\" field \"action\"", "bad"}).to_string(),
            "p.toml:3:7: rule \"x\" field \"action\": bad");
  EXPECT_EQ((PolicyDiagnostic{"p.toml", 3, 0, "", "bad"}).to_string(), "p.toml:3: bad");
  EXPECT_EQ((PolicyDiagnostic{"p.toml", 0, 5, "settings", "bad"}).to_string(), "p.toml: settings: bad");
}

TEST(PolicyFile, ParsedPolicyEvaluatesAsWritten) {
  const FakeTimeZones zones;
  const auto r = parse(kFullPolicy);
  ASSERT_TRUE(r.policy.has_value()) << all_errors(r);
  const auto compiled = CompiledPolicy::compile(*r.policy);
  ASSERT_TRUE(compiled.ok()) << compiled.error().message;
  const auto& policy = **compiled;
  CommandLine helper;
  helper.exe.path = "/usr/lib/x/helper-1";
  const TimePoint wednesday_noon = test::utc(2024, 1, 3, 12, 0);
  const Decision d = policy.evaluate(Subject{"alice", {}, {}}, helper, wednesday_noon, zones);
  EXPECT_EQ(d.action, Action::kDeny);
  ASSERT_NE(d.rule, nullptr);
  EXPECT_EQ(d.rule->name, "helpers");
  CommandLine tool;
  tool.exe.path = "/opt/tools/x";
  tool.exe.trusted_path = true;
  const Decision t = policy.evaluate(Subject{"bob", {}, {}}, tool, wednesday_noon, zones);
  EXPECT_EQ(t.action, Action::kRequest);
  ASSERT_NE(t.rule, nullptr);
  EXPECT_EQ(t.rule->name, "local-tools");
  EXPECT_EQ(t.max_duration, hours{2});
  EXPECT_EQ(t.default_duration, minutes{20});
  const AutoApproval* a =
      policy.find_auto_approval(Subject{"dave", {}, {}}, *t.rule, minutes{30}, wednesday_noon, zones);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "ops-office");
}

TEST(PolicyFile, SessionRulesDecideOnlySessions) {
  const FakeTimeZones zones;
  const auto r = parse(R"(version = 1
[settings]
default_action = "request"

[[rule]]
name = "no-interns"
action = "deny"
session = true
groups = ["interns"]

[[rule]]
name = "admin-sessions"
action = "request"
session = true
groups = ["sysadmins", "interns"]
max_duration = "1h"

[[rule]]
name = "everything"
action = "allow"
any_command = true
)");
  ASSERT_TRUE(r.policy.has_value()) << all_errors(r);
  const auto compiled = CompiledPolicy::compile(*r.policy);
  ASSERT_TRUE(compiled.ok()) << compiled.error().message;
  const auto& policy = **compiled;
  const TimePoint noon = test::utc(2024, 1, 3, 12, 0);
  const Decision admin = policy.evaluate_session(Subject{"sam", {"sysadmins"}, {}}, noon, zones);
  EXPECT_EQ(admin.action, Action::kRequest);
  ASSERT_NE(admin.rule, nullptr);
  EXPECT_EQ(admin.rule->name, "admin-sessions");
  EXPECT_EQ(admin.max_duration, hours{1});
  // Deny wins over request, as for commands.
  const Decision intern = policy.evaluate_session(Subject{"ida", {"interns"}, {}}, noon, zones);
  EXPECT_EQ(intern.action, Action::kDeny);
  ASSERT_NE(intern.rule, nullptr);
  EXPECT_EQ(intern.rule->name, "no-interns");
  // No session rule names the user: denied, although commands are requested by default.
  const Decision other = policy.evaluate_session(Subject{"olga", {"staff"}, {}}, noon, zones);
  EXPECT_EQ(other.action, Action::kDeny);
  EXPECT_EQ(other.rule, nullptr);
  EXPECT_NE(other.reason.find("no temporary admin session"), std::string::npos) << other.reason;
  // A session rule never decides a command.
  CommandLine sh;
  sh.exe.path = "/bin/sh";
  sh.exe.trusted_path = true;
  const Decision cmd = policy.evaluate(Subject{"ida", {"interns"}, {}}, sh, noon, zones);
  EXPECT_EQ(cmd.action, Action::kAllow);
  ASSERT_NE(cmd.rule, nullptr);
  EXPECT_EQ(cmd.rule->name, "everything");
}

// ---------------------------------------------------------------------------
// Non-ASCII text is allowed only inside strings and comments (refused before
// toml++ sees it, with its position).

struct NonAsciiCase {
  std::string what;
  std::string text;
  bool ok;
  int line;
  int column;
};

std::ostream& operator<<(std::ostream& os, const NonAsciiCase& c) {
  return os << c.what;
}

class NonAscii : public ::testing::TestWithParam<NonAsciiCase> {};

TEST_P(NonAscii, OnlyInsideStringsAndComments) {
  const auto& c = GetParam();
  const auto r = parse(c.text);
  if (c.ok) {
    EXPECT_TRUE(r.errors.empty()) << c.what << ":\n" << all_errors(r);
    EXPECT_TRUE(r.policy.has_value()) << c.what;
    return;
  }
  EXPECT_FALSE(r.policy.has_value()) << c.what;
  ASSERT_EQ(r.errors.size(), 1U) << c.what << ":\n" << all_errors(r);
  EXPECT_EQ(r.errors[0].line, c.line) << r.errors[0].to_string();
  EXPECT_EQ(r.errors[0].column, c.column) << r.errors[0].to_string();
  EXPECT_NE(r.errors[0].message.find("non-ASCII"), std::string::npos) << r.errors[0].to_string();
}

INSTANTIATE_TEST_SUITE_P(
    Table, NonAscii,
    ::testing::Values(
        NonAsciiCase{"in a basic string", "version = 1\n[settings]\ncontact = \"Zo\xc3\xab <zoe@example.com>\"\n", true,
                     0, 0},
        NonAsciiCase{"in a literal string", "version = 1\n[settings]\ncontact = 'caf\xc3\xa9'\n", true, 0, 0},
        NonAsciiCase{"in a comment", "# caf\xc3\xa9 policy\nversion = 1 # \xe2\x9c\x93\n", true, 0, 0},
        NonAsciiCase{"in a multi-line basic string", "version = 1\n[settings]\ncontact = \"\"\"\nl\xc3\xa0\n\"\"\"\n",
                     true, 0, 0},
        NonAsciiCase{"in a multi-line literal string", "version = 1\n[settings]\ncontact = '''\nl\xc3\xa0\n'''\n", true,
                     0, 0},
        NonAsciiCase{"after an escaped quote", "version = 1\n[settings]\ncontact = \"a \\\"b\\\" \xc3\xa9\"\n", true, 0,
                     0},
        NonAsciiCase{"in a bare key", "version = 1\nn\xc3\xa9 = 1\n", false, 2, 2},
        NonAsciiCase{"as a value",
                     "version = \xc2\xa0"
                     "1\n",
                     false, 1, 11},
        NonAsciiCase{"non-breaking space before a key", "version = 1\n\xc2\xa0[settings]\n", false, 2, 1},
        NonAsciiCase{"after a string ending in an escaped backslash",
                     "version = 1\n[settings]\ncontact = \"back\\\\\"\nn\xc3\xa9 = 1\n", false, 4, 2},
        NonAsciiCase{"after a multi-line string",
                     "version = 1\n[settings]\ncontact = \"\"\"\na\nb\"\"\"\n\xc3\xa9 = 1\n", false, 6, 1},
        NonAsciiCase{"after a multi-line string ending in quotes",
                     "version = 1\n[settings]\ncontact = \"\"\"a \"q\"\"\"\"\"\n\xc3\xa9 = 1\n", false, 4, 1},
        NonAsciiCase{"after a line-ending backslash",
                     "version = 1\n[settings]\ncontact = \"\"\"a \\\n  b\"\"\"\n\xc3\xa9 = 1\n", false, 5, 1},
        NonAsciiCase{"after a comment line", "version = 1\n# \xc3\xa9\nx\xc3\xa9 = 1\n", false, 3, 2}));

}  // namespace
}  // namespace hoist
