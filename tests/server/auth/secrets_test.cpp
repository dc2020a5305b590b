#include "server/auth/secrets.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cctype>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/sha256.h"
#include "test_support.h"

namespace hoist::auth {
namespace {

constexpr std::string_view kBase64Url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool all_in(std::string_view text, std::string_view alphabet) {
  return text.find_first_not_of(alphabet) == std::string::npos;
}

TEST(Secrets, RandomSecretShape) {
  EXPECT_EQ(random_secret().size(), 43U);
  EXPECT_EQ(random_secret(16).size(), 22U);
  EXPECT_EQ(random_secret(48).size(), 64U);
  for (int i = 0; i < 100; ++i) {
    const std::string s = random_secret();
    EXPECT_TRUE(all_in(s, kBase64Url)) << s;
  }
}

TEST(Secrets, RandomSecretDecodesToItsBytes) {
  ASSERT_GE(sodium_init(), 0);
  const std::string s = random_secret(32);
  std::array<unsigned char, 64> bytes{};
  std::size_t decoded = 0;
  ASSERT_EQ(sodium_base642bin(bytes.data(), bytes.size(), s.data(), s.size(), nullptr, &decoded, nullptr,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING),
            0);
  EXPECT_EQ(decoded, 32U);
}

TEST(Secrets, RandomSecretRefusesWeakSizes) {
  EXPECT_THROW((void)random_secret(0), std::invalid_argument);
  EXPECT_THROW((void)random_secret(kMinSecretBytes - 1), std::invalid_argument);
  EXPECT_NO_THROW((void)random_secret(kMinSecretBytes));
}

TEST(Secrets, RandomSecretsAreUniqueAndUseTheWholeAlphabet) {
  std::set<std::string> seen;
  std::set<char> used;
  constexpr int kDraws = 10000;
  for (int i = 0; i < kDraws; ++i) {
    const std::string s = random_secret();
    seen.insert(s);
    used.insert(s.begin(), s.end());
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kDraws));
  EXPECT_EQ(used.size(), kBase64Url.size());
}

TEST(Secrets, RandomIdShape) {
  const std::string hex = "0123456789abcdef";
  EXPECT_EQ(random_id().size(), 24U);
  EXPECT_EQ(random_id(16).size(), 32U);
  EXPECT_EQ(random_id(1).size(), 2U);
  EXPECT_THROW((void)random_id(0), std::invalid_argument);
  std::set<std::string> seen;
  std::set<char> used;
  constexpr int kDraws = 10000;
  for (int i = 0; i < kDraws; ++i) {
    const std::string id = random_id();
    ASSERT_TRUE(all_in(id, hex)) << id;
    seen.insert(id);
    used.insert(id.begin(), id.end());
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kDraws));
  EXPECT_EQ(used.size(), hex.size());
}

TEST(Secrets, TokenTextAndParseRoundTrip) {
  for (const std::string_view kind : {kApiTokenKind, kAgentCredentialKind, kEnrolmentTokenKind}) {
    const SecretToken token = make_secret_token(kind);
    EXPECT_EQ(token.kind, kind);
    EXPECT_EQ(token.id.size(), 24U);
    EXPECT_EQ(token.secret.size(), 43U);
    const std::string text = token.text();
    EXPECT_EQ(text, "hoist_" + std::string(kind) + "_" + token.id + "_" + token.secret);

    const auto parsed = parse_secret_token(text, kind);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->kind, token.kind);
    EXPECT_EQ(parsed->id, token.id);
    EXPECT_EQ(parsed->secret, token.secret);
  }
  EXPECT_NE(make_secret_token(kApiTokenKind).text(), make_secret_token(kApiTokenKind).text());
}

TEST(Secrets, TokenKindsAreFixed) {
  EXPECT_EQ(kApiTokenKind, "api");
  EXPECT_EQ(kAgentCredentialKind, "agent");
  EXPECT_EQ(kEnrolmentTokenKind, "enrol");
  EXPECT_THROW((void)make_secret_token("bogus"), std::invalid_argument);
  EXPECT_THROW((void)make_secret_token(""), std::invalid_argument);
  EXPECT_THROW((void)make_secret_token("API"), std::invalid_argument);
}

TEST(Secrets, SecretMayContainUnderscoreAndDash) {
  // 42 characters of '-' and '_' and a last one whose unused low bits are 0.
  std::string secret;
  for (int i = 0; i < 21; ++i) secret += "_-";
  secret += 'w';
  const std::string id(24, 'a');
  const auto parsed = parse_secret_token("hoist_api_" + id + "_" + secret, kApiTokenKind);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->id, id);
  EXPECT_EQ(parsed->secret, secret);
}

struct BadToken {
  std::string what;
  std::string text;
};

