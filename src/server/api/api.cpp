// Dispatch, authentication and the route table. See api.h for the rules.
#include "server/api/api.h"

#include <fmt/format.h>

#include <limits>

#include "net/http_error.h"
#include "server/api/api_impl.h"
#include "server/auth/secrets.h"

namespace hoist::api {

namespace {

constexpr std::string_view kSessionCookie = "hoist_session";

// The value of cookie `name` in a Cookie header, or nullopt.
std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    auto part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') {
      part.remove_prefix(1);
    }
    const auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name) {
      return part.substr(eq + 1);
    }
  }
  return std::nullopt;
}

bool is_safe_method(std::string_view method) {
  return method == "GET" || method == "HEAD";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// A body is parsed as JSON only when it says it is: Content-Type
// application/json (any case, parameters such as charset allowed). Anything
// else is 415, so a form or text/plain post (what a page on another site can
// send without a preflight) never reaches a JSON parser.
std::optional<net::HttpResponse> refuse_unless_json(const net::HttpRequest& request) {
  const auto type = request.header("content-type");
  const auto media = type ? trim(type->substr(0, type->find(';'))) : std::string_view();
  if (iequals(media, "application/json")) return std::nullopt;
  auto response = net::error_response(invalid_argument(
      type ? fmt::format("the body must be JSON sent as Content-Type: application/json, not \"{}\"",
                         type->substr(0, 100))
           : std::string("the body must be JSON sent as Content-Type: application/json (the header is missing)")));
  response.status = 415;
  return response;
}

}  // namespace

std::optional<std::string_view> session_cookie(const net::HttpRequest& request) {
  const auto cookies = request.header("cookie");
  return cookies ? cookie_value(*cookies, kSessionCookie) : std::nullopt;
}

namespace {

std::string new_request_id(std::chrono::system_clock::time_point now) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  // Time first, so id order (pagination) is creation order.
  return fmt::format("req-{:012x}-{}", ms, auth::random_id(4));
}

}  // namespace

Api::Impl::Impl(ApiDeps d, ApiOptions o)
    : deps(std::move(d)),
      options(std::move(o)),
      // Several replicas on one database count failed logins there, so
      // guesses spread over them are limited as on one (login_limiter.h).
      limiter(auth::LoginLimiter::Options{}, deps.store.replicas().shared() ? &deps.store : nullptr),
      request_service(service_deps(), options.submissions),
      code_service(service_deps(), options.codes_master_key),
      upload_throttle(options.uploads),
      push_batcher(make_push_batcher(deps.store)) {
  password_cost = auth::kInteractiveCost;
  if (options.password_opslimit != 0) {
    password_cost.opslimit = options.password_opslimit;
  }
  if (options.password_memlimit != 0) {
    password_cost.memlimit = options.password_memlimit;
  }
  auto dummy = auth::hash_password(auth::random_secret(), password_cost);
  dummy_password_hash = dummy ? *dummy : std::string();
}

app::ServiceDeps Api::Impl::service_deps() {
  return app::ServiceDeps{
      .store = deps.store,
      .zones = deps.zones,
      .append_audit =
          [this](store::StoreTx& tx, const std::string& actor, std::string_view action, const std::string& target,
                 const std::string& host,
                 const json::object& details) { return append_audit(tx, actor, action, target, host, details); },
      .wake_push =
          [this](const std::string& endpoint_id) {
            if (deps.wake_push) {
              deps.wake_push(endpoint_id);
            }
          },
      .new_request_id = new_request_id,
  };
}

Status Api::Impl::append_audit(store::StoreTx& tx, const std::string& actor, std::string_view action,
                               const std::string& target, const std::string& host, const json::object& details) {
  auto appended = append_audit_event(tx, actor, action, target, host, details);
  return appended ? Status{} : Status{appended.error()};
}

