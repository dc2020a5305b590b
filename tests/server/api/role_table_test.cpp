// Every route against every kind of caller. The table below is the access
// contract, written independently of the server's own role_allows(): a new
// route without an entry here, or an entry whose route is gone, fails.
#include <set>
#include <string>
#include <tuple>

#include "api_test_support.h"

namespace hoist::api::testing {
namespace {

struct Rule {
  const char* method;
  const char* pattern;
  Access access;
};

// clang-format off
constexpr Rule kAccessTable[] = {
    {"GET",    "/api/v1/health",                              Access::kPublic},
    {"POST",   "/api/v1/login",                               Access::kPublic},
    {"POST",   "/api/v1/logout",                              Access::kAnyUser},
    {"GET",    "/api/v1/whoami",                              Access::kAnyUser},
    {"GET",    "/api/v1/session",                             Access::kPublic},
    {"POST",   "/api/v1/session/reauth",                      Access::kAnyUser},
    {"GET",    "/api/v1/tokens",                              Access::kAnyUser},
    {"POST",   "/api/v1/tokens",                              Access::kAnyUser},
    {"DELETE", "/api/v1/tokens/{id}",                         Access::kAnyUser},
    {"GET",    "/api/v1/users",                               Access::kAdmin},
    {"POST",   "/api/v1/users",                               Access::kAdmin},
    {"PATCH",  "/api/v1/users/{name}",                        Access::kAdmin},
    {"POST",   "/api/v1/agent/enrol",                         Access::kPublic},
    {"POST",   "/api/v1/agent/heartbeat",                     Access::kAgent},
    {"GET",    "/api/v1/agent/codes-key",                     Access::kAgent},
    {"POST",   "/api/v1/agent/events",                        Access::kAgent},
    {"GET",    "/api/v1/endpoints",                           Access::kRead},
    {"GET",    "/api/v1/endpoints/{id}",                      Access::kRead},
    {"DELETE", "/api/v1/endpoints/{id}",                      Access::kAdmin},
    {"POST",   "/api/v1/endpoints/{id}/codes-key/rotate",     Access::kAdmin},
    {"GET",    "/api/v1/enrolment-tokens",                    Access::kAdmin},
    {"POST",   "/api/v1/enrolment-tokens",                    Access::kAdmin},
    {"DELETE", "/api/v1/enrolment-tokens/{id}",               Access::kAdmin},
    {"GET",    "/api/v1/policies",                            Access::kRead},
    {"GET",    "/api/v1/policies/{name}",                     Access::kRead},
    {"PUT",    "/api/v1/policies/{name}",                     Access::kAdmin},
    {"DELETE", "/api/v1/policies/{name}",                     Access::kAdmin},
    {"POST",   "/api/v1/policies/{name}/check",               Access::kRead},
    {"PUT",    "/api/v1/policies/{name}/labels",              Access::kAdmin},
    {"GET",    "/api/v1/policies/{name}/versions",            Access::kRead},
    {"GET",    "/api/v1/policies/{name}/versions/{version}",  Access::kRead},
    {"GET",    "/api/v1/policies/{name}/diff",                Access::kRead},
    {"GET",    "/api/v1/agent/policy",                        Access::kAgent},
    {"POST",   "/api/v1/agent/requests",                      Access::kAgent},
    {"GET",    "/api/v1/agent/requests/{id}",                 Access::kAgent},
    {"POST",   "/api/v1/agent/requests/{id}/cancel",          Access::kAgent},
    {"POST",   "/api/v1/agent/requests/{id}/self-approve",    Access::kAgent},
    {"GET",    "/api/v1/requests",                            Access::kRead},
    {"GET",    "/api/v1/requests/{id}",                       Access::kRead},
    {"POST",   "/api/v1/requests/{id}/approve",               Access::kReview},
    {"POST",   "/api/v1/requests/{id}/deny",                  Access::kReview},
    {"GET",    "/api/v1/grants",                              Access::kRead},
    {"POST",   "/api/v1/grants/{id}/revoke",                  Access::kReview},
    {"POST",   "/api/v1/codes",                               Access::kReview},
    {"GET",    "/api/v1/codes",                               Access::kRead},
    {"GET",    "/api/v1/agent/push",                          Access::kAgent},
    {"POST",   "/api/v1/agent/push/ack",                      Access::kAgent},
    {"GET",    "/api/v1/notify/channels",                     Access::kAdmin},
    {"POST",   "/api/v1/notify/channels",                     Access::kAdmin},
    {"GET",    "/api/v1/notify/channels/{id}",                Access::kAdmin},
    {"PATCH",  "/api/v1/notify/channels/{id}",                Access::kAdmin},
    {"DELETE", "/api/v1/notify/channels/{id}",                Access::kAdmin},
    {"POST",   "/api/v1/notify/channels/{id}/test",           Access::kAdmin},
    {"GET",    "/api/v1/notify/deliveries",                   Access::kAdmin},
    {"GET",    "/api/v1/notify/deliveries/{id}",              Access::kAdmin},
    {"POST",   "/api/v1/notify/deliveries/{id}/redrive",      Access::kAdmin},
    {"GET",    "/api/v1/audit",                               Access::kRead},
    {"GET",    "/api/v1/audit/export.csv",                    Access::kRead},
    {"GET",    "/api/v1/audit/head",                          Access::kRead},
    {"GET",    "/api/v1/audit/verify",                        Access::kRead},
    {"GET",    "/api/v1/stream",                              Access::kRead},
};
// clang-format on

// Who may call what, written out here rather than taken from role_allows():
// admin > approver > auditor.
bool may(store::Role role, Access access) {
  switch (access) {
    case Access::kAnyUser:
    case Access::kRead: return true;
    case Access::kReview: return role != store::Role::kAuditor;
    case Access::kAdmin: return role == store::Role::kAdmin;
    case Access::kPublic:
    case Access::kAgent: return false;
  }
  return false;
}

// The pattern with plausible (well-formed, but unknown) values in its
// {params}, so allowed callers reach a handler that finds nothing and
// changes nothing.
std::string concrete(std::string pattern) {
  const std::pair<std::string, std::string> values[] = {
      {"{id}", "0123456789abcdef01234567"},
      {"{name}", "no-such-thing"},
      {"{version}", "1"},
  };
  for (const auto& [param, value] : values) {
    for (auto at = pattern.find(param); at != std::string::npos; at = pattern.find(param)) {
      pattern.replace(at, param.size(), value);
    }
  }
  EXPECT_EQ(pattern.find('{'), std::string::npos) << "a parameter the test does not know: " << pattern;
  return pattern;
}

bool refused(int status) {
  return status == 401 || status == 403;
}

class RoleTable : public ApiTest {};

TEST_F(RoleTable, EveryRouteHasARuleAndEveryRuleARoute) {
  std::set<std::tuple<std::string, std::string>> expected;
  for (const auto& r : kAccessTable) {
    EXPECT_TRUE(expected.emplace(r.method, r.pattern).second) << "listed twice: " << r.method << " " << r.pattern;
  }
  std::set<std::tuple<std::string, std::string>> served;
  for (const auto& route : api_->routes()) {
    served.emplace(route.method, route.pattern);
    const Rule* rule = nullptr;
    for (const auto& r : kAccessTable) {
      if (route.method == r.method && route.pattern == r.pattern) {
        rule = &r;
      }
    }
    if (rule == nullptr) {
      ADD_FAILURE() << "route " << route.method << " " << route.pattern
                    << " has no entry in the test's access table: add one with the access it should have";
      continue;
    }
    EXPECT_EQ(route.access, rule->access) << route.method << " " << route.pattern << " is served as "
                                          << to_string(route.access) << ", the table says " << to_string(rule->access);
  }
  for (const auto& [method, pattern] : expected) {
    EXPECT_TRUE(served.count({method, pattern}))
        << "the table lists " << method << " " << pattern << " but the server has no such route";
  }
}

TEST_F(RoleTable, EachCallerGetsExactlyWhatItsRoleAllows) {
  const Agent agent = enrol({"web"});
  const std::pair<store::Role, std::string> users[] = {
      {store::Role::kAdmin, token_for(store::Role::kAdmin)},
      {store::Role::kApprover, token_for(store::Role::kApprover)},
      {store::Role::kAuditor, token_for(store::Role::kAuditor)},
  };
  for (const auto& r : kAccessTable) {
    const std::string target = concrete(r.pattern);
    SCOPED_TRACE(std::string(r.method) + " " + target + " (" + std::string(to_string(r.access)) + ")");

    const auto anonymous = call(r.method, target);
    if (r.access == Access::kPublic) {
      EXPECT_FALSE(refused(anonymous.status)) << anonymous;
      continue;
    }
    EXPECT_EQ(anonymous.status, 401) << anonymous;
    EXPECT_EQ(anonymous.error_code(), "unauthenticated") << anonymous;
    EXPECT_FALSE(anonymous.header("www-authenticate").empty()) << anonymous;

    const auto by_agent = call(r.method, target, "", agent.headers());
    if (r.access == Access::kAgent) {
      EXPECT_FALSE(refused(by_agent.status)) << "the agent was refused: " << by_agent;
    } else {
      EXPECT_EQ(by_agent.status, 403) << "an agent credential on a user route: " << by_agent;
    }

    for (const auto& [role, token] : users) {
      const auto reply = call(r.method, target, "", bearer(token));
      SCOPED_TRACE("as " + std::string(store::to_string(role)));
      if (r.access == Access::kAgent) {
        EXPECT_EQ(reply.status, 403) << "a user token on an agent route: " << reply;
      } else if (may(role, r.access)) {
        EXPECT_FALSE(refused(reply.status)) << "allowed caller refused: " << reply;
      } else {
        EXPECT_EQ(reply.status, 403) << "caller without the role let through: " << reply;
        EXPECT_EQ(reply.error_code(), "permission_denied") << reply;
      }
    }
  }
}

TEST_F(RoleTable, BadCredentialsAreUnauthenticatedNotForbidden) {
  const auto wrong_scheme = call("GET", "/api/v1/whoami", "", {{"authorization", "Basic YWxpY2U6cGFzcw=="}});
  EXPECT_EQ(wrong_scheme.status, 401) << wrong_scheme;
  const auto garbage = call("GET", "/api/v1/whoami", "", bearer("hoist_api_nonsense"));
  EXPECT_EQ(garbage.status, 401) << garbage;
  // A well-formed token nobody issued.
  const auto unknown = call("GET", "/api/v1/whoami", "",
                            bearer("hoist_api_0123456789abcdef01234567_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
  EXPECT_EQ(unknown.status, 401) << unknown;
  // An enrolment token is not an API token.
  auto enrolment = api_->create_enrollment_token({"web"}, 1, Seconds{3600}, "test");
  ASSERT_TRUE(enrolment.ok());
  const auto wrong_kind = call("GET", "/api/v1/whoami", "", bearer(*enrolment));
  EXPECT_EQ(wrong_kind.status, 401) << wrong_kind;
  const auto wrong_kind_agent = call("GET", "/api/v1/agent/policy", "", bearer(*enrolment));
  EXPECT_EQ(wrong_kind_agent.status, 401) << wrong_kind_agent;
  // A session cookie nobody issued.
  const auto cookie = call("GET", "/api/v1/whoami", "", {{"cookie", "hoist_session=forged"}});
  EXPECT_EQ(cookie.status, 401) << cookie;
}

TEST_F(RoleTable, UnknownPathsAndMethods) {
  const auto missing = call("GET", "/api/v1/nothing-here");
  EXPECT_EQ(missing.status, 404) << missing;
  const auto trailing = call("GET", "/api/v1/health/");
  EXPECT_EQ(trailing.status, 404) << trailing;
  const auto wrong_method = call("DELETE", "/api/v1/health");
  EXPECT_EQ(wrong_method.status, 405) << wrong_method;
  EXPECT_EQ(wrong_method.header("allow"), "GET") << wrong_method;
  const auto head = call("HEAD", "/api/v1/health");
  EXPECT_EQ(head.status, 200) << head;
}

}  // namespace
}  // namespace hoist::api::testing
