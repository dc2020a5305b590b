// Admin-supplied certificate and key: used as they are when they belong
// together and are valid now; refused otherwise. The certificates are made
// here with OpenSSL alone.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "server/tls/server_tls.h"
#include "support/tls_test_support.h"

namespace hoist::tls {
namespace {

using namespace hoist::tls::testing;  // NOLINT(google-build-using-namespace)
using std::chrono::days;

std::string error_of(const Result<ServerTls>& r) {
  return r.ok() ? std::string("(ok)") : r.error().message;
}

class AdminSuppliedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = make_cert("Example CA", kNow - days{30}, kNow + days{3000}, true);
    leaf_ = make_cert("hoist.example.com", kNow - days{1}, kNow + days{90}, false, &ca_);
    write_text(cert_file(), pem_of(leaf_.cert.get()) + pem_of(ca_.cert.get()), 0644);
    write_text(key_file(), pem_of(leaf_.key.get()), 0600);
    write_text(ca_file(), pem_of(ca_.cert.get()), 0644);
  }

  [[nodiscard]] std::string cert_file() const { return tmp_ / "fullchain.pem"; }
  [[nodiscard]] std::string key_file() const { return tmp_ / "privkey.pem"; }
  [[nodiscard]] std::string ca_file() const { return tmp_ / "ca.pem"; }
  [[nodiscard]] std::string unused_dir() const { return tmp_ / "tls"; }

  [[nodiscard]] TlsOptions options() const {
    TlsOptions o;
    o.dir = unused_dir();
    o.cert_file = cert_file();
    o.key_file = key_file();
    o.now = kNow;
    return o;
  }

  // Expects an error whose message contains `needle`.
  static void expect_refused(const TlsOptions& o, ErrorCode code, const std::string& needle) {
    const auto r = ensure_server_tls(o);
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  }

  TempDir tmp_;
  TestCert ca_;
  TestCert leaf_;
};

TEST_F(AdminSuppliedTest, MatchingPairIsUsedAsItIs) {
  const std::string cert_before = read_text(cert_file());
  const std::string key_before = read_text(key_file());
  const auto r = ensure_server_tls(options());
  ASSERT_TRUE(r.ok()) << error_of(r);
  EXPECT_EQ(r->cert_chain_pem_path, cert_file());
  EXPECT_EQ(r->key_path, key_file());
  EXPECT_EQ(r->ca_cert_path, "");
  EXPECT_EQ(r->pin_fingerprint, independent_fingerprint(leaf_.cert.get()));
  EXPECT_FALSE(r->created_ca);
  EXPECT_FALSE(r->renewed_server_cert);
  // Nothing written: not the admin's files, not hoistd's own directory.
  EXPECT_EQ(read_text(cert_file()), cert_before);
  EXPECT_EQ(read_text(key_file()), key_before);
  EXPECT_FALSE(std::filesystem::exists(unused_dir()));
}

TEST_F(AdminSuppliedTest, SelfSignedLeafWithoutChainIsPinnedByItself) {
  const TestCert self = make_cert("hoist.example.com", kNow - days{1}, kNow + days{90}, false);
  write_text(cert_file(), pem_of(self.cert.get()), 0644);
  write_text(key_file(), pem_of(self.key.get()), 0600);
  const auto r = ensure_server_tls(options());
  ASSERT_TRUE(r.ok()) << error_of(r);
  EXPECT_EQ(r->pin_fingerprint, independent_fingerprint(self.cert.get()));
}

TEST_F(AdminSuppliedTest, CaFileIsWhatAgentsPin) {
  TlsOptions o = options();
  o.ca_file = ca_file();
  const auto r = ensure_server_tls(o);
  ASSERT_TRUE(r.ok()) << error_of(r);
  EXPECT_EQ(r->pin_fingerprint, independent_fingerprint(ca_.cert.get()));
  EXPECT_NE(r->pin_fingerprint, independent_fingerprint(leaf_.cert.get()));
  EXPECT_EQ(r->ca_cert_path, ca_file());

  // The leaf alone (no chain in cert_file) still chains to the CA file.
  write_text(cert_file(), pem_of(leaf_.cert.get()), 0644);
  EXPECT_TRUE(ensure_server_tls(o).ok());
}

TEST_F(AdminSuppliedTest, CaFileThatDidNotIssueTheCertificateIsRefused) {
  const TestCert other = make_cert("Other CA", kNow - days{30}, kNow + days{3000}, true);
  write_text(ca_file(), pem_of(other.cert.get()), 0644);
  TlsOptions o = options();
  o.ca_file = ca_file();
  expect_refused(o, ErrorCode::kInvalidArgument, "does not chain to the CA");
}

