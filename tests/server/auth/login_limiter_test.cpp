#include "server/auth/login_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace hoist::auth {
namespace {

constexpr TimePoint kT0{Seconds{1'700'000'000}};

void fail_times(LoginLimiter& limiter, int n, std::string_view user, std::string_view remote, TimePoint now) {
  for (int i = 0; i < n; ++i) limiter.record_failure(user, remote, now);
}

TEST(LoginLimiter, FreeFailuresPass) {
  LoginLimiter limiter;
  fail_times(limiter, 5, "alice", "192.0.2.1", kT0);
  EXPECT_TRUE(limiter.check("alice", "192.0.2.1", kT0).ok());
  EXPECT_EQ(limiter.retry_after("alice", "192.0.2.1", kT0), std::nullopt);
  EXPECT_EQ(limiter.tracked(), 2U);  // one user key, one address key
}

TEST(LoginLimiter, LocksAfterFreeFailures) {
  LoginLimiter limiter;
  fail_times(limiter, 6, "alice", "192.0.2.1", kT0);
  const Status status = limiter.check("alice", "192.0.2.1", kT0);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(status.error().message, "too many failed logins; try again in 1 s");
  EXPECT_EQ(limiter.retry_after("alice", "192.0.2.1", kT0), Seconds{1});
  EXPECT_TRUE(limiter.check("alice", "192.0.2.1", kT0 + Seconds{1}).ok());
}

TEST(LoginLimiter, ExponentialScheduleWithCap) {
  LoginLimiter limiter;
  // Each failure is made as soon as the previous lock has run out.
  const std::vector<std::pair<int, Seconds>> schedule = {
      {6, Seconds{1}},    {7, Seconds{2}},    {8, Seconds{4}},    {9, Seconds{8}},    {10, Seconds{16}},
      {11, Seconds{32}},  {12, Seconds{64}},  {13, Seconds{128}}, {14, Seconds{256}}, {15, Seconds{512}},
      {16, Seconds{900}}, {17, Seconds{900}}, {18, Seconds{900}}, {30, Seconds{900}},
  };
  TimePoint now = kT0;
  int failures = 0;
  for (const auto& [n, lock] : schedule) {
    while (failures < n) {
      ASSERT_TRUE(limiter.check("alice", "192.0.2.1", now).ok()) << "before failure " << failures + 1;
      limiter.record_failure("alice", "192.0.2.1", now);
      ++failures;
      if (failures < n) now += limiter.retry_after("alice", "192.0.2.1", now).value_or(Seconds{0});
    }
    EXPECT_EQ(limiter.retry_after("alice", "192.0.2.1", now), lock) << "after failure " << n;
    EXPECT_FALSE(limiter.check("alice", "192.0.2.1", now + lock - Seconds{1}).ok()) << "after failure " << n;
    now += lock;
    EXPECT_TRUE(limiter.check("alice", "192.0.2.1", now).ok()) << "after failure " << n;
  }
  for (const auto& [n, lock] : schedule) EXPECT_EQ(limiter.lock_after(n), lock) << n;
  for (int n = 0; n <= 5; ++n) EXPECT_EQ(limiter.lock_after(n), Seconds{0}) << n;
}

TEST(LoginLimiter, CustomSchedule) {
  LoginLimiter limiter(
      {.free_failures = 0, .base_delay = Seconds{10}, .max_delay = Seconds{60}, .forget_after = Seconds{120}});
  EXPECT_EQ(limiter.lock_after(0), Seconds{0});
  EXPECT_EQ(limiter.lock_after(1), Seconds{10});
  EXPECT_EQ(limiter.lock_after(2), Seconds{20});
  EXPECT_EQ(limiter.lock_after(3), Seconds{40});
  EXPECT_EQ(limiter.lock_after(4), Seconds{60});
  EXPECT_EQ(limiter.lock_after(1000000), Seconds{60});
  limiter.record_failure("alice", "192.0.2.1", kT0);
  EXPECT_EQ(limiter.retry_after("alice", "192.0.2.1", kT0 + Seconds{3}), Seconds{7});
}

TEST(LoginLimiter, FailureWhileLockedNeverShortensTheLock) {
  LoginLimiter limiter(
      {.free_failures = 0, .base_delay = Seconds{100}, .max_delay = Seconds{100}, .forget_after = Seconds{1000}});
  limiter.record_failure("alice", "192.0.2.1", kT0 + Seconds{50});
  limiter.record_failure("alice", "192.0.2.1", kT0);  // an earlier time, e.g. from a slower thread
  EXPECT_EQ(limiter.retry_after("alice", "192.0.2.1", kT0 + Seconds{50}), Seconds{100});
}

TEST(LoginLimiter, CheckDoesNotAddKeys) {
  LoginLimiter limiter;
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(limiter.check("user" + std::to_string(i), "192.0.2." + std::to_string(i % 256), kT0).ok());
  }
  EXPECT_EQ(limiter.tracked(), 0U);
}

TEST(LoginLimiter, SuccessClearsTheUserKeyButNotTheAddressKey) {
  LoginLimiter limiter;
  fail_times(limiter, 6, "alice", "192.0.2.1", kT0);
  const TimePoint later = kT0 + Seconds{1};
  ASSERT_TRUE(limiter.check("alice", "192.0.2.1", later).ok());
  limiter.record_success("alice", "192.0.2.1", later);
  EXPECT_EQ(limiter.tracked(), 1U);  // the address key remains

  // The address has 7 failures now, so it locks (2 s) for everyone ...
  limiter.record_failure("alice", "192.0.2.1", later);
  EXPECT_EQ(limiter.retry_after("bob", "192.0.2.1", later), Seconds{2});
  // ... while alice's own count started again at 1.
  EXPECT_TRUE(limiter.check("alice", "198.51.100.1", later).ok());
  fail_times(limiter, 4, "alice", "198.51.100.1", later);
  EXPECT_TRUE(limiter.check("alice", "198.51.100.2", later).ok());
  limiter.record_failure("alice", "198.51.100.1", later);
  EXPECT_FALSE(limiter.check("alice", "198.51.100.2", later).ok());
}

TEST(LoginLimiter, AddressLockAppliesToOtherUsers) {
  LoginLimiter limiter;
  for (int i = 0; i < 6; ++i) limiter.record_failure("user" + std::to_string(i), "192.0.2.1", kT0);
  const Status status = limiter.check("zed", "192.0.2.1", kT0);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kRateLimited);
  EXPECT_TRUE(limiter.check("zed", "192.0.2.2", kT0).ok());
  EXPECT_TRUE(limiter.check("user0", "192.0.2.2", kT0).ok());
}

TEST(LoginLimiter, UserLockAppliesFromOtherAddresses) {
  LoginLimiter limiter;
  for (int i = 1; i <= 6; ++i) limiter.record_failure("alice", "192.0.2." + std::to_string(i), kT0);
  EXPECT_FALSE(limiter.check("alice", "203.0.113.9", kT0).ok());
  EXPECT_TRUE(limiter.check("bob", "192.0.2.1", kT0).ok());
}

TEST(LoginLimiter, ReportsTheLongerOfBothLocks) {
  LoginLimiter limiter;
  fail_times(limiter, 8, "alice", "192.0.2.1", kT0);                                                  // both keys: 4 s
  for (int i = 0; i < 10; ++i) limiter.record_failure("user" + std::to_string(i), "192.0.2.2", kT0);  // 16 s
  EXPECT_EQ(limiter.retry_after("alice", "192.0.2.2", kT0), Seconds{16});
  EXPECT_EQ(limiter.retry_after("alice", "192.0.2.3", kT0), Seconds{4});
  EXPECT_EQ(limiter.check("alice", "192.0.2.2", kT0).error().message, "too many failed logins; try again in 16 s");
}

TEST(LoginLimiter, UserNamesAndAddressesAreCountedApart) {
  LoginLimiter limiter;
  for (int i = 1; i <= 6; ++i) limiter.record_failure("192.0.2.1", "198.51.100." + std::to_string(i), kT0);
  EXPECT_FALSE(limiter.check("192.0.2.1", "203.0.113.1", kT0).ok());
  EXPECT_TRUE(limiter.check("bob", "192.0.2.1", kT0).ok());
}

TEST(LoginLimiter, Ipv6CountsPerSlash64) {
  LoginLimiter limiter;
  for (int i = 1; i <= 6; ++i) {
    limiter.record_failure("user" + std::to_string(i), "2001:db8:1:2::" + std::to_string(i), kT0);
  }
  EXPECT_FALSE(limiter.check("zed", "2001:db8:1:2:ffff:ffff:ffff:ffff", kT0).ok());
  EXPECT_FALSE(limiter.check("zed", "2001:0db8:0001:0002::7", kT0).ok());
  EXPECT_TRUE(limiter.check("zed", "2001:db8:1:3::1", kT0).ok());
}

TEST(LoginLimiter, Ipv4MappedCountsAsIpv4) {
  LoginLimiter limiter;
  for (int i = 1; i <= 6; ++i) limiter.record_failure("user" + std::to_string(i), "::ffff:192.0.2.1", kT0);
  EXPECT_FALSE(limiter.check("zed", "192.0.2.1", kT0).ok());
  EXPECT_TRUE(limiter.check("zed", "192.0.2.2", kT0).ok());
  EXPECT_TRUE(limiter.check("zed", "::ffff:192.0.2.2", kT0).ok());
}

TEST(LoginLimiter, NonIpRemotesAreCountedByText) {
  LoginLimiter limiter;
  for (int i = 1; i <= 6; ++i) limiter.record_failure("user" + std::to_string(i), "unix:/run/hoist.sock", kT0);
  EXPECT_FALSE(limiter.check("zed", "unix:/run/hoist.sock", kT0).ok());
  EXPECT_TRUE(limiter.check("zed", "unix:/run/other.sock", kT0).ok());
}

TEST(LoginLimiter, ForgetsIdleKeys) {
  LoginLimiter limiter;
  fail_times(limiter, 8, "alice", "192.0.2.1", kT0);
  const TimePoint forgotten = kT0 + Seconds{60 * 60};
  EXPECT_TRUE(limiter.check("alice", "192.0.2.1", forgotten).ok());
  EXPECT_EQ(limiter.tracked(), 0U);
  fail_times(limiter, 5, "alice", "192.0.2.1", forgotten);  // free again
  EXPECT_TRUE(limiter.check("alice", "192.0.2.1", forgotten).ok());
}

TEST(LoginLimiter, RemembersUntilForgetAfter) {
  LoginLimiter limiter;
  fail_times(limiter, 8, "alice", "192.0.2.1", kT0);
  const TimePoint almost = kT0 + Seconds{60 * 60 - 1};
  EXPECT_TRUE(limiter.check("alice", "192.0.2.1", almost).ok());
  limiter.record_failure("alice", "192.0.2.1", almost);  // the 9th
  EXPECT_EQ(limiter.retry_after("alice", "192.0.2.1", almost), Seconds{8});
}

TEST(LoginLimiter, ActivityKeepsAKeyRemembered) {
  LoginLimiter limiter;
  fail_times(limiter, 8, "alice", "192.0.2.1", kT0);
  // A check 50 min later touches both keys; 70 min after the failures they
  // are still known, so the next failure is the 9th.
  ASSERT_TRUE(limiter.check("alice", "192.0.2.1", kT0 + Seconds{50 * 60}).ok());
  const TimePoint later = kT0 + Seconds{70 * 60};
  limiter.record_failure("alice", "192.0.2.1", later);
  EXPECT_EQ(limiter.retry_after("alice", "192.0.2.1", later), Seconds{8});
}

TEST(LoginLimiter, ClockSteppingBackKeepsTheLock) {
  LoginLimiter limiter;
  fail_times(limiter, 8, "alice", "192.0.2.1", kT0);
  EXPECT_EQ(limiter.retry_after("alice", "192.0.2.1", kT0 - Seconds{10}), Seconds{14});
}

TEST(LoginLimiter, EvictsTheStalestWhenFull) {
  LoginLimiter limiter({.free_failures = 1, .max_tracked = 4});
  limiter.record_failure("alice", "192.0.2.1", kT0);
  limiter.record_failure("bob", "192.0.2.2", kT0 + Seconds{1});
  limiter.record_failure("carol", "192.0.2.3", kT0 + Seconds{2});  // evicts alice and 192.0.2.1
  EXPECT_EQ(limiter.tracked(), 4U);
  limiter.record_failure("bob", "192.0.2.4", kT0 + Seconds{3});  // bob kept (2nd failure), evicts 192.0.2.2
  EXPECT_EQ(limiter.tracked(), 4U);
  EXPECT_EQ(limiter.retry_after("bob", "192.0.2.9", kT0 + Seconds{3}), Seconds{1});
  limiter.record_failure("alice", "192.0.2.5", kT0 + Seconds{4});  // a 1st failure again: free
  EXPECT_EQ(limiter.tracked(), 4U);
  EXPECT_TRUE(limiter.check("alice", "192.0.2.9", kT0 + Seconds{4}).ok());
}

TEST(LoginLimiter, MemoryStaysBoundedUnderAFloodOfNames) {
  constexpr std::size_t kMax = 100000;
  LoginLimiter limiter;
  // One attacker tries 120,000 distinct names from one address.
  for (int i = 0; i < 120000; ++i) {
    limiter.record_failure("random-user-" + std::to_string(i), "198.51.100.7", kT0 + Seconds{i / 100});
    if (i % 10000 == 0) {
      ASSERT_LE(limiter.tracked(), kMax);
    }
  }
  EXPECT_EQ(limiter.tracked(), kMax);
  // The attacker's own address, touched on every attempt, was never evicted.
  EXPECT_EQ(limiter.retry_after("someone", "198.51.100.7", kT0 + Seconds{1199}), Seconds{900});

  // Distinct names from distinct addresses: still bounded.
  for (int i = 0; i < 60000; ++i) {
    limiter.record_failure("other-user-" + std::to_string(i),
                           "10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".1", kT0 + Seconds{1200});
  }
  EXPECT_EQ(limiter.tracked(), kMax);
  // Long names cost the same as short ones and are still told apart.
  limiter.record_failure(std::string(1 << 20, 'x'), "192.0.2.1", kT0 + Seconds{1200});
  EXPECT_EQ(limiter.tracked(), kMax);
}

TEST(LoginLimiter, ConcurrentUseCountsEveryFailure) {
  // 7,999 failures for alice spread over threads must all count: one more
  // locks her, one fewer would not.
  constexpr int kThreads = 4;
  constexpr int kTotal = 7999;
  LoginLimiter limiter({.free_failures = kTotal, .max_tracked = 100000});
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      const std::string address = "192.0.2." + std::to_string(t + 1);
      const int mine = kTotal / kThreads + (t < kTotal % kThreads ? 1 : 0);
      for (int i = 0; i < mine; ++i) {
        limiter.record_failure("alice", address, kT0);
        (void)limiter.check("alice", address, kT0);
        limiter.record_failure("user-" + std::to_string(t) + "-" + std::to_string(i), address, kT0);
        limiter.record_success("user-" + std::to_string(t) + "-" + std::to_string(i), address, kT0);
        (void)limiter.retry_after("bob", address, kT0);
        (void)limiter.tracked();
      }
    });
  }
  go.store(true);
  for (auto& thread : threads) thread.join();

  EXPECT_TRUE(limiter.check("alice", "203.0.113.1", kT0).ok());
  EXPECT_EQ(limiter.tracked(), 1U + kThreads);  // alice and each thread's address
  limiter.record_failure("alice", "203.0.113.1", kT0);
  EXPECT_FALSE(limiter.check("alice", "203.0.113.2", kT0).ok());
}

