// Certificate fingerprints for pinning: agents and the CLI trust hoistd's CA
// by its SHA-256 fingerprint, printed by hoistd on first start.
//
// MUST: a fingerprint is SHA-256 over the certificate's DER encoding, never
// over the PEM text (which may differ in line breaks for the same
// certificate). MUST: the canonical form is 32 uppercase hex pairs joined by
// ':'; everything that compares fingerprints compares canonical forms.
#pragma once

#include <openssl/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace hoist::tls {

// Fingerprint of a parsed certificate. Internal only if OpenSSL cannot
// encode or hash it.
Result<std::string> fingerprint_of_certificate(const X509* cert);

// Fingerprint of the first certificate in PEM text, as "AB:CD:...".
// InvalidArgument, with OpenSSL's reason, when the text holds no parsable
// certificate.
Result<std::string> fingerprint_of_pem(std::string_view pem);

// Fingerprint of the first certificate in a PEM file. NotFound when the file
// does not exist, InvalidArgument when it holds no certificate (or is over
// 1 MiB), Unavailable for other read errors; messages name the path.
Result<std::string> fingerprint_of_file(const std::string& path);

// The canonical "AB:CD:..." form of a SHA-256 fingerprint typed by a person:
// upper or lower case hex, either as 32 ':'-separated pairs or as 64 digits
// without separators, optionally prefixed by "sha256:" or "sha256 " (any
// case; hoistd prints "SHA256 AB:CD:..." when it starts). nullopt
// for anything else, including other lengths, mixed separators and
// surrounding whitespace.
std::optional<std::string> normalize_fingerprint(std::string_view text);

}  // namespace hoist::tls
