// SHA-256 digests: the value type used by file-hash rules and the audit hash
// chain, and a streaming hasher (OpenSSL EVP, so SHA-NI is used when present).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace hoist {

struct Sha256 {
  std::array<std::uint8_t, 32> bytes{};

  // Lowercase hex, 64 characters.
  [[nodiscard]] std::string hex() const;
  // Accepts 64 hex digits in either case; anything else is InvalidArgument.
  static Result<Sha256> from_hex(std::string_view hex);

  friend bool operator==(const Sha256&, const Sha256&) = default;
};

struct Sha256Hash {
  std::size_t operator()(const Sha256& d) const noexcept {
    // The digest is already uniformly distributed: its first word is a fine hash.
    std::size_t h = 0;
    std::memcpy(&h, d.bytes.data(), sizeof h);
    return h;
  }
};

class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;

  void update(std::span<const std::uint8_t> data);
  void update(std::string_view data);
  // Finishes the digest; the stream is reset and can be reused.
  Sha256 finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

Sha256 sha256(std::string_view data);

}  // namespace hoist
