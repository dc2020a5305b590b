// Failed-login rate limiting for the web console and the API's password
// logins. Pure apart from a mutex: the time is passed in, there is no clock,
// no I/O and no randomness.
//
// Security invariants:
// - Callers MUST take a login through begin() before verifying a password
//   and MUST NOT verify (or reveal whether the password was right) when it
//   is not admitted. begin() admits and counts in one step, under the
//   mutex: an attempt in flight counts as a failure until it ends, so a
//   parallel burst gets no more tries than the same attempts one after
//   another would (check() then record_failure() would let every request
//   of a burst pass the check before the first failure is counted).
// - Callers MUST end every admitted attempt as failed, including unknown
//   user names (an Attempt that is dropped counts as failed), and answer
//   those exactly as for a wrong password, so the limiter neither lets
//   unknown names through nor reveals which exist.
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
#include "store/logins.h"

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
// Shared counts: a limiter made with a store::LoginCounts (the database
// every hoistd replica shares, store/logins.h) keeps no count of its own:
// begin() asks the database, which reads and counts both keys in one step
// on its own clock, with the same schedule, so guesses spread over N
// replicas are limited as on one. When the database cannot answer, begin()
// refuses (failed_closed(): the caller answers with its error, 503), so no
// password is ever checked uncounted. succeeded() gives the address's
// count back and forgets the user's; a failure is already counted. Only
// begin() and its Attempt use the shared counts; check(), retry_after(),
// record_failure(), record_success() and tracked() are this process's.
//
// Thread-safe: every member function takes an internal mutex.
class LoginLimiter {
 public:
  using Key = std::array<std::uint8_t, 32>;

  // One login attempt from begin(). Admitted: the caller verifies the
  // password and ends it with succeeded() or failed(); if it ends neither
  // way (an error, an exception) its destruction counts it as failed at
  // the time it began. Refused: refusal() says for how long.
  class Attempt {
   public:
    Attempt(Attempt&& other) noexcept;
    Attempt& operator=(Attempt&&) = delete;
    Attempt(const Attempt&) = delete;
    Attempt& operator=(const Attempt&) = delete;
    ~Attempt();

    [[nodiscard]] bool admitted() const { return limiter_ != nullptr; }
    // Refused because the shared counts could not be read (not a lock).
    [[nodiscard]] bool failed_closed() const { return failure_.has_value(); }
    // RateLimited, "too many failed logins; try again in N s" (refused
    // only), or the database's error when failed_closed().
    [[nodiscard]] Error refusal() const;
    // For a Retry-After header (refused only).
    [[nodiscard]] Seconds retry_after() const { return retry_after_; }
    // Forgets the user's count (see record_success).
    void succeeded(TimePoint now);
    // Counts the failure against both keys (see record_failure).
    void failed(TimePoint now);

   private:
    friend class LoginLimiter;
    Attempt() = default;
    LoginLimiter* limiter_ = nullptr;  // set while admitted and not ended
    std::array<Key, 2> keys_{};
    TimePoint began_{};
    Seconds retry_after_{0};
    std::optional<Error> failure_;
  };

  // Admits one attempt, or refuses it while the user's or the address's
  // key is locked, or while attempts already in flight would lock it if
  // they failed (their count is free_failures or more).
  Attempt begin(std::string_view user, std::string_view remote, TimePoint now);

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
  // With shared counts (see above); `shared` outlives the limiter.
  LoginLimiter(const Options& options, store::LoginCounts* shared);

  // Fails with RateLimited, "too many failed logins; try again in N s",
  // while the user's key or the address's key is locked (N is the longer
  // remaining lock). Does not add keys. A query only: a login goes
  // through begin().
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
  struct Entry {
    int failures = 0;
    int in_flight = 0;  // admitted attempts not yet ended
    TimePoint last_seen{};
    TimePoint locked_until{};
    TimePoint forget_at{};  // max(last_seen + forget_after, locked_until); the key in by_forget_at_
  };

  void end_attempt(const std::array<Key, 2>& keys, TimePoint now, bool success);
  void count_failure_locked(const std::array<Key, 2>& keys, TimePoint now);
  void forget_due(TimePoint now);
  void make_room(const std::array<Key, 2>& keep);
  void erase(std::map<Key, Entry>::iterator it);
  void touch(const Key& key, Entry& entry, TimePoint now);
  std::optional<Seconds> retry_after_locked(const std::array<Key, 2>& keys, TimePoint now);

  Attempt begin_shared(const std::array<Key, 2>& keys, TimePoint now);

  Options options_;
  store::LoginCounts* shared_ = nullptr;
  mutable std::mutex mutex_;
  std::map<Key, Entry> entries_;
  std::set<std::pair<TimePoint, Key>> by_forget_at_;
};

}  // namespace hoist::auth