// Issue 17, item 14: check() before the slow password check and
// record_failure() after it let a parallel burst through. begin() counts an
// attempt in flight as a failure: a burst gets what the same attempts one
// after another would get, free_failures + 1 (the one that locks).
TEST(LoginAttempt, ABurstGetsNoMoreTriesThanInSequence) {
  LoginLimiter limiter;
  std::vector<LoginLimiter::Attempt> in_flight;
  int refused = 0;
  for (int i = 0; i < 20; ++i) {
    auto attempt = limiter.begin("alice", "192.0.2.1", kT0);
    if (attempt.admitted()) {
      in_flight.push_back(std::move(attempt));
    } else {
      ++refused;
      EXPECT_EQ(attempt.refusal().code, ErrorCode::kRateLimited);
      EXPECT_EQ(attempt.retry_after(), Seconds{1}) << "what the sixth failure would lock for";
    }
  }
  EXPECT_EQ(in_flight.size(), 6U);
  EXPECT_EQ(refused, 14);
  for (auto& attempt : in_flight) attempt.failed(kT0);
  // Now exactly as after six failures in a row.
  EXPECT_EQ(limiter.retry_after("alice", "192.0.2.1", kT0), Seconds{1});
  EXPECT_FALSE(limiter.begin("alice", "192.0.2.1", kT0).admitted());
  auto next = limiter.begin("alice", "192.0.2.1", kT0 + Seconds{1});
  EXPECT_TRUE(next.admitted()) << "the lock ran out";
  auto parallel = limiter.begin("alice", "192.0.2.99", kT0 + Seconds{1});
  EXPECT_FALSE(parallel.admitted()) << "one past the free failures at a time";
}

