// Conformance: versioned policies and their assignment to endpoint groups.
#include "store_conformance.h"

namespace hoist::store::testing {
namespace {

const TimePoint kT0{Seconds{1'800'000'000}};

PolicyVersion version_of(const std::string& name, const std::string& text, const std::string& author = "alice") {
  return PolicyVersion{name, 0, text, author, "why: " + text, kT0};
}

Result<PolicyVersion> add(Store& s, const PolicyVersion& v, int expected) {
  return tx_result<PolicyVersion>(s, [&](StoreTx& tx) { return tx.add_policy_version(v, expected); });
}

Status assign(Store& s, const std::string& name, const std::vector<std::string>& labels) {
  return s.write([&](StoreTx& tx) { return tx.assign_policy(name, labels); });
}

std::vector<std::string> names(const Result<std::vector<PolicyRecord>>& r) {
  std::vector<std::string> out;
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (r.ok()) {
    for (const auto& p : *r) out.push_back(p.name);
  }
  return out;
}

TEST_P(StoreConformance, PolicyVersionsAreNumberedAndKept) {
  auto v1 = add(*store_, version_of("laptops", "version = 1\n"), 0);
  ASSERT_TRUE(v1.ok()) << v1.error().message;
  EXPECT_EQ(v1->version, 1);
  auto v2 = add(*store_, version_of("laptops", "version = 1\n# v2\n", "bob"), 1);
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->version, 2);
  const auto p = **store_->policy("laptops");
  EXPECT_EQ(p.current_version, 2);
  EXPECT_FALSE(p.deleted_at.has_value());
  const auto old = **store_->policy_version("laptops", 1);
  EXPECT_EQ(old.text, "version = 1\n");
  EXPECT_EQ(old.author, "alice");
  EXPECT_EQ(old.comment, "why: version = 1\n");
  EXPECT_EQ(old.created_at, kT0);
  const auto history = *store_->policy_history("laptops");
  ASSERT_EQ(history.size(), 2U);
  EXPECT_EQ(history[1].author, "bob");
  EXPECT_FALSE(store_->policy_version("laptops", 3)->has_value());
  EXPECT_FALSE(store_->policy("servers")->has_value());
}

TEST_P(StoreConformance, ConcurrentPolicyEditsConflict) {
  ASSERT_TRUE(add(*store_, version_of("p", "a"), 0).ok());
  // Alice and Bob both read version 1.
  ASSERT_TRUE(add(*store_, version_of("p", "alice's edit"), 1).ok());
  auto bob = add(*store_, version_of("p", "bob's edit", "bob"), 1);
  ASSERT_FALSE(bob.ok());
  EXPECT_EQ(bob.error().code, ErrorCode::kConflict);
  EXPECT_EQ((*store_->policy("p"))->current_version, 2);
  EXPECT_EQ((*store_->policy_version("p", 2))->text, "alice's edit");
  // Creating a policy that exists is also a conflict.
  EXPECT_EQ(add(*store_, version_of("p", "again"), 0).error().code, ErrorCode::kConflict);
}

TEST_P(StoreConformance, PolicyVersionNeedsTextAndAuthor) {
  EXPECT_EQ(add(*store_, version_of("p", ""), 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(add(*store_, version_of("p", "x", ""), 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(add(*store_, version_of("", "x"), 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(store_->policies()->empty());
}

TEST_P(StoreConformance, PoliciesApplyToTheirEndpointGroups) {
  ASSERT_TRUE(add(*store_, version_of("laptops", "l"), 0).ok());
  ASSERT_TRUE(add(*store_, version_of("web", "w"), 0).ok());
  ASSERT_TRUE(add(*store_, version_of("everyone", "e"), 0).ok());
  ASSERT_TRUE(assign(*store_, "laptops", {"laptops"}).ok());
  ASSERT_TRUE(assign(*store_, "web", {"web-servers", "dmz"}).ok());
  ASSERT_TRUE(assign(*store_, "everyone", {"laptops", "web-servers"}).ok());
  using V = std::vector<std::string>;
  EXPECT_EQ(names(store_->policies_for_labels({"laptops"})), (V{"everyone", "laptops"}));
  EXPECT_EQ(names(store_->policies_for_labels({"dmz", "paris"})), (V{"web"}));
  EXPECT_EQ(names(store_->policies_for_labels({"laptops", "web-servers"})), (V{"everyone", "laptops", "web"}));
  EXPECT_EQ(names(store_->policies_for_labels({"nowhere"})), V{});
  EXPECT_EQ(names(store_->policies_for_labels({})), V{});
  EXPECT_EQ(names(store_->policies_for_labels({"x' OR '1'='1"})), V{});
  // Re-assigning replaces the groups.
  ASSERT_TRUE(assign(*store_, "laptops", {"macs"}).ok());
  EXPECT_EQ(names(store_->policies_for_labels({"laptops"})), (V{"everyone"}));
  EXPECT_EQ((*store_->policy("laptops"))->labels, (V{"macs"}));
  EXPECT_EQ(assign(*store_, "missing", {"x"}).error().code, ErrorCode::kNotFound);
}

TEST_P(StoreConformance, LabelListsOfAnyLengthFindTheirPolicies) {
  ASSERT_TRUE(add(*store_, version_of("web", "w"), 0).ok());
  ASSERT_TRUE(add(*store_, version_of("db", "d"), 0).ok());
  ASSERT_TRUE(assign(*store_, "web", {"web-servers"}).ok());
  ASSERT_TRUE(assign(*store_, "db", {"db-servers"}).ok());
  using V = std::vector<std::string>;
  for (const std::size_t n : {1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 511, 513, 999, 1000}) {
    V labels;
    for (std::size_t i = 0; i + 1 < n; ++i) labels.push_back("other-" + std::to_string(i));
    labels.push_back("web-servers");  // last, where a short list of placeholders would miss it
    EXPECT_EQ(names(store_->policies_for_labels(labels)), (V{"web"})) << n << " labels";
    labels.front() = "db-servers";
    EXPECT_EQ(names(store_->policies_for_labels(labels)), (n == 1 ? V{"db"} : V{"db", "web"})) << n << " labels";
  }
  EXPECT_EQ(store_->policies_for_labels(V(kMaxPage + 1, "web-servers")).error().code, ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformance, DeletedPoliciesKeepHistoryAndApplyNowhere) {
  ASSERT_TRUE(add(*store_, version_of("p", "v1"), 0).ok());
  ASSERT_TRUE(add(*store_, version_of("p", "v2"), 1).ok());
  ASSERT_TRUE(assign(*store_, "p", {"laptops"}).ok());
  ASSERT_TRUE(store_->write([](StoreTx& tx) { return tx.delete_policy("p", kT0 + Seconds{10}); }).ok());
  EXPECT_TRUE(store_->policies_for_labels({"laptops"})->empty());
  const auto deleted = **store_->policy("p");
  EXPECT_EQ(deleted.deleted_at, kT0 + Seconds{10});
  EXPECT_TRUE(deleted.labels.empty());
  EXPECT_EQ(store_->policy_history("p")->size(), 2U);
  EXPECT_EQ(store_->write([](StoreTx& tx) { return tx.delete_policy("p", kT0); }).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(assign(*store_, "p", {"laptops"}).error().code, ErrorCode::kNotFound);
  // Re-created, it continues its numbering: versions are never reused.
  auto v3 = add(*store_, version_of("p", "v3"), 0);
  ASSERT_TRUE(v3.ok()) << v3.error().message;
  EXPECT_EQ(v3->version, 3);
  EXPECT_FALSE((*store_->policy("p"))->deleted_at.has_value());
}

}  // namespace
}  // namespace hoist::store::testing
