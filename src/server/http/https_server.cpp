// The only translation unit of hoistd that includes Beast (Asio also in
// tls_stream.cpp, its TLS stream); see https_server.h for the threading
// model and the MUST rules it keeps.
#include "server/http/https_server.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <deque>
#include <fstream>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "net/http_error.h"
#include "net/json_text.h"
#include "server/http/poll_batches.h"
#include "server/http/tls_stream.h"

namespace hoist::server {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Stream = TlsStream;
using BeastRequest = bhttp::request<bhttp::string_body>;
using BeastResponse = bhttp::response<bhttp::string_body>;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
// Read buffer capacity kept between requests (Beast reads 512 bytes and up).
constexpr std::size_t kKeptReadBuffer = 4096;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

bool contains_ci(std::string_view haystack, std::string_view needle) {
  return lower(haystack).find(needle) != std::string::npos;
}

// Turns the head of Beast's request (the body is not read yet) into Hoist's
// plain request without a body. Fails (for a 400) when the target is not
// an origin-form URL, or when its path hides a '/' or a NUL behind
// percent-encoding, or decodes to invalid UTF-8, or a query parameter
// holds NUL: routing works on decoded segments, so those would be
// ambiguous.
Result<net::HttpRequest> convert_head(const BeastRequest& in, const std::string& remote) {
  net::HttpRequest out;
  out.method = std::string(in.method_string());
  out.target = std::string(in.target());
  auto parsed = boost::urls::parse_origin_form(out.target);
  if (!parsed) {
    return invalid_argument(fmt::format("the request target is not a valid URL path: {}", parsed.error().message()));
  }
  const auto encoded_path = parsed->encoded_path();
  if (contains_ci(encoded_path, "%2f") || contains_ci(encoded_path, "%00")) {
    return invalid_argument("the request path must not contain an encoded '/' (%2F) or NUL (%00)");
  }
  out.path = parsed->path();
  if (!net::is_valid_utf8(out.path)) {
    return invalid_argument("the request path is not valid UTF-8 once percent-decoded");
  }
  for (const auto& param : parsed->params()) {
    if (!net::is_valid_utf8(param.key) || !net::is_valid_utf8(param.value)) {
      return invalid_argument("a query parameter is not valid UTF-8 once percent-decoded");
    }
    // As in the path and in JSON bodies: no field has a use for NUL, and
    // PostgreSQL's text cannot hold it (libpq would cut the value there).
    if (param.key.find('\0') != std::string::npos || param.value.find('\0') != std::string::npos) {
      return invalid_argument("a query parameter must not contain NUL (%00)");
    }
    out.query.emplace_back(param.key, param.value);
  }
  for (const auto& field : in) {
    out.headers.push_back({lower(field.name_string()), std::string(field.value())});
  }
  out.remote_address = remote;
  return out;
}

// Whether a read failed because the bytes are not HTTP/1.1 the parser can
// read (an answer is due), rather than because the peer left or was slow.
bool is_malformed(const boost::system::error_code& ec) {
  if (ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category()) return false;
  return ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message && ec != bhttp::error::need_more &&
         ec != bhttp::error::need_buffer;
}

// What connections from one place are counted by: an IPv4 address (also
// when IPv4-mapped), or the /64 prefix of an IPv6 address (one host is
// usually given a whole /64, so per address would be no limit at all).
std::string address_group(const asio::ip::address& address) {
  if (!address.is_v6()) return address.to_string();
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
  auto bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), std::uint8_t{0});
  return asio::ip::address_v6(bytes).to_string() + "/64";
}

// TLS 1.2's suites, best first: ECDHE with AES-GCM or ChaCha20-Poly1305,
// for an ECDSA key (hoistd's own) or an RSA key (an admin's certificate).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384";

struct FreeSslCtx {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, FreeSslCtx>;

// OpenSSL's latest queued error as text (and the queue emptied).
std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  std::string out = code == 0 ? std::string("unknown OpenSSL error")
                              : std::string(ERR_reason_error_string(code) != nullptr ? ERR_reason_error_string(code)
                                                                                     : "unknown OpenSSL error");
  ERR_clear_error();
  return out;
}

