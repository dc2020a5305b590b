// Conformance: console users and API tokens in the store.
#include <atomic>
#include <thread>
#include <vector>

#include "store_conformance.h"

namespace hoist::store::testing {
namespace {

const TimePoint kT0{Seconds{1'800'000'000}};

UserRecord user(const std::string& name, Role role = Role::kApprover) {
  UserRecord u;
  u.name = name;
  u.role = role;
  u.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
  u.created_at = kT0;
  return u;
}

TokenRecord token(const std::string& id, const std::string& owner) {
  TokenRecord t;
  t.id = id;
  t.user = owner;
  t.label = "ci pipeline";
  t.secret_hash = sha256("secret-" + id).hex();
  t.created_at = kT0;
  t.expires_at = kT0 + Seconds{90 * 86400};
  return t;
}

Status add_user(Store& s, const UserRecord& u) {
  auto r = tx_result<UserRecord>(s, [&](StoreTx& tx) { return tx.insert_user(u); });
  return r.ok() ? Status{} : Status{r.error()};
}

TEST_P(StoreConformance, UsersRoundTripAndNamesAreUnique) {
  ASSERT_TRUE(add_user(*store_, user("bob")).ok());
  ASSERT_TRUE(add_user(*store_, user("alice", Role::kAdmin)).ok());
  ASSERT_TRUE(add_user(*store_, user("audrey", Role::kAuditor)).ok());
  const auto again = add_user(*store_, user("bob", Role::kAdmin));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);

  auto bob = store_->user("bob");
  ASSERT_TRUE(bob.ok() && bob->has_value());
  EXPECT_EQ((*bob)->role, Role::kApprover);  // the duplicate did not change it
  EXPECT_EQ((*bob)->password_hash, user("bob").password_hash);
  EXPECT_EQ((*bob)->created_at, kT0);
  EXPECT_FALSE((*bob)->disabled);
  EXPECT_EQ((*bob)->version, 1);
  EXPECT_FALSE(store_->user("nobody")->has_value());

  std::vector<std::string> names;
  for (const auto& u : *store_->users()) names.push_back(u.name);
  EXPECT_EQ(names, (std::vector<std::string>{"alice", "audrey", "bob"}));
}

TEST_P(StoreConformance, OnlyTheFirstUserIsMadeByInsertFirstUser) {
  auto first =
      tx_result<UserRecord>(*store_, [&](StoreTx& tx) { return tx.insert_first_user(user("root-a", Role::kAdmin)); });
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second =
      tx_result<UserRecord>(*store_, [&](StoreTx& tx) { return tx.insert_first_user(user("root-b", Role::kAdmin)); });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
  auto all = store_->users();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1U);
  EXPECT_EQ(all->front().name, "root-a");
}

TEST_P(StoreConformance, FirstUsersMadeAtOnceThroughTwoStoresMakeOne) {
  // Two stores on one database (two replicas, or two processes on SQLite),
  // each making "the first admin" under a name of its own, at once.
  auto other = GetParam().reopen(handle_);
  ASSERT_NE(other, nullptr);
  std::atomic<int> made{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      Store& s = (t % 2 == 0) ? *store_ : *other;
      auto r = tx_result<UserRecord>(
          s, [&](StoreTx& tx) { return tx.insert_first_user(user("admin-" + std::to_string(t), Role::kAdmin)); });
      if (r.ok()) {
        ++made;
      } else if (r.error().code == ErrorCode::kConflict) {
        ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(made.load(), 1);
  EXPECT_EQ(refused.load(), 5);
  auto all = store_->users();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1U);
}

TEST_P(StoreConformance, UserWithoutPasswordHashIsRefused) {
  UserRecord u = user("eve");
  u.password_hash.clear();
  EXPECT_EQ(add_user(*store_, u).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(store_->user("eve")->has_value());
}

TEST_P(StoreConformance, UserUpdatesAreVersioned) {
  ASSERT_TRUE(add_user(*store_, user("bob")).ok());
  UserRecord read = **store_->user("bob");
  UserRecord promoted = read;
  promoted.role = Role::kAdmin;
  UserRecord disabled = read;
  disabled.disabled = true;
  std::optional<UserRecord> after;
  ASSERT_TRUE(in_tx(*store_, [&](StoreTx& tx) -> Status {
                auto r = tx.update_user(promoted);
                if (!r.ok()) return r.error();
                after = *r;
                return {};
              }).ok());
  EXPECT_EQ(after->version, 2);
  EXPECT_EQ(after->role, Role::kAdmin);
  // A second admin acting on the old version loses.
  const Status stale = in_tx(*store_, [&](StoreTx& tx) -> Status {
    auto r = tx.update_user(disabled);
    return r.ok() ? Status{} : Status{r.error()};
  });
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);
  EXPECT_FALSE((*store_->user("bob"))->disabled);
  UserRecord ghost = user("ghost");
  ghost.version = 1;
  const Status missing = in_tx(*store_, [&](StoreTx& tx) -> Status {
    auto r = tx.update_user(ghost);
    return r.ok() ? Status{} : Status{r.error()};
  });
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_P(StoreConformance, TokensBelongToExistingUsers) {
  ASSERT_TRUE(add_user(*store_, user("bob")).ok());
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.insert_token(token("tok-a", "bob")); }).ok());
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.insert_token(token("tok-b", "bob")); }).ok());
  EXPECT_EQ(in_tx(*store_, [](StoreTx& tx) { return tx.insert_token(token("tok-a", "bob")); }).error().code,
            ErrorCode::kConflict);
  EXPECT_EQ(in_tx(*store_, [](StoreTx& tx) { return tx.insert_token(token("tok-c", "nobody")); }).error().code,
            ErrorCode::kNotFound);
  TokenRecord no_secret = token("tok-d", "bob");
  no_secret.secret_hash.clear();
  EXPECT_EQ(in_tx(*store_, [&](StoreTx& tx) { return tx.insert_token(no_secret); }).error().code,
            ErrorCode::kInvalidArgument);

  auto t = store_->token("tok-a");
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((*t)->user, "bob");
  EXPECT_EQ((*t)->label, "ci pipeline");
  EXPECT_EQ((*t)->secret_hash, sha256("secret-tok-a").hex());
  EXPECT_EQ((*t)->expires_at, kT0 + Seconds{90 * 86400});
  EXPECT_FALSE((*t)->revoked_at.has_value());
  EXPECT_FALSE((*t)->last_used_at.has_value());
  EXPECT_FALSE(store_->token("tok-c")->has_value());
  std::vector<std::string> ids;
  for (const auto& x : *store_->tokens("bob")) ids.push_back(x.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"tok-a", "tok-b"}));
  EXPECT_TRUE(store_->tokens("nobody")->empty());
}

