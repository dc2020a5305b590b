// hoistd against a network attacker and a console user with an agenda
// (docs/threat-model.md, "A network attacker against hoistd"): the real
// hoistd on loopback (tests/support/hoistd_process.h), attacked with raw
// TCP and TLS connections and with its own API. Each case is one attack of
// issue 17 (items 10 to 14) and fails if the attack works. Nothing here
// measures speed: bounds are on memory, on what is answered, and on
// deadlines hoistd is configured with.
//
// For measuring (docs/benchmarks.md, "hoistd under attack"), two knobs:
// HOIST_ATTACK_HOISTD runs another hoistd binary (an older build, to see
// the attack work), HOIST_ATTACK_UPLOADS sets the number of stalled
// uploads (100).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/hoistd_process.h"
#include "support/temp_dir.h"
#include "support/webhook_receiver.h"

namespace hoist::attacks {
namespace {

namespace json = boost::json;
using hoist::testing::bearer;
using hoist::testing::Headers;
using hoist::testing::HoistdOptions;
using hoist::testing::HoistdProcess;
using hoist::testing::HttpReply;
using hoist::testing::operator+;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A peer that goes away must not end this program (OpenSSL writes with write()).
const bool kSigpipeIgnored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

// hoistd's resident memory (VmRSS in /proc/PID/status), in KiB; 0 when unknown.
std::uint64_t rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

// A TCP connection to hoistd from a chosen loopback address (all of
// 127.0.0.0/8 is this host), or -1.
int tcp_connect(const std::string& from, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, from.c_str(), &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(port);
  remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0 ||
      ::connect(fd, reinterpret_cast<const sockaddr*>(&remote), sizeof remote) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Connections that never say a word, closed at the end.
class SilentConnections {
 public:
  SilentConnections() = default;
  ~SilentConnections() {
    for (int fd : fds_) ::close(fd);
  }
  SilentConnections(const SilentConnections&) = delete;
  SilentConnections& operator=(const SilentConnections&) = delete;
  void open(const std::string& from, std::uint16_t port, int n) {
    for (int i = 0; i < n; ++i) {
      const int fd = tcp_connect(from, port);
      if (fd >= 0) fds_.push_back(fd);
    }
  }
  [[nodiscard]] const std::vector<int>& fds() const { return fds_; }

 private:
  std::vector<int> fds_;
};

// A blocking TLS client over its own socket that trusts anything: these
// attacks are about what hoistd does with bytes, not about trust.
class RawTls {
 public:
  explicit RawTls(std::uint16_t port, const std::string& from = "127.0.0.1") {
    ctx_ = SSL_CTX_new(TLS_client_method());
    fd_ = tcp_connect(from, port);
    if (fd_ < 0 || ctx_ == nullptr) return;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    connected_ = SSL_connect(ssl_) == 1;
  }
  ~RawTls() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }
  RawTls(const RawTls&) = delete;
  RawTls& operator=(const RawTls&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }
  // Writes what it can; false once hoistd stops taking bytes (closed, or
  // not reading for 5 s).
  bool write(std::string_view data) {
    while (!data.empty()) {
      const int n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1 << 20)));
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Everything until hoistd closes (or 5 s pass without a byte).
  std::string read_all() {
    std::string out;
    char chunk[4096];
    for (;;) {
      const int n = SSL_read(ssl_, chunk, sizeof chunk);
      if (n <= 0) return out;
      out.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
};

int count_lines_with(const std::string& text, std::string_view needle) {
  int n = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) ++n;
  }
  return n;
}

// A policy with a manual rule for apt-get and a self-approval rule for
// journalctl (group oncall), assigned to the label "lab".
constexpr std::string_view kPolicy = R"(version = 1

[settings]
default_action = "deny"
self_approval_groups = ["oncall"]

[[rule]]
name = "installs"
action = "request"
path = "/usr/bin/apt-get"
approval = "manual"

[[rule]]
name = "oncall-journal"
action = "request"
path = "/usr/bin/journalctl"
approval = "self"
groups = ["oncall"]
)";

json::object submission(const std::string& user, const std::string& path, const std::vector<std::string>& groups) {
  json::array g;
  for (const auto& s : groups) g.emplace_back(s.c_str());
  return json::object{{"user", user},
                      {"groups", std::move(g)},
                      {"justification", "attack suite"},
                      {"command", json::object{{"path", path},
                                               {"argv", json::array{path.substr(path.rfind('/') + 1).c_str()}},
                                               {"trusted_path", true}}}};
}