TEST(LoginAttempt, TheAddressKeyAlsoCountsAttemptsInFlight) {
  LoginLimiter limiter;
  std::vector<LoginLimiter::Attempt> in_flight;
  for (int i = 0; i < 20; ++i) {
    auto attempt = limiter.begin("user-" + std::to_string(i), "192.0.2.1", kT0);
    if (attempt.admitted()) in_flight.push_back(std::move(attempt));
  }
  EXPECT_EQ(in_flight.size(), 6U) << "many names from one address";
  in_flight.clear();  // dropped: each counts as failed
  EXPECT_EQ(limiter.retry_after("someone", "192.0.2.1", kT0), Seconds{1});
}

TEST(LoginAttempt, ADroppedAttemptCountsAsFailed) {
  LoginLimiter limiter;
  for (int i = 0; i < 6; ++i) {
    auto attempt = limiter.begin("alice", "192.0.2.1", kT0);
    ASSERT_TRUE(attempt.admitted()) << i;
  }  // each ends here without a verdict (an error, an exception)
  EXPECT_EQ(limiter.retry_after("alice", "192.0.2.1", kT0), Seconds{1});
}

TEST(LoginAttempt, SuccessForgetsTheUserButNotTheAddress) {
  LoginLimiter limiter;
  fail_times(limiter, 5, "alice", "192.0.2.1", kT0);
  auto ok = limiter.begin("alice", "192.0.2.1", kT0);
  ASSERT_TRUE(ok.admitted());
  auto other = limiter.begin("alice", "192.0.2.2", kT0);
  EXPECT_FALSE(other.admitted()) << "the in-flight one would lock alice if it failed";
  ok.succeeded(kT0);
  auto again = limiter.begin("alice", "192.0.2.2", kT0);
  EXPECT_TRUE(again.admitted());
  again.succeeded(kT0);
  // The address keeps its five failures: one more locks it, for anyone.
  EXPECT_EQ(limiter.retry_after("carol", "192.0.2.1", kT0), std::nullopt);
  limiter.record_failure("bob", "192.0.2.1", kT0);
  EXPECT_EQ(limiter.retry_after("carol", "192.0.2.1", kT0), Seconds{1});
}

