// Conformance: the push queue and console login sessions.
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

Result<PushMessage> push(Store& s, const std::string& endpoint, const std::string& payload) {
  return tx_result<PushMessage>(s, [&](StoreTx& tx) { return tx.enqueue_push(endpoint, "decision", payload, kT0); });
}

std::vector<std::string> payloads(Store& s, const std::string& endpoint, std::uint64_t after, std::size_t limit = 100) {
  std::vector<std::string> out;
  auto r = s.push_after(endpoint, after, limit);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (r.ok()) {
    for (const auto& m : *r) out.push_back(m.payload);
  }
  return out;
}

TEST_P(StoreConformance, PushMessagesResumeFromACursor) {
  ASSERT_TRUE(add_endpoint(*store_, "ep-1").ok());
  ASSERT_TRUE(add_endpoint(*store_, "ep-2").ok());
  auto a = push(*store_, "ep-1", "a");
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(push(*store_, "ep-2", "other endpoint").ok());
  auto b = push(*store_, "ep-1", "b");
  auto c = push(*store_, "ep-1", "c");
  ASSERT_TRUE(b.ok() && c.ok());
  EXPECT_LT(a->seq, b->seq);
  EXPECT_LT(b->seq, c->seq);
  using V = std::vector<std::string>;
  EXPECT_EQ(payloads(*store_, "ep-1", 0), (V{"a", "b", "c"}));
  EXPECT_EQ(payloads(*store_, "ep-1", a->seq), (V{"b", "c"}));  // reconnect after processing a
  EXPECT_EQ(payloads(*store_, "ep-1", 0, 2), (V{"a", "b"}));
  EXPECT_EQ(payloads(*store_, "ep-2", 0), (V{"other endpoint"}));
  // Acknowledged messages go; the cursor keeps working; seqs are never reused.
  ASSERT_TRUE(store_->write([&](StoreTx& tx) { return tx.acknowledge_push("ep-1", b->seq); }).ok());
  EXPECT_EQ(payloads(*store_, "ep-1", 0), (V{"c"}));
  EXPECT_EQ(payloads(*store_, "ep-2", 0), (V{"other endpoint"}));
  ASSERT_TRUE(store_->write([&](StoreTx& tx) { return tx.acknowledge_push("ep-1", c->seq); }).ok());
  auto d = push(*store_, "ep-1", "d");
  ASSERT_TRUE(d.ok());
  EXPECT_GT(d->seq, c->seq);
  EXPECT_EQ(payloads(*store_, "ep-1", c->seq), (V{"d"}));
  EXPECT_EQ(push(*store_, "ep-none", "x").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->push_after("ep-1", 0, 0).error().code, ErrorCode::kInvalidArgument);
}

// The payloads of each cursor's page from one push_after_many.
std::vector<std::vector<std::string>> many_payloads(Store& s, const std::vector<PushCursor>& cursors,
                                                    std::size_t limit_each = 100) {
  std::vector<std::vector<std::string>> out;
  auto r = s.push_after_many(cursors, limit_each);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (!r.ok()) return out;
  EXPECT_EQ(r->size(), cursors.size());
  for (std::size_t i = 0; i < r->size(); ++i) {
    auto& page = out.emplace_back();
    for (const auto& m : (*r)[i]) {
      EXPECT_EQ(m.endpoint_id, cursors[i].endpoint_id);
      EXPECT_GT(m.seq, cursors[i].after_seq);
      page.push_back(m.payload);
    }
  }
  return out;
}

