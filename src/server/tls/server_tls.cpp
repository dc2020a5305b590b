#include "server/tls/server_tls.h"

#include <fcntl.h>
#include <openssl/err.h>

#include <fmt/format.h>
#include <chrono>

#include "core/timestamp.h"
#include "net/tls/fingerprint.h"
#include "net/tls/pem.h"
#include "server/tls/certificates.h"
#include "server/tls/private_dir.h"

namespace hoist::tls {

namespace {

constexpr auto kRenewBefore = std::chrono::days{30};

constexpr const char* kCaKey = "ca.key";
constexpr const char* kCaCert = "ca.crt";
constexpr const char* kServerKey = "server.key";
constexpr const char* kServerCert = "server.crt";
constexpr const char* kServerChain = "server-chain.pem";

constexpr mode_t kKeyMode = 0600;
constexpr mode_t kCertMode = 0644;

struct Ca {
  X509Ptr cert;
  PkeyPtr key;
  std::string cert_pem;
  bool created = false;
};

Result<Ca> create_ca(const PrivateDir& dir, const SubjectNames& names, TimePoint now) {
  auto key = generate_p256_key();
  if (!key) return key.error();
  auto cert = issue_ca_certificate(key->get(), names.dns.front(), now);
  if (!cert) return cert.error();
  auto key_pem = private_key_to_pem(key->get());
  if (!key_pem) return key_pem.error();
  auto cert_pem = certificate_to_pem(cert->get());
  if (!cert_pem) return cert_pem.error();
  // Key first: a crash in between leaves ca.key without ca.crt, which is
  // refused rather than silently replaced.
  if (auto s = dir.replace(kCaKey, key_pem->str(), kKeyMode); !s) return s.error();
  if (auto s = dir.replace(kCaCert, *cert_pem, kCertMode); !s) return s.error();
  return Ca{std::move(*cert), std::move(*key), std::move(*cert_pem), true};
}

Result<Ca> load_or_create_ca(const PrivateDir& dir, const SubjectNames& names, TimePoint now, bool may_create) {
  auto key_text = dir.read(kCaKey, FileKind::kPrivateKey);
  if (!key_text) return key_text.error();
  const bool have_key = key_text->has_value();
  const SecretString key_pem(have_key ? std::move(**key_text) : std::string());
  auto cert_text = dir.read(kCaCert, FileKind::kPublic);
  if (!cert_text) return cert_text.error();
  if (!have_key && !cert_text->has_value()) {
    if (!may_create) {
      return not_found(
          fmt::format("{} and {} are gone: restore them (a new CA is made only at a start, and "
                      "every agent must then pin its fingerprint)",
                      dir.path_of(kCaCert), dir.path_of(kCaKey)));
    }
    return create_ca(dir, names, now);
  }

  const std::string key_path = dir.path_of(kCaKey);
  const std::string cert_path = dir.path_of(kCaCert);
  const auto missing_half = [&](const std::string& present, const std::string& missing) {
    return invalid_argument(fmt::format(
        "{} exists but {} does not: restore {}, or remove {} to create a new CA (every agent must then pin the new "
        "fingerprint)",
        present, missing, missing, present));
  };
  if (!cert_text->has_value()) return missing_half(key_path, cert_path);
  if (!have_key) return missing_half(cert_path, key_path);

  auto key = parse_private_key_pem(key_pem.str(), key_path);
  if (!key) return key.error();
  auto cert = parse_certificate_pem(**cert_text, cert_path);
  if (!cert) return cert.error();
  if (!key_matches_certificate(cert->get(), key->get())) {
    return invalid_argument(
        fmt::format("{} does not match {}: restore the CA key that belongs to this certificate", key_path, cert_path));
  }
  if (X509_check_ca(cert->get()) != 1) {
    return invalid_argument(fmt::format("{} is not a CA certificate (basicConstraints CA:TRUE is missing)", cert_path));
  }
  auto validity = validity_of(cert->get(), cert_path);
  if (!validity) return validity.error();
  if (validity->first > now) {
    return invalid_argument(
        fmt::format("{} is not valid until {}; check the system clock", cert_path, format_timestamp(validity->first)));
  }
  if (validity->second <= now) {
    return invalid_argument(fmt::format(
        "{} expired on {}: remove {} and {} to create a new CA (every agent must then pin the new fingerprint)",
        cert_path, format_timestamp(validity->second), key_path, cert_path));
  }
  return Ca{std::move(*cert), std::move(*key), std::move(**cert_text), false};
}

// Why the stored server certificate cannot be used, or "" when it can.
// Corrupt files are errors, not reasons: replacing them silently could hide
// tampering.
Result<std::string> renewal_reason(const PrivateDir& dir, std::optional<std::string_view> key_text,
                                   const std::optional<std::string>& cert_text, const Ca& ca, const SubjectNames& names,
                                   TimePoint now) {
  if (!key_text && !cert_text) return std::string("no server certificate yet");
  if (!key_text) return fmt::format("{} is missing", dir.path_of(kServerKey));
  if (!cert_text) return fmt::format("{} is missing", dir.path_of(kServerCert));
  const std::string cert_path = dir.path_of(kServerCert);
  auto key = parse_private_key_pem(*key_text, dir.path_of(kServerKey));
  if (!key) return key.error();
  auto cert = parse_certificate_pem(*cert_text, cert_path);
  if (!cert) return cert.error();
  if (!key_matches_certificate(cert->get(), key->get())) {
    return fmt::format("{} does not match {}", cert_path, dir.path_of(kServerKey));
  }
  if (!signed_by(cert->get(), ca.key.get())) return fmt::format("{} was not issued by the current CA", cert_path);
  auto validity = validity_of(cert->get(), cert_path);
  if (!validity) return validity.error();
  if (validity->first > now) {
    return fmt::format("{} is not valid until {}", cert_path, format_timestamp(validity->first));
  }
  if (validity->second <= now + kRenewBefore) {
    return fmt::format("{} expires on {}, within {} days", cert_path, format_timestamp(validity->second),
                       kRenewBefore.count());
  }
  if (std::string name = first_uncovered_name(cert->get(), names); !name.empty()) {
    return fmt::format("{} does not cover {}", cert_path, name);
  }
  return std::string();
}

Result<ServerTls> ensure_own_ca(const TlsOptions& opts) {
  auto names = make_subject_names(opts.dns_names, opts.ip_addresses);
  if (!names) return names.error();
  auto dir = PrivateDir::open_or_create(opts.dir);
  if (!dir) return dir.error();
  auto ca = load_or_create_ca(*dir, *names, opts.now, opts.may_create_ca);
  if (!ca) return ca.error();

  ServerTls out;
  out.created_ca = ca->created;
  auto key_text = dir->read(kServerKey, FileKind::kPrivateKey);
  if (!key_text) return key_text.error();
  const bool have_key = key_text->has_value();
  const SecretString key_pem(have_key ? std::move(**key_text) : std::string());
  auto cert_text = dir->read(kServerCert, FileKind::kPublic);
  if (!cert_text) return cert_text.error();
  auto reason = renewal_reason(*dir, have_key ? std::optional<std::string_view>(key_pem.str()) : std::nullopt,
                               *cert_text, *ca, *names, opts.now);
  if (!reason) return reason.error();

  std::string server_cert_pem;
  if (reason->empty()) {
    server_cert_pem = std::move(**cert_text);
  } else {
    auto key = generate_p256_key();
    if (!key) return key.error();
    auto cert = issue_server_certificate(key->get(), ca->cert.get(), ca->key.get(), *names, opts.now);
    if (!cert) return cert.error();
    auto new_key_pem = private_key_to_pem(key->get());
    if (!new_key_pem) return new_key_pem.error();
    auto new_cert_pem = certificate_to_pem(cert->get());
    if (!new_cert_pem) return new_cert_pem.error();
    // Key first: a crash in between leaves a key that does not match the old
    // certificate, which the next start re-issues.
    if (auto s = dir->replace(kServerKey, new_key_pem->str(), kKeyMode); !s) return s.error();
    if (auto s = dir->replace(kServerCert, *new_cert_pem, kCertMode); !s) return s.error();
    server_cert_pem = std::move(*new_cert_pem);
    out.key_pem = std::make_shared<const SecretString>(std::move(*new_key_pem));
    out.renewed_server_cert = true;
    out.renewal_reason = std::move(*reason);
  }

  std::string chain = server_cert_pem;
  if (!chain.empty() && chain.back() != '\n') chain += '\n';
  chain += ca->cert_pem;
  auto old_chain = dir->read(kServerChain, FileKind::kPublic);
  if (!old_chain) return old_chain.error();
  if (*old_chain != chain) {
    if (auto s = dir->replace(kServerChain, chain, kCertMode); !s) return s.error();
  }
  if (auto s = dir->sync(); !s) return s.error();

  auto pin = fingerprint_of_certificate(ca->cert.get());
  if (!pin) return pin.error();
  auto leaf = parse_certificate_pem(server_cert_pem, dir->path_of(kServerCert));
  if (!leaf) return leaf.error();
  auto validity = validity_of(leaf->get(), dir->path_of(kServerCert));
  if (!validity) return validity.error();
  out.not_after = validity->second;
  out.served_chain_pem = chain;
  if (!out.renewed_server_cert) out.key_pem = std::make_shared<const SecretString>(std::string(key_pem.str()));
  out.cert_chain_pem_path = dir->path_of(kServerChain);
  out.key_path = dir->path_of(kServerKey);
  out.ca_cert_path = dir->path_of(kCaCert);
  out.pin_fingerprint = std::move(*pin);
  return out;
}

// Whether the chain in cert_file leads to the first certificate in ca_file
// (the one agents pin) at `now`.
Status check_chains_to(const std::vector<X509Ptr>& chain, const std::vector<X509Ptr>& anchors, TimePoint now,
                       const std::string& cert_file, const std::string& ca_file) {
  const X509StorePtr store(X509_STORE_new());
  const X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  const X509StackPtr untrusted(sk_X509_new_null());
  if (!store || !ctx || !untrusted) {
    return openssl_error(ErrorCode::kInternal, "cannot set up certificate verification");
  }
  // Only the certificate agents will pin is trusted; the rest of either file
  // may supply intermediates.
  if (X509_STORE_add_cert(store.get(), anchors.front().get()) != 1) {
    return openssl_error(ErrorCode::kInternal, "cannot add a CA certificate for verification");
  }
  const auto add_untrusted = [&](const std::vector<X509Ptr>& certs) {
    for (std::size_t i = 1; i < certs.size(); ++i) {
      if (sk_X509_push(untrusted.get(), certs[i].get()) <= 0) return false;
    }
    return true;
  };
  if (!add_untrusted(chain) || !add_untrusted(anchors)) {
    return openssl_error(ErrorCode::kInternal, "cannot collect the certificate chain");
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), chain.front().get(), untrusted.get()) != 1) {
    return openssl_error(ErrorCode::kInternal, "cannot set up certificate verification");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(now.time_since_epoch().count()));
  // ca_file may hold an intermediate rather than a root; pinning it is fine.
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return invalid_argument(fmt::format("the certificate in {} does not chain to the CA in {}: {}", cert_file, ca_file,
                                        X509_verify_cert_error_string(err)));
  }
  return {};
}

