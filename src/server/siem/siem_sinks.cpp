#include "server/siem/siem_sinks.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <thread>

#include "net/client/https_client.h"

namespace hoist::siem {

namespace {

std::string os_error(std::string_view what, int err) {
  return fmt::format("{}: {}", what, std::strerror(err));
}

// --- file ---------------------------------------------------------------------

class FileSink final : public Sink {
 public:
  explicit FileSink(std::string path) : path_(std::move(path)) {}
  ~FileSink() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status send(std::span<const AuditEvent> events) override {
    if (auto st = open_current(); !st) return st;
    std::string text;
    for (const auto& e : events) {
      text += to_ecs_json(e);
      text += '\n';
    }
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail(os_error("cannot write " + path_, errno));
      done += static_cast<std::size_t>(n);
    }
    if (::fdatasync(fd_) != 0) return fail(os_error("cannot sync " + path_, errno));
    return {};
  }

 private:
  Status open_current() {
    struct stat at_path {};
    const bool exists = ::stat(path_.c_str(), &at_path) == 0;
    if (fd_ >= 0) {
      struct stat open {};
      if (exists && ::fstat(fd_, &open) == 0 && open.st_dev == at_path.st_dev && open.st_ino == at_path.st_ino) {
        return {};
      }
      ::close(fd_);  // rotated or removed: write to the file now at the path
      fd_ = -1;
    }
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd_ < 0) return unavailable(os_error("cannot open " + path_, errno));
    return {};
  }
  Status fail(std::string why) {
    ::close(fd_);
    fd_ = -1;
    return unavailable(std::move(why));
  }
  std::string path_;
  int fd_ = -1;
};

// --- syslog over TCP (and TLS) ---------------------------------------------------

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

std::string ssl_error(std::string_view what) {
  const unsigned long e = ERR_get_error();
  char buf[256] = {};
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return fmt::format("{}: {}", what, e != 0 ? buf : "connection closed");
}

class SyslogSink final : public Sink {
 public:
  SyslogSink(SyslogTarget target, std::unique_ptr<SSL_CTX, SslCtxFree> ctx)
      : t_(std::move(target)), ctx_(std::move(ctx)) {}
  ~SyslogSink() override { disconnect(); }

