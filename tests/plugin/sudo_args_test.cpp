// sudo's key=value arrays -> typed structs: what sudo 1.9.13 really sends
// parses to the right values, and everything malformed is refused with a
// message naming the key.
#include "plugin/sudo_args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "platform/executable.h"
#include "plugin_test_support.h"

namespace hoist::plugin {
namespace {

using testing::SudoArray;
using testing::views;

// What sudo 1.9.13's front end (parse_args.c, sudo.c) passes for
// `sudo -u postgres -n psql`, with made-up addresses and ids.
const std::vector<std::string> kRealSettings = {
    "progname=sudo",
    "runas_user=postgres",
    "noninteractive=true",
    "network_addrs=192.168.1.20/255.255.255.0 fe80::1/ffff:ffff:ffff:ffff::",
    "plugin_dir=/usr/libexec/sudo",
    "plugin_path=/usr/libexec/sudo/hoist_sudo.so",
    "intercept_setid=true",
    "intercept_ptrace=true",
};

const std::vector<std::string> kRealUserInfo = {
    "user=alice",
    "pid=4242",
    "ppid=4100",
    "pgid=4242",
    "tcpgid=4242",
    "sid=4100",
    "uid=1000",
    "euid=0",
    "gid=1000",
    "egid=1000",
    "groups=1000,24,27,100",
    "umask=022",
    "cwd=/home/alice",
    "tty=/dev/pts/3",
    "host=ws-17",
    "lines=50",
    "cols=200",
    "rlimit_core=0,infinity",
};

TEST(ReadArray, NullIsEmptyAndEntriesAreViews) {
  auto none = read_array(nullptr, "settings");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  SudoArray a{"a=1", "b=", "c=x=y"};
  auto read = read_array(a.data(), "settings");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, (std::vector<std::string_view>{"a=1", "b=", "c=x=y"}));
}

TEST(ReadArray, RefusesTooManyOrTooLongEntries) {
  SudoArray three{"a=1", "b=2", "c=3"};
  auto many = read_array(three.data(), "user_info", 2);
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(many.error().message.find("user_info has more than 2 entries"), std::string::npos);
  SudoArray long_entry{"a=" + std::string(100, 'x')};
  auto too_long = read_array(long_entry.data(), "settings", 10, 50);
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.error().message.find("longer than 50 bytes"), std::string::npos);
  EXPECT_TRUE(read_array(long_entry.data(), "settings", 10, 102).ok());
}

TEST(SplitKeyValue, SplitsOnTheFirstEqualsSign) {
  struct Case {
    std::string_view entry;
    bool ok;
    std::string_view key, value;
  };
  for (const auto& c : std::vector<Case>{{"a=b", true, "a", "b"},
                                         {"a=", true, "a", ""},
                                         {"a=b=c", true, "a", "b=c"},
                                         {"=b", false, "", ""},
                                         {"ab", false, "", ""},
                                         {"", false, "", ""}}) {
    auto kv = split_key_value(c.entry, "settings");
    ASSERT_EQ(kv.ok(), c.ok) << c.entry;
    if (c.ok) {
      EXPECT_EQ(kv->key, c.key);
      EXPECT_EQ(kv->value, c.value);
    }
  }
}

TEST(ParseSettings, ReadsWhatSudoSends) {
  SudoArray array(kRealSettings);
  auto s = parse_settings(array.data());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->progname, "sudo");
  EXPECT_EQ(s->runas_user, "postgres");
  EXPECT_EQ(s->runas_group, "");
  EXPECT_TRUE(s->noninteractive);
  EXPECT_FALSE(s->run_shell);
  EXPECT_TRUE(s->update_ticket);
  EXPECT_TRUE(s->intercept_ptrace);
  EXPECT_TRUE(s->intercept_setid);
  EXPECT_EQ(s->plugin_dir, "/usr/libexec/sudo");
  EXPECT_EQ(s->network_addrs,
            (std::vector<std::string>{"192.168.1.20/255.255.255.0", "fe80::1/ffff:ffff:ffff:ffff::"}));
  EXPECT_FALSE(refused_option(*s).has_value());
}

