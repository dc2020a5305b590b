// sudo.conf as text (src/agent/sudo_conf.h): reading it as sudo 1.9 does,
// putting Hoist's policy line in and taking it out while every other byte
// stays, and refusing what cannot be read with certainty.
#include "agent/sudo_conf.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace hoist::agent {
namespace {

const HoistPluginLine kLine{"/usr/lib/hoist/hoist_sudo.so", {"agent_socket=/run/hoist/agent.sock"}};
constexpr std::string_view kHoist =
    "Plugin hoist_policy /usr/lib/hoist/hoist_sudo.so agent_socket=/run/hoist/agent.sock";

// Debian 12's shipped /etc/sudo.conf, shortened: only comments.
constexpr std::string_view kDebian =
    "# Default /etc/sudo.conf file\n"
    "#\n"
    "# Sudo plugins:\n"
    "#   Plugin plugin_name plugin_path plugin_options ...\n"
    "#Plugin sudoers_policy sudoers.so\n"
    "#Plugin sudoers_io sudoers.so\n"
    "#Set disable_coredump false\n";

std::string with(std::string_view text) {
  auto edit = with_hoist_policy(text, kLine);
  EXPECT_TRUE(edit) << edit.error().message;
  return edit ? edit->text : std::string();
}

std::string without(std::string_view text) {
  auto edit = without_hoist_policy(text);
  EXPECT_TRUE(edit) << edit.error().message;
  return edit ? edit->text : std::string();
}

TEST(SudoConf, ReadsPluginLinesAsSudoDoes) {
  auto conf = parse_sudo_conf(
      "Path askpass /usr/bin/ssh-askpass\n"
      "  plugin\tsudoers_policy   sudoers.so  sudoers_file=/etc/sudoers # trailing comment\n"
      "Plugin sudoers_io sudoers.so\n"
      "Plugin python_approval python_plugin.so \\\n"
      "    ModulePath=/x.py ClassName=A\n"
      "Set disable_coredump false\n");
  ASSERT_TRUE(conf) << conf.error().message;
  ASSERT_EQ(conf->plugins.size(), 3U);
  ASSERT_NE(conf->policy(), nullptr);
  EXPECT_EQ(conf->policy()->symbol, "sudoers_policy");
  EXPECT_EQ(conf->policy()->path, "sudoers.so");
  EXPECT_EQ(conf->policy()->options, std::vector<std::string>{"sudoers_file=/etc/sudoers"});
  EXPECT_EQ(conf->policy()->first_line, 2U);
  EXPECT_FALSE(conf->loads_hoist());
  EXPECT_EQ(conf->plugins[1].type, PluginType::kIo);
  const auto& approval = conf->plugins[2];
  EXPECT_EQ(approval.type, PluginType::kApproval);
  EXPECT_EQ(approval.first_line, 4U);
  EXPECT_EQ(approval.last_line, 5U);
  EXPECT_EQ(approval.options, (std::vector<std::string>{"ModulePath=/x.py", "ClassName=A"}));
}

// sudo 1.9's parse_path and sudo_qualify_plugin: the name in any case, the
// last line wins, a line without a value leaves no directory, and a
// relative plugin path is appended to the directory as it is ("%s%s").
TEST(SudoConf, FindsThePluginFileWhereSudoDoes) {
  auto file_of = [](std::string_view text) -> std::optional<std::string> {
    auto conf = parse_sudo_conf(text);
    EXPECT_TRUE(conf) << conf.error().message;
    if (!conf || conf->policy() == nullptr) return std::string("(no policy line)");
    return conf->plugin_file(*conf->policy());
  };
  EXPECT_EQ(file_of("Plugin hoist_policy hoist_sudo.so\n"), "/usr/libexec/sudo/hoist_sudo.so");
  EXPECT_EQ(file_of("Path plugin_dir /opt/sudo/\nPlugin hoist_policy hoist_sudo.so\n"), "/opt/sudo/hoist_sudo.so");
  EXPECT_EQ(file_of("PATH PLUGIN_DIR /opt/sudo/\nPlugin hoist_policy hoist_sudo.so\n"), "/opt/sudo/hoist_sudo.so");
  EXPECT_EQ(file_of("Path plugin_dir /opt/sudo\nPlugin hoist_policy hoist_sudo.so\n"), "/opt/sudohoist_sudo.so");
  EXPECT_EQ(file_of("Path plugin_dir /a/\nPath plugin_dir /b/\nPlugin hoist_policy x.so\n"), "/b/x.so");
  EXPECT_EQ(file_of("Path plugin_dir /a/\nPlugin hoist_policy x.so\nPath plugin_dir /b/\n"), "/b/x.so");
  EXPECT_EQ(file_of("Path plugin_dir\nPlugin hoist_policy x.so\n"), std::nullopt);
  EXPECT_EQ(file_of("Path plugin_dir /a/\nPlugin hoist_policy /usr/lib/hoist/x.so\n"), "/usr/lib/hoist/x.so");
  // Other paths, a longer name, a comment and a continued line.
  EXPECT_EQ(file_of("Path noexec /x\nPath plugin_dirs /a/\n# Path plugin_dir /c/\nPlugin hoist_policy x.so\n"),
            "/usr/libexec/sudo/x.so");
  EXPECT_EQ(file_of("Path plugin_dir \\\n  /d/\nPlugin hoist_policy x.so\n"), "/d/x.so");
}

TEST(SudoConf, CommentsAndNonPluginLinesAreNotPlugins) {
  auto conf = parse_sudo_conf(
      "#Plugin sudoers_policy sudoers.so\n"
      "   # Plugin hoist_policy /x.so\n"
      "Plugins sudoers_policy sudoers.so\n"  // not the keyword
      "Plugin\n"                             // no blank after it
      "Plugin only_policy\n"                 // too few fields: sudo ignores it
      "Plugin# sudoers_policy sudoers.so\n"
      "Path \\\n"
      "Plugin hoist_policy /x.so\n");  // continues the Path line
  ASSERT_TRUE(conf) << conf.error().message;
  EXPECT_TRUE(conf->plugins.empty());
  EXPECT_EQ(conf->policy(), nullptr);
}

TEST(SudoConf, ACommentLineEndingInBackslashDoesNotContinue) {
  auto conf = parse_sudo_conf("# note \\\nPlugin hoist_policy /x.so\r\n");
  ASSERT_TRUE(conf) << conf.error().message;
  ASSERT_NE(conf->policy(), nullptr);
  EXPECT_TRUE(conf->loads_hoist());
  EXPECT_EQ(conf->policy()->path, "/x.so");
  EXPECT_EQ(conf->policy()->first_line, 2U);
}

TEST(SudoConf, InstallIntoTheDefaultFileAppendsAndKeepsEverything) {
  const std::string out = with(kDebian);
  EXPECT_EQ(out, std::string(kDebian) + std::string(kHoist) + "\n");
  auto conf = parse_sudo_conf(out);
  ASSERT_TRUE(conf);
  EXPECT_TRUE(conf->loads_hoist());
  EXPECT_EQ(conf->policy()->options, std::vector<std::string>{"agent_socket=/run/hoist/agent.sock"});
}

TEST(SudoConf, InstallReplacesOnlyThePolicyLine) {
  const std::string before =
      "Path askpass /usr/bin/ssh-askpass\n"
      "#Plugin sudoers_policy sudoers.so\n"
      "Plugin sudoers_policy sudoers.so\n"
      "Plugin sudoers_io sudoers.so\n"
      "Set disable_coredump false\n"
      "Debug sudo /var/log/sudo_debug all@warn\n";
  const std::string expected =
      "Path askpass /usr/bin/ssh-askpass\n"
      "#Plugin sudoers_policy sudoers.so\n" +
      std::string(kHoist) +
      "\n"
      "Plugin sudoers_io sudoers.so\n"
      "Set disable_coredump false\n"
      "Debug sudo /var/log/sudo_debug all@warn\n";
  EXPECT_EQ(with(before), expected);
}

TEST(SudoConf, InstallReplacesAContinuedPolicyLineWhole) {
  EXPECT_EQ(with("Plugin sudoers_policy \\\n  sudoers.so\nSet a b\n"), std::string(kHoist) + "\nSet a b\n");
}

TEST(SudoConf, InstallWithoutFinalNewline) {
  EXPECT_EQ(with("Set a b"), "Set a b\n" + std::string(kHoist) + "\n");
  EXPECT_EQ(with("Plugin sudoers_policy sudoers.so"), std::string(kHoist));
  EXPECT_EQ(with(""), std::string(kHoist) + "\n");
}

TEST(SudoConf, InstallIsIdempotentAndUpdatesAnOlderHoistLine) {
  const std::string once = with(kDebian);
  auto again = with_hoist_policy(once, kLine);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->text, once);

