// hoistd's own CA: first start, reuse, re-issue, and every way the stored
// files can be wrong. Checked with OpenSSL directly (X509_verify_cert, a real
// TLS handshake) rather than with the module's own helpers.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>

#include "net/tls/fingerprint.h"
#include "platform/unique_fd.h"
#include "server/tls/server_tls.h"
#include "support/tls_test_support.h"

namespace hoist::tls {
namespace {

using namespace hoist::tls::testing;  // NOLINT(google-build-using-namespace)
using std::chrono::days;
using std::chrono::hours;

// Sorted, as entries_of returns them.
std::vector<std::string> all_files() {
  return {"ca.crt", "ca.key", "server-chain.pem", "server.crt", "server.key"};
}

std::string error_of(const Result<ServerTls>& r) {
  return r.ok() ? std::string("(ok)") : r.error().message;
}

class OwnCaTest : public ::testing::Test {
 protected:
  [[nodiscard]] std::string dir() const { return tmp_ / "tls"; }
  [[nodiscard]] std::string file(const std::string& name) const { return dir() + "/" + name; }

  [[nodiscard]] TlsOptions options(TimePoint now = kNow) const {
    TlsOptions o;
    o.dir = dir();
    o.dns_names = {"hoist.example.com"};
    o.ip_addresses = {"10.0.0.5"};
    o.now = now;
    return o;
  }

  // Runs ensure_server_tls and fails the test (returning {}) on error.
  ServerTls start(const TlsOptions& o) {
    auto r = ensure_server_tls(o);
    EXPECT_TRUE(r.ok()) << error_of(r);
    return r.ok() ? *r : ServerTls{};
  }
  ServerTls start() { return start(options()); }

  std::map<std::string, std::string> contents() const {
    std::map<std::string, std::string> out;
    for (const auto& name : all_files()) out[name] = read_text(file(name));
    return out;
  }

