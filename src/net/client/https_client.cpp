// The only translation unit of the client that includes Beast and Asio (see
// https_client.h for the trust rules and the reconnect rule it keeps).
#include "net/client/https_client.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cerrno>
#include <exception>
#include <utility>

#include <fmt/format.h>

#include "net/tls/fingerprint.h"
#include "net/tls/openssl_handles.h"

namespace hoist::net {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using ErrorCodeT = boost::system::error_code;
using Stream = ssl::stream<beast::tcp_stream>;
using BeastRequest = bhttp::request<bhttp::string_body>;

constexpr std::string_view kUserAgent = "hoist/0.1.0";
constexpr std::uint32_t kMaxResponseHeaderBytes = std::uint32_t{64} * 1024;
constexpr std::size_t kFirstReadBytes = std::size_t{16} * 1024;
constexpr int kMaxInterimResponses = 8;
// A name that resolves to more addresses than this: the first ones only.
constexpr std::size_t kMaxAddresses = 16;

char lower_char(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower_char);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](char x, char y) { return lower_char(x) == lower_char(y); });
}

// RFC 9110 token characters (methods and header names).
bool is_token(std::string_view s) {
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

bool is_header_value(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

bool is_target(std::string_view s) {
  return !s.empty() && s.front() == '/' && std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

bool is_host_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
           c == '_';
  });
}

// Methods that are safe to send twice (RFC 9110 section 9.2.1). PUT and
// DELETE are idempotent in HTTP's terms, but a repeated DELETE would turn a
// success into a 404, so they are not re-sent either.
bool is_safe_method(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS";
}

bool is_reserved_header(std::string_view name) {
  for (const std::string_view reserved :
       {"host", "content-length", "transfer-encoding", "connection", "te", "upgrade"}) {
    if (iequals(name, reserved)) {
      return true;
    }
  }
  return false;
}

struct Target {
  std::string url;   // as given, for messages
  std::string host;  // DNS name or IP address, without brackets
  bool is_ip = false;
  std::uint16_t port = 443;
  std::string host_header;
};

Result<Target> parse_url(const std::string& url) {
  const auto bad = [&](std::string_view why) {
    return invalid_argument(
        fmt::format("'{}' is not a usable server URL: {}; use https://HOST or https://HOST:PORT", url, why));
  };
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    return bad(parsed.error().message());
  }
  const auto& u = *parsed;
  if (u.scheme_id() != boost::urls::scheme::https) {
    return bad("only https is supported");
  }
  if (!u.has_authority() || u.has_userinfo()) {
    return bad(u.has_userinfo() ? "it must not contain a user name or password" : "it names no host");
  }
  if (u.has_query() || u.has_fragment() || !(u.encoded_path().empty() || u.encoded_path() == "/")) {
    return bad("it must not have a path, query or fragment");
  }
  Target out;
  out.url = url;
  switch (u.host_type()) {
    case boost::urls::host_type::name:
      out.host = lower(std::string_view(u.encoded_host().data(), u.encoded_host().size()));
      if (!is_host_name(out.host)) {
        return bad("the host name has characters a DNS name cannot have");
      }
      break;
    case boost::urls::host_type::ipv4:
      out.host = u.host_ipv4_address().to_string();
      out.is_ip = true;
      break;
    case boost::urls::host_type::ipv6:
      out.host = u.host_ipv6_address().to_string();
      out.is_ip = true;
      break;
    default: return bad("it names no host, or a host of an unknown kind");
  }
  if (u.has_port()) {
    const std::string_view port = u.port();
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return bad("the port is not a number");
    }
    const int value = std::stoi(std::string(port));
    if (value < 1 || value > 65535) {
      return bad("the port is not between 1 and 65535");
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  const bool bracket = u.host_type() == boost::urls::host_type::ipv6;
  out.host_header = bracket ? "[" + out.host + "]" : out.host;
  if (out.port != 443) {
    out.host_header += ":" + std::to_string(out.port);
  }
  return out;
}

// Restricts `param` to the URL's host: a DNS name or an IP address.
bool restrict_to_host(X509_VERIFY_PARAM* param, const Target& target) {
  if (target.is_ip) {
    return X509_VERIFY_PARAM_set1_ip_asc(param, target.host.c_str()) == 1;
  }
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return X509_VERIFY_PARAM_set1_host(param, target.host.c_str(), target.host.size()) == 1;
}

// What an asynchronous operation completed with.
struct Completion {
  ErrorCodeT ec;
  std::size_t bytes = 0;
};

void store_bytes(Completion& out, std::size_t bytes) {
  out.bytes = bytes;
}

