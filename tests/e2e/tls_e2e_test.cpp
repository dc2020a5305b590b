// hoistd's TLS end to end (issue 20, item 4): the real hoistd on loopback
// (tests/support/hoistd_process.h), with certificates made here with
// OpenSSL alone (tests/support/tls_test_support.h) and checked with
// `openssl s_client` and raw OpenSSL connections that never reconnect:
//  - TLS 1.2 offers ECDHE with AES-GCM or ChaCha20-Poly1305 only, for
//    hoistd's own ECDSA key and an admin's RSA key; TLS 1.1 is refused;
//  - every answer carries Strict-Transport-Security;
//  - SIGHUP serves a renewed certificate to new connections while open
//    ones (an agent's long poll among them) go on with theirs, and a storm
//    of SIGHUPs runs one reload at a time;
//  - a missing, foreign, expired, not yet valid, too open or unparsable
//    file keeps the certificate served, logged and counted;
//  - the real hoist-agent and hoist trust the admin's CA (pin or CA file),
//    and refuse another CA and a certificate for another name.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/x509v3.h>
#include <array>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/hoistd_process.h"
#include "support/tls_test_support.h"

namespace hoist::e2e {
namespace {

namespace json = boost::json;
using hoist::testing::HoistdProcess;
using hoist::testing::HttpReply;
using namespace hoist::tls::testing;  // NOLINT(google-build-using-namespace)
using hoist::tls::PkeyPtr;
using std::chrono::days;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

TimePoint now() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

// Runs a command (argv[0] a path), stdin /dev/null or `input`, and returns
// its exit status and output (stdout and stderr together).
struct RunResult {
  int status = -1;
  std::string output;
};
RunResult run(const std::vector<std::string>& argv, const std::string& dir, const std::string& input = "") {
  const std::string in_path = dir + "/cmd.in";
  const std::string out_path = dir + "/cmd.out";
  write_text(in_path, input, 0600);
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::FILE* in = std::freopen(in_path.c_str(), "r", stdin);
    std::FILE* out = std::freopen(out_path.c_str(), "w", stdout);
    if (in == nullptr || out == nullptr || ::dup2(1, 2) < 0) ::_exit(127);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  RunResult r;
  int status = 0;
  if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) r.status = WEXITSTATUS(status);
  r.output = read_text(out_path);
  return r;
}

// One `openssl s_client` handshake; true when it agreed on a cipher.
struct Handshake {
  bool ok = false;
  std::string output;
};
Handshake s_client(std::uint16_t port, const std::string& dir, const std::vector<std::string>& extra) {
  std::vector<std::string> argv{"/usr/bin/timeout", "10",       "/usr/bin/openssl",
                                "s_client",         "-connect", "127.0.0.1:" + std::to_string(port)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  Handshake h;
  const RunResult r = run(argv, dir);
  h.output = r.output;
  // "New, TLSv1.2, Cipher is ECDHE-..." after a handshake; "Cipher is
  // (NONE)" when there was none.
  h.ok = r.output.find("Cipher is ") != std::string::npos && r.output.find("Cipher is (NONE)") == std::string::npos;
  return h;
}

// A TLS connection made and used with OpenSSL alone, which never
// reconnects: a request answered on it after a reload proves the
// connection outlived the reload.
class RawTls {
 public:
  RawTls() = default;
  ~RawTls() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  RawTls(const RawTls&) = delete;
  RawTls& operator=(const RawTls&) = delete;

  bool connect(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
    ctx_ = SSL_CTX_new(TLS_client_method());
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    return SSL_connect(ssl_) == 1;
  }

  // SHA-256 of the leaf the server presented.
  [[nodiscard]] std::string leaf() const {
    X509* cert = SSL_get0_peer_certificate(ssl_);
    return cert == nullptr ? std::string("(none)") : independent_fingerprint(cert);
  }

  bool send(const std::string& text) { return SSL_write(ssl_, text.data(), static_cast<int>(text.size())) > 0; }

  // One HTTP/1.1 response with a Content-Length body; its status, or 0.
  int read_status() {
    std::string in;
    std::array<char, 4096> buf{};
    std::size_t head_end = std::string::npos;
    while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
      const int n = SSL_read(ssl_, buf.data(), buf.size());
      if (n <= 0) return 0;
      in.append(buf.data(), static_cast<std::size_t>(n));
    }
    std::string head = in.substr(0, head_end);
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto cl = head.find("content-length:");
    const std::size_t length = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 15));
    while (in.size() < head_end + 4 + length) {
      const int n = SSL_read(ssl_, buf.data(), buf.size());
      if (n <= 0) return 0;
      in.append(buf.data(), static_cast<std::size_t>(n));
    }
    return std::stoi(in.substr(9, 3));
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

// The leaf a new connection to `port` is served.
std::string served_leaf(std::uint16_t port) {
  RawTls c;
  if (!c.connect(port)) return "(no handshake)";
  return c.leaf();
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// An admin's PKI: a CA, and certificates it issues for 127.0.0.1.
class TlsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = make_cert("Example Corp CA", now() - days{30}, now() + days{3000}, true);
    other_ca_ = make_cert("Someone Else's CA", now() - days{30}, now() + days{3000}, true);
  }

