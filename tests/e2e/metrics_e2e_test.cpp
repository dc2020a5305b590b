// GET /metrics on a real hoistd over HTTPS: only the metrics token scrapes
// it, made-up paths and methods add no series, and a real Prometheus
// (Debian's package, started here on loopback with its own configuration
// and data directory, stopped and removed after) scrapes it with hoistd's
// CA and the token, and its HTTP API shows the series and a counter that
// moved after this test's requests. Nothing leaves loopback.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e_test_support.h"
#include "support/temp_dir.h"

namespace hoist::e2e {
namespace {

constexpr const char* kPrometheus = "/usr/bin/prometheus";

// The token and hash `hoistd --new-metrics-token` prints.
struct MetricsToken {
  std::string token;
  std::string hash;
};

std::optional<MetricsToken> new_metrics_token() {
  const auto run = HoistdProcess::run_once({"--new-metrics-token"});
  if (run.status != 0) return std::nullopt;
  MetricsToken out;
  std::istringstream in(run.output);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("hoist_metrics_", 0) == 0) out.token = line;
    const std::string key = "token_hash = \"";
    if (line.rfind(key, 0) == 0) out.hash = line.substr(key.size(), 64);
  }
  if (out.token.empty() || out.hash.size() != 64) return std::nullopt;
  return out;
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string url_encode(std::string_view s) {
  std::string out;
  for (const unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// One plain-HTTP GET to 127.0.0.1:port (Prometheus's own API), with a
// deadline; the body when the status is 200.
std::optional<std::string> http_get(std::uint16_t port, const std::string& target) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  const std::string req = "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return std::nullopt;
  }
  std::string resp;
  char buf[8192];
  for (;;) {
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<std::size_t>(n));
    if (resp.size() > (8U << 20)) break;
  }
  ::close(fd);
  const auto head_end = resp.find("\r\n\r\n");
  if (head_end == std::string::npos || resp.rfind("HTTP/1.", 0) != 0 || resp.substr(9, 3) != "200") {
    return std::nullopt;
  }
  return resp.substr(head_end + 4);
}

// A Prometheus of the test's own: its configuration and TSDB in a private
// directory, listening on a free loopback port; killed and removed with
// this object whatever happens.
class Prometheus {
 public:
  explicit Prometheus(const std::string& config_yaml) {
    config_ = dir_.path() + "/prometheus.yml";
    std::ofstream(config_) << config_yaml;
  }
  ~Prometheus() { stop(); }
  Prometheus(const Prometheus&) = delete;
  Prometheus& operator=(const Prometheus&) = delete;

  [[nodiscard]] const std::string& dir() const { return dir_.path(); }

  bool start() {
    port_ = free_port();
    if (port_ == 0) return false;
    const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
    const std::string config = "--config.file=" + config_;
    const std::string storage = "--storage.tsdb.path=" + dir_.path() + "/data";
    const std::string log = dir_.path() + "/prometheus.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (out >= 0) {
        ::dup2(out, 1);
        ::dup2(out, 2);
      }
      ::execl(kPrometheus, kPrometheus, config.c_str(), storage.c_str(), listen.c_str(), "--log.level=warn",
              "--storage.tsdb.retention.time=1h", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    if (pid_ < 0) return false;
    // Ready when its API answers.
    const auto until = steady_clock::now() + std::chrono::seconds(30);
    while (steady_clock::now() < until) {
      if (http_get(port_, "/-/ready")) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(milliseconds(200));
    }
    return false;
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto until = steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (steady_clock::now() >= until) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
    pid_ = -1;
  }

  // The result vector of an instant query (empty on any failure).
  json::array query(const std::string& promql) {
    const auto body = http_get(port_, "/api/v1/query?query=" + url_encode(promql));
    if (!body) return {};
    boost::system::error_code ec;
    auto v = json::parse(*body, ec);
    if (ec || !v.is_object()) return {};
    const auto* data = v.as_object().if_contains("data");
    if (data == nullptr || !data->is_object()) return {};
    const auto* result = data->as_object().if_contains("result");
    if (result == nullptr || !result->is_array()) return {};
    return result->as_array();
  }