TEST_P(StoreConformance, PushAfterManyReadsEachCursorsOwnPage) {
  using V = std::vector<std::string>;
  using VV = std::vector<V>;
  // Nothing asked, nothing read.
  auto none = store_->push_after_many({}, 100);
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_TRUE(none->empty());

  for (const char* id : {"ep-1", "ep-2", "ep-3", "ep \"quoted\", {braced}\\"}) {
    ASSERT_TRUE(add_endpoint(*store_, id).ok()) << id;
  }
  auto a = push(*store_, "ep-1", "a");
  auto x = push(*store_, "ep-2", "x");
  auto b = push(*store_, "ep-1", "b");
  auto y = push(*store_, "ep-2", "y");
  auto c = push(*store_, "ep-1", "c");
  auto q = push(*store_, "ep \"quoted\", {braced}\\", "q");
  ASSERT_TRUE(a.ok() && x.ok() && b.ok() && y.ok() && c.ok() && q.ok());

  // Mixed cursors, in the order asked; an endpoint with nothing after its
  // cursor, one without messages and an unknown one get empty pages; the
  // same endpoint twice gets each cursor's own page; an id with quotes,
  // commas, braces and a backslash is one element, not several.
  EXPECT_EQ(many_payloads(*store_, {{"ep-2", 0},
                                    {"ep-1", a->seq},
                                    {"ep-1", c->seq},
                                    {"ep-3", 0},
                                    {"ep-none", 0},
                                    {"ep-1", 0},
                                    {"ep \"quoted\", {braced}\\", 0}}),
            (VV{{"x", "y"}, {"b", "c"}, {}, {}, {}, {"a", "b", "c"}, {"q"}}));
  // At most limit_each per cursor, the first ones: one endpoint's long
  // queue does not take another's share.
  EXPECT_EQ(many_payloads(*store_, {{"ep-1", 0}, {"ep-2", 0}, {"ep-1", b->seq}}, 1), (VV{{"a"}, {"x"}, {"c"}}));
  // Acknowledged messages are not read again.
  ASSERT_TRUE(store_->write([&](StoreTx& tx) { return tx.acknowledge_push("ep-1", b->seq); }).ok());
  EXPECT_EQ(many_payloads(*store_, {{"ep-1", 0}, {"ep-2", x->seq}}), (VV{{"c"}, {"y"}}));
  // The same as push_after, cursor by cursor.
  for (const std::uint64_t after : {std::uint64_t{0}, a->seq, y->seq, c->seq}) {
    EXPECT_EQ(many_payloads(*store_, {{"ep-2", after}}), VV{payloads(*store_, "ep-2", after)}) << after;
  }

  // The limits push_after has, and a bound on the cursors.
  EXPECT_EQ(store_->push_after_many(std::vector<PushCursor>{{"ep-1", 0}}, 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->push_after_many(std::vector<PushCursor>{{"ep-1", 0}}, kMaxPage + 1).error().code,
            ErrorCode::kInvalidArgument);
  std::vector<PushCursor> too_many(kMaxPushCursors + 1, PushCursor{"ep-1", 0});
  EXPECT_EQ(store_->push_after_many(too_many, 10).error().code, ErrorCode::kInvalidArgument);
  too_many.pop_back();
  auto most = store_->push_after_many(too_many, 10);
  ASSERT_TRUE(most.ok()) << most.error().message;
  ASSERT_EQ(most->size(), kMaxPushCursors);
  EXPECT_EQ(most->back().size(), 1U);
}

// One message for many endpoints in one call (a policy change): each known
// endpoint gets it once per mention, seqs grow along the list, unknown ids
// are skipped, and a failed write keeps none of them.
TEST_P(StoreConformance, EnqueuePushManyQueuesOneMessageForEach) {
  for (const char* id : {"ep-1", "ep-2", "ep-3", "ep \"q\", {b}\\"}) {
    ASSERT_TRUE(add_endpoint(*store_, id).ok()) << id;
  }
  std::size_t queued = 0;
  ASSERT_TRUE(store_
                  ->write([&](StoreTx& tx) -> Status {
                    auto none = tx.enqueue_push_many({}, "policy", "{}", TimePoint{});
                    if (!none.ok()) return none.error();
                    EXPECT_EQ(*none, 0U);
                    auto n = tx.enqueue_push_many({"ep-3", "ep-unknown", "ep-1", "ep \"q\", {b}\\"}, "policy",
                                                  "{\"policy\":\"p\"}", TimePoint{std::chrono::seconds{100}});
                    if (!n.ok()) return n.error();
                    queued = *n;
                    return {};
                  })
                  .ok());
  EXPECT_EQ(queued, 3U);
  auto m3 = store_->push_after("ep-3", 0, 10);
  auto m1 = store_->push_after("ep-1", 0, 10);
  auto mq = store_->push_after("ep \"q\", {b}\\", 0, 10);
  auto m2 = store_->push_after("ep-2", 0, 10);
  ASSERT_TRUE(m3.ok() && m1.ok() && mq.ok() && m2.ok());
  ASSERT_EQ(m3->size(), 1U);
  ASSERT_EQ(m1->size(), 1U);
  ASSERT_EQ(mq->size(), 1U);
  EXPECT_TRUE(m2->empty()) << "an endpoint not named gets nothing";
  EXPECT_EQ((*m1)[0].kind, "policy");
  EXPECT_EQ((*m1)[0].payload, "{\"policy\":\"p\"}");
  EXPECT_EQ((*m1)[0].created_at, TimePoint{std::chrono::seconds{100}});
  EXPECT_EQ((*mq)[0].endpoint_id, "ep \"q\", {b}\\");
  EXPECT_LT((*m3)[0].seq, (*m1)[0].seq);
  EXPECT_LT((*m1)[0].seq, (*mq)[0].seq);
  // A kind is required, and a write that fails keeps nothing it queued.
  auto refused = store_->write([&](StoreTx& tx) -> Status {
    auto bad = tx.enqueue_push_many({"ep-2"}, "", "{}", TimePoint{});
    EXPECT_FALSE(bad.ok());
    auto n = tx.enqueue_push_many({"ep-2"}, "policy", "{}", TimePoint{});
    if (!n.ok()) return n.error();
    return conflict("rolled back on purpose");
  });
  EXPECT_FALSE(refused.ok());
  auto after = store_->push_after("ep-2", 0, 10);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
}

// The acknowledgement on its own (outside a write: without the write lock
// on PostgreSQL): this endpoint's messages up to the seq, no other's.
TEST_P(StoreConformance, AnAcknowledgementOnItsOwnDropsOnlyItsEndpointsMessages) {
  ASSERT_TRUE(add_endpoint(*store_, "ep-1").ok());
  ASSERT_TRUE(add_endpoint(*store_, "ep-2").ok());
  auto a = push(*store_, "ep-1", "a");
  auto x = push(*store_, "ep-2", "x");
  auto b = push(*store_, "ep-1", "b");
  ASSERT_TRUE(a.ok() && x.ok() && b.ok());
  ASSERT_TRUE(store_->acknowledge_push("ep-1", x->seq).ok());
  EXPECT_EQ(payloads(*store_, "ep-1", 0), (std::vector<std::string>{"b"}));
  EXPECT_EQ(payloads(*store_, "ep-2", 0), (std::vector<std::string>{"x"}));
  ASSERT_TRUE(store_->acknowledge_push("ep-unknown", b->seq).ok());
  ASSERT_TRUE(store_->acknowledge_push("ep-1", UINT64_MAX).ok());
  EXPECT_TRUE(payloads(*store_, "ep-1", 0).empty());
  EXPECT_EQ(payloads(*store_, "ep-2", 0), (std::vector<std::string>{"x"}));
}

TEST_P(StoreConformance, PushMessagesSurviveAReopen) {
  ASSERT_TRUE(add_endpoint(*store_, "ep-1").ok());
  ASSERT_TRUE(push(*store_, "ep-1", "queued while the agent was away").ok());
  store_.reset();
  store_ = GetParam().reopen(handle_);
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(payloads(*store_, "ep-1", 0), (std::vector<std::string>{"queued while the agent was away"}));
}

SessionRecord login(const std::string& id, const std::string& user) {
  return SessionRecord{sha256(id).hex(), user, sha256("csrf-" + id).hex(), kT0, kT0 + Seconds{8 * 3600}, {}};
}

TEST_P(StoreConformance, SessionsAreStoredByHashAndRevocable) {
  ASSERT_TRUE(store_
                  ->write([](StoreTx& tx) -> Status {
                    UserRecord u;
                    u.name = "bob";
                    u.password_hash = "$argon2id$x";
                    u.created_at = kT0;
                    auto r = tx.insert_user(u);
                    return r.ok() ? Status{} : Status{r.error()};
                  })
                  .ok());
  ASSERT_TRUE(store_->write([](StoreTx& tx) { return tx.insert_session(login("s1", "bob")); }).ok());
  ASSERT_TRUE(store_->write([](StoreTx& tx) { return tx.insert_session(login("s2", "bob")); }).ok());
  EXPECT_EQ(store_->write([](StoreTx& tx) { return tx.insert_session(login("s1", "bob")); }).error().code,
            ErrorCode::kConflict);
  EXPECT_EQ(store_->write([](StoreTx& tx) { return tx.insert_session(login("s3", "nobody")); }).error().code,
            ErrorCode::kNotFound);
  auto s1 = store_->session(sha256("s1").hex());
  ASSERT_TRUE(s1.ok() && s1->has_value());
  EXPECT_EQ((*s1)->user, "bob");
  EXPECT_EQ((*s1)->csrf_hash, sha256("csrf-s1").hex());
  EXPECT_EQ((*s1)->expires_at, kT0 + Seconds{8 * 3600});
  EXPECT_FALSE((*s1)->revoked_at.has_value());
  EXPECT_FALSE(store_->session(sha256("s3").hex())->has_value());

  ASSERT_TRUE(store_->write([](StoreTx& tx) { return tx.revoke_session(sha256("s1").hex(), kT0 + Seconds{5}); }).ok());
  EXPECT_EQ((*store_->session(sha256("s1").hex()))->revoked_at, kT0 + Seconds{5});
  EXPECT_FALSE((*store_->session(sha256("s2").hex()))->revoked_at.has_value());
  std::size_t revoked = 0;
  ASSERT_TRUE(store_
                  ->write([&](StoreTx& tx) -> Status {
                    auto n = tx.revoke_user_sessions("bob", kT0 + Seconds{9});
                    if (!n.ok()) return n.error();
                    revoked = *n;
                    return {};
                  })
                  .ok());
  EXPECT_EQ(revoked, 1U) << "s1 was revoked already";
  EXPECT_EQ((*store_->session(sha256("s1").hex()))->revoked_at, kT0 + Seconds{5});  // first revocation stands
  EXPECT_EQ((*store_->session(sha256("s2").hex()))->revoked_at, kT0 + Seconds{9});
  EXPECT_EQ(store_->write([](StoreTx& tx) { return tx.revoke_session("nope", kT0); }).error().code,
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace hoist::store::testing
