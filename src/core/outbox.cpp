#include "core/outbox.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace hoist::outbox {

namespace {

constexpr Millis kMaxDelay = std::chrono::hours(24);
constexpr Millis kMaxMaxAge = std::chrono::days(366);

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Digits only, at most `max_digits` of them.
std::optional<std::int64_t> number(std::string_view s, std::size_t max_digits) {
  if (s.empty() || s.size() > max_digits || !std::all_of(s.begin(), s.end(), is_digit)) return std::nullopt;
  std::int64_t v = 0;
  for (const char c : s) v = v * 10 + (c - '0');
  return v;
}

// "Sun, 06 Nov 1994 08:49:37 GMT" only (the form RFC 9110 says senders use).
std::optional<AuditTime> parse_imf_fixdate(std::string_view s) {
  static constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  if (std::find(kDays.begin(), kDays.end(), s.substr(0, 3)) == kDays.end()) return std::nullopt;
  const auto month_it = std::find(kMonths.begin(), kMonths.end(), s.substr(8, 3));
  if (month_it == kMonths.end()) return std::nullopt;
  const auto day = number(s.substr(5, 2), 2);
  const auto year = number(s.substr(12, 4), 4);
  const auto hh = number(s.substr(17, 2), 2);
  const auto mm = number(s.substr(20, 2), 2);
  const auto ss = number(s.substr(23, 2), 2);
  if (!day || !year || !hh || !mm || !ss || *hh > 23 || *mm > 59 || *ss > 60) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{static_cast<int>(*year)},
                                        std::chrono::month{static_cast<unsigned>(month_it - kMonths.begin() + 1)},
                                        std::chrono::day{static_cast<unsigned>(*day)}};
  if (!ymd.ok()) return std::nullopt;
  const auto t =
      std::chrono::sys_days{ymd} + std::chrono::hours(*hh) + std::chrono::minutes(*mm) + std::chrono::seconds(*ss);
  return std::chrono::time_point_cast<Millis>(t);
}

Decision retry_at(AuditTime at, AuditTime since, const RetrySchedule& schedule, std::string reason) {
  if (at - since > schedule.max_age) {
    return Decision{Verdict::kDead,
                    {},
                    fmt::format("{}; given up: the next attempt would be more than {} s after the first", reason,
                                std::chrono::duration_cast<std::chrono::seconds>(schedule.max_age).count())};
  }
  return Decision{Verdict::kRetry, at, std::move(reason)};
}

}  // namespace

std::string_view to_string(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending: return "pending";
    case DeliveryState::kDelivered: return "delivered";
    case DeliveryState::kDead: return "dead";
  }
  return "pending";
}

std::optional<DeliveryState> parse_delivery_state(std::string_view text) {
  for (const auto s : {DeliveryState::kPending, DeliveryState::kDelivered, DeliveryState::kDead}) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kDelivered: return "delivered";
    case Verdict::kRetry: return "retry";
    case Verdict::kDead: return "dead";
  }
  return "retry";
}

Status RetrySchedule::validate() const {
  if (delays.empty()) return invalid_argument("the retry schedule needs at least one delay");
  Millis before{0};
  for (std::size_t i = 0; i < delays.size(); ++i) {
    if (delays[i] < Millis{0} || delays[i] > kMaxDelay) {
      return invalid_argument(fmt::format("retry delay {} must be between 0 and 24 h", i + 1));
    }
    if (delays[i] < before) {
      return invalid_argument(fmt::format("retry delay {} is shorter than the one before it", i + 1));
    }
    before = delays[i];
  }
  if (max_age < std::chrono::seconds(1) || max_age > kMaxMaxAge) {
    return invalid_argument("the retry max age must be between 1 s and 366 days");
  }
  if (!(jitter >= 0.0 && jitter <= 0.5)) return invalid_argument("the retry jitter must be between 0 and 0.5");
  return {};
}

Millis RetrySchedule::delay_after(std::int64_t failed) const {
  if (delays.empty()) return Millis{0};
  const auto i =
      static_cast<std::size_t>(std::clamp<std::int64_t>(failed, 0, static_cast<std::int64_t>(delays.size()) - 1));
  return delays[i];
}

Decision decide(const AttemptOutcome& outcome, std::int64_t attempts, AuditTime since, AuditTime now,
                const RetrySchedule& schedule, double random01) {
  const auto scheduled = [&](std::string reason) {
    const Millis base = schedule.delay_after(attempts);
    const double r = std::clamp(random01, 0.0, 1.0);
    const double spread = schedule.jitter * (2.0 * r - 1.0);
    const auto wait =
        Millis{static_cast<std::int64_t>(std::llround(static_cast<double>(base.count()) * (1.0 + spread)))};
    return retry_at(now + std::max(wait, Millis{0}), since, schedule, std::move(reason));
  };
  if (!outcome.status) {
    return scheduled(outcome.error.empty() ? std::string("no answer") : outcome.error);
  }
  const int status = *outcome.status;
  if (status >= 200 && status <= 299) return Decision{Verdict::kDelivered, {}, ""};
  const std::string said = outcome.error.empty() ? fmt::format("HTTP {}", status) : outcome.error;
  if (status == 429 || status == 503) {
    if (outcome.retry_after) {
      if (auto wait = parse_retry_after(*outcome.retry_after, now)) {
        // It may lengthen the wait, never shorten it: "Retry-After: 0" (or
        // a date in the past) would make a busy loop of store writes.
        const Millis floor = schedule.delay_after(attempts);
        return retry_at(now + std::max(std::min(*wait, kMaxRetryAfter), floor), since, schedule, said);
      }
    }
    return scheduled(said);
  }
  if (status == 408 || (status >= 500 && status <= 599)) return scheduled(said);
  if (status >= 300 && status <= 399) {
    return Decision{Verdict::kDead, {}, fmt::format("{}: redirects are not followed; set the final URL", said)};
  }
  return Decision{Verdict::kDead, {}, fmt::format("{}: the receiver refused it (not retried)", said)};
}

std::optional<Millis> parse_retry_after(std::string_view value, AuditTime now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (auto seconds = number(value, 9)) return Millis{*seconds * 1000};
  if (auto at = parse_imf_fixdate(value)) return *at > now ? *at - now : Millis{0};
  return std::nullopt;
}

}  // namespace hoist::outbox
