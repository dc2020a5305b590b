// Conformance: endpoints and enrolment tokens in the store.
#include <atomic>
#include <thread>

#include "store_conformance.h"

namespace hoist::store::testing {
namespace {

const TimePoint kT0{Seconds{1'800'000'000}};

EnrollmentTokenRecord enrol_token(const std::string& id, int uses, TimePoint expires = kT0 + Seconds{3600}) {
  EnrollmentTokenRecord t;
  t.id = id;
  t.secret_hash = sha256("enrol-" + id).hex();
  t.labels = {"laptops", "paris"};
  t.uses_left = uses;
  t.expires_at = expires;
  t.created_by = "alice";
  t.created_at = kT0;
  return t;
}

EndpointRecord endpoint(const std::string& id, const std::string& host) {
  EndpointRecord e;
  e.id = id;
  e.hostname = host;
  e.labels = {"laptops", "paris"};
  e.credential_hash = sha256("cred-" + id).hex();
  e.agent_version = "0.1.0";
  e.enrolled_at = kT0;
  return e;
}

Result<EnrollmentTokenRecord> use(Store& s, const std::string& id, TimePoint now) {
  return tx_result<EnrollmentTokenRecord>(s, [&](StoreTx& tx) { return tx.use_enrollment_token(id, now); });
}

TEST_P(StoreConformance, EnrollmentTokenUsesAreCounted) {
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.insert_enrollment_token(enrol_token("et-1", 2)); }).ok());
  auto read = store_->enrollment_token("et-1");
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->labels, (std::vector<std::string>{"laptops", "paris"}));
  EXPECT_EQ((*read)->secret_hash, sha256("enrol-et-1").hex());
  EXPECT_EQ((*read)->uses_left, 2);
  auto first = use(*store_, "et-1", kT0 + Seconds{1});
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->uses_left, 1);
  EXPECT_EQ(first->labels, (std::vector<std::string>{"laptops", "paris"}));
  ASSERT_TRUE(use(*store_, "et-1", kT0 + Seconds{2}).ok());
  auto third = use(*store_, "et-1", kT0 + Seconds{3});
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(third.error().message.find("no uses left"), std::string::npos);
  EXPECT_EQ((*store_->enrollment_token("et-1"))->uses_left, 0);
  EXPECT_EQ(use(*store_, "et-none", kT0).error().code, ErrorCode::kNotFound);
}

TEST_P(StoreConformance, ExpiredOrRevokedEnrollmentTokensAreRefused) {
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.insert_enrollment_token(enrol_token("et-2", 5)); }).ok());
  const TimePoint expiry = kT0 + Seconds{3600};
  EXPECT_TRUE(use(*store_, "et-2", expiry - Seconds{1}).ok());
  auto at_expiry = use(*store_, "et-2", expiry);  // the expiry instant is already too late
  ASSERT_FALSE(at_expiry.ok());
  EXPECT_NE(at_expiry.error().message.find("expired"), std::string::npos);
  EXPECT_EQ((*store_->enrollment_token("et-2"))->uses_left, 4);  // a refused use takes nothing

  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.insert_enrollment_token(enrol_token("et-3", 5)); }).ok());
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.revoke_enrollment_token("et-3", kT0 + Seconds{5}); }).ok());
  auto revoked = use(*store_, "et-3", kT0 + Seconds{6});
  ASSERT_FALSE(revoked.ok());
  EXPECT_EQ(revoked.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(revoked.error().message.find("revoked"), std::string::npos);
  EXPECT_EQ(in_tx(*store_, [](StoreTx& tx) { return tx.revoke_enrollment_token("et-x", kT0); }).error().code,
            ErrorCode::kNotFound);
}