  // The value of a query that yields one sample, or nullopt.
  std::optional<double> scalar(const std::string& promql) {
    const auto r = query(promql);
    if (r.size() != 1) return std::nullopt;
    const auto& value = r[0].as_object().at("value").as_array();
    return std::stod(std::string(value.at(1).as_string()));
  }

  std::string log() const {
    std::ifstream in(dir_.path() + "/prometheus.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  hoist::testing::PrivateDir dir_;
  std::string config_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// Waits up to `timeout` for `ok`.
template <class F>
bool eventually(F ok, std::chrono::seconds timeout = std::chrono::seconds(45)) {
  const auto until = steady_clock::now() + timeout;
  while (steady_clock::now() < until) {
    if (ok()) return true;
    std::this_thread::sleep_for(milliseconds(250));
  }
  return ok();
}

std::size_t count_lines_starting(const std::string& text, const std::string& prefix) {
  std::size_t n = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) n += line.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

class MetricsE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    auto token = new_metrics_token();
    ASSERT_TRUE(token) << "hoistd --new-metrics-token printed no token and hash";
    token_ = *token;
    hoistd_.options().config_toml = "[metrics]\ntoken_hash = \"" + token_.hash + "\"\n";
    ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
  }

  HttpReply scrape() { return hoistd_.call("GET", "/metrics", "", bearer(token_.token)); }

  MetricsToken token_;
  HoistdProcess hoistd_;
};

TEST_F(MetricsE2e, OnlyTheTokenScrapesAndTheTokenIsNeverLogged) {
  const auto ok = scrape();
  ASSERT_EQ(ok.status, 200) << ok;
  EXPECT_EQ(ok.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(ok.body.find("# TYPE hoist_http_requests_total counter"), std::string::npos) << ok.body;
  auto admin = hoistd_.admin_token();
  ASSERT_TRUE(admin.ok());
  for (const auto& headers :
       std::vector<Headers>{{}, bearer(*admin), bearer(token_.token + "x"), bearer(token_.token.substr(1))}) {
    const auto r = hoistd_.call("GET", "/metrics", "", headers);
    EXPECT_EQ(r.status, 401) << r;
    EXPECT_EQ(r.body.find("# TYPE"), std::string::npos) << r;
  }
  // hoist_metrics_ID_SECRET: all after the id (base64url may hold '_').
  std::size_t after_id = 0;
  for (int i = 0; i < 3; ++i) after_id = token_.token.find('_', after_id) + 1;
  const auto secret = token_.token.substr(after_id);
  EXPECT_EQ(hoistd_.output().find(secret), std::string::npos) << "the metrics token is in hoistd's output";
  EXPECT_EQ(hoistd_.output().find(token_.hash), std::string::npos) << "the token's hash is in hoistd's output";
}

TEST_F(MetricsE2e, MadeUpPathsAndMethodsAddNoSeries) {
  // Every kind of answer once, so the series they use exist.
  (void)hoistd_.call("GET", "/api/v1/requests/x");
  (void)hoistd_.call("GET", "/api/v1/no-such-api");
  (void)hoistd_.call("GET", "/no-such-page");
  std::this_thread::sleep_for(milliseconds(1100));  // past the scrape cache
  const auto before = scrape();
  ASSERT_EQ(before.status, 200) << before;
  const auto series_before = count_lines_starting(before.body, "hoist_http_requests_total{");
  const auto lines_before = count_lines_starting(before.body, "hoist_");

  std::mt19937_64 rng(std::random_device{}());
  std::set<std::string> sent;
  auto client = hoistd_.client();
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 1000; ++i) {
    const auto word = "zz" + std::to_string(rng());
    sent.insert(word);
    const std::string targets[] = {"/api/v1/" + word, "/" + word, "/api/v1/requests/" + word, "/api/v1/users/" + word};
    const std::string methods[] = {"GET", "POST", "DELETE", "PATCH"};
    const auto r =
        hoist::testing::send_request(*client, methods[i % 4], targets[(i / 4) % 4], "", bearer("hoist_api_" + word));
    ASSERT_NE(r.status, 0) << r;
  }
  std::this_thread::sleep_for(milliseconds(1100));
  const auto after = scrape();
  ASSERT_EQ(after.status, 200) << after;
  // A few new (route, method, status) triples may appear (other statuses of
  // the same templates), never one per path: 1,000 made-up paths came in.
  const auto series_after = count_lines_starting(after.body, "hoist_http_requests_total{");
  EXPECT_LE(series_after, series_before + 16) << after.body;
  EXPECT_LE(count_lines_starting(after.body, "hoist_"), lines_before + 16 * 20) << after.body;
  for (const auto& w : sent) {
    ASSERT_EQ(after.body.find(w), std::string::npos) << "a path the client made up became a label: " << w;
  }
}

TEST_F(MetricsE2e, ARealPrometheusScrapesHoistdWithItsCaAndTheToken) {
  if (::access(kPrometheus, X_OK) != 0) {
    FAIL() << kPrometheus << " is missing: run scripts/install-deps.sh (Debian's prometheus package)";
  }
  Prometheus prometheus(
      "global:\n"
      "  scrape_interval: 1s\n"
      "  scrape_timeout: 1s\n"
      "  evaluation_interval: 1h\n"
      "scrape_configs:\n"
      "  - job_name: hoistd\n"
      "    scheme: https\n"
      "    tls_config:\n"
      "      ca_file: " +
      hoistd_.ca_file() +
      "\n"
      "    authorization:\n"
      "      type: Bearer\n"
      "      credentials_file: TOKEN_FILE\n"
      "    static_configs:\n"
      "      - targets: ['127.0.0.1:" +
      std::to_string(hoistd_.port()) + "']\n");
  // The token in a file of its own, as credentials_file wants it.
  {
    const std::string token_file = prometheus.dir() + "/token";
    std::ofstream(token_file) << token_.token;
    const std::string config_file = prometheus.dir() + "/prometheus.yml";
    std::ifstream in(config_file);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    text.replace(text.find("TOKEN_FILE"), 10, token_file);
    std::ofstream(config_file, std::ios::trunc) << text;
  }
  ASSERT_TRUE(prometheus.start()) << "prometheus did not start:\n" << prometheus.log();

  ASSERT_TRUE(eventually([&] { return prometheus.scalar("up{job=\"hoistd\"}") == 1.0; }))
      << "Prometheus never scraped hoistd (up != 1); its targets: " << prometheus.query("up").size() << "\n"
      << prometheus.log() << "\nhoistd:\n"
      << hoistd_.output();
  for (const std::string series :
       {"hoist_http_requests_total", "hoist_http_request_duration_seconds_bucket", "hoist_request_decisions_total",
        "hoist_request_wait_seconds_bucket", "hoist_long_polls_waiting", "hoist_requests", "hoist_audit_last_seq",
        "hoist_http_connections_open"}) {
    EXPECT_TRUE(eventually([&] { return !prometheus.query(series).empty(); }, std::chrono::seconds(10)))
        << series << " is not in Prometheus";
  }
  EXPECT_EQ(prometheus.scalar("hoist_requests{state=\"pending\"}"), 0.0);

  // A counter moves after this test's requests.
  const std::string health = "sum(hoist_http_requests_total{route=\"/api/v1/health\",status=\"200\"})";
  const double before = prometheus.scalar(health).value_or(0);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(hoistd_.call("GET", "/api/v1/health").status, 200);
  EXPECT_TRUE(eventually([&] { return prometheus.scalar(health).value_or(0) >= before + 5; }))
      << health << " stayed at " << prometheus.scalar(health).value_or(-1) << " (before: " << before << ")";
  // And a gauge from the store: an admin action appends audit events.
  const double seq = prometheus.scalar("hoist_audit_last_seq").value_or(-1);
  ASSERT_TRUE(hoistd_.admin_token().ok());
  ASSERT_EQ(
      hoistd_
          .call_json("POST", "/api/v1/tokens", json::object{{"label", "metrics-e2e"}}, bearer(*hoistd_.admin_token()))
          .status,
      201);
  EXPECT_TRUE(eventually([&] { return prometheus.scalar("hoist_audit_last_seq").value_or(-1) > seq; }))
      << "hoist_audit_last_seq stayed at " << seq;
  prometheus.stop();
}

}  // namespace
}  // namespace hoist::e2e
