// Step-up: a console session whose login is older than step_up_after
// (15 minutes in these tests, the default) must confirm the password again
// before it approves or denies; hoistd enforces it, whatever the console
// shows. API tokens are not sessions and are not asked.
#include "api_test_support.h"

namespace hoist::api::testing {
namespace {

class StepUp : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    create_user("tech", store::Role::kApprover);
    put_policy("fleet", kFleetPolicy, {"web"});
    agent_ = enrol({"web"});
  }

  std::string submit_pending() {
    const auto r = submit(agent_, Submission{});
    EXPECT_EQ(r.status, 201) << r;
    return r.str("/request/id");
  }

  Reply approve(const std::string& id, const Headers& headers) {
    return call_json("POST", "/api/v1/requests/" + id + "/approve", json::object{}, headers);
  }

  Reply reauth(const Session& s, std::string_view password) {
    return call_json("POST", "/api/v1/session/reauth", json::object{{"password", password}}, s.headers());
  }

  static Session session_of(const Reply& r) {
    Session s;
    const auto cookie = r.header("set-cookie");
    s.cookie = cookie.substr(0, cookie.find(';'));
    s.csrf = r.str("/csrf_token");
    return s;
  }

  static void expect_step_up(const Reply& r) {
    EXPECT_EQ(r.status, 403) << r;
    EXPECT_EQ(r.error_code(), "permission_denied") << r;
    EXPECT_EQ(r.str("/error/reason"), "step_up_required") << r;
    EXPECT_EQ(r.num("/error/step_up_after_s"), 15 * 60) << r;
    EXPECT_NE(r.error_message().find("/api/v1/session/reauth"), std::string::npos) << r;
  }

  Agent agent_;
};

TEST_F(StepUp, AFreshSessionApprovesAndDenies) {
  const Session s = login("tech");
  clock_.advance(std::chrono::minutes{15});  // exactly the limit: still fresh
  const auto approved = approve(submit_pending(), s.headers());
  EXPECT_EQ(approved.status, 200) << approved;
  const auto denied = call_json("POST", "/api/v1/requests/" + submit_pending() + "/deny", json::object{}, s.headers());
  EXPECT_EQ(denied.status, 200) << denied;
}

TEST_F(StepUp, AnOldSessionMustConfirmThePasswordFirst) {
  const Session s = login("tech");
  const std::string id = submit_pending();
  clock_.advance(std::chrono::minutes{15} + std::chrono::seconds{1});
  expect_step_up(approve(id, s.headers()));
  expect_step_up(call_json("POST", "/api/v1/requests/" + id + "/deny", json::object{{"comment", "no"}}, s.headers()));
  // Nothing happened: still pending, nothing audited for it but its creation.
  EXPECT_EQ(call("GET", "/api/v1/requests/" + id, "", s.headers(false)).str("/state"), "pending");
  EXPECT_EQ(audit_actions_for(id), std::vector<std::string>{"request.created"});
  // Reading is not affected, nor is anything that lets nobody run as root.
  EXPECT_EQ(call("GET", "/api/v1/requests", "", s.headers(false)).status, 200);

  const auto renewed = reauth(s, kPassword);
  ASSERT_EQ(renewed.status, 200) << renewed;
  EXPECT_EQ(renewed.str("/user"), "tech");
  EXPECT_EQ(renewed.str("/role"), "approver");
  EXPECT_EQ(renewed.str("/authenticated_at"), now_text());
  const Session fresh = session_of(renewed);
  EXPECT_NE(fresh.cookie, s.cookie);
  EXPECT_NE(fresh.csrf, s.csrf);
  // The old session is over (it could still be old somewhere else); the new
  // one approves.
  EXPECT_EQ(approve(id, s.headers()).status, 401);
  const auto approved = approve(id, fresh.headers());
  EXPECT_EQ(approved.status, 200) << approved;
  EXPECT_EQ(approved.str("/review/reviewer"), "tech");

  const auto logins = audit_for("tech");
  ASSERT_FALSE(logins.empty());
  const auto& last = logins.back().as_object();
  EXPECT_EQ(last.at("action"), "user.login");
  EXPECT_EQ(last.at("actor"), "tech");
  EXPECT_EQ(last.at("details").at("step_up"), true) << last;

  // The renewed session ages like any other.
  clock_.advance(std::chrono::minutes{16});
  expect_step_up(approve(submit_pending(), fresh.headers()));
}

