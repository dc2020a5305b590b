#include "core/admin_code.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "core/sha256.h"

namespace hoist::codes {

namespace {

constexpr std::uint64_t kChallengeVersion = 1;
constexpr std::uint64_t kPreIssuedVersion = 1;
constexpr int kChallengeChars = 8;
constexpr int kResponseChars = 12;
constexpr int kPreIssuedChars = 20;
constexpr int kResponseMacBits = 55;
constexpr int kPreIssuedMacBits = 48;

constexpr std::string_view kResponseSuite = "HOIST-OCRA-1:HMAC-SHA256-55:QA08-U-D-S";
constexpr std::string_view kPreIssuedSuite = "HOIST-PRE-1:HMAC-SHA256-48:N-U-W-D-S";

constexpr std::string_view kDoesNotFit = "the code does not fit";

Error does_not_fit() {
  return permission_denied(std::string(kDoesNotFit) + ": check it with the help desk (host, user, and each character)");
}

// Bits, most significant first, for codes longer than 64 bits.
class Bits {
 public:
  void put(std::uint64_t value, int count) {
    for (int i = count - 1; i >= 0; --i) bits_.push_back(((value >> i) & 1U) != 0);
  }
  std::uint64_t take(int count) {
    std::uint64_t v = 0;
    for (int i = 0; i < count; ++i) v = (v << 1) | (bits_.at(pos_++) ? 1U : 0U);
    return v;
  }
  [[nodiscard]] std::size_t size() const { return bits_.size(); }
  [[nodiscard]] bool at(std::size_t i) const { return bits_.at(i); }

 private:
  std::vector<bool> bits_;
  std::size_t pos_ = 0;
};

std::string encode_bits(const Bits& bits, bool grouped) {
  std::string out;
  const std::size_t chars = bits.size() / 5;
  for (std::size_t c = 0; c < chars; ++c) {
    if (grouped && c > 0 && c % 4 == 0) out.push_back('-');
    unsigned v = 0;
    for (std::size_t b = 0; b < 5; ++b) v = (v << 1) | (bits.at(c * 5 + b) ? 1U : 0U);
    out.push_back(kAlphabet[v]);
  }
  return out;
}

// The typed text as alphabet indexes: '-' and blanks dropped, case and
// look-alikes folded. InvalidArgument for any other character.
Result<std::vector<unsigned>> normalise(std::string_view text) {
  std::vector<unsigned> out;
  for (const char raw : text) {
    if (raw == '-' || raw == ' ' || raw == '\t') continue;
    char c = raw;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c == 'O') c = '0';
    if (c == 'I' || c == 'L') c = '1';
    const auto at = kAlphabet.find(c);
    if (at == std::string_view::npos) {
      return invalid_argument(fmt::format(
          "a code has only digits and letters other than I, L, O and U (and dashes); \"{}\" is not one of them",
          static_cast<unsigned char>(raw) < 0x20 || static_cast<unsigned char>(raw) >= 0x7f ? std::string("?")
                                                                                            : std::string(1, raw)));
    }
    if (out.size() == 64) return invalid_argument("a code is at most 20 characters long");
    out.push_back(static_cast<unsigned>(at));
  }
  return out;
}

Result<Bits> decode_bits(std::string_view text, int chars) {
  auto symbols = normalise(text);
  if (!symbols) return symbols.error();
  if (static_cast<int>(symbols->size()) != chars) {
    return invalid_argument(fmt::format("expected {} characters, got {}", chars, symbols->size()));
  }
  Bits bits;
  for (const unsigned s : *symbols) bits.put(s, 5);
  return bits;
}

void put_u16_text(std::string& out, std::string_view text) {
  const auto n = static_cast<std::uint16_t>(std::min<std::size_t>(text.size(), 0xffff));
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n & 0xff));
  out.append(text.substr(0, n));
}

void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// The first `bits` bits of HMAC-SHA256(key, message).
Result<std::uint64_t> mac_bits(const HostKey& key, const std::string& message, int bits) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &len) == nullptr ||
      len < 8) {
    return internal_error("HMAC-SHA256 failed (OpenSSL)");
  }
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | out[i];
  return v >> (64 - bits);
}

bool same_mac(std::uint64_t a, std::uint64_t b) {
  return CRYPTO_memcmp(&a, &b, sizeof a) == 0;
}

Status check_terms(const CodeTerms& t) {
  if (t.user.empty() || t.user.size() > 256) return invalid_argument("a code needs the user's name (1-256 bytes)");
  if (!t.command.empty() && (t.command.front() != '/' || t.command.size() > 4096)) {
    return invalid_argument("a code's command must be an absolute path");
  }
  return {};
}

