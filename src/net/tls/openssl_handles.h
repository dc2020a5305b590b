// Owning handles for OpenSSL objects and the one way OpenSSL failures become
// Hoist errors. Everything in net/tls and server/tls goes through these, so
// no OpenSSL object leaks on an early return and every error message carries
// OpenSSL's own reason.
#pragma once

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace hoist::tls {

// A deleter that calls one OpenSSL free function.
template <auto FreeFn>
struct FreeWith {
  template <class T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};

using BioPtr = std::unique_ptr<BIO, FreeWith<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, FreeWith<BN_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, FreeWith<ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, FreeWith<ASN1_TIME_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, FreeWith<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, FreeWith<X509_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, FreeWith<X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, FreeWith<X509_EXTENSION_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, FreeWith<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, FreeWith<X509_STORE_CTX_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, FreeWith<GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, FreeWith<GENERAL_NAME_free>>;
using Asn1OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, FreeWith<ASN1_OCTET_STRING_free>>;
using Asn1Ia5StringPtr = std::unique_ptr<ASN1_IA5STRING, FreeWith<ASN1_IA5STRING_free>>;

// Frees the stack only: the certificates in it are borrowed.
struct FreeX509StackOnly {
  void operator()(STACK_OF(X509) * stack) const { sk_X509_free(stack); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), FreeX509StackOnly>;

// Drains this thread's OpenSSL error queue into one line ("error:...; ...").
// Never empty: says so when OpenSSL queued nothing.
std::string take_openssl_errors();

// `what` followed by ": " and the drained OpenSSL errors.
Error openssl_error(ErrorCode code, std::string_view what);

// A read-only memory BIO over `text` (which must outlive it). Fails for text
// over INT_MAX bytes or when OpenSSL cannot allocate.
Result<BioPtr> memory_bio(std::string_view text);

// Everything written to a memory BIO, as a string.
std::string bio_contents(BIO* bio);

}  // namespace hoist::tls
