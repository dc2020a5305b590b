// hoist_https_client: options and URLs, trust (pins and CA files, checked
// against a real HttpsServer), and the reconnect rule, checked against a
// scripted TLS server written with OpenSSL alone.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http_test_support.h"
#include "net/tls/fingerprint.h"

namespace hoist::http_testing {
namespace {

using std::chrono::seconds;

net::Handler ok_handler(std::atomic<int>& calls) {
  return [&calls](const net::HttpRequest&) {
    calls.fetch_add(1);
    return net::json_response(200, R"({"ok":true})");
  };
}

std::string leaf_fingerprint() {
  auto fp = tls::fingerprint_of_file(server_tls().files.cert_chain_pem_path);
  EXPECT_TRUE(fp) << fp.error().message;
  return fp ? *fp : "";
}

// ---- options and URLs ------------------------------------------------------

TEST(HttpsClientOptions, RefusesToCreateWithoutTrust) {
  auto client = make_client("https://127.0.0.1:8443", std::nullopt, std::nullopt);
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(client.error().message.find("trust"), std::string::npos) << client.error().message;
}

TEST(HttpsClientOptions, RejectsMalformedPin) {
  for (const std::string& pin : std::vector<std::string>{"", "AB:CD", "not a fingerprint", std::string(64, 'g')}) {
    auto client = make_client("https://127.0.0.1:8443", pin);
    ASSERT_FALSE(client) << pin;
    EXPECT_EQ(client.error().code, ErrorCode::kInvalidArgument) << pin;
  }
}

TEST(HttpsClientOptions, CaFileMustExistAndHoldACertificate) {
  auto missing = make_client("https://127.0.0.1:8443", std::nullopt, "/nonexistent/hoist/ca.crt");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  const TempDir dir;
  const std::string garbage = dir.path() + "/garbage.pem";
  std::ofstream(garbage) << "not a certificate\n";
  auto bad = make_client("https://127.0.0.1:8443", std::nullopt, garbage);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

TEST(HttpsClientOptions, AcceptsHttpsUrls) {
  for (const std::string url :
       {"https://hoist.example.com", "https://hoist.example.com:8443", "https://HOIST.example.com/",
        "https://127.0.0.1:8443", "https://[::1]:8443", "https://[2001:db8::1]", "HTTPS://localhost:1"}) {
    auto client = make_client(url, server_tls().files.pin_fingerprint);
    EXPECT_TRUE(client) << url << ": " << client.error().message;
  }
}

TEST(HttpsClientOptions, RejectsOtherUrls) {
  for (const std::string url :
       {"", "hoist.example.com", "http://hoist.example.com", "ftp://hoist.example.com", "https://",
        "https://hoist.example.com/v1", "https://hoist.example.com?x=1", "https://hoist.example.com#top",
        "https://user:pw@hoist.example.com", "https://hoist.example.com:", "https://hoist.example.com:0",
        "https://hoist.example.com:65536", "https://hoist.example.com:99999999", "https://hoist.example.com:ab",
        "https://hoist%2Eexample.com", "https://[::1", "https://::1:8443", "https://[v1.fe]:8443",
        "https://host name"}) {
    auto client = make_client(url, server_tls().files.pin_fingerprint);
    ASSERT_FALSE(client) << url;
    EXPECT_EQ(client.error().code, ErrorCode::kInvalidArgument) << url;
  }
}

TEST(HttpsClientOptions, RejectsRequestsItCannotSendSafely) {
  std::atomic<int> calls{0};
  TestServer server(ok_handler(calls));
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  const std::vector<std::pair<std::string, std::string>> bad_targets{
      {"GET", ""}, {"GET", "v1/x"}, {"GET", "/a b"}, {"GET", "/a\r\nX-Evil: 1"}, {"G T", "/"}, {"", "/"}};
  for (const auto& [method, target] : bad_targets) {
    auto r = client->request(method, target);
    ASSERT_FALSE(r) << method << " " << target;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  const std::vector<net::Header> bad_headers{
      {"x-evil", "a\r\nX-Injected: 1"}, {"bad name", "v"},      {"", "v"}, {"Host", "evil"}, {"content-length", "0"},
      {"Transfer-Encoding", "chunked"}, {"connection", "close"}};
  for (const auto& h : bad_headers) {
    auto r = client->request("GET", "/", {}, {h});
    ASSERT_FALSE(r) << h.name;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << h.name;
  }
  EXPECT_EQ(calls.load(), 0);
  auto fine = client->request("GET", "/", {}, {{"User-Agent", "hoist-agent/0.1.0"}});
  ASSERT_TRUE(fine) << fine.error().message;
  EXPECT_EQ(calls.load(), 1);
}

// ---- trust -----------------------------------------------------------------

TEST(HttpsClientTrust, PinOfTheCaWorksInEveryWrittenForm) {
  std::atomic<int> calls{0};
  TestServer server(ok_handler(calls));
  ASSERT_TRUE(server.ok()) << server.error();
  const std::string pin = server_tls().files.pin_fingerprint;
  std::string bare;
  std::copy_if(pin.begin(), pin.end(), std::back_inserter(bare), [](char c) { return c != ':'; });
  std::string lower = "sha256:" + bare;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) { return std::tolower(c); });
  for (const std::string& form : {pin, bare, lower}) {
    auto client = make_client(server.url(), form);
    ASSERT_TRUE(client) << client.error().message;
    auto r = (*client)->request("GET", "/");
    ASSERT_TRUE(r) << form << ": " << r.error().message;
    EXPECT_EQ(r->status, 200);
  }
  auto by_name = make_client(server.url("localhost"), pin);
  ASSERT_TRUE(by_name);
  auto r = (*by_name)->request("GET", "/");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(calls.load(), 4);
}

TEST(HttpsClientTrust, PinOfTheLeafWorks) {
  std::atomic<int> calls{0};
  TestServer server(ok_handler(calls));
  ASSERT_TRUE(server.ok()) << server.error();
  const auto leaf = leaf_fingerprint();
  ASSERT_NE(leaf, server_tls().files.pin_fingerprint);
  auto client = make_client(server.url(), leaf);
  ASSERT_TRUE(client);
  auto r = (*client)->request("GET", "/");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
}

TEST(HttpsClientTrust, PinOfAnotherCertificateFailsBeforeAnyRequest) {
  std::atomic<int> calls{0};
  TestServer server(ok_handler(calls));
  ASSERT_TRUE(server.ok()) << server.error();
  const std::string random =
      "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
      "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
  for (const std::string& pin : {other_tls().files.pin_fingerprint, random}) {
    auto client = make_client(server.url(), pin);
    ASSERT_TRUE(client);
    auto r = (*client)->request("POST", "/v1/requests", "{}");
    ASSERT_FALSE(r) << pin;
    EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
    EXPECT_NE(r.error().message.find("the server's certificate does not match the pinned fingerprint " + pin),
              std::string::npos)
        << r.error().message;
    EXPECT_NE(r.error().message.find(server_tls().files.pin_fingerprint), std::string::npos)
        << "the message names what the server presented: " << r.error().message;
  }
  EXPECT_EQ(calls.load(), 0) << "no request reaches an untrusted server";
}

TEST(HttpsClientTrust, CaFileWorksForIpAndName) {
  std::atomic<int> calls{0};
  TestServer server(ok_handler(calls));
  ASSERT_TRUE(server.ok()) << server.error();
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    auto client = make_client(server.url(host), std::nullopt, server_tls().files.ca_cert_path);
    ASSERT_TRUE(client);
    auto r = (*client)->request("GET", "/");
    ASSERT_TRUE(r) << host << ": " << r.error().message;
    EXPECT_EQ(r->status, 200);
  }
  // Both: both must pass.
  auto both = make_client(server.url(), server_tls().files.pin_fingerprint, server_tls().files.ca_cert_path);
  ASSERT_TRUE(both);
  EXPECT_TRUE((*both)->request("GET", "/"));
  auto mismatch = make_client(server.url(), other_tls().files.pin_fingerprint, server_tls().files.ca_cert_path);
  ASSERT_TRUE(mismatch);
  auto r = (*mismatch)->request("GET", "/");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(calls.load(), 3);
}

TEST(HttpsClientTrust, CaFileOfAnotherCaFails) {
  std::atomic<int> calls{0};
  TestServer server(ok_handler(calls));
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = make_client(server.url(), std::nullopt, other_tls().files.ca_cert_path);
  ASSERT_TRUE(client);
  auto r = (*client)->request("GET", "/");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(r.error().message.find("not trusted"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(other_tls().files.ca_cert_path), std::string::npos) << r.error().message;
  EXPECT_EQ(calls.load(), 0);
}

// The certificate covers localhost, 127.0.0.1 and ::1; a server reached as
// 127.0.0.2 is someone else as far as the certificate says.
TEST(HttpsClientTrust, HostNotInTheCertificateFails) {
  std::atomic<int> calls{0};
  TestServer server(ok_handler(calls), {}, "127.0.0.2");
  if (!server.ok()) GTEST_SKIP() << "cannot listen on 127.0.0.2: " << server.error();
  auto with_ca = make_client(server.url(), std::nullopt, server_tls().files.ca_cert_path);
  ASSERT_TRUE(with_ca);
  auto r = (*with_ca)->request("GET", "/");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(r.error().message.find("IP address mismatch"), std::string::npos) << r.error().message;

  auto with_pin = make_client(server.url(), server_tls().files.pin_fingerprint);
  ASSERT_TRUE(with_pin);
  r = (*with_pin)->request("GET", "/");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(r.error().message.find("IP address mismatch"), std::string::npos) << r.error().message;
  EXPECT_EQ(calls.load(), 0);
}

TEST(HttpsClientTrust, Ipv6Literal) {
  std::atomic<int> calls{0};
  TestServer server(ok_handler(calls), {}, "::1");
  if (!server.ok()) GTEST_SKIP() << "cannot listen on ::1: " << server.error();
  auto client = make_client(server.url(), std::nullopt, server_tls().files.ca_cert_path);
  ASSERT_TRUE(client) << client.error().message;
  auto r = (*client)->request("GET", "/");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
}

TEST(HttpsClientTrust, NothingListeningIsUnavailable) {
  std::uint16_t port = 0;
  {
    std::atomic<int> calls{0};
    const TestServer server(ok_handler(calls));
    ASSERT_TRUE(server.ok()) << server.error();
    port = server.port();
  }
  auto client = make_client("https://127.0.0.1:" + std::to_string(port), server_tls().files.pin_fingerprint);
  ASSERT_TRUE(client);
  auto r = (*client)->request("GET", "/");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable) << r.error().message;
}

// ---- the reconnect rule ----------------------------------------------------

// A TLS server with OpenSSL alone that follows a script, one action per
// request it reads (across connections), one connection at a time.
class ScriptedServer {
 public:
  enum class Action { kAnswer, kCloseUnanswered };