  TempDir tmp_;
};

TEST_F(OwnCaTest, FirstStartCreatesAllFilesWithPrivateModes) {
  const ServerTls tls = start();
  EXPECT_TRUE(tls.created_ca);
  EXPECT_TRUE(tls.renewed_server_cert);
  EXPECT_FALSE(tls.renewal_reason.empty());

  EXPECT_TRUE(S_ISDIR(stat_of(dir()).st_mode));
  EXPECT_EQ(mode_of(dir()), 0700);
  EXPECT_EQ(mode_of(file("ca.key")), 0600);
  EXPECT_EQ(mode_of(file("server.key")), 0600);
  EXPECT_EQ(mode_of(file("ca.crt")), 0644);
  EXPECT_EQ(mode_of(file("server.crt")), 0644);
  EXPECT_EQ(mode_of(file("server-chain.pem")), 0644);
  // Nothing else, in particular no temporary files.
  EXPECT_EQ(entries_of(dir()), all_files());

  EXPECT_EQ(tls.cert_chain_pem_path, file("server-chain.pem"));
  EXPECT_EQ(tls.key_path, file("server.key"));
  EXPECT_EQ(tls.ca_cert_path, file("ca.crt"));

  // PEM PKCS#8, P-256.
  for (const char* key_file : {"ca.key", "server.key"}) {
    EXPECT_EQ(read_text(file(key_file)).rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0U) << key_file;
    const PkeyPtr key = load_key(file(key_file));
    ASSERT_NE(key, nullptr) << key_file;
    std::array<char, 64> group{};
    ASSERT_EQ(EVP_PKEY_get_group_name(key.get(), group.data(), group.size(), nullptr), 1);
    EXPECT_STREQ(group.data(), "prime256v1") << key_file;
  }

  const X509Ptr ca = load_cert(file("ca.crt"));
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(tls.pin_fingerprint, independent_fingerprint(ca.get()));
  EXPECT_EQ(normalize_fingerprint(tls.pin_fingerprint), tls.pin_fingerprint);
}

TEST_F(OwnCaTest, ModesDoNotDependOnTheUmask) {
  for (const mode_t mask : {mode_t{0}, mode_t{077}, mode_t{0277}}) {
    std::filesystem::remove_all(dir());
    const mode_t old = ::umask(mask);
    const auto r = ensure_server_tls(options());
    ::umask(old);
    ASSERT_TRUE(r.ok()) << error_of(r);
    EXPECT_EQ(mode_of(dir()), 0700) << mask;
    EXPECT_EQ(mode_of(file("ca.key")), 0600) << mask;
    EXPECT_EQ(mode_of(file("ca.crt")), 0644) << mask;
    EXPECT_EQ(mode_of(file("server-chain.pem")), 0644) << mask;
  }
}

TEST_F(OwnCaTest, SecondStartReusesEverything) {
  const ServerTls first = start();
  const auto before = contents();
  std::map<std::string, ino_t> inodes;
  for (const auto& name : all_files()) inodes[name] = stat_of(file(name)).st_ino;

  const ServerTls second = start(options(kNow + hours{5}));
  EXPECT_FALSE(second.created_ca);
  EXPECT_FALSE(second.renewed_server_cert);
  EXPECT_EQ(second.renewal_reason, "");
  EXPECT_EQ(second.pin_fingerprint, first.pin_fingerprint);
  EXPECT_EQ(second.cert_chain_pem_path, first.cert_chain_pem_path);
  EXPECT_EQ(contents(), before);
  for (const auto& name : all_files()) EXPECT_EQ(stat_of(file(name)).st_ino, inodes[name]) << name << " was rewritten";
}

TEST_F(OwnCaTest, ServerCertVerifiesAgainstTheCaForItsNamesOnly) {
  start();
  const X509Ptr ca = load_cert(file("ca.crt"));
  const X509Ptr leaf = load_cert(file("server.crt"));
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(leaf, nullptr);
  for (const char* host : {"localhost", "hoist.example.com", "HOIST.example.com"}) {
    EXPECT_EQ(verify_server(leaf.get(), ca.get(), kNow, host, false), X509_V_OK) << host;
  }
  for (const char* ip : {"127.0.0.1", "::1", "10.0.0.5"}) {
    EXPECT_EQ(verify_server(leaf.get(), ca.get(), kNow, ip, true), X509_V_OK) << ip;
  }
  EXPECT_EQ(verify_server(leaf.get(), ca.get(), kNow, "other.example.com", false), X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(verify_server(leaf.get(), ca.get(), kNow, "example.com", false), X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(verify_server(leaf.get(), ca.get(), kNow, "10.0.0.6", true), X509_V_ERR_IP_ADDRESS_MISMATCH);
  // Dated from the `now` passed in, backdated one hour for clock skew.
  EXPECT_EQ(verify_server(leaf.get(), ca.get(), kNow - hours{2}, "localhost", false), X509_V_ERR_CERT_NOT_YET_VALID);

  // A different CA does not vouch for it.
  const TestCert other = make_cert("Other CA", kNow - days{1}, kNow + days{100}, true);
  EXPECT_NE(verify_server(leaf.get(), other.cert.get(), kNow, "localhost", false), X509_V_OK);
}

TEST_F(OwnCaTest, ChainFileIsServerCertThenCaCert) {
  start();
  const auto chain = load_certs(file("server-chain.pem"));
  ASSERT_EQ(chain.size(), 2U);
  EXPECT_EQ(independent_fingerprint(chain[0].get()), independent_fingerprint(load_cert(file("server.crt")).get()));
  EXPECT_EQ(independent_fingerprint(chain[1].get()), independent_fingerprint(load_cert(file("ca.crt")).get()));
}

TEST_F(OwnCaTest, WhatIsServedIsTheChainFileAndTheServerKeyAsWritten) {
  // First start (issued now) and second (reused): what hoistd serves and
  // reloads is the text of the files, read once.
  for (int start_no = 0; start_no < 2; ++start_no) {
    const ServerTls tls = start();
    EXPECT_EQ(tls.served_chain_pem, read_text(file("server-chain.pem"))) << start_no;
    ASSERT_NE(tls.key_pem, nullptr);
    EXPECT_EQ(tls.key_pem->str(), read_text(file("server.key"))) << start_no;
    EXPECT_EQ(to_time_t(tls.not_after), validity_of(load_cert(file("server.crt")).get()).second) << start_no;
  }
}

TEST_F(OwnCaTest, CaCertificateIsARestrictedSelfSignedCa) {
  start();
  const X509Ptr ca = load_cert(file("ca.crt"));
  ASSERT_NE(ca, nullptr);

  int crit = -1;
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(ca.get(), NID_basic_constraints, &crit, nullptr));
  ASSERT_NE(bc, nullptr);
  EXPECT_EQ(crit, 1);
  EXPECT_NE(bc->ca, 0);
  ASSERT_NE(bc->pathlen, nullptr);
  EXPECT_EQ(ASN1_INTEGER_get(bc->pathlen), 0);
  BASIC_CONSTRAINTS_free(bc);

  auto* ku = static_cast<ASN1_BIT_STRING*>(X509_get_ext_d2i(ca.get(), NID_key_usage, &crit, nullptr));
  ASSERT_NE(ku, nullptr);
  EXPECT_EQ(crit, 1);
  ASN1_BIT_STRING_free(ku);
  EXPECT_EQ(X509_get_key_usage(ca.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_NE(X509_get0_subject_key_id(ca.get()), nullptr);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_check_issued(ca.get(), ca.get()), X509_V_OK);
  const PkeyPtr ca_key = load_key(file("ca.key"));
  EXPECT_EQ(X509_verify(ca.get(), ca_key.get()), 1);

  const std::string cn = common_name_of(ca.get());
  ASSERT_EQ(cn.size(), std::string("Hoist CA hoist.example.com ").size() + 8) << cn;
  EXPECT_EQ(cn.rfind("Hoist CA hoist.example.com ", 0), 0U) << cn;
  EXPECT_EQ(cn.find_first_not_of("0123456789abcdef", cn.size() - 8), std::string::npos) << cn;

  const auto [not_before, not_after] = validity_of(ca.get());
  EXPECT_EQ(not_before, to_time_t(kNow - hours{1}));
  const auto span = std::chrono::seconds{not_after - not_before};
  EXPECT_GE(span, days{3652});  // ten calendar years
  EXPECT_LE(span, days{3653});

  const BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(ca.get()), nullptr));
  EXPECT_EQ(BN_num_bytes(serial.get()), 16);
  EXPECT_FALSE(BN_is_negative(serial.get()));
}

TEST_F(OwnCaTest, ServerCertificateIsForTlsServersOnly) {
  start();
  const X509Ptr ca = load_cert(file("ca.crt"));
  const X509Ptr leaf = load_cert(file("server.crt"));
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_EQ(X509_get_key_usage(leaf.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(leaf.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  const ASN1_OCTET_STRING* akid = X509_get0_authority_key_id(leaf.get());
  ASSERT_NE(akid, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(akid, X509_get0_subject_key_id(ca.get())), 0);
  EXPECT_EQ(common_name_of(leaf.get()), "hoist.example.com");

  const auto [not_before, not_after] = validity_of(leaf.get());
  EXPECT_EQ(not_before, to_time_t(kNow - hours{1}));
  EXPECT_EQ(std::chrono::seconds{not_after - not_before}, days{397});

  const BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf.get()), nullptr));
  EXPECT_EQ(BN_num_bytes(serial.get()), 16);
  const BignumPtr ca_serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(ca.get()), nullptr));
  EXPECT_NE(BN_cmp(serial.get(), ca_serial.get()), 0);
}

