#include "net/tls/fingerprint.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <array>
#include <cstdint>
#include <span>

#include "net/tls/openssl_handles.h"
#include "net/tls/pem.h"
#include "platform/read_file.h"

namespace hoist::tls {

namespace {

constexpr std::size_t kMaxPemFileBytes = std::size_t{1024} * 1024;
constexpr std::size_t kDigestBytes = 32;
constexpr std::string_view kHexDigits = "0123456789ABCDEF";

std::string colon_hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 3);
  for (const std::uint8_t b : bytes) {
    if (!out.empty()) out += ':';
    out += kHexDigits[b >> 4];
    out += kHexDigits[b & 0xf];
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char c = text[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != prefix[i]) return false;
  }
  return true;
}

}  // namespace

Result<std::string> fingerprint_of_certificate(const X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  if (len <= 0 || der == nullptr) return openssl_error(ErrorCode::kInternal, "cannot DER-encode a certificate");
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_len = 0;
  const int ok = EVP_Digest(der, static_cast<std::size_t>(len), digest.data(), &digest_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1 || digest_len != kDigestBytes) {
    return openssl_error(ErrorCode::kInternal, "cannot compute a certificate's SHA-256");
  }
  return colon_hex(std::span(digest.data(), kDigestBytes));
}

Result<std::string> fingerprint_of_pem(std::string_view pem) {
  auto cert = parse_certificate_pem(pem, "the PEM text");
  if (!cert) return cert.error();
  return fingerprint_of_certificate(cert->get());
}

Result<std::string> fingerprint_of_file(const std::string& path) {
  auto text = platform::read_small_file(path, kMaxPemFileBytes);
  if (!text) return text.error();
  auto cert = parse_certificate_pem(*text, path);
  if (!cert) return cert.error();
  return fingerprint_of_certificate(cert->get());
}

std::optional<std::string> normalize_fingerprint(std::string_view text) {
  // "SHA256 AB:CD:..." is how hoistd prints it: pasted whole, it is taken.
  if (starts_with_ignoring_case(text, "sha256:") || starts_with_ignoring_case(text, "sha256 ")) text.remove_prefix(7);
  const bool separated = text.size() == kDigestBytes * 3 - 1;
  if (!separated && text.size() != kDigestBytes * 2) return std::nullopt;
  std::array<std::uint8_t, kDigestBytes> bytes{};
  const std::size_t stride = separated ? 3 : 2;
  for (std::size_t i = 0; i < kDigestBytes; ++i) {
    const std::size_t at = i * stride;
    const int hi = hex_value(text[at]);
    const int lo = hex_value(text[at + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (separated && i + 1 < kDigestBytes && text[at + 2] != ':') return std::nullopt;
    bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return colon_hex(bytes);
}

}  // namespace hoist::tls