  explicit ScriptedServer(std::vector<Action> script) : script_(std::move(script)) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(ctx_, server_tls().files.cert_chain_pem_path.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, server_tls().files.key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
      ADD_FAILURE() << "cannot load the test certificate";
    }
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(listener_, 8) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen";
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
    SSL_CTX_free(ctx_);
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  [[nodiscard]] std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> requests() {
    const std::lock_guard lock(mutex_);
    return requests_;
  }
  int connections() const { return connections_.load(); }

 private:
  void serve() {
    while (!stop_) {
      pollfd pfd{listener_, POLLIN, 0};
      if (::poll(&pfd, 1, 20) != 1) continue;
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) continue;
      connections_.fetch_add(1);
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) serve_connection(ssl);
      SSL_free(ssl);  // no close_notify: the connection just ends
      ::close(fd);
      ERR_clear_error();
    }
  }

  // Reads one request ("METHOD TARGET"); "" when the connection ended.
  std::string read_request(SSL* ssl, std::string& buffer) {
    for (;;) {
      const auto end = buffer.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = buffer.substr(0, end);
        std::size_t length = 0;
        std::string lower = head;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) { return std::tolower(c); });
        if (const auto at = lower.find("\r\ncontent-length:"); at != std::string::npos) {
          length = std::stoul(lower.substr(at + 17));
        }
        if (buffer.size() >= end + 4 + length) {
          buffer.erase(0, end + 4 + length);
          return head.substr(0, head.find(" HTTP/"));
        }
      }
      std::array<char, 4096> chunk{};
      const int n = SSL_read(ssl, chunk.data(), static_cast<int>(chunk.size()));
      if (n <= 0) return "";
      buffer.append(chunk.data(), static_cast<std::size_t>(n));
    }
  }

  void serve_connection(SSL* ssl) {
    std::string buffer;
    for (;;) {
      const std::string request = read_request(ssl, buffer);
      if (request.empty()) return;
      Action action = Action::kAnswer;
      {
        const std::lock_guard lock(mutex_);
        if (requests_.size() < script_.size()) action = script_[requests_.size()];
        requests_.push_back(request);
      }
      if (action == Action::kCloseUnanswered) return;
      const std::string body = R"({"ok":true})";
      const std::string response =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n\r\n" + body;
      if (SSL_write(ssl, response.data(), static_cast<int>(response.size())) <= 0) return;
    }
  }

  std::vector<Action> script_;
  SSL_CTX* ctx_ = nullptr;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

