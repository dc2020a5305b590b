// Conformance: requests and grants in the store.
#include <memory>

#include "store_conformance.h"

namespace hoist::store::testing {
namespace {

const TimePoint kT0{Seconds{1'800'000'000}};

RequestRecord new_record(const std::string& id, const std::string& requester = "alice",
                         const std::string& host = "laptop-1", TimePoint now = kT0) {
  Rule rule;
  rule.name = "dev-tools";
  rule.action = Action::kRequest;
  Decision d;
  d.action = Action::kRequest;
  d.rule = &rule;
  d.approval = ApprovalMode::kSelf;
  d.default_duration = Seconds{900};
  d.max_duration = Seconds{3600};
  d.self_approval_allowed = true;
  NewRequest in{id, RequestKind::kCommand, requester, host, "deploy hotfix #42", Seconds{1800}};
  auto r = open_request(in, d, Seconds{24 * 3600}, now);
  EXPECT_TRUE(r.ok()) << r.error().message;
  RequestRecord rec;
  rec.request = *r;
  rec.command.path = "/usr/bin/docker";
  rec.command.argv = {"docker", "run", "caf\xe9",
                      std::string("with\x01"
                                  "control"),
                      ""};
  rec.command.sha256 = sha256("docker binary");
  rec.command.package = "docker.io";
  rec.requester_groups = {"developers", "staff", "oncall"};
  rec.endpoint_id = "ep-" + host;
  return rec;
}

void expect_same(const RequestRecord& a, const RequestRecord& b) {
  const Request& x = a.request;
  const Request& y = b.request;
  EXPECT_EQ(x.id, y.id);
  EXPECT_EQ(x.kind, y.kind);
  EXPECT_EQ(x.requester, y.requester);
  EXPECT_EQ(x.host, y.host);
  EXPECT_EQ(x.rule, y.rule);
  EXPECT_EQ(x.justification, y.justification);
  EXPECT_EQ(x.requested_duration, y.requested_duration);
  EXPECT_EQ(x.max_duration, y.max_duration);
  EXPECT_EQ(x.approval_mode, y.approval_mode);
  EXPECT_EQ(x.self_approval_allowed, y.self_approval_allowed);
  EXPECT_EQ(x.created_at, y.created_at);
  EXPECT_EQ(x.pending_deadline, y.pending_deadline);
  EXPECT_EQ(x.state, y.state);
  ASSERT_EQ(x.review.has_value(), y.review.has_value());
  if (x.review) {
    EXPECT_EQ(x.review->by, y.review->by);
    EXPECT_EQ(x.review->reviewer, y.review->reviewer);
    EXPECT_EQ(x.review->approved, y.review->approved);
    EXPECT_EQ(x.review->comment, y.review->comment);
    EXPECT_EQ(x.review->at, y.review->at);
  }
  EXPECT_EQ(x.grant_start, y.grant_start);
  EXPECT_EQ(x.grant_deadline, y.grant_deadline);
  EXPECT_EQ(x.ended_at, y.ended_at);
  EXPECT_EQ(x.ended_by, y.ended_by);
  EXPECT_EQ(x.end_reason, y.end_reason);
  EXPECT_EQ(a.command.path, b.command.path);
  EXPECT_EQ(a.command.argv, b.command.argv);
  EXPECT_EQ(a.command.sha256, b.command.sha256);
  EXPECT_EQ(a.command.package, b.command.package);
  EXPECT_EQ(a.command.runas_user, b.command.runas_user);
  EXPECT_EQ(a.command.runas_group, b.command.runas_group);
  EXPECT_EQ(a.requester_groups, b.requester_groups);
  EXPECT_EQ(a.endpoint_id, b.endpoint_id);
}

Result<RequestRecord> insert(Store& s, const RequestRecord& rec) {
  return tx_result<RequestRecord>(s, [&](StoreTx& tx) { return tx.insert_request(rec); });
}

Result<RequestRecord> update(Store& s, const RequestRecord& rec) {
  return tx_result<RequestRecord>(s, [&](StoreTx& tx) { return tx.update_request(rec); });
}

// A record moved through the core's state machine.
RequestRecord moved(RequestRecord rec, const RequestEvent& e, TimePoint now) {
  auto next = transition(rec.request, e, now);
  EXPECT_TRUE(next.ok()) << next.error().message;
  rec.request = *next;
  return rec;
}

TEST_P(StoreConformance, RequestRoundTripsExactly) {
  const RequestRecord rec = new_record("req-0001");
  auto stored = insert(*store_, rec);
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_EQ(stored->version, 1);
  auto read = store_->request("req-0001");
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ((*read)->version, 1);
  expect_same(**read, rec);
  auto missing = store_->request("req-none");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_P(StoreConformance, TheTargetUserAndGroupRoundTrip) {
  RequestRecord rec = new_record("req-runas");
  rec.command.runas_user = "postgres";
  rec.command.runas_group = "dba";
  ASSERT_TRUE(insert(*store_, rec).ok());
  expect_same(**store_->request("req-runas"), rec);
  // Left out, a request is for root without -g.
  EXPECT_EQ(CommandInfo{}.runas_user, "root");
  EXPECT_EQ(CommandInfo{}.runas_group, "");
}

TEST_P(StoreConformance, SessionWithoutCommandRoundTrips) {
  RequestRecord rec = new_record("req-session");
  rec.request.kind = RequestKind::kSession;
  rec.command = CommandInfo{};
  rec.requester_groups.clear();
  ASSERT_TRUE(insert(*store_, rec).ok());
  expect_same(**store_->request("req-session"), rec);
}

TEST_P(StoreConformance, DuplicateRequestIdIsAConflictAndChangesNothing) {
  ASSERT_TRUE(insert(*store_, new_record("req-1")).ok());
  RequestRecord other = new_record("req-1", "mallory");
  other.command.argv = {"evil"};
  auto again = insert(*store_, other);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  expect_same(**store_->request("req-1"), new_record("req-1"));
}

TEST_P(StoreConformance, LifecycleUpdatesAreVersioned) {
  auto v1 = insert(*store_, new_record("req-2"));
  ASSERT_TRUE(v1.ok());
  const RequestRecord approved =
      moved(*v1, event::Approve{"bob", Seconds{600}, "ok for 10 minutes"}, kT0 + Seconds{30});
  auto v2 = update(*store_, approved);
  ASSERT_TRUE(v2.ok()) << v2.error().message;
  EXPECT_EQ(v2->version, 2);
  expect_same(*v2, approved);
  const RequestRecord active = moved(*v2, event::Activate{}, kT0 + Seconds{40});
  auto v3 = update(*store_, active);
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(v3->version, 3);
  const RequestRecord revoked = moved(*v3, event::Revoke{"carol", "left the team"}, kT0 + Seconds{100});
  auto v4 = update(*store_, revoked);
  ASSERT_TRUE(v4.ok());
  const auto read = **store_->request("req-2");
  EXPECT_EQ(read.version, 4);
  expect_same(read, revoked);
  EXPECT_EQ(read.request.state, RequestState::kRevoked);
  EXPECT_EQ(read.request.review->reviewer, "bob");
  EXPECT_EQ(read.request.ended_by, "carol");
}

TEST_P(StoreConformance, StaleUpdateIsAConflict) {
  auto v1 = insert(*store_, new_record("req-3"));
  ASSERT_TRUE(v1.ok());
  // Two approvers read version 1; the first to write wins.
  const RequestRecord by_bob = moved(*v1, event::Approve{"bob", std::nullopt, ""}, kT0 + Seconds{10});
  const RequestRecord by_dan = moved(*v1, event::Deny{"dan", "no"}, kT0 + Seconds{11});
  ASSERT_TRUE(update(*store_, by_bob).ok());
  auto lost = update(*store_, by_dan);
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error().code, ErrorCode::kConflict);
  const auto read = **store_->request("req-3");
  EXPECT_EQ(read.request.state, RequestState::kApproved);
  EXPECT_EQ(read.version, 2);
}

TEST_P(StoreConformance, UpdatingAMissingRequestIsNotFound) {
  auto r = update(*store_, new_record("req-ghost"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST_P(StoreConformance, RequestAndAuditCommitOrFailTogether) {
  const Status st = store_->write([](StoreTx& tx) -> Status {
    if (auto r = tx.insert_request(new_record("req-4")); !r.ok()) return r.error();
    AuditDraft d;
    d.actor = "alice";
    d.action = "request.created";
    d.target = "req-4";
    if (auto e = tx.append_audit(d); !e.ok()) return e.error();
    return unavailable("the agent went away");  // abort after both writes
  });
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(store_->request("req-4")->has_value());
  EXPECT_FALSE(store_->audit_head()->has_value());
}

TEST_P(StoreConformance, RequestFiltersAndPagination) {
  ASSERT_TRUE(insert(*store_, new_record("r1", "alice", "h1")).ok());
  ASSERT_TRUE(insert(*store_, new_record("r2", "bob", "h1")).ok());
  ASSERT_TRUE(insert(*store_, new_record("r3", "alice", "h2")).ok());
  auto r4 = insert(*store_, new_record("r4", "carol", "h2"));
  ASSERT_TRUE(r4.ok());
  ASSERT_TRUE(update(*store_, moved(*r4, event::Cancel{"carol"}, kT0 + Seconds{5})).ok());
  const auto ids = [&](const RequestFilter& f) {
    std::vector<std::string> out;
    auto r = store_->requests(f);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (r.ok()) {
      for (const auto& rec : *r) out.push_back(rec.request.id);
    }
    return out;
  };
  using V = std::vector<std::string>;
  RequestFilter f;
  EXPECT_EQ(ids(f), (V{"r1", "r2", "r3", "r4"}));
  f.state = RequestState::kPending;
  EXPECT_EQ(ids(f), (V{"r1", "r2", "r3"}));
  f.requester = "alice";
  EXPECT_EQ(ids(f), (V{"r1", "r3"}));
  f.host = "h2";
  EXPECT_EQ(ids(f), (V{"r3"}));
  f = {};
  f.endpoint_id = "ep-h1";
  EXPECT_EQ(ids(f), (V{"r1", "r2"}));
  f = {};
  f.state = RequestState::kCancelled;
  EXPECT_EQ(ids(f), (V{"r4"}));
  f = {};
  f.limit = 3;
  EXPECT_EQ(ids(f), (V{"r1", "r2", "r3"}));
  f.after_id = "r3";
  EXPECT_EQ(ids(f), (V{"r4"}));
  f = {};
  f.requester = "x' OR '1'='1";
  EXPECT_EQ(ids(f), V{});
  f = {};
  f.limit = 0;
  EXPECT_EQ(store_->requests(f).error().code, ErrorCode::kInvalidArgument);
  // Lists come back complete.
  const auto all = *store_->requests(RequestFilter{});
  expect_same(all.front(), new_record("r1", "alice", "h1"));
}

TEST_P(StoreConformance, RequestHistoryFilters) {
  // r1..r4 a minute apart; r3 asks with other words; r4 is denied with a comment.
  ASSERT_TRUE(insert(*store_, new_record("r1", "alice", "h1", kT0)).ok());
  ASSERT_TRUE(insert(*store_, new_record("r2", "bob", "h1", kT0 + Seconds{60})).ok());
  auto r3 = new_record("r3", "alice", "h2", kT0 + Seconds{120});
  r3.request.justification = "Rotate 50%_of the KEYS\\now";
  r3.command.path = "/usr/sbin/Cryptsetup";
  r3.command.argv = {"cryptsetup", "luksOpen", "/dev/sdb1"};
  ASSERT_TRUE(insert(*store_, r3).ok());
  auto r4 = insert(*store_, new_record("r4", "carol", "h2", kT0 + Seconds{180}));
  ASSERT_TRUE(r4.ok());
  ASSERT_TRUE(update(*store_, moved(*r4, event::Deny{"bob", "use the ticket queue"}, kT0 + Seconds{200})).ok());
  const auto ids = [&](const RequestFilter& f) {
    std::vector<std::string> out;
    auto r = store_->requests(f);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (r.ok()) {
      for (const auto& rec : *r) out.push_back(rec.request.id);
    }
    return out;
  };
  using V = std::vector<std::string>;
  RequestFilter f;
  f.newest_first = true;
  EXPECT_EQ(ids(f), (V{"r4", "r3", "r2", "r1"}));
  f.limit = 2;
  EXPECT_EQ(ids(f), (V{"r4", "r3"}));
  f.after_id = "r3";
  EXPECT_EQ(ids(f), (V{"r2", "r1"}));
  f = {};
  f.created_since = kT0 + Seconds{60};
  f.created_until = kT0 + Seconds{180};
  EXPECT_EQ(ids(f), (V{"r2", "r3"}));
  // The text, in any case, wherever it is; % _ and \ are plain characters.
  for (const auto& [text, want] : std::vector<std::pair<std::string, V>>{{"keys", V{"r3"}},
                                                                         {"50%_OF", V{"r3"}},
                                                                         {"%", V{"r3"}},
                                                                         {"_", V{"r3"}},
                                                                         {"\\", V{"r3"}},
                                                                         {"cryptsetup", V{"r3"}},
                                                                         {"/DEV/SDB", V{"r3"}},
                                                                         {"ticket queue", V{"r4"}},
                                                                         {"carol", V{"r4"}},
                                                                         {"h1", V{"r1", "r2"}},
                                                                         {"deploy hotfix", V{"r1", "r2", "r4"}},
                                                                         {"' OR 1=1 --", V{}},
                                                                         {"nowhere", V{}}}) {
    f = {};
    f.text = text;
    EXPECT_EQ(ids(f), want) << "text " << text;
  }
  // Every filter at once, newest first.
  f = {};
  f.text = "DEPLOY";
  f.requester = "carol";
  f.state = RequestState::kDenied;
  f.host = "h2";
  f.created_since = kT0;
  f.newest_first = true;
  EXPECT_EQ(ids(f), (V{"r4"}));
}

TEST_P(StoreConformance, DueRequestsAreThoseWhoseStoredDeadlinePassed) {
  // pending, deadline kT0 + 24h
  ASSERT_TRUE(insert(*store_, new_record("pending")).ok());
  // approved at kT0 + 10s for 10 minutes: grant deadline kT0 + 610s
  auto a = insert(*store_, new_record("approved"));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(update(*store_, moved(*a, event::Approve{"bob", Seconds{600}, ""}, kT0 + Seconds{10})).ok());
  // denied: terminal, never due
  auto d = insert(*store_, new_record("denied"));
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(update(*store_, moved(*d, event::Deny{"bob", "no"}, kT0 + Seconds{10})).ok());

  const auto due = [&](TimePoint now) {
    std::vector<std::string> out;
    auto r = store_->due_requests(now, 100);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (r.ok()) {
      for (const auto& rec : *r) out.push_back(rec.request.id);
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(due(kT0 + Seconds{609}), V{});
  EXPECT_EQ(due(kT0 + Seconds{610}), (V{"approved"}));  // the deadline itself is due
  EXPECT_EQ(due(kT0 + Seconds{24 * 3600 - 1}), (V{"approved"}));
  EXPECT_EQ(due(kT0 + Seconds{24 * 3600}), (V{"approved", "pending"}));  // oldest deadline first
  EXPECT_EQ(store_->due_requests(kT0, 0).error().code, ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformance, CountPendingIsOneRequestersWaitingRequestsOnOneEndpoint) {
  const auto count = [&](const std::string& requester, const std::string& endpoint, TimePoint now) {
    return tx_result<std::size_t>(*store_, [&](StoreTx& tx) { return tx.count_pending(requester, endpoint, now); });
  };
  ASSERT_TRUE(insert(*store_, new_record("a1", "alice", "h1")).ok());
  ASSERT_TRUE(insert(*store_, new_record("a2", "alice", "h1")).ok());
  ASSERT_TRUE(insert(*store_, new_record("a3", "alice", "h2")).ok());  // another endpoint
  ASSERT_TRUE(insert(*store_, new_record("b1", "bob", "h1")).ok());    // another requester
  auto denied = insert(*store_, new_record("a4", "alice", "h1"));
  ASSERT_TRUE(denied.ok());
  ASSERT_TRUE(update(*store_, moved(*denied, event::Deny{"bob", "no"}, kT0 + Seconds{10})).ok());
  auto approved = insert(*store_, new_record("a5", "alice", "h1"));
  ASSERT_TRUE(approved.ok());
  ASSERT_TRUE(update(*store_, moved(*approved, event::Approve{"bob", std::nullopt, ""}, kT0 + Seconds{10})).ok());

  EXPECT_EQ(*count("alice", "ep-h1", kT0), 2U);
  EXPECT_EQ(*count("alice", "ep-h2", kT0), 1U);
  EXPECT_EQ(*count("bob", "ep-h1", kT0), 1U);
  EXPECT_EQ(*count("carol", "ep-h1", kT0), 0U);
  // Everyone's at one endpoint.
  EXPECT_EQ(*tx_result<std::size_t>(*store_, [&](StoreTx& tx) { return tx.count_pending(std::nullopt, "ep-h1", kT0); }),
            3U);
  // Past the pending deadline (24 h) a request no longer waits, swept or not.
  EXPECT_EQ(*count("alice", "ep-h1", kT0 + Seconds{24 * 3600 - 1}), 2U);
  EXPECT_EQ(*count("alice", "ep-h1", kT0 + Seconds{24 * 3600}), 0U);
}

TEST_P(StoreConformance, RequestCountsHaveEveryStateInOrder) {
  const auto counts = [&] {
    auto c = store_->request_counts();
    EXPECT_TRUE(c.ok()) << c.error().message;
    std::vector<std::pair<std::string, std::size_t>> out;
    for (const auto& [state, n] : *c) out.emplace_back(std::string(to_string(state)), n);
    return out;
  };
  using Counts = std::vector<std::pair<std::string, std::size_t>>;
  EXPECT_EQ(counts(), (Counts{{"pending", 0},
                              {"approved", 0},
                              {"active", 0},
                              {"denied", 0},
                              {"cancelled", 0},
                              {"expired", 0},
                              {"revoked", 0}}));
  ASSERT_TRUE(insert(*store_, new_record("a1")).ok());
  ASSERT_TRUE(insert(*store_, new_record("a2")).ok());
  auto denied = insert(*store_, new_record("a3"));
  ASSERT_TRUE(denied.ok());
  ASSERT_TRUE(update(*store_, moved(*denied, event::Deny{"bob", "no"}, kT0 + Seconds{10})).ok());
  auto approved = insert(*store_, new_record("a4"));
  ASSERT_TRUE(approved.ok());
  ASSERT_TRUE(update(*store_, moved(*approved, event::Approve{"bob", std::nullopt, ""}, kT0 + Seconds{10})).ok());
  EXPECT_EQ(counts(), (Counts{{"pending", 2},
                              {"approved", 1},
                              {"active", 0},
                              {"denied", 1},
                              {"cancelled", 0},
                              {"expired", 0},
                              {"revoked", 0}}));
}

TEST_P(StoreConformance, RequestsSurviveAReopen) {
  auto v1 = insert(*store_, new_record("req-5"));
  ASSERT_TRUE(v1.ok());
  const RequestRecord approved = moved(*v1, event::Approve{"bob", std::nullopt, "fine"}, kT0 + Seconds{5});
  ASSERT_TRUE(update(*store_, approved).ok());
  store_.reset();
  store_ = GetParam().reopen(handle_);
  ASSERT_NE(store_, nullptr);
  const auto read = **store_->request("req-5");
  EXPECT_EQ(read.version, 2);
  expect_same(read, approved);
  // The stored deadline is the truth after a restart too.
  EXPECT_EQ(effective_state(read.request, *read.request.grant_deadline), RequestState::kExpired);
}

}  // namespace
}  // namespace hoist::store::testing
