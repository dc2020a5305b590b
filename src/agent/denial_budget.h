// The events of decisions that run nothing (a deny, or a command that
// needs approval) counted per local user: each user's go in the outbox
// one by one up to a budget (60 at once, then one a second), and the rest
// are counted and recorded as one "decisions.counted" event a minute per
// user. Pure apart from a mutex: the time is passed in.
//
// Why: a denied sudo costs the user nothing and queues an event of up to
// 12 KiB (argv is theirs). hoistd takes at most 20 events a second from an
// endpoint (server/app/upload_throttle.h), so one unprivileged user running
// sudo in a loop could grow the outbox without end until it is full, and
// then every allowed sudo on the computer is refused (nothing runs that
// cannot be recorded). With the budget one user adds at most one event a
// second of their own denials; it takes twenty users at it to keep up with
// what hoistd drains.
//
// Security invariants:
// - Only decisions that run nothing go through the budget: an allowed
//   command and every process of an admin session are always queued (or
//   refused when they cannot be).
// - Nothing is lost from the trail silently: a denial over the budget is
//   counted by uid, and due() hands out each user's count (with the first
//   and last time) once a minute has passed since the first of them.
// - Memory is bounded: at most max_tracked users (a full bucket without
//   counts is forgotten; when the table is full, the bucket nearest to full
//   goes, which gives back at most that bucket's spent budget).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/token_bucket.h"

namespace hoist::agent {

class DenialBudget {
 public:
  struct Options {
    BucketLimit limit{60, std::chrono::seconds{1}};
    std::chrono::milliseconds report_every{std::chrono::minutes{1}};
    std::size_t max_tracked = 10'000;
  };

  DenialBudget() : DenialBudget(Options{}) {}
  explicit DenialBudget(const Options& options) : options_(options) {}

  // Whether the event of this decision goes in the outbox (true), or is
  // counted for the user's next summary (false).
  bool admit(std::uint32_t uid, std::string_view user, BucketTime now);

  struct Summary {
    std::uint32_t uid = 0;
    std::string user;
    std::uint64_t count = 0;
    BucketTime first_at{};
    BucketTime last_at{};
  };
  // Each user's count once report_every has passed since its first (every
  // count when `all`), each starting again from zero.
  std::vector<Summary> due(BucketTime now, bool all = false);
  // A summary that could not be queued: counted again, for the next.
  void give_back(const Summary& summary);
  // Counts one decision whose event could not be queued (a full outbox),
  // with the ones held back.
  void count(std::uint32_t uid, std::string_view user, BucketTime now) {
    give_back(Summary{uid, std::string(user), 1, now, now});
  }

  [[nodiscard]] std::size_t tracked() const;

 private:
  struct Entry {
    TokenBucket bucket;
    Summary counted;  // count 0: nothing held back
  };

  Options options_;
  mutable std::mutex mu_;
  std::map<std::uint32_t, Entry> users_;
};

}  // namespace hoist::agent
