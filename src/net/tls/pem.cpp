#include "net/tls/pem.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <fmt/format.h>

namespace hoist::tls {

namespace {

// Passed wherever OpenSSL would otherwise prompt on the terminal.
int refuse_password(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) {
  return -1;
}

}  // namespace

Result<X509Ptr> parse_certificate_pem(std::string_view pem, std::string_view source) {
  auto bio = memory_bio(pem);
  if (!bio) return bio.error();
  X509Ptr cert(PEM_read_bio_X509(bio->get(), nullptr, refuse_password, nullptr));
  if (!cert) return openssl_error(ErrorCode::kInvalidArgument, fmt::format("{}: no PEM certificate", source));
  return cert;
}

Result<std::vector<X509Ptr>> parse_certificate_chain_pem(std::string_view pem, std::string_view source) {
  auto bio = memory_bio(pem);
  if (!bio) return bio.error();
  std::vector<X509Ptr> chain;
  ERR_clear_error();
  while (X509* cert = PEM_read_bio_X509(bio->get(), nullptr, refuse_password, nullptr)) {
    chain.emplace_back(cert);
  }
  // Running out of input ends the loop with "no start line"; anything else
  // is a corrupt certificate.
  const unsigned long last = ERR_peek_last_error();
  if (chain.empty() || ERR_GET_LIB(last) != ERR_LIB_PEM || ERR_GET_REASON(last) != PEM_R_NO_START_LINE) {
    return openssl_error(
        ErrorCode::kInvalidArgument,
        fmt::format("{}: {}", source,
                    chain.empty() ? "no PEM certificate" : "a certificate after the first is corrupt"));
  }
  ERR_clear_error();
  return chain;
}

Result<PkeyPtr> parse_private_key_pem(std::string_view pem, std::string_view source) {
  auto bio = memory_bio(pem);
  if (!bio) return bio.error();
  PkeyPtr key(PEM_read_bio_PrivateKey(bio->get(), nullptr, refuse_password, nullptr));
  if (!key) {
    return openssl_error(ErrorCode::kInvalidArgument,
                         fmt::format("{}: no usable PEM private key (encrypted keys are not supported)", source));
  }
  return key;
}

}  // namespace hoist::tls
