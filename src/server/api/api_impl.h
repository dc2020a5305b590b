// Internal to the API library: the state behind Api and its handlers, split
// by area over handlers_*.cpp. Not included outside src/server/api.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/evaluator.h"
#include "server/api/api.h"
#include "server/api/json_body.h"
#include "server/app/audit_events.h"
#include "server/app/code_service.h"
#include "server/app/json_values.h"
#include "server/app/request_service.h"
#include "server/auth/login_limiter.h"
#include "server/auth/password.h"
#include "server/notify/kinds.h"

namespace hoist::api {

namespace json = boost::json;
// The audit events' builders and the services below the API (src/server/app).
namespace audited = app::audited;
using app::dump;
using app::json_opt_time;
using app::json_text;
using app::json_time;
using app::string_array;
Status check_labels(const std::vector<std::string>& labels);
// The memo key of a label set: the labels, each followed by a newline.
std::string label_set_key(const std::vector<std::string>& labels);
net::HttpResponse json_ok(const json::value& v, int status = 200);
// The "limit" query parameter: 1 to store::kMaxPage, 100 when absent.
Result<std::size_t> page_limit(const net::HttpRequest& request);

json::object request_json(const store::RequestRecord& rec, TimePoint now);
json::object user_json(const store::UserRecord& user);
json::object token_json(const store::TokenRecord& token, TimePoint now);
json::object endpoint_json(const store::EndpointRecord& endpoint);
json::object audit_event_json(const AuditEvent& event, bool details_as_text = false);
// The hoist_session cookie's value, when the request has one.
std::optional<std::string_view> session_cookie(const net::HttpRequest& request);
json::object policy_json(const store::PolicyRecord& policy);
json::object policy_version_json(const store::PolicyVersion& version, bool with_text);
json::object push_json(const store::PushMessage& message);
// The batcher of the agents' push polls over `store` (handlers_push.cpp).
std::shared_ptr<net::LongPollBatcher> make_push_batcher(store::Store& store);

// The "reason" of the 403 that asks a console session for its password
// again (Api::Impl::step_up_refusal); the console prompts on it.
inline constexpr std::string_view kStepUpRequired = "step_up_required";

// Parses the body strictly, runs `read` on it, and fails with the first
// problem (unknown fields included).
template <class T, class F>
Result<T> read_body(const net::HttpRequest& request, F&& read) {
  JsonBody body(request.body);
  T value = read(body);
  if (auto st = body.finish(); !st) {
    return st.error();
  }
  return value;
}

// An agent's elevation request as sent (POST /api/v1/agent/requests),
// parsed strictly; the request service checks what it means.
using app::SubmitBody;
Result<SubmitBody> parse_submit_body(std::string_view text);

// The details of an agent's "code.used" event: which issued code the
// endpoint accepted (docs/api.md).
struct CodeUsedDetails {
  store::IssuedCodeKind kind = store::IssuedCodeKind::kResponse;
  std::int64_t ref = 0;  // the challenge's nonce or the pre-issued id
  std::uint32_t generation = 1;
  std::string user;
  TimePoint used_at{};
};
// Reads a "code.used" event's details strictly: every field with its type
// and bounds, no other field. InvalidArgument naming the field otherwise.
Result<CodeUsedDetails> parse_code_used_details(std::string_view details_json);

// One event an agent uploads (POST /api/v1/agent/events): its outbox id,
// what happened, when (the endpoint's clock), what it concerns, details.
struct AgentEventBody {
  std::string id;  // 32 lowercase hex digits
  std::string kind;
  std::int64_t time_ms = 0;
  std::string target;
  std::string details;                          // a JSON object's text
  std::optional<CodeUsedDetails> code_use;      // for kind "code.used"
  std::optional<std::string> code_use_problem;  // a "code.used" whose details do not read
};
inline constexpr std::size_t kMaxAgentEvents = 1000;
inline constexpr std::size_t kMaxAgentEventDetails = 16 * 1024;
Result<std::vector<AgentEventBody>> parse_agent_events_body(std::string_view text);

// A notification channel as sent (POST and PATCH
// /api/v1/notify/channels), parsed strictly: the kind (known), the name,
// every event pattern. The config and the secret depend on the kind and
// are checked with it (notify/kinds.h) by the handler; the secret is never
// echoed. On create, kind, name, events and config are required.
struct ChannelBody {
  std::optional<std::string> kind;
  std::optional<std::string> name;
  std::vector<std::string> events;  // empty: not given
  std::optional<bool> enabled;
  std::optional<std::string> config;  // a JSON object: the fields to set (null clears one)
  // "filters": {"labels": [...], "rules": [...]}; given, it replaces both
  // (a list left out is empty: any).
  struct Filters {
    std::vector<std::string> labels;
    std::vector<std::string> rules;
  };
  std::optional<Filters> filters;
  std::optional<std::string> secret;
  std::optional<std::int64_t> previous_secret_valid_for_s;
  std::optional<std::int64_t> version;
};
Result<ChannelBody> parse_channel_body(std::string_view text, bool create);

// A compiled effective policy with what identifies it.
struct EffectivePolicy {
  std::shared_ptr<const CompiledPolicy> compiled;
  std::vector<std::pair<std::string, int>> parts;  // (policy name, version), by name
  std::string etag;                                // quoted, for ETag / If-None-Match
};

// The console streams (GET /api/v1/stream) each user holds open, waiting:
// a user may hold kMaxStreamsPerUser at a time (one per console tab), so
// one account cannot make every write wake hundreds of polls.
struct StreamCounts {
  static constexpr int kMaxStreamsPerUser = 8;
  std::mutex mu;
  std::map<std::string, int> open;  // user -> waiting streams
};

struct Api::Impl {
  Impl(ApiDeps d, ApiOptions o);

