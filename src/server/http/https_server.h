// hoistd's HTTPS server: Boost.Beast over Asio with C++20 coroutines. This
// header names neither; only https_server.cpp and tls_stream.cpp (its TLS
// stream, Asio only) include them, because each such file takes long to compile.
//
// One I/O thread runs every connection (TLS, parsing, timeouts); handlers
// run on a separate pool of threads, so a slow handler (an Argon2id hash, a
// database write) never stalls other connections. Only a QuickHandler's
// answers from memory are given on the I/O thread itself.
//
// MUST: every read has a deadline and every request a size limit, so a slow
// or hostile client holds at most one connection slot for a bounded time.
// MUST: a body is read only once the Admitter (when given) admitted the
// request on its head, and only up to the size it admitted: a client
// without credentials cannot make the server hold a large body.
// MUST: one address (IPv4, or IPv6 /64) holds at most
// max_connections_per_address connections besides its waiting long polls,
// and when max_connections are open a new connection takes the place of
// the one idle longest (a TLS handshake or a wait for a request): a flood
// of connections that never finish TLS cannot keep others out.
// MUST: a connection from an address in proxy_protocol_from is served only
// after a valid PROXY protocol v2 header (net/proxy_protocol.h), and then
// as the client's it names; from any other address none is read.
// MUST: refusing connections logs a summary at most once per
// kShedLogInterval, never a line per connection.
// MUST: a request the parser cannot read as HTTP/1.1 is answered 400
// before the connection closes.
// MUST: on stop (SIGTERM), requests already being handled finish and are
// answered; idle keep-alive connections are closed; long polls are answered
// at once; after drain_timeout whatever is left is cut off.
// MUST: TLS 1.2 and 1.3 only; TLS 1.2 offers only ECDHE suites with an AEAD
// cipher (AES-GCM, ChaCha20-Poly1305), never CBC.
// MUST: a certificate reload never touches an open connection, and a
// reload that fails leaves the certificate served as it was.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "log/logger.h"
#include "net/http_message.h"
#include "net/proxy_protocol.h"

namespace hoist::server {

struct HttpLimits {
  std::size_t max_body_bytes = std::size_t{1} << 20;     // larger bodies get 400
  std::size_t max_header_bytes = std::size_t{16} << 10;  // request line and headers
  std::chrono::seconds handshake_timeout{5};
  std::chrono::seconds request_timeout{30};  // to read one request, and to write its response
  std::chrono::seconds idle_timeout{75};     // keep-alive: waiting for the next request
  // At this many open connections a new one takes the place of the one idle
  // longest; when none is idle (all busy or in long polls), it is closed.
  std::size_t max_connections = 4096;
  // Connections from one address (IPv4, IPv6 /64) besides those waiting in
  // a long poll: more are closed at once.
  std::size_t max_connections_per_address = 256;
  // Long polls re-poll at least this often: a safety net, since wake()
  // answers them as soon as something changes.
  std::chrono::seconds long_poll_recheck{30};
  std::chrono::seconds drain_timeout{20};  // on stop, the wait for in-flight requests
};

// Refused and shed connections are logged as one summary per interval.
inline constexpr std::chrono::seconds kShedLogInterval{10};

struct HttpsServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8443;  // 0: any free port (see HttpsServer::port)
  int handler_threads = 4;
  std::string cert_chain_file;  // PEM: server certificate, then its chain
  std::string key_file;         // PEM private key
  // Or the same PEM text, already read (used when cert_chain_pem is not
  // empty; the key's text is wiped once loaded).
  std::string cert_chain_pem;
  std::string key_pem;
  // Sent with every response (docs/hoistd.md says why every one); "" sends
  // none.
  std::string strict_transport_security = "max-age=31536000";
  HttpLimits limits;
  // Peers (a load balancer) whose connections start with a PROXY protocol
  // v2 header naming the client, within handshake_timeout; the client's
  // address then counts for everything (per-address limits, the request's
  // remote_address). A connection from one of them without a valid header
  // is closed; from any other address no header is ever read.
  std::vector<net::AddressPrefix> proxy_protocol_from;
  bool handle_signals = true;  // SIGTERM and SIGINT stop the server gracefully
  // With handle_signals: SIGHUP runs this on a handler thread (never in a
  // signal handler, never on the I/O thread), one run at a time; a SIGHUP
  // during a run is logged and dropped. Typically it calls reload_tls.
  std::function<void()> on_reload;
};

class HttpsServer {
 public:
  // Loads the certificate and key and binds the listening socket (so the
  // port is known when this returns). Fails with InvalidArgument for an
  // unusable certificate or key, Unavailable when the address cannot be bound.
  // `quick`, when given, may answer a request on the I/O thread from memory
  // (see net::QuickHandler) before it goes to `handler` on the pool.
  // `admit`, when given, sees the head of every request that announces a
  // body, on the pool, before any of the body is read (net::Admitter);
  // without it every body up to max_body_bytes is read.
  // `observe`, when given, hears of every answer the server writes
  // (net::ExchangeObserver), its own refusals included.
  static Result<std::unique_ptr<HttpsServer>> create(const HttpsServerOptions& options, net::Handler handler,
                                                     log::Logger& log, net::QuickHandler quick = {},
                                                     net::Admitter admit = {}, net::ExchangeObserver observe = {});

  virtual ~HttpsServer() = default;
  HttpsServer() = default;
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  [[nodiscard]] virtual std::uint16_t port() const = 0;
  // Connections open now (TLS handshakes, requests, keep-alive waits and
  // long polls). Thread-safe.
  [[nodiscard]] virtual std::size_t open_connections() const = 0;
  // Serves on the calling thread until stop() (or a signal) and the drain
  // that follows it; then returns.
  virtual void run() = 0;
  // Thread-safe; returns at once. run() returns when the drain is over.
  virtual void stop() = 0;
  // Thread-safe: new connections are served with this certificate chain
  // (leaf first) and key from now on; connections already open go on with
  // the one they began with. InvalidArgument, and nothing changes, when the
  // text is not PEM or the key does not belong to the leaf.
  virtual Status reload_tls(std::string_view cert_chain_pem, std::string_view key_pem) = 0;
  // Thread-safe: makes every waiting long poll poll again now.
  virtual void wake() = 0;
  // Thread-safe: makes the long polls whose LongPoll::key is `key` (and
  // those without a key) poll again now; others keep waiting, so a change
  // for one agent costs one poll, not one per connected agent.
  virtual void wake(std::string_view key) = 0;
  // Thread-safe: true when the event loop ran a task posted to it within
  // `timeout` (systemd's watchdog asks this; a loop stuck in a handler
  // or a dead lock answers false). False once the server has stopped.
  [[nodiscard]] virtual bool responsive(std::chrono::milliseconds timeout) = 0;
};

}  // namespace hoist::server
