#include "server/api/router.h"

#include <fmt/format.h>

namespace hoist::api {

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const auto end = path.find('/', i);
    const auto stop = end == std::string_view::npos ? path.size() : end;
    out.push_back(path.substr(i, stop - i));
    i = stop;
  }
  return out;
}

bool matches(std::string_view pattern, std::string_view path, std::map<std::string, std::string, std::less<>>& params) {
  const auto want = split_path(pattern);
  const auto got = split_path(path);
  // A trailing '/' or '//' is not the same resource.
  if (path.empty() || path.front() != '/' || (path.size() > 1 && path.back() == '/') ||
      path.find("//") != std::string_view::npos || want.size() != got.size()) {
    return false;
  }
  params.clear();
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto w = want[i];
    if (w.size() > 2 && w.front() == '{' && w.back() == '}') {
      if (got[i].empty()) {
        return false;
      }
      params.emplace(std::string(w.substr(1, w.size() - 2)), std::string(got[i]));
    } else if (w != got[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view to_string(Access access) {
  switch (access) {
    case Access::kPublic: return "public";
    case Access::kAgent: return "agent";
    case Access::kAnyUser: return "any user";
    case Access::kRead: return "auditor";
    case Access::kReview: return "approver";
    case Access::kAdmin: return "admin";
  }
  return "admin";
}

bool role_allows(store::Role role, Access access) {
  switch (access) {
    case Access::kPublic:
    case Access::kAnyUser: return true;
    case Access::kAgent: return false;
    case Access::kRead: return true;
    case Access::kReview: return role == store::Role::kAdmin || role == store::Role::kApprover;
    case Access::kAdmin: return role == store::Role::kAdmin;
  }
  return false;
}

std::string Caller::actor() const {
  switch (kind) {
    case Kind::kAnonymous: return "anonymous";
    case Kind::kAgent: return "agent:" + endpoint.id;
    case Kind::kUser: return token_id.empty() ? user : fmt::format("{} (token {})", user, token_id);
  }
  return "anonymous";
}

const std::string& Call::param(std::string_view name) const {
  static const std::string kEmpty;
  const auto it = params.find(name);
  return it == params.end() ? kEmpty : it->second;
}

void Router::add(Route route) {
  routes_.push_back(std::move(route));
}

Result<RouteMatch> Router::match(std::string_view method, std::string_view path,
                                 std::vector<std::string>* allowed) const {
  RouteMatch m;
  bool path_known = false;
  for (const auto& route : routes_) {
    if (!matches(route.pattern, path, m.params)) {
      continue;
    }
    path_known = true;
    if (route.method == method || (method == "HEAD" && route.method == "GET")) {
      m.route = &route;
      return m;
    }
    if (allowed != nullptr) {
      allowed->push_back(route.method);
    }
  }
  if (path_known) {
    return invalid_argument(fmt::format("method {} is not allowed here", method));
  }
  return not_found(fmt::format("there is no API at {}", path));
}

}  // namespace hoist::api
