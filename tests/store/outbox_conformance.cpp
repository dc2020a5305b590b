// Conformance: the notification outbox (store/outbox.h): channels, their
// routing, and deliveries queued by append_audit in the event's own
// transaction.
#include <algorithm>
#include <chrono>
#include <tuple>

#include "store_conformance.h"

namespace hoist::store::testing {
namespace {

using outbox::DeliveryState;
using outbox::Verdict;
using std::chrono::milliseconds;

const AuditTime kT0{milliseconds{1'800'000'000'000}};

ChannelRecord channel(const std::string& id, std::vector<std::string> events, bool enabled = true) {
  ChannelRecord c;
  c.id = id;
  c.kind = "webhook";
  c.name = "name-" + id;
  c.config = R"({"url":"https://receiver.example/hook"})";
  c.secrets = "sealed:" + id;
  c.enabled = enabled;
  c.events = std::move(events);
  c.created_by = "admin";
  c.created_at = kT0;
  return c;
}

Result<ChannelRecord> add(Store& s, const ChannelRecord& c) {
  return tx_result<ChannelRecord>(s, [&](StoreTx& tx) { return tx.insert_channel(c); });
}

Result<AuditEvent> audit(Store& s, const std::string& action, AuditTime at = kT0) {
  return tx_result<AuditEvent>(s, [&](StoreTx& tx) {
    AuditDraft d;
    d.time = at;
    d.actor = "alice";
    d.action = action;
    d.target = "req-1";
    return tx.append_audit(d);
  });
}

std::vector<std::pair<std::string, std::uint64_t>> all_deliveries(Store& s) {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  auto rows = s.deliveries(DeliveryFilter{});
  EXPECT_TRUE(rows.ok()) << rows.error().message;
  if (rows.ok()) {
    for (const auto& d : *rows) out.emplace_back(d.channel_id, d.audit_seq);
  }
  // By event, then channel: the order one event's rows are inserted in is
  // the backend's.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second < b.second : a.first < b.first;
  });
  return out;
}

Result<DeliveryRecord> attempt(Store& s, std::int64_t id, Verdict verdict, AuditTime at, AuditTime next = AuditTime{},
                               std::optional<int> status = std::nullopt) {
  return tx_result<DeliveryRecord>(s, [&](StoreTx& tx) {
    return tx.record_attempt(
        AttemptRecord{id, verdict, at, next, verdict == Verdict::kDelivered ? "" : "HTTP 500", status});
  });
}

TEST_P(StoreConformance, ChannelsAreStoredVersionedAndDeleted) {
  auto a = add(*store_, channel("ch-a", {"request.*", "code.issued"}));
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->version, 1);
  EXPECT_EQ(a->events, (std::vector<std::string>{"request.*", "code.issued"}));
  EXPECT_EQ(a->secrets, "sealed:ch-a");
  EXPECT_EQ(a->created_at, kT0);
  ASSERT_TRUE(add(*store_, channel("ch-b", {"*"}, false)).ok());
  // Names and ids are unique.
  auto dup = channel("ch-c", {"*"});
  dup.name = "name-ch-a";
  EXPECT_EQ(add(*store_, dup).error().code, ErrorCode::kConflict);
  EXPECT_EQ(add(*store_, channel("ch-a", {"*"})).error().code, ErrorCode::kConflict);
  // A config that is not an object, or a missing name, is refused.
  auto bad = channel("ch-d", {"*"});
  bad.config = "[]";
  EXPECT_EQ(add(*store_, bad).error().code, ErrorCode::kInvalidArgument);
  bad = channel("ch-d", {"*"});
  bad.name = "";
  EXPECT_EQ(add(*store_, bad).error().code, ErrorCode::kInvalidArgument);

  auto listed = store_->channels();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2U);
  EXPECT_EQ((*listed)[0].id, "ch-a");
  EXPECT_FALSE((*listed)[1].enabled);

  ChannelRecord edit = *a;
  edit.name = "renamed";
  edit.events = {"policy.*"};
  edit.enabled = false;
  edit.secrets = "sealed:rotated";
  auto updated =
      tx_result<ChannelRecord>(*store_, [&](StoreTx& tx) { return tx.update_channel(edit, kT0 + milliseconds{5}); });
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->version, 2);
  EXPECT_EQ(updated->name, "renamed");
  EXPECT_EQ(updated->events, (std::vector<std::string>{"policy.*"}));
  EXPECT_EQ(updated->secrets, "sealed:rotated");
  EXPECT_EQ(updated->updated_at, kT0 + milliseconds{5});
  EXPECT_EQ(updated->created_at, kT0);
  // The version read is stale now.
  EXPECT_EQ(tx_result<ChannelRecord>(*store_, [&](StoreTx& tx) { return tx.update_channel(edit, kT0); }).error().code,
            ErrorCode::kConflict);
  edit.id = "ch-none";
  EXPECT_EQ(tx_result<ChannelRecord>(*store_, [&](StoreTx& tx) { return tx.update_channel(edit, kT0); }).error().code,
            ErrorCode::kNotFound);

  auto dropped = tx_result<std::size_t>(*store_, [](StoreTx& tx) { return tx.delete_channel("ch-b"); });
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, 0U);
  EXPECT_FALSE(store_->channel("ch-b")->has_value());
  EXPECT_EQ(tx_result<std::size_t>(*store_, [](StoreTx& tx) { return tx.delete_channel("ch-b"); }).error().code,
            ErrorCode::kNotFound);
}