  ApiDeps deps;
  ApiOptions options;
  auth::LoginLimiter limiter;
  std::shared_ptr<StreamCounts> streams = std::make_shared<StreamCounts>();
  auth::PasswordCost password_cost;
  std::string dummy_password_hash;  // verified for unknown users: same timing

  // The services the request and code handlers call (src/server/app),
  // built over this Impl's store, time zones, audit appender and push wake.
  app::ServiceDeps service_deps();
  app::RequestService request_service;
  app::CodeService code_service;
  app::UploadThrottle upload_throttle;
  // Reads the pages of many woken push polls in one store call
  // (handlers_push.cpp); every push poll shares it.
  std::shared_ptr<net::LongPollBatcher> push_batcher;
  // Audits one endpoint.events_throttled; a failed write gives the counts back.
  Status audit_uploads_throttled(app::UploadThrottle::Report report);

  std::mutex policy_cache_mu;
  std::map<std::string, std::shared_ptr<const Policy>> parsed_policies;  // "name@version"
  std::map<std::string, EffectivePolicy> effective_cache;                // etag -> compiled

  // What the agents' most frequent call needs, kept in memory so that a
  // policy fetch answered 304 reads no database (answer_from_memory). An
  // entry is used only while its generation is current and it is younger
  // than kMemoMaxAge: this process's writes move the generation at once;
  // the age bounds what another process sharing the database (hoistd
  // maintenance commands, other replicas) can leave stale.
  struct EndpointMemo {
    std::string credential_hash;
    std::vector<std::string> labels;
    std::uint64_t generation = 0;
    AuditTime cached_at;
  };
  struct EtagMemo {
    std::string etag;
    std::uint64_t generation = 0;
    AuditTime cached_at;
  };
  static constexpr std::chrono::milliseconds kMemoMaxAge{5000};
  static constexpr std::size_t kMemoMaxEntries = 200'000;
  std::mutex memo_mu;
  std::uint64_t endpoint_generation = 0;                        // moves when an endpoint is retired
  std::uint64_t policy_generation = 0;                          // moves when a policy or an assignment changes
  std::unordered_map<std::string, EndpointMemo> endpoint_memo;  // endpoint id ->
  std::unordered_map<std::string, EtagMemo> etag_memo;          // label_set_key(labels) ->
  // What a caller is told of `e`: the database's own message (hosts,
  // ports, users) is logged and replaced.
  Error public_error(const Error& e);
  [[nodiscard]] bool memo_fresh(std::uint64_t entry_generation, std::uint64_t current, AuditTime cached_at) const;
  [[nodiscard]] std::uint64_t current_endpoint_generation();
  [[nodiscard]] std::uint64_t current_policy_generation();
  // This process's memos, and (tell_others) the other replicas' through
  // the store's Replicas.
  void forget_endpoint(const std::string& id, bool tell_others = true);
  void forget_policies(bool tell_others = true);
  std::optional<net::HttpResponse> answer_from_memory(const net::HttpRequest& request);

