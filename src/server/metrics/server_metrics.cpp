#include "server/metrics/server_metrics.h"

#include <fmt/format.h>

#include <array>
#include <optional>

namespace hoist::server {

namespace {

constexpr std::array<std::string_view, 7> kMethods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};

std::string_view method_label(std::string_view method) {
  for (const auto m : kMethods) {
    if (m == method) return m;
  }
  return "other";
}

std::string status_label(int status) {
  return status >= 100 && status <= 599 ? fmt::format("{}", status) : std::string("other");
}

constexpr std::string_view kOutcomes[] = {"approved", "self_approved", "auto_approved",
                                          "denied",   "cancelled",     "expired"};

// What a transition that left the request as `r` decided, if it answered
// a waiting request.
std::optional<std::string_view> outcome_of(const Request& r) {
  switch (r.state) {
    case RequestState::kApproved:
    case RequestState::kActive:
      if (!r.review) return std::nullopt;
      switch (r.review->by) {
        case Review::By::kApprover: return "approved";
        case Review::By::kSelf: return "self_approved";
        case Review::By::kAutonomous: return "auto_approved";
      }
      return std::nullopt;
    case RequestState::kDenied: return "denied";
    case RequestState::kCancelled: return "cancelled";
    case RequestState::kExpired:
      // A grant's expiry follows a review; a pending request's has none.
      return r.review ? std::nullopt : std::optional<std::string_view>("expired");
    case RequestState::kPending:
    case RequestState::kRevoked: return std::nullopt;
  }
  return std::nullopt;
}

constexpr std::array<std::string_view, 2> kPrunedTables = {"deliveries", "message_refs"};

std::string_view channel_label(ServerMetrics::Channel c) {
  return c == ServerMetrics::Channel::kAgentPush ? "agent_push" : "console_stream";
}

}  // namespace

ServerMetrics::ServerMetrics(std::chrono::milliseconds scrape_interval)
    : http_requests_(
          registry_.counter("hoist_http_requests_total",
                            "HTTP requests answered, by route template (never the raw path), method and status code.",
                            {"route", "method", "status"}, metrics::FamilyOptions{.max_series = 2000})),
      http_seconds_(registry_.histogram(
          "hoist_http_request_duration_seconds",
          "Time from a request's head being read to its answer being written, by route template and method (a "
          "long poll's includes its wait).",
          {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}, {"route", "method"},
          metrics::FamilyOptions{.max_series = 300})),
      decisions_(registry_.counter("hoist_request_decisions_total",
                                   "Elevation requests answered, by outcome: approved (by an approver), "
                                   "self_approved, auto_approved (by a rule), denied, cancelled (withdrawn by the "
                                   "requester) or expired (nobody answered in time).",
                                   {"outcome"})),
      wait_seconds_(registry_.histogram(
          "hoist_request_wait_seconds",
          "Time from a request's submission to its answer, by outcome (as hoist_request_decisions_total).",
          {1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 14400, 86400}, {"outcome"})),
      long_polls_(registry_.gauge("hoist_long_polls_waiting",
                                  "Long polls waiting now: agents' push channels (agent_push) and the console's "
                                  "live streams (console_stream).",
                                  {"channel"})),
      outbox_pruned_(registry_.counter("hoist_notify_pruned_total",
                                       "Rows of the notification outbox deleted by its retention ([notify] "
                                       "retention): delivered and dead deliveries, and chat message references.",
                                       {"table"})),
      scrape_interval_(scrape_interval) {
  // Every fixed series from the start, at zero, so rate() has a start.
  for (const auto o : kOutcomes) {
    (void)decisions_.with({o});
    (void)wait_seconds_.with({o});
  }
  for (const auto c : {Channel::kAgentPush, Channel::kConsoleStream}) (void)long_polls_.with({channel_label(c)});
  for (const auto t : kPrunedTables) (void)outbox_pruned_.with({t});
}

void ServerMetrics::observe_outbox_pruned(std::size_t deliveries, std::size_t message_refs) {
  outbox_pruned_.with({kPrunedTables[0]}).inc(deliveries);
  outbox_pruned_.with({kPrunedTables[1]}).inc(message_refs);
}

void ServerMetrics::observe_http(const net::ExchangeReport& report) {
  const std::string_view route = report.route.empty() ? kRouteServer : report.route;
  const auto method = method_label(report.method);
  http_requests_.with({route, method, status_label(report.status)}).inc();
  http_seconds_.with({route, method})
      .observe(std::chrono::duration_cast<std::chrono::duration<double>>(report.elapsed).count());
}

void ServerMetrics::observe_decision(const Request& after) {
  const auto outcome = outcome_of(after);
  if (!outcome) return;
  TimePoint at = after.created_at;
  if (after.review) {
    at = after.review->at;
  } else if (after.ended_at) {
    at = *after.ended_at;
  }
  const auto waited = at > after.created_at ? (at - after.created_at).count() : 0;
  decisions_.with({*outcome}).inc();
  wait_seconds_.with({*outcome}).observe(static_cast<double>(waited));
}

void ServerMetrics::watch_store(store::Store& store) {
  registry_.gauge_callback("hoist_requests",
                           "Elevation requests in the store, by stored state (the sweep moves a pending request past "
                           "its deadline to expired within [requests] sweep_interval).",
                           {"state"}, [&store]() -> std::optional<std::vector<metrics::Sample>> {
                             auto counts = store.request_counts();
                             if (!counts) return std::nullopt;
                             std::vector<metrics::Sample> out;
                             for (const auto& [state, n] : *counts) {
                               out.push_back({{std::string(to_string(state))}, static_cast<double>(n)});
                             }
                             return out;
                           });
  registry_.gauge_callback("hoist_audit_last_seq",
                           "Sequence number of the newest event in the audit trail (0: none yet).",
                           [&store]() -> std::optional<double> {
                             auto head = store.audit_head();
                             if (!head) return std::nullopt;
                             return *head ? static_cast<double>((*head)->seq) : 0.0;
                           });
}

std::shared_ptr<void> ServerMetrics::long_poll_waiting(Channel channel) {
  auto& gauge = long_polls_.with({channel_label(channel)});
  gauge.add(1);
  return std::shared_ptr<void>(nullptr, [&gauge](void*) { gauge.add(-1); });
}

std::string ServerMetrics::scrape(std::chrono::steady_clock::time_point now) {
  const std::lock_guard lock(scrape_mu_);
  if (!rendered_ || now - last_at_ >= scrape_interval_ || now < last_at_) {
    last_text_ = registry_.render();
    last_at_ = now;
    rendered_ = true;
  }
  return last_text_;
}

}  // namespace hoist::server
