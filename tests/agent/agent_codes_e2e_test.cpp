// Offline admin codes end to end, as root: the real hoistd issues codes and
// then stops (the laptop is offline); the real hoist-agent checks them; the
// test user enters them with the real `hoist code` and at the real sudo's
// prompt (hoist_sudo.so in a private mount namespace). A code starts a
// recorded session (or allows its one command), works once, backs off after
// wrong tries even across an agent restart, and its use reaches hoistd's
// audit trail exactly once when hoistd is back.
#include <algorithm>
#include <regex>

#include "agent/e2e_harness.h"
#include "core/admin_code.h"

namespace hoist::testing {
namespace {

constexpr std::string_view kCodesPolicy = R"(version = 1

[settings]
default_action = "request"
contact = "Call the help desk on 4711"

[[rule]]
name = "never-shred"
action = "deny"
path = "/usr/bin/shred"
)";

class CodesE2E : public AgentE2E {
 protected:
  [[nodiscard]] std::string policy_text() const override { return std::string(kCodesPolicy); }

  void SetUp() override {
    AgentE2E::SetUp();
    use_open_dir("hoist-codes");
  }

  std::string endpoint_id() {
    const auto r = hoistd_.call("GET", "/api/v1/endpoints", "", admin_);
    const auto endpoints = r.array("/endpoints");
    EXPECT_EQ(endpoints.size(), 1U) << r;
    return endpoints.empty() ? std::string() : std::string(endpoints.front().at("id").as_string());
  }

  // hoist code as the user, with these arguments.
  SudoRun hoist_code(const std::string& user, const std::string& conf, const std::string& args) {
    return sudo_as(user, conf, "timeout 20 " + cli_ + " code --socket " + socket_ + " " + args, hoistd_.dir());
  }

  // The help desk's answer computed as hoistd would (same master key, same
  // construction), for when hoistd is stopped too.
  std::string respond(const std::string& challenge, const codes::CodeTerms& terms) {
    const std::string master = slurp(hoistd_.data_dir() + "/codes/master.key");
    EXPECT_EQ(master.size(), 32U);
    auto key = codes::derive_host_key(std::vector<std::uint8_t>(master.begin(), master.end()), endpoint_id_, 1);
    EXPECT_TRUE(key.ok());
    auto c = codes::parse_challenge(challenge);
    EXPECT_TRUE(c.ok()) << challenge;
    auto r = codes::compute_response(*key, *c, terms);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r ? *r : std::string();
  }

  // Stops hoistd, remembering its port for start_hoistd_again().
  void stop_hoistd() {
    port_ = hoistd_.port();
    ASSERT_EQ(hoistd_.stop(), 0);
  }
  void start_hoistd_again() {
    hoistd_.options().port = port_;
    ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
    ASSERT_EQ(hoistd_.port(), port_);
    auto token = hoistd_.admin_token();
    ASSERT_TRUE(token) << token.error().message;
    admin_ = bearer(*token);
  }

  std::string endpoint_id_;
  std::uint16_t port_ = 0;
};

TEST_F(CodesE2E, APreIssuedCodeStartsARecordedSessionOfflineOnceAndIsReportedOnce) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  endpoint_id_ = endpoint_id();
  TestUser user;
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  const std::string conf = write_sudo_conf();

  // Before the trip: the help desk hands out a pre-issued code.
  const auto issued = hoistd_.call_json("POST", "/api/v1/codes",
                                        json::object{{"endpoint", endpoint_id_},
                                                     {"user", user.name()},
                                                     {"duration_s", 3600},
                                                     {"days", 2},
                                                     {"reason", "travel T-7"}},
                                        admin_);
  ASSERT_EQ(issued.status, 201) << issued;
  const std::string code = issued.str("/code");
  ASSERT_EQ(code.size(), 24U) << issued;

