// Conformance: the cursors of the audit trail's streams (store/streams.h).
#include "store_conformance.h"

namespace hoist::store::testing {
namespace {

const TimePoint kT0{Seconds{1'800'000'000}};

Status move_to(Store& s, const std::string& name, std::uint64_t seq) {
  return s.write([&](StoreTx& tx) { return tx.set_stream_cursor(name, seq, kT0); });
}

TEST_P(StoreConformance, AStreamCursorStartsAtZeroAndOnlyMovesOn) {
  EXPECT_EQ(*store_->stream_cursor("siem:a"), 0U);
  ASSERT_TRUE(move_to(*store_, "siem:a", 5).ok());
  ASSERT_TRUE(move_to(*store_, "siem:b", 2).ok());
  EXPECT_EQ(*store_->stream_cursor("siem:a"), 5U);
  EXPECT_EQ(*store_->stream_cursor("siem:b"), 2U);
  ASSERT_TRUE(move_to(*store_, "siem:a", 5).ok()) << "the same place again (a resent batch) is fine";
  ASSERT_TRUE(move_to(*store_, "siem:a", 9).ok());
  auto back = move_to(*store_, "siem:a", 3);
  ASSERT_FALSE(back.ok()) << "a cursor never moves back";
  EXPECT_EQ(back.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(*store_->stream_cursor("siem:a"), 9U);
  EXPECT_EQ(move_to(*store_, "", 1).error().code, ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformance, AStreamCursorMovesWithItsTransactionOrNotAtAll) {
  const Status failed = store_->write([&](StoreTx& tx) -> Status {
    if (auto st = tx.set_stream_cursor("siem:a", 7, kT0); !st.ok()) return st;
    return unavailable("the rest of the transaction failed");
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(*store_->stream_cursor("siem:a"), 0U);
}

}  // namespace
}  // namespace hoist::store::testing