TEST_P(StoreConformance, RevocationIsRecordedOnceAndUseIsTracked) {
  ASSERT_TRUE(add_user(*store_, user("bob")).ok());
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.insert_token(token("tok-a", "bob")); }).ok());
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.touch_token("tok-a", kT0 + Seconds{5}); }).ok());
  EXPECT_EQ((*store_->token("tok-a"))->last_used_at, kT0 + Seconds{5});
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.revoke_token("tok-a", kT0 + Seconds{10}); }).ok());
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.revoke_token("tok-a", kT0 + Seconds{99}); }).ok());
  EXPECT_EQ((*store_->token("tok-a"))->revoked_at, kT0 + Seconds{10});  // the first revocation stands
  EXPECT_EQ(in_tx(*store_, [](StoreTx& tx) { return tx.revoke_token("tok-x", kT0); }).error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(in_tx(*store_, [](StoreTx& tx) { return tx.touch_token("tok-x", kT0); }).error().code,
            ErrorCode::kNotFound);
}

// A new password or disabling the user: every live token dies, once.
TEST_P(StoreConformance, RevokingAUsersTokensTakesOnlyTheLiveOnesOfThatUser) {
  ASSERT_TRUE(add_user(*store_, user("bob")).ok());
  ASSERT_TRUE(add_user(*store_, user("carol")).ok());
  TokenRecord expired = token("tok-old", "bob");
  expired.expires_at = kT0 + Seconds{5};
  TokenRecord forever = token("tok-forever", "bob");
  forever.expires_at.reset();
  for (const auto& t : {token("tok-a", "bob"), token("tok-b", "bob"), expired, forever, token("tok-c", "carol")}) {
    ASSERT_TRUE(in_tx(*store_, [&](StoreTx& tx) { return tx.insert_token(t); }).ok()) << t.id;
  }
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.revoke_token("tok-b", kT0 + Seconds{7}); }).ok());
  const auto revoke_bobs = [&](TimePoint at) {
    std::size_t n = 0;
    auto st = in_tx(*store_, [&](StoreTx& tx) -> Status {
      auto r = tx.revoke_user_tokens("bob", at);
      if (!r.ok()) return r.error();
      n = *r;
      return {};
    });
    EXPECT_TRUE(st.ok());
    return n;
  };
  EXPECT_EQ(revoke_bobs(kT0 + Seconds{10}), 2U) << "tok-a and tok-forever";
  EXPECT_EQ((*store_->token("tok-a"))->revoked_at, kT0 + Seconds{10});
  EXPECT_EQ((*store_->token("tok-forever"))->revoked_at, kT0 + Seconds{10});
  EXPECT_EQ((*store_->token("tok-b"))->revoked_at, kT0 + Seconds{7}) << "the first revocation stands";
  EXPECT_FALSE((*store_->token("tok-old"))->revoked_at.has_value()) << "expired, not revoked";
  EXPECT_FALSE((*store_->token("tok-c"))->revoked_at.has_value()) << "another user's";
  EXPECT_EQ(revoke_bobs(kT0 + Seconds{20}), 0U);
  EXPECT_EQ((*store_->token("tok-a"))->revoked_at, kT0 + Seconds{10});
}

}  // namespace
}  // namespace hoist::store::testing
