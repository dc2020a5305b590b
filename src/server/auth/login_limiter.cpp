#include "server/auth/login_limiter.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/sha256.h"

namespace hoist::auth {

namespace {

using Key = std::array<std::uint8_t, 32>;

// Separate digests for user names and addresses: a user named like an
// address never shares its count. The NUL ends the tag.
Key digest(std::string_view tag, std::string_view value) {
  std::string input;
  input.reserve(tag.size() + 1 + value.size());
  input.append(tag).append(1, '\0').append(value);
  return sha256(input).bytes;
}

// "4" + 4 bytes for IPv4 (also IPv4-mapped IPv6), "6" + the /64 prefix for
// IPv6, or "?" + the text for anything else.
std::string address_group(std::string_view remote) {
  if (remote.find('\0') == std::string_view::npos) {
    const std::string text(remote);
    in6_addr v6{};
    if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
      static constexpr std::array<std::uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      if (std::memcmp(v6.s6_addr, kV4MappedPrefix.data(), kV4MappedPrefix.size()) == 0) {
        return "4" + std::string(reinterpret_cast<const char*>(v6.s6_addr) + 12, 4);
      }
      return "6" + std::string(reinterpret_cast<const char*>(v6.s6_addr), 8);
    }
    in_addr v4{};
    if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
      return "4" + std::string(reinterpret_cast<const char*>(&v4.s_addr), 4);
    }
  }
  return "?" + std::string(remote);
}

std::string hex(const Key& key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(key.size() * 2);
  for (const std::uint8_t b : key) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

std::array<Key, 2> keys_for(std::string_view user, std::string_view remote) {
  return {digest("user", user), digest("address", address_group(remote))};
}

}  // namespace

Status LoginLimiter::validate(const Options& options) {
  if (options.free_failures < 0) return invalid_argument("login limiter: free_failures must not be negative");
  if (options.base_delay < Seconds{1}) return invalid_argument("login limiter: base_delay must be at least 1s");
  if (options.max_delay < options.base_delay) {
    return invalid_argument("login limiter: max_delay must be at least base_delay");
  }
  if (options.max_delay > kMaxDuration) return invalid_argument("login limiter: max_delay may be at most 366d");
  if (options.forget_after <= options.max_delay) {
    return invalid_argument("login limiter: forget_after must be longer than max_delay");
  }
  if (options.forget_after > kMaxDuration) {
    return invalid_argument("login limiter: forget_after may be at most 366d");
  }
  if (options.max_tracked < 2) return invalid_argument("login limiter: max_tracked must be at least 2");
  return {};
}

LoginLimiter::LoginLimiter() : LoginLimiter(Options{}) {}

LoginLimiter::LoginLimiter(const Options& options) : LoginLimiter(options, nullptr) {}

LoginLimiter::LoginLimiter(const Options& options, store::LoginCounts* shared) : options_(options), shared_(shared) {
  if (const auto valid = validate(options); !valid) throw std::invalid_argument(valid.error().message);
}

LoginLimiter::Attempt LoginLimiter::begin_shared(const std::array<Key, 2>& keys, TimePoint now) {
  Attempt attempt;
  attempt.keys_ = keys;
  attempt.began_ = now;
  const store::LoginSchedule schedule{.free_failures = options_.free_failures,
                                      .base_delay = options_.base_delay,
                                      .max_delay = options_.max_delay,
                                      .forget_after = options_.forget_after};
  auto admission = shared_->begin_login(hex(keys[0]), hex(keys[1]), schedule);
  if (!admission.ok()) {
    // Fail closed: a guess the database did not count is never checked.
    attempt.failure_ = admission.error();
    attempt.retry_after_ = Seconds{1};
    return attempt;
  }
  if (!admission->admitted) {
    attempt.retry_after_ = std::max(Seconds{1}, admission->retry_after);
    return attempt;
  }
  attempt.limiter_ = this;
  return attempt;
}

