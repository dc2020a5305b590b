// The outbox sender over a real SQLite store with a fake Sender: what it
// sends, in which order, and what it records after each answer.
#include "server/notify/outbox_sender.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "store/sqlite_store.h"
#include "support/temp_dir.h"

namespace hoist::notify {
namespace {

using outbox::DeliveryState;
using std::chrono::milliseconds;

// Answers each channel's attempts from a script (then 200), and remembers
// every message it was given, per channel, in order.
class FakeSender final : public Sender {
 public:
  struct Shared {
    std::mutex mu;
    std::map<std::string, std::vector<std::string>> sent;             // channel -> event ids, in order
    std::map<std::string, std::vector<outbox::AttemptOutcome>> plan;  // channel -> next answers
    std::map<std::string, int> made;                                  // channel -> senders made
    std::map<std::string, std::chrono::milliseconds> delay;           // channel -> how long each send takes
    std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> at;  // channel -> when each ended
    // channel -> (subject, thread_ref) of each message, in order
    std::map<std::string, std::vector<std::pair<std::string, std::optional<std::string>>>> threads;
  };
  FakeSender(std::string channel, std::shared_ptr<Shared> shared) : channel_(std::move(channel)), shared_(shared) {}

  outbox::AttemptOutcome send(const Message& message, AuditTime) override {
    std::chrono::milliseconds delay{0};
    {
      const std::lock_guard lock(shared_->mu);
      delay = shared_->delay[channel_];
    }
    std::this_thread::sleep_for(delay);  // a slow or hanging receiver
    const std::lock_guard lock(shared_->mu);
    shared_->at[channel_].push_back(std::chrono::steady_clock::now());
    shared_->sent[channel_].push_back(message.id);
    shared_->threads[channel_].emplace_back(message.subject, message.thread_ref);
    auto& plan = shared_->plan[channel_];
    if (plan.empty()) return {200, std::nullopt, ""};
    auto out = plan.front();
    plan.erase(plan.begin());
    return out;
  }

 private:
  std::string channel_;
  std::shared_ptr<Shared> shared_;
};

class OutboxSenderTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  void open() {
    auto s = store::open_sqlite_store(dir_.path() + "/hoist.db");
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    OutboxOptions options;
    options.schedule.jitter = 0;
    options.schedule.delays = {milliseconds{0}, milliseconds{1000}, milliseconds{2000}};
    options.schedule.max_age = milliseconds{10'000};
    options.poll_interval = milliseconds{20};
    options.public_url = "https://hoist.example:8443/";
    if (tune_) tune_(options);
    sender_ = std::make_unique<OutboxSender>(
        *store_, *log_,
        [shared = shared_](const store::ChannelRecord& c,
                           const std::string& secrets) -> Result<std::unique_ptr<Sender>> {
          if (secrets != "opened:" + c.id) return invalid_argument("wrong secrets handed in");
          const std::lock_guard lock(shared->mu);
          ++shared->made[c.id];
          return std::unique_ptr<Sender>(std::make_unique<FakeSender>(c.id, shared));
        },
        [](const store::ChannelRecord& c) -> Result<std::string> { return "opened:" + c.id; },
        [this] { return AuditTime{milliseconds{now_ms_.load()}}; }, options);
  }