class HoistdAttack : public ::testing::Test {
 protected:
  void start(HoistdOptions options = {}) {
    const char* binary = std::getenv("HOIST_ATTACK_HOISTD");  // NOLINT(concurrency-mt-unsafe)
    if (binary != nullptr && *binary != '\0') options.binary = binary;
    hoistd_ = std::make_unique<HoistdProcess>(std::move(options));
    ASSERT_TRUE(hoistd_->start()) << hoistd_->start_error();
  }
  HoistdProcess& hoistd() { return *hoistd_; }
  Headers admin() {
    auto token = hoistd_->admin_token();
    EXPECT_TRUE(token.ok()) << (token.ok() ? "" : token.error().message);
    return token.ok() ? bearer(*token) : Headers{};
  }
  // A console user and an API token of theirs.
  std::string user_with_token(const std::string& name, const std::string& role) {
    const std::string password = "attack suite passphrase 1";
    const auto made = hoistd_->call_json("POST", "/api/v1/users",
                                         json::object{{"name", name}, {"role", role}, {"password", password}}, admin());
    EXPECT_EQ(made.status, 201) << made;
    return token_of(name, password);
  }
  std::string token_of(const std::string& name, const std::string& password) {
    auto client = hoistd_->client();
    if (!client) return "";
    const auto login = hoist::testing::send_request(
        *client, "POST", "/api/v1/login", json::serialize(json::object{{"user", name}, {"password", password}}));
    EXPECT_EQ(login.status, 200) << login;
    const std::string cookie = login.header("set-cookie").substr(0, login.header("set-cookie").find(';'));
    const auto token = hoist::testing::send_request(*client, "POST", "/api/v1/tokens",
                                                    json::serialize(json::object{{"label", "attack"}}),
                                                    {{"cookie", cookie}, {"x-csrf-token", login.str("/csrf_token")}});
    EXPECT_EQ(token.status, 201) << token;
    return token.str("/token");
  }
  // The policy above, and an endpoint enrolled with the label it is assigned to.
  hoist::testing::AgentCredential endpoint_with_policy() {
    const auto put = hoistd_->call_json("PUT", "/api/v1/policies/fleet", json::object{{"text", kPolicy}}, admin());
    EXPECT_EQ(put.status, 201) << put;
    const auto assign = hoistd_->call_json("PUT", "/api/v1/policies/fleet/labels",
                                           json::object{{"labels", json::array{"lab"}}}, admin());
    EXPECT_EQ(assign.status, 200) << assign;
    auto agent = hoistd_->enrol({"lab"}, "lab-01");
    EXPECT_TRUE(agent.ok()) << (agent.ok() ? "" : agent.error().message);
    return agent.ok() ? *agent : hoist::testing::AgentCredential{};
  }
  std::string submit(const hoist::testing::AgentCredential& agent, const json::object& body) {
    const auto r = hoistd_->call_json("POST", "/api/v1/agent/requests", body, agent.headers());
    EXPECT_EQ(r.status, 201) << r;
    EXPECT_EQ(r.str("/request/state"), "pending") << r;
    return r.str("/request/id");
  }
  std::string state_of(const std::string& id) {
    return hoistd_->call("GET", "/api/v1/requests/" + id, "", admin()).str("/state");
  }

  std::unique_ptr<HoistdProcess> hoistd_;
};

// --- Item 10: memory pinned without credentials ------------------------------

// Attacker: a network attacker without credentials.
// Goal:     run hoistd out of memory with uploads it has to hold: many
//           connections each announce a 1 MiB body to an API that needs
//           credentials, send all of it but the last byte, and stall.
// Must hold: hoistd refuses each on its headers (401) and reads none of the
//           bodies: its resident memory grows by far less than the 100 MiB
//           sent (the bound is 32 MiB; before the fix it grew by the bodies).
TEST_F(HoistdAttack, StalledUnauthenticatedUploadsPinNoMemory) {
  HoistdOptions options;
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed memory in quarantine, so the resident size
  // of a sanitized hoistd grows with every connection it has closed; this
  // measures what hoistd holds, so it reuses freed memory as a release
  // build does.
  const char* asan = std::getenv("ASAN_OPTIONS");  // NOLINT(concurrency-mt-unsafe)
  options.extra_env.emplace_back("ASAN_OPTIONS", std::string(asan != nullptr ? asan : "") + ":quarantine_size_mb=0");
#endif
  start(options);
  const std::string head =
      "POST /api/v1/agent/events HTTP/1.1\r\nHost: hoistd\r\nContent-Type: application/json\r\nContent-Length: " +
      std::to_string(std::size_t{1} << 20) + "\r\n\r\n";
  {
    // What each of them gets: a refusal on the headers alone.
    RawTls probe(hoistd().port());
    ASSERT_TRUE(probe.connected());
    ASSERT_TRUE(probe.write(head));
    const std::string answer = probe.read_all();
    EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0U) << answer;
  }
  for (int i = 0; i < 3; ++i) ASSERT_EQ(hoistd().call("GET", "/api/v1/health").status, 200);
  const std::uint64_t before = rss_kib(hoistd().pid());
  ASSERT_GT(before, 0U);

  const char* uploads_env = std::getenv("HOIST_ATTACK_UPLOADS");  // NOLINT(concurrency-mt-unsafe)
  const int kUploads = uploads_env != nullptr ? std::max(1, std::atoi(uploads_env)) : 100;
  const std::string body((std::size_t{1} << 20) - 1, ' ');
  std::vector<std::unique_ptr<RawTls>> uploads;
  for (int i = 0; i < kUploads; ++i) {
    auto c = std::make_unique<RawTls>(hoistd().port());
    ASSERT_TRUE(c->connected()) << i;
    ASSERT_TRUE(c->write(head)) << i;
    (void)c->write(body);  // fails once hoistd has refused and closed
    uploads.push_back(std::move(c));
  }
  std::this_thread::sleep_for(milliseconds(300));
  const std::uint64_t during = rss_kib(hoistd().pid());
  EXPECT_LT(during, before + 32 * 1024) << "hoistd grew from " << before << " KiB to " << during << " KiB holding "
                                        << kUploads << " stalled uploads of 1 MiB";
  std::cout << "hoistd's VmRSS: " << before << " KiB before, " << during << " KiB with " << kUploads
            << " stalled unauthenticated 1 MiB uploads\n";
  uploads.clear();
  EXPECT_EQ(hoistd().call("GET", "/api/v1/health").status, 200);
}

