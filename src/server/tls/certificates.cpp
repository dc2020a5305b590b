#include "server/tls/certificates.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>

namespace hoist::tls {

namespace {

using std::chrono::days;
using std::chrono::hours;

constexpr auto kBackdate = hours{1};
constexpr auto kServerValidity = days{397};
constexpr int kCaValidityYears = 10;
constexpr std::size_t kMaxCommonName = 64;  // ub-common-name (RFC 5280)
constexpr std::size_t kMaxDnsName = 253;
constexpr std::size_t kMaxDnsLabel = 63;
constexpr std::size_t kSerialBytes = 16;

bool valid_dns_label(std::string_view label) {
  if (label.empty() || label.size() > kMaxDnsLabel) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

bool valid_dns_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxDnsName) return false;
  for (std::size_t start = 0;;) {
    const std::size_t dot = name.find('.', start);
    if (!valid_dns_label(name.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Result<IpAddress> parse_ip(const std::string& text) {
  IpAddress ip;
  std::array<char, INET6_ADDRSTRLEN> canonical{};
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v4);
    ip.bytes.assign(p, p + sizeof v4);
    inet_ntop(AF_INET, &v4, canonical.data(), canonical.size());
  } else if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v6);
    ip.bytes.assign(p, p + sizeof v6);
    inet_ntop(AF_INET6, &v6, canonical.data(), canonical.size());
  } else {
    return invalid_argument(fmt::format("\"{}\" is not an IPv4 or IPv6 address", text));
  }
  ip.text = canonical.data();
  return ip;
}

std::time_t to_time_t(TimePoint t) {
  return static_cast<std::time_t>(t.time_since_epoch().count());
}

TimePoint add_years(TimePoint t, int years) {
  const auto day = std::chrono::floor<days>(t);
  auto ymd = std::chrono::year_month_day{day} + std::chrono::years{years};
  if (!ymd.ok()) ymd = ymd.year() / ymd.month() / std::chrono::last;  // 29 February
  return TimePoint{std::chrono::sys_days{ymd} + (t - day)};
}

Result<TimePoint> asn1_time_point(const ASN1_TIME* time, std::string_view source, std::string_view which) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    return openssl_error(ErrorCode::kInvalidArgument, fmt::format("{}: unreadable {} time", source, which));
  }
  const std::chrono::year_month_day ymd{std::chrono::year{tm.tm_year + 1900},
                                        std::chrono::month{static_cast<unsigned>(tm.tm_mon + 1)},
                                        std::chrono::day{static_cast<unsigned>(tm.tm_mday)}};
  if (!ymd.ok()) return invalid_argument(fmt::format("{}: invalid {} date", source, which));
  return TimePoint{std::chrono::sys_days{ymd} + hours{tm.tm_hour} + std::chrono::minutes{tm.tm_min} +
                   std::chrono::seconds{tm.tm_sec}};
}

Result<std::string> random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    return openssl_error(ErrorCode::kInternal, "cannot get random bytes");
  }
  std::string out;
  for (const unsigned char b : raw) out += fmt::format("{:02x}", b);
  return out;
}

Result<X509NamePtr> common_name(std::string_view cn) {
  X509NamePtr name(X509_NAME_new());
  if (!name) return openssl_error(ErrorCode::kInternal, "cannot allocate an X.509 name");
  cn = cn.substr(0, kMaxCommonName);
  if (X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.data()), static_cast<int>(cn.size()), -1,
                                 0) != 1) {
    return openssl_error(ErrorCode::kInternal, fmt::format("cannot set the common name \"{}\"", cn));
  }
  return name;
}

Status set_random_serial(X509* cert) {
  std::array<unsigned char, kSerialBytes> raw{};
  if (RAND_bytes(raw.data(), raw.size()) != 1) return openssl_error(ErrorCode::kInternal, "cannot get random bytes");
  // Positive and exactly 16 octets long once DER-encoded.
  raw[0] = static_cast<unsigned char>((raw[0] & 0x7f) | 0x40);
  const BignumPtr bn(BN_bin2bn(raw.data(), raw.size(), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return openssl_error(ErrorCode::kInternal, "cannot set a certificate serial number");
  }
  return {};
}

// The parts every certificate shares: v3, random serial, names, validity,
// public key.
Result<X509Ptr> new_certificate(EVP_PKEY* subject_key, const X509_NAME* subject, const X509_NAME* issuer,
                                TimePoint not_before, TimePoint not_after) {
  X509Ptr cert(X509_new());
  if (!cert) return openssl_error(ErrorCode::kInternal, "cannot allocate a certificate");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return openssl_error(ErrorCode::kInternal, "cannot set the certificate version");
  }
  if (auto s = set_random_serial(cert.get()); !s) return s.error();
  if (X509_set_subject_name(cert.get(), subject) != 1 || X509_set_issuer_name(cert.get(), issuer) != 1) {
    return openssl_error(ErrorCode::kInternal, "cannot set the certificate's names");
  }
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), to_time_t(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), to_time_t(not_after)) == nullptr) {
    return openssl_error(ErrorCode::kInternal, "cannot set the certificate's validity");
  }
  if (X509_set_pubkey(cert.get(), subject_key) != 1) {
    return openssl_error(ErrorCode::kInternal, "cannot set the certificate's public key");
  }
  return cert;
}

