// The whole request lifecycle against the real hoistd over HTTPS: an admin
// token, a policy assigned to a label, an enrolled endpoint, a request that
// waits for a technician, the approval and the revocation reaching the
// agent's long poll, and an intact audit chain.
#include "e2e_test_support.h"

namespace hoist::e2e {
namespace {

TEST(E2eLifecycle, ApprovalAndRevocationReachTheAgentsLongPoll) {
  HoistdProcess hoistd;
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  EXPECT_EQ(hoistd.call("GET", "/api/v1/health").status, 200);

  auto admin_token = hoistd.admin_token();
  ASSERT_TRUE(admin_token) << admin_token.error().message;
  const Headers admin = bearer(*admin_token);
  const auto whoami = hoistd.call("GET", "/api/v1/whoami", "", admin);
  ASSERT_EQ(whoami.status, 200) << whoami;
  EXPECT_EQ(whoami.str("/user"), "admin");
  EXPECT_EQ(whoami.str("/role"), "admin");
  EXPECT_EQ(whoami.str("/via"), "token");

  const auto put = hoistd.call_json("PUT", "/api/v1/policies/fleet", json::object{{"text", manual_policy()}}, admin);
  ASSERT_EQ(put.status, 201) << put;
  const auto labels =
      hoistd.call_json("PUT", "/api/v1/policies/fleet/labels", json::object{{"labels", json::array{"web"}}}, admin);
  ASSERT_EQ(labels.status, 200) << labels;

  auto agent = hoistd.enrol({"web"}, "web-01");
  ASSERT_TRUE(agent) << agent.error().message;
  const auto effective = hoistd.call("GET", "/api/v1/agent/policy", "", agent->headers());
  ASSERT_EQ(effective.status, 200) << effective;
  EXPECT_NE(effective.body.find("installs"), std::string::npos) << effective;

  // The request waits for a technician.
  const auto created = hoistd.call_json("POST", "/api/v1/agent/requests", apt_get_submission(), agent->headers());
  ASSERT_EQ(created.status, 201) << created;
  EXPECT_EQ(created.str("/decision"), "request");
  EXPECT_EQ(created.str("/request/state"), "pending");
  EXPECT_EQ(created.str("/request/approval_mode"), "manual");
  EXPECT_EQ(created.str("/request/rule"), "fleet/installs");
  EXPECT_EQ(created.str("/request/host"), "web-01");
  const std::string id = created.str("/request/id");
  const auto pending = hoistd.call("GET", "/api/v1/requests?state=pending", "", admin);
  ASSERT_EQ(pending.status, 200) << pending;
  ASSERT_EQ(pending.array("/requests").size(), 1U) << pending;
  EXPECT_EQ(pending.array("/requests")[0].at("id"), json::string(id));

  // Everything queued so far, acknowledged by the next poll's `after`.
  const auto queued = hoistd.call("GET", "/api/v1/agent/push?after=0", "", agent->headers());
  ASSERT_EQ(queued.status, 200) << queued;
  const auto cursor = static_cast<std::uint64_t>(queued.num("/cursor"));

  // The approval wakes a long poll that is already waiting.
  {
    BackgroundPoll poll(hoistd, *agent, cursor, 20);
    ASSERT_TRUE(poll.started());
    const auto approved_at = steady_clock::now();
    const auto approved = hoistd.call_json("POST", "/api/v1/requests/" + id + "/approve",
                                           json::object{{"duration_s", 600}, {"comment", "go ahead"}}, admin);
    ASSERT_EQ(approved.status, 200) << approved;
    EXPECT_EQ(approved.str("/state"), "approved");
    EXPECT_EQ(approved.str("/review/reviewer"), "admin");
    // The real clock may tick between the grant's start and the answer.
    EXPECT_GE(approved.num("/time_left_s"), 599) << approved;
    EXPECT_LE(approved.num("/time_left_s"), 600) << approved;

    const auto push = poll.reply(milliseconds(15000));
    ASSERT_TRUE(push) << "the long poll was not answered";
    ASSERT_EQ(push->status, 200) << *push;
    // Woken, not found by the periodic re-check (every 30 s) or the timeout.
    EXPECT_LT(std::chrono::duration<double>(poll.answered_at() - approved_at).count(), 3.0);
    const auto messages = request_pushes(*push, id);
    ASSERT_EQ(messages.size(), 1U) << *push;
    EXPECT_EQ(messages[0].at("state"), "approved");
    EXPECT_EQ(messages[0].at("reviewer"), "admin");
    EXPECT_EQ(messages[0].at("comment"), "go ahead");
    EXPECT_EQ(messages[0].at("grant_deadline"), json::string(approved.str("/grant_deadline")));
    EXPECT_GT(static_cast<std::uint64_t>(push->num("/cursor")), cursor);
  }
  const auto grants = hoistd.call("GET", "/api/v1/grants", "", admin);
  ASSERT_EQ(grants.status, 200) << grants;
  ASSERT_EQ(grants.array("/grants").size(), 1U) << grants;
  EXPECT_EQ(grants.array("/grants")[0].at("id"), json::string(id));
  EXPECT_EQ(hoistd.call("GET", "/api/v1/agent/requests/" + id, "", agent->headers()).str("/state"), "approved");

  // The revocation reaches the agent the same way.
  const auto before_revoke =
      hoistd.call("GET", "/api/v1/agent/push?after=" + std::to_string(cursor), "", agent->headers());
  ASSERT_EQ(before_revoke.status, 200) << before_revoke;
  const auto cursor2 = static_cast<std::uint64_t>(before_revoke.num("/cursor"));
  {
    BackgroundPoll poll(hoistd, *agent, cursor2, 20);
    ASSERT_TRUE(poll.started());
    const auto revoked_at = steady_clock::now();
    const auto revoked =
        hoistd.call_json("POST", "/api/v1/grants/" + id + "/revoke", json::object{{"reason", "done early"}}, admin);
    ASSERT_EQ(revoked.status, 200) << revoked;
    EXPECT_EQ(revoked.str("/state"), "revoked");
    const auto push = poll.reply(milliseconds(15000));
    ASSERT_TRUE(push) << "the long poll was not answered";
    ASSERT_EQ(push->status, 200) << *push;
    EXPECT_LT(std::chrono::duration<double>(poll.answered_at() - revoked_at).count(), 3.0);
    const auto messages = request_pushes(*push, id);
    ASSERT_EQ(messages.size(), 1U) << *push;
    EXPECT_EQ(messages[0].at("state"), "revoked");
    EXPECT_EQ(messages[0].at("end_reason"), "done early");
  }
  EXPECT_TRUE(hoistd.call("GET", "/api/v1/grants", "", admin).array("/grants").empty());

  // Every step is in the audit trail, and the chain verifies.
  const auto audit = hoistd.call("GET", "/api/v1/audit?target=" + id, "", admin);
  ASSERT_EQ(audit.status, 200) << audit;
  std::vector<std::string> actions;
  for (const auto& e : audit.array("/events")) actions.emplace_back(e.at("action").as_string());
  EXPECT_EQ(actions, (std::vector<std::string>{"request.created", "request.approved", "grant.revoked"})) << audit;
  const auto verify = hoistd.call("GET", "/api/v1/audit/verify", "", admin);
  ASSERT_EQ(verify.status, 200) << verify;
  EXPECT_TRUE(verify.boolean("/ok")) << verify;
  EXPECT_GT(verify.num("/events_checked"), 5) << verify;

  EXPECT_EQ(hoistd.stop(), 0) << hoistd.output();
}

TEST(E2eLifecycle, ClientTrustsTheCaFileAndRefusesAnotherPin) {
  HoistdProcess hoistd;
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  ASSERT_FALSE(hoistd.ca_file().empty());
  for (const auto trust : {hoist::testing::Trust::kPin, hoist::testing::Trust::kCaFile, hoist::testing::Trust::kBoth}) {
    auto client = hoistd.client(trust);
    ASSERT_NE(client, nullptr);
    const auto health = hoist::testing::send_request(*client, "GET", "/api/v1/health");
    EXPECT_EQ(health.status, 200) << health;
  }
  // A pin of some other CA: refused before any request is sent.
  net::ClientOptions options;
  options.url = hoistd.url();
  options.pin_fingerprint = std::string(64, 'A');
  options.connect_timeout = std::chrono::seconds(5);
  options.request_timeout = std::chrono::seconds(5);
  auto wrong = net::HttpsClient::create(options);
  ASSERT_TRUE(wrong) << wrong.error().message;
  auto refused = (*wrong)->request("GET", "/api/v1/health");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied) << refused.error().message;
  EXPECT_EQ(hoistd.stop(), 0) << hoistd.output();
}

// hoistd.toml [requests] sets the limits on submissions (docs/hoistd.md):
// here 3 per user of an endpoint, then one an hour.
TEST(E2eLifecycle, TheSubmissionLimitsComeFromTheConfiguration) {
  HoistdProcess hoistd;
  hoistd.options().config_toml = "[requests]\nuser_burst = 3\nuser_every = \"1h\"\n";
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  auto admin_token = hoistd.admin_token();
  ASSERT_TRUE(admin_token) << admin_token.error().message;
  const Headers admin = bearer(*admin_token);
  ASSERT_EQ(hoistd.call_json("PUT", "/api/v1/policies/fleet", json::object{{"text", manual_policy()}}, admin).status,
            201);
  ASSERT_EQ(
      hoistd.call_json("PUT", "/api/v1/policies/fleet/labels", json::object{{"labels", json::array{"web"}}}, admin)
          .status,
      200);
  auto agent = hoistd.enrol({"web"}, "web-01");
  ASSERT_TRUE(agent) << agent.error().message;
  for (int i = 0; i < 3; ++i) {
    const auto created = hoistd.call_json("POST", "/api/v1/agent/requests", apt_get_submission(), agent->headers());
    ASSERT_EQ(created.status, 201) << created;
  }
  const auto refused = hoistd.call_json("POST", "/api/v1/agent/requests", apt_get_submission(), agent->headers());
  EXPECT_EQ(refused.status, 429) << refused;
  EXPECT_NE(refused.str("/error/message").find("(at most 3 at once, then one every 1h)"), std::string::npos) << refused;
  const auto wait = std::stoi(refused.header("retry-after").empty() ? "0" : refused.header("retry-after"));
  EXPECT_GT(wait, 3500) << refused;
  EXPECT_LE(wait, 3600) << refused;
}

}  // namespace
}  // namespace hoist::e2e