// The files work as they are meant to be used: loaded into an SSL_CTX and
// verified by a client that trusts only the CA and checks the host name.
TEST_F(OwnCaTest, TlsHandshakeWithThePinnedCaSucceeds) {
  const ServerTls tls =
      start(options(TimePoint{std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())}));
  using SslCtxPtr = std::unique_ptr<SSL_CTX, FreeWith<SSL_CTX_free>>;
  using SslPtr = std::unique_ptr<SSL, FreeWith<SSL_free>>;
  const SslCtxPtr server_ctx(SSL_CTX_new(TLS_server_method()));
  ASSERT_EQ(SSL_CTX_use_certificate_chain_file(server_ctx.get(), tls.cert_chain_pem_path.c_str()), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey_file(server_ctx.get(), tls.key_path.c_str(), SSL_FILETYPE_PEM), 1);
  ASSERT_EQ(SSL_CTX_check_private_key(server_ctx.get()), 1);

  const SslCtxPtr client_ctx(SSL_CTX_new(TLS_client_method()));
  ASSERT_EQ(SSL_CTX_load_verify_locations(client_ctx.get(), tls.ca_cert_path.c_str(), nullptr), 1);
  SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_PEER, nullptr);

  const auto handshake = [&](const char* host) {
    const SslPtr server(SSL_new(server_ctx.get()));
    const SslPtr client(SSL_new(client_ctx.get()));
    SSL_set1_host(client.get(), host);
    BIO* server_bio = nullptr;
    BIO* client_bio = nullptr;
    BIO_new_bio_pair(&server_bio, 0, &client_bio, 0);
    SSL_set_bio(server.get(), server_bio, server_bio);
    SSL_set_bio(client.get(), client_bio, client_bio);
    SSL_set_accept_state(server.get());
    SSL_set_connect_state(client.get());
    bool client_done = false;
    bool server_done = false;
    for (int i = 0; i < 50 && !(client_done && server_done); ++i) {
      if (!client_done) {
        const int rc = SSL_do_handshake(client.get());
        if (rc == 1)
          client_done = true;
        else if (SSL_get_error(client.get(), rc) != SSL_ERROR_WANT_READ)
          break;
      }
      if (!server_done) {
        const int rc = SSL_do_handshake(server.get());
        if (rc == 1)
          server_done = true;
        else if (SSL_get_error(server.get(), rc) != SSL_ERROR_WANT_READ)
          break;
      }
    }
    ERR_clear_error();
    return client_done && SSL_get_verify_result(client.get()) == X509_V_OK;
  };
  EXPECT_TRUE(handshake("localhost"));
  EXPECT_TRUE(handshake("hoist.example.com"));
  EXPECT_FALSE(handshake("evil.example.com"));
}