  void add_channel(const std::string& id, std::vector<std::string> events, bool enabled = true) {
    store::ChannelRecord c;
    c.id = id;
    c.kind = "fake";
    c.name = id;
    c.config = "{}";
    c.secrets = "sealed";
    c.enabled = enabled;
    c.events = std::move(events);
    c.created_at = now();
    auto st = store_->write([&](store::StoreTx& tx) -> Status {
      auto r = tx.insert_channel(c);
      return r ? Status{} : Status{r.error()};
    });
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  AuditEvent audit(const std::string& action, const std::string& target = "req-1") {
    std::optional<AuditEvent> out;
    auto st = store_->write([&](store::StoreTx& tx) -> Status {
      store::AuditDraft d;
      d.time = now();
      d.actor = "alice";
      d.action = action;
      d.target = target;
      auto e = tx.append_audit(d);
      if (!e) return e.error();
      out = *e;
      return {};
    });
    EXPECT_TRUE(st.ok()) << st.error().message;
    return out.value_or(AuditEvent{});
  }

  std::vector<std::string> sent(const std::string& channel) {
    const std::lock_guard lock(shared_->mu);
    return shared_->sent[channel];
  }
  void plan(const std::string& channel, std::vector<outbox::AttemptOutcome> answers) {
    const std::lock_guard lock(shared_->mu);
    shared_->plan[channel] = std::move(answers);
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> threads(const std::string& channel) {
    const std::lock_guard lock(shared_->mu);
    return shared_->threads[channel];
  }
  std::optional<std::string> stored_ref(const std::string& channel, const std::string& subject) {
    auto r = store_->message_ref(channel, subject);
    EXPECT_TRUE(r.ok());
    return r.ok() && *r ? std::optional<std::string>((*r)->ref) : std::nullopt;
  }
  std::vector<store::DeliveryRecord> deliveries(const std::string& channel) {
    auto rows = store_->deliveries(store::DeliveryFilter{channel, std::nullopt, 0, 100});
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? *rows : std::vector<store::DeliveryRecord>{};
  }
  AuditTime now() const { return AuditTime{milliseconds{now_ms_.load()}}; }
  void advance(milliseconds d) { now_ms_ += d.count(); }

  hoist::testing::TempDir dir_;
  std::unique_ptr<log::Logger> log_ = log::make_null_logger();
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<FakeSender::Shared> shared_ = std::make_shared<FakeSender::Shared>();
  std::function<void(OutboxOptions&)> tune_;  // set before open()
  std::atomic<std::int64_t> now_ms_{1'800'000'000'000};
  std::unique_ptr<OutboxSender> sender_;
};

TEST_F(OutboxSenderTest, SendsEachChannelsEventsInAuditOrderWithTheEventIdAsKey) {
  add_channel("ch-a", {"request.*"});
  add_channel("ch-b", {"*"});
  const auto e1 = audit("request.created");
  const auto e2 = audit("policy.deleted", "fleet");
  const auto e3 = audit("request.approved");
  EXPECT_EQ(sender_->run_channel("ch-a"), 2U);
  EXPECT_EQ(sender_->run_channel("ch-b"), 3U);
  EXPECT_EQ(sent("ch-a"), (std::vector<std::string>{event_id(e1), event_id(e3)}));
  EXPECT_EQ(sent("ch-b"), (std::vector<std::string>{event_id(e1), event_id(e2), event_id(e3)}));
  for (const auto& d : deliveries("ch-b")) {
    EXPECT_EQ(d.state, DeliveryState::kDelivered);
    EXPECT_EQ(d.attempts, 1);
    EXPECT_EQ(d.last_status, 200);
  }
  // Nothing is sent twice once recorded.
  EXPECT_EQ(sender_->run_channel("ch-b"), 0U);
  EXPECT_EQ(sent("ch-b").size(), 3U);
  // One sender per channel, kept between runs.
  const std::lock_guard lock(shared_->mu);
  EXPECT_EQ(shared_->made["ch-b"], 1);
}

TEST_F(OutboxSenderTest, AFailureHoldsItsChannelInOrderAndRetriesOnTheSchedule) {
  add_channel("ch-a", {"*"});
  add_channel("ch-b", {"*"});
  plan("ch-a", {{std::nullopt, std::nullopt, "connection refused"}, {503, "3", "HTTP 503"}});
  const auto e1 = audit("request.created");
  const auto e2 = audit("request.approved");
  EXPECT_EQ(sender_->run_channel("ch-a"), 1U);  // e1 failed: e2 waits behind it
  EXPECT_EQ(sender_->run_channel("ch-b"), 2U);  // the other channel is not held
  auto rows = deliveries("ch-a");
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[0].state, DeliveryState::kPending);
  EXPECT_EQ(rows[0].attempts, 1);
  EXPECT_EQ(rows[0].last_error, "connection refused");
  EXPECT_EQ(rows[0].next_attempt_at, now() + milliseconds{1000});
  EXPECT_EQ(rows[1].attempts, 0);
  // Not due yet: nothing is sent.
  advance(milliseconds{999});
  EXPECT_EQ(sender_->run_channel("ch-a"), 0U);
  // Due: a 503 with Retry-After: 3 s, longer than the schedule's next
  // step (2 s), so it is honoured (a shorter one would not be).
  advance(milliseconds{1});
  EXPECT_EQ(sender_->run_channel("ch-a"), 1U);
  rows = deliveries("ch-a");
  EXPECT_EQ(rows[0].attempts, 2);
  EXPECT_EQ(rows[0].last_status, 503);
  EXPECT_EQ(rows[0].next_attempt_at, now() + milliseconds{3000});
  advance(milliseconds{3000});
  EXPECT_EQ(sender_->run_channel("ch-a"), 2U);
  EXPECT_EQ(sent("ch-a"), (std::vector<std::string>{event_id(e1), event_id(e1), event_id(e1), event_id(e2)}));
  rows = deliveries("ch-a");
  EXPECT_EQ(rows[0].state, DeliveryState::kDelivered);
  EXPECT_EQ(rows[0].attempts, 3);
  EXPECT_EQ(rows[0].last_error, "");
  EXPECT_EQ(rows[1].state, DeliveryState::kDelivered);
}

TEST_F(OutboxSenderTest, APermanentRefusalDeadLettersAndLetsTheNextOneGo) {
  add_channel("ch-a", {"*"});
  plan("ch-a", {{400, std::nullopt, "HTTP 400: bad signature"}});
  const auto e1 = audit("request.created");
  const auto e2 = audit("request.denied");
  EXPECT_EQ(sender_->run_channel("ch-a"), 2U);
  auto rows = deliveries("ch-a");
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[0].state, DeliveryState::kDead);
  EXPECT_NE(rows[0].last_error.find("HTTP 400: bad signature"), std::string::npos) << rows[0].last_error;
  EXPECT_EQ(rows[1].state, DeliveryState::kDelivered);
  // Re-driven, it goes again.
  ASSERT_TRUE(store_
                  ->write([&](store::StoreTx& tx) -> Status {
                    auto r = tx.redrive_delivery(rows[0].id, now());
                    return r ? Status{} : Status{r.error()};
                  })
                  .ok());
  EXPECT_EQ(sender_->run_channel("ch-a"), 1U);
  EXPECT_EQ(sent("ch-a"), (std::vector<std::string>{event_id(e1), event_id(e2), event_id(e1)}));
  EXPECT_EQ(deliveries("ch-a")[0].state, DeliveryState::kDelivered);
}

TEST_F(OutboxSenderTest, GivesUpAfterTheMaxAge) {
  add_channel("ch-a", {"*"});
  std::vector<outbox::AttemptOutcome> failures(20, outbox::AttemptOutcome{500, std::nullopt, "HTTP 500"});
  plan("ch-a", failures);
  audit("request.created");
  for (int i = 0; i < 12; ++i) {
    (void)sender_->run_channel("ch-a");
    advance(milliseconds{2000});
  }
  auto rows = deliveries("ch-a");
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].state, DeliveryState::kDead);
  EXPECT_NE(rows[0].last_error.find("given up"), std::string::npos) << rows[0].last_error;
  EXPECT_EQ(rows[0].attempts, 6);  // at 0, 2, 4, 6, 8 and 10 s (the loop's steps); the next would pass 10 s
}

