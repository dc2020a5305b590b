// hoistd behind Debian's HAProxy with the shipped examples/haproxy/hoistd.cfg
// (send-proxy-v2, check-send-proxy) and [server] proxy_protocol_from set to
// HAProxy's source address alone: each client is seen at its own address.
// Attacks: a peer failing logins through HAProxy locks only its own address,
// not every admin's; a client straight at a replica cannot name its address
// with a forged header; HAProxy's address without a header is closed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>

#include "fault_support.h"

namespace hoist::replicas {
namespace {

using hoist::testing::HoistdOptions;
using hoist::testing::kHaproxySource;

struct CurlReply {
  int status = 0;
  std::string body;
};

// A login through HAProxy by curl, from the loopback address `source`.
CurlReply login_from(const char* source, const HaproxyProcess& haproxy, const std::string& ca_file,
                     const std::string& user, const std::string& password) {
  const std::string port = std::to_string(haproxy.port());
  const std::string body_file = haproxy.config_path() + ".reply";
  const std::string cmd = "curl -s --max-time 20 -o '" + body_file + "' -w '%{http_code}' --interface " + source +
                          " --cacert '" + ca_file + "' --resolve " + kServiceName + ":" + port +
                          ":127.0.0.1 -H 'Content-Type: application/json' --data '{\"user\":\"" + user +
                          "\",\"password\":\"" + password + "\"}' https://" + kServiceName + ":" + port +
                          "/api/v1/login";
  CurlReply reply;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {  // NOLINT(cert-env33-c): the test's own words
    std::array<char, 16> code{};
    if (std::fgets(code.data(), code.size(), p) != nullptr) reply.status = std::atoi(code.data());
    ::pclose(p);
  }
  std::ifstream in(body_file);
  std::stringstream s;
  s << in.rdbuf();
  reply.body = s.str();
  return reply;
}

// Connects from `source` straight to 127.0.0.1:`port`, sends `prefix`,
// then a TLS handshake: whether the handshake completed.
bool handshake_from(const char* source, std::uint16_t port, const std::string& prefix) {
  // OpenSSL writes with send() without MSG_NOSIGNAL: a connection the
  // replica closed must fail the handshake, not kill the test.
  ::signal(SIGPIPE, SIG_IGN);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool done = false;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0 &&
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 &&
      (prefix.empty() ||
       ::send(fd, prefix.data(), prefix.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(prefix.size()))) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    done = SSL_connect(ssl) == 1;
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  ::close(fd);
  return done;
}

// A TLS connection from `source` straight to 127.0.0.1:`port`, after
// `prefix`, held open until destroyed (ok: the handshake completed).
class Held {
 public:
  Held(const char* source, std::uint16_t port, const std::string& prefix) {
    ::signal(SIGPIPE, SIG_IGN);  // as in handshake_from
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &from.sin_addr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
        ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 ||
        ::send(fd_, prefix.data(), prefix.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(prefix.size())) {
      return;
    }
    ctx_ = SSL_CTX_new(TLS_client_method());
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    ok_ = SSL_connect(ssl_) == 1;
  }
  ~Held() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  Held(const Held&) = delete;
  Held& operator=(const Held&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
};

// A PROXY protocol v2 header: PROXY, TCP over IPv4, from `client`.
std::string proxy_header(const char* client) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h += std::string{0x21, 0x11, 0x00, 0x0c};
  std::array<unsigned char, 4> addr{};
  ::inet_pton(AF_INET, client, addr.data());
  h.append(reinterpret_cast<const char*>(addr.data()), 4);
  h += std::string{127, 0, 0, 1, 0x30, 0x39, 0x20, static_cast<char>(0xfb)};
  return h;
}

// The per-address connection limit counts the client the header names, not
// the balancer: one client at its limit leaves room for the next.
TEST(ProxyProtocolLimits, ConnectionsAreCountedPerClientNotPerBalancer) {
  HoistdOptions o;
  o.config_toml = std::string("[server]\nproxy_protocol_from = [\"") + kHaproxySource +
                  "\"]\n[limits]\nmax_connections_per_address = 2\nhandshake_timeout_s = 1\n";
  HoistdProcess hoistd(o);
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  const auto port = hoistd.port();
  Held a1(kHaproxySource, port, proxy_header("127.0.0.7"));
  Held a2(kHaproxySource, port, proxy_header("127.0.0.7"));
  ASSERT_TRUE(a1.ok());
  ASSERT_TRUE(a2.ok());
  Held a3(kHaproxySource, port, proxy_header("127.0.0.7"));
  EXPECT_FALSE(a3.ok()) << "a third connection of 127.0.0.7 must be refused";
  Held b1(kHaproxySource, port, proxy_header("127.0.0.8"));
  Held b2(kHaproxySource, port, proxy_header("127.0.0.8"));
  EXPECT_TRUE(b1.ok());
  EXPECT_TRUE(b2.ok());
  // And 127.0.0.9's own (LOCAL, a health check) still gets in.
  Held check(kHaproxySource, port, std::string("\r\n\r\n\0\r\nQUIT\n", 12) + std::string{0x20, 0x00, 0x00, 0x00});
  EXPECT_TRUE(check.ok());
  // A listed peer that sends nothing is closed at handshake_timeout_s.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, kHaproxySource, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from), 0);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  const auto started = std::chrono::steady_clock::now();
  char byte = 0;
  EXPECT_EQ(::recv(fd, &byte, 1, 0), 0) << "closed, not left open";
  const auto waited = std::chrono::steady_clock::now() - started;
  ::close(fd);
  EXPECT_GE(waited, std::chrono::milliseconds(900));
  EXPECT_LT(waited, std::chrono::seconds(4));
}

class ProxyProtocolE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) ASSERT_NE(replicas_.add(), nullptr);
    proxy_ = std::make_unique<HaproxyProcess>(HOIST_HAPROXY_EXAMPLE, replicas_[0].ca_file(), kServiceName);
    ASSERT_TRUE(proxy_->check_shipped()) << proxy_->error();
    ASSERT_TRUE(proxy_->start({{"hoistd1", replicas_[0].port()}, {"hoistd2", replicas_[1].port()}})) << proxy_->error();
  }

  // Until HAProxy's checks (TLS after a LOCAL header) have both replicas up.
  bool both_up() {
    for (int i = 0; i < 100; ++i) {
      if (login_from("127.0.0.4", *proxy_, replicas_[0].ca_file(), "nobody-probe", "x").status == 401) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  Replicas replicas_{load_toml()};
  std::unique_ptr<HaproxyProcess> proxy_;  // made once the replicas' CA exists
};

TEST_F(ProxyProtocolE2E, FailedLoginsFromOneClientDoNotLockAnother) {
  ASSERT_TRUE(both_up()) << proxy_->log();
  // Made-up names: only the address key of 127.0.0.2 fills up.
  int last = 0;
  for (int i = 0; i < 8; ++i) {
    last = login_from("127.0.0.2", *proxy_, replicas_[0].ca_file(), "made-up-" + std::to_string(i), "wrong").status;
  }
  EXPECT_EQ(last, 429) << "the guessing address itself must be throttled";
  const auto admin = login_from("127.0.0.3", *proxy_, replicas_[0].ca_file(), "admin",
                                std::string(hoist::testing::kHoistdAdminPassword));
  EXPECT_EQ(admin.status, 200) << admin.body;
  // Every check went through the header: no replica was ever down.
  EXPECT_EQ(proxy_->log().find("is DOWN"), std::string::npos) << proxy_->log();
}

TEST_F(ProxyProtocolE2E, TheAuditShowsTheClientsAddress) {
  ASSERT_TRUE(both_up()) << proxy_->log();
  const auto admin = login_from("127.0.0.3", *proxy_, replicas_[0].ca_file(), "admin",
                                std::string(hoist::testing::kHoistdAdminPassword));
  ASSERT_EQ(admin.status, 200) << admin.body;
  auto token = replicas_[0].admin_token();
  ASSERT_TRUE(token) << token.error().message;
  const auto audit = replicas_[0].call("GET", "/api/v1/audit?limit=1000&action=user.login", "", bearer(*token));
  ASSERT_EQ(audit.status, 200) << audit;
  EXPECT_NE(audit.body.find("127.0.0.3"), std::string::npos) << audit.body;
  EXPECT_EQ(audit.body.find(kHaproxySource), std::string::npos) << audit.body;
  const auto failed = login_from("127.0.0.2", *proxy_, replicas_[0].ca_file(), "made-up", "wrong");
  EXPECT_EQ(failed.status, 401) << failed.body;
  const auto failures =
      replicas_[0].call("GET", "/api/v1/audit?limit=1000&action=user.login_failed", "", bearer(*token));
  ASSERT_EQ(failures.status, 200) << failures;
  EXPECT_NE(failures.body.find("127.0.0.2"), std::string::npos) << failures.body;
}

TEST_F(ProxyProtocolE2E, OnlyTheListedAddressIsReadForAHeader) {
  const auto port = replicas_[0].port();
  // Controls: a plain client elsewhere, and the listed address with a header.
  EXPECT_TRUE(handshake_from("127.0.0.2", port, ""));
  EXPECT_TRUE(handshake_from(kHaproxySource, port, proxy_header("127.0.0.7")));
  // A forged header from an address not listed: its bytes go to TLS, which fails.
  EXPECT_FALSE(handshake_from("127.0.0.2", port, proxy_header("10.9.9.9")));
  // The listed address without a header (its ClientHello is no header): closed.
  EXPECT_FALSE(handshake_from(kHaproxySource, port, ""));
  // A v1 text header from the listed address: closed too.
  EXPECT_FALSE(handshake_from(kHaproxySource, port, "PROXY TCP4 127.0.0.7 127.0.0.1 12345 8443\r\n"));
  // The replica still serves.
  EXPECT_TRUE(handshake_from("127.0.0.2", port, ""));
}

}  // namespace
}  // namespace hoist::replicas