Seconds LoginLimiter::lock_after(int failures) const {
  if (failures <= options_.free_failures) return Seconds{0};
  // Doubling stops at max_delay (<= kMaxDuration), so this cannot overflow
  // and runs at most ~25 times.
  Seconds delay = options_.base_delay;
  for (int k = options_.free_failures + 1; k < failures && delay < options_.max_delay; ++k) delay *= 2;
  return std::min(delay, options_.max_delay);
}

void LoginLimiter::forget_due(TimePoint now) {
  auto it = by_forget_at_.begin();
  while (it != by_forget_at_.end() && it->first <= now) {
    const auto entry = entries_.find(it->second);
    if (entry != entries_.end() && entry->second.in_flight > 0) {
      ++it;  // an attempt still counts on it
      continue;
    }
    if (entry != entries_.end()) entries_.erase(entry);
    it = by_forget_at_.erase(it);
  }
}

void LoginLimiter::make_room(const std::array<Key, 2>& keep) {
  const auto needed = static_cast<std::size_t>(
      std::count_if(keep.begin(), keep.end(), [&](const Key& k) { return !entries_.contains(k); }));
  // Drops whichever would be forgotten soonest, but never a key about to be
  // counted: that would reset the very count being raised.
  auto it = by_forget_at_.begin();
  while (it != by_forget_at_.end() && entries_.size() + needed > options_.max_tracked) {
    const auto entry = entries_.find(it->second);
    if (it->second == keep[0] || it->second == keep[1] || (entry != entries_.end() && entry->second.in_flight > 0)) {
      ++it;
      continue;
    }
    entries_.erase(it->second);
    it = by_forget_at_.erase(it);
  }
}

void LoginLimiter::erase(std::map<Key, Entry>::iterator it) {
  by_forget_at_.erase({it->second.forget_at, it->first});
  entries_.erase(it);
}

void LoginLimiter::touch(const Key& key, Entry& entry, TimePoint now) {
  entry.last_seen = std::max(entry.last_seen, now);
  const TimePoint forget_at = std::max(entry.last_seen + options_.forget_after, entry.locked_until);
  if (forget_at == entry.forget_at) return;
  by_forget_at_.erase({entry.forget_at, key});
  entry.forget_at = forget_at;
  by_forget_at_.emplace(forget_at, key);
}

std::optional<Seconds> LoginLimiter::retry_after_locked(const std::array<Key, 2>& keys, TimePoint now) {
  forget_due(now);
  std::optional<Seconds> longest;
  for (const Key& key : keys) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) continue;
    touch(key, it->second, now);
    if (it->second.locked_until > now) {
      const Seconds remaining = it->second.locked_until - now;
      longest = std::max(longest.value_or(Seconds{0}), remaining);
    }
  }
  return longest;
}

Status LoginLimiter::check(std::string_view user, std::string_view remote, TimePoint now) {
  const auto keys = keys_for(user, remote);
  const std::lock_guard lock(mutex_);
  if (const auto wait = retry_after_locked(keys, now)) {
    return rate_limited("too many failed logins; try again in " + std::to_string(wait->count()) + " s");
  }
  return {};
}

std::optional<Seconds> LoginLimiter::retry_after(std::string_view user, std::string_view remote, TimePoint now) {
  const auto keys = keys_for(user, remote);
  const std::lock_guard lock(mutex_);
  return retry_after_locked(keys, now);
}

LoginLimiter::Attempt LoginLimiter::begin(std::string_view user, std::string_view remote, TimePoint now) {
  if (shared_ != nullptr) return begin_shared(keys_for(user, remote), now);
  Attempt attempt;
  attempt.keys_ = keys_for(user, remote);
  attempt.began_ = now;
  const std::lock_guard lock(mutex_);
  if (const auto wait = retry_after_locked(attempt.keys_, now)) {
    attempt.retry_after_ = *wait;
    return attempt;
  }
  // Attempts in flight count as failures: if they all failed, would that
  // lock the key? Then this one waits (for at least the lock they would make).
  Seconds pending{0};
  for (const Key& key : attempt.keys_) {
    const auto it = entries_.find(key);
    if (it == entries_.end() || it->second.in_flight == 0) continue;
    const auto failures = static_cast<long long>(it->second.failures) + it->second.in_flight;
    const int capped =
        failures > std::numeric_limits<int>::max() ? std::numeric_limits<int>::max() : static_cast<int>(failures);
    pending = std::max(pending, lock_after(capped));
  }
  if (pending > Seconds{0}) {
    attempt.retry_after_ = pending;
    return attempt;
  }
  make_room(attempt.keys_);
  for (const Key& key : attempt.keys_) {
    auto [it, inserted] = entries_.try_emplace(key);
    Entry& entry = it->second;
    if (inserted) {
      entry.last_seen = now;
      entry.forget_at = now + options_.forget_after;
      by_forget_at_.emplace(entry.forget_at, key);
    }
    ++entry.in_flight;
    touch(key, entry, now);
  }
  attempt.limiter_ = this;
  return attempt;
}