// Attacker: a network attacker without credentials.
// Goal:     the same with a public route (login, enrolment), which takes a
//           body without credentials.
// Must hold: a public route takes at most 8 KiB (Api::kPublicBodyLimit); a
//           larger announced body is refused with 400 before it is read.
TEST_F(HoistdAttack, PublicRoutesTakeOnlySmallBodies) {
  start();
  RawTls c(hoistd().port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(
      c.write("POST /api/v1/login HTTP/1.1\r\nHost: hoistd\r\nContent-Type: application/json\r\n"
              "Content-Length: 1048576\r\n\r\n"));
  const std::string answer = c.read_all();
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0U) << answer;
  EXPECT_NE(answer.find("8192 bytes"), std::string::npos) << answer;
}

// --- Item 11: connection slots exhausted ---------------------------------------

// Attacker: a network attacker at one address.
// Goal:     keep everyone else out by opening more TCP connections than
//           hoistd's pool holds and never starting TLS.
// Must hold: one address holds at most max_connections_per_address; the
//           health route keeps answering others (10 of 10 probes); the
//           refusals are logged as a summary, not one line per connection.
TEST_F(HoistdAttack, AConnectionFloodFromOneAddressLeavesRoomForOthers) {
  HoistdOptions options;
  options.config_toml = "[limits]\nmax_connections = 100\nmax_connections_per_address = 40\n";
  start(options);
  const auto lines_before = count_lines_with(hoistd().output(), "\"http.connection");
  SilentConnections flood;
  flood.open("127.0.0.2", hoistd().port(), 150);
  int answered = 0;
  for (int probe = 0; probe < 10; ++probe) {
    auto client = hoistd().client();
    ASSERT_NE(client, nullptr);
    if (hoist::testing::send_request(*client, "GET", "/api/v1/health").status == 200) ++answered;
  }
  EXPECT_EQ(answered, 10) << hoistd().output();
  const auto lines = count_lines_with(hoistd().output(), "\"http.connection") - lines_before;
  EXPECT_GE(lines, 1) << "the refusals are logged";
  EXPECT_LE(lines, 3) << "110 refusals, " << lines << " log lines";
}

// Attacker: a network attacker with many addresses (a botnet; here
//           127.0.0.2 to 127.0.0.11).
// Goal:     the same, below the per-address limit.
// Must hold: when the pool is full, a new connection takes the place of the
//           one idle longest (a handshake that never came): the health
//           route keeps answering (10 of 10 probes).
TEST_F(HoistdAttack, ADistributedConnectionFloodLeavesRoomForOthers) {
  HoistdOptions options;
  options.config_toml = "[limits]\nmax_connections = 100\nmax_connections_per_address = 40\n";
  start(options);
  SilentConnections flood;
  for (int a = 2; a <= 11; ++a) flood.open("127.0.0." + std::to_string(a), hoistd().port(), 15);
  int answered = 0;
  for (int probe = 0; probe < 10; ++probe) {
    auto client = hoistd().client();
    ASSERT_NE(client, nullptr);
    if (hoist::testing::send_request(*client, "GET", "/api/v1/health").status == 200) ++answered;
    flood.open("127.0.0." + std::to_string(2 + probe), hoistd().port(), 5);  // the flood goes on
  }
  EXPECT_EQ(answered, 10) << hoistd().output();
}

