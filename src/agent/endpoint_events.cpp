#include "agent/endpoint_events.h"

#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "core/timestamp.h"

namespace hoist::agent::events {

namespace {

namespace json = boost::json;

json::array string_array(const std::vector<std::string>& items) {
  json::array out;
  for (const auto& s : items) out.push_back(json::string(s));
  return out;
}

json::object unchecked_details(const UncheckedCommand& c) {
  return json::object{{"user", c.user},
                      {"uid", c.uid},
                      {"command", c.command},
                      {"argv", string_array(c.argv)},
                      {"action", to_string(c.action)},
                      {"reason", c.reason}};
}

}  // namespace

AuditKind Command::kind() const {
  if (edit_files) return AuditKind::kEndpointEdit;
  return grant_id.empty() ? AuditKind::kEndpointDecision : AuditKind::kEndpointGrantUsed;
}

json::object Command::details() const {
  json::object out{
      {"target", grant_id},          {"user", user}, {"uid", uid},       {"runas", runas}, {"argv", string_array(argv)},
      {"action", to_string(action)}, {"rule", rule}, {"reason", reason}, {"tty", tty}};
  if (!runas_group.empty()) out["runas_group"] = runas_group;
  if (edit_files) {
    out["mode"] = "edit";
    out["files"] = string_array(*edit_files);
    out["editor"] = editor;
    return out;
  }
  out["command"] = command;
  if (!real_path.empty()) out["real_path"] = real_path;
  if (sha256) out["sha256"] = sha256->hex();
  return out;
}

json::object Process::details() const {
  json::object out = std::holds_alternative<Command>(command) ? std::get<Command>(command).details()
                                                              : unchecked_details(std::get<UncheckedCommand>(command));
  // Assigned, not added: a checked command's target is replaced in place.
  out["target"] = session;
  out["session"] = session;
  out["pid"] = pid;
  out["ppid"] = ppid;
  out["exec_uid"] = exec_uid;
  out["sudo_pid"] = sudo_pid;
  out["cwd"] = cwd;
  return out;
}

json::object SessionRequested::details() const {
  return json::object{{"target", request}, {"user", user}, {"uid", uid}, {"tty", tty}, {"request", request}};
}

json::object RequestSelfApproved::details() const {
  return json::object{
      {"target", request}, {"user", user}, {"uid", uid}, {"request", request}, {"state", to_string(state)}};
}

json::object CodeUsed::details() const {
  return json::object{{"target", grant_id},
                      {"code_kind", code_kind},
                      {"ref", ref},
                      {"generation", generation},
                      {"user", user},
                      {"uid", uid},
                      {"tty", tty},
                      {"duration_s", duration.count()},
                      {"command", command},
                      {"grant_id", grant_id},
                      {"used_at", format_timestamp(used_at)},
                      {"until", format_timestamp(until)}};
}

json::object CodeRefused::details() const {
  return json::object{{"target", ""},           {"user", user},       {"uid", uid},           {"tty", tty},
                      {"code_kind", code_kind}, {"command", command}, {"failures", failures}, {"reason", reason}};
}

json::object CodesKeyInstalled::details() const {
  return json::object{{"target", ""}, {"generation", generation}, {"previous_generation", previous_generation}};
}

json::object BreakGlass::details() const {
  json::object out{{"spool_file", spool_file}};
  if (fields) {
    for (const auto& [key, value] : *fields) {
      if (key == "v" || key == "type") continue;
      if (key == "argv") {
        if (!out.contains("argv")) out["argv"] = json::array();
        out["argv"].as_array().push_back(json::string(value));
      } else {
        out[key] = value;
      }
    }
  } else {
    out["malformed"] = true;
  }
  out["target"] = out.contains("user") ? out["user"] : json::value("");
  return out;
}

json::object SpoolRejected::details() const {
  json::object out{{"target", spool_file}, {"spool_file", spool_file}, {"problem", problem}};
  if (file) {
    out["file_type"] = file->type;
    out["uid"] = file->uid;
    out["mode"] = fmt::format("{:04o}", file->mode & 07777U);
    out["size"] = file->size;
  }
  return out;
}

json::object DecisionsCounted::details() const {
  return json::object{{"user", user}, {"uid", uid}, {"count", count}, {"first_ms", first_ms}, {"last_ms", last_ms}};
}

json::object EventQuarantined::details() const {
  return json::object{{"target", event_id},
                      {"event_id", event_id},
                      {"kind", event_kind},
                      {"event_time_ms", event_time_ms},
                      {"payload_bytes", payload_bytes},
                      {"reason", reason}};
}

}  // namespace hoist::agent::events