TEST_F(OutboxSenderTest, TheMessageCarriesTheRequestAndItsConsoleLink) {
  add_channel("ch-a", {"*"});
  // No such request stored: the message goes without one.
  audit("request.created", "req-none");
  EXPECT_EQ(sender_->run_channel("ch-a"), 1U);
  EXPECT_EQ(request_link("https://hoist.example:8443/", "req-1"), "https://hoist.example:8443/#/requests/req-1");
  EXPECT_EQ(request_link("", "req-1"), "");
}

TEST_F(OutboxSenderTest, AMessageRefIsKeptPerChannelAndRequestOnlyFromADeliveredAttempt) {
  add_channel("ch-a", {"*"});
  add_channel("ch-b", {"*"});
  using Threads = std::vector<std::pair<std::string, std::optional<std::string>>>;
  const auto ok_with = [](std::string ref) { return outbox::AttemptOutcome{200, std::nullopt, "", std::move(ref)}; };
  // req-1 posted: its ref is stored for ch-a only.
  plan("ch-a", {ok_with("a:req-1")});
  audit("request.created", "req-1");
  EXPECT_EQ(sender_->run_channel("ch-a"), 1U);
  EXPECT_EQ(sender_->run_channel("ch-b"), 1U);
  EXPECT_EQ(stored_ref("ch-a", "req-1"), "a:req-1");
  EXPECT_EQ(stored_ref("ch-b", "req-1"), std::nullopt);
  // Its next event carries it (and the edit's answer replaces it); another
  // request's does not; an event about no request has no subject.
  plan("ch-a", {ok_with("a:req-1:edited")});
  audit("request.approved", "req-1");
  audit("request.created", "req-2");
  audit("policy.deleted", "fleet");
  EXPECT_EQ(sender_->run_channel("ch-a"), 3U);
  EXPECT_EQ(threads("ch-a"),
            (Threads{{"req-1", std::nullopt}, {"req-1", "a:req-1"}, {"req-2", std::nullopt}, {"", std::nullopt}}));
  EXPECT_EQ(stored_ref("ch-a", "req-1"), "a:req-1:edited");
  EXPECT_EQ(stored_ref("ch-a", "req-2"), std::nullopt);  // its answer had none

  // A failed attempt keeps nothing, even with a ref: retried, then dead.
  plan("ch-a", {{503, std::nullopt, "HTTP 503", "retry-ref"}, {400, std::nullopt, "HTTP 400", "dead-ref"}});
  audit("request.created", "req-3");
  EXPECT_EQ(sender_->run_channel("ch-a"), 1U);
  advance(milliseconds{1000});
  EXPECT_EQ(sender_->run_channel("ch-a"), 1U);
  EXPECT_EQ(deliveries("ch-a").back().state, DeliveryState::kDead);
  EXPECT_EQ(stored_ref("ch-a", "req-3"), std::nullopt);
  // So the request's next event posts anew (no ref handed in), and keeps that one.
  plan("ch-a", {ok_with("a:req-3:new")});
  audit("request.denied", "req-3");
  EXPECT_EQ(sender_->run_channel("ch-a"), 1U);
  EXPECT_EQ(threads("ch-a").back(), (std::pair<std::string, std::optional<std::string>>{"req-3", std::nullopt}));
  EXPECT_EQ(stored_ref("ch-a", "req-3"), "a:req-3:new");
  // Posted and decided before the sender ran: the first answer's ref is in
  // the store before the next delivery is read, although the run writes
  // its other attempts as one batch.
  plan("ch-a", {ok_with("a:req-5"), ok_with("a:req-5:edited")});
  audit("request.created", "req-5");
  audit("request.approved", "req-5");
  audit("policy.deleted", "fleet");
  EXPECT_EQ(sender_->run_channel("ch-a"), 3U);
  const auto last = threads("ch-a");
  ASSERT_GE(last.size(), 3U);
  EXPECT_EQ(last[last.size() - 3], (std::pair<std::string, std::optional<std::string>>{"req-5", std::nullopt}));
  EXPECT_EQ(last[last.size() - 2], (std::pair<std::string, std::optional<std::string>>{"req-5", "a:req-5"}));
  EXPECT_EQ(stored_ref("ch-a", "req-5"), "a:req-5:edited");
  // A ref too long to store is dropped; the delivery is still recorded.
  plan("ch-a", {ok_with(std::string(store::kMaxMessageRefBytes + 1, 'x'))});
  audit("request.created", "req-4");
  EXPECT_EQ(sender_->run_channel("ch-a"), 1U);
  EXPECT_EQ(deliveries("ch-a").back().state, DeliveryState::kDelivered);
  EXPECT_EQ(stored_ref("ch-a", "req-4"), std::nullopt);
}

