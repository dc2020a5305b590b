// The console's live feed: Server-Sent Events over the audit trail.
//
// GET /api/v1/stream answers `text/event-stream`. Each audit event becomes
// one SSE event (`id:` its seq, `event: audit`, `data:` the event as GET
// /api/v1/audit shows it). The response ends after each batch, or after a
// quiet while: the browser's EventSource reconnects by itself (`retry:`)
// and sends the last id it saw as Last-Event-ID, so nothing is missed and
// nothing is held open for long. A first connection (no Last-Event-ID)
// gets an `event: ready` with the trail's head as its id, and the events
// after it from then on.
//
// The wait is a long poll (net::LongPoll, key "console"): every change the
// API makes wakes it (Api::handle after a write, the expiry sweep), so a
// new request shows in the console within milliseconds, not a poll
// interval.
//
// MUST: one user holds at most StreamCounts::kMaxStreamsPerUser waiting
// streams; one more is refused with 429 (every write wakes every waiting
// stream, so hundreds of one account's streams would cost every write).
#include <fmt/format.h>

#include <charconv>

#include "net/http_error.h"
#include "server/api/api_impl.h"

namespace hoist::api {

namespace {

constexpr std::size_t kStreamBatch = 200;
constexpr std::chrono::seconds kStreamWait{25};
constexpr std::string_view kRetryMs = "250";

net::HttpResponse event_stream(std::string body) {
  net::HttpResponse r;
  r.status = 200;
  r.body = std::move(body);
  r.set_header("content-type", "text/event-stream; charset=utf-8");
  r.set_header("cache-control", "no-store");
  r.set_header("x-accel-buffering", "no");
  return r;
}

// One SSE field block; `data` has no newlines (compact JSON).
void append_event(std::string& out, std::uint64_t id, std::string_view event, std::string_view data) {
  out += fmt::format("id: {}\nevent: {}\ndata: {}\n\n", id, event, data);
}

// One waiting stream of one user, counted in StreamCounts while it lives
// (it lives in the LongPoll, so until the wait is answered or cut).
class StreamSlot {
 public:
  static std::shared_ptr<StreamSlot> take(const std::shared_ptr<StreamCounts>& counts, const std::string& user) {
    const std::lock_guard lock(counts->mu);
    int& open = counts->open[user];
    if (open >= StreamCounts::kMaxStreamsPerUser) return nullptr;
    ++open;
    return std::shared_ptr<StreamSlot>(new StreamSlot(counts, user));
  }
  ~StreamSlot() {
    const std::lock_guard lock(counts_->mu);
    const auto it = counts_->open.find(user_);
    if (it != counts_->open.end() && --it->second <= 0) counts_->open.erase(it);
  }
  StreamSlot(const StreamSlot&) = delete;
  StreamSlot& operator=(const StreamSlot&) = delete;

 private:
  StreamSlot(std::shared_ptr<StreamCounts> counts, std::string user)
      : counts_(std::move(counts)), user_(std::move(user)) {}
  std::shared_ptr<StreamCounts> counts_;
  std::string user_;
};

std::optional<std::uint64_t> parse_seq(std::string_view text) {
  std::uint64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return v;
}

}  // namespace

Result<net::HttpResponse> Api::Impl::stream(Call& call) {
  std::optional<std::uint64_t> after;
  if (auto id = call.request.header("last-event-id")) {
    after = parse_seq(*id);
    if (!after) return invalid_argument("Last-Event-ID must be an audit sequence number");
  } else if (auto q = call.request.query_param("after")) {
    after = parse_seq(*q);
    if (!after) return invalid_argument("after must be an audit sequence number");
  }
  std::string head_block = fmt::format("retry: {}\n\n", kRetryMs);
  if (!after) {
    auto head = deps.store.audit_head();
    if (!head) return head.error();
    const std::uint64_t seq = *head ? (*head)->seq : 0;
    append_event(head_block, seq, "ready", json::serialize(json::object{{"seq", seq}}));
    return event_stream(std::move(head_block));
  }
  // What a parked poll holds: small.
  struct Fetch {
    store::Store* store;
    std::uint64_t after;
    std::string prefix;
    [[nodiscard]] Result<std::optional<net::HttpResponse>> page(bool last) const {
      store::AuditFilter filter;
      filter.after_seq = after;
      filter.limit = kStreamBatch;
      auto events = store->audit_events(filter);
      if (!events) return events.error();
      if (events->empty() && !last) return std::optional<net::HttpResponse>();
      std::string body = prefix;
      for (const auto& e : *events) append_event(body, e.seq, "audit", json::serialize(audit_event_json(e)));
      if (events->empty()) body += ": quiet\n\n";  // the EventSource reconnects with the same id
      return std::optional<net::HttpResponse>(event_stream(std::move(body)));
    }
  };
  Fetch fetch{&deps.store, *after, head_block};
  auto now = fetch.page(false);
  if (!now) return now.error();
  if (*now) return std::move(**now);
  auto slot = StreamSlot::take(streams, call.caller.user);
  if (!slot) {
    auto refused = net::error_response(rate_limited(
        fmt::format("{} has {} live streams open already (console tabs or other clients); close one, or try again "
                    "in {} s",
                    call.caller.user, StreamCounts::kMaxStreamsPerUser, kStreamWait.count())));
    refused.set_header("retry-after", std::to_string(kStreamWait.count()));
    return refused;
  }
  net::HttpResponse pending;
  pending.long_poll = std::make_shared<net::LongPoll>();
  pending.long_poll->key = std::string(kConsoleStreamKey);
  pending.long_poll->until = std::chrono::steady_clock::now() + kStreamWait;
  pending.long_poll->poll = [fetch = std::move(fetch), slot = std::move(slot),
                             waiting = long_poll_waiting(server::ServerMetrics::Channel::kConsoleStream)](
                                bool last) -> std::optional<net::HttpResponse> {
    auto r = fetch.page(last);
    if (!r) return net::error_response(r.error());
    return std::move(*r);
  };
  return pending;
}

net::HttpResponse Api::Impl::console(const net::HttpRequest& request) const {
  if (request.method != "GET" && request.method != "HEAD") {
    auto r = net::error_response(invalid_argument("the console's files are read with GET"));
    r.status = 405;
    r.set_header("allow", "GET, HEAD");
    return r;
  }
  if (options.console) {
    if (auto r = options.console->answer(request)) return std::move(*r);
  }
  net::HttpResponse r = net::error_response(
      not_found(options.console ? "there is no such page; the console is at /"
                                : "this hoistd serves no console: build it (make console) and start hoistd with "
                                  "--console-dir (docs/console.md); the API is at /api/v1"));
  server::add_console_headers(r);
  return r;
}

}  // namespace hoist::api