TEST(LoginAttempt, SuccessWhileOthersAreInFlightKeepsTheirCount) {
  LoginLimiter limiter;
  auto a = limiter.begin("alice", "192.0.2.1", kT0);
  auto b = limiter.begin("alice", "192.0.2.2", kT0);
  ASSERT_TRUE(a.admitted());
  ASSERT_TRUE(b.admitted());
  a.succeeded(kT0);
  b.failed(kT0);
  a.failed(kT0);  // ended already: nothing
  fail_times(limiter, 4, "alice", "192.0.2.3", kT0);
  EXPECT_TRUE(limiter.check("alice", "192.0.2.4", kT0).ok()) << "five failures since the success: still free";
  limiter.record_failure("alice", "192.0.2.4", kT0);
  EXPECT_FALSE(limiter.check("alice", "192.0.2.4", kT0).ok());
}

TEST(LoginAttempt, ConcurrentBurstIsAdmittedAtMostTheLimit) {
  // Every thread begins before any ends: the admitted ones are exactly the
  // free failures and the one that locks, whatever the interleaving.
  constexpr int kThreads = 16;
  LoginLimiter limiter;
  std::atomic<int> begun{0};
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto attempt = limiter.begin("alice", "192.0.2." + std::to_string(t + 1), kT0);
      if (attempt.admitted()) admitted.fetch_add(1);
      begun.fetch_add(1);
      while (begun.load() < kThreads) std::this_thread::yield();
      attempt.failed(kT0);
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), 6);
  EXPECT_EQ(limiter.retry_after("alice", "203.0.113.1", kT0), Seconds{1});
}