TEST_F(AdminSuppliedTest, OnlyTheFirstCertificateInCaFileIsTrusted) {
  // The issuer is in ca_file, but not first: agents would pin the other one.
  const TestCert other = make_cert("Other CA", kNow - days{30}, kNow + days{3000}, true);
  write_text(ca_file(), pem_of(other.cert.get()) + pem_of(ca_.cert.get()), 0644);
  TlsOptions o = options();
  o.ca_file = ca_file();
  expect_refused(o, ErrorCode::kInvalidArgument, "does not chain to the CA");
}

TEST_F(AdminSuppliedTest, CaFileMayPinAnIntermediate) {
  const TestCert intermediate = make_cert("Intermediate CA", kNow - days{30}, kNow + days{2000}, true, &ca_);
  const TestCert leaf = make_cert("hoist.example.com", kNow - days{1}, kNow + days{90}, false, &intermediate);
  write_text(cert_file(), pem_of(leaf.cert.get()) + pem_of(intermediate.cert.get()), 0644);
  write_text(key_file(), pem_of(leaf.key.get()), 0600);
  TlsOptions o = options();
  o.ca_file = ca_file();
  auto r = ensure_server_tls(o);
  ASSERT_TRUE(r.ok()) << error_of(r);
  EXPECT_EQ(r->pin_fingerprint, independent_fingerprint(ca_.cert.get()));

  write_text(ca_file(), pem_of(intermediate.cert.get()), 0644);
  r = ensure_server_tls(o);
  ASSERT_TRUE(r.ok()) << error_of(r);
  EXPECT_EQ(r->pin_fingerprint, independent_fingerprint(intermediate.cert.get()));
}

TEST_F(AdminSuppliedTest, MismatchedKeyIsRefused) {
  write_text(key_file(), pem_of(make_key().get()), 0600);
  expect_refused(options(), ErrorCode::kInvalidArgument, "does not match");
}

TEST_F(AdminSuppliedTest, ExpiredOrNotYetValidCertificateIsRefused) {
  TlsOptions o = options();
  o.now = kNow + days{91};
  expect_refused(o, ErrorCode::kInvalidArgument, "expired");
  o.now = kNow - days{2};
  expect_refused(o, ErrorCode::kInvalidArgument, "not valid until");

  const TestCert expired = make_cert("hoist.example.com", kNow - days{100}, kNow - days{10}, false, &ca_);
  write_text(cert_file(), pem_of(expired.cert.get()), 0644);
  write_text(key_file(), pem_of(expired.key.get()), 0600);
  expect_refused(options(), ErrorCode::kInvalidArgument, "expired");
}

TEST_F(AdminSuppliedTest, KeyThatOthersCanReadIsRefused) {
  for (const mode_t mode : {mode_t{0644}, mode_t{0640}, mode_t{0604}}) {
    ASSERT_EQ(::chmod(key_file().c_str(), mode), 0);
    expect_refused(options(), ErrorCode::kInvalidArgument, "chmod 600");
    EXPECT_EQ(mode_of(key_file()), mode);
  }
  // The certificate is public.
  ASSERT_EQ(::chmod(key_file().c_str(), 0400), 0);
  ASSERT_EQ(::chmod(cert_file().c_str(), 0444), 0);
  EXPECT_TRUE(ensure_server_tls(options()).ok());
}

TEST_F(AdminSuppliedTest, SymlinksAreFollowedForAdminFiles) {
  // The layout of /etc/letsencrypt/live: links to the real files.
  const std::string live = tmp_ / "live";
  std::filesystem::create_directory(live);
  ASSERT_EQ(::symlink(cert_file().c_str(), (live + "/fullchain.pem").c_str()), 0);
  ASSERT_EQ(::symlink(key_file().c_str(), (live + "/privkey.pem").c_str()), 0);
  TlsOptions o = options();
  o.cert_file = live + "/fullchain.pem";
  o.key_file = live + "/privkey.pem";
  const auto r = ensure_server_tls(o);
  ASSERT_TRUE(r.ok()) << error_of(r);
  EXPECT_EQ(r->key_path, live + "/privkey.pem");
}