std::string response_message(const Challenge& c, std::string_view user, int duration, bool scoped,
                             std::string_view command) {
  std::string m(kResponseSuite);
  m.push_back('\0');
  put_be(m, kChallengeVersion, 1);
  put_be(m, c.host_tag, 1);
  put_be(m, c.nonce, 4);
  put_u16_text(m, user);
  put_be(m, static_cast<std::uint64_t>(duration), 1);
  put_be(m, scoped ? 1 : 0, 1);
  put_u16_text(m, scoped ? command : std::string_view());
  return m;
}

std::string preissued_message(const PreIssued& p, std::string_view user, int duration, bool scoped,
                              std::string_view command) {
  std::string m(kPreIssuedSuite);
  m.push_back('\0');
  put_be(m, kPreIssuedVersion, 1);
  put_be(m, p.id, 4);
  put_be(m, p.first_day, 4);
  put_be(m, p.days, 1);
  put_u16_text(m, user);
  put_be(m, static_cast<std::uint64_t>(duration), 1);
  put_be(m, scoped ? 1 : 0, 1);
  put_u16_text(m, scoped ? command : std::string_view());
  return m;
}

}  // namespace

Result<int> duration_index(Seconds d) {
  for (std::size_t i = 1; i < kCodeDurations.size(); ++i) {
    if (kCodeDurations[i] != 0 && kCodeDurations[i] == d.count()) return static_cast<int>(i);
  }
  return invalid_argument("a code grants 5m, 10m, 15m, 30m, 45m, 1h, 2h, 3h, 4h, 6h, 8h, 12h or 24h; " +
                          format_duration(d) + " is not one of them");
}

std::string encode_base32(std::uint64_t value, int chars, bool grouped) {
  Bits bits;
  bits.put(value, 5 * chars);
  return encode_bits(bits, grouped);
}

Result<std::uint64_t> decode_base32(std::string_view text, int chars) {
  if (chars < 1 || chars > 12) return invalid_argument("at most 12 characters fit in 64 bits");
  auto bits = decode_bits(text, chars);
  if (!bits) return bits.error();
  return bits->take(5 * chars);
}

Result<HostKey> derive_host_key(std::span<const std::uint8_t> master_key, std::string_view host_id,
                                std::uint32_t generation) {
  if (master_key.size() < 32) return invalid_argument("the master key must be at least 32 bytes");
  if (host_id.empty()) return invalid_argument("a host key needs the host id");
  std::string info(host_id);
  info.push_back('\0');
  put_be(info, generation, 4);
  static constexpr char kSalt[] = "hoist admin codes v1";
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return internal_error("HKDF is not available (OpenSSL)");
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) return internal_error("HKDF failed (OpenSSL)");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(master_key.data()),
                                        master_key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(kSalt), sizeof kSalt - 1),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end(),
  };
  HostKey out{};
  const int ok = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  if (ok != 1) return internal_error("HKDF failed (OpenSSL)");
  return out;
}

std::uint8_t host_tag(std::string_view host_id) {
  return sha256(host_id).bytes[0];
}

std::string format_challenge(const Challenge& c) {
  Bits bits;
  bits.put(kChallengeVersion, 2);
  bits.put(c.host_tag, 8);
  bits.put(c.nonce & ((1U << 30) - 1), 30);
  return encode_bits(bits, true);
}

Result<Challenge> parse_challenge(std::string_view text) {
  auto bits = decode_bits(text, kChallengeChars);
  if (!bits) return invalid_argument("a challenge is 8 characters, like 7KQ2-M9XA: " + bits.error().message);
  if (bits->take(2) != kChallengeVersion) return invalid_argument("this challenge is from another version of Hoist");
  Challenge c;
  c.host_tag = static_cast<std::uint8_t>(bits->take(8));
  c.nonce = static_cast<std::uint32_t>(bits->take(30));
  return c;
}

Result<std::string> compute_response(const HostKey& key, const Challenge& challenge, const CodeTerms& terms) {
  if (auto st = check_terms(terms); !st) return st.error();
  auto index = duration_index(terms.duration);
  if (!index) return index.error();
  const bool scoped = !terms.command.empty();
  auto mac = mac_bits(key, response_message(challenge, terms.user, *index, scoped, terms.command), kResponseMacBits);
  if (!mac) return mac.error();
  Bits bits;
  bits.put(static_cast<std::uint64_t>(*index), 4);
  bits.put(scoped ? 1 : 0, 1);
  bits.put(*mac, kResponseMacBits);
  return encode_bits(bits, true);
}