  [[nodiscard]] std::string path(const std::string& name) const { return dir_ / name; }

  // A server certificate for 127.0.0.1 and localhost.
  TestCert leaf(const TestCert& issuer, TimePoint from, TimePoint to, PkeyPtr key = nullptr,
                const std::string& san = "IP:127.0.0.1,DNS:localhost") {
    if (!key) key = make_key();
    return make_cert_with_key(std::move(key), "hoist.example.com", from, to, false, &issuer, san);
  }
  TestCert good_leaf() { return leaf(ca_, now() - days{1}, now() + days{90}); }

  // fullchain.pem (the leaf only, as a company CA signing directly
  // gives it), privkey.pem 0600, ca.pem.
  void install(const TestCert& cert, const EVP_PKEY* key = nullptr) {
    write_text(path("fullchain.pem"), pem_of(cert.cert.get()), 0644);
    write_text(path("privkey.pem"), pem_of(key != nullptr ? key : cert.key.get()), 0600);
  }

  // Starts hoistd with the admin's certificate (and the CA agents pin).
  void start_with_operator_certificate(const std::string& extra_toml = "") {
    write_text(path("ca.pem"), pem_of(ca_.cert.get()), 0644);
    hoistd_.options().config_toml = "[tls]\ncert_file = \"" + path("fullchain.pem") + "\"\nkey_file = \"" +
                                    path("privkey.pem") + "\"\nca_file = \"" + path("ca.pem") + "\"\n" + extra_toml;
    ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
  }