void Api::Impl::audit_access_denied(const Caller& caller, const net::HttpRequest& request, const Route& route) {
  const auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    return audit(tx, caller.actor(),
                 audited::AccessDenied{.method = request.method,
                                       .route = route.pattern,
                                       .role = caller.role,
                                       .needs = std::string(to_string(route.access))},
                 route.pattern, "");
  });
  if (!st) {
    deps.log.warn("audit.access_denied_not_recorded", {{"route", route.pattern}, {"error", st.error().message}});
  }
}

Result<AuditEvent> Api::Impl::append_audit_event(store::StoreTx& tx, const std::string& actor, std::string_view action,
                                                 const std::string& target, const std::string& host,
                                                 const json::object& details) {
  if (audit_refusal) {
    return *audit_refusal;
  }
  store::AuditDraft draft;
  draft.time = deps.clock.now_ms();
  draft.actor = actor;
  draft.action = std::string(action);
  draft.target = target;
  draft.host = host;
  draft.details = dump(details);
  return tx.append_audit(draft);
}

Result<Caller> Api::Impl::authenticate_token(std::string_view text) {
  auto token = auth::parse_secret_token(text, auth::kApiTokenKind);
  if (!token) {
    return token.error();
  }
  const auto now = deps.clock.now_s();
  auto record = deps.store.token(token->id);
  if (!record) {
    return record.error();
  }
  const auto refused = unauthenticated("the API token is unknown, revoked or expired; create a new one");
  if (!*record || !auth::secret_matches((*record)->secret_hash, token->secret)) {
    return refused;
  }
  const auto& rec = **record;
  if (rec.revoked_at || (rec.expires_at && *rec.expires_at <= now)) {
    return refused;
  }
  auto user = deps.store.user(rec.user);
  if (!user) {
    return user.error();
  }
  if (!*user || (*user)->disabled) {
    return unauthenticated("the API token's user is disabled");
  }
  Caller caller;
  caller.kind = Caller::Kind::kUser;
  caller.user = rec.user;
  caller.role = (*user)->role;
  caller.token_id = rec.id;
  // Token use is audited once an hour per token (each action it takes is
  // audited anyway, naming the token). While nothing can be recorded, a
  // token still reads (every write fails anyway).
  if (!audit_refusal && (!rec.last_used_at || now - *rec.last_used_at >= Seconds{3600})) {
    auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
      if (auto t = tx.touch_token(rec.id, now); !t) {
        return t;
      }
      return audit(tx, caller.actor(), audited::TokenUsed{.label = rec.label}, rec.id, "");
    });
    if (!st) {
      return st.error();
    }
  }
  return caller;
}

Result<Caller> Api::Impl::authenticate_agent(std::string_view text) {
  auto token = auth::parse_secret_token(text, auth::kAgentCredentialKind);
  if (!token) {
    return token.error();
  }
  // Read before the store: a retirement committed after this point moves
  // the generation, and the memo entry made below is then never used.
  const auto generation = current_endpoint_generation();
  auto endpoint = deps.store.endpoint(token->id);
  if (!endpoint) {
    return endpoint.error();
  }
  if (!*endpoint || (*endpoint)->retired_at || (*endpoint)->credential_hash.empty() ||
      !auth::secret_matches((*endpoint)->credential_hash, token->secret)) {
    return unauthenticated("the endpoint credential is unknown or the endpoint was retired; enrol it again");
  }
  {
    const std::lock_guard lock(memo_mu);
    if (endpoint_memo.size() >= kMemoMaxEntries) {
      endpoint_memo.clear();
    }
    endpoint_memo.insert_or_assign((*endpoint)->id, EndpointMemo{(*endpoint)->credential_hash, (*endpoint)->labels,
                                                                 generation, deps.clock.now_ms()});
  }
  Caller caller;
  caller.kind = Caller::Kind::kAgent;
  caller.endpoint = std::move(**endpoint);
  return caller;
}