// How one attempt at a request ended.
struct Attempt {
  Result<HttpResponse> result;
  // Failed before any byte of the response arrived and not by a timeout:
  // the server closed or reset the connection.
  bool closed_before_response = false;
};

class ClientImpl final : public HttpsClient {
 public:
  ClientImpl(ClientOptions options, Target target) : opts_(std::move(options)), target_(std::move(target)) {}
  ~ClientImpl() override { close(); }
  ClientImpl(const ClientImpl&) = delete;
  ClientImpl& operator=(const ClientImpl&) = delete;

  Status init() {
    if (opts_.pin_fingerprint) {
      pin_ = tls::normalize_fingerprint(*opts_.pin_fingerprint);
      if (!pin_) {
        return invalid_argument(
            fmt::format("'{}' is not a SHA-256 fingerprint; give 32 hex pairs separated by ':' as hoistd printed it",
                        *opts_.pin_fingerprint));
      }
    }
    ErrorCodeT ec;
    tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                     ec);
    SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_2_VERSION);
    if (opts_.ca_file) {
      if (::access(opts_.ca_file->c_str(), F_OK) != 0 && errno == ENOENT) {
        return not_found(fmt::format("the CA file {} does not exist", *opts_.ca_file));
      }
      tls_.load_verify_file(*opts_.ca_file, ec);
      if (ec) {
        return invalid_argument(
            fmt::format("cannot use {} as a CA certificate file (PEM expected): {}", *opts_.ca_file, ec.message()));
      }
      tls_.set_verify_mode(ssl::verify_peer, ec);
    } else if (opts_.ca_pem) {
      tls_.add_certificate_authority(boost::asio::buffer(*opts_.ca_pem), ec);
      if (ec) {
        return invalid_argument(fmt::format("cannot use the CA certificates given (PEM expected): {}", ec.message()));
      }
      tls_.set_verify_mode(ssl::verify_peer, ec);
    } else if (opts_.system_ca) {
      tls_.set_default_verify_paths(ec);
      if (ec) {
        return internal_error(fmt::format("cannot load the system's CA certificates: {}", ec.message()));
      }
      tls_.set_verify_mode(ssl::verify_peer, ec);
    } else {
      // Only the pin is checked, after the handshake and before any request.
      tls_.set_verify_mode(ssl::verify_none, ec);
    }
    if (ec) {
      return internal_error(fmt::format("cannot set up TLS: {}", ec.message()));
    }
    return {};
  }

  [[nodiscard]] bool last_failure_was_before_sending() const override { return failed_before_sending_; }

  void interrupt() override {
    interrupted_ = true;
    asio::post(io_, [this] {
      // Only the socket: the pending operation completes (aborted) and its
      // request cleans up the stream itself.
      if (stream_) {
        ErrorCodeT ec;
        auto& socket = beast::get_lowest_layer(*stream_).socket();
        socket.shutdown(tcp::socket::shutdown_both, ec);
        socket.close(ec);
      }
    });
  }

  Result<HttpResponse> request(std::string_view method, std::string_view target, std::string_view body,
                               const std::vector<Header>& headers) override {
    const auto stopped = [] { return unavailable("the HTTPS client was interrupted (the program is stopping)"); };
    failed_before_sending_ = false;
    if (interrupted_) {
      return stopped();
    }
    try {
      auto response = request_or_throw(method, target, body, headers);
      if (interrupted_) {
        close();
        return stopped();
      }
      return response;
    } catch (const std::exception& e) {
      close();
      return internal_error(fmt::format("the HTTPS client failed (this is a bug): {}", e.what()));
    } catch (...) {
      close();
      return internal_error("the HTTPS client failed with an unknown exception (this is a bug)");
    }
  }

 private:
  Result<HttpResponse> request_or_throw(std::string_view method, std::string_view target, std::string_view body,
                                        const std::vector<Header>& headers) {
    auto req = build_request(method, target, body, headers);
    if (!req) {
      return req.error();
    }
    if (stream_ && !kept_connection_usable()) {
      close();  // rule 1: the server closed it while it was idle
    }
    const bool reused = stream_ != nullptr;
    if (!reused) {
      if (auto st = connect(); !st) {
        failed_before_sending_ = true;
        return st.error();
      }
    }
    auto attempt = exchange(*req);
    if (attempt.result || !reused || !attempt.closed_before_response) {
      return std::move(attempt.result);
    }
    if (!is_safe_method(method)) {
      return unavailable(fmt::format(
          "{} closed the connection before answering the {} request; it may or may not have been processed, so "
          "it was not sent again: check its effect before retrying",
          target_.url, method));
    }
    if (auto st = connect(); !st) {  // rule 2: once, for a safe method
      return st.error();
    }
    return std::move(exchange(*req).result);
  }

  Result<BeastRequest> build_request(std::string_view method, std::string_view target, std::string_view body,
                                     const std::vector<Header>& headers) const {
    if (!is_token(method)) {
      return invalid_argument(fmt::format("'{}' is not an HTTP method", method));
    }
    if (!is_target(target)) {
      return invalid_argument(
          fmt::format("the request target must start with '/' and be printable ASCII without spaces: '{}'", target));
    }
    BeastRequest req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(bhttp::field::host, target_.host_header);
    req.set(bhttp::field::user_agent, kUserAgent);
    if (!body.empty()) {
      req.set(bhttp::field::content_type, "application/json");
    }
    for (const auto& h : headers) {
      if (!is_token(h.name) || !is_header_value(h.value)) {
        return invalid_argument(fmt::format("the header '{}' has a bad name or a value with CR, LF or NUL", h.name));
      }
      if (is_reserved_header(h.name)) {
        return invalid_argument(fmt::format("the client sets the header '{}' itself", h.name));
      }
      if (iequals(h.name, "user-agent") || iequals(h.name, "content-type")) {
        req.set(h.name, h.value);
      } else {
        req.insert(h.name, h.value);
      }
    }
    req.body() = std::string(body);
    if (!body.empty() || !(method == "GET" || method == "HEAD")) {
      req.content_length(body.size());
    }
    req.keep_alive(true);
    return req;
  }

  // Runs one asynchronous operation to completion on this thread. The
  // deadline is beast::tcp_stream's: it closes the socket when it passes.
  // After interrupt() the operation is aborted at once: the handler it
  // posted may have run already, in an earlier run() or while there was no
  // stream, and a long poll would then wait its whole time.
  template <class Initiate>
  Completion run(Initiate&& initiate) {
    Completion out{asio::error::would_block, 0};
    std::forward<Initiate>(initiate)([&out](const ErrorCodeT& ec, const auto&... rest) {
      out.ec = ec;
      (store_bytes(out, rest), ...);
    });
    if (interrupted_ && stream_) {
      ErrorCodeT ec;
      beast::get_lowest_layer(*stream_).socket().close(ec);
    }
    io_.restart();
    io_.run();
    return out;
  }

  [[nodiscard]] std::string describe(const ErrorCodeT& ec, std::chrono::seconds timeout) const {
    if (ec == beast::error::timeout) {
      return fmt::format("no answer within {} s", timeout.count());
    }
    return ec.message();
  }

  Status connect() {
    close();
    if (interrupted_) {
      return unavailable("the HTTPS client was interrupted (the program is stopping)");  // no retry either
    }
    ErrorCodeT ec;
    std::vector<tcp::endpoint> endpoints;
    if (target_.is_ip) {
      endpoints.emplace_back(asio::ip::make_address(target_.host, ec), target_.port);
    } else {
      tcp::resolver resolver(io_);
      const auto results = resolver.resolve(target_.host, std::to_string(target_.port), ec);
      for (const auto& entry : results) {
        if (std::find(endpoints.begin(), endpoints.end(), entry.endpoint()) == endpoints.end()) {
          endpoints.push_back(entry.endpoint());
        }
      }
    }
    if (ec || endpoints.empty()) {
      return unavailable(fmt::format("cannot find the address of {}: {}", target_.host, ec.message()));
    }
    if (endpoints.size() > kMaxAddresses) {
      endpoints.resize(kMaxAddresses);
    }
    // The address that worked last time first (sticky); the others in the
    // resolver's order.
    if (const auto last = std::find(endpoints.begin(), endpoints.end(), last_good_); last != endpoints.end()) {
      std::rotate(endpoints.begin(), last, last + 1);
    }
    // Each address on its own, with its own deadlines: one that never
    // answers, refuses, or fails the trust check does not stop the next.
    // A trust failure is reported rather than a later connection failure.
    std::optional<Error> untrusted;
    Error last = unavailable("no address was tried (this is a bug)");
    for (const auto& endpoint : endpoints) {
      if (interrupted_) {
        return unavailable("the HTTPS client was interrupted (the program is stopping)");
      }
      auto st = connect_to(endpoint, endpoints.size() > 1);
      if (st) {
        last_good_ = endpoint;
        return {};
      }
      if (st.error().code == ErrorCode::kPermissionDenied) {
        if (!untrusted) {
          untrusted = st.error();
        }
      } else if (st.error().code != ErrorCode::kUnavailable) {
        return st.error();  // not the server's doing: no other address helps
      }
      last = st.error();
    }
    return untrusted ? *untrusted : last;
  }

  Status connect_to(const tcp::endpoint& endpoint, bool name_address) {
    const std::string where =
        name_address ? fmt::format("{} (address {})", target_.url, endpoint.address().to_string()) : target_.url;
    auto stream = std::make_unique<Stream>(io_, tls_);
    SSL* ssl_handle = stream->native_handle();
    // SSL_set_tlsext_host_name without its C cast.
    if (!target_.is_ip && SSL_ctrl(ssl_handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                                   const_cast<char*>(target_.host.c_str())) != 1) {
      return internal_error("cannot set the TLS server name (SNI)");
    }
    if (verifies_chain() && !restrict_to_host(SSL_get0_param(ssl_handle), target_)) {
      return internal_error("cannot set the host name for certificate verification");
    }
    auto& tcp_layer = beast::get_lowest_layer(*stream);
    tcp_layer.expires_after(opts_.connect_timeout);
    if (const auto connected = run([&](auto handler) { tcp_layer.async_connect(endpoint, std::move(handler)); });
        connected.ec) {
      return unavailable(fmt::format("cannot connect to {}: {}; is hoistd running there?", where,
                                     describe(connected.ec, opts_.connect_timeout)));
    }
    tcp_layer.expires_after(opts_.connect_timeout);
    if (const auto handshake =
            run([&](auto handler) { stream->async_handshake(ssl::stream_base::client, std::move(handler)); });
        handshake.ec) {
      const long verify = SSL_get_verify_result(ssl_handle);
      if (verifies_chain() && verify != X509_V_OK) {
        return permission_denied(
            fmt::format("the server at {} is not trusted: its certificate does not verify against {} for {}: {}", where,
                        opts_.ca_file  ? "the CA in " + *opts_.ca_file
                        : opts_.ca_pem ? std::string("the CA given")
                                       : std::string("the system's CAs"),
                        target_.host, X509_verify_cert_error_string(verify)));
      }
      return unavailable(
          fmt::format("the TLS handshake with {} failed: {}", where, describe(handshake.ec, opts_.connect_timeout)));
    }
    if (pin_) {
      if (auto st = check_pin(ssl_handle, where); !st) {
        ErrorCodeT ignored;
        beast::get_lowest_layer(*stream).socket().close(ignored);
        return st.error();
      }
    }
    stream_ = std::move(stream);
    buffer_.clear();
    return {};
  }

  // Whether the handshake verifies the chain (a CA file or the system's).
  [[nodiscard]] bool verifies_chain() const {
    return opts_.ca_file.has_value() || opts_.ca_pem.has_value() || opts_.system_ca;
  }

  // The pin check: after the handshake, before any request.
  Status check_pin(SSL* ssl_handle, const std::string& where) const {
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl_handle);
    X509* leaf = SSL_get0_peer_certificate(ssl_handle);
    if (chain == nullptr || leaf == nullptr) {
      return permission_denied(fmt::format("the server at {} presented no certificate", where));
    }
    X509* pinned = nullptr;
    std::string presented;
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      X509* cert = sk_X509_value(chain, i);
      auto fingerprint = tls::fingerprint_of_certificate(cert);
      if (!fingerprint) {
        return fingerprint.error();
      }
      if (*fingerprint == *pin_ && pinned == nullptr) {
        pinned = cert;
      }
      presented += presented.empty() ? *fingerprint : ", " + *fingerprint;
    }
    if (pinned == nullptr) {
      return permission_denied(fmt::format(
          "the server's certificate does not match the pinned fingerprint {}: the server at {} presented {}; if "
          "hoistd's CA was replaced, pin the fingerprint hoistd printed when it created the new one",
          *pin_, where, presented));
    }
    const tls::X509StorePtr store(X509_STORE_new());
    const tls::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!store || !ctx || X509_STORE_add_cert(store.get(), pinned) != 1 ||
        X509_STORE_CTX_init(ctx.get(), store.get(), leaf, chain) != 1) {
      return internal_error("cannot set up the verification of the pinned certificate");
    }
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    // The pinned certificate is the trust anchor even when it is not
    // self-signed (an intermediate CA, or the leaf itself).
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
    if (X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER) != 1 || !restrict_to_host(param, target_)) {
      return internal_error("cannot set up the verification of the pinned certificate");
    }
    if (X509_verify_cert(ctx.get()) != 1) {
      return permission_denied(fmt::format(
          "the server at {} is not trusted: its certificate chain contains the pinned fingerprint {} but does not "
          "verify against it for {}: {}",
          where, *pin_, target_.host, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()))));
    }
    return {};
  }

  // Whether the kept connection still looks open: the server sends nothing
  // on an idle HTTP/1.1 connection, so anything readable (its close_notify,
  // a FIN, a reset) means it is closing it.
  bool kept_connection_usable() {
    if (buffer_.size() != 0) {
      return false;
    }
    pollfd pfd{};
    pfd.fd = beast::get_lowest_layer(*stream_).socket().native_handle();
    pfd.events = POLLIN | POLLRDHUP;
    return ::poll(&pfd, 1, 0) == 0;
  }

  Attempt exchange(BeastRequest& req) {
    auto& tcp_layer = beast::get_lowest_layer(*stream_);
    tcp_layer.expires_after(opts_.request_timeout);
    const auto fail = [this](const ErrorCodeT& ec, std::string_view while_doing, bool nothing_received) {
      close();
      Attempt out{unavailable(fmt::format("the connection to {} failed while {}: {}", target_.url, while_doing,
                                          describe(ec, opts_.request_timeout))),
                  nothing_received && ec != beast::error::timeout};
      return out;
    };
    if (const auto sent = run([&](auto handler) { bhttp::async_write(*stream_, req, std::move(handler)); }); sent.ec) {
      return fail(sent.ec, "sending the request", true);
    }
    // The first bytes on their own, to know whether any arrived.
    const auto first =
        run([&](auto handler) { stream_->async_read_some(buffer_.prepare(kFirstReadBytes), std::move(handler)); });
    buffer_.commit(first.bytes);
    if (first.ec && first.bytes == 0) {
      return fail(first.ec, "waiting for the response", true);
    }
    for (int interim = 0;; ++interim) {
      bhttp::response_parser<bhttp::string_body> parser;
      parser.header_limit(kMaxResponseHeaderBytes);
      parser.body_limit(opts_.max_response_bytes);
      if (req.method() == bhttp::verb::head) {
        parser.skip(true);
      }
      if (const auto read =
              run([&](auto handler) { bhttp::async_read(*stream_, buffer_, parser, std::move(handler)); });
          read.ec) {
        return fail(read.ec, "reading the response", false);
      }
      const int status = parser.get().result_int();
      if (status / 100 == 1 && status != 101 && interim < kMaxInterimResponses) {
        continue;  // 100 Continue and the like: the real response follows
      }
      auto message = parser.release();
      if (!message.keep_alive() || message.need_eof() || status == 101) {
        close();
      }
      HttpResponse out;
      out.status = status;
      for (const auto& field : message) {
        out.headers.push_back({lower(field.name_string()), std::string(field.value())});
      }
      out.body = std::move(message.body());
      return Attempt{std::move(out), false};
    }
  }

  // Drops the connection without waiting for the server's close_notify.
  void close() {
    if (stream_) {
      ErrorCodeT ec;
      auto& socket = beast::get_lowest_layer(*stream_).socket();
      socket.shutdown(tcp::socket::shutdown_both, ec);
      socket.close(ec);
      stream_.reset();
    }
    buffer_.clear();
  }

  ClientOptions opts_;
  std::atomic<bool> interrupted_{false};
  bool failed_before_sending_ = false;
  tcp::endpoint last_good_;
  Target target_;
  std::optional<std::string> pin_;
  asio::io_context io_;  // interrupt() posts to it from another thread
  ssl::context tls_{ssl::context::tls_client};
  std::unique_ptr<Stream> stream_;
  beast::flat_buffer buffer_;
};

}  // namespace

Result<std::unique_ptr<HttpsClient>> HttpsClient::create(ClientOptions options) {
  try {
    if (!options.ca_file && !options.ca_pem && !options.system_ca && !options.pin_fingerprint) {
      return invalid_argument(
          "refusing to talk to hoistd without a way to trust it: give the CA fingerprint hoistd printed (pin) or "
          "a CA certificate file");
    }
    auto target = parse_url(options.url);
    if (!target) {
      return target.error();
    }
    auto client = std::make_unique<ClientImpl>(std::move(options), std::move(*target));
    if (auto st = client->init(); !st) {
      return st.error();
    }
    return std::unique_ptr<HttpsClient>(std::move(client));
  } catch (const std::exception& e) {
    return internal_error(fmt::format("cannot create the HTTPS client (this is a bug): {}", e.what()));
  }
}

}  // namespace hoist::net