TEST_P(StoreConformance, AppendAuditQueuesADeliveryForEachChannelThatTakesTheAction) {
  ASSERT_TRUE(add(*store_, channel("ch-prefix", {"request.*"})).ok());
  ASSERT_TRUE(add(*store_, channel("ch-exact", {"request.created", "request.created"})).ok());
  ASSERT_TRUE(add(*store_, channel("ch-all-off", {"*"}, false)).ok());
  ASSERT_TRUE(add(*store_, channel("ch-policy", {"policy.version_added"})).ok());
  ASSERT_TRUE(add(*store_, channel("ch-all", {"*"})).ok());

  auto created = audit(*store_, "request.created");
  ASSERT_TRUE(created.ok()) << created.error().message;
  auto approved = audit(*store_, "request.approved");
  ASSERT_TRUE(approved.ok());
  // "request.*" does not take "requests.x" nor "request" itself.
  auto other = audit(*store_, "requests.created");
  ASSERT_TRUE(other.ok());
  using Rows = std::vector<std::pair<std::string, std::uint64_t>>;
  EXPECT_EQ(all_deliveries(*store_), (Rows{{"ch-all", created->seq},
                                           {"ch-exact", created->seq},
                                           {"ch-prefix", created->seq},
                                           {"ch-all", approved->seq},
                                           {"ch-prefix", approved->seq},
                                           {"ch-all", other->seq}}));
  auto first = store_->deliveries(DeliveryFilter{});
  ASSERT_TRUE(first.ok());
  for (const auto& d : *first) {
    EXPECT_EQ(d.state, DeliveryState::kPending);
    EXPECT_EQ(d.attempts, 0);
    EXPECT_EQ(d.next_attempt_at, kT0);  // due at once
    EXPECT_EQ(d.since, kT0);
    EXPECT_EQ(d.last_error, "");
  }

  // An event whose transaction fails queues nothing.
  const auto before = all_deliveries(*store_).size();
  const Status failed = store_->write([](StoreTx& tx) -> Status {
    AuditDraft d;
    d.time = kT0;
    d.actor = "alice";
    d.action = "request.created";
    if (auto e = tx.append_audit(d); !e.ok()) return e.error();
    return conflict("the change after the event failed");
  });
  EXPECT_EQ(failed.error().code, ErrorCode::kConflict);
  EXPECT_EQ(all_deliveries(*store_).size(), before);
  EXPECT_EQ((*store_->audit_head())->seq, other->seq);
}

