// The outbox's rules, pure: when a delivery is tried again, when it is
// given up (dead-lettered), and what a receiver's answer means. hoistd's
// sender (src/server/notify) applies them; the store keeps the state
// (store/outbox.h). No I/O, no clock: the time and the random number for
// the jitter are passed in.
//
// What an answer means (classify):
//   2xx                     delivered
//   429, 503                try again on the schedule, or later when
//                           Retry-After says so (at most kMaxRetryAfter);
//                           never sooner than the schedule
//   408, other 5xx, no answer (connect, TLS, timeout, a response too large)
//                           try again on the schedule
//   3xx                     dead: redirects are not followed (fix the URL)
//   other 4xx, 1xx          dead: the receiver refuses it; trying again
//                           would get the same answer
// A delivery whose next attempt would fall later than `max_age` after its
// first enqueueing (or its last re-drive) is dead too.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit.h"
#include "core/result.h"

namespace hoist::outbox {

using Millis = std::chrono::milliseconds;

enum class DeliveryState : std::uint8_t { kPending, kDelivered, kDead };
std::string_view to_string(DeliveryState state);
std::optional<DeliveryState> parse_delivery_state(std::string_view text);

// The longest Retry-After hoistd waits for; a longer one waits this long.
inline constexpr Millis kMaxRetryAfter = std::chrono::hours(1);

struct RetrySchedule {
  // delays[n]: the wait before attempt n + 1 after n attempts failed
  // (delays[0] is the wait before the first attempt, normally 0); after
  // the last entry, the last one repeats.
  std::vector<Millis> delays = {Millis{0},
                                std::chrono::seconds(5),
                                std::chrono::seconds(30),
                                std::chrono::minutes(2),
                                std::chrono::minutes(10),
                                std::chrono::hours(1)};
  // How long a delivery is tried before it is dead-lettered.
  Millis max_age = std::chrono::hours(72);
  // Each wait is spread by up to +-jitter of itself (0 to 0.5), so many
  // deliveries that failed together do not all come back together.
  double jitter = 0.2;

  // InvalidArgument, naming the field, unless delays is non-empty with
  // every entry between 0 and a day and never shorter than the one before,
  // 1 s <= max_age <= 366 days, and 0 <= jitter <= 0.5.
  [[nodiscard]] Status validate() const;
  // The wait after `failed` attempts, before jitter.
  [[nodiscard]] Millis delay_after(std::int64_t failed) const;
};

// How one attempt ended, as the sender saw it.
struct AttemptOutcome {
  std::optional<int> status;               // nullopt: no HTTP answer
  std::optional<std::string> retry_after;  // the Retry-After header, when there was one
  std::string error;                       // why, in a few words (never a secret)
  // Where the message now is, for a channel that edits one message per
  // request (a Slack channel and ts): stored with a delivered attempt, so
  // the request's next event edits it. nullopt: nothing to keep.
  std::optional<std::string> message_ref = std::nullopt;
};

enum class Verdict : std::uint8_t { kDelivered, kRetry, kDead };
std::string_view to_string(Verdict verdict);

struct Decision {
  Verdict verdict = Verdict::kRetry;
  AuditTime next_attempt_at{};  // kRetry only
  std::string reason;           // "" when delivered; else for last_error
};

// What to do after attempt number `attempts` (1 for the first) of a
// delivery enqueued (or re-driven) at `since` ended with `outcome` at
// `now`. `random01` in [0, 1) draws the jitter.
Decision decide(const AttemptOutcome& outcome, std::int64_t attempts, AuditTime since, AuditTime now,
                const RetrySchedule& schedule, double random01);

// A Retry-After value (RFC 9110 10.2.3): delta-seconds, or an HTTP date
// (IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"), as a wait from `now`
// (zero for a date in the past). nullopt for anything else.
std::optional<Millis> parse_retry_after(std::string_view value, AuditTime now);

}  // namespace hoist::outbox
