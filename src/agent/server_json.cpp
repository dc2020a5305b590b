// Reading hoistd's JSON answers (see server_json.h).
#include "agent/server_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <utility>

#include "core/timestamp.h"

namespace hoist::agent {

namespace {

namespace json = boost::json;

// Reads the fields the agent needs from one JSON object of hoistd's; extra
// fields are fine (a newer server), a missing or mistyped one is an error.
class Reader {
 public:
  Reader(const json::object& object, std::string what) : object_(object), what_(std::move(what)) {}

  std::string text(std::string_view key) {
    const auto* v = object_.if_contains(key);
    if (v == nullptr || !v->is_string()) {
      fail(key, "a string");
      return {};
    }
    return std::string(v->as_string());
  }
  std::string optional_text(std::string_view key) {
    const auto* v = object_.if_contains(key);
    if (v == nullptr || v->is_null()) return {};
    if (!v->is_string()) {
      fail(key, "a string");
      return {};
    }
    return std::string(v->as_string());
  }
  std::int64_t integer(std::string_view key) {
    const auto* v = object_.if_contains(key);
    if (v != nullptr && v->is_int64()) return v->as_int64();
    if (v != nullptr && v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
      return static_cast<std::int64_t>(v->as_uint64());
    }
    fail(key, "a whole number");
    return 0;
  }
  // Absent or null reads as false (a hoistd that does not send it grants
  // nothing); anything but true or false is an error.
  bool optional_flag(std::string_view key) {
    const auto* v = object_.if_contains(key);
    if (v == nullptr || v->is_null()) return false;
    if (!v->is_bool()) {
      fail(key, "true or false");
      return false;
    }
    return v->as_bool();
  }
  std::optional<TimePoint> optional_time(std::string_view key) {
    const auto text = optional_text(key);
    if (text.empty()) return std::nullopt;
    auto t = parse_timestamp(text);
    if (!t) {
      fail(key, "an RFC 3339 time");
      return std::nullopt;
    }
    return *t;
  }
  std::vector<std::string> texts(std::string_view key) {
    std::vector<std::string> out;
    const auto* v = object_.if_contains(key);
    if (v == nullptr || v->is_null()) return out;
    if (!v->is_array()) {
      fail(key, "a list of strings");
      return out;
    }
    for (const auto& item : v->as_array()) {
      if (!item.is_string()) {
        fail(key, "a list of strings");
        return {};
      }
      out.emplace_back(item.as_string());
    }
    return out;
  }
  const json::object* object(std::string_view key, bool required) {
    const auto* v = object_.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) fail(key, "an object");
      return nullptr;
    }
    if (!v->is_object()) {
      fail(key, "an object");
      return nullptr;
    }
    return &v->as_object();
  }
  const json::array* array(std::string_view key) {
    const auto* v = object_.if_contains(key);
    if (v == nullptr || !v->is_array()) {
      fail(key, "a list");
      return nullptr;
    }
    return &v->as_array();
  }
  void fail(std::string_view key, std::string_view expected) {
    if (!error_) error_ = fmt::format("hoistd's {} has no usable \"{}\" ({} expected)", what_, key, expected);
  }
  Status status() const { return error_ ? Status{invalid_argument(*error_)} : Status{}; }

 private:
  const json::object& object_;
  std::string what_;
  std::optional<std::string> error_;
};

Result<json::object> parse_object(std::string_view text, std::string_view what) {
  json::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return invalid_argument(fmt::format("hoistd's {} is not a JSON object", what));
  }
  return std::move(v.as_object());
}

Result<RequestState> request_state_from(std::string_view s) {
  for (const auto st : {RequestState::kPending, RequestState::kApproved, RequestState::kActive, RequestState::kDenied,
                        RequestState::kCancelled, RequestState::kExpired, RequestState::kRevoked}) {
    if (to_string(st) == s) return st;
  }
  return invalid_argument(fmt::format("hoistd reported an unknown request state \"{}\"", s));
}

Result<ServerRequest> request_from_object(const json::object& o) {
  Reader r(o, "request");
  ServerRequest out;
  out.id = r.text("id");
  const auto kind = r.text("kind");
  const auto state = r.text("state");
  out.requester = r.text("requester");
  out.grant_deadline = r.optional_time("grant_deadline");
  out.time_left_s = r.integer("time_left_s");
  out.self_approval_allowed = r.optional_flag("self_approval_allowed");
  out.ended_by = r.optional_text("ended_by");
  out.end_reason = r.optional_text("end_reason");
  if (const auto* review = r.object("review", false)) {
    Reader rv(*review, "request review");
    out.reviewer = rv.optional_text("reviewer");
    out.comment = rv.optional_text("comment");
    if (auto st = rv.status(); !st) return st.error();
  }
  if (const auto* command = r.object("command", false)) {
    Reader c(*command, "request command");
    out.command_path = c.optional_text("path");
    out.argv = c.texts("argv");
    if (auto sha = c.optional_text("sha256"); !sha.empty()) out.command_sha256 = sha;
    if (const auto* runas = c.object("runas", false)) {
      Reader ra(*runas, "request command runas");
      out.runas_user = ra.text("user");
      out.runas_group = ra.optional_text("group");
      if (auto st = ra.status(); !st) return st.error();
    }
    if (auto st = c.status(); !st) return st.error();
  }
  if (auto st = r.status(); !st) return st.error();
  if (kind == "command") {
    out.kind = RequestKind::kCommand;
  } else if (kind == "session") {
    out.kind = RequestKind::kSession;
  } else {
    return invalid_argument(fmt::format("hoistd reported an unknown request kind \"{}\"", kind));
  }
  auto parsed_state = request_state_from(state);
  if (!parsed_state) return parsed_state.error();
  out.state = *parsed_state;
  return out;
}

}  // namespace