namespace routing {

EndpointRecord endpoint(const std::string& id, const std::string& host, std::vector<std::string> labels) {
  EndpointRecord e;
  e.id = id;
  e.hostname = host;
  e.labels = std::move(labels);
  e.credential_hash = sha256("cred-" + id).hex();
  e.agent_version = "0.1.0";
  e.enrolled_at = TimePoint{Seconds{1'800'000'000}};
  return e;
}

RequestRecord request(const std::string& id, const std::string& host, const std::string& rule_name,
                      const std::string& endpoint_id = "") {
  Rule rule;
  rule.name = rule_name;
  rule.action = Action::kRequest;
  Decision d;
  d.action = Action::kRequest;
  d.rule = &rule;
  d.default_duration = Seconds{900};
  d.max_duration = Seconds{3600};
  NewRequest in{id, RequestKind::kCommand, "alice", host, "routing", Seconds{900}};
  auto r = open_request(in, d, Seconds{3600}, TimePoint{Seconds{1'800'000'000}});
  EXPECT_TRUE(r.ok()) << r.error().message;
  RequestRecord rec;
  rec.request = *r;
  rec.command.path = "/usr/bin/true";
  rec.command.argv = {"true"};
  rec.endpoint_id = endpoint_id.empty() ? "ep-" + host : endpoint_id;
  return rec;
}

Result<AuditEvent> event(Store& s, const std::string& action, const std::string& target, const std::string& host) {
  return tx_result<AuditEvent>(s, [&](StoreTx& tx) {
    AuditDraft d;
    d.time = kT0;
    d.actor = "alice";
    d.action = action;
    d.target = target;
    d.host = host;
    return tx.append_audit(d);
  });
}

}  // namespace routing

TEST_P(StoreConformance, LabelsAndRulesNarrowAChannelsRouting) {
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) {
                return tx.insert_endpoint(routing::endpoint("ep-paris-1", "paris-1", {"laptops", "paris"}));
              }).ok());
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) {
                return tx.insert_endpoint(routing::endpoint("ep-london-1", "london-1", {"london"}));
              }).ok());
  for (const auto& [id, host, rule] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"req-p", "paris-1", "docker"}, {"req-l", "london-1", "apt"}}) {
    ASSERT_TRUE(tx_result<RequestRecord>(*store_, [&](StoreTx& tx) {
                  return tx.insert_request(routing::request(id, host, rule));
                }).ok());
  }
  auto paris = channel("ch-paris", {"*"});
  paris.labels = {"paris"};
  auto docker = channel("ch-docker", {"request.*"});
  docker.rules = {"docker", "podman"};
  auto both = channel("ch-london-docker", {"*"});
  both.labels = {"london"};
  both.rules = {"docker"};
  ASSERT_TRUE(add(*store_, paris).ok());
  ASSERT_TRUE(add(*store_, docker).ok());
  ASSERT_TRUE(add(*store_, both).ok());
  ASSERT_TRUE(add(*store_, channel("ch-any", {"*"})).ok());

  auto read = store_->channel("ch-london-docker");
  ASSERT_TRUE(read.ok() && *read);
  EXPECT_EQ((*read)->labels, std::vector<std::string>{"london"});
  EXPECT_EQ((*read)->rules, std::vector<std::string>{"docker"});

  auto on_paris = routing::event(*store_, "request.created", "req-p", "paris-1");
  auto on_london = routing::event(*store_, "request.created", "req-l", "london-1");
  // About no request: a rule filter never takes it; a label filter does.
  auto code = routing::event(*store_, "code.issued", "code-1", "paris-1");
  // A request's labels are its endpoint's, whatever host name the event
  // carries.
  auto elsewhere = routing::event(*store_, "request.created", "req-p", "unknown-host");
  ASSERT_TRUE(on_paris.ok() && on_london.ok() && code.ok() && elsewhere.ok());
  using Rows = std::vector<std::pair<std::string, std::uint64_t>>;
  EXPECT_EQ(all_deliveries(*store_), (Rows{{"ch-any", on_paris->seq},
                                           {"ch-docker", on_paris->seq},
                                           {"ch-paris", on_paris->seq},
                                           {"ch-any", on_london->seq},
                                           {"ch-any", code->seq},
                                           {"ch-paris", code->seq},
                                           {"ch-any", elsewhere->seq},
                                           {"ch-docker", elsewhere->seq},
                                           {"ch-paris", elsewhere->seq}}));

  // An endpoint enrolled under the Paris box's host name, labelled "lab":
  // its requests do not reach the Paris channel.
  ASSERT_TRUE(in_tx(*store_, [](StoreTx& tx) {
                return tx.insert_endpoint(routing::endpoint("ep-spoof", "paris-1", {"lab"}));
              }).ok());
  ASSERT_TRUE(tx_result<RequestRecord>(*store_, [&](StoreTx& tx) {
                return tx.insert_request(routing::request("req-s", "paris-1", "apt", "ep-spoof"));
              }).ok());
  auto spoofed = routing::event(*store_, "request.created", "req-s", "paris-1");
  ASSERT_TRUE(spoofed.ok());
  {
    const auto rows = all_deliveries(*store_);
    EXPECT_EQ(std::count(rows.begin(), rows.end(), std::pair<std::string, std::uint64_t>{"ch-paris", spoofed->seq}), 0);
    EXPECT_EQ(std::count(rows.begin(), rows.end(), std::pair<std::string, std::uint64_t>{"ch-any", spoofed->seq}), 1);
  }

  // A change replaces the filters; emptied, the channel takes everything again.
  auto changed = **read;
  changed.labels = {};
  changed.rules = {"apt"};
  auto updated = tx_result<ChannelRecord>(*store_, [&](StoreTx& tx) { return tx.update_channel(changed, kT0); });
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_TRUE(updated->labels.empty());
  EXPECT_EQ(updated->rules, std::vector<std::string>{"apt"});
  auto again = routing::event(*store_, "request.approved", "req-l", "london-1");
  ASSERT_TRUE(again.ok());
  const auto rows = all_deliveries(*store_);
  EXPECT_EQ(std::count(rows.begin(), rows.end(), std::pair<std::string, std::uint64_t>{"ch-london-docker", again->seq}),
            1);
}

