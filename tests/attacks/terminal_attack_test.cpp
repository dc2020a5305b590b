// The sudo path, the terminal and the justification: a local user against
// the real sudo with hoist_sudo.so and hoist-agent (issue 17, item 9). What
// the user types at one question must not answer the next, and what they
// send must reach hoistd as valid text.
#include "attacks/attack_harness.h"

namespace hoist::testing {
namespace {

class TerminalAttack : public AttackE2E {
 protected:
  [[nodiscard]] std::string policy_text() const override {
    return R"(version = 1
[settings]
default_action = "deny"

[[rule]]
name = "truths"
action = "request"
path = "/usr/bin/true"
)";
  }

  // The justification of the only pending request ("" when there is none).
  std::string pending_justification() {
    const auto r = hoistd_.call("GET", "/api/v1/requests?state=pending", "", admin_);
    const auto& list = r.array("/requests");
    if (list.size() != 1) return "";
    return std::string(list[0].at("justification").as_string());
  }
};

// Attacker: a local user at sudo's approval questions.
// Goal: make a long line answer two questions at once (sudo reads at most
//   1023 bytes of it; the rest stayed on the terminal and answered the
//   next prompt), e.g. slip a chosen duration or justification past what
//   the prompts show.
// Must hold: the long line is refused as too long and the rest of it is
//   dropped; the next answer is what the user types next.
TEST_F(TerminalAttack, ALongLineAnswersOnlyOneQuestion) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  TtySudo sudo(user_.name(), conf_, "sudo /usr/bin/true");
  ASSERT_TRUE(sudo.expect("Why do you need it?", seconds(20))) << sudo.output();
  sudo.type(std::string(1500, 'x') + "TAIL\n");
  ASSERT_TRUE(sudo.expect("too long", seconds(10))) << sudo.output();
  ASSERT_TRUE(sudo.expect("Why do you need it?", seconds(10))) << sudo.output();
  sudo.type("the real reason\n");
  ASSERT_TRUE(sudo.expect("For how long?", seconds(10))) << sudo.output();
  sudo.type("\n");
  ASSERT_TRUE(sudo.expect("Waiting for approval", seconds(10))) << sudo.output();
  std::string why;
  ASSERT_TRUE(eventually(
      [&] {
        why = pending_justification();
        return !why.empty();
      },
      seconds(10)));
  EXPECT_EQ(why, "the real reason");
  EXPECT_EQ(why.find("TAIL"), std::string::npos);
}

// Attacker: a script setting HOIST_REASON for `sudo -n`.
// Goal: a reason whose 2000-byte cut falls inside a UTF-8 character made
//   the request fail ("the body is not valid JSON"); bytes that are not
//   UTF-8 did the same.
// Must hold: the request is sent, its justification valid UTF-8 of at most
//   2000 bytes, cut on a character boundary.
TEST_F(TerminalAttack, AReasonCutInsideACharacterIsStillSent) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  // 1999 ASCII bytes, then a two-byte character that straddles the cut.
  const std::string reason = std::string(1999, 'r') + "\xc3\xa9" + "tail";
  const auto r = as_user("HOIST_REASON=\"" + reason + "\" timeout 20 sudo -n /usr/bin/true");
  EXPECT_NE(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("not valid JSON"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("is waiting"), std::string::npos) << r.err;
  const std::string why = pending_justification();
  EXPECT_EQ(why, std::string(1999, 'r'));
}

// The same with bytes that are not UTF-8 at all: each becomes U+FFFD.
TEST_F(TerminalAttack, AReasonThatIsNotUtf8IsStillSent) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  arm();
  const auto r = as_user("HOIST_REASON=\"ticket \xff\xfe 42\" timeout 20 sudo -n /usr/bin/true");
  EXPECT_NE(r.err.find("is waiting"), std::string::npos) << r.err;
  EXPECT_EQ(pending_justification(), "ticket \xef\xbf\xbd\xef\xbf\xbd 42");
}

}  // namespace
}  // namespace hoist::testing