  Status send(std::span<const AuditEvent> events) override {
    if (fd_ < 0) {
      if (auto st = connect(); !st) return st;
    }
    std::string bytes;
    for (const auto& e : events) bytes += octet_framed(to_rfc5424(e, t_.format));
    const auto deadline = std::chrono::steady_clock::now() + t_.timeout;
    if (auto st = write_all(bytes, deadline); !st) return fail(st.error());
    // TCP has no answer: the receiver has the bytes once its TCP has
    // acknowledged them, which is when our send queue is empty.
    for (;;) {
      int queued = 0;
      if (::ioctl(fd_, SIOCOUTQ, &queued) != 0) return fail(unavailable(os_error("SIOCOUTQ", errno)));
      if (queued == 0) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        return fail(unavailable(
            fmt::format("{}:{} did not take the events within {} ms", t_.host, t_.port, t_.timeout.count())));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    // A receiver that closed meanwhile (its TCP acknowledged, the
    // program gone) is found out on the next batch at the latest.
    return {};
  }

 private:
  Status connect() {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(t_.port);
    if (const int rc = ::getaddrinfo(t_.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
      return unavailable(fmt::format("cannot resolve {}: {}", t_.host, ::gai_strerror(rc)));
    }
    std::string why = "no address";
    for (addrinfo* a = found; a != nullptr && fd_ < 0; a = a->ai_next) {
      const int fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) continue;
      if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
        why = os_error("connect", errno);
        ::close(fd);
        continue;
      }
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      if (::poll(&p, 1, static_cast<int>(t_.timeout.count())) != 1 ||
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        why = err != 0 ? os_error("connect", err) : std::string("connect timed out");
        ::close(fd);
        continue;
      }
      fd_ = fd;
    }
    ::freeaddrinfo(found);
    if (fd_ < 0) return unavailable(fmt::format("cannot connect to {}:{}: {}", t_.host, t_.port, why));
    // Blocking from here, each call bounded by the socket timeouts.
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    const timeval tv{static_cast<time_t>(t_.timeout.count() / 1000),
                     static_cast<suseconds_t>((t_.timeout.count() % 1000) * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (!t_.tls) return {};
    ssl_.reset(SSL_new(ctx_.get()));
    const std::string& name = t_.server_name.empty() ? t_.host : t_.server_name;
    if (!ssl_ || SSL_set_fd(ssl_.get(), fd_) != 1 ||
        SSL_ctrl(ssl_.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(name.c_str())) != 1 ||  // NOLINT: OpenSSL's API
        SSL_set1_host(ssl_.get(), name.c_str()) != 1) {
      return fail(unavailable(ssl_error("cannot set up TLS")));
    }
    if (SSL_connect(ssl_.get()) != 1) {
      const long verify = SSL_get_verify_result(ssl_.get());
      const std::string refused = verify != X509_V_OK ? fmt::format("the receiver's certificate is refused: {}",
                                                                    X509_verify_cert_error_string(verify))
                                                      : ssl_error("TLS handshake failed");
      return fail(unavailable(fmt::format("{}:{}: {}", t_.host, t_.port, refused)));
    }
    return {};
  }

  Status write_all(const std::string& bytes, std::chrono::steady_clock::time_point deadline) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      if (std::chrono::steady_clock::now() >= deadline) return unavailable("writing to the receiver timed out");
      const std::size_t chunk = std::min<std::size_t>(bytes.size() - done, 1 << 20);
      if (ssl_) {
        const int n = SSL_write(ssl_.get(), bytes.data() + done, static_cast<int>(chunk));
        if (n <= 0) return unavailable(ssl_error(fmt::format("writing to {}:{}", t_.host, t_.port)));
        done += static_cast<std::size_t>(n);
      } else {
        const ssize_t n = ::send(fd_, bytes.data() + done, chunk, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return unavailable(os_error(fmt::format("writing to {}:{}", t_.host, t_.port), errno));
        done += static_cast<std::size_t>(n);
      }
    }
    return {};
  }

  Status fail(Error e) {
    disconnect();
    return e;
  }
  void disconnect() {
    ssl_.reset();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  SyslogTarget t_;
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx_;
  std::unique_ptr<SSL, SslFree> ssl_;
  int fd_ = -1;
};

// --- HTTP event collector ----------------------------------------------------------

class HecSink final : public Sink {
 public:
  HecSink(HecTarget target, std::unique_ptr<net::HttpsClient> client)
      : t_(std::move(target)), client_(std::move(client)) {}

  Status send(std::span<const AuditEvent> events) override {
    namespace json = boost::json;
    std::string body;
    for (const auto& e : events) {
      json::object o{{"time", static_cast<double>(e.time.time_since_epoch().count()) / 1000.0},
                     {"host", e.host.empty() ? std::string("hoistd") : e.host},
                     {"source", "hoistd"},
                     {"sourcetype", t_.source_type},
                     {"event", json::parse(to_ecs_json(e))}};
      body += json::serialize(o);
      body += '\n';
    }
    auto r = client_->request("POST", t_.path, body, {{"Authorization", "Splunk " + t_.token}});
    if (!r) return unavailable(fmt::format("{}: {}", t_.url, r.error().message));
    if (r->status < 200 || r->status > 299) {
      return unavailable(fmt::format("{} answered HTTP {}: {}", t_.url, r->status, r->body.substr(0, 200)));
    }
    return {};
  }

 private:
  HecTarget t_;
  std::unique_ptr<net::HttpsClient> client_;
};

}  // namespace

std::unique_ptr<Sink> make_file_sink(std::string path) {
  return std::make_unique<FileSink>(std::move(path));
}

Result<std::unique_ptr<Sink>> make_syslog_sink(SyslogTarget target) {
  if (target.host.empty() || target.port == 0) return invalid_argument("a syslog receiver needs a host and a port");
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx;
  if (target.tls) {
    if (target.ca_file.empty()) return invalid_argument("syslog over TLS needs ca_file to verify the receiver");
    ctx.reset(SSL_CTX_new(TLS_client_method()));
    if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1) {
      return internal_error(ssl_error("cannot set up TLS"));
    }
    if (SSL_CTX_load_verify_locations(ctx.get(), target.ca_file.c_str(), nullptr) != 1) {
      return invalid_argument(ssl_error(fmt::format("cannot read the CA file {}", target.ca_file)));
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  }
  return std::unique_ptr<Sink>(std::make_unique<SyslogSink>(std::move(target), std::move(ctx)));
}

Result<std::unique_ptr<Sink>> make_hec_sink(HecTarget target) {
  if (target.token.empty()) return invalid_argument("an event collector needs a token");
  net::ClientOptions options;
  options.url = target.url;
  options.ca_file = target.ca_file;
  options.connect_timeout = target.timeout;
  options.request_timeout = target.timeout;
  options.max_response_bytes = 64 * 1024;
  auto client = net::HttpsClient::create(std::move(options));
  if (!client) return client.error();
  return std::unique_ptr<Sink>(std::make_unique<HecSink>(std::move(target), std::move(*client)));
}

}  // namespace hoist::siem