  // --- authentication (api.cpp) ---
  Result<Caller> authenticate(const net::HttpRequest& request, Access access);
  Result<Caller> authenticate_token(std::string_view text);
  Result<Caller> authenticate_agent(std::string_view text);
  Result<Caller> authenticate_session(const net::HttpRequest& request, std::string_view session_secret);

  // Set once, before serving, when the stored audit trail does not verify
  // (Api::verify_audit_trail): why nothing may be recorded.
  std::optional<Error> audit_refusal;

  // Appends an audit event inside `tx`; fails with audit_refusal when set.
  Status audit(store::StoreTx& tx, const std::string& actor, const audited::Event auto& event,
               const std::string& target, const std::string& host) {
    return append_audit(tx, actor, to_string(event.kind()), target, host, event.details());
  }
  // Any action: only for an agent's event (audited::EndpointEvent), whose
  // kind may be one this version does not know.
  Status append_audit(store::StoreTx& tx, const std::string& actor, std::string_view action, const std::string& target,
                      const std::string& host, const json::object& details);
  // The same, returning the event (its seq: a test message's delivery).
  Result<AuditEvent> append_audit_event(store::StoreTx& tx, const std::string& actor, std::string_view action,
                                        const std::string& target, const std::string& host,
                                        const json::object& details);
  // Audits a 403 of an authenticated user (best effort: a failure is logged).
  void audit_access_denied(const Caller& caller, const net::HttpRequest& request, const Route& route);

  // --- sessions, users, tokens (handlers_users.cpp) ---
  Result<net::HttpResponse> login(Call& call);
  Result<net::HttpResponse> logout(Call& call);
  Result<net::HttpResponse> whoami(Call& call);
  Result<net::HttpResponse> session_info(Call& call);
  Result<net::HttpResponse> reauth(Call& call);
  // The 403 (reason "step_up_required") for a console session whose login
  // is older than options.step_up_after, before an action that lets someone
  // run as root; nullopt when the caller may go on (a fresh session, or an
  // API token, which is no session).
  std::optional<net::HttpResponse> step_up_refusal(const Caller& caller) const;
  Result<net::HttpResponse> list_tokens(Call& call);
  Result<net::HttpResponse> create_token(Call& call);
  Result<net::HttpResponse> revoke_token(Call& call);
  Result<net::HttpResponse> list_users(Call& call);
  Result<net::HttpResponse> create_user_route(Call& call);
  Result<net::HttpResponse> update_user(Call& call);
  // `first`: only while there is no user at all (insert_first_user).
  Status create_user(const std::string& name, store::Role role, const std::string& password, const std::string& actor,
                     bool first = false);

  // --- endpoints (handlers_endpoints.cpp) ---
  Result<net::HttpResponse> enrol(Call& call);
  Result<net::HttpResponse> heartbeat(Call& call);
  Result<net::HttpResponse> list_endpoints(Call& call);
  Result<net::HttpResponse> get_endpoint(Call& call);
  Result<net::HttpResponse> retire_endpoint(Call& call);
  Result<net::HttpResponse> create_enrollment_token_route(Call& call);
  Result<net::HttpResponse> list_enrollment_tokens(Call& call);
  Result<net::HttpResponse> revoke_enrollment_token(Call& call);
  Result<std::string> create_enrollment_token(const std::vector<std::string>& labels, int uses, Seconds lifetime,
                                              const std::string& actor);