TEST_F(OwnCaTest, ServerCertNearExpiryIsRenewedUnderTheSameCa) {
  const ServerTls first = start();
  const auto before = contents();

  // The certificate ends at now - 1h + 397d: 31 days left at +366d, under 30 at +367d.
  const ServerTls still = start(options(kNow + days{366}));
  EXPECT_FALSE(still.renewed_server_cert);
  EXPECT_EQ(contents(), before);

  const TimePoint later = kNow + days{380};
  const ServerTls renewed = start(options(later));
  EXPECT_FALSE(renewed.created_ca);
  EXPECT_TRUE(renewed.renewed_server_cert);
  EXPECT_NE(renewed.renewal_reason.find("expires"), std::string::npos) << renewed.renewal_reason;
  EXPECT_EQ(renewed.pin_fingerprint, first.pin_fingerprint);
  const auto after = contents();
  EXPECT_EQ(after.at("ca.crt"), before.at("ca.crt"));
  EXPECT_EQ(after.at("ca.key"), before.at("ca.key"));
  EXPECT_NE(after.at("server.crt"), before.at("server.crt"));
  EXPECT_NE(after.at("server.key"), before.at("server.key"));
  EXPECT_EQ(after.at("server-chain.pem"), after.at("server.crt") + after.at("ca.crt"));
  EXPECT_EQ(mode_of(file("server.key")), 0600);

  const X509Ptr ca = load_cert(file("ca.crt"));
  const X509Ptr leaf = load_cert(file("server.crt"));
  EXPECT_EQ(verify_server(leaf.get(), ca.get(), later, "localhost", false), X509_V_OK);
  EXPECT_EQ(validity_of(leaf.get()).first, to_time_t(later - hours{1}));

  EXPECT_FALSE(start(options(later)).renewed_server_cert);
}