  HoistPluginLine other = kLine;
  other.options.push_back("break_glass_file=/etc/hoist/break-glass");
  auto updated = with_hoist_policy(once, other);
  ASSERT_TRUE(updated);
  EXPECT_TRUE(updated->changed);
  EXPECT_EQ(updated->text, std::string(kDebian) + std::string(kHoist) + " break_glass_file=/etc/hoist/break-glass\n");
}

TEST(SudoConf, UninstallRemovesOnlyTheHoistLine) {
  const std::string before = "Set a b\n#Plugin sudoers_policy sudoers.so\n";
  EXPECT_EQ(without(with(before)), before);
  EXPECT_EQ(without(with(kDebian)), kDebian);
  EXPECT_EQ(without("Plugin sudoers_io sudoers.so\n" + std::string(kHoist) + "\nSet a b\n"),
            "Plugin sudoers_io sudoers.so\nSet a b\n");
  auto conf = parse_sudo_conf(without(with(before)));
  ASSERT_TRUE(conf);
  EXPECT_EQ(conf->policy(), nullptr);  // sudo's default: sudoers
}

TEST(SudoConf, UninstallIsIdempotent) {
  const std::string_view texts[] = {kDebian, "Plugin sudoers_policy sudoers.so\n", ""};
  for (const std::string_view text : texts) {
    auto edit = without_hoist_policy(text);
    ASSERT_TRUE(edit) << edit.error().message;
    EXPECT_FALSE(edit->changed);
    EXPECT_EQ(edit->text, text);
  }
}