TEST_P(StoreConformance, DeliveriesMoveThroughRetryDeliveredDeadAndRedrive) {
  ASSERT_TRUE(add(*store_, channel("ch-a", {"*"})).ok());
  ASSERT_TRUE(add(*store_, channel("ch-b", {"request.created"})).ok());
  auto e1 = audit(*store_, "request.created");
  auto e2 = audit(*store_, "request.approved");
  ASSERT_TRUE(e1.ok() && e2.ok());
  auto pending = store_->pending_deliveries("ch-a", 10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2U);
  EXPECT_EQ((*pending)[0].audit_seq, e1->seq);  // in audit order
  EXPECT_EQ((*pending)[1].audit_seq, e2->seq);
  const auto d1 = (*pending)[0].id;
  const auto d2 = (*pending)[1].id;

  auto due = store_->due_channels(kT0);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(due->due, (std::vector<std::string>{"ch-a", "ch-b"}));

  // A failed attempt: pending, later; the channel is not due until then.
  auto retried = attempt(*store_, d1, Verdict::kRetry, kT0 + milliseconds{10}, kT0 + milliseconds{5010}, 503);
  ASSERT_TRUE(retried.ok()) << retried.error().message;
  EXPECT_EQ(retried->state, DeliveryState::kPending);
  EXPECT_EQ(retried->attempts, 1);
  EXPECT_EQ(retried->last_status, 503);
  EXPECT_EQ(retried->last_error, "HTTP 500");
  EXPECT_EQ(retried->next_attempt_at, kT0 + milliseconds{5010});
  due = store_->due_channels(kT0 + milliseconds{20});
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(due->due, (std::vector<std::string>{"ch-b"}));  // ch-a waits for its first: order per channel
  EXPECT_EQ(due->next_due, kT0 + milliseconds{5010});
  due = store_->due_channels(kT0 + milliseconds{5010});
  EXPECT_EQ(due->due, (std::vector<std::string>{"ch-a", "ch-b"}));

  auto done = attempt(*store_, d1, Verdict::kDelivered, kT0 + milliseconds{5020}, {}, 200);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, DeliveryState::kDelivered);
  EXPECT_EQ(done->attempts, 2);
  EXPECT_EQ(done->last_error, "");
  EXPECT_EQ(done->finished_at, kT0 + milliseconds{5020});
  // Recorded once: a second record on a finished delivery is a conflict.
  EXPECT_EQ(attempt(*store_, d1, Verdict::kDelivered, kT0).error().code, ErrorCode::kConflict);
  EXPECT_EQ(attempt(*store_, 99999, Verdict::kDelivered, kT0).error().code, ErrorCode::kNotFound);

  auto dead = attempt(*store_, d2, Verdict::kDead, kT0 + milliseconds{5030}, {}, 400);
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ(dead->state, DeliveryState::kDead);
  EXPECT_EQ(store_->pending_deliveries("ch-a", 10)->size(), 0U);
  auto dead_list = store_->deliveries(DeliveryFilter{"ch-a", DeliveryState::kDead, 0, 10});
  ASSERT_TRUE(dead_list.ok());
  ASSERT_EQ(dead_list->size(), 1U);
  EXPECT_EQ(dead_list->front().id, d2);

  // Re-driven: pending again, attempts and age counted afresh.
  auto again = tx_result<DeliveryRecord>(
      *store_, [&](StoreTx& tx) { return tx.redrive_delivery(d2, kT0 + milliseconds{9000}); });
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->state, DeliveryState::kPending);
  EXPECT_EQ(again->attempts, 0);
  EXPECT_EQ(again->since, kT0 + milliseconds{9000});
  EXPECT_EQ(again->next_attempt_at, kT0 + milliseconds{9000});
  EXPECT_FALSE(again->finished_at.has_value());
  EXPECT_EQ(again->last_error, "HTTP 500");  // kept until the next attempt
  EXPECT_EQ(tx_result<DeliveryRecord>(*store_, [&](StoreTx& tx) { return tx.redrive_delivery(d2, kT0); }).error().code,
            ErrorCode::kConflict);
  EXPECT_EQ(tx_result<DeliveryRecord>(*store_, [&](StoreTx& tx) { return tx.redrive_delivery(d1, kT0); }).error().code,
            ErrorCode::kConflict);
  EXPECT_EQ(
      tx_result<DeliveryRecord>(*store_, [&](StoreTx& tx) { return tx.redrive_delivery(424242, kT0); }).error().code,
      ErrorCode::kNotFound);
}