TEST_F(OutboxSenderTest, ADisabledChannelIsNotSentTo) {
  add_channel("ch-a", {"*"}, false);
  add_channel("ch-b", {"*"});
  audit("request.created");
  EXPECT_EQ(sender_->run_channel("ch-a"), 0U);
  EXPECT_TRUE(sent("ch-a").empty());
}

TEST_F(OutboxSenderTest, ASenderThatCannotBeMadeIsAFailedAttempt) {
  add_channel("ch-a", {"*"});
  audit("request.created");
  sender_ = std::make_unique<OutboxSender>(
      *store_, *log_,
      [](const store::ChannelRecord&, const std::string&) -> Result<std::unique_ptr<Sender>> {
        return invalid_argument("url must be a string");
      },
      [](const store::ChannelRecord&) -> Result<std::string> { return std::string(); }, [this] { return now(); },
      OutboxOptions{});
  EXPECT_EQ(sender_->run_channel("ch-a"), 1U);
  auto rows = deliveries("ch-a");
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].state, DeliveryState::kPending);
  EXPECT_NE(rows[0].last_error.find("not usable: url must be a string"), std::string::npos) << rows[0].last_error;
}

TEST_F(OutboxSenderTest, TheThreadsDeliverWhatIsCommittedAndAReopenedStoreResumes) {
  add_channel("ch-a", {"*"});
  sender_->start();
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    ids.push_back(event_id(audit("request.created", "req-" + std::to_string(i))));
    sender_->wake();
  }
  for (int i = 0; i < 500 && sent("ch-a").size() < ids.size(); ++i) std::this_thread::sleep_for(milliseconds{10});
  EXPECT_EQ(sent("ch-a"), ids);
  sender_->stop();

  // Queued while stopped, sent after a "restart" on the same file.
  const auto late = event_id(audit("request.expired"));
  sender_.reset();
  store_.reset();
  open();
  sender_->start();
  for (int i = 0; i < 500 && sent("ch-a").size() < ids.size() + 1; ++i) std::this_thread::sleep_for(milliseconds{10});
  sender_->stop();
  ASSERT_EQ(sent("ch-a").size(), ids.size() + 1);
  EXPECT_EQ(sent("ch-a").back(), late);
}

