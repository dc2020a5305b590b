// Conformance: failed logins counted in the store (store/logins.h), the
// way several hoistd replicas share them.
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "store_conformance.h"

namespace hoist::store::testing {
namespace {

using std::chrono::seconds;

LoginSchedule schedule(int free_failures, int base_s, int max_s, int forget_s) {
  return LoginSchedule{.free_failures = free_failures,
                       .base_delay = seconds{base_s},
                       .max_delay = seconds{max_s},
                       .forget_after = seconds{forget_s}};
}

bool admitted(Store& s, const std::string& user, const std::string& address, const LoginSchedule& sched) {
  auto a = s.begin_login(user, address, sched);
  EXPECT_TRUE(a.ok()) << a.error().message;
  return a.ok() && a->admitted;
}

TEST_P(StoreConformance, LoginsAreCountedAndLockedOnTheSchedule) {
  const auto sched = schedule(2, 1, 2, 60);
  EXPECT_TRUE(admitted(*store_, "u:alice", "a:1", sched));
  EXPECT_TRUE(admitted(*store_, "u:alice", "a:1", sched));
  EXPECT_TRUE(admitted(*store_, "u:alice", "a:1", sched)) << "the third (free_failures + 1) is let through";
  auto locked = store_->begin_login("u:alice", "a:1", sched);
  ASSERT_TRUE(locked.ok());
  EXPECT_FALSE(locked->admitted) << "then the keys are locked";
  EXPECT_EQ(locked->retry_after, seconds{1});
  // The user's lock holds from another address, the address's for another user.
  EXPECT_FALSE(admitted(*store_, "u:alice", "a:2", sched));
  EXPECT_FALSE(admitted(*store_, "u:bob", "a:1", sched));
  EXPECT_TRUE(admitted(*store_, "u:bob", "a:2", sched)) << "other keys are not locked";

  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_TRUE(admitted(*store_, "u:alice", "a:1", sched)) << "the lock ended";
  auto longer = store_->begin_login("u:alice", "a:1", sched);
  ASSERT_TRUE(longer.ok());
  EXPECT_FALSE(longer->admitted);
  EXPECT_EQ(longer->retry_after, seconds{2}) << "the 4th failure locks for twice the base";
}

TEST_P(StoreConformance, ALoginThatSucceededForgetsTheUserAndGivesTheAddressItsCountBack) {
  const auto sched = schedule(2, 60, 60, 120);
  EXPECT_TRUE(admitted(*store_, "u:alice", "a:1", sched));
  EXPECT_TRUE(admitted(*store_, "u:alice", "a:1", sched));
  ASSERT_TRUE(store_->login_succeeded("u:alice", "a:1").ok());
  // a:1 holds 1 failure now, not 2: two more are let through, then the lock.
  EXPECT_TRUE(admitted(*store_, "u:bob", "a:1", sched));
  EXPECT_TRUE(admitted(*store_, "u:carol", "a:1", sched));
  EXPECT_FALSE(admitted(*store_, "u:dave", "a:1", sched));
  // alice's count is gone: three from elsewhere before her lock.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(admitted(*store_, "u:alice", "a:2", sched)) << i;
  EXPECT_FALSE(admitted(*store_, "u:alice", "a:3", sched));
  // A success never takes an address below zero.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store_->login_succeeded("u:erin", "a:9").ok());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(admitted(*store_, "u:frank", "a:9", sched)) << i;
  EXPECT_FALSE(admitted(*store_, "u:grace", "a:9", sched));
}

TEST_P(StoreConformance, AnIdleLoginCountIsForgotten) {
  const auto sched = schedule(0, 1, 2, 3);
  EXPECT_TRUE(admitted(*store_, "u:alice", "a:1", sched));
  auto locked = store_->begin_login("u:alice", "a:1", sched);
  ASSERT_TRUE(locked.ok());
  EXPECT_FALSE(locked->admitted);
  std::this_thread::sleep_for(std::chrono::milliseconds(3200));
  EXPECT_TRUE(admitted(*store_, "u:alice", "a:1", sched));
  auto again = store_->begin_login("u:alice", "a:1", sched);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->admitted);
  EXPECT_EQ(again->retry_after, seconds{1}) << "counted from one again, not locked for a 2nd failure's 2 s";
}

TEST_P(StoreConformance, ParallelLoginsOnTwoStoresGetNoMoreTriesThanOneAfterAnother) {
  // Two stores on one database: two replicas (or, on SQLite, two processes).
  auto other = GetParam().reopen(handle_);
  ASSERT_NE(other, nullptr);
  const auto sched = schedule(5, 60, 60, 120);
  std::atomic<int> let_through{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Store& s = (t % 2 == 0) ? *store_ : *other;
      for (int i = 0; i < 4; ++i) {
        // Every thread guesses alice's password from an address of its own.
        auto a = s.begin_login("u:alice", "a:" + std::to_string(t), sched);
        if (!a.ok()) {
          ++errors;
        } else if (a->admitted) {
          ++let_through;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(let_through.load(), 6) << "free_failures + 1, as one after another";
}

TEST_P(StoreConformance, ALoginNeedsTwoDifferentKeysAndASaneSchedule) {
  const auto sched = schedule(5, 1, 60, 120);
  EXPECT_EQ(store_->begin_login("", "a:1", sched).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->begin_login("u:alice", "", sched).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->begin_login("k", "k", sched).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->begin_login("u:alice", "a:1", schedule(5, 0, 60, 120)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->begin_login("u:alice", "a:1", schedule(5, 1, 60, 60)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->login_succeeded("", "a:1").error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(admitted(*store_, "u:alice", "a:1", sched)) << "nothing was counted by the refused calls";
}

}  // namespace
}  // namespace hoist::store::testing