TEST(ParseSettings, EveryFlagSetting) {
  auto s = parse_settings(
      views({"run_shell=true", "login_shell=true", "implied_shell=true", "sudoedit=true", "preserve_environment=true",
             "preserve_groups=true", "set_home=true", "noninteractive=true", "ignore_ticket=true",
             "update_ticket=false", "askpass=true", "prompt=", "closefrom=5", "max_groups=16", "runas_group=wheel",
             "bsdauth_type=passwd", "debug_flags=/var/log/x all@debug"}));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(s->run_shell && s->login_shell && s->implied_shell && s->sudoedit && s->preserve_environment &&
              s->preserve_groups && s->set_home && s->noninteractive && s->ignore_ticket && s->askpass);
  EXPECT_FALSE(s->update_ticket);
  EXPECT_EQ(s->prompt, std::optional<std::string>(""));
  EXPECT_EQ(s->closefrom, std::optional<std::uint32_t>(5));
  EXPECT_EQ(s->max_groups, std::optional<std::uint32_t>(16));
  EXPECT_EQ(s->runas_group, "wheel");
}

TEST(ParseSettings, BooleansAcceptSudoStrtoboolWordsOnly) {
  struct Case {
    std::string value;
    int expected;  // 1 true, 0 false, -1 refused
  };
  for (const auto& c : std::vector<Case>{{"true", 1},
                                         {"TRUE", 1},
                                         {"yes", 1},
                                         {"on", 1},
                                         {"1", 1},
                                         {"false", 0},
                                         {"No", 0},
                                         {"off", 0},
                                         {"0", 0},
                                         {"", -1},
                                         {"tru", -1},
                                         {"truex", -1},
                                         {"2", -1},
                                         {" true", -1},
                                         {"yes!", -1},
                                         {"falsehood", -1}}) {
    auto s = parse_settings(views({"noninteractive=" + c.value}));
    if (c.expected < 0) {
      ASSERT_FALSE(s.ok()) << c.value;
      EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
      EXPECT_NE(s.error().message.find("\"noninteractive\""), std::string::npos) << s.error().message;
    } else {
      ASSERT_TRUE(s.ok()) << c.value;
      EXPECT_EQ(s->noninteractive, c.expected == 1) << c.value;
    }
  }
}

TEST(ParseSettings, RefusesMalformedKnownKeys) {
  struct Case {
    std::vector<std::string> entries;
    std::string_view message;
  };
  for (const auto& c : std::vector<Case>{
           {{"noninteractive"}, "not of the form key=value"},
           {{"=true"}, "not of the form key=value"},
           {{"runas_user="}, "\"runas_user\""},
           {{"runas_user=" + std::string(300, 'a')}, "\"runas_user\""},
           {{"runas_user=bob\nroot"}, "\"runas_user\""},
           {{"closefrom=2"}, "\"closefrom\""},
           {{"closefrom=-3"}, "\"closefrom\""},
           {{"closefrom=3x"}, "\"closefrom\""},
           {{"closefrom=99999999999"}, "\"closefrom\""},
           {{"max_groups=0"}, "\"max_groups\""},
           {{"plugin_dir=relative/dir"}, "\"plugin_dir\""},
           {{"prompt=" + std::string(3000, 'p')}, "\"prompt\""},
           {{"cmnd_chroot="}, "\"cmnd_chroot\""},
           {{"runas_user=a", "runas_user=b"}, "\"runas_user\" is given more than once"},
           {{"sudoedit=true", "sudoedit=false"}, "\"sudoedit\" is given more than once"},
       }) {
    auto s = parse_settings(views(c.entries));
    ASSERT_FALSE(s.ok()) << c.entries.front();
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().message.find(c.message), std::string::npos) << s.error().message;
  }
}

TEST(ParseSettings, IgnoresUnknownKeysEvenTwice) {
  auto s = parse_settings(
      views({"some_future_key=1", "some_future_key=2", "bsdauth_type=x", "bsdauth_type=y", "progname=sudoedit"}));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->progname, "sudoedit");
}

TEST(ParseSettings, ControlCharactersAreQuotedInMessages) {
  auto s = parse_settings(views({std::string("runas_user=a\x1b[2Jb")}));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message.find('\x1b'), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("\\x1b"), std::string::npos) << s.error().message;
}