struct BadOptions {
  std::string what;
  LoginLimiter::Options options;
};

TEST(LoginLimiter, ValidatesOptions) {
  EXPECT_TRUE(LoginLimiter::validate({}).ok());
  const std::vector<BadOptions> cases = {
      {"free_failures", {.free_failures = -1}},
      {"base_delay", {.base_delay = Seconds{0}}},
      {"max_delay", {.base_delay = Seconds{10}, .max_delay = Seconds{5}}},
      {"max_delay", {.max_delay = Seconds{400 * 24 * 3600}, .forget_after = Seconds{500 * 24 * 3600}}},
      {"forget_after", {.max_delay = Seconds{60}, .forget_after = Seconds{60}}},
      {"forget_after", {.forget_after = Seconds{400 * 24 * 3600}}},
      {"max_tracked", {.max_tracked = 1}},
  };
  for (const auto& c : cases) {
    const Status status = LoginLimiter::validate(c.options);
    ASSERT_FALSE(status.ok()) << c.what;
    EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(status.error().message.find(c.what), std::string::npos) << status.error().message;
    EXPECT_THROW((void)LoginLimiter(c.options), std::invalid_argument) << c.what;
  }
}

// Shared counts (store::LoginCounts, the database replicas share), faked:
// it records what it was asked and answers as told.
class FakeCounts final : public store::LoginCounts {
 public:
  Result<store::LoginAdmission> begin_login(const std::string& user_key, const std::string& address_key,
                                            const store::LoginSchedule& schedule) override {
    begun.emplace_back(user_key, address_key);
    last_schedule = schedule;
    if (down) return unavailable("database: connection refused");
    return answer;
  }
  Status login_succeeded(const std::string& user_key, const std::string& address_key) override {
    succeeded.emplace_back(user_key, address_key);
    return {};
  }
  bool down = false;
  store::LoginAdmission answer{.admitted = true, .retry_after = Seconds{0}};
  std::vector<std::pair<std::string, std::string>> begun;
  std::vector<std::pair<std::string, std::string>> succeeded;
  store::LoginSchedule last_schedule;
};

