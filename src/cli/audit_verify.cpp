#include "cli/audit_verify.h"

#include <fmt/format.h>

#include <vector>

#include "cli/remote.h"
#include "core/timestamp.h"

namespace hoist::cli {

namespace json = boost::json;

namespace {

// "2026-11-24T09:30:00.123Z" (what the API prints) -> milliseconds.
Result<AuditTime> parse_audit_time(std::string_view text) {
  std::string whole(text);
  std::chrono::milliseconds ms{0};
  if (const auto dot = whole.find('.'); dot != std::string::npos) {
    const auto end = whole.find_first_not_of("0123456789", dot + 1);
    if (end == std::string::npos || end - dot != 4) {
      return invalid_argument(fmt::format("\"{}\" is not a time with milliseconds", text));
    }
    ms = std::chrono::milliseconds{std::stoi(whole.substr(dot + 1, 3))};
    whole.erase(dot, 4);
  }
  auto t = parse_timestamp(whole);
  if (!t) {
    return t.error();
  }
  return std::chrono::time_point_cast<std::chrono::milliseconds>(*t) + ms;
}

Result<std::string> string_member(const json::value& event, std::string_view key) {
  const auto& v = field_of(event, key);
  if (!v.is_string()) {
    return invalid_argument(fmt::format("an audit event's \"{}\" is missing or not a string", key));
  }
  return std::string(v.as_string());
}

}  // namespace

Result<AuditEvent> audit_event_from_json(const json::value& event) {
  AuditEvent e;
  const auto& seq = field_of(event, "seq");
  if (seq.is_uint64()) {
    e.seq = seq.as_uint64();
  } else if (seq.is_int64() && seq.as_int64() > 0) {
    e.seq = static_cast<std::uint64_t>(seq.as_int64());
  } else {
    return invalid_argument("an audit event's \"seq\" is missing or not a positive number");
  }
  auto time = string_member(event, "time");
  if (!time) {
    return time.error();
  }
  auto t = parse_audit_time(*time);
  if (!t) {
    return invalid_argument(fmt::format("audit event {}: time: {}", e.seq, t.error().message));
  }
  e.time = *t;
  for (auto [key, out] : {std::pair<std::string_view, std::string*>{"actor", &e.actor},
                          {"action", &e.action},
                          {"target", &e.target},
                          {"host", &e.host},
                          {"details", &e.details}}) {
    auto s = string_member(event, key);
    if (!s) {
      return invalid_argument(fmt::format("audit event {}: {}", e.seq, s.error().message));
    }
    *out = std::move(*s);
  }
  for (auto [key, out] : {std::pair<std::string_view, Sha256*>{"prev_hash", &e.prev_hash}, {"hash", &e.hash}}) {
    auto s = string_member(event, key);
    auto h = s ? Sha256::from_hex(*s) : Result<Sha256>(s.error());
    if (!h) {
      return invalid_argument(fmt::format("audit event {}: {}: {}", e.seq, key, h.error().message));
    }
    *out = *h;
  }
  return e;
}

Result<ChainHead> parse_chain_head(std::string_view text) {
  const auto colon = text.find(':');
  const auto bad = [&] {
    return invalid_argument(fmt::format("\"{}\" is not SEQ:HASH (as `hoist audit verify` prints it)", text));
  };
  if (colon == std::string_view::npos || colon == 0 || colon > 18) {
    return bad();
  }
  const auto seq_text = text.substr(0, colon);
  if (seq_text.find_first_not_of("0123456789") != std::string_view::npos) {
    return bad();
  }
  auto hash = Sha256::from_hex(text.substr(colon + 1));
  const auto seq = std::stoull(std::string(seq_text));
  if (!hash || seq == 0) {
    return bad();
  }
  return ChainHead{seq, *hash};
}

Result<RemoteVerification> verify_remote_chain(ApiClient& api, const std::optional<ChainHead>& expected_head,
                                               std::size_t page) {
  auto head_reply = call_json(api, "GET", "/api/v1/audit/head");
  if (!head_reply) {
    return head_reply.error();
  }
  std::optional<ChainHead> server_head;
  if (const auto seq = number_of(*head_reply, "seq"); seq > 0) {
    auto hash = Sha256::from_hex(text_of(*head_reply, "hash"));
    if (!hash) {
      return internal_error("the server's audit head has no valid hash");
    }
    server_head = ChainHead{static_cast<std::uint64_t>(seq), *hash};
  }
  RemoteVerification out;
  std::optional<ChainHead> start;
  const std::uint64_t last = server_head ? server_head->seq : 0;
  std::uint64_t after = 0;
  bool expected_seen = false;
  auto fail = [&](std::uint64_t seq, std::string problem) {
    out.chain.ok = false;
    out.chain.first_bad_seq = seq;
    out.chain.problem = std::move(problem);
    return out;
  };
  while (after < last) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(page, last - after));
    auto reply = call_json(api, "GET", fmt::format("/api/v1/audit?details=text&after={}&limit={}", after, want));
    if (!reply) {
      return reply.error();
    }
    const auto& list = field_of(*reply, "events");
    if (!list.is_array() || list.as_array().empty()) {
      return fail(after + 1, fmt::format("the server reports events up to {} but serves none after {}: events "
                                         "{} to {} are missing",
                                         last, after, after + 1, last));
    }
    std::vector<AuditEvent> events;
    for (const auto& item : list.as_array()) {
      auto e = audit_event_from_json(item);
      if (!e) {
        return fail(after + events.size() + 1, e.error().message);
      }
      if (e->seq > last) {
        break;  // appended after the head was read
      }
      events.push_back(std::move(*e));
    }
    if (events.empty()) {
      return fail(after + 1, fmt::format("event {} is missing", after + 1));
    }
    const auto v = verify_chain(events, start);
    out.chain.events_checked += v.events_checked;
    if (!v.ok) {
      out.chain.ok = false;
      out.chain.first_bad_seq = v.first_bad_seq;
      out.chain.problem = v.problem;
      return out;
    }
    if (expected_head) {
      for (const auto& e : events) {
        if (e.seq == expected_head->seq) {
          expected_seen = true;
          if (e.hash != expected_head->hash) {
            return fail(e.seq, fmt::format("event {} is not the one remembered: its hash is {}, not {}; the "
                                           "trail was rewritten from there or before",
                                           e.seq, e.hash.hex(), expected_head->hash.hex()));
          }
        }
      }
    }
    start = ChainHead{events.back().seq, events.back().hash};
    after = events.back().seq;
  }
  if (server_head) {
    const auto tail = verify_chain({}, start, server_head);
    if (!tail.ok) {
      return fail(server_head->seq, "the server's head is not the last event it serves: " + tail.problem);
    }
    out.head = *server_head;
  }
  if (expected_head && !expected_seen) {
    return fail(last + 1, fmt::format("the trail ends at event {}, before the remembered event {}: events were "
                                      "removed from its end",
                                      last, expected_head->seq));
  }
  return out;
}

}  // namespace hoist::cli
