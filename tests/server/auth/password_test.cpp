#include "server/auth/password.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <vector>

#include "test_support.h"

namespace hoist::auth {
namespace {

// The cheapest cost libsodium allows keeps these tests fast.
constexpr PasswordCost kCheap = kMinimumCost;
constexpr std::string_view kPassword = "correct horse battery staple";

std::string cheap_hash(std::string_view password) {
  auto hash = hash_password(password, kCheap);
  EXPECT_TRUE(hash.ok()) << hash.error().message;
  return hash.ok() ? *hash : std::string();
}

// A hash made by libsodium directly, bypassing hash_password()'s checks.
std::string sodium_hash(std::string_view password, unsigned long long opslimit, std::size_t memlimit, int alg) {
  EXPECT_GE(sodium_init(), 0);
  std::array<char, crypto_pwhash_STRBYTES> out{};
  EXPECT_EQ(crypto_pwhash_str_alg(out.data(), password.data(), password.size(), opslimit, memlimit, alg), 0);
  return std::string(out.data());
}

// libsodium's own verdict, to show a case is refused by Hoist's checks and
// not merely by libsodium.
bool sodium_accepts(const std::string& hash, std::string_view password) {
  std::array<char, crypto_pwhash_STRBYTES> buffer{};
  if (hash.size() >= buffer.size()) return false;
  std::copy(hash.begin(), hash.end(), buffer.begin());
  return crypto_pwhash_str_verify(buffer.data(), password.data(), password.size()) == 0;
}

TEST(Password, RoundTrip) {
  const std::string hash = cheap_hash(kPassword);
  EXPECT_TRUE(hash.starts_with("$argon2id$v=19$m=8,t=1,p=1$")) << hash;
  EXPECT_LT(hash.size(), crypto_pwhash_STRBYTES);
  EXPECT_TRUE(verify_password(hash, kPassword));
}

TEST(Password, WrongPasswordFails) {
  const std::string hash = cheap_hash(kPassword);
  for (const std::string& wrong :
       std::vector<std::string>{"correct horse battery stapl", "correct horse battery staple ",
                                "Correct horse battery staple", "x", std::string(kPassword) + '\0'}) {
    EXPECT_FALSE(verify_password(hash, wrong)) << "\"" << wrong << "\"";
  }
}

TEST(Password, DefaultCostIsInteractive) {
  EXPECT_EQ(kInteractiveCost.opslimit, crypto_pwhash_OPSLIMIT_INTERACTIVE);
  EXPECT_EQ(kInteractiveCost.memlimit, crypto_pwhash_MEMLIMIT_INTERACTIVE);
  const auto hash = hash_password(kPassword);
  ASSERT_TRUE(hash.ok()) << hash.error().message;
  EXPECT_TRUE(hash->starts_with("$argon2id$v=19$m=65536,t=2,p=1$")) << *hash;
  EXPECT_TRUE(verify_password(*hash, kPassword));
  EXPECT_FALSE(password_needs_rehash(*hash));
}

TEST(Password, SamePasswordGetsAFreshSalt) {
  const std::string a = cheap_hash(kPassword);
  const std::string b = cheap_hash(kPassword);
  EXPECT_NE(a, b);
  EXPECT_TRUE(verify_password(a, kPassword));
  EXPECT_TRUE(verify_password(b, kPassword));
}

TEST(Password, MalformedHashesNeverVerify) {
  const std::string good = cheap_hash(kPassword);
  ASSERT_TRUE(verify_password(good, kPassword));
  std::string nul_inside = good;
  nul_inside[good.size() / 2] = '\0';
  std::string flipped = good;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';

  const std::vector<std::string> bad = {
      "",
      "$",
      "$argon2id$",
      "$argon2id$v=19$m=8,t=1,p=1$",
      good.substr(0, good.size() - 1),
      good.substr(0, good.size() / 2),
      "garbage",
      std::string(4096, 'A'),
      "$argon2id$" + std::string(4096, 'A'),
      good + std::string(200, 'A'),
      nul_inside,
      std::string(1, '\0') + good,
      " " + good,
      good + "\n",
      "$ARGON2ID$" + good.substr(10),
      "$argon2id$v=16$m=8,t=1,p=1$" + good.substr(good.find("p=1$") + 4),
      "$argon2id$v=19$m=+8,t=1,p=1$" + good.substr(good.find("p=1$") + 4),
      "$argon2id$v=19$m=99999999999999999999999,t=1,p=1$" + good.substr(good.find("p=1$") + 4),
      "$2b$12$abcdefghijklmnopqrstuuNT5Y6ZQ2W1Yb0ZB0b6hYDK2vL2O6hGu",  // bcrypt
      "$6$salt$hash",                                                  // sha512-crypt
  };
  for (const auto& hash : bad) {
    EXPECT_FALSE(verify_password(hash, kPassword)) << "hash of " << hash.size() << " bytes: " << hash;
    EXPECT_TRUE(password_needs_rehash(hash, kCheap)) << hash;
  }
  // A damaged digest is well-formed: it merely never matches (rehashing
  // looks only at the algorithm and the cost).
  EXPECT_FALSE(verify_password(flipped, kPassword)) << flipped;
}

TEST(Password, SuffixAfterNulIsNotIgnored) {
  // libsodium reads a C string, so without Hoist's check it would see only
  // the valid part before the NUL and accept this.
  const std::string good = cheap_hash(kPassword);
  const std::string with_suffix = good + std::string(1, '\0') + "junk";
  ASSERT_TRUE(sodium_accepts(good, kPassword));
  EXPECT_FALSE(verify_password(with_suffix, kPassword));
}

TEST(Password, ForeignAlgorithmIsRefused) {
  const std::string argon2i = sodium_hash(kPassword, 3, kCheap.memlimit, crypto_pwhash_ALG_ARGON2I13);
  ASSERT_TRUE(argon2i.starts_with("$argon2i$")) << argon2i;
  ASSERT_TRUE(sodium_accepts(argon2i, kPassword));  // libsodium alone would take it
  EXPECT_FALSE(verify_password(argon2i, kPassword));
  EXPECT_TRUE(password_needs_rehash(argon2i, PasswordCost{3, kCheap.memlimit}));
}

TEST(Password, CostBeyondMaximumIsRefused) {
  // A genuine hash, cheap to compute, but with more passes than Hoist allows.
  const std::string too_many_passes =
      sodium_hash(kPassword, kMaximumCost.opslimit + 1, kCheap.memlimit, crypto_pwhash_ALG_ARGON2ID13);
  ASSERT_TRUE(sodium_accepts(too_many_passes, kPassword));
  EXPECT_FALSE(verify_password(too_many_passes, kPassword));
  EXPECT_TRUE(password_needs_rehash(too_many_passes, kCheap));

  // 2 GiB: refused before libsodium would try to allocate it.
  const std::string good = cheap_hash(kPassword);
  std::string huge_memory = good;
  huge_memory.replace(huge_memory.find("m=8,"), 4, "m=2097152,");
  EXPECT_FALSE(verify_password(huge_memory, kPassword));
  EXPECT_TRUE(password_needs_rehash(huge_memory, kCheap));
}

TEST(Password, EmptyOrOverlongPasswordNeverVerifies) {
  const std::string empty_hash = sodium_hash("", kCheap.opslimit, kCheap.memlimit, crypto_pwhash_ALG_ARGON2ID13);
  ASSERT_TRUE(sodium_accepts(empty_hash, ""));
  EXPECT_FALSE(verify_password(empty_hash, ""));

  const std::string long_password(kMaxPasswordBytes + 1, 'p');
  const std::string long_hash =
      sodium_hash(long_password, kCheap.opslimit, kCheap.memlimit, crypto_pwhash_ALG_ARGON2ID13);
  ASSERT_TRUE(sodium_accepts(long_hash, long_password));
  EXPECT_FALSE(verify_password(long_hash, long_password));
}

struct BadInput {
  std::string password;
  std::string message_part;
};

TEST(Password, HashRejectsBadPasswords) {
  const std::vector<BadInput> cases = {
      {"", "empty"},
      {std::string("abc\0def", 7), "NUL"},
      {std::string(1, '\0'), "NUL"},
      {std::string(kMaxPasswordBytes + 1, 'a'), "1024"},
  };
  for (const auto& c : cases) {
    const auto hash = hash_password(c.password, kCheap);
    ASSERT_FALSE(hash.ok()) << c.message_part;
    EXPECT_EQ(hash.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(hash.error().message.find(c.message_part), std::string::npos) << hash.error().message;
  }
  const std::string longest(kMaxPasswordBytes, 'a');
  const auto hash = hash_password(longest, kCheap);
  ASSERT_TRUE(hash.ok()) << hash.error().message;
  EXPECT_TRUE(verify_password(*hash, longest));
}

TEST(Password, HashRejectsCostOutOfRange) {
  for (const PasswordCost cost : {PasswordCost{0, kCheap.memlimit}, PasswordCost{kCheap.opslimit, 4096},
                                  PasswordCost{kMaximumCost.opslimit + 1, kCheap.memlimit},
                                  PasswordCost{kCheap.opslimit, kMaximumCost.memlimit + 1024}}) {
    const auto hash = hash_password(kPassword, cost);
    ASSERT_FALSE(hash.ok()) << cost.opslimit << "/" << cost.memlimit;
    EXPECT_EQ(hash.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(hash.error().message.find("cost"), std::string::npos) << hash.error().message;
  }
}

TEST(Password, NeedsRehashComparesCost) {
  const std::string hash = cheap_hash(kPassword);
  EXPECT_FALSE(password_needs_rehash(hash, kCheap));
  EXPECT_TRUE(password_needs_rehash(hash, kInteractiveCost));
  EXPECT_TRUE(password_needs_rehash(hash));  // the default is kInteractiveCost
  EXPECT_TRUE(password_needs_rehash(hash, PasswordCost{kCheap.opslimit + 1, kCheap.memlimit}));
  EXPECT_TRUE(password_needs_rehash(hash, PasswordCost{kCheap.opslimit, kCheap.memlimit * 2}));
}

struct NewPasswordCase {
  std::string password;
  std::string message_part;  // empty: accepted
};

TEST(Password, CheckNewPassword) {
  const std::vector<NewPasswordCase> cases = {
      {"", "at least 12"},
      {"abcdefghijk", "at least 12"},  // 11
      {"abcdefghijkl", ""},            // 12
      {"correct horse battery staple", ""},
      {"\xd0\xbf\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c!!", ""},  // 6 Cyrillic letters: 14 bytes
      {std::string(kMaxPasswordBytes, 'x'), ""},
      {std::string(kMaxPasswordBytes + 1, 'x'), "at most 1024"},
      {"abcdef\tghijklm", "control"},
      {"abcdefghijklm\n", "control"},
      {"abcdef\rghijklm", "control"},
      {"abcdefghijklm\x7f", "control"},
      {"\x1b[31mabcdefghijkl", "control"},
      {std::string("abcdef\0ghijklm", 14), "control"},
  };
  for (const auto& c : cases) {
    const Status status = check_new_password(c.password);
    if (c.message_part.empty()) {
      EXPECT_TRUE(status.ok()) << c.password << ": " << status.error().message;
      continue;
    }
    ASSERT_FALSE(status.ok()) << c.password;
    EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(status.error().message.find(c.message_part), std::string::npos) << status.error().message;
  }
}

TEST(Password, GeneratedPasswords) {
  const std::string alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  std::set<std::string> seen;
  std::set<char> used;
  constexpr int kDraws = 2000;
  for (int i = 0; i < kDraws; ++i) {
    const std::string p = generate_password();
    ASSERT_EQ(p.size(), 24U);
    for (const char c : p) {
      ASSERT_NE(alphabet.find(c), std::string::npos) << "unexpected character '" << c << "' in " << p;
      used.insert(c);
    }
    EXPECT_TRUE(check_new_password(p).ok()) << p;
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kDraws));
  // 48,000 draws from 57 characters: every one turns up (else the generator
  // is biased or its alphabet is smaller than it should be).
  EXPECT_EQ(used.size(), alphabet.size());
  for (const char ambiguous : std::string("0O1lI")) EXPECT_EQ(used.count(ambiguous), 0U) << ambiguous;

  const std::string p = generate_password();
  const std::string hash = cheap_hash(p);
  EXPECT_TRUE(verify_password(hash, p));
}

}  // namespace
}  // namespace hoist::auth
