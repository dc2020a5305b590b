// The outbox's retention (notify/retention.h) over a real SQLite store:
// what goes (delivered and dead, older than the retention), what stays
// (anything pending, anything younger), in bounded batches that stop when
// hoistd stops; and [notify] retention in hoistd.toml.
#include "server/notify/retention.h"

#include <gtest/gtest.h>

#include "server/config.h"
#include "store/sqlite_store.h"
#include "support/temp_dir.h"

namespace hoist::notify {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

const AuditTime kT0{milliseconds{1'800'000'000'000}};
constexpr auto kDay = hours(24);

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::open_sqlite_store(dir_.path() + "/hoist.db");
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    store::ChannelRecord c;
    c.id = "ch-a";
    c.kind = "webhook";
    c.name = "a";
    c.config = "{}";
    c.events = {"*"};
    c.created_at = kT0;
    ASSERT_TRUE(store_
                    ->write([&](store::StoreTx& tx) -> Status {
                      auto r = tx.insert_channel(c);
                      return r ? Status{} : Status{r.error()};
                    })
                    .ok());
  }

  // `n` events, each queued for ch-a, and each delivery's id.
  std::vector<std::int64_t> events(int n) {
    for (int i = 0; i < n; ++i) {
      EXPECT_TRUE(store_
                      ->write([&](store::StoreTx& tx) -> Status {
                        store::AuditDraft d;
                        d.time = kT0;
                        d.actor = "alice";
                        d.action = "request.created";
                        d.target = "req-" + std::to_string(i);
                        auto e = tx.append_audit(d);
                        return e ? Status{} : Status{e.error()};
                      })
                      .ok());
    }
    std::vector<std::int64_t> ids;
    auto rows = store_->deliveries(store::DeliveryFilter{"ch-a", std::nullopt, 0, 1000});
    EXPECT_TRUE(rows.ok());
    for (const auto& d : *rows) ids.push_back(d.id);
    return ids;
  }

  void finish(std::int64_t id, outbox::Verdict verdict, AuditTime at) {
    ASSERT_TRUE(store_
                    ->write([&](store::StoreTx& tx) -> Status {
                      auto r = tx.record_attempt({id, verdict, at, at + hours(1), "HTTP 500", 500});
                      return r ? Status{} : Status{r.error()};
                    })
                    .ok());
  }

  void put_ref(const std::string& subject, AuditTime at) {
    ASSERT_TRUE(store_
                    ->write([&](store::StoreTx& tx) -> Status {
                      auto r = tx.put_message_ref({"ch-a", subject, "C1/1.1", at});
                      return r ? Status{} : Status{r.error()};
                    })
                    .ok());
  }

  std::size_t count(std::optional<outbox::DeliveryState> state = std::nullopt) {
    auto rows = store_->deliveries(store::DeliveryFilter{std::nullopt, state, 0, 1000});
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? rows->size() : 0;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(RetentionTest, FinishedRowsOlderThanTheRetentionGoAndOwedOnesStay) {
  const auto ids = events(6);
  ASSERT_EQ(ids.size(), 6U);
  finish(ids[0], outbox::Verdict::kDelivered, kT0);
  finish(ids[1], outbox::Verdict::kDead, kT0 + kDay);
  finish(ids[2], outbox::Verdict::kDelivered, kT0 + 20 * kDay);  // younger than 30 days at the run
  finish(ids[3], outbox::Verdict::kRetry, kT0);                  // retrying: still owed
  // ids[4], ids[5]: never tried, pending since kT0.
  put_ref("req-0", kT0);
  put_ref("req-2", kT0 + 20 * kDay);

  RetentionOptions options;
  options.retention = 30 * kDay;
  const auto pruned = prune_outbox(*store_, kT0 + 40 * kDay, options);
  EXPECT_FALSE(pruned.failed.has_value());
  EXPECT_FALSE(pruned.more);
  EXPECT_EQ(pruned.before, kT0 + 10 * kDay);
  EXPECT_EQ(pruned.deliveries, 2U);
  EXPECT_EQ(pruned.message_refs, 1U);
  EXPECT_EQ(count(), 4U);
  EXPECT_EQ(count(outbox::DeliveryState::kPending), 3U);
  EXPECT_TRUE(store_->delivery(ids[2])->has_value());
  EXPECT_FALSE(store_->message_ref("ch-a", "req-0")->has_value());
  EXPECT_TRUE(store_->message_ref("ch-a", "req-2")->has_value());

  // A year on, the owed ones are still there, whatever their age.
  const auto later = prune_outbox(*store_, kT0 + 365 * kDay, options);
  EXPECT_EQ(later.deliveries, 1U);
  EXPECT_EQ(count(), 3U);
  EXPECT_EQ(count(outbox::DeliveryState::kPending), 3U);
}

TEST_F(RetentionTest, ARunIsBoundedInBatchesAndStopsWhenAsked) {
  const auto ids = events(25);
  for (const auto id : ids) finish(id, outbox::Verdict::kDelivered, kT0);
  RetentionOptions options;
  options.retention = kDay;
  options.batch = 4;
  options.max_batches = 3;
  int calls = 0;
  const auto between = [&] {
    ++calls;
    return true;
  };
  // 3 batches of 4: cut short, and says so.
  auto pruned = prune_outbox(*store_, kT0 + 2 * kDay, options, between);
  EXPECT_EQ(pruned.deliveries, 12U);
  EXPECT_TRUE(pruned.more);
  EXPECT_EQ(count(), 13U);
  EXPECT_EQ(calls, 3);  // before every batch but the first: 2 of deliveries, 1 of references
  // The next runs take the rest; the last batch is short, so it is done.
  pruned = prune_outbox(*store_, kT0 + 2 * kDay, options, between);
  EXPECT_EQ(pruned.deliveries, 12U);
  EXPECT_TRUE(pruned.more);
  pruned = prune_outbox(*store_, kT0 + 2 * kDay, options, between);
  EXPECT_EQ(pruned.deliveries, 1U);
  EXPECT_FALSE(pruned.more);
  EXPECT_EQ(count(), 0U);

  // hoistd stopping: the run ends before the next batch.
  for (const auto id : events(10)) finish(id, outbox::Verdict::kDead, kT0);
  ASSERT_EQ(count(), 10U);
  pruned = prune_outbox(*store_, kT0 + 2 * kDay, options, [] { return false; });
  EXPECT_EQ(pruned.deliveries, 4U);
  EXPECT_TRUE(pruned.more);
  EXPECT_EQ(count(), 6U);
}

TEST_F(RetentionTest, AFailedBatchSaysSoWithWhatWentBeforeIt) {
  const auto ids = events(3);
  for (const auto id : ids) finish(id, outbox::Verdict::kDelivered, kT0);
  RetentionOptions options;
  options.retention = kDay;
  options.batch = 1;
  int calls = 0;
  // The second batch asks for more than a batch may be: the store refuses it.
  const auto pruned = prune_outbox(*store_, kT0 + 2 * kDay, options, [&] {
    if (++calls == 1) options.batch = store::kMaxPage + 1;
    return true;
  });
  ASSERT_TRUE(pruned.failed.has_value());
  EXPECT_EQ(pruned.failed->code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(pruned.deliveries, 1U);
  EXPECT_EQ(count(), 2U);
}

Status parse(const std::string& text, server::Config& c) {
  return server::parse_config(text, "hoistd.toml", c);
}

TEST(RetentionConfig, ThirtyDaysUnlessSetAndSetWithinADayAndAYear) {
  server::Config c;
  EXPECT_EQ(c.notify.retention, std::chrono::seconds(30 * 24 * 3600));
  ASSERT_TRUE(parse("[notify]\nretention = \"90d\"\n", c).ok());
  EXPECT_EQ(c.notify.retention, std::chrono::seconds(90 * 24 * 3600));
  ASSERT_TRUE(parse("[notify]\nretention = \"1d\"\n", c).ok());
  EXPECT_EQ(c.notify.retention, std::chrono::seconds(24 * 3600));
  const std::vector<std::pair<std::string, std::string>> cases = {
      // A dead letter must stay long enough to be seen and re-driven.
      {"[notify]\nretention = \"23h\"\n", "at least 1d"},
      // Durations stop at a year (core/duration.h).
      {"[notify]\nretention = \"400d\"\n", "too long"},
      {"[notify]\nretention = \"forever\"\n", "notify.retention"},
      {"[notify]\nretention = \"\"\n", "notify.retention"},
      {"[notify]\nretention = 30\n", "must be a string"},
      {"[notify]\nretention_days = 30\n", "unknown key"},
  };
  for (const auto& [text, words] : cases) {
    server::Config bad;
    const auto st = parse(text, bad);
    ASSERT_FALSE(st.ok()) << text;
    EXPECT_NE(st.error().message.find(words), std::string::npos) << text << ": " << st.error().message;
    EXPECT_NE(st.error().message.find("hoistd.toml:2:"), std::string::npos) << st.error().message;
    EXPECT_EQ(bad.notify.retention, server::NotifyConfig::kDefaultRetention);
  }
}

}  // namespace
}  // namespace hoist::notify