TEST_F(OwnCaTest, ServerCertNotYetValidIsReissued) {
  start();
  ASSERT_TRUE(start(options(kNow + days{380})).renewed_server_cert);
  // The clock went back: the CA is still valid, the server certificate not yet.
  const ServerTls back = start(options(kNow + days{10}));
  EXPECT_TRUE(back.renewed_server_cert);
  EXPECT_NE(back.renewal_reason.find("not valid until"), std::string::npos) << back.renewal_reason;
  EXPECT_EQ(validity_of(load_cert(file("server.crt")).get()).first, to_time_t(kNow + days{10} - hours{1}));
}

TEST_F(OwnCaTest, RenewalBoundaryIsThirtyDays) {
  start();
  EXPECT_FALSE(start(options(kNow + days{367} - hours{1} - std::chrono::seconds{1})).renewed_server_cert);
  EXPECT_TRUE(start(options(kNow + days{367} - hours{1})).renewed_server_cert);
}

TEST_F(OwnCaTest, ServerCertNeverOutlivesTheCa) {
  const ServerTls first = start();
  // Nine and a half years on the CA has about 180 days left.
  const TimePoint late = kNow + days{3470};
  const ServerTls renewed = start(options(late));
  ASSERT_TRUE(renewed.renewed_server_cert);
  EXPECT_EQ(renewed.pin_fingerprint, first.pin_fingerprint);
  const X509Ptr ca = load_cert(file("ca.crt"));
  const X509Ptr leaf = load_cert(file("server.crt"));
  EXPECT_EQ(validity_of(leaf.get()).second, validity_of(ca.get()).second);
}

TEST_F(OwnCaTest, NewlyRequestedNamesTriggerReissue) {
  const ServerTls first = start();

  TlsOptions more = options();
  more.dns_names.push_back("new.example.org");
  const ServerTls dns = start(more);
  EXPECT_TRUE(dns.renewed_server_cert);
  EXPECT_NE(dns.renewal_reason.find("new.example.org"), std::string::npos) << dns.renewal_reason;
  EXPECT_EQ(dns.pin_fingerprint, first.pin_fingerprint);
  const X509Ptr ca = load_cert(file("ca.crt"));
  EXPECT_EQ(verify_server(load_cert(file("server.crt")).get(), ca.get(), kNow, "new.example.org", false), X509_V_OK);

  more.ip_addresses.push_back("fd00::7");
  const ServerTls ip = start(more);
  EXPECT_TRUE(ip.renewed_server_cert);
  EXPECT_EQ(verify_server(load_cert(file("server.crt")).get(), ca.get(), kNow, "fd00::7", true), X509_V_OK);

  // Asking for fewer names keeps the certificate that covers more.
  EXPECT_FALSE(start(options()).renewed_server_cert);
  // Case and spelling of an address do not matter.
  TlsOptions same = more;
  same.dns_names = {"NEW.example.org", "hoist.example.com"};
  same.ip_addresses = {"fd00:0:0:0:0:0:0:7", "10.0.0.5"};
  EXPECT_FALSE(start(same).renewed_server_cert);
}

TEST_F(OwnCaTest, ServerCertThatDoesNotMatchItsKeyIsReissued) {
  const ServerTls first = start();
  write_text(file("server.key"), pem_of(make_key().get()), 0600);
  const ServerTls second = start();
  EXPECT_TRUE(second.renewed_server_cert);
  EXPECT_NE(second.renewal_reason.find("does not match"), std::string::npos) << second.renewal_reason;
  EXPECT_EQ(second.pin_fingerprint, first.pin_fingerprint);
  const PkeyPtr key = load_key(file("server.key"));
  EXPECT_EQ(X509_check_private_key(load_cert(file("server.crt")).get(), key.get()), 1);
}

TEST_F(OwnCaTest, ServerCertFromAnotherCaIsReissued) {
  start();
  const TestCert other_ca = make_cert("Other CA", kNow - days{1}, kNow + days{1000}, true);
  // Otherwise perfect: matching key, valid for long, every requested name.
  const TestCert foreign = make_cert("localhost", kNow - days{1}, kNow + days{300}, false, &other_ca,
                                     "DNS:hoist.example.com,DNS:localhost,IP:10.0.0.5,IP:127.0.0.1,IP:::1");
  write_text(file("server.crt"), pem_of(foreign.cert.get()), 0644);
  write_text(file("server.key"), pem_of(foreign.key.get()), 0600);
  const ServerTls second = start();
  EXPECT_TRUE(second.renewed_server_cert);
  EXPECT_NE(second.renewal_reason.find("not issued by"), std::string::npos) << second.renewal_reason;
  EXPECT_EQ(
      verify_server(load_cert(file("server.crt")).get(), load_cert(file("ca.crt")).get(), kNow, "localhost", false),
      X509_V_OK);
}

