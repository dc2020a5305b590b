// Helpers for http_tests: TLS material made by hoist::tls::ensure_server_tls
// in temporary directories, a real HttpsServer on loopback run on its own
// thread, clients that trust it, and a look at the kernel's TCP table to
// count connections independently of the code under test.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "log/logger.h"
#include "net/client/https_client.h"
#include "server/http/https_server.h"
#include "server/tls/server_tls.h"
#include "support/temp_dir.h"

namespace hoist::http_testing {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

using TempDir = hoist::testing::PrivateDir;

// hoistd's own CA and server certificate, dated now (the client checks
// validity against the real clock).
struct TestTls {
  TempDir dir;
  tls::ServerTls files;
};

inline std::unique_ptr<TestTls> make_tls() {
  auto out = std::make_unique<TestTls>();
  tls::TlsOptions options;
  options.dir = out->dir.path() + "/tls";
  options.now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  auto made = tls::ensure_server_tls(options);
  if (!made) {
    ADD_FAILURE() << "ensure_server_tls: " << made.error().message;
    std::abort();
  }
  out->files = *made;
  return out;
}

// The server's TLS material, made once per test program.
inline const TestTls& server_tls() {
  static const std::unique_ptr<TestTls> kTls = make_tls();
  return *kTls;
}

// A second, unrelated CA (and server certificate).
inline const TestTls& other_tls() {
  static const std::unique_ptr<TestTls> kTls = make_tls();
  return *kTls;
}

// A real HttpsServer serving `handler` on its own thread until destroyed.
// A logger that keeps each event's name, for counting log lines.
class EventNames {
 public:
  struct State {
    std::mutex mutex;
    std::vector<std::string> events;
  };
  std::unique_ptr<log::Logger> logger() {
    class Keeping final : public log::Logger {
     public:
      explicit Keeping(std::shared_ptr<State> state) : state_(std::move(state)) {}
      void log(log::LogLevel /*level*/, std::string_view event,
               std::initializer_list<log::LogField> /*fields*/) override {
        const std::lock_guard lock(state_->mutex);
        state_->events.emplace_back(event);
      }

     private:
      std::shared_ptr<State> state_;
    };
    return std::make_unique<Keeping>(state_);
  }
  int count(std::string_view prefix) {
    const std::lock_guard lock(state_->mutex);
    return static_cast<int>(std::count_if(state_->events.begin(), state_->events.end(),
                                          [&](const auto& e) { return e.starts_with(prefix); }));
  }