// The outbox records its attempts with write_unsynced: committed like any
// write, rolled back like any write, and never a way into the audit trail.
TEST_P(StoreConformance, AnUnsyncedWriteCommitsOrRollsBackAndAppendsNoAuditEvent) {
  ASSERT_TRUE(add(*store_, channel("ch-a", {"*"})).ok());
  auto e1 = audit(*store_, "request.created");
  ASSERT_TRUE(e1.ok());
  const auto d1 = store_->pending_deliveries("ch-a", 10)->front().id;
  DeliveryRecord recorded;
  ASSERT_TRUE(
      store_
          ->write_unsynced([&](StoreTx& tx) -> Status {
            auto r = tx.record_attempt(AttemptRecord{d1, Verdict::kDelivered, kT0 + milliseconds{5}, {}, "", 200});
            if (!r) return r.error();
            recorded = *r;
            return {};
          })
          .ok());
  EXPECT_EQ(recorded.state, DeliveryState::kDelivered);
  EXPECT_TRUE(store_->pending_deliveries("ch-a", 10)->empty());

  const auto head = store_->audit_head();
  ASSERT_TRUE(head.ok() && *head);
  const Status refused = store_->write_unsynced([&](StoreTx& tx) -> Status {
    AuditDraft d;
    d.time = kT0;
    d.actor = "alice";
    d.action = "request.created";
    auto e = tx.append_audit(d);
    return e ? Status{} : Status{e.error()};
  });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInternal);
  const auto after = store_->audit_head();
  ASSERT_TRUE(after.ok() && *after);
  EXPECT_EQ((*after)->seq, (*head)->seq);  // nothing appended, nothing queued
  EXPECT_TRUE(store_->pending_deliveries("ch-a", 10)->empty());
  // The store still takes durable writes, and the chain is whole.
  ASSERT_TRUE(audit(*store_, "request.approved").ok());
  auto verified = verify_stored_chain(*store_, std::nullopt);
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->problem;
}

TEST_P(StoreConformance, DisabledChannelsAreNeitherQueuedForNorDue) {
  auto a = add(*store_, channel("ch-a", {"*"}));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(audit(*store_, "request.created").ok());
  ChannelRecord off = *a;
  off.enabled = false;
  ASSERT_TRUE(tx_result<ChannelRecord>(*store_, [&](StoreTx& tx) { return tx.update_channel(off, kT0); }).ok());
  ASSERT_TRUE(audit(*store_, "request.approved").ok());
  EXPECT_EQ(all_deliveries(*store_).size(), 1U);  // the first, queued while it was on
  auto due = store_->due_channels(kT0 + milliseconds{1});
  ASSERT_TRUE(due.ok());
  EXPECT_TRUE(due->due.empty());
  EXPECT_FALSE(due->next_due.has_value());
}

TEST_P(StoreConformance, ATestMessageIsQueuedForOneChannelOnce) {
  ASSERT_TRUE(add(*store_, channel("ch-a", {"policy.*"})).ok());
  ASSERT_TRUE(add(*store_, channel("ch-b", {"*"})).ok());
  auto e = audit(*store_, "notify.channel_tested");
  ASSERT_TRUE(e.ok());
  auto q = tx_result<DeliveryRecord>(*store_, [&](StoreTx& tx) { return tx.enqueue_delivery("ch-a", e->seq, kT0); });
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q->channel_id, "ch-a");
  EXPECT_EQ(q->state, DeliveryState::kPending);
  // ch-b takes every event already: the row it has is the one returned.
  auto b = store_->pending_deliveries("ch-b", 10);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 1U);
  auto again =
      tx_result<DeliveryRecord>(*store_, [&](StoreTx& tx) { return tx.enqueue_delivery("ch-b", e->seq, kT0); });
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, b->front().id);
  EXPECT_EQ(all_deliveries(*store_).size(), 2U);
  EXPECT_EQ(tx_result<DeliveryRecord>(*store_, [&](StoreTx& tx) { return tx.enqueue_delivery("ch-x", e->seq, kT0); })
                .error()
                .code,
            ErrorCode::kNotFound);
  EXPECT_EQ(tx_result<DeliveryRecord>(*store_, [&](StoreTx& tx) { return tx.enqueue_delivery("ch-a", 777, kT0); })
                .error()
                .code,
            ErrorCode::kNotFound);
}

TEST_P(StoreConformance, DeletingAChannelDropsItsDeliveries) {
  ASSERT_TRUE(add(*store_, channel("ch-a", {"*"})).ok());
  ASSERT_TRUE(add(*store_, channel("ch-b", {"*"})).ok());
  ASSERT_TRUE(audit(*store_, "request.created").ok());
  ASSERT_TRUE(audit(*store_, "request.denied").ok());
  auto first = store_->pending_deliveries("ch-a", 10);
  ASSERT_TRUE(first.ok() && !first->empty());
  ASSERT_TRUE(attempt(*store_, first->front().id, Verdict::kDelivered, kT0).ok());
  auto dropped = tx_result<std::size_t>(*store_, [](StoreTx& tx) { return tx.delete_channel("ch-a"); });
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, 1U);  // pending ones only
  for (const auto& [ch, seq] : all_deliveries(*store_)) EXPECT_EQ(ch, "ch-b");
  EXPECT_EQ(all_deliveries(*store_).size(), 2U);
}

