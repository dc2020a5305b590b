#include "server/app/audit_events.h"

#include <boost/json/parse.hpp>

#include "server/app/json_values.h"

namespace hoist::app::audited {

namespace json = boost::json;

json::object RequestRefused::details() const {
  return json::object{
      {"user", json_text(user)}, {"path", json_text(path)}, {"rule", json_text(rule)}, {"reason", json_text(reason)}};
}

json::object RequestThrottled::details() const {
  return json::object{{"throttled", throttled},
                      {"by_endpoint_limit", by_endpoint_limit},
                      {"first_at", json_time(first_at)},
                      {"last_at", json_time(last_at)},
                      {"last_user", json_text(last_user)}};
}

json::object EndpointEventsThrottled::details() const {
  return json::object{
      {"uploads", uploads}, {"events", events}, {"first_at", json_time(first_at)}, {"last_at", json_time(last_at)}};
}

json::object RequestCreated::details() const {
  return json::object{{"requester", json_text(requester)},
                      {"kind", to_string(request_kind)},
                      {"path", json_text(path)},
                      {"argv", string_array(argv)},
                      {"runas", json_text(runas)},
                      {"runas_group", json_text(runas_group)},
                      {"sha256", sha256 ? sha256->hex() : ""},
                      {"rule", json_text(rule)},
                      {"approval_mode", to_string(approval_mode)},
                      {"justification", json_text(justification)},
                      {"requested_duration_s", requested_duration.count()}};
}

json::object RequestAutoApproved::details() const {
  return json::object{{"by", "autonomous"},
                      {"auto_approval", json_text(auto_approval)},
                      {"grant_deadline", json_opt_time(grant_deadline)}};
}

json::object RequestApproved::details() const {
  return json::object{{"by", "approver"}, {"comment", json_text(comment)}};
}

json::object RequestSelfApproved::details() const {
  return json::object{{"by", "self"}, {"via", via}, {"comment", json_text(comment)}};
}

json::object RequestDenied::details() const {
  return json::object{{"comment", json_text(comment)}};
}

json::object RequestCancelled::details() const {
  return json::object{{"user", json_text(user)}};
}

json::object RequestExpired::details() const {
  return json::object{};
}

json::object GrantRevoked::details() const {
  return json::object{{"reason", json_text(reason)}};
}

json::object GrantExpired::details() const {
  return json::object{};
}

AuditKind kind_of(const RequestChange& change) {
  return std::visit([](const auto& c) { return c.kind(); }, change);
}

json::object details_of(const RequestChange& change, const Request& after) {
  json::object out = std::visit([](const auto& c) { return c.details(); }, change);
  out["state"] = to_string(after.state);
  out["requester"] = json_text(after.requester);
  if (after.grant_deadline) {
    out["grant_deadline"] = json_time(*after.grant_deadline);
  }
  return out;
}

json::object PolicyVersionAdded::details() const {
  return json::object{{"version", version},
                      {"comment", json_text(comment)},
                      {"diff", json_text(diff)},
                      {"diff_truncated", diff_truncated}};
}

json::object PolicyAssigned::details() const {
  return json::object{{"labels", string_array(labels)}, {"previous_labels", string_array(previous_labels)}};
}

json::object PolicyDeleted::details() const {
  return json::object{};
}

json::object EnrolmentTokenCreated::details() const {
  return json::object{{"labels", string_array(labels)}, {"uses", uses}, {"expires_at", json_time(expires_at)}};
}

json::object EnrolmentTokenRevoked::details() const {
  return json::object{};
}

json::object EndpointEnrolled::details() const {
  return json::object{{"enrolment_token", enrolment_token},
                      {"labels", string_array(labels)},
                      {"agent_version", json_text(agent_version)},
                      {"remote", remote}};
}

json::object EndpointRetired::details() const {
  return json::object{};
}

json::object EndpointCodesKeyRotated::details() const {
  return json::object{{"old_generation", old_generation}, {"new_generation", new_generation}};
}

std::string EndpointEvent::action() const {
  return endpoint_event_action(agent_kind);
}

json::object EndpointEvent::details() const {
  // Set, not added: a field the agent sent under one of these names is
  // replaced in place.
  json::object out = agent_details;
  if (const auto* m = std::get_if<CodeMatch>(&code_use)) {
    out["matched"] = m->issued_code_id.has_value();
    if (m->issued_code_id) {
      out["issued_code_id"] = *m->issued_code_id;
    } else {
      out["issued_code"] = nullptr;
    }
  } else if (const auto* u = std::get_if<CodeUnreadable>(&code_use)) {
    out["matched"] = false;
    out["issued_code"] = nullptr;
    out["problem"] = json_text(u->problem);
  }
  out["event_id"] = event_id;
  out["endpoint_time"] = json_time(endpoint_time);
  return out;
}

json::object CodeIssued::details() const {
  json::object out{{"endpoint", json_text(endpoint)}, {"user", json_text(user)},     {"duration_s", duration_s},
                   {"command", json_text(command)},   {"reason", json_text(reason)}, {"generation", generation}};
  if (const auto* r = std::get_if<Response>(&code)) {
    out["kind"] = "response";
    out["nonce"] = r->nonce;
  } else {
    const auto& p = std::get<PreIssued>(code);
    out["kind"] = "preissued";
    out["code_id"] = p.code_id;
    out["days"] = p.days;
  }
  out["issued_code_id"] = issued_code_id;
  return out;
}

json::object UserCreated::details() const {
  return json::object{{"role", store::to_string(role)}};
}

json::object UserUpdated::details() const {
  json::object out;
  if (role) {
    out["role"] = store::to_string(*role);
  }
  if (disabled) {
    out["disabled"] = *disabled;
  }
  if (password_changed) {
    out["password_changed"] = true;
  }
  if (sessions_revoked) {
    out["sessions_revoked"] = *sessions_revoked;
  }
  if (tokens_revoked) {
    out["tokens_revoked"] = *tokens_revoked;
  }
  return out;
}

json::object UserLogin::details() const {
  json::object out{{"remote", remote}};
  if (step_up) out["step_up"] = true;
  return out;
}

json::object UserLoginFailed::details() const {
  json::object out{{"remote", remote}, {"reason", known_user ? "wrong password" : "unknown or disabled user"}};
  if (step_up) out["step_up"] = true;
  return out;
}

json::object UserLogout::details() const {
  return json::object{};
}

json::object TokenCreated::details() const {
  return json::object{{"label", json_text(label)}, {"expires_at", json_opt_time(expires_at)}};
}

json::object TokenUsed::details() const {
  return json::object{{"label", json_text(label)}};
}

json::object TokenRevoked::details() const {
  return json::object{{"user", json_text(user)}};
}

json::object AccessDenied::details() const {
  return json::object{
      {"method", json_text(method)}, {"route", json_text(route)}, {"role", store::to_string(role)}, {"needs", needs}};
}

namespace {

// A channel's config as recorded: the object itself when it reads, else
// its text (it is hoistd's own JSON, so it always reads).
json::value config_value(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return json_text(text);
  return v;
}

}  // namespace

json::object ChannelCreated::details() const {
  return json::object{{"kind", json_text(kind_name)},
                      {"name", json_text(name)},
                      {"config", config_value(config)},
                      {"events", string_array(events)},
                      {"filters", json::object{{"labels", string_array(labels)}, {"rules", string_array(rules)}}},
                      {"enabled", enabled}};
}

json::object ChannelUpdated::details() const {
  json::object out;
  if (name) out["name"] = json_text(*name);
  if (config) out["config"] = config_value(*config);
  if (events) out["events"] = string_array(*events);
  if (labels || rules) {
    out["filters"] = json::object{{"labels", string_array(labels.value_or(std::vector<std::string>{}))},
                                  {"rules", string_array(rules.value_or(std::vector<std::string>{}))}};
  }
  if (enabled) out["enabled"] = *enabled;
  if (secret_rotated) {
    out["secret_rotated"] = true;
    out["previous_secret_valid_until"] = json_opt_time(previous_secret_valid_until);
  }
  return out;
}

json::object ChannelDeleted::details() const {
  return json::object{{"name", json_text(name)}, {"pending_dropped", pending_dropped}};
}

json::object ChannelTested::details() const {
  return json::object{{"name", json_text(name)}};
}

json::object DeliveryRedriven::details() const {
  return json::object{{"channel", json_text(channel)}, {"audit_seq", audit_seq}, {"last_error", json_text(last_error)}};
}

}  // namespace hoist::app::audited
