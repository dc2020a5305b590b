#include "server/auth/sealed_box.h"

#include <sodium.h>

#include "server/auth/sodium_runtime.h"

namespace hoist::auth {

namespace {

constexpr std::string_view kPrefix = "sb1:";
constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t kMaxSealedBytes = 64 * 1024;

}  // namespace

Result<SealedBox> SealedBox::with_key(std::vector<std::uint8_t> key) {
  if (key.size() != kSealedBoxKeyBytes) {
    return invalid_argument("the secrets key must hold exactly 32 bytes");
  }
  return SealedBox(std::move(key));
}

SealedBox::~SealedBox() {
  if (!key_.empty()) sodium_memzero(key_.data(), key_.size());
}

Result<std::string> SealedBox::seal(std::string_view plaintext, std::string_view owner) const {
  if (!detail::sodium_ready()) return internal_error("libsodium could not initialise, so no secret can be sealed");
  std::vector<unsigned char> out(kNonceBytes + plaintext.size() + kTagBytes);
  randombytes_buf(out.data(), kNonceBytes);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out.data() + kNonceBytes, &written, reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
      reinterpret_cast<const unsigned char*>(owner.data()), owner.size(), nullptr, out.data(), key_.data());
  out.resize(kNonceBytes + written);
  std::string text(sodium_base64_ENCODED_LEN(out.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(text.data(), text.size(), out.data(), out.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  text.resize(text.size() - 1);  // the NUL
  return std::string(kPrefix) + text;
}

Result<std::string> SealedBox::open(std::string_view sealed, std::string_view owner) const {
  const auto refused = [] { return invalid_argument("a sealed secret does not open with this hoistd's secrets key"); };
  if (!detail::sodium_ready()) return internal_error("libsodium could not initialise, so no secret can be opened");
  if (!sealed.starts_with(kPrefix) || sealed.size() > kMaxSealedBytes) return refused();
  const auto text = sealed.substr(kPrefix.size());
  if (text.empty()) return refused();  // (libsodium takes no null buffer)
  std::vector<unsigned char> bytes(text.size());
  std::size_t decoded = 0;
  if (sodium_base642bin(bytes.data(), bytes.size(), text.data(), text.size(), nullptr, &decoded, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      decoded < kNonceBytes + kTagBytes) {
    return refused();
  }
  std::string plain(decoded - kNonceBytes - kTagBytes, '\0');
  unsigned long long plain_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(plain.data()), &plain_len, nullptr,
                                                 bytes.data() + kNonceBytes, decoded - kNonceBytes,
                                                 reinterpret_cast<const unsigned char*>(owner.data()), owner.size(),
                                                 bytes.data(), key_.data()) != 0) {
    return refused();
  }
  plain.resize(plain_len);
  return plain;
}

}  // namespace hoist::auth
