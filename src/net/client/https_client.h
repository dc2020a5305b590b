// The HTTPS client of the CLI and the agent: synchronous, one keep-alive
// connection to one hoistd. This header names neither Beast nor Asio;
// https_client.cpp is the only file that includes them.
//
// MUST: fail closed. A client is made only with a way to trust the server
// (a CA file, the system's CAs, a pinned fingerprint, or a CA and a pin),
// and a server that does not pass
// every configured check is refused before a byte of any request is sent.
// MUST: a pin is a SHA-256 fingerprint (see net/tls/fingerprint.h) of a
// certificate in the chain the server presents, the CA or the leaf itself;
// the leaf must then verify against that certificate alone, for the URL's
// host name or IP address and at the current time.
// MUST: a request that may have reached the server is re-sent only when it
// is safe (GET, HEAD, OPTIONS); see HttpsClient::request for the exact rule.
// MUST: every wait has a deadline (connect_timeout, request_timeout), except
// the system resolver's own for DNS names.
// MUST: a DNS name that resolves to several addresses is tried one address
// at a time (at most 16), each with its own connect_timeout and every check
// above: an address that fails the trust check is never used, the next one
// is tried; the one that worked is tried first next time.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "net/http_message.h"

namespace hoist::net {

struct ClientOptions {
  // https://HOST[:PORT], HOST a DNS name, an IPv4 address or an [IPv6]
  // address; the port defaults to 443. No user, path (but "/"), query or
  // fragment.
  std::string url;
  // PEM file with the CA certificate(s) to verify the server against.
  std::optional<std::string> ca_file;
  // Or the PEM text itself, already read (a file is never opened again:
  // notify/ca_file.h). Used when ca_file is not set.
  std::optional<std::string> ca_pem;
  // Without ca_file: verify the server against the system's CA store
  // (OpenSSL's default paths), for a URL's host name or address, as a
  // browser would (hoistd's webhooks to receivers on the internet).
  bool system_ca = false;
  // "AB:CD:..." (any form net/tls/fingerprint.h normalizes).
  std::optional<std::string> pin_fingerprint;
  std::chrono::seconds connect_timeout{10};                // for each of: the TCP connect, the TLS handshake
  std::chrono::seconds request_timeout{70};                // to send a request and read its whole response
  std::size_t max_response_bytes = std::size_t{16} << 20;  // larger response bodies fail
};

class HttpsClient {
 public:
  // Checks the options; does not connect (the first request does). Fails
  // with InvalidArgument for a URL that is not https://HOST[:PORT], a
  // malformed pin, none of ca_file, system_ca and pin_fingerprint (fail
  // closed), or a
  // ca_file without a usable certificate; NotFound when ca_file is missing.
  static Result<std::unique_ptr<HttpsClient>> create(ClientOptions options);

  virtual ~HttpsClient() = default;
  HttpsClient() = default;
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Sends one request and reads its response. Any HTTP status is a
  // response (map errors with net/http_error.h); a Result error means no
  // response: InvalidArgument for a method, target ("/..." printable ASCII)
  // or header the client cannot send, or for the headers it sets itself
  // (Host, Content-Length, Transfer-Encoding, Connection, TE, Upgrade);
  // PermissionDenied when the server is not the trusted one; Unavailable
  // for connection failures and timeouts; Internal for a bug. Never throws.
  //
  // Sets Host, User-Agent "hoist/0.1.0", Content-Length, and Content-Type
  // application/json when there is a body; `headers` may replace User-Agent
  // and Content-Type.
  //
  // Keeps the connection open while the server allows it. Reconnect rule:
  //  1. Before reusing the kept connection, the client checks without
  //     waiting whether the server closed it (or sent anything unasked); if
  //     so it opens a new one. Nothing had been sent, so this is always safe.
  //  2. If a request on a reused connection then fails after (part of) it
  //     was written but before any byte of the response arrived (the server
  //     closed or reset the connection; not a timeout), a GET, HEAD or
  //     OPTIONS request is sent once more on a new connection. Any other
  //     method is never re-sent: it fails with Unavailable, saying the
  //     server may or may not have processed it.
  //  A failure on a new connection, a timeout, or a failure after part of
  //  the response arrived is never retried.
  //
  // Not thread-safe: one request at a time.
  virtual Result<HttpResponse> request(std::string_view method, std::string_view target, std::string_view body = {},
                                       const std::vector<Header>& headers = {}) = 0;

  // After a request() that failed: true when nothing of it was sent (every
  // address of the URL refused, did not answer in time, failed the TLS
  // handshake or the trust check), so that another server may be asked
  // whatever the method (net/client/failover_client.h); false otherwise.
  [[nodiscard]] virtual bool last_failure_was_before_sending() const = 0;

  // Thread-safe: a request in progress on another thread (a long poll)
  // ends at once with Unavailable, and so does every later one. For a
  // daemon's shutdown.
  virtual void interrupt() = 0;
};

}  // namespace hoist::net
