// Helpers for the TLS tests (tests/net/tls, tests/server/tls): a temporary
// directory, file facts, and an OpenSSL-only certificate maker and
// fingerprint that share no code with the modules under test, so the tests
// check them against an independent oracle.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/duration.h"
#include "net/tls/openssl_handles.h"
#include "support/temp_dir.h"

namespace hoist::tls::testing {

// 2026-03-01T12:00:00Z: certificates are dated from the `now` passed in, so
// a fixed instant keeps the tests independent of the machine's clock.
inline constexpr TimePoint kNow =
    TimePoint{std::chrono::sys_days{std::chrono::year{2026} / 3 / 1}} + std::chrono::hours{12};

inline std::time_t to_time_t(TimePoint t) {
  return static_cast<std::time_t>(t.time_since_epoch().count());
}

using TempDir = hoist::testing::PrivateDir;

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Replaces the file (new inode) with `content` and exactly `mode`.
inline void write_text(const std::string& path, const std::string& content, mode_t mode) {
  std::filesystem::remove(path);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
  }
  ::chmod(path.c_str(), mode);
}

inline struct stat stat_of(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) st.st_mode = 0;
  return st;
}

inline mode_t mode_of(const std::string& path) {
  return stat_of(path).st_mode & 07777;
}

inline std::vector<std::string> entries_of(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

inline std::vector<X509Ptr> load_certs(const std::string& path) {
  std::vector<X509Ptr> out;
  const BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return out;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(cert);
  return out;
}

inline X509Ptr load_cert(const std::string& path) {
  auto certs = load_certs(path);
  return certs.empty() ? nullptr : std::move(certs.front());
}

inline PkeyPtr load_key(const std::string& path) {
  const BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return nullptr;
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

inline std::string pem_of(const X509* cert) {
  const BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return bio_contents(bio.get());
}

inline std::string pem_of(const EVP_PKEY* key) {
  const BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return bio_contents(bio.get());
}

// SHA-256 over i2d_X509, formatted by hand: the oracle for fingerprints.
inline std::string independent_fingerprint(const X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  EVP_Digest(der, static_cast<std::size_t>(len), md.data(), &md_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  std::string out;
  for (unsigned i = 0; i < md_len; ++i) {
    std::array<char, 4> pair{};
    std::snprintf(pair.data(), pair.size(), "%02X", md[i]);
    if (i != 0) out += ':';
    out += pair.data();
  }
  return out;
}

inline PkeyPtr make_key() {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

struct TestCert {
  PkeyPtr key;
  X509Ptr cert;
};

inline PkeyPtr make_rsa_key(unsigned bits = 2048) {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
}

// A certificate for `key`, made with OpenSSL alone. Self-signed when
// issuer is null. A CA when is_ca; otherwise a server certificate for
// `name`, or for `san` (OpenSSL config syntax) when given.
inline TestCert make_cert_with_key(PkeyPtr key, const std::string& name, TimePoint not_before, TimePoint not_after,
                                   bool is_ca, const TestCert* issuer = nullptr, const std::string& san_text = "") {
  TestCert out{std::move(key), X509Ptr(X509_new())};
  X509* cert = out.cert.get();
  X509_set_version(cert, X509_VERSION_3);
  static long serial = 1000;
  ASN1_INTEGER_set(X509_get_serialNumber(cert), ++serial);
  X509_NAME* subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer->cert.get()) : subject);
  ASN1_TIME_set(X509_getm_notBefore(cert), to_time_t(not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert), to_time_t(not_after));
  X509_set_pubkey(cert, out.key.get());
  X509V3_CTX ctx{};
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer->cert.get() : cert, cert, nullptr, nullptr, 0);
  const std::string san = san_text.empty() ? "DNS:" + name : san_text;
  const std::vector<std::pair<int, std::string>> exts =
      is_ca ? std::vector<std::pair<int, std::string>>{{NID_basic_constraints, "critical,CA:TRUE"},
                                                       {NID_key_usage, "critical,keyCertSign,cRLSign"},
                                                       {NID_subject_key_identifier, "hash"}}
            : std::vector<std::pair<int, std::string>>{
                  {NID_basic_constraints, "CA:FALSE"}, {NID_ext_key_usage, "serverAuth"}, {NID_subject_alt_name, san}};
  for (const auto& [nid, value] : exts) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert, issuer != nullptr ? issuer->key.get() : out.key.get(), EVP_sha256());
  return out;
}

// The same for a fresh P-256 key.
inline TestCert make_cert(const std::string& name, TimePoint not_before, TimePoint not_after, bool is_ca,
                          const TestCert* issuer = nullptr, const std::string& san_text = "") {
  return make_cert_with_key(make_key(), name, not_before, not_after, is_ca, issuer, san_text);
}

// X509_V_OK when `leaf` (with `untrusted` intermediates) verifies against
// `ca` at `when` for a TLS server named `host` (a DNS name, or an IP address
// when is_ip); the verification error code otherwise.
inline int verify_server(X509* leaf, X509* ca, TimePoint when, const std::string& host, bool is_ip) {
  const X509StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca);
  const X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, to_time_t(when));
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  if (is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  }
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  const int err = X509_STORE_CTX_get_error(ctx.get());
  return err == X509_V_OK ? X509_V_ERR_UNSPECIFIED : err;
}

// The certificate's validity as time_t pair.
inline std::pair<std::time_t, std::time_t> validity_of(const X509* cert) {
  std::tm before{};
  std::tm after{};
  ASN1_TIME_to_tm(X509_get0_notBefore(cert), &before);
  ASN1_TIME_to_tm(X509_get0_notAfter(cert), &after);
  return {timegm(&before), timegm(&after)};
}

inline std::string common_name_of(const X509* cert) {
  std::array<char, 256> buf{};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf.data(), buf.size());
  return buf.data();
}

}  // namespace hoist::tls::testing
