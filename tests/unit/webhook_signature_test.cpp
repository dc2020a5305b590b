#include "core/webhook_signature.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hoist::webhook {
namespace {

// The example of the Standard Webhooks specification's reference
// libraries (standard-webhooks/libraries, the tests of each language).
constexpr std::string_view kSpecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kSpecId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t kSpecTimestamp = 1614265330;
constexpr std::string_view kSpecBody = R"({"test": 2432232314})";
constexpr std::string_view kSpecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

TEST(WebhookSignature, MatchesTheSpecificationsExample) {
  auto key = parse_secret(kSpecSecret);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->size(), 24U);
  EXPECT_EQ(sign(kSpecId, kSpecTimestamp, kSpecBody, *key), kSpecSignature);
  EXPECT_TRUE(verify(kSpecSignature, kSpecId, kSpecTimestamp, kSpecBody, *key));
  EXPECT_FALSE(verify(kSpecSignature, kSpecId, kSpecTimestamp + 1, kSpecBody, *key));
  EXPECT_FALSE(verify(kSpecSignature, "msg_other", kSpecTimestamp, kSpecBody, *key));
  EXPECT_FALSE(verify(kSpecSignature, kSpecId, kSpecTimestamp, R"({"test": 2432232315})", *key));
  EXPECT_EQ(format_secret(*key), kSpecSecret);
}

TEST(WebhookSignature, RotationSendsOneSignaturePerKeySpaceSeparated) {
  auto current = parse_secret(kSpecSecret);
  const std::vector<std::uint8_t> old_key(32, 0x42);
  ASSERT_TRUE(current.ok());
  const auto header = signature_header(kSpecId, kSpecTimestamp, kSpecBody, {*current, old_key});
  EXPECT_EQ(header, std::string(kSpecSignature) + " " + sign(kSpecId, kSpecTimestamp, kSpecBody, old_key));
  EXPECT_TRUE(verify(header, kSpecId, kSpecTimestamp, kSpecBody, *current));
  EXPECT_TRUE(verify(header, kSpecId, kSpecTimestamp, kSpecBody, old_key));
  EXPECT_FALSE(verify(header, kSpecId, kSpecTimestamp, kSpecBody, std::vector<std::uint8_t>(32, 0x43)));
  // Only v1 signatures count.
  EXPECT_FALSE(verify("v2," + std::string(kSpecSignature.substr(3)), kSpecId, kSpecTimestamp, kSpecBody, *current));
}

TEST(WebhookSecret, RefusesBadSecretsWithoutRepeatingThem) {
  for (const char* bad : {"", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZI",
                          "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!", "whsec_ MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                          "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}) {
    auto key = parse_secret(bad);
    ASSERT_FALSE(key.ok()) << bad;
    EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
    if (std::string_view(bad).size() > 8) {
      EXPECT_EQ(key.error().message.find(std::string_view(bad).substr(6)), std::string::npos);
    }
  }
  // 64 bytes is the most; 65 is refused.
  EXPECT_TRUE(parse_secret(format_secret(std::vector<std::uint8_t>(64, 1))).ok());
  EXPECT_FALSE(parse_secret(format_secret(std::vector<std::uint8_t>(65, 1))).ok());
  EXPECT_FALSE(parse_secret(format_secret(std::vector<std::uint8_t>(23, 1))).ok());
}

TEST(WebhookBase64, RoundTripsAndIsStrict) {
  for (std::size_t n = 0; n < 8; ++n) {
    std::vector<std::uint8_t> bytes;
    for (std::size_t i = 0; i < n; ++i) bytes.push_back(static_cast<std::uint8_t>(0xF0 + i));
    const auto text = base64_encode(bytes);
    EXPECT_EQ(text.size() % 4, 0U);
    auto back = base64_decode(text);
    ASSERT_TRUE(back.ok()) << text;
    EXPECT_EQ(*back, bytes);
  }
  EXPECT_EQ(base64_encode(std::vector<std::uint8_t>{'f', 'o', 'o', 'b'}), "Zm9vYg==");
  EXPECT_TRUE(base64_decode("Zm9vYg").ok());  // padding optional
  for (const char* bad : {"Z", "Zm9vYh==", "Zm9v-g==", "Zm 9v", "Zm9vYg===", "=Zm9"}) {
    EXPECT_FALSE(base64_decode(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace hoist::webhook