// Attacker: a network attacker.
// Goal:     hold connection slots for long by never finishing TLS.
// Must hold: hoistd closes a connection whose handshake has not finished
//           within handshake_timeout_s (1 s here, to keep the suite short;
//           the default is 5 s, http_tests checks it; checked with 5 s to
//           spare).
TEST_F(HoistdAttack, AHandshakeThatNeverComesIsCutAtItsDeadline) {
  HoistdOptions options;
  options.config_toml = "[limits]\nhandshake_timeout_s = 1\n";
  start(options);
  SilentConnections idle;
  idle.open("127.0.0.2", hoistd().port(), 20);
  ASSERT_EQ(idle.fds().size(), 20U);
  for (int fd : idle.fds()) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 6000), 1) << "still open after 6 s";
    char byte = 0;
    EXPECT_LE(::recv(fd, &byte, 1, 0), 0) << "closed by hoistd, without a word";
  }
}

// --- Item 12: self-review under another spelling -------------------------------

// Attacker: an approver in the console who is also a user on an endpoint.
// Goal:     approve their own request, as the console user opsbob for the
//           Linux user OpsBob, or alice@corp for alice.
// Must hold: both approvals are refused (403) and the requests stay pending.
TEST_F(HoistdAttack, AnApproverCannotApproveTheirOwnRequestUnderAnotherSpelling) {
  start();
  const auto agent = endpoint_with_policy();
  const std::string opsbob = user_with_token("opsbob", "approver");
  const std::string alice = user_with_token("alice@corp", "approver");
  const std::string bobs = submit(agent, submission("OpsBob", "/usr/bin/apt-get", {"staff"}));
  const std::string alices = submit(agent, submission("alice", "/usr/bin/apt-get", {"staff"}));
  const auto by_bob = hoistd().call("POST", "/api/v1/requests/" + bobs + "/approve", "{}", bearer(opsbob));
  EXPECT_EQ(by_bob.status, 403) << by_bob;
  const auto by_alice = hoistd().call("POST", "/api/v1/requests/" + alices + "/approve", "{}", bearer(alice));
  EXPECT_EQ(by_alice.status, 403) << by_alice;
  EXPECT_EQ(state_of(bobs), "pending");
  EXPECT_EQ(state_of(alices), "pending");
}

// Attacker: a user on an endpoint whose policy lets them self-approve, who
//           is also an approver in the console.
// Goal:     self-approve from the console, without the agent vouching for
//           who is at the endpoint.
// Must hold: the approve route refuses (403); only the agent's
//           self-approve route approves one's own request.
TEST_F(HoistdAttack, TheApproveRouteIsNeverASelfApproval) {
  start();
  const auto agent = endpoint_with_policy();
  const std::string carol = user_with_token("carol", "approver");
  const std::string id = submit(agent, submission("carol", "/usr/bin/journalctl", {"oncall"}));
  const auto approve = hoistd().call("POST", "/api/v1/requests/" + id + "/approve", "{}", bearer(carol));
  EXPECT_EQ(approve.status, 403) << approve;
  EXPECT_EQ(state_of(id), "pending");
}

// --- Item 13: API tokens outliving a password reset --------------------------

// Attacker: someone who stole a user's password and made an API token with it.
// Goal:     keep using the token after the admin resets the password, or
//           after the user is disabled and enabled again.
// Must hold: the reset and the disabling revoke the token for good.
TEST_F(HoistdAttack, StolenTokensDieWithAPasswordResetAndStayDead) {
  start();
  const std::string stolen = user_with_token("bob", "approver");
  ASSERT_EQ(hoistd().call("GET", "/api/v1/whoami", "", bearer(stolen)).status, 200);
  const auto reset =
      hoistd().call_json("PATCH", "/api/v1/users/bob", json::object{{"password", "bob's new passphrase 2"}}, admin());
  ASSERT_EQ(reset.status, 200) << reset;
  EXPECT_EQ(hoistd().call("GET", "/api/v1/whoami", "", bearer(stolen)).status, 401);

  const std::string second = token_of("bob", "bob's new passphrase 2");
  ASSERT_EQ(hoistd().call("GET", "/api/v1/whoami", "", bearer(second)).status, 200);
  for (const bool disabled : {true, false}) {
    const auto r = hoistd().call_json("PATCH", "/api/v1/users/bob", json::object{{"disabled", disabled}}, admin());
    ASSERT_EQ(r.status, 200) << r;
  }
  EXPECT_EQ(hoistd().call("GET", "/api/v1/whoami", "", bearer(second)).status, 401);
  EXPECT_EQ(hoistd().call("GET", "/api/v1/whoami", "", bearer(stolen)).status, 401);
}

// --- Item 14: the smaller ones ------------------------------------------------

