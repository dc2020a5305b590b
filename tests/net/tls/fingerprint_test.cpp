// Fingerprints against SHA-256 computed here over i2d_X509, and the forms of
// a typed fingerprint that normalize_fingerprint accepts and refuses.
#include "net/tls/fingerprint.h"

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <optional>
#include <regex>
#include <string>

#include "support/tls_test_support.h"

namespace hoist::tls {
namespace {

using namespace hoist::tls::testing;  // NOLINT(google-build-using-namespace)
using std::chrono::days;

constexpr const char* kCanonical =
    "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

TEST(FingerprintTest, IsSha256OverDerInUppercasePairs) {
  const TestCert a = make_cert("a.example", kNow - days{1}, kNow + days{1}, true);
  const auto fp = fingerprint_of_pem(pem_of(a.cert.get()));
  ASSERT_TRUE(fp.ok()) << fp.error().message;
  EXPECT_EQ(*fp, independent_fingerprint(a.cert.get()));
  EXPECT_TRUE(std::regex_match(*fp, std::regex("([0-9A-F]{2}:){31}[0-9A-F]{2}"))) << *fp;

  const auto direct = fingerprint_of_certificate(a.cert.get());
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(*direct, *fp);
}

TEST(FingerprintTest, FirstCertificateInTheTextCounts) {
  const TestCert a = make_cert("a.example", kNow - days{1}, kNow + days{1}, true);
  const TestCert b = make_cert("b.example", kNow - days{1}, kNow + days{1}, true);
  ASSERT_NE(independent_fingerprint(a.cert.get()), independent_fingerprint(b.cert.get()));
  const auto fp = fingerprint_of_pem("some text before\n" + pem_of(a.cert.get()) + pem_of(b.cert.get()));
  ASSERT_TRUE(fp.ok()) << fp.error().message;
  EXPECT_EQ(*fp, independent_fingerprint(a.cert.get()));
}

TEST(FingerprintTest, TextWithoutACertificateIsInvalidArgument) {
  const TestCert a = make_cert("a.example", kNow - days{1}, kNow + days{1}, true);
  const std::string pem = pem_of(a.cert.get());
  for (const std::string& bad : {std::string(), std::string("garbage"), pem.substr(0, pem.size() / 2),
                                 pem_of(a.key.get()), std::string("\0\x01\x02", 3)}) {
    const auto fp = fingerprint_of_pem(bad);
    ASSERT_FALSE(fp.ok()) << bad;
    EXPECT_EQ(fp.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(fp.error().message.find("no PEM certificate"), std::string::npos) << fp.error().message;
  }
  // OpenSSL's reason is part of the message.
  EXPECT_NE(fingerprint_of_pem("garbage").error().message.find("no start line"), std::string::npos);
}

TEST(FingerprintTest, OfFile) {
  const TempDir tmp;
  const TestCert a = make_cert("a.example", kNow - days{1}, kNow + days{1}, true);
  write_text(tmp / "a.pem", pem_of(a.cert.get()), 0644);
  const auto fp = fingerprint_of_file(tmp / "a.pem");
  ASSERT_TRUE(fp.ok()) << fp.error().message;
  EXPECT_EQ(*fp, independent_fingerprint(a.cert.get()));

  const auto missing = fingerprint_of_file(tmp / "missing.pem");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  write_text(tmp / "bad.pem", "garbage", 0644);
  const auto bad = fingerprint_of_file(tmp / "bad.pem");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find(tmp / "bad.pem"), std::string::npos) << bad.error().message;
}

TEST(NormalizeFingerprintTest, AcceptsTheListedForms) {
  const std::string bare = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
  std::string lower_pairs = kCanonical;
  for (char& c : lower_pairs) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const std::string& text : {std::string(kCanonical), lower_pairs, bare, std::string("ABCDEF") + bare.substr(6),
                                  "sha256:" + std::string(kCanonical), "SHA256:" + lower_pairs, "SHA256:" + bare,
                                  "sha256:" + bare, "Sha256:" + bare,
                                  // as hoistd prints it when it starts, pasted whole
                                  "SHA256 " + std::string(kCanonical), "sha256 " + bare}) {
    EXPECT_EQ(normalize_fingerprint(text), std::optional<std::string>(kCanonical)) << text;
  }
}

TEST(NormalizeFingerprintTest, RefusesEverythingElse) {
  const std::string canonical = kCanonical;
  const std::string bare = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
  for (const std::string& text : {
           std::string(),
           std::string("sha256:"),
           canonical.substr(0, canonical.size() - 3),  // 31 bytes
           canonical + ":AB",                          // 33 bytes
           bare.substr(2),                             // 31 bytes
           bare + "ab",                                // 33 bytes
           canonical + ":",                            // trailing separator
           ":" + canonical.substr(0, canonical.size() - 1),
           "G" + canonical.substr(1),                           // not hex
           canonical.substr(0, 2) + "-" + canonical.substr(3),  // other separator
           canonical.substr(0, 2) + "0" + canonical.substr(3),  // a separator missing
           "ABCD" + canonical.substr(5) + ":00",                // mixed: first pair unseparated
           bare.substr(0, 62) + "0x",                           // not hex
           " " + canonical,                                     // whitespace
           canonical + "\n",
           "sha1:" + canonical,
           "sha256: " + canonical,
           "SHA256  " + canonical,  // two blanks
           "SHA256 sha256:" + canonical,
           "sha256:sha256:" + canonical,
           std::string(64, ':'),
       }) {
    EXPECT_EQ(normalize_fingerprint(text), std::nullopt) << "'" << text << "'";
  }
}

}  // namespace
}  // namespace hoist::tls
