#include "core/webhook_signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fmt/format.h>

#include <array>

namespace hoist::webhook {

namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int value_of(char c) {
  const auto at = kAlphabet.find(c);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

std::array<std::uint8_t, 32> hmac(std::span<const std::uint8_t> key, std::string_view message) {
  std::array<std::uint8_t, 32> out{};
  unsigned int len = 0;
  // With a key and a message in memory, HMAC() fails only when OpenSSL
  // cannot allocate; a zero MAC then matches no receiver's check.
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &len) == nullptr) {
    out.fill(0);
  }
  return out;
}

std::string signed_content(std::string_view id, std::int64_t timestamp, std::string_view body) {
  std::string content;
  content.reserve(id.size() + body.size() + 24);
  content.append(id);
  content += '.';
  content += std::to_string(timestamp);
  content += '.';
  content.append(body);
  return content;
}

}  // namespace

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const std::uint32_t v = std::uint32_t{bytes[i]} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
  const auto bad = [] { return invalid_argument("not valid base64"); };
  std::size_t padding = 0;
  while (!text.empty() && text.back() == '=' && padding < 2) {
    text.remove_suffix(1);
    ++padding;
  }
  if (text.size() % 4 == 1) return bad();
  if (padding > 0 && (text.size() + padding) % 4 != 0) return bad();
  std::vector<std::uint8_t> out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const int v = value_of(c);
    if (v < 0) return bad();
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xFF));
    }
  }
  // The bits left over must be zero (a canonical encoding).
  if (bits > 0 && (acc & ((1U << bits) - 1)) != 0) return bad();
  return out;
}

Result<std::vector<std::uint8_t>> parse_secret(std::string_view text) {
  const auto bad = [] {
    return invalid_argument(fmt::format(
        "a webhook secret is \"{}\" followed by the base64 of {} to {} random bytes (e.g. from hoist notify "
        "channels add --generate-secret)",
        kSecretPrefix, kMinKeyBytes, kMaxKeyBytes));
  };
  if (!text.starts_with(kSecretPrefix)) return bad();
  auto key = base64_decode(text.substr(kSecretPrefix.size()));
  if (!key || key->size() < kMinKeyBytes || key->size() > kMaxKeyBytes) return bad();
  return key;
}

std::string format_secret(std::span<const std::uint8_t> key) {
  return std::string(kSecretPrefix) + base64_encode(key);
}

std::string sign(std::string_view id, std::int64_t timestamp, std::string_view body,
                 std::span<const std::uint8_t> key) {
  const auto mac = hmac(key, signed_content(id, timestamp, body));
  return "v1," + base64_encode(mac);
}

std::string signature_header(std::string_view id, std::int64_t timestamp, std::string_view body,
                             const std::vector<std::vector<std::uint8_t>>& keys) {
  std::string out;
  for (const auto& key : keys) {
    if (!out.empty()) out += ' ';
    out += sign(id, timestamp, body, key);
  }
  return out;
}

bool verify(std::string_view header, std::string_view id, std::int64_t timestamp, std::string_view body,
            std::span<const std::uint8_t> key) {
  const auto want = hmac(key, signed_content(id, timestamp, body));
  bool found = false;
  while (!header.empty()) {
    const auto space = header.find(' ');
    const auto part = header.substr(0, space);
    header = space == std::string_view::npos ? std::string_view() : header.substr(space + 1);
    if (!part.starts_with("v1,")) continue;
    auto got = base64_decode(part.substr(3));
    if (got && got->size() == want.size() && CRYPTO_memcmp(got->data(), want.data(), want.size()) == 0) {
      found = true;
    }
  }
  return found;
}

}  // namespace hoist::webhook
