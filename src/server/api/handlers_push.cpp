// The push channel: an agent long-polls for messages after its cursor;
// polling with after=N acknowledges everything up to N, so a reconnect
// resumes where it left off and loses nothing.
#include <fmt/format.h>

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

}  // namespace

json::object push_json(const store::PushMessage& m) {
  boost::system::error_code ec;
  auto payload = json::parse(m.payload, ec);
  return {{"seq", m.seq},
          {"kind", json_text(m.kind)},
          {"payload", ec ? json::value(json_text(m.payload)) : payload},
          {"created_at", json_time(m.created_at)}};
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
  const std::string endpoint_id = call.caller.endpoint.id;
  if (after > 0) {
    if (auto st = deps.store.write([&](store::StoreTx& tx) { return tx.acknowledge_push(endpoint_id, after); }); !st) {
      return st.error();
    }
  }
  // What a parked poll holds for up to a minute per agent: kept small.
  struct Fetch {
    store::Store* store;
    std::string endpoint_id;
    std::uint64_t after;
    [[nodiscard]] Result<net::HttpResponse> page() const {
      auto messages = store->push_after(endpoint_id, after, kPushPage);
      if (!messages) {
        return messages.error();
      }
      json::array out;
      std::uint64_t cursor = after;
      for (const auto& m : *messages) {
        out.push_back(push_json(m));
        cursor = m.seq;
      }
      return json_ok(json::object{{"messages", std::move(out)}, {"cursor", cursor}});
    }
  };
  Fetch fetch{&deps.store, endpoint_id, after};
  auto first = deps.store.push_after(endpoint_id, after, kPushPage);
  if (!first) {
    return first.error();
  }
  if (!first->empty() || wait == 0) {
    return fetch.page();
  }
  net::HttpResponse pending;
  pending.long_poll = std::make_shared<net::LongPoll>();
  pending.long_poll->key = endpoint_id;  // woken by changes for this endpoint only
  pending.long_poll->until = std::chrono::steady_clock::now() + std::chrono::seconds(wait);
  pending.long_poll->poll = [fetch = std::move(fetch)](bool last) -> std::optional<net::HttpResponse> {
    auto messages = fetch.store->push_after(fetch.endpoint_id, fetch.after, 1);
    if (!messages) {
      return net::error_response(messages.error());
    }
    if (messages->empty() && !last) {
      return std::nullopt;
    }
    auto response = fetch.page();
    if (!response) {
      return net::error_response(response.error());
    }
    return std::move(*response);
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
  if (auto st = deps.store.write(
          [&](store::StoreTx& tx) { return tx.acknowledge_push(endpoint_id, static_cast<std::uint64_t>(body->seq)); });
      !st) {
    return st.error();
  }
  return json_ok(json::object{{"acknowledged", body->seq}});
}

}  // namespace hoist::api