TEST(Secrets, ParseRejectsAnythingElse) {
  const SecretToken token = make_secret_token(kApiTokenKind);
  const std::string id = token.id;
  const std::string secret = token.secret;
  const std::string good = token.text();
  ASSERT_TRUE(parse_secret_token(good, kApiTokenKind).ok());
  std::string upper_id = id;
  upper_id[0] = 'A';
  // 'B' = 000001 leaves a 1 in the two bits past the 32nd byte.
  const std::string non_canonical = secret.substr(0, 42) + "B";

  const std::vector<BadToken> cases = {
      {"empty", ""},
      {"prefix only", "hoist_api_"},
      {"no prefix", "api_" + id + "_" + secret},
      {"capitalised prefix", "Hoist_api_" + id + "_" + secret},
      {"dashes", "hoist-api-" + id + "-" + secret},
      {"capitalised kind", "hoist_API_" + id + "_" + secret},
      {"longer kind", "hoist_apix_" + id + "_" + secret},
      {"no kind", "hoist__" + id + "_" + secret},
      {"unknown kind", "hoist_bogus_" + id + "_" + secret},
      {"id too short", "hoist_api_" + id.substr(1) + "_" + secret},
      {"id too long", "hoist_api_" + id + "0_" + secret},
      {"upper-case id", "hoist_api_" + upper_id + "_" + secret},
      {"non-hex id", "hoist_api_g" + id.substr(1) + "_" + secret},
      {"secret too short", "hoist_api_" + id + "_" + secret.substr(1)},
      {"secret too long", "hoist_api_" + id + "_" + secret + "A"},
      {"padding", "hoist_api_" + id + "_" + secret + "="},
      {"standard base64 +", "hoist_api_" + id + "_+" + secret.substr(1)},
      {"standard base64 /", "hoist_api_" + id + "_/" + secret.substr(1)},
      {"dot", "hoist_api_" + id + "_." + secret.substr(1)},
      {"non-canonical last character", "hoist_api_" + id + "_" + non_canonical},
      {"no id", "hoist_api_" + secret},
      {"extra part after", good + "_extra"},
      {"extra part before", "hoist_api_x_" + id + "_" + secret},
      {"missing separator", "hoist_api_" + id + secret},
      {"leading space", " " + good},
      {"trailing space", good + " "},
      {"trailing newline", good + "\n"},
      {"Bearer prefix", "Bearer " + good},
      {"trailing NUL", good + std::string(1, '\0')},
      {"NUL inside", "hoist_api_" + id + "_" + std::string(1, '\0') + secret.substr(1)},
  };
  for (const auto& c : cases) {
    const auto parsed = parse_secret_token(c.text, kApiTokenKind);
    ASSERT_FALSE(parsed.ok()) << c.what;
    EXPECT_EQ(parsed.error().code, ErrorCode::kUnauthenticated) << c.what;
    EXPECT_NE(parsed.error().message.find("hoist_api_<id>_<secret>"), std::string::npos)
        << c.what << ": " << parsed.error().message;
    EXPECT_EQ(parsed.error().message.find(secret.substr(0, 20)), std::string::npos)
        << c.what << ": the message must not echo the secret";
  }
}

TEST(Secrets, ParseRejectsAnotherKind) {
  const SecretToken agent = make_secret_token(kAgentCredentialKind);
  const auto parsed = parse_secret_token(agent.text(), kApiTokenKind);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(parsed.error().message.find("endpoint credential"), std::string::npos) << parsed.error().message;
  EXPECT_NE(parsed.error().message.find("API token"), std::string::npos) << parsed.error().message;
  EXPECT_EQ(parsed.error().message.find(agent.secret), std::string::npos);

  const SecretToken api = make_secret_token(kApiTokenKind);
  EXPECT_FALSE(parse_secret_token(api.text(), kEnrolmentTokenKind).ok());
  EXPECT_FALSE(parse_secret_token(api.text(), kAgentCredentialKind).ok());
  EXPECT_FALSE(parse_secret_token(api.text(), "bogus").ok());
  EXPECT_FALSE(parse_secret_token(api.text(), "").ok());
}

TEST(Secrets, MalformedMessageNamesTheExpectedKind) {
  const auto parsed = parse_secret_token("nonsense", kEnrolmentTokenKind);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().message, "not a Hoist enrolment token (expected hoist_enrol_<id>_<secret>)");
}

TEST(Secrets, HashSecretKnownValue) {
  // printf 'hoist-secret-v1\0abc' | sha256sum
  EXPECT_EQ(hash_secret("abc"), "6b3d614b849fe13b7cd35186da4db69129a47b68849c22c972c054d6410389c8");
}

TEST(Secrets, HashSecretIsDomainSeparated) {
  const std::string h = hash_secret("abc");
  EXPECT_NE(h, sha256("abc").hex());
  EXPECT_NE(h, sha256("hoist-secret-v1abc").hex());  // the NUL separator matters
  EXPECT_EQ(h, sha256(std::string("hoist-secret-v1\0abc", 19)).hex());
}

TEST(Secrets, HashSecretIsStableAndDistinct) {
  const std::string secret = random_secret();
  const std::string h = hash_secret(secret);
  EXPECT_EQ(h.size(), 64U);
  EXPECT_TRUE(all_in(h, "0123456789abcdef")) << h;
  EXPECT_EQ(hash_secret(secret), h);
  EXPECT_NE(hash_secret(random_secret()), h);
  EXPECT_NE(hash_secret(secret + "x"), h);
}

TEST(Secrets, SecretMatches) {
  const std::string secret = random_secret();
  const std::string stored = hash_secret(secret);
  EXPECT_TRUE(secret_matches(stored, secret));

  EXPECT_FALSE(secret_matches(stored, random_secret()));
  EXPECT_FALSE(secret_matches(stored, secret.substr(1)));
  EXPECT_FALSE(secret_matches(stored, secret + "A"));
  EXPECT_FALSE(secret_matches(stored, stored));  // the hash is not the secret
  EXPECT_FALSE(secret_matches("", secret));
  EXPECT_FALSE(secret_matches(stored.substr(0, 63), secret));
  EXPECT_FALSE(secret_matches(stored + "0", secret));
  for (const std::size_t pos : {std::size_t{0}, std::size_t{31}, std::size_t{63}}) {
    std::string altered = stored;
    altered[pos] = altered[pos] == '0' ? '1' : '0';
    EXPECT_FALSE(secret_matches(altered, secret)) << "digit " << pos;
  }
  std::string upper = stored;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper != stored) {  // all-digit digests are possible, if unlikely
    EXPECT_FALSE(secret_matches(upper, secret));
  }

  EXPECT_FALSE(secret_matches(hash_secret(""), ""));
}

}  // namespace
}  // namespace hoist::auth