TEST_F(OutboxSenderTest, ACommitIsLookedAtOnlyAfterTheSettleTime) {
  tune_ = [](OutboxOptions& o) {
    o.poll_interval = milliseconds{10'000};  // only a wake makes it look
    o.settle = milliseconds{400};
  };
  sender_.reset();
  store_.reset();
  open();
  add_channel("ch-a", {"*"});
  sender_->start();
  std::this_thread::sleep_for(milliseconds{50});  // its first look, at start, is done
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(event_id(audit("request.created", "req-" + std::to_string(i))));
    sender_->wake();
  }
  std::this_thread::sleep_for(milliseconds{150});
  EXPECT_TRUE(sent("ch-a").empty()) << "sent before the settle time was over";
  for (int i = 0; i < 300 && sent("ch-a").size() < ids.size(); ++i) std::this_thread::sleep_for(milliseconds{10});
  sender_->stop();
  EXPECT_EQ(sent("ch-a"), ids);
}

TEST_F(OutboxSenderTest, ABusyRequestPathGoesFirstUpToTheYieldLimitThenTheOutboxSends) {
  std::atomic<bool> busy{true};
  tune_ = [&busy](OutboxOptions& o) {
    o.busy = [&busy] { return busy.load(); };
    o.yield_limit = milliseconds{400};
  };
  sender_.reset();
  store_.reset();
  open();
  add_channel("ch-a", {"*"});
  sender_->start();
  const auto first = event_id(audit("request.created", "req-1"));
  sender_->wake();
  std::this_thread::sleep_for(milliseconds{150});
  EXPECT_TRUE(sent("ch-a").empty()) << "sent while the request path was busy, before the yield limit";
  // Always busy: still sent once the limit is used up, never starved.
  for (int i = 0; i < 300 && sent("ch-a").empty(); ++i) std::this_thread::sleep_for(milliseconds{10});
  EXPECT_EQ(sent("ch-a"), std::vector<std::string>{first});
  // Not busy: at once.
  busy = false;
  const auto second = event_id(audit("request.approved", "req-1"));
  sender_->wake();
  for (int i = 0; i < 100 && sent("ch-a").size() < 2; ++i) std::this_thread::sleep_for(milliseconds{10});
  sender_->stop();
  EXPECT_EQ(sent("ch-a"), (std::vector<std::string>{first, second}));
}