  // --- policies (handlers_policies.cpp) ---
  Result<net::HttpResponse> list_policies(Call& call);
  Result<net::HttpResponse> get_policy(Call& call);
  Result<net::HttpResponse> put_policy(Call& call);
  Result<net::HttpResponse> delete_policy(Call& call);
  Result<net::HttpResponse> check_policy(Call& call);
  Result<net::HttpResponse> assign_policy(Call& call);
  Result<net::HttpResponse> policy_versions(Call& call);
  Result<net::HttpResponse> policy_version(Call& call);
  Result<net::HttpResponse> policy_diff(Call& call);
  Result<net::HttpResponse> agent_policy(Call& call);
  // `may_use_memo`: false when the answer decides something (a submission
  // on a database other replicas write to reads the assignments afresh).
  Result<EffectivePolicy> effective_policy(const std::vector<std::string>& labels, bool may_use_memo = true);

  // --- requests and grants (handlers_requests.cpp) ---
  Result<net::HttpResponse> submit_request(Call& call);
  Result<net::HttpResponse> agent_get_request(Call& call);
  Result<net::HttpResponse> agent_cancel_request(Call& call);
  Result<net::HttpResponse> agent_self_approve(Call& call);
  // handlers_codes.cpp
  Result<net::HttpResponse> issue_code(Call& call);
  Result<net::HttpResponse> list_codes(Call& call);
  Result<net::HttpResponse> agent_codes_key(Call& call);
  Result<net::HttpResponse> rotate_codes_key(Call& call);
  // {"generation": N, "key": "<64 hex>"}: the host key of `endpoint_id` at
  // `generation`. Unavailable without a master key.
  Result<json::object> codes_key_json(const std::string& endpoint_id, std::uint32_t generation) const;
  Result<net::HttpResponse> list_requests(Call& call);
  Result<net::HttpResponse> get_request(Call& call);
  Result<net::HttpResponse> approve_request(Call& call);
  Result<net::HttpResponse> deny_request(Call& call);
  Result<net::HttpResponse> list_grants(Call& call);
  Result<net::HttpResponse> revoke_grant(Call& call);
  Result<std::size_t> expire_due();

  // --- push (handlers_push.cpp) ---
  Result<net::HttpResponse> push_poll(Call& call);
  Result<net::HttpResponse> stream(Call& call);  // handlers_stream.cpp
  // GET/HEAD of anything outside /api/: the console's files.
  net::HttpResponse console(const net::HttpRequest& request) const;  // handlers_stream.cpp
  // GET /metrics (handlers_metrics.cpp).
  net::HttpResponse metrics_route(const net::HttpRequest& request);
  // Counts a transition that answered a waiting request (no-op without metrics).
  void observe_decision(const store::RequestRecord& after) const {
    if (deps.metrics != nullptr) deps.metrics->observe_decision(after.request);
  }
  // Counts a long poll while it waits (null without metrics).
  std::shared_ptr<void> long_poll_waiting(server::ServerMetrics::Channel channel) const {
    return deps.metrics != nullptr ? deps.metrics->long_poll_waiting(channel) : nullptr;
  }
  Result<net::HttpResponse> push_ack(Call& call);
  Result<net::HttpResponse> agent_events(Call& call);

  // --- notification channels (handlers_notify.cpp) ---
  Result<net::HttpResponse> list_channels(Call& call);
  Result<net::HttpResponse> get_channel(Call& call);
  Result<net::HttpResponse> create_channel(Call& call);
  Result<net::HttpResponse> update_channel(Call& call);
  Result<net::HttpResponse> delete_channel(Call& call);
  Result<net::HttpResponse> test_channel(Call& call);
  Result<net::HttpResponse> list_deliveries(Call& call);
  Result<net::HttpResponse> get_delivery(Call& call);
  Result<net::HttpResponse> redrive_delivery(Call& call);
  Result<const auth::SealedBox*> secrets_box() const;
  // A channel's opened secrets (nullopt when it has none).
  Result<std::optional<notify::ChannelSecrets>> open_channel_secrets(const store::ChannelRecord& channel) const;

  // --- audit (handlers_audit.cpp) ---
  Result<net::HttpResponse> audit_query(Call& call);
  Result<net::HttpResponse> audit_export(Call& call);
  Result<net::HttpResponse> audit_head(Call& call);
  Result<net::HttpResponse> audit_verify(Call& call);
};

}  // namespace hoist::api