TEST(LoginLimiterShared, AsksTheSharedCountsWithTheScheduleAndKeepsNoCountOfItsOwn) {
  FakeCounts counts;
  LoginLimiter::Options options;
  options.free_failures = 3;
  options.base_delay = Seconds{2};
  LoginLimiter limiter(options, &counts);
  for (int i = 0; i < 20; ++i) {
    auto attempt = limiter.begin("alice", "192.0.2.1", kT0);
    ASSERT_TRUE(attempt.admitted()) << "the shared counts decide, and said yes";
    attempt.failed(kT0);
  }
  EXPECT_EQ(limiter.tracked(), 0U);
  ASSERT_EQ(counts.begun.size(), 20U);
  EXPECT_EQ(counts.last_schedule.free_failures, 3);
  EXPECT_EQ(counts.last_schedule.base_delay, Seconds{2});
  EXPECT_EQ(counts.last_schedule.max_delay, options.max_delay);
  EXPECT_EQ(counts.last_schedule.forget_after, options.forget_after);
  // Keys: 64 hex digits, the user's and the address's apart, the same for
  // the same user and address group.
  const auto [user_key, address_key] = counts.begun.front();
  EXPECT_EQ(user_key.size(), 64U);
  EXPECT_EQ(address_key.size(), 64U);
  EXPECT_NE(user_key, address_key);
  (void)limiter.begin("bob", "::ffff:192.0.2.1", kT0);
  EXPECT_EQ(counts.begun.back().second, address_key) << "an IPv4-mapped address is the same IPv4 address";
  EXPECT_NE(counts.begun.back().first, user_key);
  EXPECT_TRUE(counts.succeeded.empty()) << "a failure was counted when it began";
}

