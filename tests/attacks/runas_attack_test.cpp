// The sudo path, target users and groups (sudo -u, sudo -g): a local user
// against the real sudo with hoist_sudo.so and hoist-agent (issue 17,
// items 7 and 8). A rule or a grant for one target must not hold for
// another, and -g alone must not mean root.
#include "attacks/attack_harness.h"

namespace hoist::testing {
namespace {

class RunasAttack : public AttackE2E {
 protected:
  [[nodiscard]] std::string policy_text() const override {
    return R"(version = 1
[settings]
default_action = "deny"

[[rule]]
name = "id"
action = "allow"
path = "/usr/bin/id"

[[rule]]
name = "id-with-adm"
action = "allow"
path = "/usr/bin/id"
runas = ["root"]
runas_groups = ["adm"]

[[rule]]
name = "groups-with-adm-as-yourself"
action = "allow"
path = "/usr/bin/groups"
runas_groups = ["adm"]

[[rule]]
name = "whoami-as-nobody"
action = "allow"
path = "/usr/bin/whoami"
runas = ["nobody"]

[[rule]]
name = "truths"
action = "request"
path = "/usr/bin/true"
runas = ["*"]
)";
  }

  [[nodiscard]] std::string uid_of_user() const { return std::to_string(::getpwnam(user_.name().c_str())->pw_uid); }
};

// Attacker: a local user allowed `id` (as root, since the rule names no
// target).
// Goal: run it as another user (sudo -u), which a rule without runas
//   never allowed.
// Must hold: only root; other targets refused (as sudoers' default Runas
//   of root does).
TEST_F(RunasAttack, ARuleWithoutRunasHoldsForRootOnly) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  auto r = as_user("timeout 20 sudo /usr/bin/id -u");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "0\n");
  for (const std::string target : {"nobody", "daemon", "\"#1\"", "\"#65534\""}) {
    r = as_user("timeout 20 sudo -u " + target + " /usr/bin/id -u");
    EXPECT_NE(r.status, 0) << target << ": " << r.out;
    EXPECT_TRUE(r.out.empty()) << target << ": " << r.out;
    EXPECT_EQ(r.err.find("usage:"), std::string::npos) << target << ": " << r.err;
  }
}

// Attacker: a user allowed `whoami` as nobody only.
// Goal: run it as root, or as another user.
// Must hold: only as nobody (by name or by #uid).
TEST_F(RunasAttack, ARuleNamingATargetHoldsForThatTargetAlone) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  for (const std::string target : {"nobody", "\"#65534\""}) {
    const auto r = as_user("timeout 20 sudo -u " + target + " /usr/bin/whoami");
    EXPECT_EQ(r.status, 0) << target << ": " << r.err;
    EXPECT_EQ(r.out, "nobody\n") << target;
  }
  for (const std::string how : {"", "-u root", "-u daemon", "-u \"#0\""}) {
    const auto r = as_user("timeout 20 sudo " + how + " /usr/bin/whoami");
    EXPECT_NE(r.status, 0) << how << ": " << r.out;
    EXPECT_TRUE(r.out.empty()) << how << ": " << r.out;
    EXPECT_EQ(r.err.find("usage:"), std::string::npos) << how << ": " << r.err;
  }
}

// Attacker: a user allowed `id` with group adm (and as root).
// Goal: `sudo -g GROUP cmd` ran the command as root (issue 17 item 7);
//   or a group no rule names.
// Must hold: -g alone runs as the invoking user with that group, as
//   sudo(8) says; a group no rule names is refused; -u root -g adm runs
//   as root with adm.
TEST_F(RunasAttack, GroupAloneRunsAsTheInvoker) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  auto r = as_user("timeout 20 sudo -g adm /usr/bin/id -u; timeout 20 sudo -g adm /usr/bin/id -g");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, uid_of_user() + "\n4\n");
  r = as_user("timeout 20 sudo -g shadow /usr/bin/id -u");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_TRUE(r.out.empty()) << r.out;
  r = as_user("timeout 20 sudo -u root -g adm /usr/bin/id -u; timeout 20 sudo -u root -g adm /usr/bin/id -g");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "0\n4\n");
}

// Attacker: a user given `groups` with group adm as themselves (sudoers'
// "(:adm)", a rule with runas_groups alone).
// Goal: run it as root, with or without the group.
// Must hold: only as the invoking user with adm.
TEST_F(RunasAttack, RunasGroupsAloneNeverMeansRoot) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  auto r = as_user("timeout 20 sudo -g adm /usr/bin/groups");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("adm", 0), 0U) << r.out;  // the effective group first
  for (const std::string how : {"", "-u root", "-u root -g adm"}) {
    r = as_user("timeout 20 sudo " + how + " /usr/bin/groups");
    EXPECT_NE(r.status, 0) << how << ": " << r.out;
    EXPECT_TRUE(r.out.empty()) << how << ": " << r.out;
  }
}

// Attacker: a user whose request to run `true` as nobody was approved.
// Goal: use that grant to run the command as root.
// Must hold: a grant holds for the target it was asked for, and no other.
TEST_F(RunasAttack, AGrantHoldsForItsTargetAlone) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  auto r = as_user("HOIST_REASON=test timeout 20 sudo -n -u nobody /usr/bin/true");
  EXPECT_NE(r.status, 0) << r.err;
  const auto pending = hoistd_.call("GET", "/api/v1/requests?state=pending", "", admin_);
  ASSERT_EQ(pending.array("/requests").size(), 1U) << pending;
  const auto& request = pending.array("/requests")[0].as_object();
  EXPECT_EQ(request.at("command").at("runas").at("user"), "nobody") << request;
  const std::string id(request.at("id").as_string());
  const auto approved =
      hoistd_.call_json("POST", "/api/v1/requests/" + id + "/approve", json::object{{"comment", "ok"}}, admin_);
  ASSERT_EQ(approved.status, 200) << approved;
  ASSERT_TRUE(eventually(
      [&] { return as_user("timeout 20 sudo -n -u nobody /usr/bin/true && echo ran").out == "ran\n"; }, seconds(15)));
  r = as_user("HOIST_REASON=test timeout 20 sudo -n /usr/bin/true && echo ran");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("needs approval"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hoist::testing