// Attacker: a network attacker guessing a console password.
// Goal:     more guesses than the limit by sending them all at once (each
//           passed the check before the first failure was counted).
// Must hold: of 30 parallel wrong logins at most 6 are tried (5 free and
//           the one that locks); the rest are 429.
TEST_F(HoistdAttack, AParallelLoginBurstGetsNoMoreTriesThanTheLimit) {
  HoistdOptions options;
  options.config_toml = "[server]\nhandler_threads = 8\n";
  start(options);
  constexpr int kGuesses = 30;
  std::atomic<int> tried{0};
  std::atomic<int> limited{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<net::HttpsClient>> clients;
  for (int i = 0; i < kGuesses; ++i) clients.push_back(hoistd().client());
  for (int i = 0; i < kGuesses; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < kGuesses) std::this_thread::yield();
      const auto r = hoist::testing::send_request(
          *clients[i], "POST", "/api/v1/login",
          json::serialize(json::object{{"user", "admin"}, {"password", "guess " + std::to_string(i)}}));
      if (r.status == 401) tried.fetch_add(1);
      if (r.status == 429) limited.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(tried.load(), 6) << limited.load() << " were refused";
  EXPECT_EQ(tried.load() + limited.load(), kGuesses);
}

// Attacker: an auditor (read-only).
// Goal:     make every write cost hundreds of wake-ups by holding hundreds
//           of console streams (GET /api/v1/stream) open.
// Must hold: one user holds at most 8 waiting streams; the next is a 429
//           that says so.
TEST_F(HoistdAttack, OneUserCannotHoldManyConsoleStreams) {
  start();
  const std::string auditor = user_with_token("audrey", "auditor");
  // Its first use is audited (token.used): done now, so the streams below
  // start after it and wait.
  ASSERT_EQ(hoistd().call("GET", "/api/v1/whoami", "", bearer(auditor)).status, 200);
  const std::string head = std::to_string(hoistd().call("GET", "/api/v1/audit/head", "", admin()).num("/seq"));
  const Headers headers = bearer(auditor) + Headers{{"last-event-id", head}};
  constexpr int kStreams = 12;
  std::atomic<int> waited{0};
  std::atomic<int> refused{0};
  std::mutex refusal_mutex;
  HttpReply refusal;
  std::vector<std::thread> streams;
  for (int i = 0; i < kStreams; ++i) {
    streams.emplace_back([&] {
      auto client = hoistd().client();
      if (!client) return;
      const auto r = hoist::testing::send_request(*client, "GET", "/api/v1/stream", "", headers);
      if (r.status == 200) waited.fetch_add(1);
      if (r.status == 429) {
        const std::lock_guard lock(refusal_mutex);
        refusal = r;
        refused.fetch_add(1);
      }
    });
  }
  // Eight wait; the other four are refused at once.
  for (int i = 0; i < 1000 && refused.load() < kStreams - 8; ++i) std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(refused.load(), kStreams - 8);
  // A write wakes the eight, which answer at once.
  (void)user_with_token("wake-up", "auditor");
  for (auto& t : streams) t.join();
  EXPECT_EQ(waited.load(), 8);
  EXPECT_EQ(refused.load(), kStreams - 8);
  EXPECT_NE(refusal.str("/error/message").find("8 live streams"), std::string::npos) << refusal;
}

// Attacker: a web page in an admin's browser on another site (a form or
//           text/plain post needs no CORS preflight).
// Goal:     have hoistd parse a non-JSON body as JSON.
// Must hold: a body that is not Content-Type: application/json is 415 and
//           nothing happens.
TEST_F(HoistdAttack, OnlyJsonBodiesAreParsedAsJson) {
  start();
  for (const auto& type : {"text/plain", "application/x-www-form-urlencoded"}) {
    const auto r =
        hoistd().call("POST", "/api/v1/login", R"({"user":"admin","password":"x"})", {{"content-type", type}});
    EXPECT_EQ(r.status, 415) << r;
  }
  const auto head = hoistd().call("GET", "/api/v1/audit?action=user.login_failed", "", admin());
  EXPECT_TRUE(head.array("/events").empty()) << "no login was tried: " << head;
}

// Attacker: a network attacker sending broken HTTP.
// Goal:     leave the client guessing (a connection closed without a word
//           looks like a network fault and is retried).
// Must hold: hoistd answers 400 with an error body before it closes.
TEST_F(HoistdAttack, MalformedHttpIsAnswered400) {
  start();
  for (const std::string& request :
       {std::string("GET /api/v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
        std::string("G\x01T /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"),
        std::string("GET /api/v1/health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"),
        std::string("POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")}) {
    RawTls c(hoistd().port());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.write(request));
    const std::string answer = c.read_all();
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0U) << request << "\n---\n" << answer;
    EXPECT_NE(answer.find("malformed HTTP request"), std::string::npos) << answer;
  }
}