Result<std::string> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid_argument(fmt::format("cannot read {}", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A server context with hoistd's protocol and cipher choice and the given
// certificate chain (leaf first) and key, all read from memory. The key
// must belong to the leaf.
Result<SslCtxPtr> make_server_context(std::string_view chain_pem, std::string_view key_pem,
                                      const std::string& chain_source, const std::string& key_source) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return internal_error(fmt::format("cannot make a TLS context: {}", openssl_reason()));
  SSL_CTX* c = ctx.get();
  // TLS 1.2 and 1.3 only; no renegotiation, no compression, a fresh ECDHE
  // key for every handshake; OpenSSL's harmless interoperability
  // workarounds (SSL_OP_ALL, as Asio's default_workarounds set before).
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_ALL | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_SINGLE_DH_USE |
                             SSL_OP_SINGLE_ECDH_USE | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // TLS 1.2: forward secrecy (ECDHE) and AEAD only, for ECDSA and RSA keys:
  // no CBC suite (Lucky13, and the padding oracles that come back with each
  // new implementation), no static RSA key exchange, no DHE.
  if (SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1) {
    return internal_error(fmt::format("cannot set the TLS 1.2 cipher suites: {}", openssl_reason()));
  }
  // TLS 1.3: AES-128-GCM first (the suite every TLS 1.3 peer has), chosen
  // by the server: it is the fastest here and keeps the least state per
  // connection, which counts with thousands of agents' long polls.
  if (SSL_CTX_set_ciphersuites(c, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384") != 1) {
    return internal_error(fmt::format("cannot set the TLS 1.3 cipher suites: {}", openssl_reason()));
  }
  const std::unique_ptr<BIO, decltype(&BIO_free)> chain_bio(
      BIO_new_mem_buf(chain_pem.data(), static_cast<int>(chain_pem.size())), &BIO_free);
  if (!chain_bio) return internal_error("cannot read a certificate chain: out of memory");
  X509* leaf = PEM_read_bio_X509_AUX(chain_bio.get(), nullptr, nullptr, nullptr);
  if (leaf == nullptr) {
    return invalid_argument(fmt::format("cannot use the certificate chain in {}: no PEM certificate", chain_source));
  }
  const int used = SSL_CTX_use_certificate(c, leaf);
  X509_free(leaf);
  if (used != 1) {
    return invalid_argument(fmt::format("cannot use the certificate in {}: {}", chain_source, openssl_reason()));
  }
  while (X509* next = PEM_read_bio_X509(chain_bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(c, next) != 1) {
      X509_free(next);
      return invalid_argument(
          fmt::format("cannot use the certificate chain in {}: {}", chain_source, openssl_reason()));
    }
  }
  ERR_clear_error();  // the end of the PEM text
  const std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), &BIO_free);
  if (!key_bio) return internal_error("cannot read a private key: out of memory");
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    ERR_clear_error();
    return invalid_argument(fmt::format("cannot use the private key in {}: no unencrypted PEM key", key_source));
  }
  const int key_used = SSL_CTX_use_PrivateKey(c, key);
  EVP_PKEY_free(key);
  if (key_used != 1 || SSL_CTX_check_private_key(c) != 1) {
    ERR_clear_error();
    return invalid_argument(
        fmt::format("the private key in {} does not belong to the certificate in {}", key_source, chain_source));
  }
  return ctx;
}

class ServerImpl final : public HttpsServer {
 public:
  ServerImpl(HttpsServerOptions options, net::Handler handler, net::QuickHandler quick, net::Admitter admit,
             net::ExchangeObserver observe, log::Logger& log)
      : opts_(std::move(options)),
        handler_(std::move(handler)),
        quick_(std::move(quick)),
        admit_(std::move(admit)),
        observe_(std::move(observe)),
        log_(log),
        pool_(static_cast<std::size_t>(std::max(1, opts_.handler_threads))) {}

  ~ServerImpl() override {
    pool_.stop();
    pool_.join();
    // After a drain timeout, destroying io_ destroys suspended sessions,
    // whose cleanup must not touch members destroyed before io_.
    destroying_ = true;
  }
  ServerImpl(const ServerImpl&) = delete;
  ServerImpl& operator=(const ServerImpl&) = delete;