using Action = ScriptedServer::Action;

// A daemon stopping ends its long poll at once, from another thread.
TEST(HttpsClientInterrupt, EndsARequestInProgressAndEveryLaterOne) {
  TestServer server([](const net::HttpRequest& request) {
    if (request.path != "/wait") return net::json_response(200, "{}");
    net::HttpResponse response;
    auto lp = std::make_shared<net::LongPoll>();
    lp->until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    lp->poll = [](bool last) -> std::optional<net::HttpResponse> {
      if (last) return net::json_response(200, R"({"late":true})");
      return std::nullopt;
    };
    response.long_poll = std::move(lp);
    return response;
  });
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->request("GET", "/ok"));  // a kept connection
  const auto started = std::chrono::steady_clock::now();
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    client->interrupt();
  });
  auto waited = client->request("GET", "/wait");
  stopper.join();
  ASSERT_FALSE(waited);
  EXPECT_EQ(waited.error().code, ErrorCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  auto later = client->request("GET", "/ok");
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().code, ErrorCode::kUnavailable);
}

// A TCP relay to `port` on loopback that holds each connection `delay`
// before relaying it: the client's TLS handshake waits that long.
class SlowRelay {
 public:
  SlowRelay(std::uint16_t port, std::chrono::milliseconds delay) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_, 4) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, port, delay] {
      const int in = ::accept(listener_, nullptr, nullptr);
      if (in < 0) return;
      std::this_thread::sleep_for(delay);
      const int out = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      to.sin_port = htons(port);
      if (::connect(out, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) {
        std::array<pollfd, 2> fds{pollfd{in, POLLIN, 0}, pollfd{out, POLLIN, 0}};
        char buf[16384];
        while (!stop_ && ::poll(fds.data(), fds.size(), 100) >= 0) {
          bool closed = false;
          for (std::size_t i = 0; i < 2; ++i) {
            if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
            const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n <= 0 || ::send(fds[1 - i].fd, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) closed = true;
          }
          if (closed) break;
        }
      }
      ::close(out);
      ::close(in);
    });
  }
  ~SlowRelay() {
    stop_ = true;
    if (listener_ >= 0) ::shutdown(listener_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    if (listener_ >= 0) ::close(listener_);
  }
  SlowRelay(const SlowRelay&) = delete;
  SlowRelay& operator=(const SlowRelay&) = delete;
  [[nodiscard]] std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }

 private:
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// interrupt() while the client connects (no stream yet: the handler it
// posts finds nothing to close) still ends the long poll that follows at
// once; hoist-agent's SIGTERM right after its start waited out the push
// wait (found by agent_doctor_e2e_tests).
TEST(HttpsClientInterrupt, DuringTheHandshakeEndsTheRequestThatFollows) {
  TestServer server([](const net::HttpRequest&) {
    net::HttpResponse response;
    auto lp = std::make_shared<net::LongPoll>();
    lp->until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    lp->poll = [](bool last) -> std::optional<net::HttpResponse> {
      if (last) return net::json_response(200, R"({"late":true})");
      return std::nullopt;
    };
    response.long_poll = std::move(lp);
    return response;
  });
  ASSERT_TRUE(server.ok()) << server.error();
  SlowRelay relay(server.port(), std::chrono::milliseconds(800));
  auto client = pinned_client(relay.url());
  ASSERT_NE(client, nullptr);
  const auto started = std::chrono::steady_clock::now();
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the relay holds the handshake until 800 ms
    client->interrupt();
  });
  auto waited = client->request("GET", "/wait");
  stopper.join();
  ASSERT_FALSE(waited);
  EXPECT_EQ(waited.error().code, ErrorCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(HttpsClientReconnect, SafeRequestIsSentAgainOnceWhenTheKeptConnectionDropsIt) {
  ScriptedServer server({Action::kAnswer, Action::kCloseUnanswered, Action::kAnswer});
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->request("GET", "/a"));
  auto r = client->request("GET", "/b");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server.requests(), (std::vector<std::string>{"GET /a", "GET /b", "GET /b"}));
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpsClientReconnect, UnsafeRequestIsNeverSentAgain) {
  for (const std::string method : {"POST", "PUT", "PATCH", "DELETE"}) {
    ScriptedServer server({Action::kAnswer, Action::kCloseUnanswered, Action::kAnswer});
    auto client = pinned_client(server.url());
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(client->request("GET", "/a"));
    auto r = client->request(method, "/b", "{}");
    ASSERT_FALSE(r) << method;
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(r.error().message.find("may or may not have been processed"), std::string::npos) << r.error().message;
    EXPECT_EQ(server.requests(), (std::vector<std::string>{"GET /a", method + " /b"}));
    // The client is still usable: the next request gets a new connection.
    auto next = client->request("GET", "/c");
    ASSERT_TRUE(next) << next.error().message;
    EXPECT_EQ(server.connections(), 2);
  }
}

TEST(HttpsClientReconnect, OnlyOnce) {
  ScriptedServer server({Action::kAnswer, Action::kCloseUnanswered, Action::kCloseUnanswered, Action::kAnswer});
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->request("GET", "/a"));
  auto r = client->request("GET", "/b");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(server.requests(), (std::vector<std::string>{"GET /a", "GET /b", "GET /b"}));
}

TEST(HttpsClientReconnect, NotOnAFreshConnection) {
  ScriptedServer server({Action::kCloseUnanswered, Action::kAnswer});
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);
  auto r = client->request("GET", "/a");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(server.requests(), (std::vector<std::string>{"GET /a"}));
  EXPECT_EQ(server.connections(), 1);
}

}  // namespace
}  // namespace hoist::http_testing