// Attacker: someone with write access to hoistd's database file (a backup
//           operator, a stolen disk put back).
// Goal:     rewrite history: edit an audit event, and have hoistd go on
//           appending to the tampered chain as if nothing happened.
// Must hold: at start hoistd verifies the chain, says loudly that it does
//           not verify, and appends nothing: every write is refused (503)
//           while reads work, and the health route reports it.
TEST_F(HoistdAttack, ATamperedAuditTrailIsNotAppendedTo) {
  start();
  const std::string token = user_with_token("ops", "admin");
  ASSERT_EQ(hoistd().stop(), 0);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((hoistd().data_dir() + "/hoist.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE audit_events SET actor = 'nobody' WHERE seq = 2", nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);

  ASSERT_TRUE(hoistd().start()) << hoistd().start_error();
  EXPECT_NE(hoistd().output().find("AUDIT TRAIL DOES NOT VERIFY at event 2"), std::string::npos) << hoistd().output();
  const auto head = hoistd().call("GET", "/api/v1/audit/head", "", bearer(token));
  ASSERT_EQ(head.status, 200) << head;
  const auto write = hoistd().call_json("POST", "/api/v1/tokens", json::object{{"label", "after"}}, bearer(token));
  EXPECT_EQ(write.status, 503) << write;
  EXPECT_NE(write.str("/error/message").find("does not verify"), std::string::npos) << write;
  EXPECT_EQ(hoistd().call("GET", "/api/v1/audit/head", "", bearer(token)).num("/seq"), head.num("/seq"));
  EXPECT_EQ(hoistd().call("GET", "/api/v1/health").status, 503);
}

// Attacker: someone who can read hoistd's logs (the journal).
// Goal:     a live enrolment token, printed anew on every start.
// Must hold: --enrolment-token makes and prints a token only on the first
//           start; later starts print none and make none.
TEST_F(HoistdAttack, TheEnrolmentTokenIsPrintedOnceNotOnEveryStart) {
  HoistdOptions options;
  options.extra_args = {"--enrolment-token", "lab"};
  start(options);
  EXPECT_EQ(count_lines_with(hoistd().output(), "hoist_enrol_"), 1) << hoistd().output();
  ASSERT_TRUE(hoistd().restart()) << hoistd().start_error();
  ASSERT_TRUE(hoistd().restart()) << hoistd().start_error();
  EXPECT_EQ(count_lines_with(hoistd().output(), "hoist_enrol_"), 1) << hoistd().output();
  const auto tokens = hoistd().call("GET", "/api/v1/enrolment-tokens", "", admin());
  ASSERT_EQ(tokens.status, 200) << tokens;
  EXPECT_EQ(tokens.array("/tokens").size(), 1U) << tokens;
}

// --- Red-team finding: approvers flooded with requests -----------------------

// Attacker: a local user whom a request rule matches.
// Goal:     flood the approvers: `sudo -n` in a loop, each new argv a new
//           request that waits 24 h (81 requests in 2 s before the fix).
// Must hold: at most 10 of one user's requests wait on one endpoint; the
//           rest are refused (429, saying why and what to do) and audited as
//           request.refused; another user still submits; an approver's
//           decision on one lets the user ask again.
TEST_F(HoistdAttack, OneUserCannotFloodApproversWithRequests) {
  start();
  const auto agent = endpoint_with_policy();
  constexpr int kCap = 10;
  std::vector<std::string> ids;
  int refused = 0;
  for (int i = 0; i < kCap + 5; ++i) {
    auto body = submission("mallory", "/usr/bin/apt-get", {"staff"});
    body["justification"] = "URGENT " + std::to_string(i);
    const auto r = hoistd().call_json("POST", "/api/v1/agent/requests", body, agent.headers());
    if (r.status == 201) {
      ids.push_back(r.str("/request/id"));
      continue;
    }
    ++refused;
    EXPECT_EQ(r.status, 429) << r;
    EXPECT_EQ(r.str("/error/code"), "rate_limited") << r;
    EXPECT_NE(r.str("/error/message").find("mallory has 10 requests waiting on lab-01"), std::string::npos) << r;
    EXPECT_NE(r.str("/error/message").find("hoist cancel"), std::string::npos) << r;
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kCap));
  EXPECT_EQ(refused, 5);
  const auto pending = [&] {
    return hoistd().call("GET", "/api/v1/requests?state=pending&user=mallory", "", admin()).array("/requests").size();
  };
  EXPECT_EQ(pending(), static_cast<std::size_t>(kCap));
  const auto audited = hoistd().call("GET", "/api/v1/audit?action=request.refused", "", admin());
  EXPECT_EQ(audited.array("/events").size(), 5U) << audited;

  // Another user on the same endpoint is not held up.
  submit(agent, submission("alice", "/usr/bin/apt-get", {"staff"}));

  // An approver decides one: mallory may ask once more, and no more.
  const auto denied = hoistd().call("POST", "/api/v1/requests/" + ids.front() + "/deny", "{}", admin());
  EXPECT_EQ(denied.status, 200) << denied;
  submit(agent, submission("mallory", "/usr/bin/apt-get", {"staff"}));
  const auto again = hoistd().call_json("POST", "/api/v1/agent/requests",
                                        submission("mallory", "/usr/bin/apt-get", {"staff"}), agent.headers());
  EXPECT_EQ(again.status, 429) << again;
  EXPECT_EQ(pending(), static_cast<std::size_t>(kCap));
}