LoginLimiter::Attempt::Attempt(Attempt&& other) noexcept
    : limiter_(other.limiter_),
      keys_(other.keys_),
      began_(other.began_),
      retry_after_(other.retry_after_),
      failure_(other.failure_) {
  other.limiter_ = nullptr;
}

LoginLimiter::Attempt::~Attempt() {
  if (limiter_ != nullptr) failed(began_);
}

Error LoginLimiter::Attempt::refusal() const {
  if (failure_) return *failure_;
  return rate_limited("too many failed logins; try again in " + std::to_string(retry_after_.count()) + " s");
}

void LoginLimiter::Attempt::succeeded(TimePoint now) {
  if (limiter_ == nullptr) return;
  std::exchange(limiter_, nullptr)->end_attempt(keys_, now, true);
}

void LoginLimiter::Attempt::failed(TimePoint now) {
  if (limiter_ == nullptr) return;
  std::exchange(limiter_, nullptr)->end_attempt(keys_, now, false);
}

void LoginLimiter::end_attempt(const std::array<Key, 2>& keys, TimePoint now, bool success) {
  if (shared_ != nullptr) {
    // A failure was counted when it was admitted. A success not recorded
    // (the database gone meanwhile) stays counted: the safe side.
    if (success) (void)shared_->login_succeeded(hex(keys[0]), hex(keys[1]));
    return;
  }
  const std::lock_guard lock(mutex_);
  for (const Key& key : keys) {
    if (const auto it = entries_.find(key); it != entries_.end() && it->second.in_flight > 0) --it->second.in_flight;
  }
  if (!success) {
    count_failure_locked(keys, now);
    return;
  }
  // As record_success: the user's count goes, the address's stays. An
  // entry other attempts still count on keeps their count, at zero failures.
  if (const auto it = entries_.find(keys[0]); it != entries_.end()) {
    if (it->second.in_flight > 0) {
      it->second.failures = 0;
      it->second.locked_until = TimePoint{};
      touch(keys[0], it->second, now);
    } else {
      erase(it);
    }
  }
}

void LoginLimiter::record_failure(std::string_view user, std::string_view remote, TimePoint now) {
  const auto keys = keys_for(user, remote);
  const std::lock_guard lock(mutex_);
  count_failure_locked(keys, now);
}

void LoginLimiter::count_failure_locked(const std::array<Key, 2>& keys, TimePoint now) {
  forget_due(now);
  make_room(keys);
  for (const Key& key : keys) {
    auto [it, inserted] = entries_.try_emplace(key);
    Entry& entry = it->second;
    if (inserted) {
      entry.last_seen = now;
      entry.forget_at = now + options_.forget_after;
      by_forget_at_.emplace(entry.forget_at, key);
    }
    if (entry.failures < std::numeric_limits<int>::max()) ++entry.failures;
    const Seconds delay = lock_after(entry.failures);
    if (delay > Seconds{0}) entry.locked_until = std::max(entry.locked_until, now + delay);
    touch(key, entry, now);
  }
}

void LoginLimiter::record_success(std::string_view user, std::string_view /*remote*/, TimePoint now) {
  const Key key = digest("user", user);
  const std::lock_guard lock(mutex_);
  forget_due(now);
  if (const auto it = entries_.find(key); it != entries_.end()) erase(it);
}

std::size_t LoginLimiter::tracked() const {
  const std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace hoist::auth