TEST_F(AdminSuppliedTest, MissingFilesAreNotFound) {
  TlsOptions o = options();
  o.cert_file = tmp_ / "nope.pem";
  expect_refused(o, ErrorCode::kNotFound, "nope.pem");
  o = options();
  o.key_file = tmp_ / "nope.key";
  expect_refused(o, ErrorCode::kNotFound, "nope.key");
  o = options();
  o.ca_file = tmp_ / "nope-ca.pem";
  expect_refused(o, ErrorCode::kNotFound, "nope-ca.pem");
}

TEST_F(AdminSuppliedTest, GarbageFilesAreErrors) {
  const std::string good_cert = read_text(cert_file());
  for (const std::string& bad : {std::string(), std::string("garbage"), good_cert.substr(0, 200)}) {
    write_text(cert_file(), bad, 0644);
    expect_refused(options(), ErrorCode::kInvalidArgument, cert_file());
  }
  write_text(cert_file(), good_cert, 0644);
  write_text(key_file(), "garbage", 0600);
  expect_refused(options(), ErrorCode::kInvalidArgument, key_file());
  // A corrupt certificate after a good one is not silently dropped.
  write_text(key_file(), pem_of(leaf_.key.get()), 0600);
  write_text(cert_file(), pem_of(leaf_.cert.get()) + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
             0644);
  expect_refused(options(), ErrorCode::kInvalidArgument, "corrupt");
}

TEST_F(AdminSuppliedTest, EncryptedKeyIsRefusedWithoutPrompting) {
  const BioPtr bio(BIO_new(BIO_s_mem()));
  const std::string pass = "secret";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), leaf_.key.get(), EVP_aes_256_cbc(), pass.data(),
                                          static_cast<int>(pass.size()), nullptr, nullptr),
            1);
  write_text(key_file(), bio_contents(bio.get()), 0600);
  expect_refused(options(), ErrorCode::kInvalidArgument, "encrypted");
}

TEST_F(AdminSuppliedTest, RsaKeysWork) {
  const PkeyPtr rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  ASSERT_NE(rsa, nullptr);
  const X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("rsa.example"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), to_time_t(kNow - days{1}));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), to_time_t(kNow + days{1}));
  X509_set_pubkey(cert.get(), rsa.get());
  ASSERT_GT(X509_sign(cert.get(), rsa.get(), EVP_sha256()), 0);
  write_text(cert_file(), pem_of(cert.get()), 0644);
  write_text(key_file(), pem_of(rsa.get()), 0600);
  const auto r = ensure_server_tls(options());
  ASSERT_TRUE(r.ok()) << error_of(r);
  EXPECT_EQ(r->pin_fingerprint, independent_fingerprint(cert.get()));
}

// The certificates hoistd presents, in order, read back with OpenSSL.
std::vector<std::string> fingerprints_in(const std::string& pem) {
  std::vector<std::string> out;
  const BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.push_back(independent_fingerprint(cert));
    X509_free(cert);
  }
  return out;
}

TEST_F(AdminSuppliedTest, ThePinnedCaIsPresentedAfterAChainThatLacksIt) {
  // A company CA or Let's Encrypt: the chain file holds the leaf (and
  // intermediates), not the root agents pin; hoistd presents it too.
  write_text(cert_file(), pem_of(leaf_.cert.get()), 0644);
  TlsOptions o = options();
  o.ca_file = ca_file();
  const auto r = ensure_server_tls(o);
  ASSERT_TRUE(r.ok()) << error_of(r);
  EXPECT_EQ(fingerprints_in(r->served_chain_pem), (std::vector<std::string>{independent_fingerprint(leaf_.cert.get()),
                                                                            independent_fingerprint(ca_.cert.get())}));
  ASSERT_NE(r->key_pem, nullptr);
  EXPECT_EQ(r->key_pem->str(), read_text(key_file()));
  EXPECT_EQ(to_time_t(r->not_after), validity_of(leaf_.cert.get()).second);
  // Files are never written.
  EXPECT_EQ(read_text(cert_file()), pem_of(leaf_.cert.get()));
}

TEST_F(AdminSuppliedTest, AChainThatHasThePinnedCaIsPresentedAsItIs) {
  TlsOptions o = options();
  o.ca_file = ca_file();
  const auto r = ensure_server_tls(o);
  ASSERT_TRUE(r.ok()) << error_of(r);
  EXPECT_EQ(r->served_chain_pem, read_text(cert_file()));
  // Without ca_file, nothing is added either.
  const auto plain = ensure_server_tls(options());
  ASSERT_TRUE(plain.ok()) << error_of(plain);
  EXPECT_EQ(plain->served_chain_pem, read_text(cert_file()));
}

}  // namespace
}  // namespace hoist::tls