bool Api::Impl::memo_fresh(std::uint64_t entry_generation, std::uint64_t current, AuditTime cached_at) const {
  const auto now = deps.clock.now_ms();
  // While other replicas' changes are not arriving, a memo they could have
  // made stale is not used at all.
  return entry_generation == current && cached_at <= now && now - cached_at < kMemoMaxAge &&
         deps.store.replicas().listening();
}

std::uint64_t Api::Impl::current_endpoint_generation() {
  const std::lock_guard lock(memo_mu);
  return endpoint_generation;
}

std::uint64_t Api::Impl::current_policy_generation() {
  const std::lock_guard lock(memo_mu);
  return policy_generation;
}

Error Api::Impl::public_error(const Error& e) {
  // The database's own words name its host, port and user: they go to the
  // log, and every caller (agents included) reads only that it is away.
  if (e.code != ErrorCode::kUnavailable || !e.message.starts_with("database: ")) return e;
  deps.log.warn("api.database_unavailable", {{"error", e.message}});
  return unavailable("the database is unavailable; try again (hoistd's log says why)");
}

void Api::Impl::forget_endpoint(const std::string& id, bool tell_others) {
  {
    const std::lock_guard lock(memo_mu);
    ++endpoint_generation;
    if (id.empty()) {
      endpoint_memo.clear();
    } else {
      endpoint_memo.erase(id);
    }
  }
  if (tell_others) deps.store.replicas().publish("endpoint", id);
}

void Api::Impl::forget_policies(bool tell_others) {
  {
    const std::lock_guard lock(memo_mu);
    ++policy_generation;
    etag_memo.clear();
  }
  if (tell_others) deps.store.replicas().publish("policy", "");
}

void Api::forget_changed_elsewhere(std::string_view channel, std::string_view payload) {
  if (channel == "policy") {
    impl_->forget_policies(false);
  } else if (channel == "endpoint") {
    impl_->forget_endpoint(std::string(payload), false);
  } else if (channel.empty()) {
    impl_->forget_policies(false);
    impl_->forget_endpoint("", false);
  }
}

std::string label_set_key(const std::vector<std::string>& labels) {
  std::string key;
  for (const auto& l : labels) {
    key += l;
    key += '\n';  // labels never hold a newline (check_labels)
  }
  return key;
}

std::optional<net::HttpResponse> Api::Impl::answer_from_memory(const net::HttpRequest& request) {
  if (request.method != "GET" || request.path != "/api/v1/agent/policy" || !request.query.empty()) {
    return std::nullopt;
  }
  const auto inm = request.header("if-none-match");
  const auto authz = request.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (!inm || !authz || !authz->starts_with(kBearer)) {
    return std::nullopt;
  }
  auto token = auth::parse_secret_token(authz->substr(kBearer.size()), auth::kAgentCredentialKind);
  if (!token) {
    return std::nullopt;
  }
  std::string etag;
  {
    const std::lock_guard lock(memo_mu);
    const auto endpoint = endpoint_memo.find(token->id);
    if (endpoint == endpoint_memo.end() ||
        !memo_fresh(endpoint->second.generation, endpoint_generation, endpoint->second.cached_at) ||
        !auth::secret_matches(endpoint->second.credential_hash, token->secret)) {
      return std::nullopt;  // the full path answers, and says why if it refuses
    }
    const auto known = etag_memo.find(label_set_key(endpoint->second.labels));
    if (known == etag_memo.end() || !memo_fresh(known->second.generation, policy_generation, known->second.cached_at)) {
      return std::nullopt;
    }
    etag = known->second.etag;
  }
  if (!net::if_none_match_matches(*inm, etag)) {
    return std::nullopt;
  }
  net::HttpResponse not_modified;
  not_modified.route = "/api/v1/agent/policy";
  not_modified.status = 304;
  not_modified.set_header("etag", std::move(etag));
  not_modified.set_header("cache-control", "no-store");
  return not_modified;
}