// --- Attack pass: one endpoint floods the audit trail and the outbox --------

// Attacker: a compromised endpoint (its credential, or root on it).
// Goal:     bury the audit trail and every notification channel under
//           submissions, accepted or refused, under made-up user names
//           (2000 in 9 s before the fix: each refusal an audit event and a
//           delivery on each channel taking request.*, which sends in
//           order, so a real request was announced 24 s late).
// Must hold: past the endpoint's burst, submissions are refused (429 with
//           Retry-After, saying why) without an audit event each: the
//           trail and a request.* channel grow by one per accepted
//           submission and one request.throttled, not one per attempt;
//           another endpoint's submission is accepted at once and reaches
//           the channel's receiver.
TEST_F(HoistdAttack, OneEndpointCannotFloodTheAuditTrailOrTheNotifications) {
  start();
  const auto agent = endpoint_with_policy();
  auto lab02 = hoistd().enrol({"lab"}, "lab-02");
  ASSERT_TRUE(lab02.ok()) << lab02.error().message;
  const hoist::testing::PrivateDir dir;
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  hoist::testing::WebhookReceiver rx(dir.path(), secret);
  ASSERT_TRUE(rx.start()) << rx.error();
  const auto channel =
      hoistd().call_json("POST", "/api/v1/notify/channels",
                         json::object{{"kind", "webhook"},
                                      {"name", "approvers"},
                                      {"events", json::array{"request.*"}},
                                      {"config", json::object{{"url", rx.url("/hook")}, {"ca_file", rx.ca_file()}}},
                                      {"secret", secret}},
                         admin());
  ASSERT_EQ(channel.status, 201) << channel;
  const auto deliveries = [&] {
    return hoistd()
        .call("GET", "/api/v1/notify/deliveries?limit=1000&channel=" + channel.str("/id"), "", admin())
        .array("/deliveries")
        .size();
  };
  const auto head = [&] { return hoistd().call("GET", "/api/v1/audit/head", "", admin()).num("/seq"); };
  const auto seq_before = head();

  // 16 connections at once, as an attacker would (and the limits are taken
  // by parallel handlers).
  const auto began = std::chrono::steady_clock::now();
  std::atomic<int> accepted{0};  // stored (201)
  std::atomic<int> capped{0};    // refused by the cap on waiting requests: audited, like a policy's deny
  std::atomic<int> throttled{0};
  std::atomic<int> other{0};
  std::mutex first_mu;
  std::optional<HttpReply> first_throttled;
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      auto client = hoistd().client();
      if (!client) return;
      for (int i = t; i < 2000; i += 16) {
        auto body = submission("user" + std::to_string(i % 300), "/usr/bin/apt-get", {"staff"});
        body["justification"] = "URGENT " + std::to_string(i);
        const auto r = hoist::testing::send_request(*client, "POST", "/api/v1/agent/requests", json::serialize(body),
                                                    agent.headers());
        if (r.status == 201) {
          ++accepted;
        } else if (r.status == 429 && r.str("/error/message").find("in a short time") != std::string::npos) {
          ++throttled;
          const std::lock_guard lock(first_mu);
          if (!first_throttled) first_throttled = r;
        } else if (r.status == 429) {
          ++capped;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto took = std::chrono::duration_cast<seconds>(std::chrono::steady_clock::now() - began).count();
  EXPECT_EQ(other.load(), 0);
  ASSERT_TRUE(first_throttled) << "nothing was throttled";
  EXPECT_NE(first_throttled->str("/error/message").find("lab-01 has sent too many requests in a short time"),
            std::string::npos)
      << *first_throttled;
  EXPECT_FALSE(first_throttled->header("retry-after").empty()) << *first_throttled;
  // The burst of 60, then one a second; the rest throttled.
  const int admitted = accepted + capped;
  EXPECT_GE(admitted, 60);
  EXPECT_LE(admitted, 60 + took + 1) << took << " s";
  EXPECT_EQ(admitted + throttled, 2000);
  // One event per admitted submission and one for the whole flood (and
  // one a minute after that, should it have lasted that long: counted to
  // now, rounded up, for a report the sweep makes after the flood).
  const auto reports = hoistd().call("GET", "/api/v1/audit?action=request.throttled", "", admin());
  const auto so_far = std::chrono::duration_cast<seconds>(std::chrono::steady_clock::now() - began).count() + 1;
  const auto minutes = static_cast<std::size_t>((so_far + 59) / 60);
  const auto bound = static_cast<std::size_t>(admitted) + minutes;
  EXPECT_LE(static_cast<std::size_t>(head() - seq_before), bound) << took << " s";
  ASSERT_GE(reports.array("/events").size(), 1U) << reports;
  EXPECT_LE(reports.array("/events").size(), minutes) << so_far << " s: " << reports;
  EXPECT_LE(deliveries(), bound);

  // Another endpoint is heard at once, and its request reaches the receiver.
  const std::string id = submit(*lab02, submission("alice", "/usr/bin/apt-get", {"staff"}));
  const auto deadline = std::chrono::steady_clock::now() + seconds(60);
  bool heard = false;
  while (!heard && std::chrono::steady_clock::now() < deadline) {
    for (const auto& m : rx.received()) {
      if (m.json.is_object() && m.json.at("data").at("target") == json::value(id)) heard = true;
    }
    if (!heard) std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_TRUE(heard) << "lab-02's request never reached the channel's receiver";

  // Every throttled submission is counted on the trail: those since the
  // last report when hoistd stops.
  ASSERT_TRUE(hoistd().restart()) << hoistd().start_error();
  std::int64_t counted = 0;
  const auto all = hoistd().call("GET", "/api/v1/audit?action=request.throttled", "", admin());
  for (const auto& e : all.array("/events")) counted += e.at("details").at("throttled").as_int64();
  EXPECT_EQ(counted, throttled.load()) << all;
  EXPECT_LE(all.array("/events").size(), static_cast<std::size_t>(2 + took / 60)) << all;
  rx.stop();
}

// Attacker: root on one endpoint, with its agent credential.
// Tries:    uploads of 1000 made-up events each, as fast as 8 connections
//           go (the attack pass: 20,000 events on the trail in 3 s and
//           95 MB of database in 10 s, every event a delivery on each
//           channel taking it).
// Must hold: the endpoint's uploads are cut to its allowance (2000 at once,
//           then one every 50 ms): the trail grows by the events taken and
//           a few endpoint.events_throttled, the rest are answered 429 with
//           Retry-After; another endpoint's upload is taken whole.
TEST_F(HoistdAttack, OneEndpointCannotFloodTheAuditTrailWithEvents) {
  start();
  const auto agent = endpoint_with_policy();
  auto lab02 = hoistd().enrol({"lab"}, "lab-02");
  ASSERT_TRUE(lab02.ok()) << lab02.error().message;
  const auto head = [&] { return hoistd().call("GET", "/api/v1/audit/head", "", admin()).num("/seq"); };
  const auto seq_before = head();
  std::atomic<std::uint64_t> next_id{0};
  const auto batch = [&](int n) {
    json::array events;
    for (int i = 0; i < n; ++i) {
      char id[33];
      std::snprintf(id, sizeof id, "%032llx", static_cast<unsigned long long>(++next_id));
      events.push_back(json::object{{"id", id},
                                    {"kind", "process"},
                                    {"time_ms", 1'800'000'000'000},
                                    {"target", "req-1"},
                                    {"details", json::object{{"user", "mallory"}, {"argv", std::string(200, 'x')}}}});
    }
    return json::serialize(json::object{{"events", std::move(events)}});
  };
  const auto began = std::chrono::steady_clock::now();
  std::atomic<std::int64_t> taken{0};
  std::atomic<int> throttled{0};
  std::atomic<int> other{0};
  std::mutex first_mu;
  std::optional<HttpReply> first_throttled;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto client = hoistd().client();
      if (!client) return;
      for (int i = 0; i < 10; ++i) {
        const auto r =
            hoist::testing::send_request(*client, "POST", "/api/v1/agent/events", batch(1000), agent.headers());
        if (r.status == 200) {
          taken += static_cast<std::int64_t>(r.array("/acknowledged").size());
        } else if (r.status == 429) {
          ++throttled;
          const std::lock_guard lock(first_mu);
          if (!first_throttled) first_throttled = r;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto took_ms = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - began).count();
  EXPECT_EQ(other.load(), 0);
  ASSERT_TRUE(first_throttled) << "nothing was throttled";
  EXPECT_NE(first_throttled->str("/error/message").find("lab-01 uploads events faster than hoistd takes them"),
            std::string::npos)
      << *first_throttled;
  EXPECT_FALSE(first_throttled->header("retry-after").empty()) << *first_throttled;
  // 80,000 sent: the burst and 20 a second taken, not more.
  EXPECT_GE(taken.load(), 2000);
  EXPECT_LE(taken.load(), 2000 + took_ms / 50 + 1) << took_ms << " ms";
  const auto grown = head() - seq_before;
  EXPECT_LE(grown, taken.load() + 1 + took_ms / 60000) << took_ms << " ms";
  const auto reports = hoistd().call("GET", "/api/v1/audit?action=endpoint.events_throttled", "", admin());
  EXPECT_GE(reports.array("/events").size(), 1U) << reports;

  // Another endpoint's upload is taken whole.
  auto client = hoistd().client();
  ASSERT_TRUE(client);
  const auto r = hoist::testing::send_request(*client, "POST", "/api/v1/agent/events", batch(500), lab02->headers());
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(r.array("/acknowledged").size(), 500U);
}

}  // namespace
}  // namespace hoist::attacks