TEST_P(StoreConformance, DeliveriesPageInIdOrder) {
  ASSERT_TRUE(add(*store_, channel("ch-a", {"*"})).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(audit(*store_, "request.created").ok());
  auto page1 = store_->deliveries(DeliveryFilter{std::nullopt, std::nullopt, 0, 2});
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 2U);
  auto page2 = store_->deliveries(DeliveryFilter{std::nullopt, std::nullopt, page1->back().id, 10});
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->size(), 3U);
  EXPECT_LT(page1->back().id, page2->front().id);
  EXPECT_EQ(store_->deliveries(DeliveryFilter{std::nullopt, std::nullopt, 0, 0}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->pending_deliveries("ch-a", 0).error().code, ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformance, TheOutboxSurvivesAReopen) {
  ASSERT_TRUE(add(*store_, channel("ch-a", {"*"})).ok());
  auto e = audit(*store_, "request.created");
  ASSERT_TRUE(e.ok());
  store_.reset();
  store_ = GetParam().reopen(handle_);
  ASSERT_NE(store_, nullptr);
  auto pending = store_->pending_deliveries("ch-a", 10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1U);
  EXPECT_EQ(pending->front().audit_seq, e->seq);
  auto c = store_->channel("ch-a");
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->secrets, "sealed:ch-a");
}

Result<MessageRef> put_ref(Store& s, const std::string& channel_id, const std::string& subject, const std::string& ref,
                           AuditTime at = kT0) {
  return tx_result<MessageRef>(s, [&](StoreTx& tx) { return tx.put_message_ref({channel_id, subject, ref, at}); });
}