TEST_F(StepUp, AnOfflineCodeNeedsAFreshLoginToo) {
  const Session s = login("tech");
  const json::object code{{"endpoint", agent_.id}, {"user", "alice"}, {"duration_s", 3600}, {"reason", "no network"}};
  clock_.advance(std::chrono::minutes{20});
  expect_step_up(call_json("POST", "/api/v1/codes", code, s.headers()));
  EXPECT_EQ(call("GET", "/api/v1/codes", "", s.headers(false)).array("/codes").size(), 0U);
  const auto renewed = reauth(s, kPassword);
  ASSERT_EQ(renewed.status, 200) << renewed;
  const auto issued = call_json("POST", "/api/v1/codes", code, session_of(renewed).headers());
  EXPECT_EQ(issued.status, 201) << issued;
  // Revoking takes root away: no step-up.
  const std::string id = submit_pending();
  ASSERT_EQ(approve(id, session_of(renewed).headers()).status, 200);
  clock_.advance(std::chrono::minutes{20});
  const auto revoked =
      call_json("POST", "/api/v1/grants/" + id + "/revoke", json::object{}, session_of(renewed).headers());
  EXPECT_EQ(revoked.status, 200) << revoked;
}

TEST_F(StepUp, AWrongPasswordIsRefusedCountedAndAudited) {
  const Session s = login("tech");
  clock_.advance(std::chrono::hours{1});
  const auto wrong = reauth(s, "not the password");
  // 403, not 401: the session is still good, so the console stays on the page.
  EXPECT_EQ(wrong.status, 403) << wrong;
  EXPECT_EQ(wrong.header("set-cookie"), "");
  const auto trail = audit_for("tech");
  ASSERT_FALSE(trail.empty());
  const auto& failed = trail.back().as_object();
  EXPECT_EQ(failed.at("action"), "user.login_failed");
  EXPECT_EQ(failed.at("actor"), "tech");
  EXPECT_EQ(failed.at("details").at("step_up"), true) << failed;
  // The login limiter counts step-up failures: guessing at a shared desk
  // gets no more tries than guessing at the login page.
  int refused = 0;
  for (int i = 0; i < 8; ++i) {
    const auto r = reauth(s, "still not it");
    if (r.status == 429) {
      ++refused;
      EXPECT_NE(r.header("retry-after"), "") << r;
    }
  }
  EXPECT_GT(refused, 0);
  const auto locked = reauth(s, kPassword);
  EXPECT_EQ(locked.status, 429) << "the right password waits out the lock-out too: " << locked;
  // The old session still cannot approve.
  expect_step_up(approve(submit_pending(), s.headers()));
}

TEST_F(StepUp, ReauthNeedsTheSessionItRenews) {
  const Session s = login("tech");
  // Without the CSRF token: refused like any write.
  const auto no_csrf =
      call_json("POST", "/api/v1/session/reauth", json::object{{"password", kPassword}}, s.headers(false));
  EXPECT_EQ(no_csrf.status, 403) << no_csrf;
  // Without a session.
  const auto anonymous = call_json("POST", "/api/v1/session/reauth", json::object{{"password", kPassword}});
  EXPECT_EQ(anonymous.status, 401) << anonymous;
  // Only the password: the user is the session's, never one named in the body.
  const auto other = call_json("POST", "/api/v1/session/reauth",
                               json::object{{"password", kPassword}, {"user", "admin"}}, s.headers());
  EXPECT_EQ(other.status, 400) << other;
  // An API token has no login to renew.
  const auto token =
      call_json("POST", "/api/v1/session/reauth", json::object{{"password", kPassword}}, as(store::Role::kApprover));
  EXPECT_EQ(token.status, 400) << token;
  EXPECT_NE(token.error_message().find("API token"), std::string::npos) << token;
  // A disabled user's session ends with the user.
  ASSERT_EQ(call_json("PATCH", "/api/v1/users/tech", json::object{{"disabled", true}}, as(store::Role::kAdmin)).status,
            200);
  EXPECT_EQ(reauth(s, kPassword).status, 401);
}

TEST_F(StepUp, ApiTokensAreNotAsked) {
  // A token is no session: the CLI makes one right after its password is
  // typed, and its lifetime and revocation bound it instead (docs/console.md).
  const Headers token = as(store::Role::kApprover);
  clock_.advance(std::chrono::hours{6});
  const auto approved = approve(submit_pending(), token);
  EXPECT_EQ(approved.status, 200) << approved;
}

}  // namespace
}  // namespace hoist::api::testing