  // Sends SIGHUP and waits for the reload's verdict (the n-th of its kind
  // in hoistd's log); true when it came.
  bool reload_and_wait(const std::string& event, std::size_t nth) {
    ::kill(hoistd_.pid(), SIGHUP);
    const auto deadline = steady_clock::now() + milliseconds(10000);
    while (steady_clock::now() < deadline) {
      if (count_of(hoistd_.output(), "\"event\":\"" + event + "\"") >= nth) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }

  TempDir dir_;
  TestCert ca_;
  TestCert other_ca_;
  HoistdProcess hoistd_;
};

void expect_only_aead_on_tls12(std::uint16_t port, const std::string& dir, const std::string& kind) {
  const std::vector<std::string> cbc_and_static_rsa{"ECDHE-" + kind + "-AES128-SHA256",
                                                    "ECDHE-" + kind + "-AES128-SHA",
                                                    "ECDHE-" + kind + "-AES256-SHA384",
                                                    "ECDHE-" + kind + "-AES256-SHA",
                                                    "AES128-SHA",
                                                    "AES128-GCM-SHA256"};
  for (const std::string& cbc : cbc_and_static_rsa) {
    const auto h = s_client(port, dir, {"-tls1_2", "-cipher", cbc});
    EXPECT_FALSE(h.ok) << cbc << " was accepted:\n" << h.output;
  }
  const std::vector<std::string> aead_suites{"ECDHE-" + kind + "-AES128-GCM-SHA256",
                                             "ECDHE-" + kind + "-AES256-GCM-SHA384",
                                             "ECDHE-" + kind + "-CHACHA20-POLY1305"};
  for (const std::string& aead : aead_suites) {
    const auto h = s_client(port, dir, {"-tls1_2", "-cipher", aead});
    EXPECT_TRUE(h.ok) << aead << " was refused:\n" << h.output;
    EXPECT_NE(h.output.find("Cipher is " + aead), std::string::npos) << h.output;
  }
  // The client is allowed TLS 1.1 (1.0) and every cipher; the server
  // must refuse.
  for (const std::string version : {"-tls1_1", "-tls1"}) {
    const auto old = s_client(port, dir, {version, "-cipher", "ALL:@SECLEVEL=0"});
    EXPECT_FALSE(old.ok) << version << " was accepted:\n" << old.output;
    EXPECT_NE(old.output.find("alert protocol version"), std::string::npos) << version << old.output;
  }
  const auto tls13 = s_client(port, dir, {"-tls1_3"});
  EXPECT_TRUE(tls13.ok) << tls13.output;
}

TEST_F(TlsE2E, Tls12OffersOnlyEcdheWithAeadForHoistdsOwnKey) {
  ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
  expect_only_aead_on_tls12(hoistd_.port(), dir_.path(), "ECDSA");
}

TEST_F(TlsE2E, Tls12OffersOnlyEcdheWithAeadForAnRsaOperatorKey) {
  install(leaf(ca_, now() - days{1}, now() + days{90}, make_rsa_key()));
  start_with_operator_certificate();
  expect_only_aead_on_tls12(hoistd_.port(), dir_.path(), "RSA");
}

TEST_F(TlsE2E, EveryAnswerSaysStrictTransportSecurity) {
  ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
  for (const auto& [target, status] : std::vector<std::pair<std::string, int>>{
           {"/api/v1/health", 200}, {"/api/v1/whoami", 401}, {"/no/such/page", 404}, {"/", 0}}) {
    const HttpReply r = hoistd_.call("GET", target);
    if (status != 0) {
      EXPECT_EQ(r.status, status) << target << r;
    }
    EXPECT_EQ(r.header("strict-transport-security"), "max-age=31536000") << target << r;
  }
}

TEST_F(TlsE2E, SighupServesTheRenewedCertificateToNewConnectionsWhileOpenOnesGoOn) {
  const TestCert first = good_leaf();
  install(first);
  start_with_operator_certificate();
  const std::string first_fp = independent_fingerprint(first.cert.get());
  ASSERT_EQ(served_leaf(hoistd_.port()), first_fp);
  EXPECT_EQ(hoistd_.ca_fingerprint(), independent_fingerprint(ca_.cert.get()));

  // A kept-alive connection, and an agent's long poll (its push channel)
  // waiting on another.
  RawTls kept;
  ASSERT_TRUE(kept.connect(hoistd_.port()));
  ASSERT_TRUE(kept.send("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  ASSERT_EQ(kept.read_status(), 200);
  auto agent = hoistd_.enrol({"web"});
  ASSERT_TRUE(agent) << agent.error().message;
  const auto queued = hoistd_.call("GET", "/api/v1/agent/push?after=0", "", agent->headers());
  ASSERT_EQ(queued.status, 200) << queued;
  RawTls poll;
  ASSERT_TRUE(poll.connect(hoistd_.port()));
  const auto poll_sent = steady_clock::now();
  ASSERT_TRUE(poll.send("GET /api/v1/agent/push?after=" + std::to_string(queued.num("/cursor")) +
                        "&wait=5 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + agent->credential +
                        "\r\n\r\n"));
  std::this_thread::sleep_for(milliseconds(300));

  // certbot renews: same CA, new key and certificate.
  const TestCert second = good_leaf();
  install(second);
  ASSERT_TRUE(reload_and_wait("tls.reloaded", 1)) << hoistd_.output();
  const std::string second_fp = independent_fingerprint(second.cert.get());
  EXPECT_EQ(served_leaf(hoistd_.port()), second_fp);

  // The open connections were not touched.
  ASSERT_TRUE(kept.send("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  EXPECT_EQ(kept.read_status(), 200);
  EXPECT_EQ(kept.leaf(), first_fp);
  EXPECT_EQ(poll.read_status(), 200) << "the long poll's connection did not outlive the reload";
  EXPECT_GE(steady_clock::now() - poll_sent, milliseconds(4500)) << "the long poll ended early";
  EXPECT_EQ(poll.leaf(), first_fp);
  // The pin did not change: the fixture's client, pinned to the CA, goes on.
  const auto health = hoistd_.call("GET", "/api/v1/health");
  EXPECT_EQ(health.status, 200) << health;
  EXPECT_EQ(count_of(hoistd_.output(), "tls.pin_changed"), 0U);
}

TEST_F(TlsE2E, ASighupStormReloadsOneAtATimeAndHoistdServesOn) {
  install(good_leaf());
  start_with_operator_certificate();
  // Root or hoistd's user sending SIGHUP in a loop (a broken deploy hook):
  // reloads run one at a time, the rest are dropped, nothing else changes.
  for (int i = 0; i < 200; ++i) ::kill(hoistd_.pid(), SIGHUP);
  const auto deadline = steady_clock::now() + milliseconds(10000);
  std::size_t handled = 0;
  while (steady_clock::now() < deadline) {
    const std::string out = hoistd_.output();
    handled = count_of(out, "\"event\":\"tls.reloaded\"") + count_of(out, "http.reload_already_running");
    if (count_of(out, "\"signal\":1") >= 1 && handled == count_of(out, "\"signal\":1")) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  const std::string out = hoistd_.output();
  EXPECT_GE(count_of(out, "\"event\":\"tls.reloaded\""), 1U) << out;
  EXPECT_EQ(count_of(out, "tls.reload_failed"), 0U) << out;
  EXPECT_TRUE(hoistd_.running());
  const auto health = hoistd_.call("GET", "/api/v1/health");
  EXPECT_EQ(health.status, 200) << health;
  EXPECT_EQ(hoistd_.stop(), 0);
}

TEST_F(TlsE2E, SighupInOwnCaModeReissuesAMissingServerCertificateUnderTheSameCa) {
  ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
  const std::string pin = hoistd_.ca_fingerprint();
  const std::string before = served_leaf(hoistd_.port());
  std::filesystem::remove(hoistd_.data_dir() + "/tls/server.crt");
  ASSERT_TRUE(reload_and_wait("tls.reloaded", 1)) << hoistd_.output();
  const std::string after = served_leaf(hoistd_.port());
  EXPECT_NE(after, before);
  EXPECT_EQ(after, independent_fingerprint(load_cert(hoistd_.data_dir() + "/tls/server.crt").get()));
  // Same CA: the fixture's client, pinned to it, connects anew.
  EXPECT_EQ(count_of(hoistd_.output(), "tls.pin_changed"), 0U);
  auto client = hoistd_.client();
  ASSERT_NE(client, nullptr);
  const auto health = hoist::testing::send_request(*client, "GET", "/api/v1/health");
  EXPECT_EQ(health.status, 200) << health;
  EXPECT_EQ(independent_fingerprint(load_cert(hoistd_.data_dir() + "/tls/ca.crt").get()), pin);
}

// A reload never makes a new CA: with ca.crt and ca.key both gone (moved
// away, a botched restore) the certificate served stays, under the CA every
// agent pins (from the attack pass: the reload used to make and serve a
// new CA, which every agent then refused).
TEST_F(TlsE2E, SighupWithTheCaGoneKeepsServingAndMakesNoNewCa) {
  ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
  const std::string pin = hoistd_.ca_fingerprint();
  const std::string before = served_leaf(hoistd_.port());
  const std::string tls_dir = hoistd_.data_dir() + "/tls";
  std::filesystem::rename(tls_dir + "/ca.crt", tls_dir + "/ca.crt.away");
  std::filesystem::rename(tls_dir + "/ca.key", tls_dir + "/ca.key.away");
  std::filesystem::remove(tls_dir + "/server.crt");
  ASSERT_TRUE(reload_and_wait("tls.reload_failed", 1)) << hoistd_.output();
  EXPECT_EQ(served_leaf(hoistd_.port()), before);
  EXPECT_EQ(count_of(hoistd_.output(), "tls.pin_changed"), 0U) << hoistd_.output();
  EXPECT_FALSE(std::filesystem::exists(tls_dir + "/ca.key")) << "a new CA key was made";
  auto client = hoistd_.client();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(hoist::testing::send_request(*client, "GET", "/api/v1/health").status, 200);
  EXPECT_EQ(hoistd_.ca_fingerprint(), pin);
}

// [tls] add_hostname (on by default): hoistd's own certificate names this
// computer, so agents reach it by its name with no dns_names line; off, it
// names only localhost and the loopback addresses.
TEST_F(TlsE2E, OwnCertificateNamesThisComputerUnlessTurnedOff) {
  std::array<char, 256> host{};
  ASSERT_EQ(::gethostname(host.data(), host.size() - 1), 0);
  std::string name = host.data();
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name == "localhost" || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") != std::string::npos) {
    GTEST_SKIP() << "this computer's name (" << name << ") cannot tell the two apart";
  }
  ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
  const auto on = load_cert(hoistd_.data_dir() + "/tls/server.crt");
  EXPECT_EQ(X509_check_host(on.get(), name.c_str(), name.size(), 0, nullptr), 1) << name;

  hoist::testing::HoistdOptions options;
  options.config_toml = "[tls]\nadd_hostname = false\n";
  HoistdProcess off(options);
  ASSERT_TRUE(off.start()) << off.start_error();
  const auto without = load_cert(off.data_dir() + "/tls/server.crt");
  EXPECT_NE(X509_check_host(without.get(), name.c_str(), name.size(), 0, nullptr), 1) << name;
  EXPECT_EQ(X509_check_host(without.get(), "localhost", 9, 0, nullptr), 1);
}

// The token and hash `hoistd --new-metrics-token` prints.
std::pair<std::string, std::string> metrics_token() {
  const auto once = HoistdProcess::run_once({"--new-metrics-token"});
  std::string token;
  std::string hash;
  std::istringstream in(once.output);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("hoist_metrics_", 0) == 0) token = line;
    const std::string key = "token_hash = \"";
    if (line.rfind(key, 0) == 0) hash = line.substr(key.size(), 64);
  }
  return {token, hash};
}

TEST_F(TlsE2E, ABadCertificateOrKeyKeepsTheOneServed) {
  const TestCert first = good_leaf();
  install(first);
  const auto [token, hash] = metrics_token();
  ASSERT_FALSE(token.empty());
  start_with_operator_certificate("[metrics]\ntoken_hash = \"" + hash + "\"\n");
  const std::string first_fp = independent_fingerprint(first.cert.get());
  ASSERT_EQ(served_leaf(hoistd_.port()), first_fp);

  struct Case {
    std::string name;
    std::function<void()> make;
    std::string reason;  // in the log line
  };
  const TestCert spare = good_leaf();
  std::vector<Case> cases{
      {"a missing key", [&] { std::filesystem::remove(path("privkey.pem")); }, "privkey.pem"},
      {"a key of another certificate", [&] { install(spare, first.key.get()); }, "does not match"},
      {"an expired certificate", [&] { install(leaf(ca_, now() - days{90}, now() - days{1})); }, "expired"},
      {"a certificate not yet valid", [&] { install(leaf(ca_, now() + days{1}, now() + days{90})); },
       "not valid until"},
      {"a certificate of another CA", [&] { install(leaf(other_ca_, now() - days{1}, now() + days{90})); },
       "does not chain"},
      {"a key others can read",
       [&] {
         install(spare);
         ::chmod(path("privkey.pem").c_str(), 0644);
       },
       "privkey.pem"},
      {"a certificate that is not PEM",
       [&] {
         install(spare);
         write_text(path("fullchain.pem"), "not a certificate\n", 0644);
       },
       "fullchain.pem"},
  };
  if (::geteuid() == 0) {
    cases.push_back({"a key owned by another user",
                     [&] {
                       install(spare);
                       ASSERT_EQ(::chown(path("privkey.pem").c_str(), 65534, 65534), 0);
                     },
                     "owned by"});
  }
  std::size_t failed = 0;
  for (const auto& c : cases) {
    install(first);
    c.make();
    ASSERT_TRUE(reload_and_wait("tls.reload_failed", ++failed)) << c.name << "\n" << hoistd_.output();
    EXPECT_EQ(served_leaf(hoistd_.port()), first_fp) << c.name;
    // The reason is in the last tls.reload_failed line.
    const std::string out = hoistd_.output();
    const std::string line = out.substr(out.rfind("tls.reload_failed"));
    EXPECT_NE(line.substr(0, line.find('\n')).find(c.reason), std::string::npos) << c.name << ": " << line;
  }
  // Counted, and the expiry shown is still the first certificate's.
  std::this_thread::sleep_for(milliseconds(1100));  // a scrape is rendered at most once a second
  const HttpReply m = hoistd_.call("GET", "/metrics", "", hoist::testing::bearer(token));
  ASSERT_EQ(m.status, 200) << m;
  EXPECT_NE(m.body.find("hoist_tls_reloads_total{result=\"failed\"} " + std::to_string(failed)), std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("hoist_tls_certificate_expiry_seconds " + std::to_string(validity_of(first.cert.get()).second)),
            std::string::npos)
      << m.body;

  // Put right, the next SIGHUP takes it.
  install(spare);
  ASSERT_TRUE(reload_and_wait("tls.reloaded", 1)) << hoistd_.output();
  EXPECT_EQ(served_leaf(hoistd_.port()), independent_fingerprint(spare.cert.get()));
}

TEST_F(TlsE2E, TheAgentAndTheCliTrustTheOperatorsCaAndRefuseAnother) {
  install(good_leaf());
  start_with_operator_certificate();
  const std::string ca_pin = independent_fingerprint(ca_.cert.get());
  const std::string other_pin = independent_fingerprint(other_ca_.cert.get());
  write_text(path("other-ca.pem"), pem_of(other_ca_.cert.get()), 0644);
  auto admin = hoistd_.admin_token();
  ASSERT_TRUE(admin) << admin.error().message;
  const auto enrol_with = [&](const std::string& pin, const std::string& state) {
    const auto token = hoistd_.call_json("POST", "/api/v1/enrolment-tokens",
                                         json::object{{"labels", json::array{"web"}}}, hoist::testing::bearer(*admin));
    EXPECT_EQ(token.status, 201) << token;
    return run({HOIST_AGENT_PATH, "enroll", "--state-dir", path(state), "--server", hoistd_.url(), "--token",
                token.str("/token"), "--ca-pin", pin, "--hostname", "tls-e2e-" + state},
               dir_.path());
  };
  // The agent pins the admin's CA (hoistd sends it after the leaf).
  const RunResult pinned = enrol_with(ca_pin, "agent-ok");
  EXPECT_EQ(pinned.status, 0) << pinned.output;
  const RunResult wrong = enrol_with(other_pin, "agent-wrong");
  EXPECT_NE(wrong.status, 0) << wrong.output;
  EXPECT_NE(wrong.output.find("does not match the pinned fingerprint"), std::string::npos) << wrong.output;

  // The CLI: the CA file, or the same pin.
  const auto login = [&](const std::vector<std::string>& trust) {
    std::vector<std::string> argv{"/usr/bin/env", "HOME=" + path("home"), HOIST_CLI_PATH,
                                  "login",        hoistd_.url(),          "--user",
                                  "admin",        "--password-stdin"};
    argv.insert(argv.end(), trust.begin(), trust.end());
    std::filesystem::create_directories(path("home"));
    return run(argv, dir_.path(), std::string(hoist::testing::kHoistdAdminPassword) + "\n");
  };
  const RunResult by_file = login({"--ca-file", path("ca.pem")});
  EXPECT_EQ(by_file.status, 0) << by_file.output;
  const RunResult by_pin = login({"--fingerprint", ca_pin});
  EXPECT_EQ(by_pin.status, 0) << by_pin.output;
  const RunResult other_file = login({"--ca-file", path("other-ca.pem")});
  EXPECT_NE(other_file.status, 0) << other_file.output;
  EXPECT_NE(other_file.output.find("not trusted"), std::string::npos) << other_file.output;

  // A certificate of the right CA for another name: refused by both.
  install(leaf(ca_, now() - days{1}, now() + days{90}, nullptr, "DNS:hoist.example.com"));
  ASSERT_TRUE(reload_and_wait("tls.reloaded", 1)) << hoistd_.output();
  const RunResult other_name = enrol_with(ca_pin, "agent-name");
  EXPECT_NE(other_name.status, 0) << other_name.output;
  EXPECT_NE(other_name.output.find("127.0.0.1"), std::string::npos) << other_name.output;
  const RunResult cli_name = login({"--ca-file", path("ca.pem")});
  EXPECT_NE(cli_name.status, 0) << cli_name.output;
}

}  // namespace
}  // namespace hoist::e2e
