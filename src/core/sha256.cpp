#include "core/sha256.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace hoist {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string Sha256::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(64, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

Result<Sha256> Sha256::from_hex(std::string_view hex) {
  if (hex.size() != 64) {
    return invalid_argument("a SHA-256 digest is 64 hex digits, got " + std::to_string(hex.size()) + " characters");
  }
  Sha256 d;
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return invalid_argument("a SHA-256 digest may contain only hex digits 0-9 and a-f");
    }
    d.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return d;
}

struct Sha256Stream::Ctx {
  EVP_MD_CTX* md = nullptr;
  Ctx() = default;
  ~Ctx() { EVP_MD_CTX_free(md); }
  Ctx(const Ctx&) = delete;
  Ctx& operator=(const Ctx&) = delete;
};

Sha256Stream::Sha256Stream() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (ctx_->md == nullptr || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL could not initialise SHA-256 (this is a bug or an out-of-memory)");
  }
}

Sha256Stream::~Sha256Stream() = default;

void Sha256Stream::update(std::span<const std::uint8_t> data) {
  if (EVP_DigestUpdate(ctx_->md, data.data(), data.size()) != 1) {
    throw std::runtime_error("OpenSSL SHA-256 update failed");
  }
}

void Sha256Stream::update(std::string_view data) {
  update(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
}

Sha256 Sha256Stream::finish() {
  Sha256 d;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md, d.bytes.data(), &len) != 1 || len != d.bytes.size() ||
      EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL SHA-256 finish failed");
  }
  return d;
}

Sha256 sha256(std::string_view data) {
  Sha256Stream s;
  s.update(data);
  return s.finish();
}

}  // namespace hoist