Result<Caller> Api::Impl::authenticate_session(const net::HttpRequest& request, std::string_view session_secret) {
  const auto refused = unauthenticated("the session has ended; log in again");
  auto session = deps.store.session(auth::hash_secret(session_secret));
  if (!session) {
    return session.error();
  }
  const auto now = deps.clock.now_s();
  if (!*session || (*session)->revoked_at || (*session)->expires_at <= now) {
    return refused;
  }
  if (!is_safe_method(request.method)) {
    const auto csrf = request.header("x-csrf-token");
    if (!csrf || !auth::secret_matches((*session)->csrf_hash, *csrf)) {
      return permission_denied("this request needs the session's CSRF token in the X-CSRF-Token header");
    }
  }
  auto user = deps.store.user((*session)->user);
  if (!user) {
    return user.error();
  }
  if (!*user || (*user)->disabled) {
    return refused;
  }
  Caller caller;
  caller.kind = Caller::Kind::kUser;
  caller.user = (*user)->name;
  caller.role = (*user)->role;
  caller.session_id_hash = (*session)->id_hash;
  caller.authenticated_at = (*session)->created_at;
  // The session's CSRF token, for whoami (a reloaded console page needs it
  // again); only when it is the one this session was given at login.
  if (auto csrf = auth::derive_csrf_token(session_secret); auth::secret_matches((*session)->csrf_hash, csrf)) {
    caller.csrf_token = std::move(csrf);
  }
  return caller;
}

Result<Caller> Api::Impl::authenticate(const net::HttpRequest& request, Access access) {
  if (access == Access::kPublic) {
    return Caller{};
  }
  Result<Caller> caller = unauthenticated(
      access == Access::kAgent ? "this API is for enrolled agents: send Authorization: Bearer hoist_agent_..."
                               : "log in first: send a session cookie or Authorization: Bearer hoist_api_...");
  if (const auto authz = request.header("authorization")) {
    constexpr std::string_view kBearer = "Bearer ";
    if (authz->substr(0, kBearer.size()) != kBearer) {
      return unauthenticated("the Authorization header must be \"Bearer <token>\"");
    }
    const auto text = authz->substr(kBearer.size());
    caller = text.starts_with("hoist_agent_") ? authenticate_agent(text) : authenticate_token(text);
  } else if (const auto cookies = request.header("cookie")) {
    if (const auto secret = cookie_value(*cookies, kSessionCookie)) {
      caller = authenticate_session(request, *secret);
    }
  }
  if (!caller) {
    return caller;
  }
  if (access == Access::kAgent) {
    if (caller->kind != Caller::Kind::kAgent) {
      return permission_denied("this API is for enrolled agents, not for console users");
    }
    return caller;
  }
  if (caller->kind != Caller::Kind::kUser) {
    return permission_denied("this API is for console users, not for agents");
  }
  if (!role_allows(caller->role, access)) {
    return permission_denied(fmt::format("your role ({}) may not do this; it needs the {} role",
                                         store::to_string(caller->role), to_string(access)));
  }
  return caller;
}

