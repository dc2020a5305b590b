#include "core/sha256.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <unordered_set>
#include <vector>

#include "test_support.h"

namespace hoist {
namespace {

struct Vector {
  std::string input;
  std::string hex;
};

// FIPS 180-2 / NIST test vectors.
const std::vector<Vector>& known_vectors() {
  static const std::vector<Vector> v = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {"The quick brown fox jumps over the lazy dog",
       "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"},
      {std::string(1000000, 'a'), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  return v;
}

TEST(Sha256, KnownVectors) {
  for (const auto& v : known_vectors()) {
    EXPECT_EQ(sha256(v.input).hex(), v.hex) << "input of " << v.input.size() << " bytes";
  }
}

TEST(Sha256, EmbeddedNulIsHashed) {
  const std::string with_nul("a\0b", 3);
  EXPECT_NE(sha256(with_nul), sha256("a"));
  EXPECT_NE(sha256(with_nul), sha256("ab"));
}

TEST(Sha256Stream, ChunkedEqualsOneShot) {
  const std::string text = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  for (std::size_t chunk : {1U, 3U, 7U, 55U, 64U}) {
    Sha256Stream s;
    for (std::size_t i = 0; i < text.size(); i += chunk) s.update(std::string_view(text).substr(i, chunk));
    EXPECT_EQ(s.finish(), sha256(text)) << "chunk " << chunk;
  }
}

TEST(Sha256Stream, ByteSpanOverloadMatchesString) {
  const std::vector<std::uint8_t> bytes = {'a', 'b', 'c'};
  Sha256Stream s;
  s.update(std::span<const std::uint8_t>(bytes));
  EXPECT_EQ(s.finish().hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Stream, FinishResetsForReuse) {
  Sha256Stream s;
  s.update("garbage that must not leak into the next digest");
  (void)s.finish();
  s.update("abc");
  EXPECT_EQ(s.finish(), sha256("abc"));
  EXPECT_EQ(s.finish(), sha256(""));  // nothing fed since the last finish
}

TEST(Sha256FromHex, RoundTripsBothCases) {
  const std::string lower = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  std::string upper = lower;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto a = Sha256::from_hex(lower);
  const auto b = Sha256::from_hex(upper);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, sha256("abc"));
  EXPECT_EQ(*b, sha256("abc"));
  EXPECT_EQ(b->hex(), lower);  // hex() is always lowercase
}

TEST(Sha256FromHex, AllZerosAndAllOnes) {
  const auto z = Sha256::from_hex(std::string(64, '0'));
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(*z, Sha256{});
  const auto f = Sha256::from_hex(std::string(64, 'f'));
  ASSERT_TRUE(f.ok());
  for (const auto b : f->bytes) EXPECT_EQ(b, 0xff);
}

class Sha256FromHexBad : public ::testing::TestWithParam<std::string> {};

TEST_P(Sha256FromHexBad, IsInvalidArgument) {
  const auto d = Sha256::from_hex(GetParam());
  ASSERT_FALSE(d.ok()) << GetParam();
  EXPECT_EQ(d.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(d.error().message.empty());
}

std::string with_char_at(std::size_t pos, char c) {
  std::string s(64, 'a');
  s[pos] = c;
  return s;
}

INSTANTIATE_TEST_SUITE_P(Table, Sha256FromHexBad,
                         ::testing::Values(std::string(), std::string(63, 'a'), std::string(65, 'a'),
                                           std::string(128, 'a'), with_char_at(0, 'g'), with_char_at(63, 'G'),
                                           with_char_at(10, ' '), with_char_at(31, '-'), with_char_at(32, '\0'),
                                           with_char_at(5, 'x'), with_char_at(6, ':'), with_char_at(7, '@'),
                                           with_char_at(8, '`'), with_char_at(9, '/'),
                                           std::string("0x") + std::string(62, 'a'),  // no prefix allowed
                                           " " + std::string(63, 'a')));

TEST(Sha256Hash, EqualDigestsHashEqualAndSetWorks) {
  std::unordered_set<Sha256, Sha256Hash> set;
  set.insert(sha256("a"));
  set.insert(sha256("b"));
  set.insert(sha256("a"));
  EXPECT_EQ(set.size(), 2U);
  EXPECT_EQ(Sha256Hash{}(sha256("a")), Sha256Hash{}(sha256("a")));
  EXPECT_EQ(set.count(sha256("c")), 0U);
}

}  // namespace
}  // namespace hoist
