// Console passwords: Argon2id hashes (libsodium's crypto_pwhash_str format),
// verification, the rules for a new password, and generated passwords.
//
// Security invariants:
// - Passwords MUST only be stored as Argon2id hashes made by hash_password();
//   the encoded hash carries its own random salt and cost.
// - verify_password() MUST fail closed: any hash it does not fully understand
//   (empty, truncated, another algorithm, embedded NUL, too long, a cost
//   beyond kMaximumCost) is "no match", never an exception or a crash.
// - A stored hash MUST NOT be able to make verification use more than
//   kMaximumCost of time and memory, so a corrupted row cannot exhaust the
//   server.
// - Passwords and hashes MUST NOT appear in error messages or logs.
// - No function here is told whether a user exists; callers MUST verify
//   against a dummy hash for unknown users so the timing does not tell.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"

namespace hoist::auth {

// Argon2id cost: passes over memory (opslimit) and memory in bytes (memlimit).
struct PasswordCost {
  unsigned long long opslimit = 0;
  std::size_t memlimit = 0;

  friend bool operator==(const PasswordCost&, const PasswordCost&) = default;
};

// libsodium's INTERACTIVE preset (2 passes, 64 MiB): the default for logins.
inline constexpr PasswordCost kInteractiveCost{2, std::size_t{64} << 20};
// The least libsodium accepts (1 pass, 8 KiB). Weak: only for tests.
inline constexpr PasswordCost kMinimumCost{1, 8192};
// libsodium's SENSITIVE preset (4 passes, 1 GiB): the most Hoist makes or
// verifies, which bounds what a stored hash can cost.
inline constexpr PasswordCost kMaximumCost{4, std::size_t{1} << 30};

// Limits on the length of any password, in bytes.
inline constexpr std::size_t kMaxPasswordBytes = 1024;
inline constexpr std::size_t kMinNewPasswordBytes = 12;

// Hashes a password with a fresh random salt. The result is a NUL-free
// string starting "$argon2id$" and shorter than 128 bytes.
// Fails with InvalidArgument for an empty password, one containing a NUL
// byte or longer than kMaxPasswordBytes, or a cost outside
// [kMinimumCost, kMaximumCost]; with Internal when libsodium cannot
// initialise or runs out of memory.
Result<std::string> hash_password(std::string_view password, const PasswordCost& cost = kInteractiveCost);

// True only when `encoded_hash` is an Argon2id hash within kMaximumCost and
// `password` matches it. False, without throwing, for anything else: a wrong
// password, an empty, truncated, foreign (e.g. "$argon2i$") or otherwise
// malformed hash, a hash with an embedded NUL or longer than libsodium's
// crypto_pwhash_STRBYTES - 1, one whose salt or digest is not the 16 and 32
// bytes libsodium writes, an empty or over-long password, or when libsodium
// cannot initialise.
bool verify_password(std::string_view encoded_hash, std::string_view password);

// True when `encoded_hash` should be replaced (after a successful login) by
// a hash made with `cost`: it was made with other parameters, or it is not
// an Argon2id hash this library would verify.
bool password_needs_rehash(std::string_view encoded_hash, const PasswordCost& cost = kInteractiveCost);

// The rules for a password a person chooses: at least kMinNewPasswordBytes
// bytes (a UTF-8 character may count several), at most kMaxPasswordBytes,
// and no ASCII control characters (bytes 0x00-0x1F and 0x7F), NUL included.
// Fails with InvalidArgument saying which rule was broken.
Status check_new_password(std::string_view password);

// A fresh random password for a new or reset account: 24 characters from an
// alphabet without look-alikes (no 0, O, 1, l or I), about 140 bits of
// entropy; it always passes check_new_password(). Throws std::runtime_error
// if libsodium cannot initialise (it never returns a weak password).
std::string generate_password();

}  // namespace hoist::auth