Result<CodeTerms> verify_response(const HostKey& key, const Challenge& challenge, std::string_view user,
                                  std::string_view command, std::string_view response) {
  auto bits = decode_bits(response, kResponseChars);
  if (!bits) return invalid_argument("a response is 12 characters: " + bits.error().message);
  const int index = static_cast<int>(bits->take(4));
  const bool scoped = bits->take(1) != 0;
  const std::uint64_t given = bits->take(kResponseMacBits);
  if (index == 0 || kCodeDurations[static_cast<std::size_t>(index)] == 0) return does_not_fit();
  // A session code also works at a sudo prompt; a command code only there,
  // for that command.
  if (scoped && command.empty()) return does_not_fit();
  auto mac = mac_bits(key, response_message(challenge, user, index, scoped, command), kResponseMacBits);
  if (!mac) return mac.error();
  if (!same_mac(*mac, given)) return does_not_fit();
  return CodeTerms{std::string(user), Seconds{kCodeDurations[static_cast<std::size_t>(index)]},
                   scoped ? std::string(command) : std::string()};
}

Result<std::string> issue_preissued(const HostKey& key, const PreIssued& p, const CodeTerms& terms) {
  if (auto st = check_terms(terms); !st) return st.error();
  auto index = duration_index(terms.duration);
  if (!index) return index.error();
  if (p.id >= (1U << 24)) return invalid_argument("a pre-issued code's id is 24 bits");
  if (p.days < 1 || p.days > 31) return invalid_argument("a pre-issued code is valid for 1 to 31 days");
  if (p.first_day < kPreIssuedEpochDay || p.first_day - kPreIssuedEpochDay >= (1U << 16)) {
    return invalid_argument("a pre-issued code's first day must be from 2024-01-01 on");
  }
  const bool scoped = !terms.command.empty();
  auto mac = mac_bits(key, preissued_message(p, terms.user, *index, scoped, terms.command), kPreIssuedMacBits);
  if (!mac) return mac.error();
  Bits bits;
  bits.put(kPreIssuedVersion, 2);
  bits.put(p.id, 24);
  bits.put(p.first_day - kPreIssuedEpochDay, 16);
  bits.put(p.days - 1, 5);
  bits.put(static_cast<std::uint64_t>(*index), 4);
  bits.put(scoped ? 1 : 0, 1);
  bits.put(*mac, kPreIssuedMacBits);
  return encode_bits(bits, true);
}

Result<VerifiedPreIssued> verify_preissued(const HostKey& key, std::string_view user, std::string_view command,
                                           std::uint32_t today, std::string_view code) {
  auto bits = decode_bits(code, kPreIssuedChars);
  if (!bits) return invalid_argument("a pre-issued code is 20 characters: " + bits.error().message);
  if (bits->take(2) != kPreIssuedVersion) return invalid_argument("this code is from another version of Hoist");
  PreIssued p;
  p.id = static_cast<std::uint32_t>(bits->take(24));
  p.first_day = static_cast<std::uint32_t>(bits->take(16)) + kPreIssuedEpochDay;
  p.days = static_cast<std::uint32_t>(bits->take(5)) + 1;
  const int index = static_cast<int>(bits->take(4));
  const bool scoped = bits->take(1) != 0;
  const std::uint64_t given = bits->take(kPreIssuedMacBits);
  if (index == 0 || kCodeDurations[static_cast<std::size_t>(index)] == 0) return does_not_fit();
  if (scoped && command.empty()) return does_not_fit();
  auto mac = mac_bits(key, preissued_message(p, user, index, scoped, command), kPreIssuedMacBits);
  if (!mac) return mac.error();
  if (!same_mac(*mac, given)) return does_not_fit();
  if (today < p.first_day || today >= p.first_day + p.days) {
    return permission_denied(
        fmt::format("this code is valid on {} day(s) from day {} (days since 1970), not today", p.days, p.first_day));
  }
  return VerifiedPreIssued{p, CodeTerms{std::string(user), Seconds{kCodeDurations[static_cast<std::size_t>(index)]},
                                        scoped ? std::string(command) : std::string()}};
}

Result<CodeKind> kind_of(std::string_view text) {
  auto symbols = normalise(text);
  if (!symbols) return symbols.error();
  switch (symbols->size()) {
    case kChallengeChars: return CodeKind::kChallenge;
    case kResponseChars: return CodeKind::kResponse;
    case kPreIssuedChars: return CodeKind::kPreIssued;
    default:
      return invalid_argument(
          fmt::format("{} characters: a response from the help desk has 12, a pre-issued code 20", symbols->size()));
  }
}

bool does_not_fit(const Error& e) {
  return e.code == ErrorCode::kPermissionDenied && std::string_view(e.message).starts_with(kDoesNotFit);
}

Seconds code_backoff(std::uint32_t failures) {
  if (failures < kFreeAttempts) return Seconds{0};
  const std::uint32_t doublings = failures - kFreeAttempts + 1;
  if (doublings >= 6) return kMaxBackoff;  // 2^6 = 64 > 60
  return std::min(kMaxBackoff, Seconds{std::int64_t{1} << doublings});
}

}  // namespace hoist::codes