TEST_P(StoreConformance, EnrollmentTokensAreListedNewestFirstWithTheirState) {
  EXPECT_TRUE(store_->enrollment_tokens()->empty());
  auto older = enrol_token("et-a", 1);
  auto newer = enrol_token("et-b", 3);
  newer.created_at = kT0 + Seconds{60};
  newer.labels = {"lab"};
  ASSERT_TRUE(in_tx(*store_, [&](StoreTx& tx) { return tx.insert_enrollment_token(older); }).ok());
  ASSERT_TRUE(in_tx(*store_, [&](StoreTx& tx) { return tx.insert_enrollment_token(newer); }).ok());
  ASSERT_TRUE(use(*store_, "et-a", kT0 + Seconds{1}).ok());
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.revoke_enrollment_token("et-b", kT0 + Seconds{70}); }).ok());
  auto all = store_->enrollment_tokens();
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 2U);
  EXPECT_EQ((*all)[0].id, "et-b");
  EXPECT_EQ((*all)[0].labels, std::vector<std::string>{"lab"});
  EXPECT_EQ((*all)[0].revoked_at, kT0 + Seconds{70});
  EXPECT_EQ((*all)[1].id, "et-a");
  EXPECT_EQ((*all)[1].uses_left, 0);
  EXPECT_EQ((*all)[1].created_by, "alice");
}

TEST_P(StoreConformance, BadEnrollmentTokensAreRefused) {
  EXPECT_EQ(in_tx(*store_, [](StoreTx& tx) { return tx.insert_enrollment_token(enrol_token("et-0", 0)); }).error().code,
            ErrorCode::kInvalidArgument);
  auto no_secret = enrol_token("et-4", 1);
  no_secret.secret_hash.clear();
  EXPECT_EQ(in_tx(*store_, [&](StoreTx& tx) { return tx.insert_enrollment_token(no_secret); }).error().code,
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.insert_enrollment_token(enrol_token("et-5", 1)); }).ok());
  EXPECT_EQ(in_tx(*store_, [](StoreTx& tx) { return tx.insert_enrollment_token(enrol_token("et-5", 3)); }).error().code,
            ErrorCode::kConflict);
  EXPECT_EQ((*store_->enrollment_token("et-5"))->uses_left, 1);
  EXPECT_FALSE(store_->enrollment_token("et-0")->has_value());
}

TEST_P(StoreConformance, TheLastUseGoesToExactlyOneOfManyAgents) {
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.insert_enrollment_token(enrol_token("et-6", 3)); }).ok());
  std::atomic<int> won{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> agents;
  for (int i = 0; i < 8; ++i) {
    agents.emplace_back([&] {
      auto r = use(*store_, "et-6", kT0 + Seconds{1});
      if (r.ok()) {
        ++won;
      } else if (r.error().code == ErrorCode::kPermissionDenied) {
        ++refused;
      }
    });
  }
  for (auto& a : agents) a.join();
  EXPECT_EQ(won.load(), 3);
  EXPECT_EQ(refused.load(), 5);
}

