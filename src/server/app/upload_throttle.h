// The events endpoints upload (POST /api/v1/agent/events), counted in one
// token bucket per endpoint (core/token_bucket.h), and the uploads it cut
// short counted for the audit trail instead of audited one by one. Pure
// apart from a mutex: the time is passed in; no clock, no I/O.
//
// Why: every uploaded event is an audit event, a delivery on each
// notification channel taking it and a line on every SIEM stream. One
// endpoint credential (root on one endpoint) could upload 1,000 events a
// call, as often as it liked: 20,000 a few seconds, about 10 MB of
// database a second, until hoistd's disk is full and no audited write
// succeeds anywhere in the fleet. The bucket bounds what one endpoint adds
// to the trail; hoist-agent keeps what was not taken and sends it later
// (docs/agent.md), so an honest endpoint's events are delayed, never lost.
//
// Security invariants:
// - Callers MUST take every upload through admit() before any of its
//   events is stored or audited, with the endpoint its credential names,
//   and store only the prefix admit() gives (a re-sent event counts too:
//   hoistd cannot tell it is one before it looks, and looking is the cost).
// - Uploads cut short MUST NOT be audited one by one: admit() hands out a
//   report (to audit at once) only for the first of an endpoint after a
//   quiet report_every; due_reports() hands out the counts once
//   report_every has passed. At most one event per endpoint per window.
// - Memory MUST stay bounded: at most max_tracked buckets (a full bucket
//   is forgotten, it is the same as a new one; when the table is full the
//   one nearest to full goes), keyed by the endpoint id hoistd gave.
//
// Thread-safe: every member function takes an internal mutex.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/audit.h"
#include "core/result.h"
#include "core/token_bucket.h"

namespace hoist::app {

class UploadThrottle {
 public:
  struct Options {
    // Events one endpoint may upload at once, then one more every interval
    // (hoistd.toml [limits] agent_events_burst, agent_events_every). An
    // honest agent sends a few a minute; an admin session recording a
    // build as root a few thousand at once, which the burst takes and the
    // rate drains within minutes.
    BucketLimit limit{2000, std::chrono::milliseconds{50}};
    std::size_t max_tracked = 100'000;
    std::chrono::milliseconds report_every{std::chrono::minutes{1}};
  };

  // InvalidArgument, naming the field, unless the limit is valid
  // (BucketLimit::validate), max_tracked >= 1 and report_every is 1 s to 1 h.
  static Status validate(const Options& options);

  // Throws std::invalid_argument with validate()'s message for bad options.
  UploadThrottle();
  explicit UploadThrottle(const Options& options);

  struct Sender {
    std::string_view endpoint_id;
    std::string_view actor;  // for the audit trail: "agent:<id>"
    std::string_view host;
  };

  // What endpoint.events_throttled says about one endpoint.
  struct Report {
    std::string endpoint_id;
    std::string actor;
    std::string host;
    std::uint64_t uploads = 0;  // uploads cut short or refused
    std::uint64_t events = 0;   // the events not taken from the uploads read (a re-sent one again);
                                // an upload refused before it was read counts in uploads only
    AuditTime first_at{};
    AuditTime last_at{};
  };

  struct Admitted {
    std::size_t events = 0;               // how many of the upload's first events to take
    std::chrono::seconds retry_after{0};  // when none: until one more (at least 1 s)
    std::optional<Report> report;         // to audit now
  };

  // How many of `wanted` events the endpoint may upload at `now`, taking
  // them from its bucket; what is left over is counted.
  Admitted admit(const Sender& sender, std::size_t wanted, AuditTime now);

  // An upload refused whole, before its body is read, when the endpoint's
  // bucket holds nothing now: counted (its events are not known), with when
  // to come back. nullopt when the bucket holds at least one: read the
  // body and admit() it.
  std::optional<Admitted> refuse_if_empty(const Sender& sender, AuditTime now);

  // The counts of endpoints whose report_every has passed since their last
  // report (all with counts when `all`), each starting again from zero.
  std::vector<Report> due_reports(AuditTime now, bool all = false);
  // A report that could not be audited: its counts go back for the next.
  void give_back(Report report);

  [[nodiscard]] const Options& options() const { return options_; }
  [[nodiscard]] std::size_t tracked() const;

 private:
  struct Entry {
    TokenBucket bucket;
    AuditTime full_at;
  };
  struct Flood {
    std::string actor;
    std::string host;
    std::uint64_t uploads = 0;
    std::uint64_t events = 0;
    AuditTime first_at{};
    AuditTime last_at{};
    std::optional<AuditTime> reported_at;
  };

  [[nodiscard]] bool window_over(const Flood& f, AuditTime now) const;
  void forget_full(AuditTime now);
  Report take_report(const std::string& endpoint_id, Flood& flood, AuditTime now);
  // Counts an upload cut short by `not_taken` events; the report to audit
  // now, when its window is over.
  std::optional<Report> count(const Sender& sender, std::uint64_t not_taken, AuditTime now);
  static std::chrono::seconds seconds_of(std::chrono::milliseconds wait);

  Options options_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> buckets_;
  std::set<std::pair<AuditTime, std::string>> by_full_at_;
  std::map<std::string, Flood, std::less<>> floods_;
};

}  // namespace hoist::app
