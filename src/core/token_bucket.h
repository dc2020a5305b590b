// A token bucket, pure: `burst` takes at once, then one more every
// `interval`. The time is passed in; there is no clock, no I/O and no
// lock (the caller serializes, server/app/submission_throttle.h).
//
// The bucket holds credit, in milliseconds of refill time: a full bucket
// holds burst * interval, a take costs one interval. So the arithmetic is
// exact integers (no drift, no rounding), and with the bounds below never
// overflows: at most kMaxBucketBurst * kMaxBucketInterval = 3.6e12 ms.
//
// The time may jump. Forward, the bucket refills, but never above full: a
// jump of a year gives one burst, as an idle year would. Backward, nothing
// refills and nothing is lost: the credit stays, and refilling starts again
// from the new time. So a clock set back a day does not lock a bucket for
// a day, and setting it forward again is one more forward jump.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "core/result.h"

namespace hoist {

// Milliseconds since the epoch: the same type as AuditTime (core/audit.h).
using BucketTime = std::chrono::sys_time<std::chrono::milliseconds>;

inline constexpr std::int64_t kMaxBucketBurst = 1'000'000;
inline constexpr std::chrono::milliseconds kMaxBucketInterval = std::chrono::hours(1);

struct BucketLimit {
  std::int64_t burst = 1;                    // takes at once, from a full bucket
  std::chrono::milliseconds interval{1000};  // then one more every interval

  // InvalidArgument, naming `what`, unless 1 <= burst <= kMaxBucketBurst and
  // 1 ms <= interval <= kMaxBucketInterval.
  [[nodiscard]] Status validate(std::string_view what) const;
  // burst * interval: how long an empty bucket takes to fill.
  [[nodiscard]] std::chrono::milliseconds capacity() const { return interval * burst; }

  friend bool operator==(const BucketLimit&, const BucketLimit&) = default;
};

class TokenBucket {
 public:
  // A full bucket at `now`.
  TokenBucket(const BucketLimit& limit, BucketTime now) : credit_(limit.capacity()), at_(now) {}

  // Adds what the time since the last call earned (see above on jumps).
  void refill(const BucketLimit& limit, BucketTime now);
  // How long until a take is possible: zero when it is now. Call refill()
  // first.
  [[nodiscard]] std::chrono::milliseconds wait(const BucketLimit& limit) const;
  // Takes one; only when wait() is zero.
  void take(const BucketLimit& limit);
  // Takes as many as it holds, up to `wanted`, and says how many (0 when
  // wait() is not zero). Call refill() first.
  std::int64_t take_up_to(const BucketLimit& limit, std::int64_t wanted);
  // When the bucket will be full again if nothing is taken: from then on
  // it is the same as a new bucket, and may be forgotten.
  [[nodiscard]] BucketTime full_at(const BucketLimit& limit) const { return at_ + (limit.capacity() - credit_); }

 private:
  std::chrono::milliseconds credit_;
  BucketTime at_;
};

}  // namespace hoist
