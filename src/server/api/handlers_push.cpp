// The agent's channel: the push long poll (an agent long-polls for messages
// after its cursor; polling with after=N acknowledges everything up to N, so
// a reconnect resumes where it left off and loses nothing), and the upload
// of the agent's own events, audited once per event id however often an
// agent re-sends them; a "code.used" event also marks its issued code used,
// once, in the same transaction.
#include <fmt/format.h>

#include <algorithm>

#include "core/timestamp.h"
#include "net/http_error.h"
#include "server/api/api_impl.h"

namespace hoist::api {

namespace {

constexpr std::size_t kPushPage = 100;

Result<std::uint64_t> parse_u64(std::string_view text, std::string_view what) {
  std::uint64_t v = 0;
  if (text.empty() || text.size() > 18) {
    return invalid_argument(fmt::format("{} must be a whole number", what));
  }
  for (char c : text) {
    if (c < '0' || c > '9') {
      return invalid_argument(fmt::format("{} must be a whole number", what));
    }
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

bool is_event_id(std::string_view id) {
  return id.size() == 32 &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_event_kind(std::string_view kind) {
  if (kind.empty() || kind.size() > 64 || kind.front() < 'a' || kind.front() > 'z') {
    return false;
  }
  return std::all_of(kind.begin(), kind.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'; });
}

}  // namespace

Result<CodeUsedDetails> parse_code_used_details(std::string_view details_json) {
  // Only the fields that identify the use are read; the agent sends more
  // (target, uid, tty, until, ...), and a newer agent may send others.
  boost::system::error_code ec;
  const auto parsed_json = json::parse(details_json, ec);
  if (ec || !parsed_json.is_object()) return invalid_argument("the details are not a JSON object");
  json::object known;
  for (const std::string_view key :
       {"code_kind", "ref", "generation", "user", "duration_s", "command", "grant_id", "used_at"}) {
    if (const auto* v = parsed_json.as_object().if_contains(key)) known[key] = *v;
  }
  JsonBody b(json::serialize(known));
  CodeUsedDetails out;
  const std::string kind = b.string("code_kind", 16);
  const auto ref = b.optional_int("ref", 0, (std::int64_t{1} << 32) - 1);
  const auto generation = b.optional_int("generation", 1, UINT32_MAX);
  out.user = b.string("user", 256);
  const auto duration_s = b.optional_int("duration_s", 1, 24 * 3600);
  (void)b.string("command", 4096);
  (void)b.string("grant_id", 256);
  const std::string used_at = b.string("used_at", 64);
  if (b.ok()) {
    const auto parsed = store::parse_issued_code_kind(kind);
    if (!parsed) {
      b.fail("field \"code_kind\" must be \"response\" or \"preissued\"");
    } else {
      out.kind = *parsed;
    }
  }
  const std::pair<std::string_view, bool> required[] = {
      {"ref", ref.has_value()}, {"generation", generation.has_value()}, {"duration_s", duration_s.has_value()}};
  for (const auto& [name, present] : required) {
    if (b.ok() && !present) {
      b.fail(fmt::format("field \"{}\" is required", name));
    }
  }
  if (b.ok()) {
    // A nonce has 30 bits, a pre-issued id 24 (docs/admin-codes.md).
    const std::int64_t bound = out.kind == store::IssuedCodeKind::kResponse ? std::int64_t{1} << 30 : 1 << 24;
    if (*ref >= bound) {
      b.fail(fmt::format("field \"ref\" must be below {} for a {} code", bound, store::to_string(out.kind)));
    }
    out.ref = *ref;
    out.generation = static_cast<std::uint32_t>(*generation);
    if (auto t = parse_timestamp(used_at); t) {
      out.used_at = *t;
    } else {
      b.fail("field \"used_at\" must be an RFC 3339 time, such as 2026-03-02T10:00:00Z");
    }
  }
  if (auto st = b.finish(); !st) {
    return st.error();
  }
  return out;
}

Result<std::vector<AgentEventBody>> parse_agent_events_body(std::string_view text) {
  JsonBody b(text);
  std::vector<AgentEventBody> out;
  auto items = b.object_list("events", kMaxAgentEvents);
  for (std::size_t i = 0; i < items.size() && b.ok(); ++i) {
    auto& item = items[i];
    AgentEventBody e;
    e.id = item.string("id", 64);
    e.kind = item.string("kind", 64);
    const auto time_ms = item.optional_int("time_ms", 0, std::int64_t{1} << 53);
    if (!time_ms && item.ok()) {
      item.fail(fmt::format("field \"events[{}].time_ms\" is required (milliseconds since 1970)", i));
    }
    e.time_ms = time_ms.value_or(0);
    e.target = item.optional_string("target", 256).value_or("");
    e.details = item.raw_object("details", kMaxAgentEventDetails);
    if (item.ok() && !is_event_id(e.id)) {
      item.fail(fmt::format("field \"events[{}].id\" must be 32 lowercase hex digits", i));
    }
    if (item.ok() && !is_event_kind(e.kind)) {
      item.fail(fmt::format("field \"events[{}].kind\" must be a-z, 0-9, '_' or '.', starting with a letter", i));
    }
    if (item.ok() && parse_endpoint_event_kind(e.kind) == AuditKind::kEndpointCodeUsed) {
      // Never a reason to refuse the upload: the agent would send the same
      // batch forever and nothing after it would arrive. A use hoistd
      // cannot read is audited, unmatched, with what is wrong.
      auto use = parse_code_used_details(e.details);
      if (use) {
        e.code_use = std::move(*use);
      } else {
        e.code_use_problem = use.error().message;
      }
    }
    b.absorb(item.finish());
    out.push_back(std::move(e));
  }
  if (auto st = b.finish(); !st) {
    return st.error();
  }
  return out;
}

Status Api::Impl::audit_uploads_throttled(app::UploadThrottle::Report report) {
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    return audit(tx, report.actor,
                 audited::EndpointEventsThrottled{.uploads = report.uploads,
                                                  .events = report.events,
                                                  .first_at = std::chrono::floor<Seconds>(report.first_at),
                                                  .last_at = std::chrono::floor<Seconds>(report.last_at)},
                 report.endpoint_id, report.host);
  });
  if (!st) upload_throttle.give_back(std::move(report));
  return st;
}

namespace {

// Over the endpoint's upload limit, nothing taken: 429 with Retry-After.
// hoist-agent keeps the events and sends them again (docs/agent.md).
net::HttpResponse uploads_throttled(const app::UploadThrottle::Options& options, const std::string& host,
                                    std::chrono::seconds retry_after) {
  auto response = net::error_response(rate_limited(
      fmt::format("{} uploads events faster than hoistd takes them (at most {} at once, then one every {}ms); "
                  "send the rest in {} s",
                  host, options.limit.burst, options.limit.interval.count(), retry_after.count())));
  response.set_header("retry-after", std::to_string(retry_after.count()));
  return response;
}

}  // namespace

Result<net::HttpResponse> Api::Impl::agent_events(Call& call) {
  const auto& endpoint = call.caller.endpoint;
  const std::string actor = call.caller.actor();
  const app::UploadThrottle::Sender sender{endpoint.id, actor, endpoint.hostname};
  // An endpoint over its limit is answered before its body is read.
  if (auto refused = upload_throttle.refuse_if_empty(sender, deps.clock.now_ms())) {
    if (refused->report) (void)audit_uploads_throttled(std::move(*refused->report));
    return uploads_throttled(upload_throttle.options(), endpoint.hostname, refused->retry_after);
  }
  auto events = parse_agent_events_body(call.request.body);
  if (!events) {
    return events.error();
  }
  // Only as many as the endpoint's bucket holds, the first ones: the agent
  // sends the rest again (only acknowledged events leave its outbox).
  auto admitted = upload_throttle.admit(sender, events->size(), deps.clock.now_ms());
  if (admitted.report) (void)audit_uploads_throttled(std::move(*admitted.report));
  if (admitted.events == 0) {
    return uploads_throttled(upload_throttle.options(), endpoint.hostname, admitted.retry_after);
  }
  events->resize(admitted.events);
  const auto now = deps.clock.now_s();
  json::array acknowledged;
  std::size_t duplicates = 0;
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    acknowledged.clear();
    duplicates = 0;
    for (const auto& e : *events) {
      auto fresh = tx.record_agent_event(e.id, endpoint.id, e.kind, now);
      if (!fresh) {
        return fresh.error();
      }
      acknowledged.push_back(json::string(e.id));
      if (!*fresh) {
        ++duplicates;  // sent before (its acknowledgement was lost): audited then
        continue;
      }
      audited::EndpointEvent audited_event{
          .agent_kind = e.kind,
          .agent_details = json::parse(e.details).as_object(),
          .event_id = e.id,
          .endpoint_time = TimePoint{std::chrono::duration_cast<Seconds>(std::chrono::milliseconds(e.time_ms))}};
      if (e.code_use) {
        // In this transaction, so a re-sent event (not fresh) marks nothing.
        const auto& u = *e.code_use;
        auto matched =
            tx.mark_code_used(store::CodeUse{endpoint.id, u.kind, u.ref, u.generation, u.user, u.used_at, e.id});
        if (!matched) {
          return matched.error();
        }
        // Audited either way: an unmatched use (a code from another key, or
        // reported twice) is worth a look.
        audited_event.code_use = audited::EndpointEvent::CodeMatch{.issued_code_id = *matched};
      } else if (e.code_use_problem) {
        audited_event.code_use = audited::EndpointEvent::CodeUnreadable{.problem = *e.code_use_problem};
      }
      if (auto a = append_audit(tx, call.caller.actor(), audited_event.action(), e.target, endpoint.hostname,
                                audited_event.details());
          !a) {
        return a;
      }
    }
    return {};
  });
  if (!st) {
    return st.error();
  }
  return json_ok(
      json::object{{"acknowledged", std::move(acknowledged)}, {"duplicates", static_cast<std::uint64_t>(duplicates)}});
}

json::object push_json(const store::PushMessage& m) {
  boost::system::error_code ec;
  auto payload = json::parse(m.payload, ec);
  return {{"seq", m.seq},
          {"kind", json_text(m.kind)},
          {"payload", ec ? json::value(json_text(m.payload)) : payload},
          {"created_at", json_time(m.created_at)}};
}

namespace {

// The answer to a push poll: the messages read after `after`, and the
// cursor to acknowledge with.
net::HttpResponse push_page(const std::vector<store::PushMessage>& messages, std::uint64_t after) {
  json::array out;
  std::uint64_t cursor = after;
  for (const auto& m : messages) {
    out.push_back(push_json(m));
    cursor = m.seq;
  }
  return json_ok(json::object{{"messages", std::move(out)}, {"cursor", cursor}});
}

// Every parked push poll has this batcher: the server hands it the woken
// ones together, and their pages are one store read (push_after_many), not
// one each. A poll is a LongPoll whose key is its endpoint id and whose
// cursor is its `after`.
class PushBatcher final : public net::LongPollBatcher {
 public:
  explicit PushBatcher(store::Store& store) : store_(store) {}

