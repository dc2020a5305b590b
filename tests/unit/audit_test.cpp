#include "core/audit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "test_support.h"

namespace hoist {
namespace {

using std::chrono::milliseconds;

constexpr std::size_t kEvents = 8;

AuditEvent raw_event(int i) {
  AuditEvent e;
  e.time = AuditTime{milliseconds{1'700'000'000'000LL + i * 1000LL}};
  e.actor = i % 2 == 0 ? "alice" : "agent:laptop-7";
  e.action = "request.created";
  e.target = "req-" + std::to_string(i);
  e.host = "laptop-7";
  e.details = R"({"n":)" + std::to_string(i) + "}";
  return e;
}

std::vector<AuditEvent> make_chain(std::size_t n) {
  std::vector<AuditEvent> out;
  std::optional<AuditEvent> prev;
  for (std::size_t i = 0; i < n; ++i) {
    prev = chain_after(prev, raw_event(static_cast<int>(i)));
    out.push_back(*prev);
  }
  return out;
}

ChainHead head_of(const AuditEvent& e) {
  return ChainHead{e.seq, e.hash};
}

TEST(AuditChain, ChainAfterNumbersAndLinks) {
  const auto chain = make_chain(3);
  EXPECT_EQ(chain[0].seq, 1U);
  EXPECT_EQ(chain[0].prev_hash, Sha256{});
  EXPECT_EQ(chain[1].seq, 2U);
  EXPECT_EQ(chain[1].prev_hash, chain[0].hash);
  EXPECT_EQ(chain[2].prev_hash, chain[1].hash);
  for (const auto& e : chain) EXPECT_EQ(e.hash, audit_event_hash(e));
  EXPECT_NE(chain[0].hash, chain[1].hash);
}

TEST(AuditChain, ChainAfterIgnoresCallerSuppliedLinkFields) {
  AuditEvent forged = raw_event(0);
  forged.seq = 42;
  forged.prev_hash = sha256("forged");
  forged.hash = sha256("forged too");
  const AuditEvent e = chain_after(std::nullopt, forged);
  EXPECT_EQ(e.seq, 1U);
  EXPECT_EQ(e.prev_hash, Sha256{});
  EXPECT_EQ(e.hash, audit_event_hash(e));
}

TEST(AuditChain, ValidChainsOfManyLengthsVerify) {
  for (const std::size_t n : {0U, 1U, 2U, 8U, 100U}) {
    const auto chain = make_chain(n);
    const auto v = verify_chain(chain);
    EXPECT_TRUE(v.ok) << n << ": " << v.problem;
    EXPECT_EQ(v.events_checked, n);
    EXPECT_FALSE(v.first_bad_seq.has_value());
    EXPECT_TRUE(v.problem.empty());
    if (n > 0) {
      const auto with_head = verify_chain(chain, std::nullopt, head_of(chain.back()));
      EXPECT_TRUE(with_head.ok) << n << ": " << with_head.problem;
    }
  }
}

TEST(AuditHash, EncodingIsUnambiguous) {
  // Moving bytes from one field to the next must change the hash.
  AuditEvent a = raw_event(1);
  AuditEvent b = a;
  a.actor = "ab";
  a.action = "c";
  b.actor = "a";
  b.action = "bc";
  EXPECT_NE(audit_event_hash(a), audit_event_hash(b));
  AuditEvent c = raw_event(1);
  AuditEvent d = c;
  c.host = "";
  c.details = "x";
  d.host = "x";
  d.details = "";
  EXPECT_NE(audit_event_hash(c), audit_event_hash(d));
}

TEST(AuditHash, DoesNotCoverTheHashField) {
  AuditEvent e = chain_after(std::nullopt, raw_event(1));
  const Sha256 before = audit_event_hash(e);
  e.hash = sha256("anything");
  EXPECT_EQ(audit_event_hash(e), before);
}

// Tampering with one field of one event.
struct EditCase {
  std::string field;
  std::function<void(AuditEvent&)> edit;
};

std::ostream& operator<<(std::ostream& os, const EditCase& c) {
  return os << c.field;
}

class EditedEvent : public ::testing::TestWithParam<EditCase> {};

TEST_P(EditedEvent, DetectedAtThatEventWhereverItIs) {
  for (std::size_t victim = 0; victim < kEvents; ++victim) {
    auto chain = make_chain(kEvents);
    GetParam().edit(chain[victim]);
    const auto v = verify_chain(chain);
    EXPECT_FALSE(v.ok) << GetParam().field << " of event " << victim + 1;
    ASSERT_TRUE(v.first_bad_seq.has_value()) << GetParam().field << " of event " << victim + 1;
    EXPECT_EQ(*v.first_bad_seq, victim + 1) << GetParam().field << ": " << v.problem;
    EXPECT_EQ(v.events_checked, victim);
    EXPECT_FALSE(v.problem.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(EveryField, EditedEvent,
                         ::testing::Values(EditCase{"time", [](AuditEvent& e) { e.time += milliseconds{1}; }},
                                           EditCase{"actor", [](AuditEvent& e) { e.actor = "mallory"; }},
                                           EditCase{"actor emptied", [](AuditEvent& e) { e.actor.clear(); }},
                                           EditCase{"action", [](AuditEvent& e) { e.action = "request.approved"; }},
                                           EditCase{"target", [](AuditEvent& e) { e.target += "x"; }},
                                           EditCase{"host", [](AuditEvent& e) { e.host = "server"; }},
                                           EditCase{"details", [](AuditEvent& e) { e.details = "{}"; }},
                                           EditCase{"details, one byte", [](AuditEvent& e) { e.details.back() = ']'; }},
                                           EditCase{"hash", [](AuditEvent& e) { e.hash.bytes[31] ^= 1; }},
                                           EditCase{"prev_hash", [](AuditEvent& e) { e.prev_hash.bytes[0] ^= 0x80; }},
                                           EditCase{"prev_hash and hash recomputed", [](AuditEvent& e) {
                                                      e.prev_hash = sha256("elsewhere");
                                                      e.hash = audit_event_hash(e);
                                                    }}));

TEST(AuditChain, EditedAndRehashedEventBreaksTheNextLink) {
  auto chain = make_chain(kEvents);
  chain[3].actor = "mallory";
  chain[3].hash = audit_event_hash(chain[3]);  // the forger recomputes this event's hash
  const auto v = verify_chain(chain);
  EXPECT_FALSE(v.ok);
  ASSERT_TRUE(v.first_bad_seq.has_value());
  EXPECT_EQ(*v.first_bad_seq, 5U);  // event 5 no longer follows event 4
  EXPECT_EQ(v.events_checked, 4U);
}

TEST(AuditChain, DeletedEventIsDetected) {
  for (std::size_t victim = 0; victim + 1 < kEvents; ++victim) {
    auto chain = make_chain(kEvents);
    chain.erase(chain.begin() + static_cast<std::ptrdiff_t>(victim));
    const auto v = verify_chain(chain);
    EXPECT_FALSE(v.ok) << "deleted event " << victim + 1;
    ASSERT_TRUE(v.first_bad_seq.has_value());
    // The chain breaks at the position of the deleted event.
    EXPECT_EQ(*v.first_bad_seq, victim + 1) << v.problem;
    EXPECT_EQ(v.events_checked, victim);
  }
}

TEST(AuditChain, InsertedEventIsDetected) {
  for (std::size_t at = 1; at < kEvents; ++at) {
    auto chain = make_chain(kEvents);
    // A well-formed forgery: numbered and linked to follow event `at`.
    const AuditEvent forged = chain_after(chain[at - 1], raw_event(99));
    chain.insert(chain.begin() + static_cast<std::ptrdiff_t>(at), forged);
    const auto v = verify_chain(chain);
    EXPECT_FALSE(v.ok) << "inserted after event " << at;
    ASSERT_TRUE(v.first_bad_seq.has_value());
    // The forgery itself checks out (position at + 1); the genuine event
    // after it breaks the chain at the next position.
    EXPECT_EQ(*v.first_bad_seq, at + 2) << v.problem;
    EXPECT_EQ(v.events_checked, at + 1);
  }
}

TEST(AuditChain, InsertedEventAtTheEndNeedsTheHead) {
  auto chain = make_chain(kEvents);
  const ChainHead head = head_of(chain.back());
  chain.push_back(chain_after(chain.back(), raw_event(99)));
  EXPECT_TRUE(verify_chain(chain).ok);  // without the head an appended forgery is a valid chain
  const auto v = verify_chain(chain, std::nullopt, head);
  EXPECT_FALSE(v.ok);
  ASSERT_TRUE(v.first_bad_seq.has_value());
  EXPECT_EQ(*v.first_bad_seq, kEvents + 1);
}

TEST(AuditChain, SwappedEventsAreDetected) {
  for (std::size_t i = 0; i + 1 < kEvents; ++i) {
    auto chain = make_chain(kEvents);
    std::swap(chain[i], chain[i + 1]);
    const auto v = verify_chain(chain);
    EXPECT_FALSE(v.ok) << "swapped " << i + 1 << " and " << i + 2;
    ASSERT_TRUE(v.first_bad_seq.has_value());
    EXPECT_EQ(*v.first_bad_seq, i + 1) << v.problem;  // the later event, found in the earlier place
    EXPECT_EQ(v.events_checked, i);
  }
}

TEST(AuditChain, SwappedContentWithRenumberedSeqIsDetected) {
  auto chain = make_chain(kEvents);
  std::swap(chain[2], chain[3]);
  std::swap(chain[2].seq, chain[3].seq);  // the swapper also fixes the numbers
  const auto v = verify_chain(chain);
  EXPECT_FALSE(v.ok);
  ASSERT_TRUE(v.first_bad_seq.has_value());
  EXPECT_EQ(*v.first_bad_seq, 3U) << v.problem;
}

TEST(AuditChain, EditedSeqIsReportedAtItsPosition) {
  auto chain = make_chain(kEvents);
  chain[2].seq = 1000;
  const auto v = verify_chain(chain);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.events_checked, 2U);
  ASSERT_TRUE(v.first_bad_seq.has_value());
  EXPECT_EQ(*v.first_bad_seq, 3U) << v.problem;
}

TEST(AuditChain, TruncationIsOnlyVisibleAgainstTheHead) {
  const auto full = make_chain(kEvents);
  const ChainHead head = head_of(full.back());
  for (std::size_t keep = 0; keep < kEvents; ++keep) {
    const std::vector<AuditEvent> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(keep));
    EXPECT_TRUE(verify_chain(cut).ok) << keep;
    const auto v = verify_chain(cut, std::nullopt, head);
    EXPECT_FALSE(v.ok) << "kept " << keep;
    ASSERT_TRUE(v.first_bad_seq.has_value());
    EXPECT_EQ(*v.first_bad_seq, keep + 1) << v.problem;  // the first missing event
    EXPECT_EQ(v.events_checked, keep);
    EXPECT_FALSE(v.problem.empty());
  }
}

TEST(AuditChain, HeadFromAnotherTrailIsRejected) {
  const auto chain = make_chain(kEvents);
  const auto v = verify_chain(chain, std::nullopt, ChainHead{kEvents, sha256("another trail")});
  EXPECT_FALSE(v.ok);
  EXPECT_FALSE(v.problem.empty());
  EXPECT_TRUE(v.first_bad_seq.has_value());
}

TEST(AuditChain, MiddleSliceVerifiesFromItsStart) {
  const auto full = make_chain(kEvents);
  const std::span<const AuditEvent> slice(full.data() + 3, 4);  // events 4..7
  const ChainHead start = head_of(full[2]);
  const auto v = verify_chain(slice, start, head_of(full[6]));
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.events_checked, 4U);
  // Without the start the slice does not begin at 1: it breaks at once.
  const auto no_start = verify_chain(slice);
  EXPECT_FALSE(no_start.ok);
  EXPECT_EQ(no_start.first_bad_seq, 1U);
  // With the wrong start hash or number it fails at its first event.
  const auto wrong_hash = verify_chain(slice, ChainHead{3, full[1].hash});
  EXPECT_FALSE(wrong_hash.ok);
  EXPECT_EQ(wrong_hash.first_bad_seq, 4U);
  const auto wrong_seq = verify_chain(slice, ChainHead{2, full[2].hash});
  EXPECT_FALSE(wrong_seq.ok);
  EXPECT_EQ(wrong_seq.first_bad_seq, 3U);  // the position the start promised next
  // An edit inside the slice is found at its event.
  std::vector<AuditEvent> edited(slice.begin(), slice.end());
  edited[2].details = "{}";
  const auto bad = verify_chain(edited, start);
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.first_bad_seq, 6U);
  EXPECT_EQ(bad.events_checked, 2U);
}

TEST(AuditChain, EmptySliceAgainstHead) {
  const auto full = make_chain(3);
  EXPECT_TRUE(verify_chain({}, head_of(full[2]), head_of(full[2])).ok);
  const auto v = verify_chain({}, head_of(full[1]), head_of(full[2]));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 3U);
}

TEST(AuditChain, FirstEventMustHaveZeroPrevHash) {
  auto chain = make_chain(2);
  chain[0].prev_hash = sha256("x");
  chain[0].hash = audit_event_hash(chain[0]);
  chain[1] = chain_after(chain[0], raw_event(1));
  const auto v = verify_chain(chain);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 1U);
}

}  // namespace
}  // namespace hoist
