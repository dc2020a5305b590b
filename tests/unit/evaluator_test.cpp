#include "core/evaluator.h"

#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_support.h"

namespace hoist {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using test::FakeTimeZones;
using test::utc;

// A Wednesday at noon, UTC.
const TimePoint kNoon = utc(2024, 1, 3, 12, 0);

StringMatcher must(Result<StringMatcher> m) {
  if (!m.ok()) throw std::runtime_error("bad pattern in test: " + m.error().message);
  return std::move(m).value();
}

StringMatcher path_glob(const std::string& g) {
  return must(StringMatcher::glob(g, GlobFlavor::kPath));
}
StringMatcher text_glob(const std::string& g) {
  return must(StringMatcher::glob(g, GlobFlavor::kText));
}

ArgsSpec args_globs(const std::vector<std::string>& globs, bool rest = false) {
  ArgsSpec spec;
  for (const auto& g : globs) spec.patterns.push_back(text_glob(g));
  spec.rest_allowed = rest;
  return spec;
}

ArgsSpec args_regex(const std::vector<std::string>& res, bool rest = false) {
  ArgsSpec spec;
  for (const auto& r : res) spec.patterns.push_back(must(StringMatcher::regex(r)));
  spec.rest_allowed = rest;
  return spec;
}

Rule make_rule(std::string name, Action action, const std::function<void(Rule&)>& setup) {
  Rule r;
  r.name = std::move(name);
  r.action = action;
  setup(r);
  return r;
}

std::shared_ptr<const CompiledPolicy> compile(Policy p) {
  auto c = CompiledPolicy::compile(std::move(p));
  if (!c.ok()) throw std::runtime_error("policy did not compile: " + c.error().message);
  return *c;
}

Policy deny_by_default(std::vector<Rule> rules) {
  Policy p;
  p.settings.default_action = Action::kDeny;
  p.rules = std::move(rules);
  return p;
}

PackageFacts package(std::string name, bool verified, std::string origin = "Debian",
                     std::string maintainer = "APT Development Team <deity@lists.debian.org>") {
  return PackageFacts{std::move(name), std::move(origin), std::move(maintainer), verified};
}

CommandLine command(std::string path, std::vector<std::string> args = {}, bool trusted = true,
                    std::optional<Sha256> digest = std::nullopt, std::optional<PackageFacts> pkg = std::nullopt) {
  CommandLine c;
  c.exe.path = std::move(path);
  c.exe.trusted_path = trusted;
  c.exe.sha256 = digest;
  c.exe.package = std::move(pkg);
  c.args = std::move(args);
  return c;
}

Subject alice() {
  return Subject{"alice", {"alice", "staff"}, {"laptops"}};
}

// ---------------------------------------------------------------------------
// Every rule type, matching and not matching.

struct MatchCase {
  std::string what;
  std::function<void(Rule&)> setup;
  CommandLine cmd;
  bool expected;
};

std::ostream& operator<<(std::ostream& os, const MatchCase& c) {
  return os << c.what;
}

class RuleTypeMatch : public ::testing::TestWithParam<MatchCase> {};

TEST_P(RuleTypeMatch, AllowRuleMatchesOrNot) {
  const auto& c = GetParam();
  const FakeTimeZones zones;
  const auto policy = compile(deny_by_default({make_rule("r", Action::kAllow, c.setup)}));
  const Decision d = policy->evaluate(alice(), c.cmd, kNoon, zones);
  if (c.expected) {
    EXPECT_EQ(d.action, Action::kAllow) << c.what << ": " << d.reason;
    ASSERT_NE(d.rule, nullptr) << c.what;
    EXPECT_EQ(d.rule->name, "r");
  } else {
    EXPECT_EQ(d.action, Action::kDeny) << c.what << ": " << d.reason;
    EXPECT_EQ(d.rule, nullptr) << c.what;
  }
}

const Sha256 kDigestA = sha256("binary A");
const Sha256 kDigestB = sha256("binary B");
const Sha256 kDigestC = sha256("binary C");

void sha_ab(Rule& r) {
  r.match.sha256 = {kDigestA, kDigestB};
}
void path_apt(Rule& r) {
  r.match.path = "/usr/bin/apt";
}
void folder_usr_bin(Rule& r) {
  r.match.folder = "/usr/bin";
}
void pkg_apt(Rule& r) {
  r.match.package = text_glob("apt");
}

INSTANTIATE_TEST_SUITE_P(
    Sha256, RuleTypeMatch,
    ::testing::Values(MatchCase{"first digest", sha_ab, command("/x/a", {}, true, kDigestA), true},
                      MatchCase{"second digest", sha_ab, command("/x/b", {}, true, kDigestB), true},
                      MatchCase{"other digest", sha_ab, command("/x/c", {}, true, kDigestC), false},
                      MatchCase{"digest unknown", sha_ab, command("/x/a"), false},
                      // A digest rule says nothing about paths: an untrusted location is fine.
                      MatchCase{"digest, untrusted path", sha_ab, command("/tmp/a", {}, false, kDigestA), true}));

INSTANTIATE_TEST_SUITE_P(Path, RuleTypeMatch,
                         ::testing::Values(MatchCase{"exact", path_apt, command("/usr/bin/apt"), true},
                                           MatchCase{"longer name", path_apt, command("/usr/bin/apt-get"), false},
                                           MatchCase{"the folder", path_apt, command("/usr/bin"), false},
                                           MatchCase{"below it", path_apt, command("/usr/bin/apt/x"), false},
                                           MatchCase{"other dir", path_apt, command("/usr/sbin/apt"), false},
                                           MatchCase{"untrusted", path_apt, command("/usr/bin/apt", {}, false),
                                                     false}));

INSTANTIATE_TEST_SUITE_P(
    Folder, RuleTypeMatch,
    ::testing::Values(MatchCase{"the folder itself", folder_usr_bin, command("/usr/bin"), true},
                      MatchCase{"a child", folder_usr_bin, command("/usr/bin/apt"), true},
                      MatchCase{"a deep child", folder_usr_bin, command("/usr/bin/a/b/c/d"), true},
                      MatchCase{"sibling with the folder as prefix", folder_usr_bin, command("/usr/binx"), false},
                      MatchCase{"child of that sibling", folder_usr_bin, command("/usr/binx/apt"), false},
                      MatchCase{"the parent", folder_usr_bin, command("/usr"), false},
                      MatchCase{"elsewhere", folder_usr_bin, command("/opt/usr/bin/apt"), false},
                      MatchCase{"root folder covers all", [](Rule& r) { r.match.folder = "/"; }, command("/any/thing"),
                                true},
                      MatchCase{"folder equal to the executable", [](Rule& r) { r.match.folder = "/usr/bin/apt"; },
                                command("/usr/bin/apt"), true}));

INSTANTIATE_TEST_SUITE_P(
    PathGlob, RuleTypeMatch,
    ::testing::Values(
        MatchCase{"star in one dir", [](Rule& r) { r.match.path_glob = path_glob("/usr/lib/*/helper"); },
                  command("/usr/lib/pkg/helper"), true},
        MatchCase{"star does not cross /", [](Rule& r) { r.match.path_glob = path_glob("/usr/lib/*/helper"); },
                  command("/usr/lib/a/b/helper"), false},
        MatchCase{"star file", [](Rule& r) { r.match.path_glob = path_glob("/opt/tools/*"); },
                  command("/opt/tools/run"), true},
        MatchCase{"star file, deeper", [](Rule& r) { r.match.path_glob = path_glob("/opt/tools/*"); },
                  command("/opt/tools/sub/run"), false},
        MatchCase{"double star crosses /", [](Rule& r) { r.match.path_glob = path_glob("/opt/**/run"); },
                  command("/opt/a/b/c/run"), true},
        MatchCase{"double star, zero dirs", [](Rule& r) { r.match.path_glob = path_glob("/opt/**/run"); },
                  command("/opt/run"), true},
        MatchCase{"double star, other name", [](Rule& r) { r.match.path_glob = path_glob("/opt/**/run"); },
                  command("/opt/a/walk"), false},
        MatchCase{"negated class", [](Rule& r) { r.match.path_glob = path_glob("/bin/x[!y]z"); }, command("/bin/xaz"),
                  true},
        MatchCase{"negated class excludes its char", [](Rule& r) { r.match.path_glob = path_glob("/bin/x[!y]z"); },
                  command("/bin/xyz"), false},
        MatchCase{"negated class never matches /", [](Rule& r) { r.match.path_glob = path_glob("/bin/x[!y]z"); },
                  command("/bin/x/z"), false},
        MatchCase{"glob without meta is exact", [](Rule& r) { r.match.path_glob = path_glob("/usr/bin/apt"); },
                  command("/usr/bin/apt"), true},
        MatchCase{"glob at root", [](Rule& r) { r.match.path_glob = path_glob("/*"); }, command("/init"), true},
        MatchCase{"glob at root, deeper", [](Rule& r) { r.match.path_glob = path_glob("/*"); }, command("/sbin/init"),
                  false},
        MatchCase{"glob prefix is not a folder", [](Rule& r) { r.match.path_glob = path_glob("/usr/bin*/x"); },
                  command("/usr/bin2/x"), true},
        MatchCase{"glob, untrusted", [](Rule& r) { r.match.path_glob = path_glob("/opt/tools/*"); },
                  command("/opt/tools/run", {}, false), false}));

INSTANTIATE_TEST_SUITE_P(
    Package, RuleTypeMatch,
    ::testing::Values(MatchCase{"verified package", pkg_apt,
                                command("/usr/bin/apt", {}, true, kDigestA, package("apt", true)), true},
                      MatchCase{"unverified package-owned file", pkg_apt,
                                command("/usr/bin/apt", {}, true, kDigestA, package("apt", false)), false},
                      MatchCase{"no package", pkg_apt, command("/usr/bin/apt", {}, true, kDigestA), false},
                      MatchCase{"other package", pkg_apt,
                                command("/usr/bin/apt", {}, true, kDigestA, package("aptitude", true)), false},
                      MatchCase{"package glob", [](Rule& r) { r.match.package = text_glob("lib*"); },
                                command("/usr/bin/x", {}, true, kDigestA, package("libc-bin", true)), true},
                      MatchCase{"package glob, unverified", [](Rule& r) { r.match.package = text_glob("lib*"); },
                                command("/usr/bin/x", {}, true, kDigestA, package("libc-bin", false)), false},
                      MatchCase{"package on an untrusted path is fine (no path criterion)", pkg_apt,
                                command("/home/a/apt", {}, false, kDigestA, package("apt", true)), true}));

INSTANTIATE_TEST_SUITE_P(
    OriginMaintainer, RuleTypeMatch,
    ::testing::Values(
        MatchCase{"origin", [](Rule& r) { r.match.origin = text_glob("Debian"); },
                  command("/usr/bin/x", {}, true, kDigestA, package("x", true, "Debian")), true},
        MatchCase{"origin, unverified", [](Rule& r) { r.match.origin = text_glob("Debian"); },
                  command("/usr/bin/x", {}, true, kDigestA, package("x", false, "Debian")), false},
        MatchCase{"other origin", [](Rule& r) { r.match.origin = text_glob("Debian"); },
                  command("/usr/bin/x", {}, true, kDigestA, package("x", true, "Ubuntu")), false},
        MatchCase{"origin, no package", [](Rule& r) { r.match.origin = text_glob("Debian"); },
                  command("/usr/bin/x"), false},
        MatchCase{"maintainer glob", [](Rule& r) { r.match.maintainer = text_glob("*@lists.debian.org>"); },
                  command("/usr/bin/x", {}, true, kDigestA, package("x", true)), true},
        MatchCase{"maintainer, unverified", [](Rule& r) { r.match.maintainer = text_glob("*@lists.debian.org>"); },
                  command("/usr/bin/x", {}, true, kDigestA, package("x", false)), false},
        MatchCase{"other maintainer", [](Rule& r) { r.match.maintainer = text_glob("*@example.com>"); },
                  command("/usr/bin/x", {}, true, kDigestA, package("x", true)), false},
        MatchCase{"package and origin both hold",
                  [](Rule& r) {
                    r.match.package = text_glob("x");
                    r.match.origin = text_glob("Debian");
                  },
                  command("/usr/bin/x", {}, true, kDigestA, package("x", true, "Debian")), true},
        MatchCase{"package holds, origin does not",
                  [](Rule& r) {
                    r.match.package = text_glob("x");
                    r.match.origin = text_glob("Debian");
                  },
                  command("/usr/bin/x", {}, true, kDigestA, package("x", true, "Evil")), false}));

INSTANTIATE_TEST_SUITE_P(
    Verified, RuleTypeMatch,
    ::testing::Values(MatchCase{"verified file", [](Rule& r) { r.match.verified = true; },
                                command("/usr/bin/x", {}, true, kDigestA, package("x", true)), true},
                      MatchCase{"modified package file", [](Rule& r) { r.match.verified = true; },
                                command("/usr/bin/x", {}, true, kDigestA, package("x", false)), false},
                      MatchCase{"file of no package", [](Rule& r) { r.match.verified = true; },
                                command("/usr/local/bin/x", {}, true, kDigestA), false},
                      MatchCase{"verified in a folder",
                                [](Rule& r) {
                                  r.match.verified = true;
                                  r.match.folder = "/usr/bin";
                                },
                                command("/usr/bin/x", {}, true, kDigestA, package("x", true)), true},
                      MatchCase{"verified, outside the folder",
                                [](Rule& r) {
                                  r.match.verified = true;
                                  r.match.folder = "/usr/bin";
                                },
                                command("/usr/sbin/x", {}, true, kDigestA, package("x", true)), false}));

void apt_install_one(Rule& r) {
  r.match.path = "/usr/bin/apt";
  r.match.args = args_globs({"install", "*"});
}
void apt_install_rest(Rule& r) {
  r.match.path = "/usr/bin/apt";
  r.match.args = args_globs({"install"}, true);
}
void apt_no_args(Rule& r) {
  r.match.path = "/usr/bin/apt";
  r.match.args = args_globs({});
}

INSTANTIATE_TEST_SUITE_P(
    ArgsGlobs, RuleTypeMatch,
    ::testing::Values(
        MatchCase{"exact count", apt_install_one, command("/usr/bin/apt", {"install", "vim"}), true},
        MatchCase{"too few", apt_install_one, command("/usr/bin/apt", {"install"}), false},
        MatchCase{"too many", apt_install_one, command("/usr/bin/apt", {"install", "vim", "emacs"}), false},
        MatchCase{"wrong first", apt_install_one, command("/usr/bin/apt", {"remove", "vim"}), false},
        MatchCase{"star matches empty arg", apt_install_one, command("/usr/bin/apt", {"install", ""}), true},
        MatchCase{"star matches /", apt_install_one, command("/usr/bin/apt", {"install", "./x/y.deb"}), true},
        MatchCase{"literal is whole-arg", apt_install_one, command("/usr/bin/apt", {"installx", "vim"}), false},
        MatchCase{"rest: prefix only", apt_install_rest, command("/usr/bin/apt", {"install"}), true},
        MatchCase{"rest: more args", apt_install_rest, command("/usr/bin/apt", {"install", "a", "b", "c"}), true},
        MatchCase{"rest: missing prefix", apt_install_rest, command("/usr/bin/apt", {}), false},
        MatchCase{"rest: wrong prefix", apt_install_rest, command("/usr/bin/apt", {"remove", "a"}), false},
        MatchCase{"no args allowed, none given", apt_no_args, command("/usr/bin/apt"), true},
        MatchCase{"no args allowed, one given", apt_no_args, command("/usr/bin/apt", {"update"}), false},
        MatchCase{"only rest: anything",
                  [](Rule& r) {
                    r.match.path = "/usr/bin/apt";
                    r.match.args = args_globs({}, true);
                  },
                  command("/usr/bin/apt", {"a", "b"}), true},
        MatchCase{"args alone do not rescue the wrong path", apt_install_one,
                  command("/usr/bin/apt2", {"install", "vim"}), false}));

void systemctl_regex(Rule& r) {
  r.match.path = "/usr/bin/systemctl";
  r.match.args = args_regex({"restart|status", "[a-z][a-z0-9-]*\\.service"});
}

INSTANTIATE_TEST_SUITE_P(
    ArgsRegex, RuleTypeMatch,
    ::testing::Values(
        MatchCase{"both match", systemctl_regex, command("/usr/bin/systemctl", {"restart", "nginx.service"}), true},
        MatchCase{"alternation", systemctl_regex, command("/usr/bin/systemctl", {"status", "sshd.service"}), true},
        MatchCase{"full match, not search (suffix)", systemctl_regex,
                  command("/usr/bin/systemctl", {"restart", "nginx.service;reboot"}), false},
        MatchCase{"full match, not search (prefix)", systemctl_regex,
                  command("/usr/bin/systemctl", {"xrestart", "nginx.service"}), false},
        MatchCase{"alternation is anchored as a whole", systemctl_regex,
                  command("/usr/bin/systemctl", {"restartstatus", "nginx.service"}), false},
        MatchCase{"wrong count", systemctl_regex, command("/usr/bin/systemctl", {"restart"}), false},
        MatchCase{"escaped dot is literal", systemctl_regex,
                  command("/usr/bin/systemctl", {"restart", "nginxXservice"}), false}));

INSTANTIATE_TEST_SUITE_P(
    AnyCommand, RuleTypeMatch,
    ::testing::Values(MatchCase{"anything", [](Rule& r) { r.match.any_command = true; }, command("/bin/sh"), true},
                      MatchCase{"untrusted, unknown digest, args", [](Rule& r) { r.match.any_command = true; },
                                command("/tmp/evil", {"-c", "id"}, false), true},
                      MatchCase{"any command with args",
                                [](Rule& r) {
                                  r.match.any_command = true;
                                  r.match.args = args_globs({"--version"});
                                },
                                command("/bin/x", {"--help"}), false}));

// ---------------------------------------------------------------------------
// Trust: only deny rules may match an executable on an untrusted path.

struct TrustCase {
  std::string what;
  std::function<void(Rule&)> setup;
};

std::ostream& operator<<(std::ostream& os, const TrustCase& c) {
  return os << c.what;
}

class PathTrust : public ::testing::TestWithParam<TrustCase> {};

TEST_P(PathTrust, OnlyDenyMatchesUntrustedPath) {
  const FakeTimeZones zones;
  const auto& c = GetParam();
  const CommandLine trusted = command("/usr/bin/apt", {}, true, kDigestA);
  const CommandLine untrusted = command("/usr/bin/apt", {}, false, kDigestA);
  for (const Action a : {Action::kAllow, Action::kRequest, Action::kDeny}) {
    Policy p;
    p.settings.default_action = a == Action::kDeny ? Action::kRequest : Action::kDeny;
    p.rules = {make_rule("r", a, c.setup)};
    const auto policy = compile(std::move(p));
    const Decision on_trusted = policy->evaluate(alice(), trusted, kNoon, zones);
    EXPECT_EQ(on_trusted.action, a) << c.what << " / " << to_string(a);
    EXPECT_NE(on_trusted.rule, nullptr) << c.what << " / " << to_string(a);
    const Decision on_untrusted = policy->evaluate(alice(), untrusted, kNoon, zones);
    if (a == Action::kDeny) {
      EXPECT_EQ(on_untrusted.action, Action::kDeny) << c.what;
      EXPECT_NE(on_untrusted.rule, nullptr) << c.what << ": the deny rule itself must match";
    } else {
      EXPECT_EQ(on_untrusted.rule, nullptr) << c.what << " / " << to_string(a);
      EXPECT_EQ(on_untrusted.action, Action::kDeny) << c.what << " / " << to_string(a);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Table, PathTrust,
                         ::testing::Values(TrustCase{"path", path_apt}, TrustCase{"folder", folder_usr_bin},
                                           TrustCase{"path_glob",
                                                     [](Rule& r) { r.match.path_glob = path_glob("/usr/bin/a*"); }},
                                           TrustCase{"sha256 and path",
                                                     [](Rule& r) {
                                                       r.match.sha256 = {kDigestA};
                                                       r.match.path = "/usr/bin/apt";
                                                     }},
                                           TrustCase{"path and args", [](Rule& r) {
                                                       r.match.path = "/usr/bin/apt";
                                                       r.match.args = args_globs({});
                                                     }}));

TEST(PathTrust, DenyOnUntrustedPathBeatsAllowByDigest) {
  const FakeTimeZones zones;
  const auto policy = compile(deny_by_default({
      make_rule("allow-digest", Action::kAllow, [](Rule& r) { r.match.sha256 = {kDigestA}; }),
      make_rule("deny-tmp", Action::kDeny, [](Rule& r) { r.match.folder = "/tmp"; }),
  }));
  const Decision d = policy->evaluate(alice(), command("/tmp/x", {}, false, kDigestA), kNoon, zones);
  EXPECT_EQ(d.action, Action::kDeny);
  ASSERT_NE(d.rule, nullptr);
  EXPECT_EQ(d.rule->name, "deny-tmp");
}

TEST(PathTrust, NonNormalisedExecutablePathNeverHelpsAGrantRuleMatch) {
  // exe.path should arrive normalised; if a caller gets that wrong, ".." must
  // not let /tmp/x pass for something under /usr/bin (see core/path.h).
  const FakeTimeZones zones;
  for (const auto& setup : std::vector<std::function<void(Rule&)>>{
           folder_usr_bin, [](Rule& r) { r.match.path_glob = path_glob("/usr/bin/**"); }}) {
    const auto policy = compile(deny_by_default({make_rule("r", Action::kAllow, setup)}));
    const Decision d = policy->evaluate(alice(), command("/usr/bin/../../tmp/x"), kNoon, zones);
    EXPECT_EQ(d.action, Action::kDeny) << d.reason;
    EXPECT_EQ(d.rule, nullptr);
  }
}

TEST(PathTrust, DenyRuleSeesTheNormalisedPathOfANonNormalisedCommand) {
  const FakeTimeZones zones;
  const auto policy = compile(deny_by_default({
      make_rule("deny-tmp", Action::kDeny, [](Rule& r) { r.match.folder = "/tmp"; }),
      make_rule("allow-all", Action::kAllow, [](Rule& r) { r.match.any_command = true; }),
  }));
  const Decision d = policy->evaluate(alice(), command("/usr/bin/../../tmp/x"), kNoon, zones);
  EXPECT_EQ(d.action, Action::kDeny);
  ASSERT_NE(d.rule, nullptr);
  EXPECT_EQ(d.rule->name, "deny-tmp");
}

TEST(PackageMatch, DenyByPackageAlsoCatchesAModifiedBinary) {
  // A grant needs the genuine file; a deny must not be dodged by editing it.
  const FakeTimeZones zones;
  const auto policy = compile(deny_by_default({
      make_rule("deny-netcat", Action::kDeny,
                [](Rule& r) { r.match.package = StringMatcher::literal("netcat-openbsd"); }),
      make_rule("allow-all", Action::kAllow, [](Rule& r) { r.match.any_command = true; }),
  }));
  for (const bool verified : {true, false}) {
    const Decision d = policy->evaluate(
        alice(), command("/usr/bin/nc", {}, true, std::nullopt, package("netcat-openbsd", verified)), kNoon, zones);
    EXPECT_EQ(d.action, Action::kDeny) << "verified=" << verified;
  }
  // Not owned by the package at all: the deny does not apply.
  const Decision other = policy->evaluate(alice(), command("/usr/bin/nc"), kNoon, zones);
  EXPECT_EQ(other.action, Action::kAllow);
}

// ---------------------------------------------------------------------------
// Precedence: deny > allow > request > default, whatever the file order.

struct PrecedenceCase {
  bool deny;
  bool allow;
  bool request;
  Action default_action;
};

std::ostream& operator<<(std::ostream& os, const PrecedenceCase& c) {
  return os << "deny=" << c.deny << " allow=" << c.allow << " request=" << c.request
            << " default=" << to_string(c.default_action);
}

class Precedence : public ::testing::TestWithParam<PrecedenceCase> {};

TEST_P(Precedence, HighestActionWins) {
  const FakeTimeZones zones;
  const auto& c = GetParam();
  // Each rule matches only when the endpoint has its label. File order is
  // the reverse of the precedence, so order cannot be what decides.
  const auto labelled = [](std::string label) {
    return [label](Rule& r) {
      r.match.any_command = true;
      r.scope.labels = {label};
    };
  };
  Policy p;
  p.settings.default_action = c.default_action;
  p.rules = {make_rule("req", Action::kRequest, labelled("R")), make_rule("allow", Action::kAllow, labelled("A")),
             make_rule("deny", Action::kDeny, labelled("D"))};
  const auto policy = compile(std::move(p));
  Subject s = alice();
  s.labels.clear();
  if (c.deny) s.labels.emplace_back("D");
  if (c.allow) s.labels.emplace_back("A");
  if (c.request) s.labels.emplace_back("R");
  const Decision d = policy->evaluate(s, command("/usr/bin/x"), kNoon, zones);
  if (c.deny) {
    EXPECT_EQ(d.action, Action::kDeny);
    ASSERT_NE(d.rule, nullptr);
    EXPECT_EQ(d.rule->name, "deny");
  } else if (c.allow) {
    EXPECT_EQ(d.action, Action::kAllow);
    ASSERT_NE(d.rule, nullptr);
    EXPECT_EQ(d.rule->name, "allow");
  } else if (c.request) {
    EXPECT_EQ(d.action, Action::kRequest);
    ASSERT_NE(d.rule, nullptr);
    EXPECT_EQ(d.rule->name, "req");
  } else {
    EXPECT_EQ(d.action, c.default_action);
    EXPECT_EQ(d.rule, nullptr);
  }
  EXPECT_FALSE(d.reason.empty());
}

std::vector<PrecedenceCase> all_precedence_cases() {
  std::vector<PrecedenceCase> out;
  for (const Action def : {Action::kRequest, Action::kDeny}) {
    for (int bits = 0; bits < 8; ++bits) out.push_back({(bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0, def});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllCombinations, Precedence, ::testing::ValuesIn(all_precedence_cases()));

TEST(Precedence, FirstRuleOfTheSameActionInFileOrderIsReported) {
  const FakeTimeZones zones;
  // Rules of one action in different index buckets: folder, exact path,
  // digest, path glob and an unindexed rule. Whichever comes first in the
  // file must be reported, whatever bucket it sits in.
  const std::vector<std::function<void(Rule&)>> kinds = {
      folder_usr_bin,
      path_apt,
      [](Rule& r) { r.match.sha256 = {kDigestA}; },
      [](Rule& r) { r.match.path_glob = path_glob("/usr/bin/ap?"); },
      [](Rule& r) { r.match.any_command = true; },
      pkg_apt,
  };
  const CommandLine cmd = command("/usr/bin/apt", {}, true, kDigestA, package("apt", true));
  for (const Action action : {Action::kAllow, Action::kRequest, Action::kDeny}) {
    for (std::size_t first = 0; first < kinds.size(); ++first) {
      Policy p;
      p.settings.default_action = action == Action::kDeny ? Action::kRequest : Action::kDeny;
      p.rules.push_back(make_rule("first", action, kinds[first]));
      for (std::size_t k = 0; k < kinds.size(); ++k) {
        if (k != first) p.rules.push_back(make_rule("later" + std::to_string(k), action, kinds[k]));
      }
      const auto policy = compile(std::move(p));
      const Decision d = policy->evaluate(alice(), cmd, kNoon, zones);
      EXPECT_EQ(d.action, action);
      ASSERT_NE(d.rule, nullptr);
      EXPECT_EQ(d.rule->name, "first") << "first kind #" << first << ", action " << to_string(action);
    }
  }
}

TEST(Precedence, LaterMatchingRuleWhenEarlierDoesNotMatch) {
  const FakeTimeZones zones;
  const auto policy = compile(deny_by_default({
      make_rule("a1", Action::kAllow, [](Rule& r) { r.match.path = "/usr/bin/other"; }),
      make_rule("a2", Action::kAllow, folder_usr_bin),
      make_rule("a3", Action::kAllow, path_apt),
  }));
  const Decision d = policy->evaluate(alice(), command("/usr/bin/apt"), kNoon, zones);
  ASSERT_NE(d.rule, nullptr);
  EXPECT_EQ(d.rule->name, "a2");
}

TEST(DefaultDecision, RequestOrDenyWhenNothingMatches) {
  const FakeTimeZones zones;
  for (const Action def : {Action::kRequest, Action::kDeny}) {
    Policy p;
    p.settings.default_action = def;
    p.settings.max_duration = hours{2};
    p.settings.default_duration = hours{3};  // longer than the cap: the cap wins
    p.settings.reauthenticate = true;
    p.rules = {make_rule("other", Action::kAllow, path_apt)};
    const auto policy = compile(std::move(p));
    const Decision d = policy->evaluate(alice(), command("/usr/bin/vim"), kNoon, zones);
    EXPECT_EQ(d.action, def);
    EXPECT_EQ(d.rule, nullptr);
    EXPECT_EQ(d.max_duration, hours{2});
    EXPECT_EQ(d.default_duration, hours{2});
    EXPECT_TRUE(d.reauthenticate);
    EXPECT_FALSE(d.self_approval_allowed);
    EXPECT_EQ(d.approval, ApprovalMode::kManual);
    EXPECT_NE(d.reason.find("no rule matched"), std::string::npos) << d.reason;
  }
}

TEST(DefaultDecision, EmptyPolicy) {
  const FakeTimeZones zones;
  const auto policy = compile(Policy{});
  const Decision d = policy->evaluate(alice(), command("/bin/true"), kNoon, zones);
  EXPECT_EQ(d.action, Action::kRequest);  // Settings' default
  EXPECT_EQ(d.rule, nullptr);
  EXPECT_EQ(d.default_duration, minutes{15});
  EXPECT_EQ(d.max_duration, hours{8});
}

// ---------------------------------------------------------------------------
// Decision fields.

struct FieldsCase {
  std::string what;
  std::optional<Seconds> rule_max;
  std::optional<Seconds> rule_default;
  Seconds expected_max;
  Seconds expected_default;
};

std::ostream& operator<<(std::ostream& os, const FieldsCase& c) {
  return os << c.what;
}

class DecisionDurations : public ::testing::TestWithParam<FieldsCase> {};

TEST_P(DecisionDurations, CappedBySettings) {
  const FakeTimeZones zones;
  const auto& c = GetParam();
  Policy p;
  p.settings.max_duration = hours{4};
  p.settings.default_duration = minutes{30};
  p.rules = {make_rule("r", Action::kRequest, [&c](Rule& r) {
    r.match.any_command = true;
    r.max_duration = c.rule_max;
    r.default_duration = c.rule_default;
  })};
  const Decision d = compile(std::move(p))->evaluate(alice(), command("/bin/x"), kNoon, zones);
  EXPECT_EQ(d.action, Action::kRequest);
  EXPECT_EQ(d.max_duration, c.expected_max) << c.what;
  EXPECT_EQ(d.default_duration, c.expected_default) << c.what;
}

INSTANTIATE_TEST_SUITE_P(
    Table, DecisionDurations,
    ::testing::Values(FieldsCase{"settings only", std::nullopt, std::nullopt, hours{4}, minutes{30}},
                      FieldsCase{"rule shorter", hours{1}, minutes{10}, hours{1}, minutes{10}},
                      FieldsCase{"rule max above settings is capped", hours{10}, std::nullopt, hours{4}, minutes{30}},
                      FieldsCase{"default above rule max is capped", hours{1}, hours{2}, hours{1}, hours{1}},
                      FieldsCase{"settings default above rule max", minutes{20}, std::nullopt, minutes{20},
                                 minutes{20}},
                      FieldsCase{"default above both caps", hours{10}, hours{10}, hours{4}, hours{4}}));

TEST(DecisionFields, CopiedFromTheRule) {
  const FakeTimeZones zones;
  Policy p;
  p.rules = {make_rule("r", Action::kRequest, [](Rule& r) {
    r.match.any_command = true;
    r.approval = ApprovalMode::kAutonomous;
    r.reauthenticate = true;
  })};
  const Decision d = compile(std::move(p))->evaluate(alice(), command("/bin/x"), kNoon, zones);
  EXPECT_EQ(d.approval, ApprovalMode::kAutonomous);
  EXPECT_TRUE(d.reauthenticate);
  EXPECT_NE(d.reason.find("\"r\""), std::string::npos) << d.reason;
}

struct SelfCase {
  std::string what;
  Action action;
  ApprovalMode mode;
  std::vector<std::string> self_groups;
  std::vector<std::string> subject_groups;
  bool expected;
};

std::ostream& operator<<(std::ostream& os, const SelfCase& c) {
  return os << c.what;
}

class SelfApproval : public ::testing::TestWithParam<SelfCase> {};

TEST_P(SelfApproval, OnlyForSelfModeAndGroupMembers) {
  const FakeTimeZones zones;
  const auto& c = GetParam();
  Policy p;
  p.settings.default_action = Action::kDeny;
  p.rules = {make_rule("r", c.action, [&c](Rule& r) {
    r.match.any_command = true;
    r.approval = c.mode;
    r.self_approval_groups = c.self_groups;
  })};
  const Subject s{"alice", c.subject_groups, {}};
  const Decision d = compile(std::move(p))->evaluate(s, command("/bin/x"), kNoon, zones);
  ASSERT_EQ(d.action, c.action);
  EXPECT_EQ(d.self_approval_allowed, c.expected) << c.what;
}

INSTANTIATE_TEST_SUITE_P(
    Table, SelfApproval,
    ::testing::Values(
        SelfCase{"self, member", Action::kRequest, ApprovalMode::kSelf, {"oncall"}, {"staff", "oncall"}, true},
        SelfCase{"self, not member", Action::kRequest, ApprovalMode::kSelf, {"oncall"}, {"staff"}, false},
        SelfCase{"self, no groups", Action::kRequest, ApprovalMode::kSelf, {}, {"staff"}, false},
        SelfCase{"self, user name is not a group", Action::kRequest, ApprovalMode::kSelf, {"alice"}, {"staff"}, false},
        SelfCase{"manual, member", Action::kRequest, ApprovalMode::kManual, {"oncall"}, {"oncall"}, false},
        SelfCase{"autonomous, member", Action::kRequest, ApprovalMode::kAutonomous, {"oncall"}, {"oncall"}, false},
        SelfCase{"allow rule, self mode", Action::kAllow, ApprovalMode::kSelf, {"oncall"}, {"oncall"}, false}));

// ---------------------------------------------------------------------------
// Scopes.

struct ScopeCase {
  std::string what;
  Scope scope;
  Subject subject;
  TimePoint now;
  bool expected;
};

std::ostream& operator<<(std::ostream& os, const ScopeCase& c) {
  return os << c.what;
}

class ScopeMatch : public ::testing::TestWithParam<ScopeCase> {};

TEST_P(ScopeMatch, Table) {
  const FakeTimeZones zones;
  const auto& c = GetParam();
  const auto policy = compile(deny_by_default({make_rule("r", Action::kAllow, [&c](Rule& r) {
    r.match.any_command = true;
    r.scope = c.scope;
  })}));
  const Decision d = policy->evaluate(c.subject, command("/bin/x"), c.now, zones);
  EXPECT_EQ(d.action == Action::kAllow, c.expected) << c.what << ": " << d.reason;
}

Scope principals(std::vector<std::string> users, std::vector<std::string> groups) {
  Scope s;
  s.users = std::move(users);
  s.groups = std::move(groups);
  return s;
}

Scope labels(std::vector<std::string> l) {
  Scope s;
  s.labels = std::move(l);
  return s;
}

Scope hosts(std::vector<std::string> h) {
  Scope s;
  s.hosts = std::move(h);
  return s;
}

Scope when(const std::string& days, const std::string& hours_text, std::string zone = "UTC") {
  TimeWindow w;
  w.days = *parse_days(days);
  const auto h = *parse_hours(hours_text);
  w.start_minute = h.first;
  w.end_minute = h.second;
  w.zone = std::move(zone);
  Scope s;
  s.when = w;
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Principals, ScopeMatch,
    ::testing::Values(
        ScopeCase{"empty scope is everyone", Scope{}, Subject{"mallory", {}, {}}, kNoon, true},
        ScopeCase{"named user", principals({"alice"}, {"admins"}), Subject{"alice", {}, {}}, kNoon, true},
        ScopeCase{"group member", principals({"alice"}, {"admins"}), Subject{"bob", {"staff", "admins"}, {}}, kNoon,
                  true},
        ScopeCase{"neither", principals({"alice"}, {"admins"}), Subject{"bob", {"staff"}, {}}, kNoon, false},
        ScopeCase{"users only, other user", principals({"alice"}, {}), Subject{"bob", {"alice"}, {}}, kNoon, false},
        ScopeCase{"groups only, user named like the group", principals({}, {"admins"}), Subject{"admins", {}, {}},
                  kNoon, false},
        ScopeCase{"names are case-sensitive", principals({"alice"}, {}), Subject{"Alice", {}, {}}, kNoon, false},
        ScopeCase{"no partial names", principals({"alice"}, {"adm"}), Subject{"alice2", {"admins"}, {}}, kNoon,
                  false}));

INSTANTIATE_TEST_SUITE_P(
    Labels, ScopeMatch,
    ::testing::Values(ScopeCase{"one of the labels", labels({"prod", "db"}), Subject{"a", {}, {"web", "db"}}, kNoon,
                                true},
                      ScopeCase{"no labels on endpoint", labels({"prod"}), Subject{"a", {}, {}}, kNoon, false},
                      ScopeCase{"other label", labels({"prod"}), Subject{"a", {}, {"dev"}}, kNoon, false},
                      ScopeCase{"labels and principals both needed",
                                [] {
                                  Scope s = principals({"alice"}, {});
                                  s.labels = {"prod"};
                                  return s;
                                }(),
                                Subject{"alice", {}, {"dev"}}, kNoon, false}));

INSTANTIATE_TEST_SUITE_P(
    Hosts, ScopeMatch,
    ::testing::Values(
        ScopeCase{"the host", hosts({"laptop-7", "db-1"}), Subject{"a", {}, {}, "laptop-7"}, kNoon, true},
        ScopeCase{"hostnames ignore case", hosts({"laptop-7"}), Subject{"a", {}, {}, "Laptop-7"}, kNoon, true},
        ScopeCase{"another host", hosts({"laptop-7"}), Subject{"a", {}, {}, "laptop-8"}, kNoon, false},
        ScopeCase{"no partial names", hosts({"laptop"}), Subject{"a", {}, {}, "laptop-7"}, kNoon, false},
        ScopeCase{"an unknown host never matches", hosts({"laptop-7"}), Subject{"a", {}, {}, ""}, kNoon, false},
        ScopeCase{"hosts and labels both needed",
                  [] {
                    Scope s = hosts({"laptop-7"});
                    s.labels = {"prod"};
                    return s;
                  }(),
                  Subject{"a", {}, {"dev"}, "laptop-7"}, kNoon, false}));

INSTANTIATE_TEST_SUITE_P(
    TimeWindows, ScopeMatch,
    ::testing::Values(
        ScopeCase{"fri night covers sat 03:00", when("fri", "22:00-06:00"), alice(), utc(2024, 1, 6, 3, 0), true},
        ScopeCase{"fri night not fri 03:00", when("fri", "22:00-06:00"), alice(), utc(2024, 1, 5, 3, 0), false},
        ScopeCase{"fri night starts 22:00", when("fri", "22:00-06:00"), alice(), utc(2024, 1, 5, 22, 0), true},
        ScopeCase{"fri night not 21:59:59", when("fri", "22:00-06:00"), alice(), utc(2024, 1, 5, 21, 59, 59), false},
        ScopeCase{"fri night ends before 06:00", when("fri", "22:00-06:00"), alice(), utc(2024, 1, 6, 5, 59, 59), true},
        ScopeCase{"fri night, 06:00 is out", when("fri", "22:00-06:00"), alice(), utc(2024, 1, 6, 6, 0), false},
        ScopeCase{"office hours start inclusive", when("mon-fri", "08:00-18:00"), alice(), utc(2024, 1, 3, 8, 0), true},
        ScopeCase{"office hours end exclusive", when("mon-fri", "08:00-18:00"), alice(), utc(2024, 1, 3, 18, 0), false},
        ScopeCase{"office hours, last second", when("mon-fri", "08:00-18:00"), alice(), utc(2024, 1, 3, 17, 59, 59),
                  true},
        ScopeCase{"office hours, weekend", when("mon-fri", "08:00-18:00"), alice(), utc(2024, 1, 6, 12, 0), false},
        ScopeCase{"zone shifts the window", when("mon-fri", "08:00-18:00", "Test/Plus2"), alice(),
                  utc(2024, 1, 3, 17, 0), false},  // 19:00 local
        ScopeCase{"zone shifts the window (in)", when("mon-fri", "08:00-18:00", "Test/Plus2"), alice(),
                  utc(2024, 1, 3, 6, 0), true},  // 08:00 local
        ScopeCase{"unknown zone never matches", when("all", "00:00-24:00", "Mars/Olympus"), alice(), kNoon, false}));

TEST(ScopeMatch, DenyInUnknownZoneStillDenies) {
  // Documented: an unknown zone never helps a grant, and a deny applies.
  const FakeTimeZones zones;
  auto deny = make_rule("deny", Action::kDeny, [](Rule& r) {
    r.match.any_command = true;
    r.scope = when("all", "00:00-24:00", "Mars/Olympus");
  });
  auto allow = make_rule("allow", Action::kAllow, [](Rule& r) { r.match.any_command = true; });
  const auto policy = compile(deny_by_default({deny, allow}));
  const Decision d = policy->evaluate(alice(), command("/bin/x"), kNoon, zones);
  EXPECT_EQ(d.action, Action::kDeny);
  ASSERT_NE(d.rule, nullptr);
  EXPECT_EQ(d.rule->name, "deny");
}

TEST(PrincipalMatches, Table) {
  const Subject s{"alice", {"staff", "wheel"}, {}};
  EXPECT_TRUE(principal_matches({}, {}, s));
  EXPECT_TRUE(principal_matches({"alice"}, {}, s));
  EXPECT_TRUE(principal_matches({}, {"wheel"}, s));
  EXPECT_TRUE(principal_matches({"bob"}, {"staff"}, s));
  EXPECT_FALSE(principal_matches({"bob"}, {}, s));
  EXPECT_FALSE(principal_matches({}, {"admins"}, s));
  EXPECT_FALSE(principal_matches({"bob"}, {"admins"}, s));
}

// ---------------------------------------------------------------------------
// The index.

TEST(Index, TenThousandRulesPickTheRightOne) {
  const FakeTimeZones zones;
  constexpr int kRules = 10000;
  Policy p;
  p.settings.default_action = Action::kDeny;
  p.rules.reserve(kRules);
  for (int i = 0; i < kRules; ++i) {
    const std::string n = std::to_string(i);
    switch (i % 4) {
      case 0:
        p.rules.push_back(
            make_rule("path" + n, Action::kAllow, [&n](Rule& r) { r.match.path = "/opt/app" + n + "/bin/tool"; }));
        break;
      case 1:
        p.rules.push_back(
            make_rule("sha" + n, Action::kAllow, [&n](Rule& r) { r.match.sha256 = {sha256("bin" + n)}; }));
        break;
      case 2:
        p.rules.push_back(make_rule("folder" + n, Action::kRequest, [&n](Rule& r) { r.match.folder = "/srv/f" + n; }));
        break;
      default:
        p.rules.push_back(make_rule("glob" + n, Action::kDeny,
                                    [&n](Rule& r) { r.match.path_glob = path_glob("/var/g" + n + "/*.sh"); }));
        break;
    }
  }
  const auto policy = compile(std::move(p));
  EXPECT_EQ(policy->unindexed_rule_count(), 0U);
  for (const int i : {0, 4, 4444, 9996}) {
    const Decision d = policy->evaluate(alice(), command("/opt/app" + std::to_string(i) + "/bin/tool"), kNoon, zones);
    ASSERT_NE(d.rule, nullptr) << i;
    EXPECT_EQ(d.rule->name, "path" + std::to_string(i));
    EXPECT_EQ(d.action, Action::kAllow);
  }
  for (const int i : {1, 5, 5001, 9997}) {
    const Decision d =
        policy->evaluate(alice(), command("/home/x/bin", {}, false, sha256("bin" + std::to_string(i))), kNoon, zones);
    ASSERT_NE(d.rule, nullptr) << i;
    EXPECT_EQ(d.rule->name, "sha" + std::to_string(i));
  }
  for (const int i : {2, 7778, 9998}) {
    const Decision d = policy->evaluate(alice(), command("/srv/f" + std::to_string(i) + "/a/b"), kNoon, zones);
    ASSERT_NE(d.rule, nullptr) << i;
    EXPECT_EQ(d.rule->name, "folder" + std::to_string(i));
    EXPECT_EQ(d.action, Action::kRequest);
  }
  for (const int i : {3, 6667, 9999}) {
    const Decision d = policy->evaluate(alice(), command("/var/g" + std::to_string(i) + "/x.sh"), kNoon, zones);
    ASSERT_NE(d.rule, nullptr) << i;
    EXPECT_EQ(d.rule->name, "glob" + std::to_string(i));
    EXPECT_EQ(d.action, Action::kDeny);
  }
  // Near misses fall through to the default.
  for (const std::string& miss :
       {std::string("/opt/app1/bin/tool"), std::string("/opt/app0/bin/tool2"), std::string("/srv/f21"),
        std::string("/srv/f2x/a"), std::string("/var/g3/x.py"), std::string("/var/g3/a/x.sh")}) {
    const Decision d = policy->evaluate(alice(), command(miss, {}, true, sha256("bin0")), kNoon, zones);
    EXPECT_EQ(d.rule, nullptr) << miss << " matched " << d.rule->name;
    EXPECT_EQ(d.action, Action::kDeny) << miss;
  }
}

TEST(Index, Sha256RuleWithPathNeedsBoth) {
  const FakeTimeZones zones;
  const auto policy = compile(deny_by_default({make_rule("r", Action::kAllow, [](Rule& r) {
    r.match.sha256 = {kDigestA};
    r.match.path = "/usr/bin/x";
  })}));
  EXPECT_EQ(policy->unindexed_rule_count(), 0U);
  EXPECT_EQ(policy->evaluate(alice(), command("/usr/bin/x", {}, true, kDigestA), kNoon, zones).action, Action::kAllow);
  EXPECT_EQ(policy->evaluate(alice(), command("/usr/bin/y", {}, true, kDigestA), kNoon, zones).action, Action::kDeny);
  EXPECT_EQ(policy->evaluate(alice(), command("/usr/bin/x", {}, true, kDigestB), kNoon, zones).action, Action::kDeny);
  EXPECT_EQ(policy->evaluate(alice(), command("/usr/bin/x"), kNoon, zones).action, Action::kDeny);
}

TEST(Index, DuplicateDigestInOneRuleIsHarmless) {
  const FakeTimeZones zones;
  const auto policy = compile(deny_by_default({make_rule("r", Action::kAllow, [](Rule& r) {
    r.match.sha256 = {kDigestA, kDigestA, kDigestB};
  })}));
  const Decision d = policy->evaluate(alice(), command("/x", {}, true, kDigestA), kNoon, zones);
  ASSERT_NE(d.rule, nullptr);
  EXPECT_EQ(d.rule->name, "r");
}

struct UnindexedCase {
  std::string what;
  std::function<void(Rule&)> setup;
  std::size_t expected;
};

std::ostream& operator<<(std::ostream& os, const UnindexedCase& c) {
  return os << c.what;
}

class UnindexedCount : public ::testing::TestWithParam<UnindexedCase> {};

TEST_P(UnindexedCount, Table) {
  const auto& c = GetParam();
  const auto policy = compile(deny_by_default({make_rule("r", Action::kAllow, c.setup)}));
  EXPECT_EQ(policy->unindexed_rule_count(), c.expected) << c.what;
}

INSTANTIATE_TEST_SUITE_P(
    Table, UnindexedCount,
    ::testing::Values(UnindexedCase{"sha256", sha_ab, 0}, UnindexedCase{"path", path_apt, 0},
                      UnindexedCase{"folder", folder_usr_bin, 0},
                      UnindexedCase{"glob", [](Rule& r) { r.match.path_glob = path_glob("/usr/lib/*/x"); }, 0},
                      UnindexedCase{"glob at root", [](Rule& r) { r.match.path_glob = path_glob("/**"); }, 0},
                      UnindexedCase{"literal package", pkg_apt, 0},
                      UnindexedCase{"package glob", [](Rule& r) { r.match.package = text_glob("lib*"); }, 1},
                      UnindexedCase{"origin", [](Rule& r) { r.match.origin = text_glob("Debian"); }, 1},
                      UnindexedCase{"verified", [](Rule& r) { r.match.verified = true; }, 1},
                      UnindexedCase{"any command", [](Rule& r) { r.match.any_command = true; }, 1}));

TEST(Index, RelativeExecutablePathDoesNotHang) {
  const FakeTimeZones zones;
  const auto policy = compile(deny_by_default({make_rule("r", Action::kAllow, folder_usr_bin)}));
  // A caller bug (a path that is not absolute) must end in a decision, not a hang.
  const Decision d = policy->evaluate(alice(), command("tool"), kNoon, zones);
  EXPECT_EQ(d.action, Action::kDeny);
  EXPECT_EQ(d.rule, nullptr);
}

TEST(Index, NonUtf8PathCannotEvadeADenyGlob) {
  const FakeTimeZones zones;
  const auto policy = compile(deny_by_default({
      make_rule("deny-scripts", Action::kDeny, [](Rule& r) { r.match.path_glob = path_glob("/opt/tools/**"); }),
      make_rule("allow-opt", Action::kAllow, [](Rule& r) { r.match.folder = "/opt"; }),
  }));
  const Decision d = policy->evaluate(alice(), command("/opt/tools/caf\xe9"), kNoon, zones);
  EXPECT_EQ(d.action, Action::kDeny);
  ASSERT_NE(d.rule, nullptr);
  EXPECT_EQ(d.rule->name, "deny-scripts");
}

// ---------------------------------------------------------------------------
// Compile and lookup.

TEST(Compile, RejectsInconsistentPolicies) {
  {
    const auto c = CompiledPolicy::compile(
        deny_by_default({make_rule("a", Action::kAllow, path_apt), make_rule("a", Action::kDeny, folder_usr_bin)}));
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(c.error().message.find("\"a\""), std::string::npos);
  }
  for (const std::string bad : {"/usr/bin/", "/usr//bin", "/usr/./bin", "/usr/../bin", "usr/bin", ""}) {
    const auto as_path = CompiledPolicy::compile(
        deny_by_default({make_rule("p", Action::kAllow, [&bad](Rule& r) { r.match.path = bad; })}));
    EXPECT_FALSE(as_path.ok()) << "path " << bad;
    const auto as_folder = CompiledPolicy::compile(
        deny_by_default({make_rule("f", Action::kAllow, [&bad](Rule& r) { r.match.folder = bad; })}));
    EXPECT_FALSE(as_folder.ok()) << "folder " << bad;
  }
}

TEST(Compile, FindRuleByName) {
  const auto policy = compile(
      deny_by_default({make_rule("a", Action::kAllow, path_apt), make_rule("b", Action::kDeny, folder_usr_bin)}));
  ASSERT_NE(policy->find_rule("b"), nullptr);
  EXPECT_EQ(policy->find_rule("b")->action, Action::kDeny);
  EXPECT_EQ(policy->find_rule("a")->match.path, "/usr/bin/apt");
  EXPECT_EQ(policy->find_rule("c"), nullptr);
  EXPECT_EQ(policy->find_rule(""), nullptr);
  EXPECT_EQ(policy->policy().rules.size(), 2U);
}

TEST(ToString, ActionsAndModes) {
  EXPECT_EQ(to_string(Action::kAllow), "allow");
  EXPECT_EQ(to_string(Action::kRequest), "request");
  EXPECT_EQ(to_string(Action::kDeny), "deny");
  EXPECT_EQ(to_string(ApprovalMode::kManual), "manual");
  EXPECT_EQ(to_string(ApprovalMode::kAutonomous), "autonomous");
  EXPECT_EQ(to_string(ApprovalMode::kSelf), "self");
}

// ---------------------------------------------------------------------------
// Autonomous approval.

class AutoApprovalTest : public ::testing::Test {
 protected:
  AutoApprovalTest() {
    Policy p;
    p.rules = {
        make_rule("auto-restart", Action::kRequest,
                  [](Rule& r) {
                    r.match.path = "/usr/bin/systemctl";
                    r.approval = ApprovalMode::kAutonomous;
                  }),
        make_rule("auto-other", Action::kRequest,
                  [](Rule& r) {
                    r.match.path = "/usr/bin/other";
                    r.approval = ApprovalMode::kAutonomous;
                  }),
        make_rule("manual", Action::kRequest, [](Rule& r) { r.match.path = "/usr/bin/vim"; }),
        make_rule("self", Action::kRequest,
                  [](Rule& r) {
                    r.match.path = "/usr/bin/self";
                    r.approval = ApprovalMode::kSelf;
                    r.self_approval_groups = {"ops"};
                  }),
        make_rule("allow-auto", Action::kAllow,
                  [](Rule& r) {
                    r.match.path = "/usr/bin/allowed";
                    r.approval = ApprovalMode::kAutonomous;  // meaningless on allow: must not qualify
                  }),
    };
    AutoApproval office;
    office.name = "ops-office-hours";
    office.groups = {"ops"};
    office.rules = {"auto-restart"};
    office.max_duration = hours{1};
    office.when = when("mon-fri", "08:00-18:00").when;
    AutoApproval carol;
    carol.name = "carol-anything";
    carol.users = {"carol"};
    carol.max_duration = minutes{10};
    p.auto_approvals = {office, carol};
    policy_ = compile(std::move(p));
  }

  const AutoApproval* find(const Subject& s, const std::string& rule, Seconds d, TimePoint now) const {
    const Rule* r = policy_->find_rule(rule);
    if (r == nullptr) throw std::runtime_error("no rule " + rule);
    return policy_->find_auto_approval(s, *r, d, now, zones_);
  }

  FakeTimeZones zones_;
  std::shared_ptr<const CompiledPolicy> policy_;
  const Subject ops_ = {"dave", {"dave", "ops"}, {}};
  const Subject carol_ = {"carol", {"carol"}, {}};
  const Subject other_ = {"erin", {"erin", "staff"}, {}};
};

TEST_F(AutoApprovalTest, GroupMemberInWindowWithinDuration) {
  const AutoApproval* a = find(ops_, "auto-restart", minutes{30}, kNoon);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "ops-office-hours");
}

TEST_F(AutoApprovalTest, DurationExactlyAtMaxIsAcceptedAboveIsRefused) {
  EXPECT_NE(find(ops_, "auto-restart", hours{1}, kNoon), nullptr);
  EXPECT_EQ(find(ops_, "auto-restart", hours{1} + Seconds{1}, kNoon), nullptr);
  EXPECT_NE(find(carol_, "auto-restart", minutes{10}, kNoon), nullptr);
  EXPECT_EQ(find(carol_, "auto-restart", minutes{11}, kNoon), nullptr);
}

TEST_F(AutoApprovalTest, OutsideTheTimeWindow) {
  EXPECT_EQ(find(ops_, "auto-restart", minutes{30}, utc(2024, 1, 3, 18, 0)), nullptr);
  EXPECT_EQ(find(ops_, "auto-restart", minutes{30}, utc(2024, 1, 6, 12, 0)), nullptr);  // Saturday
  EXPECT_NE(find(ops_, "auto-restart", minutes{30}, utc(2024, 1, 3, 8, 0)), nullptr);
}

TEST_F(AutoApprovalTest, NotAPrincipal) {
  EXPECT_EQ(find(other_, "auto-restart", minutes{5}, kNoon), nullptr);
}

TEST_F(AutoApprovalTest, RulesListIsRespected) {
  EXPECT_EQ(find(ops_, "auto-other", minutes{5}, kNoon), nullptr);        // not in ops' rules list
  const AutoApproval* a = find(carol_, "auto-other", minutes{5}, kNoon);  // carol's entry lists no rules: any
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "carol-anything");
}

TEST_F(AutoApprovalTest, OnlyAutonomousRequestRulesQualify) {
  for (const char* rule : {"manual", "self", "allow-auto"}) {
    EXPECT_EQ(find(carol_, rule, minutes{1}, kNoon), nullptr) << rule;
    EXPECT_EQ(find(ops_, rule, minutes{1}, kNoon), nullptr) << rule;
  }
}

TEST_F(AutoApprovalTest, FirstMatchingEntryWins) {
  // A subject who is both carol and in ops: the first entry in file order.
  const Subject both{"carol", {"ops"}, {}};
  const AutoApproval* a = find(both, "auto-restart", minutes{5}, kNoon);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "ops-office-hours");
  // Outside office hours the second entry still applies.
  a = find(both, "auto-restart", minutes{5}, utc(2024, 1, 6, 12, 0));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "carol-anything");
}

TEST_F(AutoApprovalTest, UnknownZoneNeverApproves) {
  Policy p;
  p.rules = {make_rule("auto", Action::kRequest, [](Rule& r) {
    r.match.any_command = true;
    r.approval = ApprovalMode::kAutonomous;
  })};
  AutoApproval a;
  a.name = "nowhere";
  a.when = when("all", "00:00-24:00", "Mars/Olympus").when;
  p.auto_approvals = {a};
  const auto policy = compile(std::move(p));
  EXPECT_EQ(policy->find_auto_approval(ops_, *policy->find_rule("auto"), minutes{1}, kNoon, zones_), nullptr);
}

}  // namespace
}  // namespace hoist
