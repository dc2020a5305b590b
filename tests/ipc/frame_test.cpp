// The agent protocol's frames: round trips, incremental decoding, and the
// refusals a hostile peer meets.
#include "ipc/frame.h"

#include <gtest/gtest.h>

namespace hoist::ipc {
namespace {

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xFF), static_cast<char>((v >> 8) & 0xFF),
          static_cast<char>(v & 0xFF)};
}

Fields sample() {
  Fields f;
  f.add_uint("v", kProtocolVersion)
      .add("type", "check")
      .add_all("argv", {"apt-get", "install", std::string("\0\xff", 2)});
  f.add_bool("noninteractive", true).add("empty", "");
  return f;
}

TEST(Frame, RoundTripsKeepingOrderRepeatsAndBinaryValues) {
  auto frame = encode_frame(sample());
  ASSERT_TRUE(frame.ok()) << frame.error().message;
  auto decoded = decode_frame(*frame);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  ASSERT_TRUE(decoded->has_value());
  EXPECT_EQ((*decoded)->bytes, frame->size());
  EXPECT_EQ((*decoded)->fields, sample());
  EXPECT_EQ((*decoded)->fields.every("argv"),
            (std::vector<std::string>{"apt-get", "install", std::string("\0\xff", 2)}));
}

TEST(Frame, TheExactBytes) {
  Fields f;
  f.add("v", "1").add("ab", "xyz");
  auto frame = encode_frame(f);
  ASSERT_TRUE(frame.ok());
  EXPECT_EQ(*frame, be32(1 + 1 + 4 + 1 + 1 + 2 + 4 + 3) + "\x01v" + be32(1) + "1" +
                        "\x02"
                        "ab" +
                        be32(3) + "xyz");
}

TEST(Frame, WaitsForAWholeFrameAndLeavesTheNextOne) {
  auto a = encode_frame(sample());
  Fields other;
  other.add("type", "ok");
  auto b = encode_frame(other);
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string stream = *a + *b;
  for (std::size_t n = 0; n < a->size(); ++n) {
    auto partial = decode_frame(std::string_view(stream).substr(0, n));
    ASSERT_TRUE(partial.ok()) << n;
    EXPECT_FALSE(partial->has_value()) << n;
  }
  auto first = decode_frame(stream);
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->bytes, a->size());
  auto second = decode_frame(std::string_view(stream).substr((*first)->bytes));
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->fields, other);
}

TEST(Frame, RefusesWhatCanNeverBeValid) {
  // Over the limit: refused from the 4 length bytes alone.
  auto big = decode_frame(be32(kMaxFrameBytes + 1));
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("over the limit"), std::string::npos);
  const auto refused = [](const std::string& body) {
    auto r = decode_frame(be32(static_cast<std::uint32_t>(body.size())) + body);
    return !r.ok() && r.error().code == ErrorCode::kInvalidArgument;
  };
  EXPECT_TRUE(refused(std::string("\x00", 1) + be32(0)));          // empty key
  EXPECT_TRUE(refused("\x01V" + be32(0)));                         // upper case
  EXPECT_TRUE(refused("\x02v\n" + be32(0)));                       // control character
  EXPECT_TRUE(refused("\x05v"));                                   // key past the end
  EXPECT_TRUE(refused("\x01v\x00\x00"));                           // length cut short
  EXPECT_TRUE(refused("\x01v" + be32(2) + "1"));                   // value past the end
  EXPECT_TRUE(refused("\x21" + std::string(33, 'a') + be32(0)));   // key too long
  EXPECT_FALSE(refused("\x20" + std::string(32, 'a') + be32(0)));  // the longest key
  // An empty frame is a frame (with no fields).
  auto empty = decode_frame(be32(0));
  ASSERT_TRUE(empty.ok() && empty->has_value());
  EXPECT_EQ((*empty)->fields.size(), 0U);
}

TEST(Frame, EncodingRefusesBadKeysAndOversizedMessages) {
  Fields bad;
  bad.add("Type", "x");
  EXPECT_FALSE(encode_frame(bad).ok());
  Fields huge;
  huge.add("argv", std::string(kMaxFrameBytes, 'a'));
  auto r = encode_frame(huge);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("larger than"), std::string::npos);
  Fields many;
  for (std::size_t i = 0; i <= kMaxFields; ++i) {
    many.add("a", "");
  }
  EXPECT_FALSE(encode_frame(many).ok());
}

TEST(Fields, TypedAccessorsNameTheField) {
  Fields f;
  f.add("n", "42").add("zero", "0").add("lead", "042").add("neg", "-1").add("big", "18446744073709551616");
  f.add("yes", "1").add("no", "0").add("maybe", "2").add("twice", "a").add("twice", "b");
  EXPECT_EQ(*f.uint("n", 100), 42U);
  EXPECT_EQ(*f.uint("zero", 100), 0U);
  EXPECT_FALSE(f.uint("n", 41).ok());
  EXPECT_FALSE(f.uint("lead", 100).ok());
  EXPECT_FALSE(f.uint("neg", 100).ok());
  EXPECT_FALSE(f.uint("big", UINT64_MAX).ok());
  EXPECT_FALSE(f.uint("missing", 1).ok());
  EXPECT_FALSE(f.optional_uint("missing", 1)->has_value());
  EXPECT_TRUE(*f.boolean("yes"));
  EXPECT_FALSE(*f.boolean("no"));
  EXPECT_TRUE(*f.boolean("absent", true));
  auto maybe = f.boolean("maybe");
  ASSERT_FALSE(maybe.ok());
  EXPECT_NE(maybe.error().message.find("\"maybe\""), std::string::npos);
  auto twice = f.one("twice");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message.find("repeated"), std::string::npos);
  EXPECT_EQ(f.every("twice"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(f.count("twice"), 2U);
  auto missing = f.one("type");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("\"type\" is missing"), std::string::npos);
  EXPECT_TRUE(f.only({"n", "zero", "lead", "neg", "big", "yes", "no", "maybe", "twice"}).ok());
  auto unknown = f.only({"n"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("unknown field \"zero\""), std::string::npos);
}

}  // namespace
}  // namespace hoist::ipc