Result<ServerTls> use_admin_supplied(const TlsOptions& opts) {
  const std::string& cert_file = *opts.cert_file;
  const std::string& key_file = *opts.key_file;
  auto cert_text = read_checked_file(AT_FDCWD, cert_file, cert_file, FileKind::kPublic, Symlinks::kFollow);
  if (!cert_text) return cert_text.error();
  auto key_text = read_checked_file(AT_FDCWD, key_file, key_file, FileKind::kPrivateKey, Symlinks::kFollow);
  if (!key_text) return key_text.error();
  const SecretString key_pem(std::move(*key_text));

  auto chain = parse_certificate_chain_pem(*cert_text, cert_file);
  if (!chain) return chain.error();
  auto key = parse_private_key_pem(key_pem.str(), key_file);
  if (!key) return key.error();
  X509* leaf = chain->front().get();
  if (!key_matches_certificate(leaf, key->get())) {
    return invalid_argument(
        fmt::format("{} does not match the certificate in {}: give the key that belongs to it", key_file, cert_file));
  }
  auto validity = validity_of(leaf, cert_file);
  if (!validity) return validity.error();
  if (validity->first > opts.now) {
    return invalid_argument(
        fmt::format("the certificate in {} is not valid until {}", cert_file, format_timestamp(validity->first)));
  }
  if (validity->second <= opts.now) {
    return invalid_argument(
        fmt::format("the certificate in {} expired on {}: renew it", cert_file, format_timestamp(validity->second)));
  }

  ServerTls out;
  out.cert_chain_pem_path = cert_file;
  out.key_path = key_file;
  out.not_after = validity->second;
  out.served_chain_pem = *cert_text;
  if (!out.served_chain_pem.empty() && out.served_chain_pem.back() != '\n') out.served_chain_pem += '\n';
  if (opts.ca_file) {
    auto ca_text = read_checked_file(AT_FDCWD, *opts.ca_file, *opts.ca_file, FileKind::kPublic, Symlinks::kFollow);
    if (!ca_text) return ca_text.error();
    auto anchors = parse_certificate_chain_pem(*ca_text, *opts.ca_file);
    if (!anchors) return anchors.error();
    if (auto s = check_chains_to(*chain, *anchors, opts.now, cert_file, *opts.ca_file); !s) return s.error();
    auto pin = fingerprint_of_certificate(anchors->front().get());
    if (!pin) return pin.error();
    // A company CA's root or Let's Encrypt's ISRG root is usually not in
    // the chain file; a client finds only what the server presents.
    bool presented = false;
    for (const auto& cert : *chain) {
      auto fp = fingerprint_of_certificate(cert.get());
      if (fp && *fp == *pin) presented = true;
    }
    if (!presented) {
      auto anchor_pem = certificate_to_pem(anchors->front().get());
      if (!anchor_pem) return anchor_pem.error();
      out.served_chain_pem += *anchor_pem;
    }
    out.ca_cert_path = *opts.ca_file;
    out.pin_fingerprint = std::move(*pin);
  } else {
    auto pin = fingerprint_of_certificate(leaf);
    if (!pin) return pin.error();
    out.pin_fingerprint = std::move(*pin);
  }
  out.key_pem = std::make_shared<const SecretString>(std::string(key_pem.str()));
  return out;
}

}  // namespace

Result<ServerTls> ensure_server_tls(const TlsOptions& opts) {
  // Errors left by unrelated callers must not end up in our messages.
  ERR_clear_error();
  if (opts.cert_file.has_value() != opts.key_file.has_value()) {
    return invalid_argument(
        "a TLS certificate file and key file go together: set both, or neither to let hoistd run its own CA");
  }
  if (opts.cert_file) return use_admin_supplied(opts);
  if (opts.ca_file) {
    return invalid_argument(
        "a TLS CA file is only used with an admin-supplied certificate and key; hoistd's own CA is in its TLS "
        "directory");
  }
  return ensure_own_ca(opts);
}

}  // namespace hoist::tls
