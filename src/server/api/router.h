// The route table: method + path pattern -> handler, each with the access
// rule it needs. The table is data, so a test can walk every route (the
// role test fails for a route it has no expectation for) and compare it
// with docs/api.md.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "net/http_message.h"
#include "store/store.h"

namespace hoist::api {

// Who may call a route. Roles nest: admin > approver > auditor.
enum class Access {
  kPublic,   // anyone (health, login, enrolment with its own token)
  kAgent,    // an enrolled endpoint's agent, by its credential
  kAnyUser,  // any console user or API token (whoami, own tokens)
  kRead,     // auditor, approver or admin: read requests, grants, audit, policies
  kReview,   // approver or admin: approve, deny, revoke
  kAdmin,    // admin only: users, policies, endpoints, enrolment tokens
};

std::string_view to_string(Access access);
// True when a console user with `role` passes `access` (kPublic and
// kAnyUser pass everyone; kAgent passes no user).
bool role_allows(store::Role role, Access access);

// Who is calling, once authenticated.
struct Caller {
  enum class Kind { kAnonymous, kUser, kAgent };
  Kind kind = Kind::kAnonymous;
  std::string user;  // console user
  store::Role role = store::Role::kAuditor;
  std::string token_id;                       // set when the user came with an API token
  std::string session_id_hash;                // set when the user came with a session cookie
  std::string csrf_token;                     // that session's CSRF token (never stored: derived from the cookie)
  std::optional<TimePoint> authenticated_at;  // that session's login (a step-up makes a new session)
  store::EndpointRecord endpoint;             // for agents

  // For the audit trail: "alice", "alice (token 3f2a...)", "agent:<id>".
  [[nodiscard]] std::string actor() const;
};

struct Call {
  const net::HttpRequest& request;
  Caller caller;
  std::map<std::string, std::string, std::less<>> params;  // from {name} segments

  [[nodiscard]] const std::string& param(std::string_view name) const;
};

using RouteHandler = std::function<Result<net::HttpResponse>(Call&)>;

struct Route {
  std::string method;
  std::string pattern;  // "/api/v1/requests/{id}/approve"
  Access access = Access::kAdmin;
  std::string summary;
  RouteHandler handler;
};

struct RouteMatch {
  const Route* route = nullptr;
  std::map<std::string, std::string, std::less<>> params;
};

// Finds the route for method and path. NotFound when no pattern matches
// the path, InvalidArgument ("405") when the path exists with other
// methods; `allowed` then lists them.
class Router {
 public:
  void add(Route route);
  [[nodiscard]] const std::vector<Route>& routes() const { return routes_; }
  Result<RouteMatch> match(std::string_view method, std::string_view path,
                           std::vector<std::string>* allowed = nullptr) const;

 private:
  std::vector<Route> routes_;
};

}  // namespace hoist::api
