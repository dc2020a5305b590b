// Reading PEM text: certificates, certificate chains and private keys.
//
// MUST: reading never prompts for a password (an encrypted key is an error,
// not a hung daemon or CLI).
#pragma once

#include <string_view>
#include <vector>

#include "core/result.h"
#include "net/tls/openssl_handles.h"

namespace hoist::tls {

// The first certificate in PEM text. InvalidArgument naming `source`, with
// OpenSSL's reason, when there is none.
Result<X509Ptr> parse_certificate_pem(std::string_view pem, std::string_view source);

// Every certificate in PEM text, in order. InvalidArgument when there is
// none or one of them is corrupt.
Result<std::vector<X509Ptr>> parse_certificate_chain_pem(std::string_view pem, std::string_view source);

// A private key in PEM (PKCS#8 or traditional). InvalidArgument when the
// text holds none or the key is encrypted.
Result<PkeyPtr> parse_private_key_pem(std::string_view pem, std::string_view source);

}  // namespace hoist::tls