TEST(LoginLimiterShared, ASuccessIsToldToTheSharedCounts) {
  FakeCounts counts;
  LoginLimiter limiter(LoginLimiter::Options{}, &counts);
  {
    auto attempt = limiter.begin("alice", "192.0.2.1", kT0);
    ASSERT_TRUE(attempt.admitted());
    attempt.succeeded(kT0);
  }
  ASSERT_EQ(counts.succeeded.size(), 1U);
  EXPECT_EQ(counts.succeeded[0], counts.begun[0]);
  { auto dropped = limiter.begin("alice", "192.0.2.1", kT0); }
  EXPECT_EQ(counts.succeeded.size(), 1U) << "an attempt dropped unended stays counted";
}

TEST(LoginLimiterShared, RefusesWhileTheSharedCountsSayLocked) {
  FakeCounts counts;
  counts.answer = store::LoginAdmission{.admitted = false, .retry_after = Seconds{64}};
  LoginLimiter limiter(LoginLimiter::Options{}, &counts);
  auto attempt = limiter.begin("alice", "192.0.2.1", kT0);
  EXPECT_FALSE(attempt.admitted());
  EXPECT_FALSE(attempt.failed_closed());
  EXPECT_EQ(attempt.retry_after(), Seconds{64});
  EXPECT_EQ(attempt.refusal().code, ErrorCode::kRateLimited);
}

TEST(LoginLimiterShared, FailsClosedWhenTheSharedCountsCannotAnswer) {
  FakeCounts counts;
  counts.down = true;
  LoginLimiter limiter(LoginLimiter::Options{}, &counts);
  auto attempt = limiter.begin("alice", "192.0.2.1", kT0);
  EXPECT_FALSE(attempt.admitted()) << "a guess nobody counted is never checked";
  EXPECT_TRUE(attempt.failed_closed());
  EXPECT_EQ(attempt.refusal().code, ErrorCode::kUnavailable);
  attempt.succeeded(kT0);  // a caller that ignored the refusal: nothing happens
  EXPECT_TRUE(counts.succeeded.empty());
}

}  // namespace
}  // namespace hoist::auth