Status add_extension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  const X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return openssl_error(ErrorCode::kInternal, fmt::format("cannot add the extension {} = {}", OBJ_nid2sn(nid), value));
  }
  return {};
}

Status add_extensions(X509* cert, X509V3_CTX* ctx, std::initializer_list<std::pair<int, const char*>> extensions) {
  for (const auto& [nid, value] : extensions) {
    if (auto s = add_extension(cert, ctx, nid, value); !s) return s;
  }
  return {};
}

Status add_subject_alt_names(X509* cert, const SubjectNames& names) {
  const GeneralNamesPtr gens(sk_GENERAL_NAME_new_null());
  if (!gens) return openssl_error(ErrorCode::kInternal, "cannot allocate subjectAltName");
  const auto push = [&](int type, ASN1_STRING* value) -> Status {
    GeneralNamePtr gen(GENERAL_NAME_new());
    if (!gen) {
      ASN1_STRING_free(value);
      return openssl_error(ErrorCode::kInternal, "cannot allocate a subjectAltName entry");
    }
    GENERAL_NAME_set0_value(gen.get(), type, value);
    if (sk_GENERAL_NAME_push(gens.get(), gen.get()) <= 0) {
      return openssl_error(ErrorCode::kInternal, "cannot add a subjectAltName entry");
    }
    static_cast<void>(gen.release());  // owned by gens now
    return {};
  };
  for (const std::string& dns : names.dns) {
    Asn1Ia5StringPtr value(ASN1_IA5STRING_new());
    if (!value || ASN1_STRING_set(value.get(), dns.data(), static_cast<int>(dns.size())) != 1) {
      return openssl_error(ErrorCode::kInternal, "cannot encode a DNS name");
    }
    if (auto s = push(GEN_DNS, value.release()); !s) return s;
  }
  for (const IpAddress& ip : names.ips) {
    Asn1OctetStringPtr value(ASN1_OCTET_STRING_new());
    if (!value || ASN1_OCTET_STRING_set(value.get(), ip.bytes.data(), static_cast<int>(ip.bytes.size())) != 1) {
      return openssl_error(ErrorCode::kInternal, "cannot encode an IP address");
    }
    if (auto s = push(GEN_IPADD, value.release()); !s) return s;
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, gens.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return openssl_error(ErrorCode::kInternal, "cannot add subjectAltName");
  }
  return {};
}

Status sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) return openssl_error(ErrorCode::kInternal, "cannot sign a certificate");
  return {};
}

}  // namespace

void SecretString::wipe() {
  if (!text_.empty()) OPENSSL_cleanse(text_.data(), text_.size());
  text_.clear();
}

Result<SubjectNames> make_subject_names(const std::vector<std::string>& dns_names,
                                        const std::vector<std::string>& ip_addresses) {
  SubjectNames names;
  const auto add_dns = [&](const std::string& name) {
    if (std::find(names.dns.begin(), names.dns.end(), name) == names.dns.end()) names.dns.push_back(name);
  };
  const auto add_ip = [&](IpAddress ip) {
    const bool seen = std::any_of(names.ips.begin(), names.ips.end(),
                                  [&](const IpAddress& other) { return other.bytes == ip.bytes; });
    if (!seen) names.ips.push_back(std::move(ip));
  };
  for (const std::string& requested : dns_names) {
    std::string name = lowercase(requested);
    if (!valid_dns_name(name)) {
      return invalid_argument(
          fmt::format("\"{}\" is not a DNS name hoistd can put in its certificate: use letters, digits, '-' and '.' "
                      "(no wildcards)",
                      requested));
    }
    add_dns(name);
  }
  add_dns("localhost");
  for (const std::string& requested : ip_addresses) {
    auto ip = parse_ip(requested);
    if (!ip) return ip.error();
    add_ip(std::move(*ip));
  }
  for (const char* loopback : {"127.0.0.1", "::1"}) {
    auto ip = parse_ip(loopback);
    if (!ip) return internal_error("cannot parse a loopback address (this is a bug)");
    add_ip(std::move(*ip));
  }
  return names;
}

Result<PkeyPtr> generate_p256_key() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return openssl_error(ErrorCode::kInternal, "cannot generate a P-256 key");
  return key;
}