TEST_F(OwnCaTest, MissingServerFilesAreReissued) {
  for (const char* name : {"server.crt", "server.key", "server-chain.pem"}) {
    const ServerTls first = start();
    std::filesystem::remove(file(name));
    const ServerTls second = start();
    EXPECT_FALSE(second.created_ca) << name;
    EXPECT_EQ(second.pin_fingerprint, first.pin_fingerprint) << name;
    EXPECT_EQ(entries_of(dir()), all_files()) << name;
    EXPECT_EQ(read_text(file("server-chain.pem")), read_text(file("server.crt")) + read_text(file("ca.crt"))) << name;
  }
}

TEST_F(OwnCaTest, KeysThatOthersCanReadAreRefusedNotFixed) {
  start();
  for (const char* name : {"ca.key", "server.key"}) {
    for (const mode_t mode : {mode_t{0644}, mode_t{0640}, mode_t{0604}, mode_t{0620}}) {
      ASSERT_EQ(::chmod(file(name).c_str(), mode), 0);
      const auto r = ensure_server_tls(options());
      ASSERT_FALSE(r.ok()) << name << " " << mode;
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
      EXPECT_NE(r.error().message.find("chmod 600"), std::string::npos) << r.error().message;
      EXPECT_NE(r.error().message.find(file(name)), std::string::npos) << r.error().message;
      EXPECT_EQ(mode_of(file(name)), mode) << "the mode must not be changed silently";
    }
    ASSERT_EQ(::chmod(file(name).c_str(), 0600), 0);
  }
  EXPECT_TRUE(ensure_server_tls(options()).ok());
}

TEST_F(OwnCaTest, KeyOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  start();
  ASSERT_EQ(::chown(file("server.key").c_str(), 65534, 65534), 0);
  const auto r = ensure_server_tls(options());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("owned by uid 65534"), std::string::npos) << r.error().message;
}

TEST_F(OwnCaTest, SymlinkedDirectoryIsRefused) {
  const std::string real = tmp_ / "real";
  ASSERT_EQ(::mkdir(real.c_str(), 0700), 0);
  ASSERT_EQ(::symlink(real.c_str(), dir().c_str()), 0);
  const auto r = ensure_server_tls(options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("symlink"), std::string::npos) << r.error().message;
  EXPECT_TRUE(entries_of(real).empty());

  // Also a dangling one: it is not followed to create a directory elsewhere.
  const std::string dangling = tmp_ / "dangling";
  ASSERT_EQ(::symlink((tmp_ / "nowhere").c_str(), dangling.c_str()), 0);
  TlsOptions o = options();
  o.dir = dangling;
  EXPECT_FALSE(ensure_server_tls(o).ok());
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "nowhere"));
}

TEST_F(OwnCaTest, UnsafeDirectoriesAreRefused) {
  write_text(dir(), "not a directory", 0600);
  auto r = ensure_server_tls(options());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not a directory"), std::string::npos) << r.error().message;
  std::filesystem::remove(dir());

  for (const mode_t mode : {mode_t{0770}, mode_t{0707}, mode_t{0777}}) {
    ASSERT_EQ(::mkdir(dir().c_str(), 0700), 0);
    ASSERT_EQ(::chmod(dir().c_str(), mode), 0);
    r = ensure_server_tls(options());
    ASSERT_FALSE(r.ok()) << mode;
    EXPECT_NE(r.error().message.find("chmod 700"), std::string::npos) << r.error().message;
    EXPECT_TRUE(entries_of(dir()).empty());
    std::filesystem::remove(dir());
  }

  // A readable but not writable directory (0755) is fine.
  ASSERT_EQ(::mkdir(dir().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(dir().c_str(), 0755), 0);
  EXPECT_TRUE(ensure_server_tls(options()).ok());

  TlsOptions o = options();
  o.dir = tmp_ / "missing-parent/tls";
  r = ensure_server_tls(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable) << r.error().message;
}

TEST_F(OwnCaTest, DirectoryOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  ASSERT_EQ(::mkdir(dir().c_str(), 0700), 0);
  ASSERT_EQ(::chown(dir().c_str(), 65534, 65534), 0);
  const auto r = ensure_server_tls(options());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("owned by uid 65534"), std::string::npos) << r.error().message;
}