  // On the plane.
  stop_hoistd();
  auto denied = sudo_as(user.name(), conf, "timeout 20 sudo -n /usr/bin/id -u", hoistd_.dir());
  EXPECT_NE(denied.status, 0) << "no grant yet: " << denied.out << denied.err;

  auto used = hoist_code(user.name(), conf, code);
  ASSERT_EQ(used.status, 0) << used.out << used.err;
  EXPECT_NE(used.out.find("temporary admin session"), std::string::npos) << used.out;

  // Anything runs now, and every process it starts is recorded.
  auto id = sudo_as(user.name(), conf, "timeout 20 sudo -n /bin/sh -c \"/usr/bin/id -u\"", hoistd_.dir());
  EXPECT_EQ(id.status, 0) << id.out << id.err;
  EXPECT_EQ(id.out, "0\n");
  auto shred = sudo_as(user.name(), conf, "timeout 20 sudo -n /usr/bin/shred --version", hoistd_.dir());
  EXPECT_NE(shred.status, 0) << "a deny rule holds inside the session: " << shred.out;

  // Once only, also after an agent restart.
  auto again = hoist_code(user.name(), conf, code);
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.err.find("used already"), std::string::npos) << again.err;
  stop_agent();
  start_agent();
  again = hoist_code(user.name(), conf, code);
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.err.find("used already"), std::string::npos) << again.err;
  // The session itself survives the restart.
  id = sudo_as(user.name(), conf, "timeout 20 sudo -n /usr/bin/id -u", hoistd_.dir());
  EXPECT_EQ(id.status, 0) << id.out << id.err;

  // Back online: the use and the session's processes reach the audit trail,
  // the use exactly once, and hoistd marks the code used.
  start_hoistd_again();
  ASSERT_TRUE(eventually([&] { return audit_actions("action=endpoint.code.used").size() == 1; }, seconds(30)))
      << "the use was not uploaded";
  const auto audit = hoistd_.call("GET", "/api/v1/audit?action=endpoint.code.used", "", admin_);
  const auto& details = audit.array("/events").front().at("details").as_object();
  EXPECT_EQ(details.at("user"), json::string(user.name())) << audit;
  EXPECT_EQ(details.at("code_kind"), "preissued") << audit;
  const std::string grant = std::string(details.at("grant_id").as_string());
  EXPECT_TRUE(eventually(
      [&] {
        const auto r = hoistd_.call("GET", "/api/v1/audit?action=endpoint.process&limit=500", "", admin_);
        return std::any_of(r.array("/events").begin(), r.array("/events").end(), [&](const json::value& e) {
          const auto& d = e.at("details").as_object();
          return d.at("command") == "/usr/bin/id" && d.contains("session") && d.at("session") == json::string(grant);
        });
      },
      seconds(20)))
      << "id, run in the code's session, was not recorded";
  const auto list = hoistd_.call("GET", "/api/v1/codes?endpoint=" + endpoint_id_, "", admin_);
  ASSERT_EQ(list.status, 200) << list;
  ASSERT_EQ(list.array("/codes").size(), 1U) << list;
  EXPECT_EQ(list.array("/codes").front().at("state"), "used") << list;
  EXPECT_EQ(list.body.find(code), std::string::npos) << "the code itself is never stored: " << list;
  std::this_thread::sleep_for(seconds(3));
  EXPECT_EQ(audit_actions("action=endpoint.code.used").size(), 1U) << "uploaded more than once";
}

