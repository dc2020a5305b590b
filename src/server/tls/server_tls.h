// hoistd's TLS identity. On first start hoistd creates its own CA and a
// server certificate signed by it in its data directory, and prints the CA's
// SHA-256 fingerprint so agents and the CLI can pin it. On later starts it
// reuses them and re-issues only the server certificate when needed, so the
// pin stays valid. An admin may supply a certificate and key instead.
//
// MUST: private keys are ECDSA P-256, written with mode 0600 into a 0700
// directory owned by hoistd's user; a key file that group or others can
// access is refused, never silently fixed (see private_dir.h).
// MUST: every file is written atomically; a crash leaves the old file or
// the new one, never a mix.
// MUST: the CA is never replaced implicitly: a missing half (ca.key without
// ca.crt or the reverse), a CA key that does not match its certificate, a
// certificate that is not a CA, or an expired CA is an error, because a new
// CA would invalidate every agent's pin.
// MUST: the server certificate is re-issued (new key, same CA) when it
// expires within 30 days, is not yet valid, does not match its key, was not
// issued by the CA, or does not cover every requested name.
// MUST: an admin-supplied certificate is used only when its key matches and
// it is valid at `now`; with ca_file, only when it chains to ca_file's first
// certificate. Its key file is checked like hoistd's own (private_dir.h:
// owned by hoistd's user or root, no access for group or others).
// MUST: unreadable or corrupt files are errors, never crashes and never a
// reason to replace a CA.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/result.h"
#include "server/tls/certificates.h"

namespace hoist::tls {

struct TlsOptions {
  // Where hoistd keeps its own CA, e.g. <data>/tls. Unused when cert_file is
  // set.
  std::string dir;
  // Names the server certificate must cover besides localhost, 127.0.0.1 and
  // ::1, which are always included. The first DNS name is the certificate's
  // CN and appears in the CA's name.
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  // Admin-supplied mode: cert_file (leaf first, chain may follow) and
  // key_file together; ca_file optionally names the CA agents should pin.
  std::optional<std::string> cert_file;
  std::optional<std::string> key_file;
  std::optional<std::string> ca_file;
  // Validity is checked and certificates are dated against this, never the
  // system clock.
  TimePoint now;
  // Whether a missing own CA (no ca.crt and no ca.key) may be created: only
  // on a start. A reload (SIGHUP) that finds both gone is refused, rather
  // than serving a new CA every agent's pin refuses (NotFound).
  bool may_create_ca = true;
};

struct ServerTls {
  // Server certificate followed by its chain, for
  // SSL_CTX_use_certificate_chain_file.
  std::string cert_chain_pem_path;
  std::string key_path;
  // The CA certificate; "" for an admin-supplied certificate without ca_file.
  std::string ca_cert_path;
  // SHA-256 of the CA certificate's DER, "AB:CD:...". Admin-supplied: of the
  // first certificate in ca_file if given, else of the leaf.
  std::string pin_fingerprint;
  // This call created a new CA; agents must be told the new fingerprint.
  bool created_ca = false;
  // This call wrote a new server certificate and key (also on first start).
  bool renewed_server_cert = false;
  // Why the server certificate was (re)issued, for the log; "" when reused.
  std::string renewal_reason;
  // What hoistd serves, as read (the files are not opened again): the
  // leaf, its chain and, in admin-supplied mode with ca_file, the pinned CA
  // certificate when the chain lacks it, so that agents and the CLI find
  // the certificate they pin among those the server presents.
  std::string served_chain_pem;
  std::shared_ptr<const SecretString> key_pem;  // shared: ServerTls is copied
  // When the leaf expires.
  TimePoint not_after{};
};

// Makes sure hoistd has a usable certificate and key and says where they
// are. Own-CA mode (no cert_file): opens or creates opts.dir and creates,
// reuses or re-issues the files ca.key, ca.crt, server.key, server.crt and
// server-chain.pem in it. Admin-supplied mode: checks cert_file and key_file
// and uses them as they are.
//
// Fails closed with InvalidArgument, saying what to change, for bad options
// (cert_file without key_file or the reverse, ca_file without cert_file,
// unusable names), a refused directory or file (see the invariants above and
// private_dir.h), corrupt PEM, a mismatched key or a certificate that is not
// valid at opts.now; NotFound for a missing admin-supplied file; Unavailable
// for I/O errors; Internal when OpenSSL fails to generate or sign.
Result<ServerTls> ensure_server_tls(const TlsOptions& opts);

}  // namespace hoist::tls