TEST(SudoConf, RefusesWhatCannotBeReadWithCertainty) {
  struct Case {
    std::string text;
    std::string_view says;
  };
  const Case cases[] = {
      {"Plugin sudoers_policy sudoers.so\nPlugin hoist_policy /x.so\n", "lines 1 and 2 both name a policy plugin"},
      {"Plugin mystery mystery.so\n", "line 1: cannot tell what kind of plugin \"mystery\""},
      {"Set a b\nSet c \\", "line 2: the file ends inside a continued line"},
      {std::string("Set a b\nPath x\0y\n", 17), "line 2: contains a NUL byte"},
      {std::string(kMaxSudoConfBytes + 1, '#'), "more than"},
  };
  for (const auto& c : cases) {
    auto parsed = parse_sudo_conf(c.text);
    ASSERT_FALSE(parsed) << c.says;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message.find(c.says), std::string::npos) << parsed.error().message;
    EXPECT_FALSE(with_hoist_policy(c.text, kLine));
    EXPECT_FALSE(without_hoist_policy(c.text));
  }
}

TEST(SudoConf, RefusesLineFieldsSudoWouldSplitDifferently) {
  const HoistPluginLine bad[] = {
      {"hoist_sudo.so", {}},                               // relative: resolved against /usr/libexec/sudo
      {"/usr/lib/hoist/hoist sudo.so", {}},                // a blank splits it
      {"/usr/lib/hoist/hoist_sudo.so", {"agent_socket"}},  // not KEY=VALUE
      {"/usr/lib/hoist/hoist_sudo.so", {"=x"}},
      {"/usr/lib/hoist/hoist_sudo.so", {"agent_socket=/run/a b"}},
      {"/usr/lib/hoist/hoist_sudo.so", {"agent_socket=/run/#a"}},   // a comment
      {"/usr/lib/hoist/hoist_sudo.so", {"agent_socket=/run/a\\"}},  // a continuation
      {"/usr/lib/hoist/hoist_sudo.so", {"agent_socket=/run/a\n"}},
      {"/usr/lib/hoist/hoist_sudo.so", {""}},
  };
  for (const auto& line : bad) {
    auto formatted = format_hoist_plugin_line(line);
    EXPECT_FALSE(formatted) << line.plugin_path << " " << (line.options.empty() ? "" : line.options[0]);
    if (!formatted) {
      EXPECT_EQ(formatted.error().code, ErrorCode::kInvalidArgument);
    }
    EXPECT_FALSE(with_hoist_policy(kDebian, line));
  }
  auto good = format_hoist_plugin_line(kLine);
  ASSERT_TRUE(good);
  EXPECT_EQ(*good, kHoist);
}

}  // namespace
}  // namespace hoist::agent
