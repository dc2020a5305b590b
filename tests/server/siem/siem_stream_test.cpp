// The audit stream over a real SQLite store and a scripted receiver: every
// event once the receiver takes it, in order, the cursor moved only then.
#include <gtest/gtest.h>

#include <filesystem>

#include "server/siem/siem_stream.h"
#include "store/sqlite_store.h"
#include "support/temp_dir.h"

namespace hoist::siem {
namespace {

class ScriptedSink final : public Sink {
 public:
  Status send(std::span<const AuditEvent> events) override {
    ++calls;
    if (failing) return unavailable("receiver down");
    for (const auto& e : events) received.push_back(e.seq);
    return {};
  }
  bool failing = false;
  int calls = 0;
  std::vector<std::uint64_t> received;
};

class SiemStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::open_sqlite_store(dir_ / "hoist.db");
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    auto sink = std::make_unique<ScriptedSink>();
    sink_ = sink.get();
    StreamOptions o;
    o.name = "test";
    o.batch = 3;
    stream_ = std::make_unique<AuditStream>(*store_, std::move(sink), o, [] { return TimePoint{Seconds{1000}}; });
  }
  void append(int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(store_
                      ->write([&](store::StoreTx& tx) -> Status {
                        auto e = tx.append_audit(store::AuditDraft{AuditTime{std::chrono::milliseconds{i}}, "admin",
                                                                   "user.created", "u" + std::to_string(i), "", "{}"});
                        return e.ok() ? Status{} : Status{e.error()};
                      })
                      .ok());
    }
  }
  hoist::testing::PrivateDir dir_;
  std::unique_ptr<store::Store> store_;
  ScriptedSink* sink_ = nullptr;
  std::unique_ptr<AuditStream> stream_;
};

TEST_F(SiemStreamTest, EveryEventInOrderInBatches) {
  EXPECT_EQ(*stream_->pump(), 0U) << "an empty trail";
  append(7);
  EXPECT_EQ(*stream_->pump(), 3U);
  EXPECT_EQ(*stream_->pump(), 3U);
  EXPECT_EQ(*stream_->pump(), 1U);
  EXPECT_EQ(*stream_->pump(), 0U);
  EXPECT_EQ(sink_->received, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(*store_->stream_cursor("siem:test"), 7U);
}

// A receiver that is down: the cursor stays, and the same events go once
// it is back; none is skipped.
TEST_F(SiemStreamTest, AFailedSendMovesNothingAndIsSentAgain) {
  append(4);
  EXPECT_EQ(*stream_->pump(), 3U);
  sink_->failing = true;
  EXPECT_FALSE(stream_->pump().ok());
  EXPECT_FALSE(stream_->pump().ok());
  EXPECT_EQ(*store_->stream_cursor("siem:test"), 3U);
  sink_->failing = false;
  EXPECT_EQ(*stream_->pump(), 1U);
  EXPECT_EQ(sink_->received, (std::vector<std::uint64_t>{1, 2, 3, 4}));
}

}  // namespace
}  // namespace hoist::siem