 private:
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

class TestServer {
 public:
  explicit TestServer(net::Handler handler, server::HttpLimits limits = {}, std::string address = "127.0.0.1",
                      net::Admitter admit = {}, std::unique_ptr<log::Logger> log = nullptr,
                      const TestTls& tls = server_tls())
      : log_(log ? std::move(log) : log::make_null_logger()), address_(std::move(address)) {
    server::HttpsServerOptions options;
    options.address = address_;
    options.port = 0;
    options.handler_threads = 4;
    options.cert_chain_file = tls.files.cert_chain_pem_path;
    options.key_file = tls.files.key_path;
    options.limits = limits;
    options.handle_signals = false;
    auto created = server::HttpsServer::create(options, std::move(handler), *log_, {}, std::move(admit));
    if (!created) {
      error_ = created.error().message;
      return;
    }
    server_ = std::move(*created);
    stopped_ = stopped_promise_.get_future();
    thread_ = std::thread([this] {
      server_->run();
      stopped_promise_.set_value();
    });
  }
  ~TestServer() {
    if (server_) {
      server_->stop();
      thread_.join();
    }
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  [[nodiscard]] bool ok() const { return server_ != nullptr; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] std::uint16_t port() const { return server_->port(); }
  [[nodiscard]] std::string url(const std::string& host = "") const {
    const std::string h =
        host.empty() ? (address_.find(':') != std::string::npos ? "[" + address_ + "]" : address_) : host;
    return "https://" + h + ":" + std::to_string(port());
  }
  server::HttpsServer& server() { return *server_; }

  // Whether run() returned within `timeout`.
  bool wait_stopped(milliseconds timeout) { return stopped_.wait_for(timeout) == std::future_status::ready; }

 private:
  std::unique_ptr<log::Logger> log_;
  std::string address_;
  std::string error_;
  std::unique_ptr<server::HttpsServer> server_;
  std::promise<void> stopped_promise_;
  std::future<void> stopped_;
  std::thread thread_;
};

inline Result<std::unique_ptr<net::HttpsClient>> make_client(const std::string& url, std::optional<std::string> pin,
                                                             std::optional<std::string> ca_file = std::nullopt) {
  net::ClientOptions options;
  options.url = url;
  options.pin_fingerprint = std::move(pin);
  options.ca_file = std::move(ca_file);
  options.connect_timeout = std::chrono::seconds(5);
  options.request_timeout = std::chrono::seconds(10);
  return net::HttpsClient::create(std::move(options));
}

// Blocks SIGPIPE in this thread while it lives and drops one raised
// meanwhile: a client writing to a socket the server closed must not end
// the test program, while a SIGPIPE raised in the server's threads still
// does (tls_stream_test relies on that).
class NoSigpipeHere {
 public:
  NoSigpipeHere() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~NoSigpipeHere() {
    const timespec none{0, 0};
    while (sigtimedwait(&pipe_, nullptr, &none) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  NoSigpipeHere(const NoSigpipeHere&) = delete;
  NoSigpipeHere& operator=(const NoSigpipeHere&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
};

// A blocking OpenSSL client on a plain socket, trusting anything: for tests
// about framing, not about trust. `from` picks the loopback address it
// connects from (all of 127.0.0.0/8 is this host).
class RawTlsClient {
 public:
  explicit RawTlsClient(std::uint16_t port, const std::string& from = "127.0.0.1") {
    ctx_ = SSL_CTX_new(TLS_client_method());
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, from.c_str(), &local.sin_addr);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) return;
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) return;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    const NoSigpipeHere guard;
    connected_ = SSL_connect(ssl_) == 1;
  }
  ~RawTlsClient() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    SSL_CTX_free(ctx_);
  }
  RawTlsClient(const RawTlsClient&) = delete;
  RawTlsClient& operator=(const RawTlsClient&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }
  bool write(std::string_view data) {
    const NoSigpipeHere guard;
    return data.empty() || SSL_write(ssl_, data.data(), static_cast<int>(data.size())) == static_cast<int>(data.size());
  }
  // Reads until the server closes; `clean` says whether it sent close_notify.
  std::string read_all(bool& clean) {
    const NoSigpipeHere guard;
    std::string out;
    char chunk[4096];
    for (;;) {
      const int n = SSL_read(ssl_, chunk, sizeof chunk);
      if (n > 0) {
        out.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      clean = SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN;
      return out;
    }
  }
  std::string read_all() {
    bool clean = false;
    return read_all(clean);
  }
  std::string read_some() {
    const NoSigpipeHere guard;
    char chunk[4096];
    const int n = SSL_read(ssl_, chunk, sizeof chunk);
    return n > 0 ? std::string(chunk, static_cast<std::size_t>(n)) : std::string();
  }
  // Closes the socket at once, unread data and all (the kernel sends RST).
  void vanish() {
    SSL_free(ssl_);
    ssl_ = nullptr;
    ::close(fd_);
    fd_ = -1;
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
};

// A client that pins the test CA.
inline std::unique_ptr<net::HttpsClient> pinned_client(const std::string& url) {
  auto client = make_client(url, server_tls().files.pin_fingerprint);
  if (!client) {
    ADD_FAILURE() << "cannot create a client: " << client.error().message;
    return nullptr;
  }
  return std::move(*client);
}

// Polls `condition` every 10 ms until it holds or `timeout` passes.
template <class Condition>
bool eventually(Condition condition, milliseconds timeout = milliseconds(5000)) {
  const auto deadline = steady_clock::now() + timeout;
  while (!condition()) {
    if (steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

inline double seconds_since(steady_clock::time_point start) {
  return std::chrono::duration<double>(steady_clock::now() - start).count();
}

// One line of /proc/net/tcp (IPv4), as the kernel sees it.
struct TcpSocket {
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;
  int state = 0;  // 0x01 ESTABLISHED, 0x06 TIME_WAIT, 0x08 CLOSE_WAIT, 0x0A LISTEN, ...
};
inline constexpr int kTcpEstablished = 0x01;
inline constexpr int kTcpCloseWait = 0x08;
inline constexpr int kTcpListen = 0x0A;

// Every IPv4 socket of this network namespace that is an end of a
// connection to or from `port` (listening sockets excluded).
inline std::vector<TcpSocket> tcp_sockets_of(std::uint16_t port) {
  std::vector<TcpSocket> out;
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot;
    std::string local;
    std::string remote;
    std::string state;
    fields >> slot >> local >> remote >> state;
    const auto port_of = [](const std::string& address) {
      return static_cast<std::uint16_t>(std::stoul(address.substr(address.find(':') + 1), nullptr, 16));
    };
    TcpSocket s{port_of(local), port_of(remote), std::stoi(state, nullptr, 16)};
    if (s.state != kTcpListen && (s.local_port == port || s.remote_port == port)) out.push_back(s);
  }
  return out;
}

// The client-side ports of every connection to `port` the kernel still
// remembers (including closed ones in TIME_WAIT): one per connection made.
inline std::set<std::uint16_t> connections_to(std::uint16_t port) {
  std::set<std::uint16_t> out;
  for (const auto& s : tcp_sockets_of(port)) {
    out.insert(s.local_port == port ? s.remote_port : s.local_port);
  }
  return out;
}

// The state of the client's end of the connection from `client_port`.
inline int client_side_state(std::uint16_t server_port, std::uint16_t client_port) {
  for (const auto& s : tcp_sockets_of(server_port)) {
    if (s.local_port == client_port && s.remote_port == server_port) return s.state;
  }
  return 0;
}

}  // namespace hoist::http_testing
