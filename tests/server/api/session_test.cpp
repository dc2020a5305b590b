// Console sessions, CSRF, login rate limiting, disabled users and API
// token lifetimes.
#include "api_test_support.h"

namespace hoist::api::testing {
namespace {

class Sessions : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    create_user("ops", store::Role::kApprover);
  }
};

TEST_F(Sessions, LoginSetsAHardenedCookie) {
  const auto r = try_login("ops", kPassword);
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(r.str("/user"), "ops");
  EXPECT_EQ(r.str("/role"), "approver");
  EXPECT_GE(r.str("/csrf_token").size(), 32U);
  const std::string cookie = r.header("set-cookie");
  EXPECT_EQ(cookie.rfind("hoist_session=", 0), 0U) << cookie;
  for (const char* attribute : {"; HttpOnly", "; Secure", "; SameSite=Strict", "; Path=/"}) {
    EXPECT_NE(cookie.find(attribute), std::string::npos) << "missing " << attribute << ": " << cookie;
  }
  EXPECT_EQ(r.header("cache-control"), "no-store") << r;
  // The cookie is not the CSRF token, and neither is stored in clear.
  const std::string secret = cookie.substr(14, cookie.find(';') - 14);
  EXPECT_NE(secret, r.str("/csrf_token"));
  EXPECT_EQ(audit_actions_for("ops").back(), "user.login");
  const auto events = audit_for("ops");
  EXPECT_EQ(json::serialize(events).find(secret), std::string::npos) << "the session secret is in the audit trail";
}

