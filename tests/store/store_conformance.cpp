#include "store_conformance.h"

#include <atomic>
#include <thread>
#include <vector>

namespace hoist::store::testing {
namespace {

AuditDraft draft(int i, std::string actor = "alice", std::string action = "request.created",
                 std::string target = "req-1", std::string host = "laptop-1") {
  AuditDraft d;
  d.time = AuditTime{std::chrono::milliseconds{1'700'000'000'000 + i * 1000LL}};
  d.actor = std::move(actor);
  d.action = std::move(action);
  d.target = std::move(target);
  d.host = std::move(host);
  d.details = "{\"i\":" + std::to_string(i) + "}";
  return d;
}

Status append(Store& s, const AuditDraft& d) {
  return s.write([&](StoreTx& tx) -> Status {
    auto e = tx.append_audit(d);
    if (!e.ok()) return e.error();
    return {};
  });
}

std::vector<AuditEvent> all_events(Store& s) {
  auto events = s.audit_range(1, kMaxPage);
  EXPECT_TRUE(events.ok()) << events.error().message;
  return events.ok() ? *events : std::vector<AuditEvent>{};
}

TEST_P(StoreConformance, NewStoreIsEmptyAndMigrated) {
  auto head = store_->audit_head();
  ASSERT_TRUE(head.ok()) << head.error().message;
  EXPECT_FALSE(head->has_value());
  auto version = store_->schema_version();
  ASSERT_TRUE(version.ok());
  EXPECT_GE(*version, 1);
  EXPECT_TRUE(all_events(*store_).empty());
  auto v = verify_stored_chain(*store_, std::nullopt);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok);
}

TEST_P(StoreConformance, AppendedEventsFormAVerifiedChain) {
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(append(*store_, draft(i)).ok());
  const auto events = all_events(*store_);
  ASSERT_EQ(events.size(), 25U);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].seq, i + 1);
    EXPECT_EQ(events[i].details, "{\"i\":" + std::to_string(i) + "}");
    EXPECT_EQ(events[i].hash, audit_event_hash(events[i]));
  }
  EXPECT_TRUE(verify_chain(events).ok);
  auto head = store_->audit_head();
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ((*head)->seq, 25U);
  EXPECT_EQ((*head)->hash, events.back().hash);
  // Verification in pages smaller than the trail, against the head.
  auto v = verify_stored_chain(*store_, **head, 4);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok) << v->problem;
  EXPECT_EQ(v->events_checked, 25U);
}

TEST_P(StoreConformance, SeveralEventsInOneTransaction) {
  const Status st = store_->write([](StoreTx& tx) -> Status {
    for (int i = 0; i < 3; ++i) {
      auto e = tx.append_audit(draft(i));
      if (!e.ok()) return e.error();
      if (e->seq != static_cast<std::uint64_t>(i + 1)) return internal_error("wrong seq inside a transaction");
    }
    return {};
  });
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_TRUE(verify_chain(all_events(*store_)).ok);
}

TEST_P(StoreConformance, FailedTransactionStoresNothing) {
  ASSERT_TRUE(append(*store_, draft(0)).ok());
  const Status st = store_->write([](StoreTx& tx) -> Status {
    if (auto e = tx.append_audit(draft(1)); !e.ok()) return e.error();
    return conflict("the caller changed its mind");
  });
  EXPECT_EQ(st.error().code, ErrorCode::kConflict);
  EXPECT_EQ(st.error().message, "the caller changed its mind");
  EXPECT_EQ(all_events(*store_).size(), 1U);
  // The chain continues from the committed head.
  ASSERT_TRUE(append(*store_, draft(2)).ok());
  const auto events = all_events(*store_);
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[1].seq, 2U);
  EXPECT_TRUE(verify_chain(events).ok);
}

TEST_P(StoreConformance, ExceptionInTransactionRollsBack) {
  const Status st = store_->write([](StoreTx& tx) -> Status {
    (void)tx.append_audit(draft(0));
    throw std::runtime_error("boom");
  });
  EXPECT_EQ(st.error().code, ErrorCode::kInternal);
  EXPECT_TRUE(all_events(*store_).empty());
}