// Two receivers hang (each attempt takes 2 s) on a sender with two
// workers; a third channel must not wait for them.
TEST_F(OutboxSenderTest, HangingReceiversDoNotHoldUpAHealthyChannel) {
  tune_ = [](OutboxOptions& o) {
    o.workers = 2;
    o.slow_after = milliseconds{400};
    o.slow_share = 0.5;  // one worker for slow channels
  };
  sender_.reset();
  store_.reset();
  open();
  add_channel("hang-1", {"*"});
  add_channel("hang-2", {"*"});
  add_channel("ok", {"*"});
  {
    const std::lock_guard lock(shared_->mu);
    shared_->delay["hang-1"] = milliseconds{2000};
    shared_->delay["hang-2"] = milliseconds{2000};
  }
  const auto delivered_to_ok = [&](std::size_t n) {
    for (int i = 0; i < 400; ++i) {
      {
        const std::lock_guard lock(shared_->mu);
        if (shared_->at["ok"].size() >= n) return shared_->at["ok"][n - 1];
      }
      std::this_thread::sleep_for(milliseconds{5});
    }
    return std::chrono::steady_clock::time_point::max();
  };
  sender_->start();
  std::this_thread::sleep_for(milliseconds{50});
  // Before either is known to be slow, the two can hold both workers: an
  // extra worker takes "ok" once their runs have gone on for slow_after.
  auto start = std::chrono::steady_clock::now();
  (void)audit("request.created", "req-1");
  sender_->wake();
  auto took = delivered_to_ok(1) - start;
  EXPECT_LT(took, milliseconds{1500}) << "the healthy channel waited for the hanging ones' attempts";
  // Both are slow now, and hold at most one worker between them: the next
  // event reaches "ok" at once, whatever they do.
  for (int i = 0; i < 400 && (sent("hang-1").size() < 1 || sent("hang-2").size() < 1); ++i) {
    std::this_thread::sleep_for(milliseconds{5});
  }
  start = std::chrono::steady_clock::now();
  (void)audit("request.approved", "req-1");
  sender_->wake();
  took = delivered_to_ok(2) - start;
  EXPECT_LT(took, milliseconds{300}) << "a healthy channel waited behind slow ones";
  sender_->stop();
}

}  // namespace
}  // namespace hoist::notify