Result<X509Ptr> issue_ca_certificate(EVP_PKEY* key, std::string_view name, TimePoint now) {
  auto suffix = random_hex(4);
  if (!suffix) return suffix.error();
  // The name is cut so the random suffix always fits in the 64-character CN.
  constexpr std::string_view kPrefix = "Hoist CA ";
  const std::size_t room = kMaxCommonName - kPrefix.size() - 1 - suffix->size();
  auto subject = common_name(fmt::format("{}{} {}", kPrefix, name.substr(0, room), *suffix));
  if (!subject) return subject.error();
  const TimePoint not_before = now - kBackdate;
  auto cert = new_certificate(key, subject->get(), subject->get(), not_before, add_years(not_before, kCaValidityYears));
  if (!cert) return cert.error();
  X509V3_CTX ctx{};
  X509V3_set_ctx(&ctx, cert->get(), cert->get(), nullptr, nullptr, 0);
  auto added = add_extensions(cert->get(), &ctx,
                              {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                               {NID_key_usage, "critical,keyCertSign,cRLSign"},
                               {NID_subject_key_identifier, "hash"}});
  if (!added) return added.error();
  if (auto s = sign(cert->get(), key); !s) return s.error();
  return cert;
}

Result<X509Ptr> issue_server_certificate(EVP_PKEY* server_key, X509* ca_cert, EVP_PKEY* ca_key,
                                         const SubjectNames& names, TimePoint now) {
  if (names.dns.empty()) return internal_error("a server certificate needs at least one DNS name (this is a bug)");
  auto ca_validity = validity_of(ca_cert, "the CA certificate");
  if (!ca_validity) return ca_validity.error();
  // The CN is for people reading the certificate; clients check the SAN.
  const auto fits = std::find_if(names.dns.begin(), names.dns.end(),
                                 [](const std::string& dns) { return dns.size() <= kMaxCommonName; });
  auto subject = common_name(fits != names.dns.end() ? *fits : std::string("localhost"));
  if (!subject) return subject.error();
  const TimePoint not_before = now - kBackdate;
  const TimePoint not_after = std::min(not_before + kServerValidity, ca_validity->second);
  auto cert = new_certificate(server_key, subject->get(), X509_get_subject_name(ca_cert), not_before, not_after);
  if (!cert) return cert.error();
  X509V3_CTX ctx{};
  X509V3_set_ctx(&ctx, ca_cert, cert->get(), nullptr, nullptr, 0);
  auto added = add_extensions(cert->get(), &ctx,
                              {{NID_basic_constraints, "critical,CA:FALSE"},
                               {NID_key_usage, "critical,digitalSignature"},
                               {NID_ext_key_usage, "serverAuth"},
                               {NID_subject_key_identifier, "hash"},
                               {NID_authority_key_identifier, "keyid:always"}});
  if (!added) return added.error();
  if (auto s = add_subject_alt_names(cert->get(), names); !s) return s.error();
  if (auto s = sign(cert->get(), ca_key); !s) return s.error();
  return cert;
}

Result<std::string> certificate_to_pem(const X509* cert) {
  const BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return openssl_error(ErrorCode::kInternal, "cannot PEM-encode a certificate");
  }
  return bio_contents(bio.get());
}

Result<SecretString> private_key_to_pem(const EVP_PKEY* key) {
  // The secure-memory BIO wipes its buffer when freed.
  const BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return openssl_error(ErrorCode::kInternal, "cannot PEM-encode a private key");
  }
  return SecretString(bio_contents(bio.get()));
}

bool key_matches_certificate(const X509* cert, const EVP_PKEY* key) {
  const bool matches = X509_check_private_key(cert, key) == 1;
  ERR_clear_error();
  return matches;
}

bool signed_by(X509* cert, EVP_PKEY* issuer_key) {
  const bool ok = X509_verify(cert, issuer_key) == 1;
  ERR_clear_error();
  return ok;
}

Result<std::pair<TimePoint, TimePoint>> validity_of(const X509* cert, std::string_view source) {
  auto not_before = asn1_time_point(X509_get0_notBefore(cert), source, "notBefore");
  if (!not_before) return not_before.error();
  auto not_after = asn1_time_point(X509_get0_notAfter(cert), source, "notAfter");
  if (!not_after) return not_after.error();
  return std::pair{*not_before, *not_after};
}

std::string first_uncovered_name(X509* cert, const SubjectNames& names) {
  constexpr unsigned kFlags = X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_WILDCARDS;
  for (const std::string& dns : names.dns) {
    if (X509_check_host(cert, dns.data(), dns.size(), kFlags, nullptr) != 1) return dns;
  }
  for (const IpAddress& ip : names.ips) {
    if (X509_check_ip(cert, ip.bytes.data(), ip.bytes.size(), kFlags) != 1) return ip.text;
  }
  return "";
}

}  // namespace hoist::tls
