// Failed-login rate limiting for the web console and the API's password
// logins. Pure apart from a mutex: the time is passed in, there is no clock,
// no I/O and no randomness.
//
// Security invariants:
// - Callers MUST call check() before verifying a password and MUST NOT
//   verify (or reveal whether the password was right) when it fails.
// - Callers MUST call record_failure() for every failed login, including
//   unknown user names, and answer those exactly as for a wrong password, so
//   the limiter neither lets unknown names through nor reveals which exist.
// - Callers MUST pass the user name in the canonical form logins compare
//   (otherwise "Alice" and "alice" are counted apart) and the peer address
//   of the connection, never a client-supplied header.
// - Failures MUST be counted separately per user name and per remote
//   address, so neither many names from one address nor one name from many
//   addresses escapes the delays.
// - Memory MUST stay bounded whatever the input: at most max_tracked
//   entries of fixed size (keys are SHA-256 digests, so long names cost no
//   more than short ones), in ordered containers (no hash flooding).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "core/duration.h"
#include "core/result.h"

namespace hoist::auth {

// Lockout schedule, per key (one user name, or one remote address):
//   failures 1 .. free_failures      no delay
//   failure  free_failures + k       locked for base_delay * 2^(k-1), at most
//                                    max_delay, counted from that failure
// With the defaults: failures 1-5 are free; the 6th locks for 1 s, the 7th
// for 2 s, the 8th for 4 s, ... the 15th for 512 s, and the 16th and every
// later one for 900 s (15 min). A failure recorded while a key is locked
// never shortens its lock.
//
// A key is forgotten (its count back to zero) once it has been idle for
// forget_after and is not locked. Idle means no check() or record_failure()
// touched it, so a key under steady attack is never forgotten.
//
// A successful login clears the user's key but not the address's: otherwise
// an attacker holding any account could interleave their own successful
// logins to wipe the count for their address while guessing other users'
// passwords. The cost is that many people behind one NAT share an address
// count; forget_after bounds how long their mistakes add up.
//
// Remote addresses are counted per IPv4 address and per IPv6 /64 (one
// host is usually given a whole /64); IPv4-mapped IPv6 addresses count as
// IPv4. A remote that is not an IP address is counted by its exact text.
//
// When max_tracked keys are tracked, the one that would be forgotten
// soonest is dropped to make room. An attacker who can fail logins from
// max_tracked fresh keys between two attempts on one user can thus reset
// that user's count; the per-address key still slows them.
//
// Known limitation: anyone who knows a user name can keep that user locked
// out for max_delay at a time with one request per lock. That is the price
// of a per-user limit; it never locks out other users.
//
// Thread-safe: every member function takes an internal mutex.
class LoginLimiter {
 public:
  struct Options {
    int free_failures = 5;
    Seconds base_delay{1};
    Seconds max_delay{15 * 60};
    Seconds forget_after{60 * 60};
    std::size_t max_tracked = 100000;
  };

  // InvalidArgument, naming the field, unless free_failures >= 0,
  // 1 s <= base_delay <= max_delay <= kMaxDuration,
  // max_delay < forget_after <= kMaxDuration (so a key is never forgotten
  // while its lock would escalate) and max_tracked >= 2.
  static Status validate(const Options& options);

  // Throw std::invalid_argument with validate()'s message for bad options.
  LoginLimiter();
  explicit LoginLimiter(const Options& options);

  // Fails with RateLimited, "too many failed logins; try again in N s",
  // while the user's key or the address's key is locked (N is the longer
  // remaining lock). Does not add keys.
  Status check(std::string_view user, std::string_view remote, TimePoint now);

  // The longer remaining lock of the two keys (for a Retry-After header), or
  // nullopt when neither is locked; check() fails exactly when this has a
  // value. Does not add keys.
  std::optional<Seconds> retry_after(std::string_view user, std::string_view remote, TimePoint now);

  // Counts one failed login against both keys and locks each one the
  // schedule above says to.
  void record_failure(std::string_view user, std::string_view remote, TimePoint now);

  // Forgets the user's key; the address's key is kept (see above).
  void record_success(std::string_view user, std::string_view remote, TimePoint now);

  // How long the schedule locks a key after its `failures`-th failure
  // (zero while failures <= free_failures).
  [[nodiscard]] Seconds lock_after(int failures) const;

  // The number of keys tracked now (at most max_tracked).
  [[nodiscard]] std::size_t tracked() const;

 private:
  using Key = std::array<std::uint8_t, 32>;
  struct Entry {
    int failures = 0;
    TimePoint last_seen{};
    TimePoint locked_until{};
    TimePoint forget_at{};  // max(last_seen + forget_after, locked_until); the key in by_forget_at_
  };

  void forget_due(TimePoint now);
  void make_room(const std::array<Key, 2>& keep);
  void erase(std::map<Key, Entry>::iterator it);
  void touch(const Key& key, Entry& entry, TimePoint now);
  std::optional<Seconds> retry_after_locked(const std::array<Key, 2>& keys, TimePoint now);

  Options options_;
  mutable std::mutex mutex_;
  std::map<Key, Entry> entries_;
  std::set<std::pair<TimePoint, Key>> by_forget_at_;
};

}  // namespace hoist::auth