Api::Api(ApiDeps deps, ApiOptions options) : impl_(std::make_unique<Impl>(std::move(deps), std::move(options))) {
  Impl& i = *impl_;
  const auto add = [this](std::string method, std::string pattern, Access access, std::string summary,
                          Result<net::HttpResponse> (Impl::*fn)(Call&)) {
    Impl* impl = impl_.get();
    router_.add(Route{std::move(method), std::move(pattern), access, std::move(summary),
                      [impl, fn](Call& call) { return (impl->*fn)(call); }});
  };
  (void)i;
  router_.add(Route{"GET", "/api/v1/health", Access::kPublic,
                    "Readiness: the server answers and reaches its database (a load balancer's check)",
                    [impl = impl_.get()](Call&) -> Result<net::HttpResponse> {
                      if (impl->audit_refusal) return *impl->audit_refusal;  // it answers, but records nothing
                      // A replica cut off from the database is taken out by
                      // the load balancer's check, not kept in its pool.
                      if (auto v = impl->deps.store.schema_version(); !v) return v.error();
                      return json_ok(json::object{{"status", "ok"}});
                    }});
  // Sessions, users and tokens.
  add("POST", "/api/v1/login", Access::kPublic, "Log in with name and password; sets the session cookie", &Impl::login);
  add("POST", "/api/v1/logout", Access::kAnyUser, "End the current session", &Impl::logout);
  add("GET", "/api/v1/whoami", Access::kAnyUser, "The caller's name and role", &Impl::whoami);
  add("GET", "/api/v1/session", Access::kPublic,
      "Whether the browser is logged in: the session's user, role and CSRF token, or authenticated false",
      &Impl::session_info);
  add("POST", "/api/v1/session/reauth", Access::kAnyUser,
      "Confirm the password again (step-up): a new console session with a fresh login time", &Impl::reauth);
  add("GET", "/api/v1/tokens", Access::kAnyUser, "The caller's API tokens", &Impl::list_tokens);
  add("POST", "/api/v1/tokens", Access::kAnyUser, "Create an API token for the caller (shown once)",
      &Impl::create_token);
  add("DELETE", "/api/v1/tokens/{id}", Access::kAnyUser, "Revoke an API token (own; admins: any)", &Impl::revoke_token);
  add("GET", "/api/v1/users", Access::kAdmin, "Console users", &Impl::list_users);
  add("POST", "/api/v1/users", Access::kAdmin, "Create a console user", &Impl::create_user_route);
  add("PATCH", "/api/v1/users/{name}", Access::kAdmin, "Change a user's role, password or disabled flag",
      &Impl::update_user);
  // Endpoints.
  add("POST", "/api/v1/agent/enrol", Access::kPublic, "Enrol an endpoint with an enrolment token", &Impl::enrol);
  add("POST", "/api/v1/agent/heartbeat", Access::kAgent, "Agent heartbeat with its version", &Impl::heartbeat);
  add("GET", "/api/v1/agent/codes-key", Access::kAgent, "The endpoint's admin-code host key at its current generation",
      &Impl::agent_codes_key);
  add("GET", "/api/v1/endpoints", Access::kRead, "Enrolled endpoints", &Impl::list_endpoints);
  add("GET", "/api/v1/endpoints/{id}", Access::kRead, "One endpoint", &Impl::get_endpoint);
  add("DELETE", "/api/v1/endpoints/{id}", Access::kAdmin, "Retire an endpoint (its credential dies)",
      &Impl::retire_endpoint);
  add("POST", "/api/v1/endpoints/{id}/codes-key/rotate", Access::kAdmin,
      "Rotate an endpoint's admin-code key (every code for the old key stops fitting)", &Impl::rotate_codes_key);
  add("GET", "/api/v1/enrolment-tokens", Access::kAdmin,
      "Enrolment tokens with their state (active, used_up, expired, revoked), never the secret",
      &Impl::list_enrollment_tokens);
  add("POST", "/api/v1/enrolment-tokens", Access::kAdmin, "Create an enrolment token (shown once)",
      &Impl::create_enrollment_token_route);
  add("DELETE", "/api/v1/enrolment-tokens/{id}", Access::kAdmin, "Revoke an enrolment token",
      &Impl::revoke_enrollment_token);
  // Policies.
  add("GET", "/api/v1/policies", Access::kRead, "Policies and their endpoint groups", &Impl::list_policies);
  add("GET", "/api/v1/policies/{name}", Access::kRead, "A policy's current version", &Impl::get_policy);
  add("PUT", "/api/v1/policies/{name}", Access::kAdmin, "Add a policy version (create or edit)", &Impl::put_policy);
  add("DELETE", "/api/v1/policies/{name}", Access::kAdmin, "Delete a policy (history kept)", &Impl::delete_policy);
  add("POST", "/api/v1/policies/{name}/check", Access::kRead,
      "Check a policy text without saving it: errors by line and the diff a save would make", &Impl::check_policy);
  add("PUT", "/api/v1/policies/{name}/labels", Access::kAdmin, "Assign a policy to endpoint groups",
      &Impl::assign_policy);
  add("GET", "/api/v1/policies/{name}/versions", Access::kRead, "A policy's versions", &Impl::policy_versions);
  add("GET", "/api/v1/policies/{name}/versions/{version}", Access::kRead, "One version with its text",
      &Impl::policy_version);
  add("GET", "/api/v1/policies/{name}/diff", Access::kRead, "Unified diff between two versions", &Impl::policy_diff);
  add("GET", "/api/v1/agent/policy", Access::kAgent, "The endpoint's effective policy (ETag)", &Impl::agent_policy);
  // Requests and grants.
  add("POST", "/api/v1/agent/requests", Access::kAgent, "Submit an elevation request", &Impl::submit_request);
  add("GET", "/api/v1/agent/requests/{id}", Access::kAgent, "One of this endpoint's requests",
      &Impl::agent_get_request);
  add("POST", "/api/v1/agent/requests/{id}/cancel", Access::kAgent, "The requester withdraws a request",
      &Impl::agent_cancel_request);
  add("POST", "/api/v1/agent/requests/{id}/self-approve", Access::kAgent,
      "The requester approves their own request where policy allows", &Impl::agent_self_approve);
  add("GET", "/api/v1/requests", Access::kRead, "Requests (filters: state, user, host, after, limit)",
      &Impl::list_requests);
  add("GET", "/api/v1/requests/{id}", Access::kRead, "One request", &Impl::get_request);
  add("POST", "/api/v1/requests/{id}/approve", Access::kReview, "Approve a pending request", &Impl::approve_request);
  add("POST", "/api/v1/requests/{id}/deny", Access::kReview, "Deny a pending request", &Impl::deny_request);
  add("GET", "/api/v1/grants", Access::kRead, "Grants in force", &Impl::list_grants);
  add("POST", "/api/v1/grants/{id}/revoke", Access::kReview, "Revoke a grant", &Impl::revoke_grant);
  add("POST", "/api/v1/codes", Access::kReview, "Issue an offline admin code (shown once, never stored)",
      &Impl::issue_code);
  add("GET", "/api/v1/codes", Access::kRead, "Issued admin codes, newest first (filters: endpoint, user, limit)",
      &Impl::list_codes);
  // Push channel.
  add("GET", "/api/v1/agent/push", Access::kAgent, "Long poll for decisions, revocations and policy changes",
      &Impl::push_poll);
  add("POST", "/api/v1/agent/push/ack", Access::kAgent, "Acknowledge push messages up to a sequence number",
      &Impl::push_ack);
  add("POST", "/api/v1/agent/events", Access::kAgent, "Upload the endpoint's events (audited once per event id)",
      &Impl::agent_events);
  // Audit trail.
  // Notification channels and their deliveries.
  add("GET", "/api/v1/notify/channels", Access::kAdmin, "Notification channels (never their secrets)",
      &Impl::list_channels);
  add("POST", "/api/v1/notify/channels", Access::kAdmin,
      "Create a notification channel (webhook, Slack, Teams, email; `filters` by labels and rules)",
      &Impl::create_channel);
  add("GET", "/api/v1/notify/channels/{id}", Access::kAdmin, "One notification channel", &Impl::get_channel);
  add("PATCH", "/api/v1/notify/channels/{id}", Access::kAdmin,
      "Change a channel: name, events, filters, enabled, config, or rotate its secret", &Impl::update_channel);
  add("DELETE", "/api/v1/notify/channels/{id}", Access::kAdmin, "Delete a channel and its deliveries",
      &Impl::delete_channel);
  add("POST", "/api/v1/notify/channels/{id}/test", Access::kAdmin, "Queue a test message for a channel (audited)",
      &Impl::test_channel);
  add("GET", "/api/v1/notify/deliveries", Access::kAdmin,
      "Deliveries with their state and last error (filters: channel, state, after, limit)", &Impl::list_deliveries);
  add("GET", "/api/v1/notify/deliveries/{id}", Access::kAdmin, "One delivery", &Impl::get_delivery);
  add("POST", "/api/v1/notify/deliveries/{id}/redrive", Access::kAdmin, "Send a dead letter again (audited)",
      &Impl::redrive_delivery);
  add("GET", "/api/v1/audit", Access::kRead, "Audit events (filters, pagination)", &Impl::audit_query);
  add("GET", "/api/v1/audit/export.csv", Access::kRead, "Audit events as CSV (the JIT events report)",
      &Impl::audit_export);
  add("GET", "/api/v1/audit/head", Access::kRead, "The newest event's sequence number and hash", &Impl::audit_head);
  add("GET", "/api/v1/audit/verify", Access::kRead, "Verify the stored hash chain", &Impl::audit_verify);
  add("GET", "/api/v1/stream", Access::kRead,
      "Server-Sent Events: each new audit event as it is written (the console's live view)", &Impl::stream);
}