namespace {

Result<CodesKey> codes_key_from_object(const json::object& o, std::string_view what) {
  Reader r(o, std::string(what));
  const auto generation = r.integer("generation");
  const auto hex = r.text("key");
  if (auto st = r.status(); !st) return st.error();
  if (generation < 1 || generation > UINT32_MAX) {
    return invalid_argument(fmt::format("hoistd's {} has a key generation out of range", what));
  }
  if (hex.size() != 64) return invalid_argument(fmt::format("hoistd's {} is not 64 hex digits", what));
  CodesKey out;
  out.generation = static_cast<std::uint32_t>(generation);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int byte = 0;
    for (std::size_t j = i; j < i + 2; ++j) {
      const char c = hex[j];
      const int nibble = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (nibble < 0) return invalid_argument(fmt::format("hoistd's {} is not lowercase hex", what));
      byte = byte * 16 + nibble;
    }
    out.key.push_back(static_cast<std::uint8_t>(byte));
  }
  return out;
}

}  // namespace

Result<Enrolment> enrolment_from_json(std::string_view text) {
  auto o = parse_object(text, "enrolment answer");
  if (!o) return o.error();
  Reader r(*o, "enrolment answer");
  Enrolment out{r.text("id"), r.text("credential"), r.texts("labels"), std::nullopt};
  const auto* key = r.object("codes_key", false);
  if (auto st = r.status(); !st) return st.error();
  if (key != nullptr) {
    auto parsed = codes_key_from_object(*key, "admin-code key");
    if (!parsed) return parsed.error();
    out.codes_key = std::move(*parsed);
  }
  return out;
}

Result<CodesKey> codes_key_from_json(std::string_view text) {
  auto o = parse_object(text, "admin-code key");
  if (!o) return o.error();
  return codes_key_from_object(*o, "admin-code key");
}

Result<std::vector<std::string>> acknowledged_from_json(std::string_view text) {
  auto o = parse_object(text, "event acknowledgement");
  if (!o) return o.error();
  Reader r(*o, "event acknowledgement");
  auto ids = r.texts("acknowledged");
  if (auto st = r.status(); !st) return st.error();
  return ids;
}

Result<ServerRequest> server_request_from_json(std::string_view text) {
  auto o = parse_object(text, "request");
  if (!o) return o.error();
  return request_from_object(*o);
}

Result<SubmitOutcome> submit_outcome_from_json(std::string_view text) {
  auto o = parse_object(text, "answer to a request");
  if (!o) return o.error();
  Reader r(*o, "answer to a request");
  SubmitOutcome out;
  const auto decision = r.text("decision");
  out.reason = r.optional_text("reason");
  out.contact = r.optional_text("contact");
  if (const auto* wait = o->if_contains("approval_wait_s"); wait != nullptr && wait->is_int64()) {
    out.approval_wait_s = wait->as_int64();
  }
  const auto* request = r.object("request", false);
  if (auto st = r.status(); !st) return st.error();
  if (decision == "allow") {
    out.decision = Action::kAllow;
  } else if (decision == "deny") {
    out.decision = Action::kDeny;
  } else if (decision == "request") {
    out.decision = Action::kRequest;
    if (request == nullptr) return invalid_argument("hoistd's answer to a request has no \"request\"");
    auto req = request_from_object(*request);
    if (!req) return req.error();
    out.request = std::move(*req);
  } else {
    return invalid_argument(fmt::format("hoistd answered an unknown decision \"{}\"", decision));
  }
  return out;
}

Result<PolicyFetch> policy_fetch_from_json(std::string_view text) {
  auto o = parse_object(text, "policy");
  if (!o) return o.error();
  Reader r(*o, "policy");
  PolicyFetch out;
  out.etag = r.text("etag");
  out.labels = r.texts("labels");
  if (const auto* policies = r.array("policies")) {
    for (const auto& p : *policies) {
      if (!p.is_object()) return invalid_argument("hoistd's policy list holds something other than objects");
      Reader pr(p.as_object(), "policy");
      PolicyDocument doc;
      doc.name = pr.text("name");
      doc.version = static_cast<int>(pr.integer("version"));
      doc.text = pr.text("text");
      if (auto st = pr.status(); !st) return st.error();
      out.documents.push_back(std::move(doc));
    }
  }
  if (auto st = r.status(); !st) return st.error();
  return out;
}

Result<PushPage> push_page_from_json(std::string_view text, std::uint64_t after) {
  auto o = parse_object(text, "push page");
  if (!o) return o.error();
  Reader r(*o, "push page");
  PushPage out;
  out.cursor = after;
  if (const auto* messages = r.array("messages")) {
    for (const auto& m : *messages) {
      if (!m.is_object()) return invalid_argument("hoistd's push page holds something other than objects");
      Reader mr(m.as_object(), "push message");
      PushMessage msg;
      const auto seq = mr.integer("seq");
      msg.kind = mr.text("kind");
      if (auto st = mr.status(); !st) return st.error();
      if (seq <= 0) return invalid_argument("hoistd sent a push message without a positive seq");
      msg.seq = static_cast<std::uint64_t>(seq);
      const auto* payload = m.as_object().if_contains("payload");
      msg.payload = payload == nullptr ? "{}" : json::serialize(*payload);
      out.cursor = std::max(out.cursor, msg.seq);
      out.messages.push_back(std::move(msg));
    }
  }
  if (auto st = r.status(); !st) return st.error();
  return out;
}

}  // namespace hoist::agent
