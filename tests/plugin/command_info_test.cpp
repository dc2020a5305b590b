// command_info as sudo's front end reads it: exact output for the cases the
// plugin produces, keys an older sudo would silently ignore are errors, and
// the char** views stay valid.
#include "plugin/command_info.h"

#include <gtest/gtest.h>

#include <climits>
#include <string>
#include <vector>

namespace hoist::plugin {
namespace {

CommandSpec root_run() {
  CommandSpec s;
  s.command = "/usr/bin/apt-get";
  s.runas = {"root", 0, 0, "", {0, 1, 2, 3, 4, 6, 10}};
  s.cwd = "/home/alice/src";
  s.execfd = 7;
  s.umask = 022;
  return s;
}

std::vector<std::string> build(const CommandSpec& s, unsigned api = kSudoApi_1_21) {
  auto info = build_command_info(s, api);
  EXPECT_TRUE(info.ok()) << info.error().message;
  return info.ok() ? info->strings() : std::vector<std::string>{};
}

TEST(BuildCommandInfo, AnAllowedCommandAsRoot) {
  EXPECT_EQ(build(root_run()), (std::vector<std::string>{
                                   "command=/usr/bin/apt-get",
                                   "runas_user=root",
                                   "runas_uid=0",
                                   "runas_gid=0",
                                   "runas_euid=0",
                                   "runas_egid=0",
                                   "runas_groups=0,1,2,3,4,6,10",
                                   "cwd=/home/alice/src",
                                   "closefrom=3",
                                   "execfd=7",
                                   "umask=022",
                               }));
}

TEST(BuildCommandInfo, AnotherUserAndGroupWithTheEffectiveGidFirstAndNoRepeats) {
  CommandSpec s;
  s.command = "/usr/bin/psql";
  s.runas = {"postgres", 114, 121, "dba", {120, 121, 44, 120}};
  EXPECT_EQ(build(s), (std::vector<std::string>{
                          "command=/usr/bin/psql",
                          "runas_user=postgres",
                          "runas_group=dba",
                          "runas_uid=114",
                          "runas_gid=121",
                          "runas_euid=114",
                          "runas_egid=121",
                          "runas_groups=121,120,44",
                          "closefrom=3",
                      }));
}

TEST(BuildCommandInfo, ALoginShellInATimedRecordedSession) {
  CommandSpec s;
  s.command = "/bin/bash";
  s.runas = {"root", 0, 0, "", {}};
  s.cwd = "/root";
  s.cwd_optional = true;
  s.execfd = 3;
  s.timeout_s = 1740;
  s.umask = 077;
  s.recording = Recording::kIntercept;
  s.use_pty = true;
  EXPECT_EQ(build(s), (std::vector<std::string>{
                          "command=/bin/bash",
                          "runas_user=root",
                          "runas_uid=0",
                          "runas_gid=0",
                          "runas_euid=0",
                          "runas_egid=0",
                          "runas_groups=0",
                          "cwd=/root",
                          "cwd_optional=true",
                          "closefrom=3",
                          "execfd=3",
                          "umask=077",
                          "timeout=1740",
                          "use_pty=true",
                          "intercept=true",
                          "use_ptrace=true",
                          "intercept_verify=true",
                      }));
}

TEST(BuildCommandInfo, RecordingVariants) {
  auto s = root_run();
  s.execfd.reset();
  s.umask.reset();
  s.cwd.clear();
  s.runas.groups.clear();
  const std::vector<std::string> base = {
      "command=/usr/bin/apt-get", "runas_user=root", "runas_uid=0", "runas_gid=0", "runas_euid=0", "runas_egid=0",
      "runas_groups=0",           "closefrom=3"};
  const auto with = [&](std::vector<std::string> extra) {
    auto v = base;
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
  };
  s.recording = Recording::kLogSubcommands;
  EXPECT_EQ(build(s), with({"log_subcmds=true", "use_ptrace=true"}));
  s.use_ptrace = false;
  EXPECT_EQ(build(s), with({"log_subcmds=true"}));
  s.recording = Recording::kIntercept;
  EXPECT_EQ(build(s), with({"intercept=true"}));
  s.use_ptrace = true;
  s.intercept_verify = false;
  EXPECT_EQ(build(s), with({"intercept=true", "use_ptrace=true"}));
  // Old enough sudo for each variant.
  EXPECT_TRUE(build_command_info(s, sudo_api_version(1, 19)).ok());
  s.intercept_verify = true;
  EXPECT_TRUE(build_command_info(s, sudo_api_version(1, 20)).ok());
  s.use_ptrace = false;
  EXPECT_TRUE(build_command_info(s, sudo_api_version(1, 18)).ok());
}

TEST(BuildCommandInfo, Sudoedit) {
  CommandSpec s;
  s.command = "/usr/bin/vim.basic";
  s.runas = {"root", 0, 0, "", {}};
  s.sudoedit = true;
  s.sudoedit_nfiles = 2;
  const std::vector<std::string> base = {"command=/usr/bin/vim.basic",
                                         "runas_user=root",
                                         "runas_uid=0",
                                         "runas_gid=0",
                                         "runas_euid=0",
                                         "runas_egid=0",
                                         "runas_groups=0",
                                         "closefrom=3",
                                         "sudoedit=true",
                                         "sudoedit_checkdir=true",
                                         "sudoedit_follow=false"};
  auto with_nfiles = base;
  with_nfiles.emplace_back("sudoedit_nfiles=2");
  EXPECT_EQ(build(s), with_nfiles);
  EXPECT_EQ(build(s, sudo_api_version(1, 20)), base);  // older front ends look for "--"
}

TEST(BuildCommandInfo, NeverProducesKeysHoistDoesNotUse) {
  auto s = root_run();
  s.recording = Recording::kIntercept;
  for (const auto& entry : build(s)) {
    const auto key = entry.substr(0, entry.find('='));
    for (std::string_view forbidden : {"login_class", "chroot", "preserve_groups", "noexec", "sudoedit_follow",
                                       "sudoedit_checkdir", "preserve_fds", "exec_background"}) {
      EXPECT_NE(key, forbidden);
    }
  }
}

TEST(BuildCommandInfo, RefusesSpecsItCannotExpress) {
  struct Case {
    std::string name;
    void (*change)(CommandSpec&);
    ErrorCode code;
  };
  const auto I = ErrorCode::kInvalidArgument;
  for (const auto& c : std::vector<Case>{
           {"relative command", [](CommandSpec& s) { s.command = "apt-get"; }, I},
           {"empty command", [](CommandSpec& s) { s.command.clear(); }, I},
           {"NUL in command", [](CommandSpec& s) { s.command = std::string("/usr/bin/x\0y", 12); }, I},
           {"NUL in cwd", [](CommandSpec& s) { s.cwd = std::string("/tmp\0x", 6); }, I},
           {"unnamed user", [](CommandSpec& s) { s.runas.user.clear(); }, I},
           {"uid -1", [](CommandSpec& s) { s.runas.uid = UINT32_MAX; }, I},
           {"gid -1", [](CommandSpec& s) { s.runas.gid = UINT32_MAX; }, I},
           {"relative cwd", [](CommandSpec& s) { s.cwd = "src"; }, I},
           {"cwd_optional without cwd",
            [](CommandSpec& s) {
              s.cwd.clear();
              s.cwd_optional = true;
            },
            I},
           {"negative execfd", [](CommandSpec& s) { s.execfd = -1; }, I},
           {"timeout past INT_MAX", [](CommandSpec& s) { s.timeout_s = std::uint64_t{INT_MAX} + 1; }, I},
           {"umask past 0777", [](CommandSpec& s) { s.umask = 01000; }, I},
           {"too many groups", [](CommandSpec& s) { s.runas.groups.assign(70000, 5); }, I},
           {"sudoedit without files", [](CommandSpec& s) { s.sudoedit = true; }, I},
           {"sudoedit with recording",
            [](CommandSpec& s) {
              s.sudoedit = true;
              s.sudoedit_nfiles = 1;
              s.recording = Recording::kIntercept;
            },
            I},
       }) {
    auto s = root_run();
    c.change(s);
    auto info = build_command_info(s, kSudoApi_1_21);
    ASSERT_FALSE(info.ok()) << c.name;
    EXPECT_EQ(info.error().code, c.code) << c.name;
  }
  EXPECT_TRUE(build_command_info(root_run(), kSudoApi_1_21).ok());
  auto at_limit = root_run();
  at_limit.timeout_s = INT_MAX;
  EXPECT_TRUE(build_command_info(at_limit, kSudoApi_1_21).ok());
}

TEST(BuildCommandInfo, AnOlderSudoThatWouldIgnoreAGuaranteeIsAnError) {
  struct Case {
    std::string name;
    void (*change)(CommandSpec&);
    unsigned api;
    std::string_view message;
  };
  for (const auto& c : std::vector<Case>{
           {"execfd", [](CommandSpec&) {}, sudo_api_version(1, 8), "execfd"},
           {"intercept", [](CommandSpec& s) { s.recording = Recording::kIntercept; }, sudo_api_version(1, 17), "1.18"},
           {"log_subcmds",
            [](CommandSpec& s) {
              s.recording = Recording::kLogSubcommands;
              s.use_ptrace = false;
            },
            sudo_api_version(1, 17), "1.18"},
           {"ptrace", [](CommandSpec& s) { s.recording = Recording::kIntercept; }, sudo_api_version(1, 18), "1.19"},
           {"verify", [](CommandSpec& s) { s.recording = Recording::kIntercept; }, sudo_api_version(1, 19), "1.20"},
       }) {
    auto s = root_run();
    c.change(s);
    auto info = build_command_info(s, c.api);
    ASSERT_FALSE(info.ok()) << c.name;
    EXPECT_EQ(info.error().code, ErrorCode::kUnavailable) << c.name;
    EXPECT_NE(info.error().message.find(c.message), std::string::npos) << info.error().message;
  }
  auto no_fd = root_run();
  no_fd.execfd.reset();
  EXPECT_TRUE(build_command_info(no_fd, sudo_api_version(1, 8)).ok());
}

TEST(BuildInterceptCommandInfo, OnlyTheCommand) {
  auto info = build_intercept_command_info("/usr/bin/id");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->strings(), (std::vector<std::string>{"command=/usr/bin/id"}));
  EXPECT_FALSE(build_intercept_command_info("id").ok());
  EXPECT_FALSE(build_intercept_command_info("").ok());
}

TEST(CommandUmask, TheInvokersMaskCombinedWith022) {
  EXPECT_EQ(command_umask(std::nullopt), 022u);
  EXPECT_EQ(command_umask(0), 022u);
  EXPECT_EQ(command_umask(002), 022u);
  EXPECT_EQ(command_umask(027), 027u);
  EXPECT_EQ(command_umask(077), 077u);
  EXPECT_EQ(command_umask(0777), 0777u);
}

TEST(CStringArray, IsNullTerminatedAndSurvivesAMove) {
  CStringArray empty;
  ASSERT_NE(empty.data(), nullptr);
  EXPECT_EQ(empty.data()[0], nullptr);
  // Short strings live inside std::string (SSO): the move must not relocate them.
  auto made = make_c_string_array({"a=1", "b=" + std::string(100, 'x'), ""});
  ASSERT_TRUE(made.ok());
  CStringArray moved = std::move(*made);
  char** view = moved.data();
  ASSERT_EQ(moved.size(), 3u);
  EXPECT_STREQ(view[0], "a=1");
  EXPECT_EQ(std::string(view[1]), "b=" + std::string(100, 'x'));
  EXPECT_STREQ(view[2], "");
  EXPECT_EQ(view[3], nullptr);
  CStringArray again;
  again = std::move(moved);
  EXPECT_EQ(again.data(), view);
  EXPECT_STREQ(again.data()[0], "a=1");
  EXPECT_FALSE(make_c_string_array({std::string("a\0b", 3)}).ok());
}

}  // namespace
}  // namespace hoist::plugin