Api::~Api() = default;

Api::Checked Api::check(const net::HttpRequest& request, bool has_body) {
  Checked out;
  std::vector<std::string> allowed;
  auto match = router_.match(request.method, request.path, &allowed);
  if (!match) {
    auto response = net::error_response(match.error());
    if (!allowed.empty()) {
      response.status = 405;
      std::string allow;
      for (const auto& m : allowed) {
        allow += allow.empty() ? m : ", " + m;
      }
      response.set_header("allow", allow);
    }
    response.route = server::kRouteUnmatched;
    out.refusal = std::move(response);
    return out;
  }
  out.route = match->route;
  out.params = std::move(match->params);
  auto caller = impl_->authenticate(request, out.route->access);
  if (!caller && caller.error().code == ErrorCode::kPermissionDenied) {
    // An authenticated user refused by role: the attempt is audited.
    if (auto who = impl_->authenticate(request, Access::kAnyUser); who && who->kind == Caller::Kind::kUser) {
      impl_->audit_access_denied(*who, request, *out.route);
    }
  }
  if (!caller) {
    auto response = net::error_response(impl_->public_error(caller.error()));
    if (caller.error().code == ErrorCode::kUnauthenticated) {
      response.set_header("www-authenticate", "Bearer realm=\"hoist\"");
    }
    response.route = out.route->pattern;
    out.refusal = std::move(response);
    return out;
  }
  out.caller = std::move(*caller);
  if (has_body) {
    out.refusal = refuse_unless_json(request);
    if (out.refusal) out.refusal->route = out.route->pattern;
  }
  return out;
}