TEST(RefusedOption, EveryRefusedOptionSaysWhich) {
  struct Case {
    std::string entry;
    std::string_view says;
  };
  for (const auto& c : std::vector<Case>{{"cmnd_chroot=/srv/jail", "sudo -R"},
                                         {"cmnd_cwd=/tmp", "sudo -D"},
                                         {"login_class=staff", "sudo -c"},
                                         {"selinux_role=sysadm_r", "sudo -r"},
                                         {"selinux_type=sysadm_t", "sudo -t"},
                                         {"apparmor_profile=unconfined", "AppArmor"},
                                         {"remote_host=db1", "sudo -h"},
                                         {"timeout=5m", "sudo -T"},
                                         {"preserve_groups=true", "sudo -P"}}) {
    auto s = parse_settings(views({c.entry}));
    ASSERT_TRUE(s.ok()) << c.entry;
    auto refused = refused_option(*s);
    ASSERT_TRUE(refused.has_value()) << c.entry;
    EXPECT_NE(refused->find(c.says), std::string::npos) << *refused;
  }
  auto fine = parse_settings(views({"set_home=true", "closefrom=4", "preserve_groups=false", "askpass=true"}));
  ASSERT_TRUE(fine.ok());
  EXPECT_FALSE(refused_option(*fine).has_value());
}

TEST(ParseUserInfo, ReadsWhatSudoSends) {
  SudoArray array(kRealUserInfo);
  auto u = parse_user_info(array.data());
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->user, "alice");
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1000u);
  EXPECT_EQ(u->euid, std::optional<std::uint32_t>(0));
  EXPECT_EQ(u->egid, std::optional<std::uint32_t>(1000));
  EXPECT_EQ(u->groups, (std::vector<std::uint32_t>{1000, 24, 27, 100}));
  EXPECT_EQ(u->cwd, "/home/alice");
  EXPECT_EQ(u->tty, "/dev/pts/3");
  EXPECT_EQ(u->host, "ws-17");
  EXPECT_EQ(u->lines, 50u);
  EXPECT_EQ(u->cols, 200u);
  EXPECT_EQ(u->pid, 4242);
  EXPECT_EQ(u->ppid, 4100);
  EXPECT_EQ(u->pgid, std::optional<std::int32_t>(4242));
  EXPECT_EQ(u->tcpgid, std::optional<std::int32_t>(4242));
  EXPECT_EQ(u->sid, std::optional<std::int32_t>(4100));
  EXPECT_EQ(u->umask, std::optional<std::uint32_t>(022));
}

TEST(ParseUserInfo, MinimalAndWithoutTerminal) {
  auto u = parse_user_info(views({"user=bob", "uid=0", "gid=0", "cwd=/", "tty=", "tcpgid=-1", "groups="}));
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->tty, "");
  EXPECT_FALSE(u->tcpgid.has_value());
  EXPECT_TRUE(u->groups.empty());
  EXPECT_EQ(u->lines, 24u);
  EXPECT_EQ(u->cols, 80u);
  EXPECT_FALSE(u->umask.has_value());
}

