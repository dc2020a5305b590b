// The only translation unit of hoistd that includes Beast (Asio also in
// tls_stream.cpp, its TLS stream); see https_server.h for the threading
// model and the MUST rules it keeps.
#include "server/http/https_server.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "net/http_error.h"
#include "net/json_text.h"
#include "server/http/tls_stream.h"

namespace hoist::server {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
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

// Turns Beast's request into Hoist's plain one. Fails (for a 400) when the
// target is not an origin-form URL, or when its path hides a '/' or a NUL
// behind percent-encoding, or decodes to invalid UTF-8: routing works on
// decoded segments, so those would be ambiguous.
Result<net::HttpRequest> convert_request(BeastRequest&& in, const std::string& remote) {
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
    out.query.emplace_back(param.key, param.value);
  }
  for (const auto& field : in) {
    out.headers.push_back({lower(field.name_string()), std::string(field.value())});
  }
  out.body = std::move(in.body());
  out.remote_address = remote;
  return out;
}

struct Connection {
  Stream* stream = nullptr;
  bool idle = true;  // handshaking or waiting for a request: may be cut on stop
};

class ServerImpl final : public HttpsServer {
 public:
  ServerImpl(HttpsServerOptions options, net::Handler handler, Logger& log)
      : opts_(std::move(options)),
        handler_(std::move(handler)),
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
    tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                     ec);
    SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_2_VERSION);
    tls_.use_certificate_chain_file(opts_.cert_chain_file, ec);
    if (ec) {
      return invalid_argument(
          fmt::format("cannot use the certificate chain in {}: {}", opts_.cert_chain_file, ec.message()));
    }
    tls_.use_private_key_file(opts_.key_file, ssl::context::pem, ec);
    if (ec) {
      return invalid_argument(fmt::format("cannot use the private key in {}: {}", opts_.key_file, ec.message()));
    }
    if (SSL_CTX_check_private_key(tls_.native_handle()) != 1) {
      return invalid_argument(fmt::format("the private key in {} does not belong to the certificate in {}",
                                          opts_.key_file, opts_.cert_chain_file));
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
    return {};
  }

  [[nodiscard]] std::uint16_t port() const override { return port_; }

  void run() override {
    asio::co_spawn(io_, accept_loop(), [this](const std::exception_ptr& e) { log_failure("accept_loop", e); });
    if (opts_.handle_signals) {
      signals_.add(SIGTERM);
      signals_.add(SIGINT);
      signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
        if (!ec) {
          log_.info("http.signal", {{"signal", signal}});
          begin_stop();
        }
      });
    }
    log_.info("http.listening", {{"address", opts_.address}, {"port", static_cast<int>(port_)}});
    io_.run();
    log_.info("http.stopped");
  }

  void stop() override {
    asio::post(io_, [this] { begin_stop(); });
  }

  void wake() override {
    wake_generation_.fetch_add(1);
    asio::post(io_, [this] {
      for (auto& [timer, key] : waiters_) {
        timer->cancel();
      }
    });
  }

  void wake(std::string_view key) override {
    // The generation moves for every wake, so a poll that registers while
    // this one is on its way polls once more instead of missing it.
    wake_generation_.fetch_add(1);
    asio::post(io_, [this, key = std::string(key)] {
      for (const auto& k : {key, std::string()}) {
        const auto [first, last] = keyed_waiters_.equal_range(k);
        for (auto it = first; it != last; ++it) {
          it->second->cancel();
        }
      }
    });
  }

 private:
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

  // On the I/O thread.
  void begin_stop() {
    if (stopping_.exchange(true)) {
      return;
    }
    log_.info("http.draining", {{"connections", static_cast<std::uint64_t>(connections_.size())}});
    boost::system::error_code ec;
    acceptor_.close(ec);
    signals_.cancel(ec);
    for (auto* conn : connections_) {
      if (conn->idle) {
        conn->stream->cancel();
      }
    }
    for (auto& [timer, key] : waiters_) {
      timer->cancel();
    }
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
      if (connections_.size() >= opts_.limits.max_connections) {
        log_.warn("http.connection_refused", {{"reason", "max_connections"}});
        boost::system::error_code close_ec;
        socket.close(close_ec);
        continue;
      }
      asio::co_spawn(io_, session(std::move(socket)),
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

  asio::awaitable<net::HttpResponse> wait_long_poll(std::shared_ptr<net::LongPoll> lp, std::uint64_t seen) {
    asio::steady_timer timer(io_);
    waiters_.emplace(&timer, lp->key);
    keyed_waiters_.emplace(lp->key, &timer);
    struct Unregister {
      ServerImpl& server;
      asio::steady_timer* timer;
      std::string key;
      ~Unregister() {
        if (server.destroying_) return;
        server.waiters_.erase(timer);
        const auto [first, last] = server.keyed_waiters_.equal_range(key);
        for (auto it = first; it != last; ++it) {
          if (it->second == timer) {
            server.keyed_waiters_.erase(it);
            break;
          }
        }
      }
    } unregister{*this, &timer, lp->key};
    for (;;) {
      const auto now = std::chrono::steady_clock::now();
      bool last = stopping_ || now >= lp->until;
      if (!last && wake_generation_.load() == seen) {
        timer.expires_at(std::min(lp->until, now + opts_.limits.long_poll_recheck));
        co_await timer.async_wait(kUseTuple);
        last = stopping_ || std::chrono::steady_clock::now() >= lp->until;
      }
      seen = wake_generation_.load();
      std::optional<net::HttpResponse> ready;
      auto response = co_await on_pool([&lp, &ready, last]() {
        ready = lp->poll(last);
        return net::HttpResponse{};
      });
      (void)response;
      if (ready) {
        co_return std::move(*ready);
      }
      if (last) {
        co_return net::error_response(internal_error("a long poll ended without an answer (this is a bug)"));
      }
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    boost::system::error_code ec;
    const auto remote_endpoint = socket.remote_endpoint(ec);
    const std::string remote = ec ? std::string("unknown") : remote_endpoint.address().to_string();
    Stream stream(std::move(socket), tls_.native_handle());
    Connection conn;
    conn.stream = &stream;
    connections_.insert(&conn);
    struct Unregister {
      ServerImpl& server;
      Connection* conn;
      ~Unregister() {
        if (server.destroying_) return;
        server.connections_.erase(conn);
        server.maybe_finish_drain();
      }
    } unregister{*this, &conn};

    const auto& limits = opts_.limits;
    conn.stream->expires_after(limits.handshake_timeout);
    if (auto [hs_ec, hs_bytes] = co_await stream.async_handshake(kUseTuple); hs_ec) {
      log_.debug("http.handshake_failed", {{"remote", remote}, {"error", hs_ec.message()}});
      co_return;
    }

    beast::flat_buffer buffer;
    bool first = true;
    while (!stopping_) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
      parser.body_limit(limits.max_body_bytes);
      conn.idle = true;
      conn.stream->expires_after(first ? limits.request_timeout : limits.idle_timeout);
      first = false;
      auto [read_ec, header_bytes] = co_await bhttp::async_read_header(stream, buffer, parser, kUseTuple);
      conn.idle = false;
      const auto started = std::chrono::steady_clock::now();
      if (read_ec == bhttp::error::header_limit) {
        co_await send_error(
            stream, invalid_argument(
                        fmt::format("the request line and headers are larger than {} bytes", limits.max_header_bytes)));
        break;
      }
      if (read_ec == bhttp::error::body_limit) {
        co_await send_error(stream, invalid_argument(fmt::format("the request body is larger than {} bytes; send less",
                                                                 limits.max_body_bytes)));
        break;
      }
      if (read_ec) {
        break;  // closed, timed out, cut on stop, or not HTTP: nothing to answer
      }
      if (parser.get()[bhttp::field::expect] == "100-continue") {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, parser.get().version()};
        co_await bhttp::async_write(stream, cont, kUseTuple);
      }
      conn.stream->expires_after(limits.request_timeout);
      auto [body_ec, body_bytes] = co_await bhttp::async_read(stream, buffer, parser, kUseTuple);
      if (body_ec == bhttp::error::body_limit) {
        co_await send_error(stream, invalid_argument(fmt::format("the request body is larger than {} bytes; send less",
                                                                 limits.max_body_bytes)));
        break;
      }
      if (body_ec) {
        if (body_ec != asio::error::operation_aborted && body_ec != beast::error::timeout &&
            body_ec != bhttp::error::end_of_stream) {
          co_await send_error(stream, invalid_argument(fmt::format("malformed HTTP request: {}", body_ec.message())));
        }
        break;
      }

      // A large request grows the read buffer: keep no more than a small one.
      if (buffer.size() == 0 && buffer.capacity() > kKeptReadBuffer) {
        buffer.shrink_to_fit();
      }

      const unsigned version = parser.get().version();
      const bool client_keep_alive = parser.get().keep_alive();
      auto request = convert_request(parser.release(), remote);
      net::HttpResponse response;
      std::string method = "?";
      std::string path = "?";
      if (!request) {
        response = net::error_response(request.error());
      } else {
        method = request->method;
        path = request->path;
        const auto seen = wake_generation_.load();
        response = co_await on_pool([this, &request]() { return handler_(*request); });
        if (response.long_poll) {
          if (buffer.size() == 0) {
            buffer.shrink_to_fit();  // parked for up to a minute: hold no read buffer
          }
          response = co_await wait_long_poll(std::move(response.long_poll), seen);
        }
      }

      BeastResponse out{static_cast<bhttp::status>(response.status), version};
      for (const auto& h : response.headers) {
        out.set(h.name, h.value);
      }
      out.body() = std::move(response.body);
      const bool keep_alive = client_keep_alive && !stopping_;
      out.keep_alive(keep_alive);
      out.prepare_payload();
      conn.stream->expires_after(limits.request_timeout);
      auto [write_ec, written] = co_await bhttp::async_write(stream, out, kUseTuple);
      const auto elapsed_us =
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
      log_.info("http.request", {{"remote", remote},
                                 {"method", method},
                                 {"path", path},
                                 {"status", response.status},
                                 {"bytes", static_cast<std::uint64_t>(written)},
                                 {"ms", static_cast<double>(elapsed_us) / 1000.0}});
      if (write_ec || !keep_alive) {
        break;
      }
    }
    conn.idle = true;
    conn.stream->expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(kUseTuple);
  }

  asio::awaitable<void> send_error(Stream& stream, const Error& error) {
    auto response = net::error_response(error);
    BeastResponse out{static_cast<bhttp::status>(response.status), 11};
    for (const auto& h : response.headers) {
      out.set(h.name, h.value);
    }
    out.body() = std::move(response.body);
    out.keep_alive(false);
    out.prepare_payload();
    stream.expires_after(opts_.limits.request_timeout);
    co_await bhttp::async_write(stream, out, kUseTuple);
  }

  HttpsServerOptions opts_;
  net::Handler handler_;
  Logger& log_;
  bool destroying_ = false;  // outlives io_
  asio::io_context io_{1};
  asio::thread_pool pool_;
  ssl::context tls_{ssl::context::tls_server};
  tcp::acceptor acceptor_{io_};
  asio::signal_set signals_{io_};
  asio::steady_timer drain_timer_{io_};
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> wake_generation_{0};
  // Touched only on the I/O thread.
  std::set<Connection*> connections_;
  // Every parked long poll's timer with its key, and the same by key.
  std::map<asio::steady_timer*, std::string> waiters_;
  std::unordered_multimap<std::string, asio::steady_timer*> keyed_waiters_;
};

}  // namespace

Result<std::unique_ptr<HttpsServer>> HttpsServer::create(const HttpsServerOptions& options, net::Handler handler,
                                                         Logger& log) {
  auto server = std::make_unique<ServerImpl>(options, std::move(handler), log);
  if (auto st = server->init(); !st) {
    return st.error();
  }
  return std::unique_ptr<HttpsServer>(std::move(server));
}

}  // namespace hoist::server