net::HttpResponse Api::handle(const net::HttpRequest& request) {
  try {
    if (request.path == server::kRouteMetrics) {
      auto response = impl_->metrics_route(request);
      response.route = server::kRouteMetrics;
      return response;
    }
    if (!request.path.starts_with("/api/")) {
      auto response = impl_->console(request);
      response.route = server::kRouteConsole;
      return response;
    }
    auto checked = check(request, !request.body.empty());
    if (checked.refusal) {
      return std::move(*checked.refusal);
    }
    Call call{request, std::move(checked.caller), std::move(checked.params)};
    auto result = checked.route->handler(call);
    if (!result) {
      auto response = net::error_response(impl_->public_error(result.error()));
      response.route = checked.route->pattern;
      return response;
    }
    auto response = std::move(*result);
    response.route = checked.route->pattern;
    // A write may have added audit events: the console's streams look.
    if (!is_safe_method(request.method) && response.status < 400 && impl_->deps.wake_console) {
      impl_->deps.wake_console();
    }
    if (!response.header("cache-control")) {
      response.set_header("cache-control", "no-store");
    }
    return response;
  } catch (const std::exception& e) {
    impl_->deps.log.error("api.exception", {{"path", request.path}, {"what", e.what()}});
  } catch (...) {
    impl_->deps.log.error("api.exception", {{"path", request.path}, {"what", "unknown"}});
  }
  return net::error_response(internal_error("the server failed to handle the request (this is a bug)"));
}