TEST_P(StoreConformance, MessageRefsArePerChannelAndSubjectReplacedAndDeletedWithTheChannel) {
  ASSERT_TRUE(add(*store_, channel("ch-a", {"*"})).ok());
  ASSERT_TRUE(add(*store_, channel("ch-b", {"*"})).ok());
  auto none = store_->message_ref("ch-a", "req-1");
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_FALSE(none->has_value());

  ASSERT_TRUE(put_ref(*store_, "ch-a", "req-1", R"({"channel":"C1","ts":"1.1"})").ok());
  ASSERT_TRUE(put_ref(*store_, "ch-a", "req-2", "a2").ok());
  ASSERT_TRUE(put_ref(*store_, "ch-b", "req-1", "b1").ok());
  auto a1 = store_->message_ref("ch-a", "req-1");
  ASSERT_TRUE(a1.ok() && a1->has_value());
  EXPECT_EQ((*a1)->ref, R"({"channel":"C1","ts":"1.1"})");
  EXPECT_EQ((*a1)->channel_id, "ch-a");
  EXPECT_EQ((*a1)->subject, "req-1");
  EXPECT_EQ((*a1)->updated_at, kT0);
  EXPECT_EQ((*store_->message_ref("ch-b", "req-1"))->ref, "b1");

  // A second put for the pair replaces it.
  ASSERT_TRUE(put_ref(*store_, "ch-a", "req-1", "a1-new", kT0 + milliseconds{7}).ok());
  a1 = store_->message_ref("ch-a", "req-1");
  ASSERT_TRUE(a1.ok() && a1->has_value());
  EXPECT_EQ((*a1)->ref, "a1-new");
  EXPECT_EQ((*a1)->updated_at, kT0 + milliseconds{7});
  EXPECT_EQ((*store_->message_ref("ch-a", "req-2"))->ref, "a2");

  // Bad input and unknown channels are refused, and leave nothing.
  EXPECT_EQ(put_ref(*store_, "ch-a", "", "x").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(put_ref(*store_, "ch-a", "req-3", "").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(put_ref(*store_, "ch-a", "req-3", std::string(kMaxMessageRefBytes + 1, 'x')).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(put_ref(*store_, "ch-none", "req-1", "x").error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(store_->message_ref("ch-a", "req-3")->has_value());
  EXPECT_FALSE(store_->message_ref("ch-none", "req-1")->has_value());

  // A put rolled back with its transaction leaves the old one.
  const Status failed = store_->write([](StoreTx& tx) -> Status {
    if (auto r = tx.put_message_ref({"ch-a", "req-1", "rolled-back", kT0}); !r.ok()) return r.error();
    return conflict("the attempt's record failed");
  });
  EXPECT_EQ(failed.error().code, ErrorCode::kConflict);
  EXPECT_EQ((*store_->message_ref("ch-a", "req-1"))->ref, "a1-new");

  // Deleting a channel deletes its references, and only its.
  ASSERT_TRUE(tx_result<std::size_t>(*store_, [](StoreTx& tx) { return tx.delete_channel("ch-a"); }).ok());
  EXPECT_FALSE(store_->message_ref("ch-a", "req-1")->has_value());
  EXPECT_FALSE(store_->message_ref("ch-a", "req-2")->has_value());
  EXPECT_EQ((*store_->message_ref("ch-b", "req-1"))->ref, "b1");
  // A new channel with the same id starts with none.
  ASSERT_TRUE(add(*store_, channel("ch-a", {"*"})).ok());
  EXPECT_FALSE(store_->message_ref("ch-a", "req-1")->has_value());

  // They survive a reopen.
  store_.reset();
  store_ = GetParam().reopen(handle_);
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ((*store_->message_ref("ch-b", "req-1"))->ref, "b1");
}

Result<std::size_t> prune_deliveries(Store& s, AuditTime before, std::size_t limit = 100) {
  return tx_result<std::size_t>(s, [&](StoreTx& tx) { return tx.prune_deliveries(before, limit); });
}

TEST_P(StoreConformance, RetentionDeletesOnlyFinishedDeliveriesOlderThanItInBatches) {
  ASSERT_TRUE(add(*store_, channel("ch-a", {"*"})).ok());
  ASSERT_TRUE(add(*store_, channel("ch-b", {"*"})).ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(audit(*store_, "request.created").ok());
  auto rows = store_->deliveries(DeliveryFilter{"ch-a", std::nullopt, 0, 10});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 4U);
  const auto a = [&](std::size_t i) { return (*rows)[i].id; };
  // ch-a: delivered at 1 s, dead at 2 s, delivered at 50 s, and one still
  // owed (retrying since 1 s: old, but pending).
  ASSERT_TRUE(attempt(*store_, a(0), Verdict::kDelivered, kT0 + milliseconds{1000}).ok());
  ASSERT_TRUE(attempt(*store_, a(1), Verdict::kDead, kT0 + milliseconds{2000}).ok());
  ASSERT_TRUE(attempt(*store_, a(2), Verdict::kDelivered, kT0 + milliseconds{50'000}).ok());
  ASSERT_TRUE(attempt(*store_, a(3), Verdict::kRetry, kT0 + milliseconds{1000}, kT0 + milliseconds{90'000}).ok());
  // ch-b: never attempted (pending since kT0).

  // Nothing finished before kT0 + 1 s (strictly before).
  EXPECT_EQ(*prune_deliveries(*store_, kT0 + milliseconds{1000}), 0U);
  // Batches of one: the two old finished ones go, one per call.
  const AuditTime cutoff = kT0 + milliseconds{10'000};
  EXPECT_EQ(*prune_deliveries(*store_, cutoff, 1), 1U);
  EXPECT_EQ(*prune_deliveries(*store_, cutoff, 1), 1U);
  EXPECT_EQ(*prune_deliveries(*store_, cutoff, 1), 0U);
  EXPECT_FALSE(store_->delivery(a(0))->has_value());
  EXPECT_FALSE(store_->delivery(a(1))->has_value());
  EXPECT_TRUE(store_->delivery(a(2))->has_value());  // finished after the cutoff
  auto owed = store_->delivery(a(3));
  ASSERT_TRUE(owed.ok() && owed->has_value());
  EXPECT_EQ((*owed)->state, DeliveryState::kPending);
  EXPECT_EQ(store_->pending_deliveries("ch-b", 10)->size(), 4U);

  // Far in the future: every finished one goes, no pending one.
  EXPECT_EQ(*prune_deliveries(*store_, kT0 + std::chrono::hours(24 * 365)), 1U);
  auto left = store_->deliveries(DeliveryFilter{});
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->size(), 5U);
  for (const auto& d : *left) EXPECT_EQ(d.state, DeliveryState::kPending);

  // A batch is 1 to kMaxPage.
  EXPECT_EQ(prune_deliveries(*store_, cutoff, 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(prune_deliveries(*store_, cutoff, kMaxPage + 1).error().code, ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformance, ADeadLetterReDrivenBeforeThePruneCommitsIsKept) {
  ASSERT_TRUE(add(*store_, channel("ch-a", {"*"})).ok());
  ASSERT_TRUE(audit(*store_, "request.created").ok());
  ASSERT_TRUE(audit(*store_, "request.created").ok());
  auto rows = store_->pending_deliveries("ch-a", 10);
  ASSERT_TRUE(rows.ok() && rows->size() == 2U);
  const auto d1 = (*rows)[0].id;
  const auto d2 = (*rows)[1].id;
  ASSERT_TRUE(attempt(*store_, d1, Verdict::kDead, kT0 + milliseconds{1}).ok());
  ASSERT_TRUE(attempt(*store_, d2, Verdict::kDead, kT0 + milliseconds{1}).ok());
  // d1 is re-driven in the same transaction as, and just before, the
  // prune: the prune's own condition sees it pending and keeps it.
  std::size_t pruned = 0;
  ASSERT_TRUE(in_tx(*store_, [&](StoreTx& tx) -> Status {
                auto again = tx.redrive_delivery(d1, kT0 + std::chrono::hours(1000));
                if (!again.ok()) return again.error();
                auto n = tx.prune_deliveries(kT0 + std::chrono::hours(2000), 10);
                if (!n.ok()) return n.error();
                pruned = *n;
                return {};
              }).ok());
  EXPECT_EQ(pruned, 1U);
  auto kept = store_->delivery(d1);
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ((*kept)->state, DeliveryState::kPending);
  EXPECT_FALSE(store_->delivery(d2)->has_value());
  // Once it is finished again, it ages from its new finish.
  ASSERT_TRUE(attempt(*store_, d1, Verdict::kDelivered, kT0 + std::chrono::hours(1001)).ok());
  EXPECT_EQ(*prune_deliveries(*store_, kT0 + std::chrono::hours(1001)), 0U);
  EXPECT_EQ(*prune_deliveries(*store_, kT0 + std::chrono::hours(1002)), 1U);
  // A prune rolled back with its transaction deletes nothing.
  ASSERT_TRUE(audit(*store_, "request.created").ok());
  auto third = store_->pending_deliveries("ch-a", 10);
  ASSERT_TRUE(third.ok() && third->size() == 1U);
  ASSERT_TRUE(attempt(*store_, third->front().id, Verdict::kDelivered, kT0).ok());
  const Status failed = store_->write([](StoreTx& tx) -> Status {
    if (auto n = tx.prune_deliveries(kT0 + std::chrono::hours(2000), 10); !n.ok()) return n.error();
    return conflict("something else in the transaction failed");
  });
  EXPECT_EQ(failed.error().code, ErrorCode::kConflict);
  EXPECT_TRUE(store_->delivery(third->front().id)->has_value());
}

TEST_P(StoreConformance, RetentionDeletesMessageRefsLastStoredBeforeIt) {
  ASSERT_TRUE(add(*store_, channel("ch-a", {"*"})).ok());
  ASSERT_TRUE(add(*store_, channel("ch-b", {"*"})).ok());
  ASSERT_TRUE(put_ref(*store_, "ch-a", "req-1", "old", kT0).ok());
  ASSERT_TRUE(put_ref(*store_, "ch-b", "req-1", "old too", kT0 + milliseconds{1}).ok());
  ASSERT_TRUE(put_ref(*store_, "ch-a", "req-2", "recent", kT0 + milliseconds{5000}).ok());
  // Stored first long ago, then used again (replaced) recently: kept.
  ASSERT_TRUE(put_ref(*store_, "ch-b", "req-2", "first", kT0).ok());
  ASSERT_TRUE(put_ref(*store_, "ch-b", "req-2", "edited", kT0 + milliseconds{6000}).ok());
  const auto prune = [&](AuditTime before, std::size_t limit) {
    return tx_result<std::size_t>(*store_, [&](StoreTx& tx) { return tx.prune_message_refs(before, limit); });
  };
  EXPECT_EQ(*prune(kT0, 10), 0U);
  EXPECT_EQ(*prune(kT0 + milliseconds{1000}, 1), 1U);
  EXPECT_EQ(*prune(kT0 + milliseconds{1000}, 1), 1U);
  EXPECT_EQ(*prune(kT0 + milliseconds{1000}, 1), 0U);
  EXPECT_FALSE(store_->message_ref("ch-a", "req-1")->has_value());
  EXPECT_FALSE(store_->message_ref("ch-b", "req-1")->has_value());
  EXPECT_EQ((*store_->message_ref("ch-a", "req-2"))->ref, "recent");
  EXPECT_EQ((*store_->message_ref("ch-b", "req-2"))->ref, "edited");
  // Stored again meanwhile, in the prune's transaction: kept.
  ASSERT_TRUE(in_tx(*store_, [&](StoreTx& tx) -> Status {
                auto r = tx.put_message_ref({"ch-a", "req-2", "again", kT0 + milliseconds{9000}});
                if (!r.ok()) return r.error();
                auto n = tx.prune_message_refs(kT0 + milliseconds{8000}, 10);
                if (!n.ok()) return n.error();
                return *n == 1 ? Status{} : conflict("expected one reference pruned");
              }).ok());
  EXPECT_EQ((*store_->message_ref("ch-a", "req-2"))->ref, "again");
  EXPECT_FALSE(store_->message_ref("ch-b", "req-2")->has_value());
  EXPECT_EQ(prune(kT0, 0).error().code, ErrorCode::kInvalidArgument);
}

TEST(OutboxRouting, RoutesAction) {
  EXPECT_TRUE(routes_action({"*"}, "anything.at_all"));
  EXPECT_TRUE(routes_action({"request.*"}, "request.created"));
  EXPECT_FALSE(routes_action({"request.*"}, "requests.created"));
  EXPECT_FALSE(routes_action({"request.*"}, "request"));
  EXPECT_TRUE(routes_action({"code.issued", "request.created"}, "request.created"));
  EXPECT_FALSE(routes_action({"request.created"}, "request.created.x"));
  EXPECT_FALSE(routes_action({}, "request.created"));
  EXPECT_TRUE(routes_action({"endpoint.*"}, "endpoint.forged.retired"));
}

}  // namespace
}  // namespace hoist::store::testing
