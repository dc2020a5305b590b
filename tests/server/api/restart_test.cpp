// A restart of hoistd loses nothing and extends nothing: requests, grants,
// their stored deadlines, credentials and tokens survive a new Api over the
// same database, and expiry still happens on time.
#include "api_test_support.h"
#include "core/timestamp.h"

namespace hoist::api::testing {
namespace {

class Restart : public ApiTest {};

TEST_F(Restart, NothingIsLostAndDeadlinesHold) {
  put_policy("fleet", kFleetPolicy, {"web"});
  const Agent agent = enrol({"web"});
  const std::string approver = token_for(store::Role::kApprover);
  const std::string auditor = token_for(store::Role::kAuditor);

  Submission s;
  s.duration_s = 1800;
  const auto pending = submit(agent, s);
  ASSERT_EQ(pending.status, 201) << pending;
  const std::string pending_id = pending.str("/request/id");
  const auto granted = submit(agent, s);
  ASSERT_EQ(granted.status, 201) << granted;
  const std::string grant_id = granted.str("/request/id");
  clock_.advance(std::chrono::minutes{2});
  const auto approved = call_json("POST", "/api/v1/requests/" + grant_id + "/approve",
                                  json::object{{"duration_s", 900}}, bearer(approver));
  ASSERT_EQ(approved.status, 200) << approved;

  const auto before_pending = call("GET", "/api/v1/requests/" + pending_id, "", bearer(auditor));
  const auto before_grant = call("GET", "/api/v1/requests/" + grant_id, "", bearer(auditor));
  const auto head_before = call("GET", "/api/v1/audit/head", "", bearer(auditor));
  const auto pushes_before = push_messages(agent);

  restart();

  const auto after_pending = call("GET", "/api/v1/requests/" + pending_id, "", bearer(auditor));
  const auto after_grant = call("GET", "/api/v1/requests/" + grant_id, "", bearer(auditor));
  ASSERT_EQ(after_pending.status, 200) << after_pending;
  ASSERT_EQ(after_grant.status, 200) << after_grant;
  EXPECT_EQ(after_pending.body, before_pending.body);
  EXPECT_EQ(after_grant.body, before_grant.body);
  EXPECT_EQ(after_pending.str("/state"), "pending");
  EXPECT_EQ(after_pending.str("/pending_deadline"),
            format_timestamp(std::chrono::floor<Seconds>(kStart) + Seconds{3600}));
  EXPECT_EQ(after_grant.str("/state"), "approved");
  EXPECT_EQ(after_grant.str("/grant_deadline"), format_timestamp(clock_.now_s() + Seconds{900}));
  EXPECT_EQ(call("GET", "/api/v1/audit/head", "", bearer(auditor)).body, head_before.body);
  EXPECT_EQ(push_messages(agent), pushes_before) << "the push queue survives a restart";
  const auto verify = call("GET", "/api/v1/audit/verify", "", bearer(auditor));
  EXPECT_EQ(verify.at("/ok")->as_bool(), true) << verify;

  // Credentials still work; the agent still gets decisions.
  const auto whoami = call("GET", "/api/v1/whoami", "", bearer(approver));
  EXPECT_EQ(whoami.status, 200) << whoami;
  const auto heartbeat =
      call_json("POST", "/api/v1/agent/heartbeat", json::object{{"agent_version", "0.1.1"}}, agent.headers());
  EXPECT_EQ(heartbeat.status, 200) << heartbeat;

  // Expiry happens at the stored deadlines, not later.
  clock_.advance(Seconds{900} - Seconds{1});
  auto expired = api_->expire_due();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 0U);
  clock_.advance(Seconds{1});
  expired = api_->expire_due();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 1U);
  EXPECT_EQ(call("GET", "/api/v1/requests/" + grant_id, "", bearer(auditor)).str("/stored_state"), "expired");

  restart();
  clock_.advance(std::chrono::hours{1});
  expired = api_->expire_due();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 1U);
  const auto gone = call("GET", "/api/v1/requests/" + pending_id, "", bearer(auditor));
  EXPECT_EQ(gone.str("/stored_state"), "expired") << gone;
  EXPECT_EQ(gone.str("/ended_at"), gone.str("/pending_deadline")) << gone;
  EXPECT_EQ(audit_actions_for(pending_id), (std::vector<std::string>{"request.created", "request.expired"}));
  EXPECT_EQ(audit_actions_for(grant_id),
            (std::vector<std::string>{"request.created", "request.approved", "grant.expired"}));
}

TEST_F(Restart, SessionsSurvive) {
  create_user("ops", store::Role::kAuditor);
  const Session session = login("ops");
  restart();
  const auto who = call("GET", "/api/v1/whoami", "", session.headers(false));
  EXPECT_EQ(who.status, 200) << who;
  EXPECT_EQ(who.str("/user"), "ops");
}

}  // namespace
}  // namespace hoist::api::testing
