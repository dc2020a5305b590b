// hoistd stopped with SIGTERM and started again on the same data directory:
// pending requests keep their stored deadlines, credentials and the CA (so
// the pins agents and the CLI hold) survive, and a request that fell due
// while hoistd was down is expired by the start-up sweep.
#include <fstream>
#include <sstream>

#include "core/timestamp.h"
#include "e2e_test_support.h"

namespace hoist::e2e {
namespace {

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// hoistd sweeps at start and then only hourly, so whatever the test sees
// expired after a restart was expired by the start-up sweep.
hoist::testing::HoistdOptions hourly_sweep() {
  hoist::testing::HoistdOptions options;
  options.config_toml = "[requests]\nsweep_interval = \"1h\"\n";
  return options;
}

// A policy `name` whose manual rule's requests wait `expiry`, assigned to
// `label`.
void put_manual_policy(HoistdProcess& hoistd, const Headers& admin, const std::string& name, const std::string& expiry,
                       const std::string& label) {
  const auto put =
      hoistd.call_json("PUT", "/api/v1/policies/" + name, json::object{{"text", manual_policy(expiry)}}, admin);
  ASSERT_EQ(put.status, 201) << put;
  const auto assigned = hoistd.call_json("PUT", "/api/v1/policies/" + name + "/labels",
                                         json::object{{"labels", json::array{label.c_str()}}}, admin);
  ASSERT_EQ(assigned.status, 200) << assigned;
}

TEST(E2eRestart, PendingRequestAndPinsSurvive) {
  HoistdProcess hoistd(hourly_sweep());
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  auto admin_token = hoistd.admin_token();
  ASSERT_TRUE(admin_token) << admin_token.error().message;
  const Headers admin = bearer(*admin_token);
  ASSERT_NO_FATAL_FAILURE(put_manual_policy(hoistd, admin, "fleet", "1h", "web"));
  auto agent = hoistd.enrol({"web"});
  ASSERT_TRUE(agent) << agent.error().message;
  const auto created = hoistd.call_json("POST", "/api/v1/agent/requests", apt_get_submission(), agent->headers());
  ASSERT_EQ(created.status, 201) << created;
  ASSERT_EQ(created.str("/request/state"), "pending") << created;
  const std::string id = created.str("/request/id");
  const auto before = hoistd.call("GET", "/api/v1/requests/" + id, "", admin);
  ASSERT_EQ(before.status, 200) << before;
  const auto pushes_before = hoistd.call("GET", "/api/v1/agent/push?after=0", "", agent->headers());
  ASSERT_EQ(pushes_before.status, 200) << pushes_before;
  const std::string fingerprint = hoistd.ca_fingerprint();
  const std::string ca_pem = file_text(hoistd.ca_file());
  ASSERT_FALSE(ca_pem.empty());

  EXPECT_EQ(hoistd.stop(SIGTERM), 0) << hoistd.output();
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();

  // The same CA: a pin taken before the restart still trusts the server.
  EXPECT_EQ(hoistd.ca_fingerprint(), fingerprint);
  EXPECT_EQ(file_text(hoistd.ca_file()), ca_pem);
  {
    net::ClientOptions pinned;
    pinned.url = hoistd.url();
    pinned.pin_fingerprint = fingerprint;
    pinned.connect_timeout = std::chrono::seconds(5);
    pinned.request_timeout = std::chrono::seconds(10);
    auto old_pin = net::HttpsClient::create(pinned);
    ASSERT_TRUE(old_pin) << old_pin.error().message;
    const auto health = hoist::testing::send_request(**old_pin, "GET", "/api/v1/health");
    EXPECT_EQ(health.status, 200) << health;
  }

  // The same request, still pending, with the same stored deadline; the
  // admin's token and the agent's credential still work.
  const auto after = hoistd.call("GET", "/api/v1/requests/" + id, "", admin);
  ASSERT_EQ(after.status, 200) << after;
  EXPECT_EQ(after.str("/state"), "pending") << after;
  EXPECT_EQ(after.str("/stored_state"), "pending") << after;
  EXPECT_EQ(after.str("/pending_deadline"), before.str("/pending_deadline")) << after;
  EXPECT_EQ(after.json, before.json);
  const auto pushes_after = hoistd.call("GET", "/api/v1/agent/push?after=0", "", agent->headers());
  ASSERT_EQ(pushes_after.status, 200) << pushes_after;
  EXPECT_EQ(pushes_after.json, pushes_before.json) << "the push queue survives a restart";

  // And it can still be decided; the decision reaches the agent.
  const auto approved = hoistd.call("POST", "/api/v1/requests/" + id + "/approve", "", admin);
  ASSERT_EQ(approved.status, 200) << approved;
  const auto pushed = hoistd.call("GET", "/api/v1/agent/push?after=0", "", agent->headers());
  const auto messages = request_pushes(pushed, id);
  ASSERT_FALSE(messages.empty()) << pushed;
  EXPECT_EQ(messages.back().at("state"), "approved");
  const auto verify = hoistd.call("GET", "/api/v1/audit/verify", "", admin);
  EXPECT_TRUE(verify.boolean("/ok")) << verify;
  EXPECT_EQ(hoistd.stop(), 0) << hoistd.output();
}

TEST(E2eRestart, RequestDueWhileStoppedIsExpiredAtStart) {
  HoistdProcess hoistd(hourly_sweep());
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  auto admin_token = hoistd.admin_token();
  ASSERT_TRUE(admin_token) << admin_token.error().message;
  const Headers admin = bearer(*admin_token);
  ASSERT_NO_FATAL_FAILURE(put_manual_policy(hoistd, admin, "quick", "2s", "lab"));
  auto agent = hoistd.enrol({"lab"});
  ASSERT_TRUE(agent) << agent.error().message;
  const auto created = hoistd.call_json("POST", "/api/v1/agent/requests", apt_get_submission(), agent->headers());
  ASSERT_EQ(created.status, 201) << created;
  ASSERT_EQ(created.str("/request/state"), "pending") << created;
  const std::string id = created.str("/request/id");
  const std::string deadline_text = created.str("/request/pending_deadline");
  auto deadline = parse_timestamp(deadline_text);
  ASSERT_TRUE(deadline) << deadline_text;
  const auto created_at = parse_timestamp(created.str("/request/created_at"));
  ASSERT_TRUE(created_at) << created;
  EXPECT_EQ(*deadline - *created_at, std::chrono::seconds(2));

  EXPECT_EQ(hoistd.stop(SIGTERM), 0) << hoistd.output();
  // Down until the deadline has passed (with a margin for the clocks'
  // whole-second resolution).
  const auto due = std::chrono::system_clock::time_point(*deadline) + milliseconds(1100);
  std::this_thread::sleep_until(due);
  const auto restarted_at = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();

  const auto after = hoistd.call("GET", "/api/v1/requests/" + id, "", admin);
  ASSERT_EQ(after.status, 200) << after;
  EXPECT_EQ(after.str("/state"), "expired") << after;
  EXPECT_EQ(after.str("/stored_state"), "expired") << "the start-up sweep did not store the expiry\n" << after;
  EXPECT_EQ(after.str("/ended_at"), deadline_text) << "expired at its stored deadline, not at the restart\n" << after;
  const auto audit = hoistd.call("GET", "/api/v1/audit?target=" + id, "", admin);
  ASSERT_EQ(audit.status, 200) << audit;
  const auto& events = audit.array("/events");
  ASSERT_EQ(events.size(), 2U) << audit;
  EXPECT_EQ(events[1].at("action"), "request.expired");
  // "2026-03-02T10:00:03.250Z": whole seconds are enough here.
  const std::string logged = std::string(events[1].at("time").as_string()).substr(0, 19) + "Z";
  auto expired_logged_at = parse_timestamp(logged);
  ASSERT_TRUE(expired_logged_at) << audit;
  EXPECT_GE(*expired_logged_at, restarted_at) << "expired by the restarted hoistd\n" << audit;
  const auto pushed = hoistd.call("GET", "/api/v1/agent/push?after=0", "", agent->headers());
  const auto messages = request_pushes(pushed, id);
  ASSERT_FALSE(messages.empty()) << pushed;
  EXPECT_EQ(messages.back().at("state"), "expired");
  // Too late to approve.
  EXPECT_EQ(hoistd.call("POST", "/api/v1/requests/" + id + "/approve", "", admin).status, 409);
  EXPECT_EQ(hoistd.stop(), 0) << hoistd.output();
}

// Issue 17, item 14: --enrolment-token made and printed a live token at
// every start, into the journal under systemd. It makes one on the first
// start only.
TEST(E2eRestart, TheEnrolmentTokenFlagMakesATokenOnTheFirstStartOnly) {
  hoist::testing::HoistdOptions options;
  options.extra_args = {"--enrolment-token", "lab"};
  HoistdProcess hoistd(options);
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  const auto count = [&hoistd](std::string_view needle) {
    std::istringstream lines(hoistd.output());
    int n = 0;
    for (std::string line; std::getline(lines, line);) n += line.find(needle) != std::string::npos ? 1 : 0;
    return n;
  };
  EXPECT_EQ(count("Enrolment token: hoist_enrol_"), 1) << hoistd.output();
  ASSERT_TRUE(hoistd.restart()) << hoistd.start_error();
  EXPECT_EQ(count("hoist_enrol_"), 1) << "printed again:\n" << hoistd.output();
  EXPECT_EQ(count("Enrolment token: not made"), 1) << hoistd.output();
  auto admin = hoistd.admin_token();
  ASSERT_TRUE(admin) << admin.error().message;
  const auto tokens = hoistd.call("GET", "/api/v1/enrolment-tokens", "", bearer(*admin));
  ASSERT_EQ(tokens.status, 200) << tokens;
  EXPECT_EQ(tokens.array("/tokens").size(), 1U) << tokens;
  EXPECT_EQ(hoistd.stop(), 0) << hoistd.output();
}

}  // namespace
}  // namespace hoist::e2e