  Status init() {
    boost::system::error_code ec;
    if (!opts_.cert_chain_pem.empty()) {
      auto ctx =
          make_server_context(opts_.cert_chain_pem, opts_.key_pem, "the certificate given", "the private key given");
      OPENSSL_cleanse(opts_.key_pem.data(), opts_.key_pem.size());
      opts_.key_pem.clear();
      if (!ctx) return ctx.error();
      tls_ = std::move(*ctx);
    } else {
      auto chain = read_whole_file(opts_.cert_chain_file);
      if (!chain) return chain.error();
      auto key = read_whole_file(opts_.key_file);
      if (!key) return key.error();
      auto ctx = make_server_context(*chain, *key, opts_.cert_chain_file, opts_.key_file);
      OPENSSL_cleanse(key->data(), key->size());
      if (!ctx) return ctx.error();
      tls_ = std::move(*ctx);
    }

    const auto address = asio::ip::make_address(opts_.address, ec);
    if (ec) {
      return invalid_argument(fmt::format("'{}' is not an IP address to listen on", opts_.address));
    }
    const tcp::endpoint endpoint(address, opts_.port);
    const auto fail = [&](std::string_view step) {
      return unavailable(
          fmt::format("cannot listen on {} port {} ({}): {}", opts_.address, opts_.port, step, ec.message()));
    };
    if (acceptor_.open(endpoint.protocol(), ec); ec) {
      return fail("open");
    }
    if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec) {
      return fail("SO_REUSEADDR");
    }
    if (acceptor_.bind(endpoint, ec); ec) {
      return fail("bind");
    }
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
      return fail("listen");
    }
    port_ = acceptor_.local_endpoint(ec).port();
    if (opts_.handle_signals) {
      // Caught from here on, before hoistd says it is ready: a SIGTERM
      // that comes before run() waits in the set instead of killing the
      // process mid-start (an exit status of 143 instead of a clean stop).
      signals_.add(SIGTERM, ec);
      if (ec) return fail("SIGTERM");
      signals_.add(SIGINT, ec);
      if (ec) return fail("SIGINT");
      if (opts_.on_reload) {
        signals_.add(SIGHUP, ec);
        if (ec) return fail("SIGHUP");
      }
    }
    return {};
  }

  [[nodiscard]] std::uint16_t port() const override { return port_; }
  [[nodiscard]] std::size_t open_connections() const override { return open_connections_.load(); }

  void run() override {
    asio::co_spawn(io_, accept_loop(), [this](const std::exception_ptr& e) { log_failure("accept_loop", e); });
    if (opts_.handle_signals) wait_for_signal();
    log_.info("http.listening", {{"address", opts_.address}, {"port", static_cast<int>(port_)}});
    io_.run();
    log_.info("http.stopped");
  }

  void stop() override {
    asio::post(io_, [this] { begin_stop(); });
  }

  Status reload_tls(std::string_view cert_chain_pem, std::string_view key_pem) override {
    auto ctx = make_server_context(cert_chain_pem, key_pem, "the new certificate", "the new private key");
    if (!ctx) return ctx.error();
    SslCtxPtr old;
    {
      const std::lock_guard lock(tls_mu_);
      old = std::exchange(tls_, std::move(*ctx));
    }
    // Connections made with the old context hold their own reference to it
    // (SSL_new takes one): they go on until they end.
    return {};
  }

  void wake() override {
    wake_generation_.fetch_add(1);
    {
      const std::lock_guard lock(wake_mu_);
      wake_all_ = true;
      wake_keys_.clear();
    }
    post_wakes();
  }

  bool responsive(std::chrono::milliseconds timeout) override {
    if (io_.stopped()) return false;
    auto ran = std::make_shared<std::promise<void>>();
    auto future = ran->get_future();
    asio::post(io_, [ran] { ran->set_value(); });
    return future.wait_for(timeout) == std::future_status::ready;
  }

  void wake(std::string_view key) override {
    // The generation moves for every wake, so a poll that registers while
    // this one is on its way polls once more instead of missing it.
    wake_generation_.fetch_add(1);
    {
      const std::lock_guard lock(wake_mu_);
      if (!wake_all_) {
        // Wakes not yet delivered are kept as a set: a flood of them holds
        // at most kMaxPendingWakeKeys keys, past which it wakes everyone.
        if (wake_keys_.size() >= kMaxPendingWakeKeys) {
          wake_all_ = true;
          wake_keys_.clear();
        } else {
          wake_keys_.emplace(key);
        }
      }
    }
    post_wakes();
  }

 private:
  // Wakes not yet delivered to the I/O thread, past which they are one
  // wake of everything: what a flood of wake() holds is bounded.
  static constexpr std::size_t kMaxPendingWakeKeys = 4096;
  // Parked polls resume on a grid of this step (rechecks and deadlines
  // alike), so those due about the same time are polled in one batch.
  static constexpr std::chrono::milliseconds kResumeGrid{1000};

  // Delivers the pending wakes on the I/O thread: one post however many
  // wake() calls came meanwhile.
  void post_wakes() {
    {
      const std::lock_guard lock(wake_mu_);
      if (wake_posted_) return;
      wake_posted_ = true;
    }
    asio::post(io_, [this] { deliver_wakes(); });
  }

  void deliver_wakes() {
    bool all = false;
    std::unordered_set<std::string> keys;
    {
      const std::lock_guard lock(wake_mu_);
      wake_posted_ = false;
      all = std::exchange(wake_all_, false);
      keys.swap(wake_keys_);
    }
    if (destroying_) return;
    // Polls being polled now may have read before the change: each polls
    // again once its batch is back (Parked::woken_again).
    for (auto* batch : in_flight_) {
      for (auto& parked : *batch) {
        if (all || parked->poll->key.empty() || keys.contains(parked->poll->key)) parked->woken_again = true;
      }
    }
    if (all) {
      unpark_all();
      return;
    }
    std::vector<std::uint64_t> ids;
    keys.emplace();  // polls without a key hear every wake
    for (const auto& k : keys) {
      const auto [first, last] = parked_by_key_.equal_range(k);
      for (auto it = first; it != last; ++it) {
        ids.push_back(it->second);
      }
    }
    std::sort(ids.begin(), ids.end());
    for (const auto id : ids) {
      unpark(id);
    }
  }

  // A time on the resume grid, at or after t.
  static std::chrono::steady_clock::time_point on_grid(std::chrono::steady_clock::time_point t) {
    const auto since = t.time_since_epoch();
    const auto step = std::chrono::duration_cast<std::chrono::steady_clock::duration>(kResumeGrid);
    const auto rounded = ((since + step - std::chrono::steady_clock::duration{1}) / step) * step;
    return std::chrono::steady_clock::time_point(rounded);
  }

  void log_failure(std::string_view where, const std::exception_ptr& e) {
    if (!e) {
      return;
    }
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log_.error("http.coroutine_failed", {{"where", where}, {"what", ex.what()}});
    } catch (...) {
      log_.error("http.coroutine_failed", {{"where", where}, {"what", "unknown exception"}});
    }
  }

  // Signals are taken by the I/O loop (asio's signal_set), never handled
  // in a signal handler: SIGTERM and SIGINT begin the drain, SIGHUP runs
  // on_reload on the pool (it reads files; the I/O thread goes on serving)
  // and is waited for again.
  void wait_for_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      log_.info("http.signal", {{"signal", signal}});
      if (signal == SIGHUP && opts_.on_reload) {
        if (!reloading_.exchange(true)) {
          asio::post(pool_, [this] {
            try {
              opts_.on_reload();
            } catch (const std::exception& e) {
              log_.error("http.reload_exception", {{"what", e.what()}});
            } catch (...) {
              log_.error("http.reload_exception", {{"what", "unknown exception"}});
            }
            reloading_.store(false);
          });
        } else {
          log_.info("http.reload_already_running");
        }
        wait_for_signal();
        return;
      }
      begin_stop();
    });
  }

  // The context new connections are made with, with a reference of the
  // caller's: a reload on another thread may replace it meanwhile.
  SslCtxPtr current_tls() {
    const std::lock_guard lock(tls_mu_);
    SSL_CTX_up_ref(tls_.get());
    return SslCtxPtr(tls_.get());
  }

  // On the I/O thread.
  void begin_stop() {
    if (stopping_.exchange(true)) {
      return;
    }
    log_.info("http.draining", {{"connections", static_cast<std::uint64_t>(connections_.size())}});
    boost::system::error_code ec;
    acceptor_.close(ec);
    signals_.cancel(ec);
    for (auto* link : connections_) {
      if (link->idle) {
        link->stream.cancel();
      }
    }
    unpark_all();  // answered now, with poll(true)
    drain_timer_.expires_after(opts_.limits.drain_timeout);
    drain_timer_.async_wait([this](const boost::system::error_code& wait_ec) {
      if (!wait_ec) {
        log_.warn("http.drain_timeout", {{"connections_cut", static_cast<std::uint64_t>(connections_.size())}});
        io_.stop();
      }
    });
    maybe_finish_drain();
  }

  void maybe_finish_drain() {
    if (stopping_ && connections_.empty()) {
      drain_timer_.cancel();
      recheck_timer_.cancel();
      shed_timer_.cancel();
    }
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kUseTuple);
      if (stopping_) {
        co_return;
      }
      if (ec) {
        log_.warn("http.accept_failed", {{"error", ec.message()}});
        // Out of descriptors, say: back off instead of spinning.
        asio::steady_timer pause(io_, std::chrono::milliseconds(100));
        co_await pause.async_wait(kUseTuple);
        continue;
      }
      // A response goes out as the header's and the body's TLS records;
      // with Nagle's algorithm the body waited for the client's delayed ACK
      // of the header (40 ms on Linux) on every response with a body.
      boost::system::error_code nodelay_ec;
      socket.set_option(asio::ip::tcp::no_delay(true), nodelay_ec);
      boost::system::error_code remote_ec;
      const auto remote_endpoint = socket.remote_endpoint(remote_ec);
      const std::string remote = remote_ec ? std::string("unknown") : remote_endpoint.address().to_string();
      const std::string group = remote_ec ? remote : address_group(remote_endpoint.address());
      if (const auto refused = make_room(group, remote)) {
        note_shed(*refused, remote);
        boost::system::error_code close_ec;
        socket.close(close_ec);
        continue;
      }
      auto link = std::make_unique<Link>(*this, std::move(socket), remote, group);
      asio::co_spawn(io_, serve(std::move(link), nullptr),
                     [this](const std::exception_ptr& e) { log_failure("session", e); });
    }
  }

  // Runs the handler on the pool and comes back to the I/O thread.
  asio::awaitable<net::HttpResponse> on_pool(std::function<net::HttpResponse()> fn) {
    co_return co_await asio::co_spawn(
        pool_,
        [this, &fn]() -> asio::awaitable<net::HttpResponse> {
          try {
            co_return fn();
          } catch (const std::exception& e) {
            log_.error("http.handler_exception", {{"what", e.what()}});
          } catch (...) {
            log_.error("http.handler_exception", {{"what", "unknown exception"}});
          }
          co_return net::error_response(internal_error("the server failed to handle the request (this is a bug)"));
        },
        asio::use_awaitable);
  }

  std::optional<net::HttpResponse> answer_quickly(const net::HttpRequest& request) {
    if (!quick_) {
      return std::nullopt;
    }
    try {
      auto response = quick_(request);
      if (response && response->long_poll) {
        return std::nullopt;  // only handler_'s answers may wait
      }
      return response;
    } catch (...) {
      return std::nullopt;  // the handler answers it
    }
  }

  // One client connection. Owned by the coroutine serving it or, while a
  // long poll of its waits, by that poll's Parked entry; listed in
  // connections_ (for the drain) for as long as it exists.
  struct Link {
    Link(ServerImpl& owner, tcp::socket socket, std::string remote_address, std::string address_group)
        : server(owner),
          stream(std::move(socket), owner.current_tls().get()),
          remote(std::move(remote_address)),
          group(std::move(address_group)) {
      server.connections_.insert(this);
      server.open_connections_.store(server.connections_.size());
      ++server.by_address_[group].open;
      server.set_idle(*this, true);  // the handshake
    }
    ~Link() {
      if (server.destroying_) return;
      server.set_idle(*this, false);
      if (shed) --server.shedding_;
      if (const auto it = server.by_address_.find(group); it != server.by_address_.end() && --it->second.open == 0) {
        server.by_address_.erase(it);
      }
      server.connections_.erase(this);
      server.open_connections_.store(server.connections_.size());
      server.maybe_finish_drain();
    }
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    ServerImpl& server;
    Stream stream;
    std::string remote;
    std::string group;  // address_group(): what the per-address limit counts by
    beast::flat_buffer buffer;
    bool first = true;  // no request read yet: it gets request_timeout, not idle_timeout
    // Handshaking or waiting for a request: may be cut on stop, or closed
    // to make room (set_idle keeps idle_links_ in step).
    bool idle = false;
    std::optional<std::list<Link*>::iterator> idle_at;  // its place in idle_links_
    bool shed = false;                                  // closed to make room; counted in shedding_
  };

  // Why a connection was refused, or closed to make room.
  enum class Shed { kPerAddress, kFull, kIdleClosed };

  // What a new connection from `group` would exceed; nothing when it may
  // come in, after the connection idle longest was closed to make room if
  // the server is full.
  std::optional<Shed> make_room(const std::string& group, const std::string& remote) {
    const auto& limits = opts_.limits;
    if (const auto it = by_address_.find(group);
        it != by_address_.end() && it->second.open - it->second.parked >= limits.max_connections_per_address) {
      return Shed::kPerAddress;
    }
    if (connections_.size() - shedding_ < limits.max_connections) {
      return std::nullopt;
    }
    if (idle_links_.empty()) {
      return Shed::kFull;
    }
    Link& oldest = *idle_links_.front();
    set_idle(oldest, false);
    oldest.shed = true;
    ++shedding_;
    oldest.stream.close();
    note_shed(Shed::kIdleClosed, remote);
    return std::nullopt;
  }

  // Counts a refused or shed connection. The first of a quiet spell is
  // logged at once; the rest as one summary per kShedLogInterval while they
  // go on, so a flood costs no log line per connection.
  void note_shed(Shed what, const std::string& remote) {
    switch (what) {
      case Shed::kPerAddress: ++shed_log_.per_address; break;
      case Shed::kFull: ++shed_log_.full; break;
      case Shed::kIdleClosed: ++shed_log_.idle_closed; break;
    }
    shed_log_.last_remote = remote;
    if (shed_log_.window_open) return;
    shed_log_.window_open = true;
    log_shed();
    arm_shed_log();
  }

  void log_shed() {
    auto& l = shed_log_;
    if (l.per_address + l.full + l.idle_closed == 0) return;
    log_.warn("http.connections_shed",
              {{"refused_per_address", l.per_address},
               {"refused_server_full", l.full},
               {"closed_idle", l.idle_closed},
               {"last_remote", l.last_remote},
               {"max_connections", static_cast<std::uint64_t>(opts_.limits.max_connections)},
               {"max_connections_per_address", static_cast<std::uint64_t>(opts_.limits.max_connections_per_address)},
               {"window_s", static_cast<std::uint64_t>(kShedLogInterval.count())}});
    l.per_address = l.full = l.idle_closed = 0;
  }

  void arm_shed_log() {
    shed_timer_.expires_after(kShedLogInterval);
    shed_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || destroying_) return;
      auto& l = shed_log_;
      if (l.per_address + l.full + l.idle_closed == 0 || stopping_) {
        log_shed();
        l.window_open = false;
        return;
      }
      log_shed();
      arm_shed_log();
    });
  }

  // Keeps idle_links_ (oldest first) in step with link.idle. A shed link
  // is never listed again.
  void set_idle(Link& link, bool idle) {
    link.idle = idle;
    if (idle && !link.idle_at && !link.shed) {
      link.idle_at = idle_links_.insert(idle_links_.end(), &link);
    } else if (!idle && link.idle_at) {
      idle_links_.erase(*link.idle_at);
      link.idle_at.reset();
    }
  }

  // What answering a request needs besides the response.
  struct Exchange {
    unsigned version = 11;
    bool keep_alive = false;
    std::string method = "?";
    std::string path = "?";
    std::string route;  // of the first answer: a long poll's last one has it too
    std::chrono::steady_clock::time_point started;
  };

  // A long poll waiting for its answer: the connection and what the answer
  // needs. It resumes when wake() names it, at the recheck interval, or at
  // its deadline (one timer for all of them: recheck_). No coroutine
  // frame, parser, buffer or timer is held meanwhile: only this, the
  // LongPoll and the TLS state.
  struct Parked {
    std::uint64_t id = 0;
    std::unique_ptr<Link> link;
    Exchange exchange;
    std::shared_ptr<net::LongPoll> poll;
    std::uint64_t seen = 0;    // wake_generation_ before the handler looked (its first park)
    bool woken_again = false;  // woken while its batch was being polled: poll again
    std::multimap<std::chrono::steady_clock::time_point, std::uint64_t>::iterator recheck;
  };

  // On the I/O thread: hands the connection to a Parked entry; the coroutine
  // that served it ends.
  void park(std::unique_ptr<Parked> parked) {
    const auto id = parked->id = ++last_parked_id_;
    Link& link = *parked->link;
    set_idle(link, false);
    ++by_address_[link.group].parked;  // a waiting long poll: not counted against its address
    link.stream.expires_never();
    if (link.buffer.size() == 0) {
      link.buffer.shrink_to_fit();  // parked for up to a minute: hold no read buffer
    }
    const auto now = std::chrono::steady_clock::now();
    const bool due =
        stopping_ || now >= parked->poll->until || parked->woken_again || wake_generation_.load() != parked->seen;
    parked->woken_again = false;
    // On the grid: the polls due about the same time (rechecks, deadlines)
    // are polled in one batch. A deadline is kept at most one step late.
    const auto at = due ? now : on_grid(std::min(parked->poll->until, now + opts_.limits.long_poll_recheck));
    parked->recheck = recheck_.emplace(at, id);
    parked_by_key_.emplace(parked->poll->key, id);
    parked_.emplace(id, std::move(parked));
    if (due) {
      asio::post(io_, [this, id] { unpark(id); });  // something happened meanwhile: poll again now
    } else if (!recheck_armed_ || at < recheck_timer_.expiry()) {
      arm_recheck(at);
    }
  }

  void arm_recheck(std::chrono::steady_clock::time_point at) {
    recheck_armed_ = true;
    recheck_timer_.expires_at(at);  // cancels the wait before, whose handler then does nothing
    recheck_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec == asio::error::operation_aborted || destroying_) {
        return;
      }
      recheck_armed_ = false;
      const auto now = std::chrono::steady_clock::now();
      std::vector<std::uint64_t> due;
      for (auto it = recheck_.begin(); it != recheck_.end() && it->first <= now; ++it) {
        due.push_back(it->second);
      }
      for (const auto id : due) {
        unpark(id);
      }
      if (!recheck_.empty()) {
        arm_recheck(recheck_.begin()->first);
      }
    });
  }

  void unpark_all() {
    std::vector<std::uint64_t> ids;
    ids.reserve(parked_.size());
    for (const auto& [id, parked] : parked_) {
      ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());  // parked longest first: batches keep that order
    for (const auto id : ids) {
      unpark(id);
    }
  }

  // Resumes a parked long poll (if it is still parked: a wake and its
  // recheck may both name it).
  void unpark(std::uint64_t id) {
    if (destroying_) return;
    const auto it = parked_.find(id);
    if (it == parked_.end()) return;
    auto parked = std::move(it->second);
    parked_.erase(it);
    recheck_.erase(parked->recheck);
    const auto [first, last] = parked_by_key_.equal_range(parked->poll->key);
    for (auto k = first; k != last; ++k) {
      if (k->second == id) {
        parked_by_key_.erase(k);
        break;
      }
    }
    if (const auto use = by_address_.find(parked->link->group); use != by_address_.end() && use->second.parked > 0) {
      --use->second.parked;
    }
    woken_.push_back(std::move(parked));
    if (!flush_posted_) {
      flush_posted_ = true;  // the polls woken meanwhile go in the same batches
      asio::post(io_, [this] {
        flush_posted_ = false;
        flush_woken();
      });
    }
  }

  // On the I/O thread: starts batches of the woken polls, oldest first,
  // while fewer than max_batches_in_flight() are being polled. What is
  // left goes in the next ones, as batches come back.
  void flush_woken() {
    if (destroying_) return;
    while (!woken_.empty() && batches_in_flight_ < max_batches_in_flight()) {
      auto batch = take_batch(
          woken_, [](const std::unique_ptr<Parked>& p) { return p->poll->batcher.get(); },
          net::LongPollBatcher::kMaxBatch);
      ++batches_in_flight_;
      asio::co_spawn(io_, poll_woken(std::move(batch)),
                     [this](const std::exception_ptr& e) { log_failure("long_poll_batch", e); });
    }
  }

  // How many batches may wait for or run on the pool at once. They are
  // queued on it together, ahead of the requests their answers bring
  // (an agent answered sends its next poll, and its acknowledgement is a
  // write): queued one at a time, each batch would wait behind those
  // writes, and a policy change would reach the last agents only after
  // every other agent's write. Past this, a batch waits for one to come
  // back, so other requests queue behind at most this many batches.
  [[nodiscard]] std::size_t max_batches_in_flight() const {
    return static_cast<std::size_t>(std::max(1, opts_.handler_threads)) * 4;
  }

  // Polls one batch on the pool, then answers each poll that has its
  // answer (each on its own coroutine: a slow connection delays only its
  // own answer) and parks the others again.
  asio::awaitable<void> poll_woken(std::vector<std::unique_ptr<Parked>> batch) {
    std::vector<net::LongPollBatcher::Item> items;
    items.reserve(batch.size());
    const auto now = std::chrono::steady_clock::now();
    for (auto& parked : batch) {
      parked->woken_again = false;
      items.push_back({parked->poll.get(), stopping_ || now >= parked->poll->until, std::nullopt});
    }
    in_flight_.insert(&batch);
    std::optional<std::string> failure;
    (void)co_await on_pool([&items, &failure]() {
      failure = poll_batch(items);
      return net::HttpResponse{};
    });
    in_flight_.erase(&batch);
    --batches_in_flight_;
    if (destroying_) co_return;
    if (failure) log_.error("http.long_poll_failed", {{"what", *failure}, {"polls", std::uint64_t{batch.size()}}});
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto& parked = batch[i];
      if (items[i].answer) {
        auto link = std::move(parked->link);
        asio::co_spawn(io_, serve(std::move(link), std::move(parked), std::move(items[i].answer)),
                       [this](const std::exception_ptr& e) { log_failure("session", e); });
      } else {
        parked->seen = wake_generation_.load();  // a wake from now on finds it parked, or marked it
        park(std::move(parked));
      }
    }
    flush_woken();
  }

  // A request read from the connection, or why there is none.
  struct Incoming {
    std::optional<net::HttpRequest> request;  // set: handle it
    std::optional<net::HttpResponse> answer;  // set: answer this instead (a refusal)
    bool close = false;                       // after the answer, or (no answer) at once
  };

  static Incoming refuse(const Error& error, bool close) {
    return Incoming{std::nullopt, net::error_response(error), close};
  }

  static Error body_too_large(std::size_t limit) {
    return invalid_argument(fmt::format("the request body is larger than {} bytes; send less", limit));
  }

  // Reads the head, has the admitter look at it (when a body follows), then
  // reads the body up to the size admitted.
  asio::awaitable<Incoming> read_request(Link& link, Exchange& exchange) {
    const auto& limits = opts_.limits;
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
    set_idle(link, true);
    link.stream.expires_after(link.first ? limits.request_timeout : limits.idle_timeout);
    link.first = false;
    auto [read_ec, header_bytes] = co_await bhttp::async_read_header(link.stream, link.buffer, parser, kUseTuple);
    set_idle(link, false);
    exchange.started = std::chrono::steady_clock::now();
    if (read_ec == bhttp::error::header_limit) {
      co_return refuse(invalid_argument(fmt::format("the request line and headers are larger than {} bytes",
                                                    limits.max_header_bytes)),
                       true);
    }
    if (read_ec == bhttp::error::body_limit) {
      co_return refuse(body_too_large(limits.max_body_bytes), true);
    }
    if (read_ec) {
      if (is_malformed(read_ec)) {
        co_return refuse(invalid_argument(fmt::format("malformed HTTP request: {}", read_ec.message())), true);
      }
      co_return Incoming{std::nullopt, std::nullopt, true};  // closed, timed out, cut on stop, or not TLS
    }
    exchange.version = parser.get().version();
    exchange.keep_alive = parser.get().keep_alive();
    const bool body_follows = !parser.is_done();
    auto head = convert_head(parser.get(), link.remote);
    if (!head) {
      co_return refuse(head.error(), body_follows);  // an unread body cannot be told from the next request
    }
    exchange.method = head->method;
    exchange.path = head->path;
    if (body_follows) {
      std::size_t admitted = limits.max_body_bytes;
      if (admit_) {
        net::Admission admission;
        auto failed = co_await on_pool([this, &head, &admission]() {
          admission = admit_(*head);
          return net::HttpResponse{};
        });
        if (failed.status != 200) {
          co_return Incoming{std::nullopt, std::move(failed), true};
        }
        if (admission.refusal) {
          co_return Incoming{std::nullopt, std::move(admission.refusal), true};
        }
        admitted = std::min(admitted, admission.max_body_bytes);
      }
      if (const auto length = parser.content_length(); length && *length > admitted) {
        co_return refuse(body_too_large(admitted), true);
      }
      parser.body_limit(admitted);  // a chunked body, as it arrives
      if (parser.get()[bhttp::field::expect] == "100-continue") {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, parser.get().version()};
        co_await bhttp::async_write(link.stream, cont, kUseTuple);
      }
      link.stream.expires_after(limits.request_timeout);
      auto [body_ec, body_bytes] = co_await bhttp::async_read(link.stream, link.buffer, parser, kUseTuple);
      if (body_ec == bhttp::error::body_limit) {
        co_return refuse(body_too_large(admitted), true);
      }
      if (body_ec) {
        if (is_malformed(body_ec)) {
          co_return refuse(invalid_argument(fmt::format("malformed HTTP request: {}", body_ec.message())), true);
        }
        co_return Incoming{std::nullopt, std::nullopt, true};
      }
      head->body = std::move(parser.get().body());
    }
    // A large request grows the read buffer: keep no more than a small one.
    if (link.buffer.size() == 0 && link.buffer.capacity() > kKeptReadBuffer) {
      link.buffer.shrink_to_fit();
    }
    co_return Incoming{std::move(*head), std::nullopt, false};
  }

  // Writes the response and logs the exchange; false: the connection ends.
  asio::awaitable<bool> respond(Link& link, const Exchange& exchange, net::HttpResponse response, bool close) {
    const int status = response.status;
    const std::string route = response.route.empty() ? exchange.route : std::move(response.route);
    BeastResponse out{static_cast<bhttp::status>(response.status), exchange.version};
    for (const auto& h : response.headers) {
      out.set(h.name, h.value);
    }
    if (!opts_.strict_transport_security.empty()) {
      out.set(bhttp::field::strict_transport_security, opts_.strict_transport_security);
    }
    out.body() = std::move(response.body);
    const bool keep_alive = !close && exchange.keep_alive && !stopping_;
    out.keep_alive(keep_alive);
    out.prepare_payload();
    link.stream.expires_after(opts_.limits.request_timeout);
    auto [write_ec, written] = co_await bhttp::async_write(link.stream, out, kUseTuple);
    const auto elapsed_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - exchange.started)
            .count();
    log_.info("http.request", {{"remote", link.remote},
                               {"method", exchange.method},
                               {"path", exchange.path},
                               {"status", response.status},
                               {"bytes", static_cast<std::uint64_t>(written)},
                               {"ms", static_cast<double>(elapsed_us) / 1000.0}});
    if (observe_) {
      try {
        observe_(net::ExchangeReport{exchange.method == "?" ? std::string_view() : std::string_view(exchange.method),
                                     route, status, std::chrono::steady_clock::now() - exchange.started});
      } catch (...) {
        // Metrics never cost an answer.
      }
    }
    co_return !write_ec && keep_alive;
  }

  // From a peer in proxy_protocol_from: reads its PROXY protocol v2 header
  // off the socket, before TLS, exactly its length, within
  // handshake_timeout, and makes the link the client's (its address for
  // requests and logs, its group for the per-address limit). False, and
  // the link is to be closed, on a missing or invalid header or when the
  // client's address is over its limit. From any other peer: true, nothing read.
  asio::awaitable<bool> take_proxy_header(Link& link) {
    if (opts_.proxy_protocol_from.empty() || !net::address_in(opts_.proxy_protocol_from, link.remote)) co_return true;
    auto& socket = link.stream.socket();
    auto pending = std::make_shared<bool>(true);
    asio::steady_timer deadline(io_);
    deadline.expires_after(opts_.limits.handshake_timeout);
    deadline.async_wait([pending, &socket](const boost::system::error_code& ec) {
      boost::system::error_code ignored;
      if (!ec && *pending) socket.cancel(ignored);
    });
    std::string header(net::kProxyV2FixedSize, '\0');
    auto [fixed_ec, fixed_n] = co_await asio::async_read(socket, asio::buffer(header), kUseTuple);
    Result<std::size_t> body =
        fixed_ec ? Result<std::size_t>(invalid_argument(fixed_ec.message())) : net::proxy_v2_body_length(header);
    boost::system::error_code body_ec;
    if (body && *body > 0) {
      header.resize(net::kProxyV2FixedSize + *body);
      auto [ec, n] =
          co_await asio::async_read(socket, asio::buffer(header.data() + net::kProxyV2FixedSize, *body), kUseTuple);
      body_ec = ec;
    }
    *pending = false;
    deadline.cancel();
    auto parsed = !body     ? Result<net::ProxyHeader>(body.error())
                  : body_ec ? Result<net::ProxyHeader>(invalid_argument(body_ec.message()))
                            : net::parse_proxy_v2(header);
    if (!parsed) {
      if (stopping_) co_return false;  // cut by the drain, not refused
      // A warning at most once per kShedLogInterval: a peer listed by
      // mistake (or a local user on a listed 127.0.0.1) costs no line per
      // connection.
      const auto now = std::chrono::steady_clock::now();
      if (now - proxy_warned_at_ >= kShedLogInterval) {
        proxy_warned_at_ = now;
        log_.warn("http.proxy_header_refused", {{"remote", link.remote}, {"error", parsed.error().message}});
      } else {
        log_.debug("http.proxy_header_refused", {{"remote", link.remote}, {"error", parsed.error().message}});
      }
      co_return false;
    }
    if (parsed->local) co_return true;
    boost::system::error_code address_ec;
    const auto client = asio::ip::make_address(parsed->source_address, address_ec);
    if (address_ec) co_return false;  // parse_proxy_v2 wrote it: cannot happen
    const std::string group = address_group(client);
    if (group != link.group) {
      auto& use = by_address_[group];
      if (use.open - use.parked >= opts_.limits.max_connections_per_address) {
        if (use.open == 0) by_address_.erase(group);
        note_shed(Shed::kPerAddress, parsed->source_address);
        co_return false;
      }
      ++use.open;
      if (const auto it = by_address_.find(link.group); it != by_address_.end() && --it->second.open == 0) {
        by_address_.erase(it);
      }
      link.group = group;
    }
    link.remote = parsed->source_address;
    co_return true;
  }

  // Serves a connection: a new one (after its handshake), or one whose
  // parked long poll was woken (answered first, or parked again).
  asio::awaitable<void> serve(std::unique_ptr<Link> link, std::unique_ptr<Parked> woken,
                              std::optional<net::HttpResponse> answer = std::nullopt) {
    const auto& limits = opts_.limits;
    bool go_on = true;
    if (!woken) {
      if (!co_await take_proxy_header(*link)) co_return;
      link->stream.expires_after(limits.handshake_timeout);
      if (auto [hs_ec, hs_bytes] = co_await link->stream.async_handshake(kUseTuple); hs_ec) {
        log_.debug("http.handshake_failed", {{"remote", link->remote}, {"error", hs_ec.message()}});
        co_return;
      }
    } else {
      // A woken poll's answer, from its batch (poll_woken).
      if (!answer) {
        answer = net::error_response(internal_error("a long poll ended without an answer (this is a bug)"));
      }
      go_on = co_await respond(*link, woken->exchange, std::move(*answer), false);
      woken.reset();
    }

    while (go_on && !stopping_) {
      Exchange exchange;
      auto incoming = co_await read_request(*link, exchange);
      net::HttpResponse response;
      if (incoming.request) {
        const auto seen = wake_generation_.load();
        if (auto quick = answer_quickly(*incoming.request)) {
          response = std::move(*quick);
        } else {
          response = co_await on_pool([this, &incoming]() { return handler_(*incoming.request); });
        }
        exchange.route = response.route;
        if (response.long_poll) {
          auto parked = std::make_unique<Parked>();
          parked->exchange = std::move(exchange);
          parked->poll = std::move(response.long_poll);
          parked->seen = seen;
          parked->woken_again = parked->poll->poll_first;  // polled at once, in a batch
          parked->link = std::move(link);
          park(std::move(parked));
          co_return;
        }
      } else if (incoming.answer) {
        response = std::move(*incoming.answer);
      } else {
        break;
      }
      go_on = co_await respond(*link, exchange, std::move(response), incoming.close);
    }
    set_idle(*link, true);
    link->stream.expires_after(std::chrono::seconds(2));
    co_await link->stream.async_shutdown(kUseTuple);
  }

  HttpsServerOptions opts_;
  net::Handler handler_;
  net::QuickHandler quick_;
  net::Admitter admit_;
  net::ExchangeObserver observe_;
  log::Logger& log_;
  bool destroying_ = false;  // outlives io_
  asio::io_context io_{1};
  asio::thread_pool pool_;
  std::mutex tls_mu_;
  SslCtxPtr tls_;  // under tls_mu_: replaced by reload_tls
  std::atomic<bool> reloading_{false};
  tcp::acceptor acceptor_{io_};
  asio::signal_set signals_{io_};
  asio::steady_timer drain_timer_{io_};
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> wake_generation_{0};
  // wake()'s hand-off to the I/O thread (post_wakes, deliver_wakes).
  std::mutex wake_mu_;
  bool wake_all_ = false;                         // under wake_mu_
  std::unordered_set<std::string> wake_keys_;     // under wake_mu_
  bool wake_posted_ = false;                      // under wake_mu_
  std::atomic<std::size_t> open_connections_{0};  // connections_.size(), for other threads
  // Touched only on the I/O thread. Declared after io_: destroyed before it.
  std::set<Link*> connections_;
  std::list<Link*> idle_links_;  // the idle ones (Link::idle), idle longest first
  std::size_t shedding_ = 0;     // closed to make room, not destroyed yet
  struct AddressUse {
    std::size_t open = 0;
    std::size_t parked = 0;  // of which waiting in a long poll
  };
  std::unordered_map<std::string, AddressUse> by_address_;  // by address_group()
  struct ShedLog {
    std::uint64_t per_address = 0;
    std::uint64_t full = 0;
    std::uint64_t idle_closed = 0;
    std::string last_remote;
    bool window_open = false;  // a summary is due at the next tick of shed_timer_
  };
  ShedLog shed_log_;
  std::chrono::steady_clock::time_point proxy_warned_at_{};  // the last http.proxy_header_refused warning
  asio::steady_timer shed_timer_{io_};
  // The parked long polls, and the same by LongPoll::key.
  std::unordered_map<std::uint64_t, std::unique_ptr<Parked>> parked_;
  std::unordered_multimap<std::string, std::uint64_t> parked_by_key_;
  std::multimap<std::chrono::steady_clock::time_point, std::uint64_t> recheck_;  // when each resumes anyway
  // Woken polls waiting for a batch, oldest first; the batches being
  // polled on the pool (a wake marks their polls woken_again).
  std::deque<std::unique_ptr<Parked>> woken_;
  bool flush_posted_ = false;
  std::size_t batches_in_flight_ = 0;
  std::set<std::vector<std::unique_ptr<Parked>>*> in_flight_;
  asio::steady_timer recheck_timer_{io_};  // for the first of recheck_
  bool recheck_armed_ = false;
  std::uint64_t last_parked_id_ = 0;
};

}  // namespace

Result<std::unique_ptr<HttpsServer>> HttpsServer::create(const HttpsServerOptions& options, net::Handler handler,
                                                         log::Logger& log, net::QuickHandler quick, net::Admitter admit,
                                                         net::ExchangeObserver observe) {
  auto server = std::make_unique<ServerImpl>(options, std::move(handler), std::move(quick), std::move(admit),
                                             std::move(observe), log);
  if (auto st = server->init(); !st) {
    return st.error();
  }
  return std::unique_ptr<HttpsServer>(std::move(server));
}

}  // namespace hoist::server