TEST(ParseUserInfo, EveryRequiredKeyIsRequired) {
  for (std::string_view missing : {"user", "uid", "gid", "cwd"}) {
    std::vector<std::string> entries;
    for (const auto& e : kRealUserInfo) {
      if (e.substr(0, missing.size() + 1) != std::string(missing) + "=") entries.push_back(e);
    }
    auto u = parse_user_info(views(entries));
    ASSERT_FALSE(u.ok()) << missing;
    EXPECT_EQ(u.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(u.error().message.find("no \"" + std::string(missing) + "\""), std::string::npos) << u.error().message;
  }
}

TEST(ParseUserInfo, RefusesMalformedValues) {
  struct Case {
    std::string entry;
    std::string_view key;
  };
  for (const auto& c : std::vector<Case>{
           {"uid=", "uid"},           {"uid=-1", "uid"},         {"uid=4294967295", "uid"},
           {"uid=4294967296", "uid"}, {"uid=12a", "uid"},        {"uid= 12", "uid"},
           {"uid=+12", "uid"},        {"uid=0x10", "uid"},       {"gid=99999999999999999999999", "gid"},
           {"euid=x", "euid"},        {"groups=1,,2", "groups"}, {"groups=1,", "groups"},
           {"groups=,1", "groups"},   {"groups=1, 2", "groups"}, {"cwd=", "cwd"},
           {"cwd=home/alice", "cwd"}, {"tty=pts/3", "tty"},      {"user=", "user"},
           {"user=a\tb", "user"},     {"pid=0", "pid"},          {"pid=-1", "pid"},
           {"pid=-2", "pid"},         {"ppid=-1", "ppid"},       {"pgid=-2", "pgid"},
           {"sid=2147483648", "sid"}, {"lines=-1", "lines"},     {"umask=", "umask"},
           {"umask=08", "umask"},     {"umask=01000", "umask"},  {"umask=0o22", "umask"},
       }) {
    std::vector<std::string> entries = {"user=alice", "uid=1000", "gid=1000", "cwd=/home/alice"};
    // Replace the key if it is one of the required ones, else add it.
    bool replaced = false;
    for (auto& e : entries) {
      if (e.substr(0, c.key.size() + 1) == std::string(c.key) + "=") {
        e = c.entry;
        replaced = true;
      }
    }
    if (!replaced) entries.push_back(c.entry);
    auto u = parse_user_info(views(entries));
    ASSERT_FALSE(u.ok()) << c.entry;
    EXPECT_EQ(u.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(u.error().message.find("\"" + std::string(c.key) + "\""), std::string::npos) << u.error().message;
  }
}

TEST(ParseUserInfo, DuplicatesOfKnownKeysAreRefused) {
  auto u = parse_user_info(views({"user=alice", "uid=1000", "gid=1000", "cwd=/", "uid=0"}));
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.error().message.find("\"uid\" is given more than once"), std::string::npos);
  auto unknown = parse_user_info(
      views({"user=alice", "uid=1000", "gid=1000", "cwd=/", "rlimit_cpu=1,2", "rlimit_cpu=3,4", "new_key=x"}));
  EXPECT_TRUE(unknown.ok());
}

TEST(ParseUserEnv, KeepsOrderAndDuplicatesSkipsInvalidNames) {
  auto env = parse_user_env(
      views({"PATH=/bin", "=x", "NOEQUALS", "BASH_FUNC_f%%=() { :; }", "1X=2", "A_1=x=y", "PATH=/tmp", "EMPTY="}));
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(*env, (std::vector<EnvVar>{{"PATH", "/bin"}, {"A_1", "x=y"}, {"PATH", "/tmp"}, {"EMPTY", ""}}));
  EXPECT_EQ(find_env(*env, "PATH"), std::optional<std::string_view>("/bin"));
  EXPECT_FALSE(find_env(*env, "HOME").has_value());
}

TEST(ParseEnvAdd, IsStrict) {
  auto ok = parse_env_add(views({"TZ=UTC", "LANG=C.UTF-8"}));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), 2u);
  for (std::string bad : {"NOEQUALS", "=x", "1X=2", "A-B=1", "BASH_FUNC_f%%=() { :; }"}) {
    auto r = parse_env_add(views({bad}));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(parse_env_add(static_cast<const char* const*>(nullptr))->empty());
}

TEST(ParsePluginOptions, DefaultsAndValidOptions) {
  auto none = parse_plugin_options(static_cast<const char* const*>(nullptr));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->agent_socket, "/run/hoist/agent.sock");
  EXPECT_EQ(none->break_glass_file, "");
  EXPECT_EQ(none->secure_path, kDefaultSecurePath);
  SudoArray array{"agent_socket=/run/hoist/test.sock", "break_glass_file=/etc/hoist/break-glass",
                  "secure_path=/usr/sbin:/usr/bin"};
  auto o = parse_plugin_options(array.data());
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->agent_socket, "/run/hoist/test.sock");
  EXPECT_EQ(o->break_glass_file, "/etc/hoist/break-glass");
  EXPECT_EQ(o->secure_path, "/usr/sbin:/usr/bin");
  EXPECT_EQ(o->pam_service, "sudo");
  EXPECT_EQ(o->pam_confdir, "");
  EXPECT_EQ(o->timestamp_dir, "/run/hoist/ts");
  EXPECT_EQ(o->spool_dir, "/var/lib/hoist-agent/spool");
  SudoArray more{"pam_service=hoist-mfa", "pam_confdir=/etc/hoist/pam.d", "timestamp_dir=/run/hoist/t",
                 "spool_dir=/var/spool/hoist"};
  auto m = parse_plugin_options(more.data());
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->pam_service, "hoist-mfa");
  EXPECT_EQ(m->pam_confdir, "/etc/hoist/pam.d");
  EXPECT_EQ(m->timestamp_dir, "/run/hoist/t");
  EXPECT_EQ(m->spool_dir, "/var/spool/hoist");
}