TEST_F(CodesE2E, AResponseAtTheSudoPromptAfterWrongTriesThatBackOffAcrossARestart) {
  if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  endpoint_id_ = endpoint_id();
  TestUser user;
  ASSERT_TRUE(user.ok()) << "cannot create a test user";
  const std::string conf = write_sudo_conf();
  stop_hoistd();  // offline from here on

  const std::regex challenge_re("challenge: ([0-9A-Z]{4}-[0-9A-Z]{4})");
  std::string challenge;
  {
    TtySudo sudo(user.name(), conf, "sudo /usr/bin/whoami");
    ASSERT_TRUE(sudo.expect("Why do you need it?", seconds(20))) << sudo.output();
    sudo.type("code\n");
    ASSERT_TRUE(sudo.expect("Admin code:", seconds(15))) << sudo.output();
    std::smatch m;
    const std::string out = sudo.output();
    ASSERT_TRUE(std::regex_search(out, m, challenge_re)) << out;
    challenge = m[1];
    for (int i = 0; i < 3; ++i) {
      sudo.type("0000-0000-0000\n");
      ASSERT_TRUE(sudo.expect("does not fit", seconds(15))) << sudo.output();
    }
    EXPECT_NE(sudo.wait_exit(seconds(20)), 0) << sudo.output();
    EXPECT_EQ(sudo.output().find("root\r\n"), std::string::npos) << sudo.output();
  }
  // Two more wrong ones with hoist code, each after its back-off (2 s, then
  // 4 s): the fifth means 8 s to wait.
  std::this_thread::sleep_for(milliseconds(2500));
  auto wrong = hoist_code(user.name(), conf, "--challenge " + challenge + " 0000-0000-0001");
  EXPECT_NE(wrong.status, 0) << wrong.err;
  EXPECT_NE(wrong.err.find("next try in 4 s"), std::string::npos) << wrong.err;
  std::this_thread::sleep_for(milliseconds(4500));
  wrong = hoist_code(user.name(), conf, "--challenge " + challenge + " 0000-0000-0002");
  EXPECT_NE(wrong.status, 0);
  EXPECT_NE(wrong.err.find("next try in 8 s"), std::string::npos) << wrong.err;
  const auto last_wrong = steady_clock::now();

  // A restart does not reset the count: even the right code waits.
  stop_agent();
  start_agent();
  const codes::CodeTerms session{user.name(), Seconds{1800}, ""};
  auto early = hoist_code(user.name(), conf, "--challenge " + challenge + " " + respond(challenge, session));
  ASSERT_LT(steady_clock::now() - last_wrong, seconds(8)) << "too slow to see the back-off";
  EXPECT_NE(early.status, 0) << early.out;
  EXPECT_NE(early.err.find("try again in"), std::string::npos) << early.err;
  std::this_thread::sleep_until(last_wrong + seconds(9));

  // The help desk answers a fresh challenge at the prompt with a code for
  // this one command: it runs.
  TtySudo sudo(user.name(), conf, "sudo /usr/bin/whoami");
  ASSERT_TRUE(sudo.expect("Why do you need it?", seconds(20))) << sudo.output();
  sudo.type("code\n");
  ASSERT_TRUE(sudo.expect("Admin code:", seconds(15))) << sudo.output();
  const std::string out = sudo.output();
  std::string fresh;
  for (std::sregex_iterator it(out.begin(), out.end(), challenge_re), end; it != end; ++it) fresh = (*it)[1];
  ASSERT_FALSE(fresh.empty()) << out;
  EXPECT_NE(fresh, challenge);
  sudo.type(respond(fresh, codes::CodeTerms{user.name(), Seconds{900}, "/usr/bin/whoami"}) + "\n");
  ASSERT_EQ(sudo.wait_exit(seconds(30)), 0) << sudo.output();
  EXPECT_NE(sudo.output().find("Admin code accepted: /usr/bin/whoami for 15m"), std::string::npos) << sudo.output();
  EXPECT_NE(sudo.output().find("root"), std::string::npos) << sudo.output();

  // A command code is no session: another command still needs approval.
  auto other = sudo_as(user.name(), conf, "timeout 20 sudo -n /usr/bin/id -u", hoistd_.dir());
  EXPECT_NE(other.status, 0) << other.out;
  // The response to the first challenge (never used) still fits once.
  auto late = hoist_code(user.name(), conf, "--challenge " + challenge + " " + respond(challenge, session));
  EXPECT_EQ(late.status, 0) << late.out << late.err;
}

}  // namespace
}  // namespace hoist::testing
