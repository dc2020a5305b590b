#include "server/notify/message.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/timestamp.h"
#include "server/app/json_values.h"

namespace hoist::notify {

namespace json = boost::json;
using app::json_opt_time;
using app::json_text;
using app::json_time;
using app::string_array;

std::string event_id(const AuditEvent& event) {
  return fmt::format("evt_{}_{}", event.seq, event.hash.hex().substr(0, 16));
}

std::string request_link(const std::string& public_url, const std::string& request_id) {
  if (public_url.empty() || request_id.empty()) return "";
  std::string base = public_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  // Request ids are "req-<hex>-<base32>": nothing to escape in a URL.
  return base + "/#/requests/" + request_id;
}

bool concerns_request(const AuditEvent& event) {
  return event.action.starts_with("request.") || event.action.starts_with("grant.");
}

std::string format_event_time(AuditTime t) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const auto ms = (t - secs).count();
  auto text = format_timestamp(TimePoint{secs.time_since_epoch()});
  text.insert(text.size() - 1, fmt::format(".{:03}", ms));
  return text;
}

namespace {

json::value request_json(const store::RequestRecord& rec) {
  const Request& r = rec.request;
  return json::object{
      {"id", json_text(r.id)},
      {"user", json_text(r.requester)},
      {"host", json_text(r.host)},
      {"kind", to_string(r.kind)},
      {"command",
       json::object{{"path", json_text(rec.command.path)},
                    {"argv", string_array(rec.command.argv)},
                    {"sha256", rec.command.sha256 ? json::value(rec.command.sha256->hex()) : json::value(nullptr)},
                    {"package", json_text(rec.command.package)},
                    {"runas", json_text(rec.command.runas_user)},
                    {"runas_group", json_text(rec.command.runas_group)}}},
      {"justification", json_text(r.justification)},
      {"duration_s", r.requested_duration.count()},
      {"rule", json_text(r.rule)},
      {"approval_mode", to_string(r.approval_mode)},
      {"created_at", json_time(r.created_at)},
      {"pending_deadline", json_time(r.pending_deadline)},
  };
}

}  // namespace

std::string json_body(const Message& m) {
  const AuditEvent& e = m.event;
  json::value details = json_text(e.details);
  boost::system::error_code ec;
  if (auto parsed = json::parse(e.details, ec); !ec) details = std::move(parsed);
  json::object data{{"id", m.id},
                    {"seq", e.seq},
                    {"kind", json_text(e.action)},
                    {"time", format_event_time(e.time)},
                    {"actor", json_text(e.actor)},
                    {"target", json_text(e.target)},
                    {"host", json_text(e.host)},
                    {"details", std::move(details)},
                    {"request", m.request ? request_json(*m.request) : json::value(nullptr)},
                    {"link", m.link.empty() ? json::value(nullptr) : json::value(json_text(m.link))}};
  return json::serialize(
      json::object{{"type", json_text(e.action)}, {"timestamp", format_event_time(e.time)}, {"data", std::move(data)}});
}

}  // namespace hoist::notify