TEST(ParsePluginOptions, RefusesWhatAnAdminMistyped) {
  struct Case {
    std::vector<std::string> entries;
    std::string_view message;
  };
  for (const auto& c : std::vector<Case>{
           {{"agent_sock=/run/x"}, "unknown plugin option \"agent_sock\""},
           {{"debug"}, "not of the form key=value"},
           {{"agent_socket=run/x.sock"}, "\"agent_socket\""},
           {{"agent_socket="}, "\"agent_socket\""},
           {{"agent_socket=/run/../tmp/x.sock"}, "\"agent_socket\""},
           {{"agent_socket=/run//x.sock"}, "\"agent_socket\""},
           {{"agent_socket=/" + std::string(120, 's')}, "at most 107 bytes"},
           {{"break_glass_file=/etc/./hoist"}, "\"break_glass_file\""},
           {{"secure_path="}, "\"secure_path\""},
           {{"secure_path=/usr/bin:"}, "\"secure_path\""},
           {{"secure_path=/usr/bin::/bin"}, "\"secure_path\""},
           {{"secure_path=bin:/usr/bin"}, "\"secure_path\""},
           {{"secure_path=/usr/bin/.."}, "\"secure_path\""},
           {{"agent_socket=/a.sock", "agent_socket=/b.sock"}, "given more than once"},
           {{"pam_service="}, "\"pam_service\""},
           {{"pam_service=../../tmp/x"}, "\"pam_service\""},
           {{"pam_service=.hidden"}, "\"pam_service\""},
           {{"pam_service=a b"}, "\"pam_service\""},
           {{"pam_confdir=pam.d"}, "\"pam_confdir\""},
           {{"timestamp_dir=/run/hoist/../tmp"}, "\"timestamp_dir\""},
           {{"spool_dir=spool"}, "\"spool_dir\""},
           {{"spool_dir=/a", "spool_dir=/b"}, "given more than once"},
       }) {
    auto o = parse_plugin_options(views(c.entries));
    ASSERT_FALSE(o.ok()) << c.entries.front();
    EXPECT_EQ(o.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(o.error().message.find(c.message), std::string::npos) << o.error().message;
  }
}

TEST(NormalisedAbsolutePath, Table) {
  for (std::string_view good : {"/", "/a", "/a/b", "/a.b/..c/c..", "/run/hoist/agent.sock"}) {
    EXPECT_TRUE(normalised_absolute_path(good)) << good;
  }
  for (std::string_view bad : {"", "a", "a/b", "/a/", "//", "/a//b", "/./a", "/a/.", "/a/../b", "/.."}) {
    EXPECT_FALSE(normalised_absolute_path(bad)) << bad;
  }
}

TEST(SecurePath, IsThePlatformsSecurePath) {
  EXPECT_EQ(kDefaultSecurePath, platform::kSecurePath);
}

TEST(PolicyReturnCode, RefusalsDenyMalformedInputIsAnError) {
  EXPECT_EQ(to_sudo(verdict_for(ErrorCode::kPermissionDenied)), 0);
  EXPECT_EQ(to_sudo(verdict_for(ErrorCode::kUnavailable)), 0);
  EXPECT_EQ(to_sudo(verdict_for(ErrorCode::kUnauthenticated)), 0);
  EXPECT_EQ(to_sudo(verdict_for(ErrorCode::kNotFound)), 0);
  EXPECT_EQ(to_sudo(verdict_for(ErrorCode::kInvalidArgument)), -1);
  EXPECT_EQ(to_sudo(verdict_for(ErrorCode::kInternal)), -1);
  EXPECT_EQ(to_sudo(Verdict::kAllow), 1);
  EXPECT_EQ(to_sudo(Verdict::kDeny), 0);
  EXPECT_EQ(to_sudo(Verdict::kError), -1);
  EXPECT_EQ(to_sudo(Verdict::kUsage), -2);
}

}  // namespace
}  // namespace hoist::plugin
