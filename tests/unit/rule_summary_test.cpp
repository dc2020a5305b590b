#include "core/rule_summary.h"

#include <gtest/gtest.h>

#include <string>

#include "core/policy_file.h"
#include "test_support.h"

namespace hoist {
namespace {

// The summary of the one rule `criteria` (TOML lines) describe.
std::string summary_of(const std::string& criteria, const std::string& action = "allow") {
  const test::FakeTimeZones zones;
  const std::string text = "version = 1\n[[rule]]\nname = \"r\"\naction = \"" + action + "\"\n" + criteria + "\n";
  auto parsed = parse_policy(text, "policy.toml", zones);
  if (!parsed.policy) {
    std::string errors;
    for (const auto& e : parsed.errors) errors += e.to_string() + "\n";
    ADD_FAILURE() << errors;
    return "";
  }
  return command_summary(parsed.policy->rules.at(0).match);
}

TEST(RuleSummary, NamesTheCommandAsSudoListDoes) {
  EXPECT_EQ(summary_of("path = \"/usr/bin/id\""), "/usr/bin/id");
  EXPECT_EQ(summary_of("path = \"/usr/bin/apt-get\"\nargs = [\"check\"]"), "/usr/bin/apt-get check");
  EXPECT_EQ(summary_of("path = \"/usr/bin/ls\"\nargs = []"), "/usr/bin/ls \"\"");
  EXPECT_EQ(summary_of("path = \"/usr/bin/systemctl\"\nargs = [\"restart\", \"nginx*\", \"...\"]"),
            "/usr/bin/systemctl restart nginx* ...");
  EXPECT_EQ(summary_of("path_glob = \"/usr/local/bin/*\""), "/usr/local/bin/*");
  EXPECT_EQ(summary_of("folder = \"/opt/acme/bin\""), "/opt/acme/bin/... (anything in it)");
  EXPECT_EQ(summary_of("any_command = true"), "any command");
}

TEST(RuleSummary, PackagesDigestsAndVerification) {
  EXPECT_EQ(summary_of("package = \"apt\""), "a program of package apt");
  EXPECT_EQ(summary_of("path = \"/usr/bin/apt-get\"\npackage = \"apt\""),
            "/usr/bin/apt-get (as dpkg installed it), a program of package apt");
  EXPECT_EQ(summary_of("origin = \"Debian\""), "a program from Debian");
  EXPECT_EQ(summary_of("verified = true"), "a program as dpkg installed it");
  EXPECT_EQ(summary_of("sha256 = \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\""),
            "the file with SHA-256 ba7816bf8f01...");
}

TEST(RuleSummary, SessionsAndEdits) {
  EXPECT_EQ(summary_of("session = true\napproval = \"manual\"", "request"),
            "a temporary admin session (hoist elevate)");
  EXPECT_EQ(summary_of("edit = [\"/etc/hosts\", \"/etc/nginx/*.conf\"]"), "sudo -e /etc/hosts /etc/nginx/*.conf");
}

}  // namespace
}  // namespace hoist
