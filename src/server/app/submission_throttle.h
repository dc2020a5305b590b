// Submissions (POST /api/v1/agent/requests) counted in token buckets
// (core/token_bucket.h), one per endpoint and one per user of an endpoint,
// and the submissions refused for it counted for the audit trail instead of
// audited one by one. Pure apart from a mutex: the time is passed in; no
// clock, no I/O, no randomness.
//
// Why: one endpoint credential (a stolen one, or root on the endpoint) could
// send thousands of submissions a second. Refused or not, each was an audit
// event and a delivery on every notification channel taking request.*, and
// a channel sends in order: other people's requests were announced late
// behind the flood. The buckets bound what one endpoint, and one user of
// it, can send; what they refuse leaves one event per endpoint per window.
//
// Security invariants:
// - Callers MUST take every submission through admit() before it is
//   evaluated, stored or audited, with the endpoint its credential names
//   (never anything from the body) and the user name the body gives.
// - A submission is admitted only when both the endpoint's bucket and the
//   user's bucket on that endpoint hold a token, and then takes one from
//   each, under one lock: parallel submissions get no more than the same
//   ones in a row, and a refused submission takes nothing, so a user over
//   their own limit does not drain their endpoint's bucket for its other
//   users.
// - Refusals MUST NOT be audited one by one: admit() hands out a report (to
//   audit at once) only for the first refusal of an endpoint after a quiet
//   report_every, and counts the rest; due_reports() hands out those counts
//   once report_every has passed. So a flood is on the trail, with how many
//   were refused, in at most one event per endpoint per report_every.
// - Memory MUST stay bounded whatever the input: at most max_tracked
//   buckets, each of fixed size (keyed by SHA-256 digests of the endpoint
//   id and the user name, so a long name costs what a short one does), in
//   ordered containers (no hash flooding). A bucket that is full again is
//   forgotten (it is the same as a new one); a refused submission adds no
//   bucket, so an endpoint adds them no faster than its own bucket admits;
//   when the table is full, the bucket nearest to full is dropped (which
//   gives back at most what that bucket had used). Flood counts are kept
//   per endpoint, and only endpoints an admin enrolled can be throttled;
//   an endpoint's counts are dropped once reported and quiet.
//
// Thread-safe: every member function takes an internal mutex.
#pragma once

#include <array>
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

// The limits on submissions, per endpoint and per user of one endpoint
// (hoistd.toml [requests], docs/hoistd.md). A person types a reason for
// each request, so the defaults leave them far from any limit: a user may
// send 20 at once, then one every 6 s (10 a minute); an endpoint, whoever
// asks, 60 at once, then one a second.
struct SubmissionLimits {
  BucketLimit per_endpoint{60, std::chrono::seconds{1}};
  BucketLimit per_user{20, std::chrono::seconds{6}};

  friend bool operator==(const SubmissionLimits&, const SubmissionLimits&) = default;
};

class SubmissionThrottle {
 public:
  struct Options {
    SubmissionLimits limits;
    // Buckets tracked at most (~150 bytes each).
    std::size_t max_tracked = 100'000;
    // An endpoint's refusals are audited at most once per this.
    std::chrono::milliseconds report_every{std::chrono::minutes{1}};
  };

  // InvalidArgument, naming the field, unless both limits are valid
  // (BucketLimit::validate), max_tracked >= 2 and report_every is 1 s to 1 h.
  static Status validate(const Options& options);

  // Throws std::invalid_argument with validate()'s message for bad options.
  SubmissionThrottle();
  explicit SubmissionThrottle(const Options& options);

  // Who sent a submission: the endpoint as its credential names it.
  struct Sender {
    std::string_view endpoint_id;
    std::string_view actor;  // for the audit trail: "agent:<id>"
    std::string_view host;   // the endpoint's hostname
  };

  // What request.throttled says about one endpoint (audited::RequestThrottled).
  struct Report {
    std::string endpoint_id;
    std::string actor;
    std::string host;
    std::uint64_t throttled = 0;
    std::uint64_t by_endpoint_limit = 0;
    AuditTime first_at{};
    AuditTime last_at{};
    std::string last_user;
  };

  struct Refusal {
    std::chrono::seconds retry_after{1};  // until both buckets hold a token again (at least 1 s)
    bool by_endpoint_limit = false;       // the endpoint's bucket is the one that is empty (or waits longer)
    std::optional<Report> report;         // to audit now: the first refusal after a quiet window
  };

  // Admits one submission of `user` from `sender` at `now` (nullopt), taking
  // a token from both buckets; or refuses it and counts the refusal.
  std::optional<Refusal> admit(const Sender& sender, std::string_view user, AuditTime now);

  // The counts of endpoints whose report_every has passed since their last
  // report (every endpoint with counts when `all`: at shutdown), each
  // endpoint's counts starting again from zero.
  std::vector<Report> due_reports(AuditTime now, bool all = false);

  // A report that could not be audited: its counts are added to the
  // endpoint's again, for its next report.
  void give_back(Report report);

  [[nodiscard]] const Options& options() const { return options_; }
  // Buckets tracked now (at most max_tracked).
  [[nodiscard]] std::size_t tracked() const;
  // Endpoints with counts or within report_every of their last report.
  [[nodiscard]] std::size_t floods() const;

 private:
  using Key = std::array<std::uint8_t, 32>;
  struct Entry {
    TokenBucket bucket;
    bool per_endpoint;
    AuditTime full_at;  // its key in by_full_at_
  };
  struct Flood {
    std::string actor;
    std::string host;
    std::uint64_t throttled = 0;
    std::uint64_t by_endpoint_limit = 0;
    AuditTime first_at{};
    AuditTime last_at{};
    std::string last_user;
    std::optional<AuditTime> reported_at;
  };

  [[nodiscard]] const BucketLimit& limit_of(const Entry& e) const {
    return e.per_endpoint ? options_.limits.per_endpoint : options_.limits.per_user;
  }
  [[nodiscard]] bool window_over(const Flood& f, AuditTime now) const;
  void forget_full(AuditTime now);
  void make_room(std::size_t needed, const std::array<Key, 2>& keep);
  void reindex(const Key& key, Entry& entry);
  Report take_report(const std::string& endpoint_id, Flood& flood, AuditTime now);

  Options options_;
  mutable std::mutex mutex_;
  std::map<Key, Entry> buckets_;
  std::set<std::pair<AuditTime, Key>> by_full_at_;
  std::map<std::string, Flood, std::less<>> floods_;  // endpoint id ->
};

}  // namespace hoist::app
