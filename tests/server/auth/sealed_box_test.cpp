#include "server/auth/sealed_box.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hoist::auth {
namespace {

SealedBox box(std::uint8_t fill) {
  auto b = SealedBox::with_key(std::vector<std::uint8_t>(kSealedBoxKeyBytes, fill));
  EXPECT_TRUE(b.ok());
  return std::move(*b);
}

TEST(SealedBox, OpensWhatItSealedForTheSameOwnerOnly) {
  const auto b = box(1);
  const std::string secret = R"({"current":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})";
  auto sealed = b.seal(secret, "ch-1");
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;
  EXPECT_TRUE(sealed->starts_with("sb1:"));
  EXPECT_EQ(sealed->find("whsec_"), std::string::npos);
  EXPECT_EQ(sealed->find("MfKQ9r8G"), std::string::npos);
  auto opened = b.open(*sealed, "ch-1");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(*opened, secret);
  // Another row, another key, a changed byte: nothing opens.
  EXPECT_FALSE(b.open(*sealed, "ch-2").ok());
  EXPECT_FALSE(box(2).open(*sealed, "ch-1").ok());
  std::string changed = *sealed;
  changed[10] = changed[10] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(b.open(changed, "ch-1").ok());
  // A fresh nonce each time: the same secret seals differently.
  EXPECT_NE(*b.seal(secret, "ch-1"), *sealed);
}

TEST(SealedBox, RefusesBadKeysAndTextWithoutEchoingIt) {
  EXPECT_FALSE(SealedBox::with_key(std::vector<std::uint8_t>(31, 0)).ok());
  const auto b = box(3);
  for (const char* bad : {"", "sb1:", "sb1:!!!!", "sb0:AAAA", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "sb1:AAAA"}) {
    auto r = b.open(bad, "ch-1");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    if (std::string_view(bad).size() > 4) {
      EXPECT_EQ(r.error().message.find(std::string_view(bad).substr(4)), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace hoist::auth