TEST_F(OwnCaTest, ConcurrentSetupIsRefusedNotInterleaved) {
  start();
  const platform::UniqueFd held(::open(dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(held.valid());
  ASSERT_EQ(::flock(held.get(), LOCK_EX), 0);
  const auto r = ensure_server_tls(options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find("another process"), std::string::npos) << r.error().message;
  ASSERT_EQ(::flock(held.get(), LOCK_UN), 0);
  EXPECT_TRUE(ensure_server_tls(options()).ok());
}

TEST_F(OwnCaTest, SymlinkedFilesInTheDirectoryAreRefused) {
  start();
  const std::string elsewhere = tmp_ / "elsewhere.key";
  write_text(elsewhere, read_text(file("ca.key")), 0600);
  std::filesystem::remove(file("ca.key"));
  ASSERT_EQ(::symlink(elsewhere.c_str(), file("ca.key").c_str()), 0);
  const auto r = ensure_server_tls(options());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("symlink"), std::string::npos) << r.error().message;
}

TEST_F(OwnCaTest, CaKeyThatDoesNotMatchItsCertificateIsRefused) {
  start();
  const std::string ca_cert = read_text(file("ca.crt"));
  write_text(file("ca.key"), pem_of(make_key().get()), 0600);
  const auto r = ensure_server_tls(options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("does not match"), std::string::npos) << r.error().message;
  EXPECT_EQ(read_text(file("ca.crt")), ca_cert) << "the CA must never be replaced implicitly";
}

TEST_F(OwnCaTest, HalfACaIsRefusedNotReplaced) {
  start();
  const std::string ca_key = read_text(file("ca.key"));
  const std::string ca_cert = read_text(file("ca.crt"));

  std::filesystem::remove(file("ca.crt"));
  auto r = ensure_server_tls(options());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("restore"), std::string::npos) << r.error().message;
  EXPECT_FALSE(std::filesystem::exists(file("ca.crt")));
  EXPECT_EQ(read_text(file("ca.key")), ca_key);

  write_text(file("ca.crt"), ca_cert, 0644);
  std::filesystem::remove(file("ca.key"));
  r = ensure_server_tls(options());
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(std::filesystem::exists(file("ca.key")));
  EXPECT_EQ(read_text(file("ca.crt")), ca_cert);
}