TEST_F(Sessions, StateChangesNeedTheCsrfToken) {
  const Session s = login("ops");
  const auto read = call("GET", "/api/v1/whoami", "", s.headers(false));
  ASSERT_EQ(read.status, 200) << "reads need no CSRF token: " << read;
  EXPECT_EQ(read.str("/via"), "session");

  const json::object body{{"label", "laptop"}};
  const auto without = call_json("POST", "/api/v1/tokens", body, s.headers(false));
  EXPECT_EQ(without.status, 403) << without;
  const auto wrong = call_json("POST", "/api/v1/tokens", body,
                               {{"cookie", s.cookie}, {"x-csrf-token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}});
  EXPECT_EQ(wrong.status, 403) << wrong;
  // Another session's CSRF token does not fit this one.
  const Session other = login("ops");
  const auto crossed = call_json("POST", "/api/v1/tokens", body, {{"cookie", s.cookie}, {"x-csrf-token", other.csrf}});
  EXPECT_EQ(crossed.status, 403) << crossed;
  EXPECT_EQ(call("GET", "/api/v1/tokens", "", s.headers(false)).array("/tokens").size(), 0U);

  const auto with = call_json("POST", "/api/v1/tokens", body, s.headers());
  EXPECT_EQ(with.status, 201) << with;
}

TEST_F(Sessions, LogoutEndsTheSession) {
  const Session s = login("ops");
  const Session other = login("ops");
  const auto out = call("POST", "/api/v1/logout", "", s.headers());
  ASSERT_EQ(out.status, 200) << out;
  EXPECT_NE(out.header("set-cookie").find("Max-Age=0"), std::string::npos) << out;
  const auto after = call("GET", "/api/v1/whoami", "", s.headers(false));
  EXPECT_EQ(after.status, 401) << after;
  EXPECT_EQ(call("GET", "/api/v1/whoami", "", other.headers(false)).status, 200) << "only that session ends";
}

TEST_F(Sessions, SessionsExpire) {
  const Session s = login("ops");
  clock_.advance(std::chrono::hours{8} - std::chrono::seconds{1});
  EXPECT_EQ(call("GET", "/api/v1/whoami", "", s.headers(false)).status, 200);
  clock_.advance(std::chrono::seconds{1});
  EXPECT_EQ(call("GET", "/api/v1/whoami", "", s.headers(false)).status, 401);
}

TEST_F(Sessions, WrongPasswordOrUnknownUserIsTheSameRefusal) {
  const auto wrong = try_login("ops", "not the password at all");
  EXPECT_EQ(wrong.status, 401) << wrong;
  EXPECT_TRUE(wrong.header("set-cookie").empty()) << wrong;
  const auto unknown = try_login("nobody", kPassword);
  EXPECT_EQ(unknown.status, 401) << unknown;
  EXPECT_EQ(wrong.error_message(), unknown.error_message());
  EXPECT_EQ(audit_actions_for("ops"), (std::vector<std::string>{"user.created", "user.login_failed"}));
  EXPECT_EQ(audit_actions_for("nobody"), (std::vector<std::string>{"user.login_failed"}));
}

TEST_F(Sessions, RepeatedFailuresAreRateLimited) {
  // LoginLimiter: failures 1-5 cost nothing, the 6th locks for 1 s, the
  // 7th for 2 s, ... Once locked, even the right password is refused.
  for (int i = 1; i <= 6; ++i) {
    const auto r = try_login("ops", "wrong password " + std::to_string(i));
    EXPECT_EQ(r.status, 401) << "attempt " << i << ": " << r;
  }
  const auto locked = try_login("ops", kPassword);
  EXPECT_EQ(locked.status, 429) << locked;
  EXPECT_EQ(locked.error_code(), "rate_limited") << locked;
  EXPECT_EQ(locked.header("retry-after"), "1") << locked;
  EXPECT_TRUE(locked.header("set-cookie").empty()) << locked;

  // From another address the user is still locked (counted per user too).
  const auto elsewhere = try_login("ops", kPassword, "198.51.100.7");
  EXPECT_EQ(elsewhere.status, 429) << elsewhere;

  clock_.advance(std::chrono::seconds{1});
  const auto seventh = try_login("ops", "wrong password 7");
  EXPECT_EQ(seventh.status, 401) << seventh;
  const auto longer = try_login("ops", kPassword);
  EXPECT_EQ(longer.status, 429) << longer;
  EXPECT_EQ(longer.header("retry-after"), "2") << longer;

  clock_.advance(std::chrono::seconds{2});
  const auto ok = try_login("ops", kPassword, "198.51.100.7");
  EXPECT_EQ(ok.status, 200) << "the lock ends: " << ok;
}

TEST_F(Sessions, FiveFailuresAreFree) {
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(try_login("ops", "wrong password").status, 401);
  }
  EXPECT_EQ(try_login("ops", kPassword).status, 200);
}

TEST_F(Sessions, DisabledUsersAreLockedOutEverywhere) {
  const std::string token = token_of_new_user("bob", store::Role::kApprover);
  const Session session = login("bob");
  const auto disable =
      call_json("PATCH", "/api/v1/users/bob", json::object{{"disabled", true}}, as(store::Role::kAdmin));
  ASSERT_EQ(disable.status, 200) << disable;
  EXPECT_EQ(disable.at("/disabled")->as_bool(), true);
  EXPECT_EQ(try_login("bob", kPassword).status, 401);
  EXPECT_EQ(call("GET", "/api/v1/whoami", "", bearer(token)).status, 401);
  EXPECT_EQ(call("GET", "/api/v1/whoami", "", session.headers(false)).status, 401);

  // Enabled again (issue 17, item 13): the old token and the old session
  // stay dead; bob logs in and makes new ones.
  const auto enable =
      call_json("PATCH", "/api/v1/users/bob", json::object{{"disabled", false}}, as(store::Role::kAdmin));
  ASSERT_EQ(enable.status, 200) << enable;
  EXPECT_EQ(call("GET", "/api/v1/whoami", "", bearer(token)).status, 401);
  EXPECT_EQ(call("GET", "/api/v1/whoami", "", session.headers(false)).status, 401);
  const Session again = login("bob");
  EXPECT_EQ(call("GET", "/api/v1/whoami", "", again.headers(false)).status, 200);
  const auto events = audit_for("bob");
  ASSERT_FALSE(events.empty());
  bool counted = false;
  for (const auto& e : events) {
    if (e.at("action") != "user.updated") continue;
    const auto& d = e.at("details").as_object();
    if (d.contains("disabled") && d.at("disabled").is_bool() && d.at("disabled").as_bool()) {
      EXPECT_EQ(d.at("tokens_revoked").to_number<std::int64_t>(), 1) << e;
      EXPECT_EQ(d.at("sessions_revoked").to_number<std::int64_t>(), 2)
          << "the one that made the token, and login(): " << e;
      counted = true;
    }
  }
  EXPECT_TRUE(counted) << "the disable is audited with what it revoked";

  // An admin cannot lock themselves out.
  const auto self =
      call_json("PATCH", "/api/v1/users/test-admin", json::object{{"disabled", true}}, as(store::Role::kAdmin));
  EXPECT_EQ(self.status, 400) << self;
}

// Issue 17, item 13: a password reset (the old one may be known to
// someone else) ends every session and every API token made with it.
TEST_F(Sessions, ANewPasswordRevokesTokensAndSessions) {
  const std::string token = token_of_new_user("bob", store::Role::kApprover);
  const Session session = login("bob");
  const std::string other = token_of_new_user("carol", store::Role::kApprover);
  const auto reset = call_json("PATCH", "/api/v1/users/bob", json::object{{"password", "a brand new passphrase 42"}},
                               as(store::Role::kAdmin));
  ASSERT_EQ(reset.status, 200) << reset;
  EXPECT_EQ(call("GET", "/api/v1/whoami", "", bearer(token)).status, 401);
  EXPECT_EQ(call("GET", "/api/v1/whoami", "", session.headers(false)).status, 401);
  EXPECT_EQ(call("GET", "/api/v1/whoami", "", bearer(other)).status, 200) << "another user's token lives on";
  const auto listed = call("GET", "/api/v1/tokens", "", bearer(other));
  EXPECT_EQ(listed.status, 200) << listed;
  EXPECT_EQ(try_login("bob", "a brand new passphrase 42").status, 200);

  // A role change alone revokes nothing (the role is read at each call).
  const std::string fresh = token_of_new_user("dave", store::Role::kApprover);
  ASSERT_EQ(call_json("PATCH", "/api/v1/users/dave", json::object{{"role", "auditor"}}, as(store::Role::kAdmin)).status,
            200);
  EXPECT_EQ(call("GET", "/api/v1/whoami", "", bearer(fresh)).status, 200);
}

TEST_F(Sessions, RoleChangesApplyToTheNextCall) {
  const std::string token = token_of_new_user("bob", store::Role::kApprover);
  EXPECT_EQ(call("POST", "/api/v1/requests/req-x/approve", "", bearer(token)).status, 404);
  const auto demote =
      call_json("PATCH", "/api/v1/users/bob", json::object{{"role", "auditor"}}, as(store::Role::kAdmin));
  ASSERT_EQ(demote.status, 200) << demote;
  EXPECT_EQ(call("POST", "/api/v1/requests/req-x/approve", "", bearer(token)).status, 403);
  const auto stale =
      call_json("PATCH", "/api/v1/users/bob", json::object{{"role", "admin"}, {"version", 1}}, as(store::Role::kAdmin));
  EXPECT_EQ(stale.status, 409) << "a stale version conflicts: " << stale;
}

TEST_F(Sessions, RevokedTokensStopWorking) {
  const std::string token = token_of_new_user("bob", store::Role::kApprover);
  const auto who = call("GET", "/api/v1/whoami", "", bearer(token));
  ASSERT_EQ(who.status, 200) << who;
  const std::string id = who.str("/token_id");

  // Someone else's token is "not found" for a non-admin.
  const auto foreign = call("DELETE", "/api/v1/tokens/" + id, "", as(store::Role::kApprover));
  EXPECT_EQ(foreign.status, 404) << foreign;
  EXPECT_EQ(call("GET", "/api/v1/whoami", "", bearer(token)).status, 200);

  const auto revoked = call("DELETE", "/api/v1/tokens/" + id, "", bearer(token));
  ASSERT_EQ(revoked.status, 200) << revoked;
  EXPECT_EQ(revoked.at("/active")->as_bool(), false);
  const auto after = call("GET", "/api/v1/whoami", "", bearer(token));
  EXPECT_EQ(after.status, 401) << after;

  // An admin may revoke anyone's token.
  const std::string second = token_of_new_user("carol", store::Role::kAuditor);
  const std::string second_id = call("GET", "/api/v1/whoami", "", bearer(second)).str("/token_id");
  EXPECT_EQ(call("DELETE", "/api/v1/tokens/" + second_id, "", as(store::Role::kAdmin)).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/whoami", "", bearer(second)).status, 401);
}

TEST_F(Sessions, ExpiredTokensStopWorking) {
  const Session s = login("ops");
  const auto created =
      call_json("POST", "/api/v1/tokens", json::object{{"label", "short"}, {"expires_in_s", 60}}, s.headers());
  ASSERT_EQ(created.status, 201) << created;
  const std::string token = created.str("/token");
  EXPECT_EQ(call("GET", "/api/v1/whoami", "", bearer(token)).status, 200);
  clock_.advance(std::chrono::seconds{59});
  EXPECT_EQ(call("GET", "/api/v1/whoami", "", bearer(token)).status, 200);
  clock_.advance(std::chrono::seconds{1});
  const auto expired = call("GET", "/api/v1/whoami", "", bearer(token));
  EXPECT_EQ(expired.status, 401) << expired;
  // The token list shows it as inactive; the secret is never listed.
  const auto list = call("GET", "/api/v1/tokens", "", s.headers(false));
  ASSERT_EQ(list.array("/tokens").size(), 1U) << list;
  EXPECT_EQ(list.array("/tokens")[0].at("active"), false);
  // hoist_KIND_ID_SECRET: the secret is everything after the id (it may
  // hold '_' itself, being base64url, so not "after the last '_'").
  const std::string id = created.str("/id");
  const std::string secret = token.substr(token.find("_" + id + "_") + id.size() + 2);
  ASSERT_GE(secret.size(), 20U) << token;
  EXPECT_EQ(list.raw.body.find(secret), std::string::npos) << list;
}

}  // namespace
}  // namespace hoist::api::testing
