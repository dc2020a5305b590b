// Self-approval end to end, as root: a request rule with approval = "self"
// and a self-approval group made for the test; the real sudo (hoist_sudo.so
// in a private mount namespace) asks the member, on a terminal, whether to
// approve the request themselves; yes runs the command, and hoistd records
// the approval as the requester's own (review.by = "self"). A user outside
// the group is never asked: the request waits for a technician.
#include "agent/e2e_harness.h"

namespace hoist::testing {
namespace {

std::string group_name() {
  return "hoist-e2e-" + std::to_string(::getpid()) + "-sa";
}

class SelfApprovalE2E : public AgentE2E {
 protected:
  [[nodiscard]] std::string policy_text() const override {
    return R"(version = 1

[settings]
default_action = "deny"
contact = "Call the help desk on 4711"

[[rule]]
name = "whoami-self"
action = "request"
path = "/usr/bin/whoami"
approval = "self"
self_approval_groups = [")" +
           group_name() + R"("]
max_duration = "1h"
)";
  }

  // The only request of this test's hoistd, or "".
  std::string only_request() {
    const auto r = hoistd_.call("GET", "/api/v1/requests", "", admin_);
    const auto requests = r.array("/requests");
    return requests.size() == 1 ? std::string(requests.front().at("id").as_string()) : std::string();
  }

  // Types the reason and takes the default duration.
  static void answer_questions(TtySudo& sudo, const std::string& reason) {
    ASSERT_TRUE(sudo.expect("Why do you need it?", seconds(20))) << sudo.output();
    sudo.type(reason + "\n");
    ASSERT_TRUE(sudo.expect("For how long?", seconds(10))) << sudo.output();
    sudo.type("\n");
  }
};

TEST_F(SelfApprovalE2E, AMemberApprovesTheirOwnRequestAndTheCommandRuns) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  TestGroup group(group_name());
  ASSERT_TRUE(group.ok()) << "cannot create a test group";
  TestUser user;
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  ASSERT_EQ(run({"/usr/sbin/usermod", "-aG", group.name(), user.name()}, "/dev/null"), 0);
  const std::string conf = write_sudo_conf();

  TtySudo sudo(user.name(), conf, "sudo /usr/bin/whoami");
  answer_questions(sudo, "rotate the logs (T-99)");
  ASSERT_TRUE(sudo.expect("You may approve this yourself. Approve it now? [y/N]", seconds(15))) << sudo.output();
  sudo.type("y\n");
  ASSERT_EQ(sudo.wait_exit(seconds(30)), 0) << sudo.output();
  EXPECT_NE(sudo.output().find("Approved by you."), std::string::npos) << sudo.output();
  EXPECT_NE(sudo.output().find("root"), std::string::npos) << "whoami did not run as root: " << sudo.output();
  EXPECT_EQ(sudo.output().find("Waiting for approval"), std::string::npos) << sudo.output();

  // hoistd: approved by the requester, recorded as self-approval.
  const std::string id = only_request();
  ASSERT_FALSE(id.empty());
  const auto request = hoistd_.call("GET", "/api/v1/requests/" + id, "", admin_);
  EXPECT_EQ(request.str("/requester"), user.name()) << request;
  EXPECT_EQ(request.str("/justification"), "rotate the logs (T-99)") << request;
  EXPECT_EQ(request.str("/approval_mode"), "self") << request;
  EXPECT_TRUE(request.boolean("/self_approval_allowed")) << request;
  EXPECT_EQ(request.str("/review/by"), "self") << request;
  EXPECT_EQ(request.str("/review/reviewer"), user.name()) << request;
  const std::string state = request.str("/state");
  EXPECT_TRUE(state == "approved" || state == "active") << request;
  const auto audit = hoistd_.call("GET", "/api/v1/audit?action=request.approved", "", admin_);
  const auto events = audit.array("/events");
  ASSERT_EQ(events.size(), 1U) << audit;
  EXPECT_EQ(events.front().as_object().at("details").as_object().at("by"), "self") << audit;
  // The agent's own record of it reaches the audit trail too.
  EXPECT_TRUE(
      eventually([&] { return audit_actions("action=endpoint.request.self_approved").size() == 1; }, seconds(20)));

  // The grant is in force: the same command runs again without asking.
  auto again = sudo_as(user.name(), conf, "timeout 20 sudo -n /usr/bin/whoami", hoistd_.dir());
  EXPECT_EQ(again.status, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("root"), std::string::npos) << again.out;
}

TEST_F(SelfApprovalE2E, AUserOutsideTheGroupIsNotAskedAndWaits) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  TestGroup group(group_name());
  ASSERT_TRUE(group.ok()) << "cannot create a test group";
  TestUser user;  // not a member
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  const std::string conf = write_sudo_conf();

  TtySudo sudo(user.name(), conf, "sudo /usr/bin/whoami");
  answer_questions(sudo, "rotate the logs (T-100)");
  ASSERT_TRUE(sudo.expect("Waiting for approval", seconds(15))) << sudo.output();
  EXPECT_EQ(sudo.output().find("approve this yourself"), std::string::npos) << sudo.output();
  std::string id;
  ASSERT_TRUE(eventually(
      [&] {
        id = only_request();
        return !id.empty();
      },
      seconds(10)));
  const auto request = hoistd_.call("GET", "/api/v1/requests/" + id, "", admin_);
  EXPECT_EQ(request.str("/state"), "pending") << request;
  ASSERT_NE(request.at("/self_approval_allowed"), nullptr) << request;
  EXPECT_FALSE(request.boolean("/self_approval_allowed")) << request;

  // A technician approves it: the waiting sudo runs the command.
  const auto approved =
      hoistd_.call_json("POST", "/api/v1/requests/" + id + "/approve", json::object{{"comment", "ok"}}, admin_);
  ASSERT_EQ(approved.status, 200) << approved;
  EXPECT_EQ(sudo.wait_exit(seconds(30)), 0) << sudo.output();
  EXPECT_EQ(sudo.output().find("approve this yourself"), std::string::npos) << sudo.output();
  EXPECT_NE(sudo.output().find("root"), std::string::npos) << sudo.output();
  const auto after = hoistd_.call("GET", "/api/v1/requests/" + id, "", admin_);
  EXPECT_EQ(after.str("/review/by"), "approver") << after;
}

}  // namespace
}  // namespace hoist::testing
