#include "server/siem/siem_format.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>

namespace hoist::siem {

namespace {

namespace json = boost::json;

std::string timestamp(AuditTime t) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(t);
  const auto ms = (t - seconds).count();
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", seconds, ms);
}

// The event's details as an object; details that are not a JSON object
// (never written by hoistd, but the trail is read as stored) are kept as
// text under "text".
json::object details_of(const AuditEvent& e) {
  boost::system::error_code ec;
  auto v = json::parse(e.details, ec);
  if (!ec && v.is_object()) return std::move(v.as_object());
  json::object o;
  o["text"] = e.details;
  return o;
}

const json::string* text(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? &v->as_string() : nullptr;
}

bool ends_with_any(std::string_view s, std::initializer_list<std::string_view> tails) {
  return std::any_of(tails.begin(), tails.end(), [&](std::string_view t) { return s.ends_with(t); });
}

std::string_view outcome_of(const AuditEvent& e, const json::object& d) {
  if (const auto* a = text(d, "action")) {
    if (*a == "deny") return "failure";
    if (*a == "request") return "unknown";
  }
  if (ends_with_any(e.action, {".denied", ".refused", ".throttled", ".failed", ".quarantined", ".revoked", ".expired",
                               ".rejected"})) {
    return "failure";
  }
  return "success";
}

// Printable US-ASCII without spaces, at most `max` bytes; "-" when empty
// (RFC 5424 6.2: HOSTNAME, APP-NAME, MSGID).
std::string header_field(std::string_view s, std::size_t max) {
  std::string out;
  for (const char c : s) {
    if (out.size() == max) break;
    out += (c > 32 && c < 127) ? c : '_';
  }
  return out.empty() ? "-" : out;
}

// A PARAM-VALUE: '"', '\' and ']' escaped (RFC 5424 6.3.3); invalid
// UTF-8 cannot come from Boost.JSON-validated text, and other text is
// kept as stored.
std::string sd_value(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    // A control character (a newline in a target) would split the
    // message for receivers that store it as a line: the JSON in MSG
    // keeps the exact text.
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  return out;
}

// An SD-NAME: printable US-ASCII except '=', ' ', ']', '"', at most 32.
std::string sd_name(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (out.size() == 32) break;
    if (c > 32 && c < 127 && c != '=' && c != ']' && c != '"') out += c;
  }
  return out.empty() ? "hoist@32473" : out;
}

}  // namespace

std::string_view outcome_of(const AuditEvent& e) {
  return outcome_of(e, details_of(e));
}

std::string to_ecs_json(const AuditEvent& e) {
  const json::object d = details_of(e);
  const std::string_view outcome = outcome_of(e, d);
  json::object event{{"action", e.action}, {"outcome", outcome},       {"id", e.hash.hex()},  {"sequence", e.seq},
                     {"kind", "event"},    {"dataset", "hoist.audit"}, {"provider", "hoistd"}};
  json::array category;
  const bool endpoint = e.action.starts_with("endpoint.");
  if (d.contains("command") || d.contains("argv")) category.emplace_back("process");
  if (e.action.starts_with("user.") || e.action.starts_with("login") || e.action.starts_with("session")) {
    category.emplace_back("authentication");
  }
  if (category.empty()) category.emplace_back(endpoint ? "host" : "iam");
  event["category"] = std::move(category);

  json::object out;
  out["@timestamp"] = timestamp(e.time);
  out["message"] = fmt::format("{} {} {}{}", e.actor, e.action, e.target, e.host.empty() ? "" : " on " + e.host);
  out["event"] = std::move(event);
  json::object user;
  if (const auto* u = text(d, "user")) {
    user["name"] = *u;
  } else {
    user["name"] = e.actor;
  }
  if (const auto* r = text(d, "runas")) user["target"] = json::object{{"name", *r}};
  out["user"] = std::move(user);
  if (!e.host.empty()) out["host"] = json::object{{"name", e.host}};
  json::object process;
  if (const auto* c = text(d, "command")) process["executable"] = *c;
  if (const auto* argv = d.if_contains("argv"); argv != nullptr && argv->is_array()) {
    std::string line;
    for (const auto& a : argv->as_array()) {
      if (!a.is_string()) continue;
      if (!line.empty()) line += ' ';
      line += a.as_string();
    }
    process["command_line"] = line;
    process["args"] = argv->as_array();
  }
  if (const auto* h = text(d, "sha256")) process["hash"] = json::object{{"sha256", *h}};
  if (const auto* pid = d.if_contains("pid"); pid != nullptr && (pid->is_int64() || pid->is_uint64())) {
    process["pid"] = *pid;
  }
  if (!process.empty()) out["process"] = std::move(process);
  out["hoist"] =
      json::object{{"actor", e.actor}, {"target", e.target}, {"details", d}, {"prev_hash", e.prev_hash.hex()}};
  return json::serialize(out);
}

std::string to_rfc5424(const AuditEvent& e, const SyslogOptions& options) {
  const bool failed = outcome_of(e) == "failure";
  const int severity = failed ? 4 : 5;  // warning, notice
  const int pri = std::clamp(options.facility, 0, 23) * 8 + severity;
  const std::string host = header_field(e.host.empty() ? options.hostname : e.host, 255);
  std::string out = fmt::format("<{}>1 {} {} {} - {} ", pri, timestamp(e.time), host,
                                header_field(options.app_name, 48), header_field(e.action, 32));
  // RFC 5424 7.3.1: sequenceId is 1..2147483647 and wraps.
  const std::uint64_t sequence = ((e.seq - 1) % 2147483647ULL) + 1;
  out += fmt::format("[meta sequenceId=\"{}\"]", sequence);
  out += fmt::format("[{} seq=\"{}\" id=\"{}\" action=\"{}\" actor=\"{}\" target=\"{}\" host=\"{}\" outcome=\"{}\"]",
                     sd_name(options.sd_id), e.seq, e.hash.hex(), sd_value(e.action), sd_value(e.actor),
                     sd_value(e.target), sd_value(e.host), failed ? "failure" : outcome_of(e));
  out += ' ';
  out += to_ecs_json(e);
  return out;
}

std::string octet_framed(std::string_view message) {
  return fmt::format("{} {}", message.size(), message);
}

}  // namespace hoist::siem