  void poll_many(std::vector<Item>& items) override {
    std::vector<store::PushCursor> cursors;
    cursors.reserve(items.size());
    for (const auto& item : items) {
      cursors.push_back({item.poll->key, item.poll->cursor});
    }
    // kMaxBatch is below kMaxPushCursors: one read per batch.
    static_assert(kMaxBatch <= store::kMaxPushCursors);
    auto pages = store_.push_after_many(cursors, kPushPage);
    if (!pages) {
      for (auto& item : items) item.answer = net::error_response(pages.error());
      return;
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!(*pages)[i].empty() || items[i].last) items[i].answer = push_page((*pages)[i], items[i].poll->cursor);
    }
  }

 private:
  store::Store& store_;
};

}  // namespace

std::shared_ptr<net::LongPollBatcher> make_push_batcher(store::Store& store) {
  return std::make_shared<PushBatcher>(store);
}

Result<net::HttpResponse> Api::Impl::push_poll(Call& call) {
  std::uint64_t after = 0;
  if (auto text = call.request.query_param("after")) {
    auto v = parse_u64(*text, "after");
    if (!v) {
      return v.error();
    }
    after = *v;
  }
  std::uint64_t wait = 0;
  if (auto text = call.request.query_param("wait")) {
    auto v = parse_u64(*text, "wait");
    if (!v) {
      return v.error();
    }
    if (*v > static_cast<std::uint64_t>(options.long_poll_max.count())) {
      return invalid_argument(fmt::format("wait is at most {} seconds", options.long_poll_max.count()));
    }
    wait = *v;
  }
  const std::string& endpoint_id = call.caller.endpoint.id;
  if (after > 0) {
    if (auto st = deps.store.acknowledge_push(endpoint_id, after); !st) {
      return st.error();
    }
  }
  if (wait == 0) {
    auto page = deps.store.push_after(endpoint_id, after, kPushPage);
    if (!page) {
      return page.error();
    }
    return push_page(*page, after);
  }
  // A waiting poll reads nothing here: the server polls it at once through
  // the batcher (poll_first), with the others due then, so agents coming
  // back after their wait cost a read per batch, not one each; it answers
  // at once when messages wait, and parks otherwise.
  // What a parked poll holds for up to a minute per agent: kept small.
  net::HttpResponse pending;
  pending.long_poll = std::make_shared<net::LongPoll>();
  pending.long_poll->key = endpoint_id;  // woken by changes for this endpoint only
  pending.long_poll->until = std::chrono::steady_clock::now() + std::chrono::seconds(wait);
  pending.long_poll->batcher = push_batcher;
  pending.long_poll->cursor = after;
  pending.long_poll->hold = long_poll_waiting(server::ServerMetrics::Channel::kAgentPush);
  pending.long_poll->poll_first = true;
  // Polled alone (the server polls it through the batcher): the same read.
  pending.long_poll->poll = [self = pending.long_poll.get()](bool last) -> std::optional<net::HttpResponse> {
    std::vector<net::LongPollBatcher::Item> items{{self, last, std::nullopt}};
    self->batcher->poll_many(items);
    return std::move(items.front().answer);
  };
  return pending;
}

Result<net::HttpResponse> Api::Impl::push_ack(Call& call) {
  struct Body {
    std::int64_t seq = 0;
  };
  auto body = read_body<Body>(call.request, [](JsonBody& b) {
    auto seq = b.optional_int("seq", 1, INT64_MAX);
    if (!seq && b.ok()) {
      b.fail("field \"seq\" is required (the last sequence number processed)");
    }
    return Body{seq.value_or(0)};
  });
  if (!body) {
    return body.error();
  }
  const std::string& endpoint_id = call.caller.endpoint.id;
  if (auto st = deps.store.acknowledge_push(endpoint_id, static_cast<std::uint64_t>(body->seq)); !st) {
    return st.error();
  }
  return json_ok(json::object{{"acknowledged", body->seq}});
}

}  // namespace hoist::api
