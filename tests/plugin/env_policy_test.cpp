// The elevated command's environment: env_reset's fresh environment for the
// target with a short, checked allow-list; -E only when the decision allows
// it; bash functions and loader variables never pass.
#include "plugin/env_policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hoist::plugin {
namespace {

EnvRequest request() {
  EnvRequest r;
  r.invoking_user = "alice";
  r.invoking_uid = 1000;
  r.invoking_gid = 1001;
  r.target.name = "root";
  r.target.home = "/root";
  r.target.shell = "/bin/bash";
  r.command = "/usr/bin/apt-get";
  r.args = {"install", "vim"};
  return r;
}

const std::vector<EnvVar> kAliceEnv = {
    {"HOME", "/home/alice"},
    {"PATH", "/home/alice/bin:/usr/bin"},
    {"USER", "alice"},
    {"LOGNAME", "alice"},
    {"SHELL", "/usr/bin/zsh"},
    {"MAIL", "/var/mail/alice"},
    {"TERM", "xterm-256color"},
    {"COLORTERM", "truecolor"},
    {"LANG", "de_DE.UTF-8"},
    {"LC_TIME", "en_DK.UTF-8"},
    {"LANGUAGE", "de:en"},
    {"TZ", "Europe/Berlin"},
    {"DISPLAY", ":0"},
    {"XAUTHORITY", "/run/user/1000/gdm/Xauthority"},
    {"LD_PRELOAD", "/tmp/evil.so"},
    {"BASH_ENV", "/tmp/evil.sh"},
    {"EDITOR", "vim"},
    {"SSH_AUTH_SOCK", "/tmp/ssh-XXXX/agent.1"},
    {"SUDO_USER", "mallory"},
    {"SECRET_TOKEN", "hunter2"},
};

TEST(BuildEnvironment, EnvResetKeepsTheCheckedAllowListOnly) {
  auto env = build_environment(request(), kAliceEnv, {});
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(*env, (std::vector<std::string>{
                      "COLORTERM=truecolor",
                      "DISPLAY=:0",
                      "HOME=/root",
                      "LANG=de_DE.UTF-8",
                      "LANGUAGE=de:en",
                      "LC_TIME=en_DK.UTF-8",
                      "LOGNAME=root",
                      "MAIL=/var/mail/root",
                      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                      "SHELL=/bin/bash",
                      "SUDO_COMMAND=/usr/bin/apt-get install vim",
                      "SUDO_GID=1001",
                      "SUDO_UID=1000",
                      "SUDO_USER=alice",
                      "TERM=xterm-256color",
                      "TZ=Europe/Berlin",
                      "USER=root",
                      "XAUTHORITY=/run/user/1000/gdm/Xauthority",
                  }));
}

TEST(BuildEnvironment, DefaultsWithAnEmptyEnvironment) {
  auto r = request();
  r.args.clear();
  r.target.shell = "";
  r.target.home = "";
  r.invoking_home = "/home/alice";
  r.secure_path = "/usr/bin:/bin";
  auto env = build_environment(r, {}, {});
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(*env, (std::vector<std::string>{"HOME=/", "LOGNAME=root", "MAIL=/var/mail/root", "PATH=/usr/bin:/bin",
                                            "SHELL=/bin/sh", "SUDO_COMMAND=/usr/bin/apt-get", "SUDO_GID=1001",
                                            "SUDO_HOME=/home/alice", "SUDO_UID=1000", "SUDO_USER=alice", "TERM=unknown",
                                            "USER=root"}));
}

TEST(JudgeVariable, Table) {
  struct Case {
    std::string name;
    std::string value;
    bool preserve_all;
    EnvVerdict expected;
  };
  const auto K = EnvVerdict::kKept;
  const auto N = EnvVerdict::kNotListed;
  const auto U = EnvVerdict::kUnsafeValue;
  const auto H = EnvVerdict::kSetByHoist;
  for (const auto& c : std::vector<Case>{
           {"TERM", "xterm", false, K},
           {"TERM", "../../tmp/terminfo", false, U},
           {"TERM", "%n%n%n", false, U},
           {"TERM", "() { :; }", false, U},
           {"TERM", "xterm() { id; }", false, U},
           {"TERM", "xterm\n", false, U},
           {"LANG", "C.UTF-8", false, K},
           {"LANG", "/tmp/locale", false, U},
           {"LC_ALL", "C", false, K},
           {"LC_MESSAGES", "de_DE", false, K},
           {"LC_", "C", false, N},
           {"LC_lower", "C", false, N},
           {"LINGUAS", "de en", false, K},
           {"COLORTERM", "truecolor", false, K},
           {"TZ", "UTC", false, K},
           {"TZ", "/etc/shadow", false, U},
           {"DISPLAY", "localhost:10.0", false, K},
           {"DISPLAY", ":0 ", false, U},
           {"DISPLAY", std::string(300, 'd'), false, U},
           {"XAUTHORITY", "/home/alice/.Xauthority", false, K},
           {"XAUTHORITY", "relative/.Xauthority", false, U},
           {"XAUTHORITY", "/home/alice/../bob/.Xauthority", false, U},
           {"PATH", "/usr/bin", false, H},
           {"PATH", "/usr/bin", true, H},
           {"HOME", "/home/alice", true, H},
           {"SUDO_COMMAND", "x", true, H},
           {"SUDO_HOME", "/", true, H},
           {"EDITOR", "vim", false, N},
           {"EDITOR", "vim", true, K},
           {"SECRET", "x", true, K},
           {"SECRET", "() { :; }", true, U},
           {"LD_PRELOAD", "/tmp/x.so", false, N},
           {"LD_PRELOAD", "/tmp/x.so", true, N},
           {"LD_LIBRARY_PATH", "/tmp", true, N},
           {"GLIBC_TUNABLES", "glibc.malloc.x=1", true, N},
           {"PYTHONPATH", "/tmp", true, N},
           {"PERL5OPT", "-Mx", true, N},
           {"BASH_ENV", "/tmp/x", true, N},
           {"IFS", " ", true, N},
           {"TERM", "/x", true, U},
       }) {
    EXPECT_EQ(judge_variable(c.name, c.value, c.preserve_all), c.expected)
        << c.name << "=" << c.value << (c.preserve_all ? " (-E)" : "");
  }
}

TEST(SafeTz, AsSudoersChecksIt) {
  for (std::string_view good : {"UTC", "Europe/Berlin", ":Europe/Berlin", "/usr/share/zoneinfo/UTC",
                                ":/usr/share/zoneinfo/Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3", "a..b", ""}) {
    EXPECT_TRUE(safe_tz(good)) << good;
  }
  for (std::string_view bad : {"/etc/shadow", ":/etc/shadow", "/usr/share/zoneinfoX/UTC", "/usr/share/zoneinfo",
                               "../../etc/shadow", "Europe/../../etc", "/usr/share/zoneinfo/../../../etc/shadow", "..",
                               "UTC 0", "UTC\t", "UTC\x01", "Europ\xc3\xa9"}) {
    EXPECT_FALSE(safe_tz(bad)) << bad;
  }
  EXPECT_FALSE(safe_tz(std::string(4096, 'a')));
  EXPECT_TRUE(safe_tz(std::string(4095, 'a')));
}

TEST(BuildEnvironment, PreserveEnvironmentIsRefusedUnlessAllowed) {
  auto r = request();
  r.preserve_environment = true;
  auto refused = build_environment(r, kAliceEnv, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(refused.error().message.find("sudo -E"), std::string::npos);

  r.allow_preserve_environment = true;
  auto env = build_environment(r, kAliceEnv, {});
  ASSERT_TRUE(env.ok()) << env.error().message;
  const auto has = [&](std::string_view entry) { return std::find(env->begin(), env->end(), entry) != env->end(); };
  EXPECT_TRUE(has("EDITOR=vim"));
  EXPECT_TRUE(has("SECRET_TOKEN=hunter2"));
  EXPECT_TRUE(has("SSH_AUTH_SOCK=/tmp/ssh-XXXX/agent.1"));
  EXPECT_TRUE(has("HOME=/root"));
  EXPECT_TRUE(has("USER=root"));
  EXPECT_TRUE(has("SUDO_USER=alice"));
  EXPECT_TRUE(has("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
  for (const auto& e : *env) {
    EXPECT_NE(e.substr(0, 3), "LD_") << e;
    EXPECT_NE(e.substr(0, 9), "BASH_ENV=") << e;
  }
  // Allowing -E changes nothing when it was not asked for.
  auto r2 = request();
  r2.allow_preserve_environment = true;
  EXPECT_EQ(*build_environment(r2, kAliceEnv, {}), *build_environment(request(), kAliceEnv, {}));
}

TEST(BuildEnvironment, CommandLineVariablesOnlyWhenTheyWouldBeKept) {
  auto env = build_environment(request(), kAliceEnv, std::vector<EnvVar>{{"TZ", "UTC"}, {"LANG", "C"}});
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_NE(std::find(env->begin(), env->end(), "TZ=UTC"), env->end());
  EXPECT_NE(std::find(env->begin(), env->end(), "LANG=C"), env->end());

  auto refused =
      build_environment(request(), kAliceEnv,
                        std::vector<EnvVar>{{"PATH", "/tmp"}, {"FOO", "bar"}, {"TZ", "/etc/shadow"}, {"LANG", "C"}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(refused.error().message.find("PATH, FOO, TZ"), std::string::npos) << refused.error().message;

  auto r = request();
  r.preserve_environment = r.allow_preserve_environment = true;
  EXPECT_TRUE(build_environment(r, {}, std::vector<EnvVar>{{"FOO", "bar"}}).ok());
  EXPECT_FALSE(build_environment(r, {}, std::vector<EnvVar>{{"LD_PRELOAD", "/x.so"}}).ok());
  EXPECT_FALSE(build_environment(r, {}, std::vector<EnvVar>{{"HOME", "/home/alice"}}).ok());
}

TEST(BuildEnvironment, TheFirstOfDuplicatesDecides) {
  auto env = build_environment(request(),
                               std::vector<EnvVar>{{"TERM", "vt100"},
                                                   {"TERM", "xterm"},
                                                   {"LANG", "/tmp/evil"},
                                                   {"LANG", "C"},
                                                   {"TZ", "() { :; }"},
                                                   {"TZ", "UTC"}},
                               {});
  ASSERT_TRUE(env.ok());
  EXPECT_NE(std::find(env->begin(), env->end(), "TERM=vt100"), env->end());
  for (const auto& e : *env) {
    EXPECT_NE(e.substr(0, 5), "LANG=") << e;
    EXPECT_NE(e.substr(0, 3), "TZ=") << e;
  }
}

TEST(BuildEnvironment, SudoCommandArgumentsAreCutAt4096Bytes) {
  auto r = request();
  r.args = {std::string(3000, 'a'), std::string(3000, 'b')};
  auto env = build_environment(r, {}, {});
  ASSERT_TRUE(env.ok());
  const auto it =
      std::find_if(env->begin(), env->end(), [](const std::string& e) { return e.substr(0, 13) == "SUDO_COMMAND="; });
  ASSERT_NE(it, env->end());
  EXPECT_EQ(it->size(), std::string("SUDO_COMMAND=/usr/bin/apt-get ").size() + 4096);
}

TEST(BuildEnvironment, RefusesTargetFactsThatCannotBeRight) {
  auto r = request();
  r.target.home = "root";
  EXPECT_EQ(build_environment(r, {}, {}).error().code, ErrorCode::kInvalidArgument);
  r = request();
  r.target.name = "";
  EXPECT_EQ(build_environment(r, {}, {}).error().code, ErrorCode::kInvalidArgument);
  r = request();
  r.target.name = "ro\not";
  EXPECT_EQ(build_environment(r, {}, {}).error().code, ErrorCode::kInvalidArgument);
  r = request();
  r.command = std::string("/bin/x\0y", 8);
  EXPECT_EQ(build_environment(r, {}, {}).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace hoist::plugin
