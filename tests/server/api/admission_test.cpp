// What hoistd decides from a request's head before it reads the body
// (Api::admit), and that a body is JSON only when it says so (415).
// Issue 17, items 10 and 14: a body up to 1 MiB was read before the
// credentials were checked, and any Content-Type was parsed as JSON.
#include <limits>

#include "api_test_support.h"

namespace hoist::api::testing {
namespace {

class Admission : public ApiTest {
 protected:
  // The head of a request with a body on its way: what the server passes
  // to admit() before it reads any of the body.
  static net::HttpRequest head(const std::string& method, const std::string& path, const Headers& headers = {},
                               std::string_view content_type = "application/json") {
    net::HttpRequest r;
    r.method = method;
    r.target = path;
    r.path = path;
    r.remote_address = std::string(kRemote);
    r.headers = headers;
    if (!content_type.empty()) r.headers.push_back({"content-type", std::string(content_type)});
    r.headers.push_back({"content-length", "1048576"});
    return r;
  }
};

constexpr std::size_t kUnlimited = std::numeric_limits<std::size_t>::max();

TEST_F(Admission, NoBodyIsReadWithoutCredentials) {
  for (const auto& path : {"/api/v1/requests/req-1/approve", "/api/v1/tokens", "/api/v1/agent/requests",
                           "/api/v1/agent/events", "/api/v1/policies/fleet/check"}) {
    auto admission = api_->admit(head("POST", path));
    ASSERT_TRUE(admission.refusal.has_value()) << path;
    EXPECT_EQ(admission.refusal->status, 401) << path;
    EXPECT_EQ(admission.refusal->header("www-authenticate").value_or(""), "Bearer realm=\"hoist\"");
  }
  // Wrong credentials are no better than none.
  std::string forged_token = token_for(store::Role::kAuditor);
  forged_token.back() = forged_token.back() == 'A' ? 'B' : 'A';
  auto forged = api_->admit(head("POST", "/api/v1/tokens", bearer(forged_token)));
  ASSERT_TRUE(forged.refusal.has_value());
  EXPECT_EQ(forged.refusal->status, 401);
  // A session cookie without its CSRF token neither.
  create_user("ops", store::Role::kAdmin);
  const Session session = login("ops");
  auto no_csrf = api_->admit(head("POST", "/api/v1/tokens", session.headers(false)));
  ASSERT_TRUE(no_csrf.refusal.has_value());
  EXPECT_EQ(no_csrf.refusal->status, 403);
}

TEST_F(Admission, PublicRoutesTakeOnlyASmallBody) {
  for (const auto& path : {"/api/v1/login", "/api/v1/agent/enrol"}) {
    auto admission = api_->admit(head("POST", path));
    EXPECT_FALSE(admission.refusal.has_value()) << path;
    EXPECT_EQ(admission.max_body_bytes, Api::kPublicBodyLimit) << path;
  }
  EXPECT_EQ(Api::kPublicBodyLimit, 8U * 1024);
  // The console's files take no body; handle() answers 405 once it is read.
  EXPECT_EQ(api_->admit(head("POST", "/index.html")).max_body_bytes, Api::kPublicBodyLimit);
  // Through the test client as through the server: a login over the limit is 400.
  const auto big =
      call_json("POST", "/api/v1/login", json::object{{"user", "test-admin"}, {"password", std::string(9000, 'p')}});
  EXPECT_EQ(big.status, 400) << big;
}

TEST_F(Admission, CredentialsAdmitTheServersLimit) {
  auto admission = api_->admit(head("POST", "/api/v1/tokens", as(store::Role::kAuditor)));
  EXPECT_FALSE(admission.refusal.has_value());
  EXPECT_EQ(admission.max_body_bytes, kUnlimited);
  const Agent agent = enrol({"web"});
  auto events = api_->admit(head("POST", "/api/v1/agent/events", agent.headers()));
  EXPECT_FALSE(events.refusal.has_value());
  EXPECT_EQ(events.max_body_bytes, kUnlimited);
}

TEST_F(Admission, TheRoleIsCheckedBeforeTheBody) {
  auto admission = api_->admit(head("PUT", "/api/v1/policies/fleet", as(store::Role::kAuditor)));
  ASSERT_TRUE(admission.refusal.has_value());
  EXPECT_EQ(admission.refusal->status, 403);
}

TEST_F(Admission, UnknownRoutesAreRefusedBeforeTheBody) {
  auto unknown = api_->admit(head("POST", "/api/v1/nothing-here"));
  ASSERT_TRUE(unknown.refusal.has_value());
  EXPECT_EQ(unknown.refusal->status, 404);
  auto wrong_method = api_->admit(head("POST", "/api/v1/health"));
  ASSERT_TRUE(wrong_method.refusal.has_value());
  EXPECT_EQ(wrong_method.refusal->status, 405);
  EXPECT_EQ(wrong_method.refusal->header("allow").value_or(""), "GET");
}

TEST_F(Admission, ABodyMustBeDeclaredJson) {
  const auto admin = as(store::Role::kAdmin);
  for (const auto& type : {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                           "application/jsonp", "json", "application/json-seq"}) {
    auto admission = api_->admit(head("POST", "/api/v1/tokens", admin, type));
    ASSERT_TRUE(admission.refusal.has_value()) << type;
    EXPECT_EQ(admission.refusal->status, 415) << type;
    // handle() refuses the same once the body is there.
    const auto r = call("POST", "/api/v1/tokens", R"({"label":"ci"})", admin + Headers{{"content-type", type}});
    EXPECT_EQ(r.status, 415) << r;
    EXPECT_NE(r.error_message().find("Content-Type: application/json"), std::string::npos) << r;
    EXPECT_NE(r.error_message().find(type), std::string::npos) << r;
  }
  // Missing altogether.
  auto missing = api_->admit(head("POST", "/api/v1/login", {}, ""));
  ASSERT_TRUE(missing.refusal.has_value());
  EXPECT_EQ(missing.refusal->status, 415);
  EXPECT_NE(missing.refusal->body.find("missing"), std::string::npos) << missing.refusal->body;
  // Credentials are checked first: no hint to someone without them.
  EXPECT_EQ(api_->admit(head("POST", "/api/v1/tokens", {}, "text/plain")).refusal->status, 401);
  // The media type is case-insensitive and may have parameters.
  for (const auto& type : {"application/json", "Application/JSON", "application/json; charset=utf-8",
                           " application/json ;charset=UTF-8"}) {
    const auto r = call("POST", "/api/v1/tokens", R"({"label":"ci"})", admin + Headers{{"content-type", type}});
    EXPECT_EQ(r.status, 201) << type << ": " << r;
  }
  // Nothing was written by the refused ones.
  EXPECT_EQ(call("GET", "/api/v1/tokens", "", admin).array("/tokens").size(), 5U);
}

TEST_F(Admission, RequestsWithoutABodyNeedNoContentType) {
  create_user("ops", store::Role::kAdmin);
  const auto r = call("POST", "/api/v1/logout", "", login("ops").headers());
  EXPECT_EQ(r.status, 200) << r;
}

}  // namespace
}  // namespace hoist::api::testing
