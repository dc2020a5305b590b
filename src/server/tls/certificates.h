// P-256 keys and X.509 certificates for hoistd's own CA: issuing them,
// writing PEM, and the checks that decide whether a stored certificate can
// still be used. Reading PEM is shared with the clients (net/tls/pem.h).
//
// MUST: serial numbers are 128 bits from RAND_bytes. MUST: the CA is
// restricted to signing certificates (keyCertSign, cRLSign, pathlen 0) and
// the server certificate to TLS server use (serverAuth, digitalSignature,
// CA:FALSE). MUST: private key PEM text lives in SecretString, which wipes
// it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/duration.h"
#include "core/result.h"
#include "net/tls/openssl_handles.h"

namespace hoist::tls {

// Text holding private key material, wiped with OPENSSL_cleanse when it is
// destroyed or moved from.
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string text) : text_(std::move(text)) {}
  ~SecretString() { wipe(); }
  SecretString(SecretString&& other) noexcept : text_(std::move(other.text_)) { other.wipe(); }
  SecretString& operator=(SecretString&& other) noexcept {
    if (this != &other) {
      wipe();
      text_ = std::move(other.text_);
      other.wipe();
    }
    return *this;
  }
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;

  [[nodiscard]] const std::string& str() const { return text_; }

 private:
  void wipe();
  std::string text_;
};

struct IpAddress {
  std::string text;                 // canonical (inet_ntop) form
  std::vector<std::uint8_t> bytes;  // 4 or 16 octets, as in a SAN
};

// The names a server certificate must cover.
struct SubjectNames {
  std::vector<std::string> dns;  // lowercase, no duplicates; the caller's first, then "localhost"
  std::vector<IpAddress> ips;    // the caller's, then 127.0.0.1 and ::1
};

// Validates and completes the requested names. InvalidArgument, naming the
// offending entry, for a DNS name that is not letters, digits, '-' and '.'
// in labels of 1-63 characters (wildcards are refused) or an IP address
// inet_pton does not accept.
Result<SubjectNames> make_subject_names(const std::vector<std::string>& dns_names,
                                        const std::vector<std::string>& ip_addresses);

// A fresh ECDSA P-256 key. Internal on OpenSSL failure.
Result<PkeyPtr> generate_p256_key();

// A self-signed CA certificate for `key`: subject CN "Hoist CA <name>
// <8 random hex digits>", valid from now-1h for 10 years. Internal on
// OpenSSL failure.
Result<X509Ptr> issue_ca_certificate(EVP_PKEY* key, std::string_view name, TimePoint now);

// A server certificate for `server_key` covering `names`, signed by the CA,
// valid from now-1h for 397 days but never past the CA's own notAfter.
// Internal on OpenSSL failure.
Result<X509Ptr> issue_server_certificate(EVP_PKEY* server_key, X509* ca_cert, EVP_PKEY* ca_key,
                                         const SubjectNames& names, TimePoint now);

Result<std::string> certificate_to_pem(const X509* cert);
// Unencrypted PKCS#8 ("BEGIN PRIVATE KEY").
Result<SecretString> private_key_to_pem(const EVP_PKEY* key);

// Whether the certificate's public key belongs to `key`.
bool key_matches_certificate(const X509* cert, const EVP_PKEY* key);
// Whether `cert`'s signature verifies with `issuer_key`.
bool signed_by(X509* cert, EVP_PKEY* issuer_key);

// The certificate's validity period. InvalidArgument if it cannot be read.
Result<std::pair<TimePoint, TimePoint>> validity_of(const X509* cert, std::string_view source);

// The first requested name the certificate's SAN does not cover (subject CN
// and wildcards are not considered), or "" when it covers them all.
std::string first_uncovered_name(X509* cert, const SubjectNames& names);

}  // namespace hoist::tls
