// Standard Webhooks signatures (https://www.standardwebhooks.com, the
// "Signature scheme" of its specification): a secret is "whsec_" and the
// base64 of 24 to 64 random bytes; a message is signed as
//   webhook-signature: v1,<base64 of HMAC-SHA256(key, id "." timestamp "." body)>
// and during a rotation with several keys, several such signatures,
// separated by spaces. Pure: OpenSSL's libcrypto only.
//
// MUST: a secret's text and key never appear in an error message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace hoist::webhook {

inline constexpr std::string_view kSecretPrefix = "whsec_";
inline constexpr std::size_t kMinKeyBytes = 24;
inline constexpr std::size_t kMaxKeyBytes = 64;

// The key of a "whsec_<base64>" secret (standard base64, padding
// optional). InvalidArgument, without repeating the text, for anything
// else or a key outside 24..64 bytes.
Result<std::vector<std::uint8_t>> parse_secret(std::string_view text);

// "whsec_" + base64(key).
std::string format_secret(std::span<const std::uint8_t> key);

// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>".
std::string sign(std::string_view id, std::int64_t timestamp, std::string_view body, std::span<const std::uint8_t> key);

// The header value for several keys: each signature, separated by one
// space, in the order given.
std::string signature_header(std::string_view id, std::int64_t timestamp, std::string_view body,
                             const std::vector<std::vector<std::uint8_t>>& keys);

// True when one of the space-separated "v1,..." signatures in `header`
// matches `key` (compared in constant time). For tests and receivers
// written in C++.
bool verify(std::string_view header, std::string_view id, std::int64_t timestamp, std::string_view body,
            std::span<const std::uint8_t> key);

// Standard base64 with padding, and its strict inverse (padding optional;
// anything outside the alphabet fails).
std::string base64_encode(std::span<const std::uint8_t> bytes);
Result<std::vector<std::uint8_t>> base64_decode(std::string_view text);

}  // namespace hoist::webhook
