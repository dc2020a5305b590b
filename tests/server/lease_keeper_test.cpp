// LeaseKeeper (server/lease_keeper.h) over a fake Replicas whose database
// can grant, refuse or fail each lease: what it holds, when it stops
// holding, and that it gives back what it held.
#include "server/lease_keeper.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace hoist::server {
namespace {

class Quiet final : public log::Logger {
 public:
  void log(log::LogLevel /*level*/, std::string_view event, std::initializer_list<log::LogField> /*fields*/) override {
    const std::lock_guard lock(mu);
    events.emplace_back(event);
  }
  std::mutex mu;
  std::vector<std::string> events;
};

// What the database would answer: the holder of each lease, or a failure.
class FakeReplicas final : public store::Replicas {
 public:
  [[nodiscard]] bool shared() const override { return true; }
  void publish(std::string_view /*channel*/, std::string_view /*payload*/) override {}
  void listen(OnChange /*on_change*/, std::function<void()> /*on_resync*/) override {}
  void stop() override {}
  [[nodiscard]] bool listening() const override { return true; }
  Result<bool> hold_lease(const std::string& name, const std::string& holder, std::chrono::seconds /*ttl*/) override {
    const std::lock_guard lock(mu);
    ++renewals;
    if (down) return unavailable("database: down");
    auto it = holders.find(name);
    if (it == holders.end() || it->second == holder) {
      holders[name] = holder;
      return true;
    }
    return false;
  }
  Status release_lease(const std::string& name, const std::string& holder) override {
    const std::lock_guard lock(mu);
    if (holders[name] == holder) holders.erase(name);
    released.insert(name);
    return {};
  }
  Result<std::string> claim_key_fingerprint(const std::string& /*name*/, const std::string& fingerprint) override {
    return fingerprint;
  }

  std::mutex mu;
  std::map<std::string, std::string> holders;
  std::set<std::string> released;
  bool down = false;
  int renewals = 0;
};

LeaseKeeper::Options fast() {
  LeaseKeeper::Options o;
  o.ttl = std::chrono::seconds(3);
  o.renew_every = std::chrono::milliseconds(50);
  return o;
}

TEST(LeaseKeeper, HoldsWhatTheDatabaseGrantsAtOnceAndNotTheRest) {
  FakeReplicas db;
  db.holders["outbox"] = "another";
  Quiet log;
  const LeaseKeeper keeper(db, "me", {"expiry", "outbox"}, log, fast());
  EXPECT_TRUE(keeper.held("expiry"));  // taken before the constructor returned
  EXPECT_FALSE(keeper.held("outbox"));
  EXPECT_FALSE(keeper.held("retention"));  // never asked for
}

TEST(LeaseKeeper, TakesALeaseOnceItsHolderLetsGo) {
  FakeReplicas db;
  db.holders["outbox"] = "another";
  Quiet log;
  const LeaseKeeper keeper(db, "me", {"outbox"}, log, fast());
  ASSERT_FALSE(keeper.held("outbox"));
  {
    const std::lock_guard lock(db.mu);
    db.holders.erase("outbox");
  }
  for (int i = 0; i < 100 && !keeper.held("outbox"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(keeper.held("outbox"));
}

TEST(LeaseKeeper, StopsHoldingWhenItCannotRenewBeforeTheDatabaseCouldGiveItAway) {
  FakeReplicas db;
  Quiet log;
  LeaseKeeper::Options o = fast();
  o.ttl = std::chrono::seconds(1);
  const LeaseKeeper keeper(db, "me", {"expiry"}, log, o);
  ASSERT_TRUE(keeper.held("expiry"));
  const auto down_at = std::chrono::steady_clock::now();
  {
    const std::lock_guard lock(db.mu);
    db.down = true;
  }
  // A failed renewal drops it at once; in any case no later than two
  // thirds of the ttl after the last renewal that went through.
  while (keeper.held("expiry") && std::chrono::steady_clock::now() - down_at < std::chrono::seconds(2)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(keeper.held("expiry"));
  EXPECT_LT(std::chrono::steady_clock::now() - down_at, std::chrono::milliseconds(700));
}

TEST(LeaseKeeper, GivesBackWhatItHeldWhenItStops) {
  FakeReplicas db;
  db.holders["outbox"] = "another";
  Quiet log;
  {
    const LeaseKeeper keeper(db, "me", {"expiry", "outbox"}, log, fast());
    ASSERT_TRUE(keeper.held("expiry"));
  }
  EXPECT_EQ(db.released, (std::set<std::string>{"expiry"}));
  EXPECT_EQ(db.holders.count("expiry"), 0U);
  EXPECT_EQ(db.holders.at("outbox"), "another");
}

TEST(LeaseKeeper, WhereNothingIsSharedEveryLeaseIsHeldAndNothingRuns) {
  store::LocalReplicas local;
  Quiet log;
  const LeaseKeeper keeper(local, "me", {"expiry"}, log, fast());
  EXPECT_TRUE(keeper.held("expiry"));
  EXPECT_TRUE(keeper.held("anything"));
}

TEST(LeaseKeeper, HoldersDifferFromProcessToProcessAndCall) {
  EXPECT_NE(LeaseKeeper::make_holder(), LeaseKeeper::make_holder());
}

}  // namespace
}  // namespace hoist::server
