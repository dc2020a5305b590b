#include "server/auth/secrets.h"

#include <sodium.h>

#include <array>
#include <optional>
#include <stdexcept>
#include <vector>

#include "core/sha256.h"
#include "server/auth/sodium_runtime.h"

namespace hoist::auth {

namespace {

constexpr std::string_view kTokenPrefix = "hoist_";
constexpr std::size_t kIdChars = 2 * kSecretIdBytes;
// Unpadded base64 of 32 bytes: ceil(32 * 4 / 3).
constexpr std::size_t kSecretChars = (kSecretBytes * 4 + 2) / 3;

// The domain separator of hash_secret(), NUL included.
constexpr std::array<char, 16> kSecretHashDomain = {'h', 'o', 'i', 's', 't', '-', 's', 'e',
                                                    'c', 'r', 'e', 't', '-', 'v', '1', '\0'};

// "an API token" etc.: how messages name a kind. Every kind's noun takes "an".
std::optional<std::string_view> kind_noun(std::string_view kind) {
  if (kind == kApiTokenKind) return "API token";
  if (kind == kAgentCredentialKind) return "endpoint credential";
  if (kind == kEnrolmentTokenKind) return "enrolment token";
  if (kind == kMetricsTokenKind) return "HTTP metrics token";
  return std::nullopt;
}

void require_sodium() {
  if (!detail::sodium_ready()) {
    throw std::runtime_error("libsodium could not initialise, so no secret can be generated");
  }
}

bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool is_base64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// The canonical unpadded base64url encoding of exactly kSecretBytes bytes.
bool is_canonical_secret(std::string_view secret) {
  if (secret.size() != kSecretChars) return false;
  for (const char c : secret) {
    if (!is_base64url(c)) return false;
  }
  // libsodium refuses non-zero bits after the last whole byte, so this also
  // rejects the other spellings of the same secret.
  std::array<unsigned char, kSecretBytes + 1> bytes{};
  std::size_t decoded = 0;
  const int rc = sodium_base642bin(bytes.data(), bytes.size(), secret.data(), secret.size(), nullptr, &decoded, nullptr,
                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(bytes.data(), bytes.size());
  return rc == 0 && decoded == kSecretBytes;
}

}  // namespace

std::string random_secret(std::size_t bytes) {
  if (bytes < kMinSecretBytes) {
    throw std::invalid_argument("a secret needs at least " + std::to_string(kMinSecretBytes) +
                                " random bytes (this is a bug)");
  }
  require_sodium();
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  const std::size_t encoded_size = sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  std::string out(encoded_size, '\0');  // includes libsodium's terminator
  sodium_bin2base64(out.data(), out.size(), raw.data(), raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw.data(), raw.size());
  out.resize(encoded_size - 1);
  return out;
}

std::string random_id(std::size_t bytes) {
  if (bytes == 0) throw std::invalid_argument("an id needs at least one random byte (this is a bug)");
  require_sodium();
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string out(2 * bytes + 1, '\0');  // includes libsodium's terminator
  sodium_bin2hex(out.data(), out.size(), raw.data(), raw.size());
  out.resize(2 * bytes);
  return out;
}

std::string SecretToken::text() const {
  std::string out;
  out.reserve(kTokenPrefix.size() + kind.size() + id.size() + secret.size() + 2);
  out.append(kTokenPrefix).append(kind).append(1, '_').append(id).append(1, '_').append(secret);
  return out;
}

SecretToken make_secret_token(std::string_view kind) {
  if (!kind_noun(kind)) {
    throw std::invalid_argument("unknown secret token kind \"" + std::string(kind) + "\" (this is a bug)");
  }
  return SecretToken{std::string(kind), random_id(kSecretIdBytes), random_secret(kSecretBytes)};
}

Result<SecretToken> parse_secret_token(std::string_view text, std::string_view expected_kind) {
  const auto expected_noun = kind_noun(expected_kind);
  if (!expected_noun) return unauthenticated("not a Hoist credential (this is a bug: unknown token kind expected)");
  const std::string expected_form = "hoist_" + std::string(expected_kind) + "_<id>_<secret>";
  const auto malformed = [&] {
    return unauthenticated("not a Hoist " + std::string(*expected_noun) + " (expected " + expected_form + ")");
  };

  if (!text.starts_with(kTokenPrefix)) return malformed();
  std::string_view rest = text.substr(kTokenPrefix.size());
  const std::size_t kind_end = rest.find('_');
  if (kind_end == std::string_view::npos) return malformed();
  const std::string_view kind = rest.substr(0, kind_end);
  if (kind != expected_kind) {
    if (const auto noun = kind_noun(kind)) {
      return unauthenticated("this is a Hoist " + std::string(*noun) + ", not an " + std::string(*expected_noun) +
                             " (expected " + expected_form + ")");
    }
    return malformed();
  }
  rest.remove_prefix(kind_end + 1);

  if (rest.size() != kIdChars + 1 + kSecretChars || rest[kIdChars] != '_') return malformed();
  const std::string_view id = rest.substr(0, kIdChars);
  const std::string_view secret = rest.substr(kIdChars + 1);
  for (const char c : id) {
    if (!is_lower_hex(c)) return malformed();
  }
  if (!is_canonical_secret(secret)) return malformed();
  return SecretToken{std::string(kind), std::string(id), std::string(secret)};
}

std::string hash_secret(std::string_view secret) {
  Sha256Stream stream;
  stream.update(std::string_view(kSecretHashDomain.data(), kSecretHashDomain.size()));
  stream.update(secret);
  return stream.finish().hex();
}

std::string derive_csrf_token(std::string_view session_secret) {
  constexpr std::string_view kLabel = "hoist csrf v1";
  (void)detail::sodium_ready();  // HMAC needs no randomness; init anyway, as libsodium asks
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(session_secret.data()),
                              session_secret.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(kLabel.data()), kLabel.size());
  std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
  crypto_auth_hmacsha256_final(&state, mac.data());
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  for (const unsigned char b : mac) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

bool secret_matches(std::string_view stored_hash, std::string_view secret) {
  if (secret.empty()) return false;
  const std::string computed = hash_secret(secret);
  if (stored_hash.size() != computed.size()) return false;
  return sodium_memcmp(stored_hash.data(), computed.data(), computed.size()) == 0;
}

}  // namespace hoist::auth
