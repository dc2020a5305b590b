// hoistd's metrics (docs/metrics.md lists every series): fed by the HTTPS
// server (each answer, by route template), the API (request decisions and
// how long they waited, long polls waiting) and gauges read when scraped
// (the store's request counts and audit head: watch_store(); open
// connections: main.cpp). A gauge read at scrape time is one line:
//   registry().gauge_callback("hoist_x", "What it is.", [&] { return read_x(); });
//
// MUST: no label value is taken from a request as sent. Routes are the
// router's templates or one of the fixed names below; methods one of
// kMethods or "other"; status codes 100-599 or "other"; outcomes and
// channels the enums below. Every family is capped besides (registry.h).
// MUST: a scrape reads and never writes, and renders at most once per
// kScrapeInterval however often it is asked: later scrapes in the interval
// get the same text, so scraping cannot load the store or the handlers.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/request.h"
#include "metrics/registry.h"
#include "net/http_message.h"
#include "store/store.h"

namespace hoist::server {

// Route labels for answers no route template gave.
inline constexpr std::string_view kRouteUnmatched = "unmatched";  // no route has the path (404, 405)
inline constexpr std::string_view kRouteConsole = "console";      // the web console's files
inline constexpr std::string_view kRouteServer = "server";        // the HTTP layer itself (a malformed request)
inline constexpr std::string_view kRouteMetrics = "/metrics";

inline constexpr std::chrono::milliseconds kScrapeInterval{1000};

class ServerMetrics {
 public:
  // Scrapes within `scrape_interval` of a render get its text (tests pass 0).
  explicit ServerMetrics(std::chrono::milliseconds scrape_interval = kScrapeInterval);
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // For gauges read at scrape time.
  metrics::Registry& registry() { return registry_; }
  // Adds the gauges read from `store` at each scrape (reads only; a failed
  // read leaves its gauge without a sample that time): requests by stored
  // state, the newest audit event's sequence number. `store` outlives this.
  void watch_store(store::Store& store);

  // One answer of the HTTPS server (net::ExchangeObserver).
  void observe_http(const net::ExchangeReport& report);

  // A request that was waiting has its answer: `after` is the request as
  // the transition left it. Counts approvals (by an approver, by the
  // requester, by a rule), denials, withdrawals and expiry of a request that
  // was still pending, with the time from submission; nothing else (a
  // grant that ends is no decision).
  void observe_decision(const Request& after);

  // A retention run of the notification outbox deleted these rows
  // (notify/retention.h).
  void observe_outbox_pruned(std::size_t deliveries, std::size_t message_refs);

  enum class Channel { kAgentPush, kConsoleStream };
  // A long poll now waits on `channel`: the gauge counts it until the
  // returned guard is destroyed (with the poll, when its connection ends).
  std::shared_ptr<void> long_poll_waiting(Channel channel);

  // The text for GET /metrics, rendered again only when the last render is
  // scrape_interval older than `now`.
  std::string scrape(std::chrono::steady_clock::time_point now);

 private:
  metrics::Registry registry_;
  metrics::CounterFamily& http_requests_;
  metrics::HistogramFamily& http_seconds_;
  metrics::CounterFamily& decisions_;
  metrics::HistogramFamily& wait_seconds_;
  metrics::GaugeFamily& long_polls_;
  metrics::CounterFamily& outbox_pruned_;
  std::chrono::milliseconds scrape_interval_;
  std::mutex scrape_mu_;
  std::string last_text_;
  std::chrono::steady_clock::time_point last_at_{};
  bool rendered_ = false;
};

}  // namespace hoist::server