TEST_P(StoreConformance, InvalidDraftIsRefusedAndLosesNothing) {
  ASSERT_TRUE(append(*store_, draft(0)).ok());
  AuditDraft bad = draft(1);
  bad.actor.clear();
  EXPECT_EQ(append(*store_, bad).error().code, ErrorCode::kInvalidArgument);
  bad = draft(1);
  bad.action.clear();
  EXPECT_EQ(append(*store_, bad).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(all_events(*store_).size(), 1U);
}

TEST_P(StoreConformance, FiltersAndPagination) {
  ASSERT_TRUE(append(*store_, draft(0, "alice", "request.created", "req-1", "h1")).ok());
  ASSERT_TRUE(append(*store_, draft(1, "bob", "request.approved", "req-1", "h1")).ok());
  ASSERT_TRUE(append(*store_, draft(2, "alice", "request.created", "req-2", "h2")).ok());
  ASSERT_TRUE(append(*store_, draft(3, "carol", "grant.revoked", "req-1", "h1")).ok());
  ASSERT_TRUE(append(*store_, draft(4, "alice", "login", "", "")).ok());
  const auto seqs = [&](const AuditFilter& f) {
    std::vector<std::uint64_t> out;
    auto r = store_->audit_events(f);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (r.ok()) {
      for (const auto& e : *r) out.push_back(e.seq);
    }
    return out;
  };
  using V = std::vector<std::uint64_t>;
  AuditFilter f;
  EXPECT_EQ(seqs(f), (V{1, 2, 3, 4, 5}));
  f.actor = "alice";
  EXPECT_EQ(seqs(f), (V{1, 3, 5}));
  f = {};
  f.action = "request.created";
  EXPECT_EQ(seqs(f), (V{1, 3}));
  f = {};
  f.target = "req-1";
  EXPECT_EQ(seqs(f), (V{1, 2, 4}));
  f.host = "h1";
  f.actor = "bob";
  EXPECT_EQ(seqs(f), (V{2}));
  f = {};
  f.since = draft(1).time;  // inclusive
  f.until = draft(3).time;  // exclusive
  EXPECT_EQ(seqs(f), (V{2, 3}));
  f = {};
  f.limit = 2;
  EXPECT_EQ(seqs(f), (V{1, 2}));
  f.after_seq = 2;
  EXPECT_EQ(seqs(f), (V{3, 4}));
  f.after_seq = 4;
  EXPECT_EQ(seqs(f), (V{5}));
  f.after_seq = 5;
  EXPECT_EQ(seqs(f), V{});
  f = {};
  f.actor = "nobody";
  EXPECT_EQ(seqs(f), V{});
  // Values are data, never SQL.
  f.actor = "alice' OR '1'='1";
  EXPECT_EQ(seqs(f), V{});
  f = {};
  f.limit = 0;
  EXPECT_EQ(store_->audit_events(f).error().code, ErrorCode::kInvalidArgument);
  f.limit = kMaxPage + 1;
  EXPECT_EQ(store_->audit_events(f).error().code, ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformance, ArbitraryTextRoundTrips) {
  AuditDraft d = draft(0);
  d.actor = "ünïcode \xe2\x9c\x93";
  d.details = std::string("{\"argv\":\"a\\u0000b\",\"q\":\"'\\\";--\"}");
  d.target = std::string(5000, 'x');
  ASSERT_TRUE(append(*store_, d).ok());
  const auto events = all_events(*store_);
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].actor, d.actor);
  EXPECT_EQ(events[0].details, d.details);
  EXPECT_EQ(events[0].target, d.target);
  EXPECT_TRUE(verify_chain(events).ok);
}

TEST_P(StoreConformance, ConcurrentWritersNeverForkTheChain) {
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!append(*store_, draft(t * 1000 + i, "user" + std::to_string(t))).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  const auto events = all_events(*store_);
  EXPECT_EQ(events.size(), static_cast<std::size_t>(kThreads * kEach));
  const auto v = verify_chain(events);
  EXPECT_TRUE(v.ok) << v.problem;
}

TEST_P(StoreConformance, EventsSurviveAReopen) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(append(*store_, draft(i)).ok());
  const auto head = *store_->audit_head();
  store_.reset();
  store_ = GetParam().reopen(handle_);
  ASSERT_NE(store_, nullptr);
  auto again = store_->audit_head();
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->seq, head->seq);
  EXPECT_EQ((*again)->hash, head->hash);
  ASSERT_TRUE(append(*store_, draft(5)).ok());
  auto v = verify_stored_chain(*store_, std::nullopt);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok);
  EXPECT_EQ(v->events_checked, 6U);
}

}  // namespace
}  // namespace hoist::store::testing
