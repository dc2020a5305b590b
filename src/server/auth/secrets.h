// Bearer secrets: API tokens, endpoint (agent) credentials, enrolment
// tokens, the metrics token, session ids and CSRF tokens. All come from
// libsodium's CSPRNG.
//
// Security invariants:
// - Secrets MUST come from random_secret() (at least 128, by default 256
//   bits from the OS CSPRNG); nothing here derives a secret from anything
//   guessable.
// - The server MUST store only hash_secret(secret), never the secret, and
//   MUST compare with secret_matches() (constant time), never with ==.
// - Parsing a presented token MUST be strict (exact prefix, kind, lengths and
//   alphabets, no surrounding whitespace) and its errors MUST NOT echo the
//   text presented: it may be someone's live credential.
// - A token of one kind MUST NOT be accepted where another is expected: the
//   kind is part of the text and checked by parse_secret_token().
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"

namespace hoist::auth {

// The kinds of token, the <kind> in hoist_<kind>_<id>_<secret>.
inline constexpr std::string_view kApiTokenKind = "api";           // a person's or a script's API token
inline constexpr std::string_view kAgentCredentialKind = "agent";  // an enrolled endpoint's credential
inline constexpr std::string_view kEnrolmentTokenKind = "enrol";   // a one-time endpoint enrolment token
inline constexpr std::string_view kMetricsTokenKind = "metrics";   // a scraper's, for GET /metrics only

// Default sizes: 256-bit secrets (43 base64url characters) and 96-bit ids
// (24 hex digits).
inline constexpr std::size_t kSecretBytes = 32;
inline constexpr std::size_t kSecretIdBytes = 12;
// Fewer random bytes than this make a guessable secret.
inline constexpr std::size_t kMinSecretBytes = 16;

// `bytes` random bytes as unpadded base64url (A-Z a-z 0-9 - _), e.g. for a
// session id or a CSRF token. Throws std::invalid_argument when `bytes` is
// below kMinSecretBytes (a programmer error) and std::runtime_error when
// libsodium cannot initialise; it never returns a weak secret.
std::string random_secret(std::size_t bytes = kSecretBytes);

// `bytes` random bytes as lowercase hex: an identifier that is unguessable
// but not a secret (it is stored and shown in clear). Throws
// std::invalid_argument for zero bytes and std::runtime_error when libsodium
// cannot initialise.
std::string random_id(std::size_t bytes = kSecretIdBytes);

// A token as handed to its holder once. The id finds the stored record; the
// secret proves possession and is stored only as hash_secret(secret).
struct SecretToken {
  std::string kind;
  std::string id;
  std::string secret;

  // "hoist_<kind>_<id>_<secret>". The secret may itself contain '_'.
  [[nodiscard]] std::string text() const;
};

// A fresh token of `kind` (one of the k...Kind constants) with a
// kSecretIdBytes id and a kSecretBytes secret. Throws std::invalid_argument
// for any other kind (a programmer error) and std::runtime_error when
// libsodium cannot initialise.
SecretToken make_secret_token(std::string_view kind);

// Parses a presented token, which must be exactly what make_secret_token()
// renders for `expected_kind`: "hoist_", the kind, "_", 24 lowercase hex
// digits, "_", 43 base64url characters encoding 32 bytes, and nothing else
// (no whitespace). Fails with Unauthenticated for anything else, saying
// which kind was expected, or which kind was presented when it is another
// known kind; the message never contains the presented text.
Result<SecretToken> parse_secret_token(std::string_view text, std::string_view expected_kind);

// Lowercase hex SHA-256 of "hoist-secret-v1" '\0' secret: what the server
// stores. A fast hash is right here, unlike for passwords: the secrets are
// 256-bit random, so there is nothing to brute-force and a slow hash would
// only make every API call slow. The prefix keeps these digests apart from
// every other SHA-256 use in Hoist.
std::string hash_secret(std::string_view secret);

// A session's CSRF token: HMAC-SHA256 keyed with the session's secret (the
// cookie) over a fixed label, as lowercase hex. Only the holder of the
// cookie can know it, and the server can give it again (GET whoami, for a
// reloaded console page) without storing it: it stores hash_secret(token).
std::string derive_csrf_token(std::string_view session_secret);

// Whether `secret` hashes to `stored_hash`, compared in constant time. False
// for an empty secret or a stored hash of the wrong length.
bool secret_matches(std::string_view stored_hash, std::string_view secret);

}  // namespace hoist::auth
