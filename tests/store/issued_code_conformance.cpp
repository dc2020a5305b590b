// Conformance: endpoints' codes key generations and the offline admin codes
// issued for them (never the code itself), marked used once.
#include "store_conformance.h"

namespace hoist::store::testing {
namespace {

const TimePoint kT0{Seconds{1'800'000'000}};

Status add_endpoint(Store& s, const std::string& id) {
  return s.write([&](StoreTx& tx) {
    EndpointRecord e;
    e.id = id;
    e.hostname = "host-" + id;
    e.credential_hash = sha256(id).hex();
    e.enrolled_at = kT0;
    return tx.insert_endpoint(e);
  });
}

IssuedCode code(const std::string& endpoint, IssuedCodeKind kind, std::int64_t ref, const std::string& user = "alice",
                std::uint32_t generation = 1) {
  IssuedCode c;
  c.endpoint_id = endpoint;
  c.kind = kind;
  c.ref = ref;
  c.generation = generation;
  c.user = user;
  c.duration_s = 3600;
  c.command = kind == IssuedCodeKind::kPreIssued ? "/usr/bin/apt-get" : "";
  c.issued_by = "user:helpdesk";
  c.issued_at = kT0;
  if (kind == IssuedCodeKind::kPreIssued) c.valid_until = kT0 + Seconds{3 * 86400};
  return c;
}

Result<IssuedCode> issue(Store& s, const IssuedCode& c) {
  return tx_result<IssuedCode>(s, [&](StoreTx& tx) { return tx.insert_issued_code(c); });
}

Result<std::optional<std::int64_t>> use(Store& s, const std::string& endpoint, IssuedCodeKind kind, std::int64_t ref,
                                        const std::string& user = "alice", std::uint32_t generation = 1,
                                        const std::string& event = "ev-1") {
  return tx_result<std::optional<std::int64_t>>(s, [&](StoreTx& tx) {
    return tx.mark_code_used(CodeUse{endpoint, kind, ref, generation, user, kT0 + Seconds{60}, event});
  });
}

std::vector<IssuedCode> list(Store& s, IssuedCodeFilter f = {}) {
  auto r = s.issued_codes(f);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : std::vector<IssuedCode>{};
}

TEST_P(StoreConformance, EndpointsStartAtCodesKeyGenerationOneAndRotate) {
  ASSERT_TRUE(add_endpoint(*store_, "ep-1").ok());
  EXPECT_EQ((*store_->endpoint("ep-1"))->codes_key_generation, 1U);
  auto two = tx_result<std::uint32_t>(*store_, [](StoreTx& tx) { return tx.bump_codes_key_generation("ep-1"); });
  ASSERT_TRUE(two.ok()) << two.error().message;
  EXPECT_EQ(*two, 2U);
  EXPECT_EQ(*tx_result<std::uint32_t>(*store_, [](StoreTx& tx) { return tx.bump_codes_key_generation("ep-1"); }), 3U);
  EXPECT_EQ((*store_->endpoint("ep-1"))->codes_key_generation, 3U);
  EXPECT_EQ((*store_->endpoints())[0].codes_key_generation, 3U);
  EXPECT_EQ(
      tx_result<std::uint32_t>(*store_, [](StoreTx& tx) { return tx.bump_codes_key_generation("ep-x"); }).error().code,
      ErrorCode::kNotFound);
  ASSERT_TRUE(store_->write([](StoreTx& tx) { return tx.retire_endpoint("ep-1", kT0); }).ok());
  EXPECT_EQ(
      tx_result<std::uint32_t>(*store_, [](StoreTx& tx) { return tx.bump_codes_key_generation("ep-1"); }).error().code,
      ErrorCode::kNotFound);
  EXPECT_EQ((*store_->endpoint("ep-1"))->codes_key_generation, 3U);  // a refused rotation changes nothing
}

TEST_P(StoreConformance, IssuedCodesAreListedNewestFirst) {
  ASSERT_TRUE(add_endpoint(*store_, "ep-1").ok());
  ASSERT_TRUE(add_endpoint(*store_, "ep-2").ok());
  auto a = issue(*store_, code("ep-1", IssuedCodeKind::kResponse, 0x1234567));
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto b = issue(*store_, code("ep-2", IssuedCodeKind::kPreIssued, 0xBEEF, "bob"));
  auto c = issue(*store_, code("ep-1", IssuedCodeKind::kPreIssued, 7, "bob"));
  ASSERT_TRUE(b.ok() && c.ok());
  EXPECT_LT(a->id, b->id);
  EXPECT_LT(b->id, c->id);

  const auto all = list(*store_);
  ASSERT_EQ(all.size(), 3U);
  EXPECT_EQ(all[0].id, c->id);
  EXPECT_EQ(all[2].id, a->id);
  const IssuedCode& first = all[2];
  EXPECT_EQ(first.endpoint_id, "ep-1");
  EXPECT_EQ(first.kind, IssuedCodeKind::kResponse);
  EXPECT_EQ(first.ref, 0x1234567);
  EXPECT_EQ(first.generation, 1U);
  EXPECT_EQ(first.user, "alice");
  EXPECT_EQ(first.duration_s, 3600);
  EXPECT_EQ(first.command, "");
  EXPECT_EQ(first.issued_by, "user:helpdesk");
  EXPECT_EQ(first.issued_at, kT0);
  EXPECT_FALSE(first.valid_until.has_value());
  EXPECT_FALSE(first.used_at.has_value());
  EXPECT_FALSE(first.used_event_id.has_value());
  EXPECT_EQ(all[1].valid_until, kT0 + Seconds{3 * 86400});
  EXPECT_EQ(all[1].command, "/usr/bin/apt-get");

  IssuedCodeFilter on_ep1;
  on_ep1.endpoint_id = "ep-1";
  EXPECT_EQ(list(*store_, on_ep1).size(), 2U);
  IssuedCodeFilter bob_on_ep1 = on_ep1;
  bob_on_ep1.user = "bob";
  ASSERT_EQ(list(*store_, bob_on_ep1).size(), 1U);
  EXPECT_EQ(list(*store_, bob_on_ep1)[0].id, c->id);
  IssuedCodeFilter one;
  one.limit = 1;
  ASSERT_EQ(list(*store_, one).size(), 1U);
  EXPECT_EQ(list(*store_, one)[0].id, c->id);
  one.limit = 0;
  EXPECT_EQ(store_->issued_codes(one).error().code, ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformance, IssuingChecksTheEndpointAndItsGeneration) {
  ASSERT_TRUE(add_endpoint(*store_, "ep-1").ok());
  EXPECT_EQ(issue(*store_, code("ep-x", IssuedCodeKind::kResponse, 1)).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(issue(*store_, code("ep-1", IssuedCodeKind::kResponse, 1, "")).error().code, ErrorCode::kInvalidArgument);
  // Rotated since the issuer read the generation: the code would not fit.
  ASSERT_TRUE(tx_result<std::uint32_t>(*store_, [](StoreTx& tx) { return tx.bump_codes_key_generation("ep-1"); }).ok());
  auto stale = issue(*store_, code("ep-1", IssuedCodeKind::kResponse, 1, "alice", 1));
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);
  EXPECT_TRUE(issue(*store_, code("ep-1", IssuedCodeKind::kResponse, 1, "alice", 2)).ok());
  ASSERT_TRUE(store_->write([](StoreTx& tx) { return tx.retire_endpoint("ep-1", kT0); }).ok());
  EXPECT_EQ(issue(*store_, code("ep-1", IssuedCodeKind::kResponse, 2, "alice", 2)).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(list(*store_).size(), 1U);
}

TEST_P(StoreConformance, ACodeIsMarkedUsedOnce) {
  ASSERT_TRUE(add_endpoint(*store_, "ep-1").ok());
  ASSERT_TRUE(add_endpoint(*store_, "ep-2").ok());
  auto a = issue(*store_, code("ep-1", IssuedCodeKind::kResponse, 42));
  ASSERT_TRUE(a.ok());
  // Nothing matches another endpoint, kind, ref, user or generation.
  using K = IssuedCodeKind;
  EXPECT_FALSE(use(*store_, "ep-2", K::kResponse, 42)->has_value());
  EXPECT_FALSE(use(*store_, "ep-1", K::kPreIssued, 42)->has_value());
  EXPECT_FALSE(use(*store_, "ep-1", K::kResponse, 43)->has_value());
  EXPECT_FALSE(use(*store_, "ep-1", K::kResponse, 42, "bob")->has_value());
  EXPECT_FALSE(use(*store_, "ep-1", K::kResponse, 42, "alice", 2)->has_value());
  EXPECT_FALSE(list(*store_)[0].used_at.has_value());

  auto used = use(*store_, "ep-1", K::kResponse, 42, "alice", 1, "ev-7");
  ASSERT_TRUE(used.ok()) << used.error().message;
  ASSERT_TRUE(used->has_value());
  EXPECT_EQ(**used, a->id);
  const auto row = list(*store_)[0];
  EXPECT_EQ(row.used_at, kT0 + Seconds{60});
  EXPECT_EQ(row.used_event_id, "ev-7");
  // Once: a second report of the same code matches nothing.
  EXPECT_FALSE(use(*store_, "ep-1", K::kResponse, 42, "alice", 1, "ev-8")->has_value());
  EXPECT_EQ(list(*store_)[0].used_event_id, "ev-7");

  // The same nonce answered twice: each use takes the newest unused one.
  auto b = issue(*store_, code("ep-1", K::kResponse, 42));
  auto c = issue(*store_, code("ep-1", K::kResponse, 42));
  ASSERT_TRUE(b.ok() && c.ok());
  EXPECT_EQ(**use(*store_, "ep-1", K::kResponse, 42), c->id);
  EXPECT_EQ(**use(*store_, "ep-1", K::kResponse, 42), b->id);
  EXPECT_FALSE(use(*store_, "ep-1", K::kResponse, 42)->has_value());
}

TEST_P(StoreConformance, IssuedCodesSurviveAReopen) {
  ASSERT_TRUE(add_endpoint(*store_, "ep-1").ok());
  ASSERT_TRUE(tx_result<std::uint32_t>(*store_, [](StoreTx& tx) { return tx.bump_codes_key_generation("ep-1"); }).ok());
  ASSERT_TRUE(issue(*store_, code("ep-1", IssuedCodeKind::kPreIssued, 9, "alice", 2)).ok());
  store_.reset();
  store_ = GetParam().reopen(handle_);
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ((*store_->endpoint("ep-1"))->codes_key_generation, 2U);
  ASSERT_EQ(list(*store_).size(), 1U);
  EXPECT_EQ(list(*store_)[0].generation, 2U);
}

}  // namespace
}  // namespace hoist::store::testing