net::Admission Api::admit(const net::HttpRequest& head) {
  net::Admission out;
  try {
    if (head.path == server::kRouteMetrics) {
      out.refusal = net::error_response(invalid_argument("GET /metrics takes no body"));
      out.refusal->route = server::kRouteMetrics;
      return out;
    }
    if (!head.path.starts_with("/api/")) {
      out.max_body_bytes = kPublicBodyLimit;  // handle() answers (the console's files take no body)
      return out;
    }
    auto checked = check(head, true);
    if (checked.refusal) {
      out.refusal = std::move(checked.refusal);
      return out;
    }
    out.max_body_bytes =
        checked.route->access == Access::kPublic ? kPublicBodyLimit : std::numeric_limits<std::size_t>::max();
    return out;
  } catch (const std::exception& e) {
    impl_->deps.log.error("api.exception", {{"path", head.path}, {"what", e.what()}});
  } catch (...) {
    impl_->deps.log.error("api.exception", {{"path", head.path}, {"what", "unknown"}});
  }
  out.refusal = net::error_response(internal_error("the server failed to check the request (this is a bug)"));
  return out;
}

std::optional<net::HttpResponse> Api::answer_from_memory(const net::HttpRequest& request) {
  try {
    return impl_->answer_from_memory(request);
  } catch (...) {
    return std::nullopt;  // handle() answers it, and logs what went wrong
  }
}

Result<ChainVerification> Api::verify_audit_trail() {
  auto verdict = store::verify_stored_chain(impl_->deps.store, std::nullopt);
  if (!verdict) {
    return verdict.error();
  }
  if (!verdict->ok) {
    impl_->audit_refusal = unavailable(fmt::format(
        "the audit trail does not verify at event {} ({}): the database was changed outside hoistd or is damaged. "
        "hoistd records nothing until it is repaired, so it changes nothing; see docs/hoistd.md, \"When the audit "
        "trail does not verify\"",
        verdict->first_bad_seq.value_or(0), verdict->problem));
  }
  return verdict;
}

Result<std::size_t> Api::expire_due() {
  auto n = impl_->expire_due();
  if (n && *n > 0 && impl_->deps.wake_console) impl_->deps.wake_console();
  return n;
}

Result<std::size_t> Api::report_throttled(bool all) {
  const auto now = impl_->deps.clock.now_ms();
  auto n = impl_->request_service.report_throttled(now, all);
  std::size_t uploads = 0;
  std::optional<Error> failed;
  for (auto& report : impl_->upload_throttle.due_reports(now, all)) {
    if (auto st = impl_->audit_uploads_throttled(std::move(report)); !st) {
      if (!failed) failed = st.error();
      continue;
    }
    ++uploads;
  }
  if ((uploads > 0 || (n && *n > 0)) && impl_->deps.wake_console) impl_->deps.wake_console();
  if (!n) return n;
  if (failed) return *failed;
  return *n + uploads;
}

Status Api::create_user(const std::string& name, store::Role role, const std::string& password,
                        const std::string& actor) {
  return impl_->create_user(name, role, password, actor);
}

Status Api::create_first_user(const std::string& name, store::Role role, const std::string& password,
                              const std::string& actor) {
  return impl_->create_user(name, role, password, actor, true);
}

Result<std::string> Api::create_enrollment_token(const std::vector<std::string>& labels, int uses, Seconds lifetime,
                                                 const std::string& actor) {
  return impl_->create_enrollment_token(labels, uses, lifetime, actor);
}

// --- JSON output ------------------------------------------------------------

net::HttpResponse json_ok(const json::value& v, int status) {
  return net::json_response(status, dump(v));
}

}  // namespace hoist::api