TEST_P(StoreConformance, EndpointsRoundTripHeartbeatAndRetire) {
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.insert_endpoint(endpoint("ep-b", "web-2")); }).ok());
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.insert_endpoint(endpoint("ep-a", "laptop-1")); }).ok());
  EXPECT_EQ(in_tx(*store_, [](StoreTx& tx) { return tx.insert_endpoint(endpoint("ep-a", "evil")); }).error().code,
            ErrorCode::kConflict);
  auto a = store_->endpoint("ep-a");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->hostname, "laptop-1");
  EXPECT_EQ((*a)->labels, (std::vector<std::string>{"laptops", "paris"}));
  EXPECT_EQ((*a)->credential_hash, sha256("cred-ep-a").hex());
  EXPECT_FALSE((*a)->last_seen.has_value());

  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.record_heartbeat("ep-a", kT0 + Seconds{60}, "0.2.0"); }).ok());
  a = store_->endpoint("ep-a");
  EXPECT_EQ((*a)->last_seen, kT0 + Seconds{60});
  EXPECT_EQ((*a)->agent_version, "0.2.0");

  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.retire_endpoint("ep-a", kT0 + Seconds{120}); }).ok());
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.retire_endpoint("ep-a", kT0 + Seconds{999}); }).ok());
  a = store_->endpoint("ep-a");
  EXPECT_EQ((*a)->retired_at, kT0 + Seconds{120});  // the first retirement stands
  EXPECT_TRUE((*a)->credential_hash.empty());       // the credential is dead
  EXPECT_EQ(
      in_tx(*store_, [](StoreTx& tx) { return tx.record_heartbeat("ep-a", kT0 + Seconds{130}, "0.2.0"); }).error().code,
      ErrorCode::kPermissionDenied);
  EXPECT_EQ((*store_->endpoint("ep-a"))->last_seen, kT0 + Seconds{60});
  EXPECT_EQ(in_tx(*store_, [](StoreTx& tx) { return tx.record_heartbeat("ep-x", kT0, "0.1.0"); }).error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(in_tx(*store_, [](StoreTx& tx) { return tx.retire_endpoint("ep-x", kT0); }).error().code,
            ErrorCode::kNotFound);

  std::vector<std::string> ids;
  for (const auto& e : *store_->endpoints()) ids.push_back(e.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"ep-a", "ep-b"}));
}

// An agent's re-sent event is recognised by its id, per endpoint.
TEST_P(StoreConformance, AgentEventsAreRecordedOnce) {
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.insert_endpoint(endpoint("ep-a", "a")); }).ok());
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.insert_endpoint(endpoint("ep-b", "b")); }).ok());
  const auto record = [&](const std::string& id, const std::string& ep) {
    return tx_result<bool>(*store_, [&](StoreTx& tx) { return tx.record_agent_event(id, ep, "decision", kT0); });
  };
  auto first = record("ev-1", "ep-a");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(*first);
  auto again = record("ev-1", "ep-a");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE(*again);
  EXPECT_EQ(record("ev-1", "ep-b").error().code, ErrorCode::kConflict);
  EXPECT_TRUE(*record("ev-2", "ep-b"));
  EXPECT_EQ(record("ev-3", "ep-none").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(record("", "ep-a").error().code, ErrorCode::kInvalidArgument);
  // A rolled-back transaction records nothing.
  const auto rolled_back = in_tx(*store_, [](StoreTx& tx) -> Status {
    auto r = tx.record_agent_event("ev-4", "ep-a", "decision", kT0);
    if (!r.ok()) return r.error();
    return internal_error("abort");
  });
  EXPECT_FALSE(rolled_back.ok());
  EXPECT_TRUE(*record("ev-4", "ep-a"));
}

TEST_P(StoreConformance, EndpointWithoutCredentialIsRefused) {
  auto e = endpoint("ep-c", "host");
  e.credential_hash.clear();
  EXPECT_EQ(in_tx(*store_, [&](StoreTx& tx) { return tx.insert_endpoint(e); }).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_FALSE(store_->endpoint("ep-c")->has_value());
}

TEST_P(StoreConformance, EnrollmentAndEndpointCommitTogether) {
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) { return tx.insert_enrollment_token(enrol_token("et-7", 1)); }).ok());
  // The token's use and the new endpoint are one transaction: if storing
  // the endpoint fails, the use is not spent.
  const Status st = in_tx(*store_, [](StoreTx& tx) -> Status {
    auto t = tx.use_enrollment_token("et-7", kT0 + Seconds{1});
    if (!t.ok()) return t.error();
    auto e = endpoint("ep-d", "host-d");
    e.credential_hash.clear();  // fails
    return tx.insert_endpoint(e);
  });
  EXPECT_FALSE(st.ok());
  EXPECT_EQ((*store_->enrollment_token("et-7"))->uses_left, 1);
  EXPECT_FALSE(store_->endpoint("ep-d")->has_value());
}

}  // namespace
}  // namespace hoist::store::testing
