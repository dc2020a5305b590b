// Secrets hoistd must use again, not just check (a webhook's signing
// secret): sealed with a key kept outside the database, so a copy of the
// database alone reveals none. XChaCha20-Poly1305 (libsodium's IETF AEAD)
// with a fresh random nonce per seal, and the owner's id as associated
// data, so a sealed value moved to another row does not open.
//
// The key is DATA_DIR/notify/secrets.key (32 random bytes, private to
// hoistd, made on first start like the admin-code master key): every
// replica sharing a database needs the same file.
//
// MUST: sealed text never reveals the secret; open() fails closed on any
// change (InvalidArgument, without echoing the text).
// MUST: secrets and the key never appear in errors or logs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace hoist::auth {

inline constexpr std::size_t kSealedBoxKeyBytes = 32;

class SealedBox {
 public:
  // InvalidArgument unless the key has kSealedBoxKeyBytes bytes.
  static Result<SealedBox> with_key(std::vector<std::uint8_t> key);
  SealedBox(SealedBox&&) noexcept = default;
  SealedBox& operator=(SealedBox&&) noexcept = default;
  SealedBox(const SealedBox&) = delete;
  SealedBox& operator=(const SealedBox&) = delete;
  ~SealedBox();

  // "sb1:" + base64url(nonce || ciphertext || tag). Internal when libsodium
  // cannot initialise.
  [[nodiscard]] Result<std::string> seal(std::string_view plaintext, std::string_view owner) const;
  // The plaintext, only when `sealed` was made by seal() with this key for
  // this owner; InvalidArgument otherwise.
  [[nodiscard]] Result<std::string> open(std::string_view sealed, std::string_view owner) const;

 private:
  explicit SealedBox(std::vector<std::uint8_t> key) : key_(std::move(key)) {}
  std::vector<std::uint8_t> key_;
};

}  // namespace hoist::auth
