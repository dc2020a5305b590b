// Failed logins counted in the database, so that every hoistd replicas
// sharing it counts one attacker's guesses together (docs/high-availability.md,
// "Security"). The keys are opaque (the login limiter's digests of a user
// name and of a remote address); the schedule is the limiter's
// (server/auth/login_limiter.h), passed in; the clock is the database's.
//
// A key's row holds its failures and the time of the last one counted;
// the key is locked until that time + the schedule's delay for its count.
// An attempt is counted when it is admitted (an attempt in flight counts
// as a failure, as in the limiter), and given back when it succeeds.
//
// MUST: begin_login reads and counts both keys in one step, atomic against
// every other caller on every replica: N parallel attempts get no more
// tries than N one after another.
// MUST: a key idle for forget_after and not locked is forgotten; rows past
// that are pruned, a few at a time, by begin_login itself.
#pragma once

#include <chrono>
#include <string>

#include "core/result.h"

namespace hoist::store {

struct LoginSchedule {
  int free_failures = 5;
  std::chrono::seconds base_delay{1};
  std::chrono::seconds max_delay{15 * 60};
  std::chrono::seconds forget_after{60 * 60};
};

// The answer to begin_login: admitted (retry_after 0), or refused while
// either key is locked (retry_after >= 1 s: how long the longer lock lasts).
struct LoginAdmission {
  bool admitted = false;
  std::chrono::seconds retry_after{0};
};

class LoginCounts {
 public:
  virtual ~LoginCounts() = default;
  // Refuses while either key is locked; otherwise counts one failure
  // against both and admits. InvalidArgument for an empty key or the same
  // key twice; Unavailable (or the store's error) when the database
  // cannot answer: the caller MUST then refuse the login.
  virtual Result<LoginAdmission> begin_login(const std::string& user_key, const std::string& address_key,
                                             const LoginSchedule& schedule) = 0;
  // An admitted attempt succeeded: the user's key is forgotten and the
  // address's count given back the one begin_login added (never below 0).
  virtual Status login_succeeded(const std::string& user_key, const std::string& address_key) = 0;
};

}  // namespace hoist::store