TEST_F(OwnCaTest, ExpiredOrFutureCaIsRefused) {
  start();
  auto r = ensure_server_tls(options(kNow + days{3653 + 1}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("expired"), std::string::npos) << r.error().message;
  r = ensure_server_tls(options(kNow - days{1}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("clock"), std::string::npos) << r.error().message;
}

TEST_F(OwnCaTest, CertificateThatIsNotACaIsRefusedAsCa) {
  start();
  const TestCert leaf = make_cert("not-a-ca", kNow - days{1}, kNow + days{300}, false);
  write_text(file("ca.crt"), pem_of(leaf.cert.get()), 0644);
  write_text(file("ca.key"), pem_of(leaf.key.get()), 0600);
  const auto r = ensure_server_tls(options());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not a CA"), std::string::npos) << r.error().message;
}

TEST_F(OwnCaTest, GarbagePemFilesAreErrorsNotCrashes) {
  start();
  const auto good = contents();
  const std::string cert = good.at("server.crt");
  for (const std::string name : {"ca.key", "ca.crt", "server.key", "server.crt"}) {
    const mode_t mode = name.ends_with(".key") ? 0600 : 0644;
    const std::string garbage_cert = "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";
    const std::string garbage_key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    for (const std::string& bad :
         {std::string(), std::string("garbage\n"), std::string("\0\xff\x01", 3), cert.substr(0, cert.size() / 2),
          garbage_cert, garbage_key, std::string(100000, 'A')}) {
      write_text(file(name), bad, mode);
      const auto r = ensure_server_tls(options());
      ASSERT_FALSE(r.ok()) << name << " holding " << bad.size() << " bytes";
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << r.error().message;
      EXPECT_NE(r.error().message.find(file(name)), std::string::npos) << r.error().message;
    }
    write_text(file(name), good.at(name), mode);
  }
  const ServerTls again = start();
  EXPECT_FALSE(again.created_ca);
  EXPECT_FALSE(again.renewed_server_cert);
  EXPECT_EQ(contents(), good);
}

TEST_F(OwnCaTest, OpenSslReasonIsInTheMessage) {
  start();
  write_text(file("ca.crt"), "garbage\n", 0644);
  const auto r = ensure_server_tls(options());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no start line"), std::string::npos) << r.error().message;
}

TEST_F(OwnCaTest, BadOptionsAreRefusedBeforeTouchingTheDisk) {
  const auto refused = [&](const TlsOptions& o, const std::string& needle) {
    const auto r = ensure_server_tls(o);
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << r.error().message;
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
    EXPECT_FALSE(std::filesystem::exists(dir()));
  };
  for (const char* bad : {"bad name", "*.example.com", "", "a..b", "-lead.example", "x_y.example", ".example"}) {
    TlsOptions o = options();
    o.dns_names = {bad};
    refused(o, std::string("\"") + bad + "\"");
  }
  TlsOptions o = options();
  o.dns_names = {std::string(64, 'a') + ".example"};
  refused(o, "not a DNS name");
  for (const char* bad : {"10.0.0", "localhost", "::g", "10.0.0.1/24", ""}) {
    o = options();
    o.ip_addresses = {bad};
    refused(o, std::string("\"") + bad + "\"");
  }
  o = options();
  o.cert_file = tmp_ / "x.crt";
  refused(o, "key file");
  o = options();
  o.key_file = tmp_ / "x.key";
  refused(o, "key file");
  o = options();
  o.ca_file = tmp_ / "ca.crt";
  refused(o, "CA file");
  o = options();
  o.dir = "";
  refused(o, "not set");
}

TEST_F(OwnCaTest, LongFirstNameStillGivesAValidCaName) {
  TlsOptions o = options();
  o.dns_names = {std::string(63, 'a') + "." + std::string(63, 'b') + ".example"};
  const ServerTls tls = start(o);
  const X509Ptr ca = load_cert(file("ca.crt"));
  ASSERT_NE(ca, nullptr);
  const std::string cn = common_name_of(ca.get());
  EXPECT_EQ(cn.size(), 64U) << cn;
  EXPECT_EQ(cn.rfind("Hoist CA aaaa", 0), 0U) << cn;
  EXPECT_EQ(verify_server(load_cert(file("server.crt")).get(), ca.get(), kNow, o.dns_names[0], false), X509_V_OK);
}

TEST_F(OwnCaTest, WithoutNamesTheCaIsNamedForLocalhost) {
  TlsOptions o = options();
  o.dns_names.clear();
  o.ip_addresses.clear();
  start(o);
  const X509Ptr ca = load_cert(file("ca.crt"));
  EXPECT_EQ(common_name_of(ca.get()).rfind("Hoist CA localhost ", 0), 0U);
  const X509Ptr leaf = load_cert(file("server.crt"));
  EXPECT_EQ(verify_server(leaf.get(), ca.get(), kNow, "localhost", false), X509_V_OK);
  EXPECT_EQ(verify_server(leaf.get(), ca.get(), kNow, "::1", true), X509_V_OK);
}

TEST_F(OwnCaTest, EachNewCaIsDifferent) {
  const ServerTls first = start();
  std::filesystem::remove_all(dir());
  const ServerTls second = start();
  EXPECT_TRUE(second.created_ca);
  EXPECT_NE(first.pin_fingerprint, second.pin_fingerprint);
}

}  // namespace
}  // namespace hoist::tls
