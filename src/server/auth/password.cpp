#include "server/auth/password.h"

#include <sodium.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "server/auth/sodium_runtime.h"

namespace hoist::auth {

namespace {

static_assert(kInteractiveCost.opslimit == crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE);
static_assert(kInteractiveCost.memlimit == crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE);
static_assert(kMinimumCost.opslimit == crypto_pwhash_argon2id_OPSLIMIT_MIN);
static_assert(kMinimumCost.memlimit == crypto_pwhash_argon2id_MEMLIMIT_MIN);
static_assert(kMaximumCost.opslimit == crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE);
static_assert(kMaximumCost.memlimit == crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE);

// libsodium writes and reads encoded hashes as NUL-terminated C strings in a
// buffer of this size.
using HashBuffer = std::array<char, crypto_pwhash_STRBYTES>;

// The only header libsodium writes for Argon2id (version 0x13 = 19).
constexpr std::string_view kArgon2idHeader = "$argon2id$v=19$m=";

constexpr std::string_view kGeneratedAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr std::size_t kGeneratedLength = 24;

// Unpadded base64 lengths of libsodium's 16-byte salt and 32-byte digest.
constexpr std::size_t kSaltChars = 22;
constexpr std::size_t kDigestChars = 43;
static_assert(kSaltChars == (crypto_pwhash_argon2id_SALTBYTES * 4 + 2) / 3);

bool is_base64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

bool cost_in_range(const PasswordCost& cost) {
  return cost.opslimit >= kMinimumCost.opslimit && cost.opslimit <= kMaximumCost.opslimit &&
         cost.memlimit >= kMinimumCost.memlimit && cost.memlimit <= kMaximumCost.memlimit;
}

// Reads one decimal field of the header, e.g. the 65536 of "m=65536,".
std::optional<unsigned long long> take_number(std::string_view& rest) {
  unsigned long long n = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
  if (ec != std::errc{}) return std::nullopt;
  rest.remove_prefix(static_cast<std::size_t>(end - rest.data()));
  return n;
}

bool take_literal(std::string_view& rest, std::string_view literal) {
  if (!rest.starts_with(literal)) return false;
  rest.remove_prefix(literal.size());
  return true;
}

// Copies an encoded hash into libsodium's NUL-terminated buffer after the
// checks libsodium cannot do for us: it must fit with its terminator, hold
// no NUL (which would hide a suffix from libsodium), have exactly the shape
// libsodium gives Argon2id hashes, and cost no more than kMaximumCost to
// verify. libsodium still checks the rest (e.g. non-canonical base64).
std::optional<HashBuffer> checked_hash_buffer(std::string_view encoded_hash) {
  if (encoded_hash.size() >= crypto_pwhash_STRBYTES) return std::nullopt;
  if (encoded_hash.find('\0') != std::string_view::npos) return std::nullopt;

  std::string_view rest = encoded_hash;
  if (!take_literal(rest, kArgon2idHeader)) return std::nullopt;
  const auto memory_kib = take_number(rest);
  if (!memory_kib || !take_literal(rest, ",t=")) return std::nullopt;
  const auto passes = take_number(rest);
  if (!passes || !take_literal(rest, ",p=")) return std::nullopt;
  const auto lanes = take_number(rest);
  if (!lanes || !take_literal(rest, "$")) return std::nullopt;
  if (*memory_kib > kMaximumCost.memlimit / 1024 || *passes > kMaximumCost.opslimit) return std::nullopt;
  // The 16-byte salt and 32-byte digest libsodium writes, in unpadded
  // standard base64; other lengths decode too, but Hoist never makes them.
  if (rest.size() != kSaltChars + 1 + kDigestChars || rest[kSaltChars] != '$') return std::nullopt;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (i != kSaltChars && !is_base64(rest[i])) return std::nullopt;
  }

  HashBuffer buffer{};
  std::memcpy(buffer.data(), encoded_hash.data(), encoded_hash.size());
  return buffer;
}

}  // namespace

Result<std::string> hash_password(std::string_view password, const PasswordCost& cost) {
  if (password.empty()) return invalid_argument("a password must not be empty");
  if (password.size() > kMaxPasswordBytes) {
    return invalid_argument("a password may be at most " + std::to_string(kMaxPasswordBytes) + " bytes long");
  }
  if (password.find('\0') != std::string_view::npos) {
    return invalid_argument("a password may not contain a NUL byte");
  }
  if (!cost_in_range(cost)) {
    return invalid_argument("the Argon2id cost is out of range: opslimit must be 1-4 and memlimit 8 KiB-1 GiB");
  }
  if (!detail::sodium_ready()) {
    return internal_error("libsodium could not initialise, so passwords cannot be hashed");
  }
  HashBuffer out{};
  if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(), cost.opslimit, cost.memlimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return internal_error("hashing the password failed: out of memory (Argon2id needs " +
                          std::to_string(cost.memlimit >> 20) + " MiB); try again or lower the cost");
  }
  return std::string(out.data());
}

bool verify_password(std::string_view encoded_hash, std::string_view password) {
  if (password.empty() || password.size() > kMaxPasswordBytes) return false;
  const auto buffer = checked_hash_buffer(encoded_hash);
  if (!buffer) return false;
  if (!detail::sodium_ready()) return false;
  return crypto_pwhash_str_verify(buffer->data(), password.data(), password.size()) == 0;
}

bool password_needs_rehash(std::string_view encoded_hash, const PasswordCost& cost) {
  const auto buffer = checked_hash_buffer(encoded_hash);
  if (!buffer) return true;
  // 0: same algorithm and parameters; 1: different parameters; -1: malformed.
  return crypto_pwhash_str_needs_rehash(buffer->data(), cost.opslimit, cost.memlimit) != 0;
}

Status check_new_password(std::string_view password) {
  if (password.size() < kMinNewPasswordBytes) {
    return invalid_argument("a password must be at least " + std::to_string(kMinNewPasswordBytes) +
                            " characters long; a passphrase of several words is easiest to remember");
  }
  if (password.size() > kMaxPasswordBytes) {
    return invalid_argument("a password may be at most " + std::to_string(kMaxPasswordBytes) + " bytes long");
  }
  for (const char c : password) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      return invalid_argument("a password may not contain control characters (such as NUL, tab or newline)");
    }
  }
  return {};
}

std::string generate_password() {
  if (!detail::sodium_ready()) {
    throw std::runtime_error("libsodium could not initialise, so no password can be generated");
  }
  std::string password(kGeneratedLength, '\0');
  for (char& c : password) {
    c = kGeneratedAlphabet[randombytes_uniform(static_cast<std::uint32_t>(kGeneratedAlphabet.size()))];
  }
  return password;
}

}  // namespace hoist::auth
