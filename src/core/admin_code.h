// Offline temporary admin codes (docs/admin-codes.md): the pure
// construction, without storage, clock or I/O. The endpoint shows a
// challenge, the help desk computes a response with the host's key, and the
// endpoint checks it with the same key; or the help desk hands out a
// pre-issued code bound to host, user, validity window and duration.
//
// Text uses Crockford's base32 alphabet (no I, L, O or U; reading accepts
// lower case and O/I/L for 0/1/1, and ignores '-' and spaces), grouped in
// fours for reading aloud.
//
//   challenge   8 chars  = 40 bits: version 2 | host tag 8 | nonce 30
//   response   12 chars  = 60 bits: duration 4 | scoped 1 | MAC 55
//   pre-issued 20 chars = 100 bits: version 2 | id 24 | first day 16 |
//                                   days 5 | duration 4 | scoped 1 | MAC 48
//
// MACs are HMAC-SHA256 (as in OCRA, RFC 6287: a suite string, then the
// fields) under the host key, HKDF-SHA256(master key, host id, key
// generation), truncated. Duration is an index into kCodeDurations.
//
// MUST: verification compares MACs in constant time and says only "the
// code does not fit" for any wrong field, so a failure tells nothing about
// which part was wrong.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/duration.h"
#include "core/result.h"

namespace hoist::codes {

inline constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// The durations a code may grant, by index (4 bits; 0 is not used).
inline constexpr std::array<std::int64_t, 16> kCodeDurations = {
    0,        5 * 60,   10 * 60,  15 * 60,  30 * 60,   45 * 60,   3600, 2 * 3600,
    3 * 3600, 4 * 3600, 6 * 3600, 8 * 3600, 12 * 3600, 24 * 3600, 0,    0};

// The index of `d` in kCodeDurations; InvalidArgument (naming the choices)
// for any other duration.
Result<int> duration_index(Seconds d);

// `value`'s low 5*chars bits as `chars` base32 characters, grouped by four
// with '-' when `grouped`.
std::string encode_base32(std::uint64_t value, int chars, bool grouped = true);
// Exactly `chars` characters of the alphabet (after dropping '-' and
// spaces, folding case and look-alikes). InvalidArgument otherwise.
Result<std::uint64_t> decode_base32(std::string_view text, int chars);

using HostKey = std::array<std::uint8_t, 32>;

// HKDF-SHA256 (RFC 5869): salt "hoist admin codes v1", info = host id,
// 0x00, key generation (big-endian u32). A new generation (rotation,
// re-enrolment) gives an unrelated key.
Result<HostKey> derive_host_key(std::span<const std::uint8_t> master_key, std::string_view host_id,
                                std::uint32_t generation);

// A short public tag of the host id (the first byte of its SHA-256), so
// the help desk sees a mistyped host before reading back a response.
std::uint8_t host_tag(std::string_view host_id);

struct Challenge {
  std::uint8_t host_tag = 0;
  std::uint32_t nonce = 0;  // 30 bits, fresh per challenge
  friend bool operator==(const Challenge&, const Challenge&) = default;
};
std::string format_challenge(const Challenge& c);
Result<Challenge> parse_challenge(std::string_view text);

// What a code grants: a user, a duration, and optionally one command (its
// absolute path); no command = a temporary admin session.
struct CodeTerms {
  std::string user;
  Seconds duration{0};
  std::string command;
  friend bool operator==(const CodeTerms&, const CodeTerms&) = default;
};

// The help desk's side: the response for `challenge` on the host with
// `key`. InvalidArgument for a duration that is not in kCodeDurations, an
// empty user, or a command that is not absolute.
Result<std::string> compute_response(const HostKey& key, const Challenge& challenge, const CodeTerms& terms);

// The endpoint's side: the response read back for `challenge`, for `user`
// and, when the code is entered at a sudo prompt, the `command` being run
// ("" for a session). Returns the terms the code grants (its duration, and
// the command when it is scoped to one); PermissionDenied "the code does
// not fit" for anything else.
Result<CodeTerms> verify_response(const HostKey& key, const Challenge& challenge, std::string_view user,
                                  std::string_view command, std::string_view response);

// Pre-issued codes: valid on days [first_day, first_day + days) (days
// since 1970-01-01, UTC), once (the endpoint records `id`).
struct PreIssued {
  std::uint32_t id = 0;  // 24 bits, unique per host
  std::uint32_t first_day = 0;
  std::uint32_t days = 1;  // 1..31
  friend bool operator==(const PreIssued&, const PreIssued&) = default;
};
// first_day is stored relative to 2024-01-01 in 16 bits (until 2203).
inline constexpr std::uint32_t kPreIssuedEpochDay = 19723;  // 2024-01-01

Result<std::string> issue_preissued(const HostKey& key, const PreIssued& p, const CodeTerms& terms);
struct VerifiedPreIssued {
  PreIssued code;
  CodeTerms terms;
};
// `today` in days since 1970-01-01 (UTC). PermissionDenied "the code does
// not fit" for a wrong host, user or command; FailedPrecondition-like
// PermissionDenied naming the window for a code outside its days (the MAC
// matched, so the window is no secret to the holder).
Result<VerifiedPreIssued> verify_preissued(const HostKey& key, std::string_view user, std::string_view command,
                                           std::uint32_t today, std::string_view code);

// A challenge (8), response (12) or pre-issued code (20), by its length
// after normalising: what the user typed.
enum class CodeKind { kChallenge, kResponse, kPreIssued };
Result<CodeKind> kind_of(std::string_view text);

// Whether a verification failed because the code does not fit (a wrong
// guess, which the rate limit counts), rather than a typing slip the
// parser caught or a pre-issued code outside its days.
bool does_not_fit(const Error& e);

// The endpoint's rate limit on wrong codes, per user: kFreeAttempts
// tries at once, then each further try waits 2, 4, 8 ... seconds after the
// last wrong one, at most kMaxBackoff (one try a minute).
inline constexpr std::uint32_t kFreeAttempts = 3;
inline constexpr Seconds kMaxBackoff{60};
Seconds code_backoff(std::uint32_t failures);

// How long a challenge can be answered.
inline constexpr Seconds kChallengeLifetime{3600};

}  // namespace hoist::codes
