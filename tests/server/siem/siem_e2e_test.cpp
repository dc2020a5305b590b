// The real hoistd streaming its audit trail to a real rsyslog over TLS
// (RFC 5425, octet counting) and to a JSON-lines file, everything on this
// machine: every event arrives, in order, also after the receiver was down
// and after hoistd was killed -9 (the cursor is in the store); receivers
// see duplicates at most, dropped by event id, and never a gap.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "support/hoistd_process.h"
#include "support/tls_test_support.h"

namespace hoist::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kRsyslogd = "/usr/sbin/rsyslogd";

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// rsyslogd in the foreground with its own configuration: one TLS input on
// loopback, every message as received into one file.
class Rsyslog {
 public:
  Rsyslog(std::string dir, std::uint16_t port) : dir_(std::move(dir)), port_(port) {
    std::filesystem::create_directories(dir_ + "/work");
    std::ofstream(dir_ + "/rsyslog.conf")
        << "global(workDirectory=\"" << dir_ << "/work\"\n"
        << "  DefaultNetstreamDriver=\"gtls\"\n"
        << "  DefaultNetstreamDriverCAFile=\"" << dir_ << "/ca.pem\"\n"
        << "  DefaultNetstreamDriverCertFile=\"" << dir_ << "/cert.pem\"\n"
        << "  DefaultNetstreamDriverKeyFile=\"" << dir_ << "/key.pem\")\n"
        << "module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\""
        << " StreamDriver.AuthMode=\"anon\")\n"
        << "template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n"
        << "ruleset(name=\"hoist\") {\n"
        << "  action(type=\"omfile\" file=\"" << received() << "\" template=\"raw\" flushOnTXEnd=\"on\")\n"
        << "}\n"
        << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << port_ << "\" ruleset=\"hoist\")\n";
  }
  ~Rsyslog() { stop(); }
  bool start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int out = ::open((dir_ + "/rsyslogd.out").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      ::dup2(out, 1);
      ::dup2(out, 2);
      const std::string conf = dir_ + "/rsyslog.conf";
      const std::string pid = dir_ + "/rsyslogd.pid";
      ::execl(kRsyslogd, kRsyslogd, "-n", "-f", conf.c_str(), "-i", pid.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Listening once a connection is taken.
    for (int i = 0; i < 100; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port_);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      ::close(fd);
      if (up) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  [[nodiscard]] std::string received() const { return dir_ + "/received.log"; }
  [[nodiscard]] std::string output() const { return slurp(dir_ + "/rsyslogd.out"); }

 private:
  std::string dir_;
  std::uint16_t port_;
  pid_t pid_ = -1;
};

// seq -> event id, from the lines of `text` (`seq_of` reads a line's seq
// and id); false when a seq came with two ids.
struct Seen {
  std::map<std::uint64_t, std::string> ids;
  std::size_t lines = 0;
  bool consistent = true;
  void add(std::uint64_t seq, const std::string& id) {
    ++lines;
    auto [it, fresh] = ids.emplace(seq, id);
    if (!fresh && it->second != id) consistent = false;
  }
  // Every seq from 1 to `head`, none missing.
  [[nodiscard]] bool complete(std::uint64_t head) const {
    if (ids.size() < head) return false;
    for (std::uint64_t s = 1; s <= head; ++s) {
      if (ids.count(s) == 0) return false;
    }
    return true;
  }
};

Seen from_syslog(const std::string& text) {
  Seen out;
  static const std::regex sd(R"re(\[hoist@32473 seq="([0-9]+)" id="([0-9a-f]{64})")re");
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, sd)) out.add(std::stoull(m[1]), m[2]);
  }
  return out;
}

// What the HEC stand-in wrote: one HEC event object per line.
Seen from_hec(const std::string& text) {
  Seen out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto v = json::parse(line).as_object();
    const auto& e = v.at("event");
    out.add(static_cast<std::uint64_t>(e.at("event").at("sequence").to_number<std::int64_t>()),
            std::string(e.at("event").at("id").as_string()));
  }
  return out;
}

// A child process (the HEC stand-in), killed at the end.
class Child {
 public:
  explicit Child(std::vector<std::string> args, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      ::dup2(out, 1);
      ::dup2(out, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

 private:
  pid_t pid_ = -1;
};

Seen from_jsonl(const std::string& text) {
  Seen out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto v = json::parse(line).as_object();
    out.add(static_cast<std::uint64_t>(v.at("event").at("sequence").to_number<std::int64_t>()),
            std::string(v.at("event").at("id").as_string()));
  }
  return out;
}

class SiemE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kRsyslogd, X_OK) != 0) GTEST_SKIP() << "rsyslogd is not installed (make deps installs it)";
    const TimePoint now = std::chrono::time_point_cast<Seconds>(std::chrono::system_clock::now());
    auto ca =
        tls::testing::make_cert("Hoist SIEM test CA", now - std::chrono::hours(1), now + std::chrono::hours(24), true);
    auto leaf = tls::testing::make_cert("localhost", now - std::chrono::hours(1), now + std::chrono::hours(24), false,
                                        &ca, "DNS:localhost,IP:127.0.0.1");
    tls::testing::write_text(dir_ / "ca.pem", tls::testing::pem_of(ca.cert.get()), 0644);
    tls::testing::write_text(dir_ / "cert.pem", tls::testing::pem_of(leaf.cert.get()), 0644);
    tls::testing::write_text(dir_ / "key.pem", tls::testing::pem_of(leaf.key.get()), 0600);
    port_ = free_port();
    rsyslog_ = std::make_unique<Rsyslog>(dir_.path(), port_);
    hec_port_ = free_port();
    tls::testing::write_text(dir_ / "hec.token", "e2e-hec-token-5f0c\n", 0600);
    // The collector is busy for its first two batches (503).
    hec_ = std::make_unique<Child>(
        std::vector<std::string>{"/usr/bin/python3", HEC_RECEIVER, std::to_string(hec_port_), dir_ / "cert.pem",
                                 dir_ / "key.pem", "e2e-hec-token-5f0c", hec_out(), "2"},
        dir_ / "hec.out");
    HoistdOptions o;
    o.config_toml = "[[siem]]\nname = \"rsyslog\"\nkind = \"syslog\"\naddress = \"127.0.0.1:" + std::to_string(port_) +
                    "\"\nca_file = \"" + (dir_ / "ca.pem") +
                    "\"\nserver_name = \"localhost\"\n\n[[siem]]\nname = "
                    "\"file\"\nkind = \"file\"\npath = \"" +
                    jsonl() + "\"\n\n[[siem]]\nname = \"hec\"\nkind = \"hec\"\nurl = \"https://127.0.0.1:" +
                    std::to_string(hec_port_) + "\"\nca_file = \"" + (dir_ / "ca.pem") + "\"\ntoken_file = \"" +
                    (dir_ / "hec.token") + "\"\n";
    hoistd_ = std::make_unique<HoistdProcess>(o);
  }
  [[nodiscard]] std::string jsonl() const { return dir_ / "audit.jsonl"; }
  [[nodiscard]] std::string hec_out() const { return dir_ / "hec-events.jsonl"; }
  // The newest audit event's seq at hoistd.
  std::uint64_t head() {
    const auto r = hoistd_->call("GET", "/api/v1/audit?limit=1000", "", bearer(*hoistd_->admin_token()));
    EXPECT_EQ(r.status, 200) << r;
    std::uint64_t max = 0;
    for (const auto& e : r.array("/events")) {
      max = std::max(max, static_cast<std::uint64_t>(e.at("seq").to_number<std::int64_t>()));
    }
    return max;
  }
  // Until both receivers have every event up to head(), or 20 s.
  bool delivered(std::uint64_t head) {
    for (auto until = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < until;) {
      if (from_syslog(slurp(rsyslog_->received())).complete(head) && from_jsonl(slurp(jsonl())).complete(head) &&
          from_hec(slurp(hec_out())).complete(head)) {
        return true;
      }
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  void make_events(int n) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(hoistd_->enrol({"siem"}, "siem-" + std::to_string(i)).ok());
  }

  PrivateDir dir_;
  std::uint16_t port_ = 0;
  std::uint16_t hec_port_ = 0;
  std::unique_ptr<Rsyslog> rsyslog_;
  std::unique_ptr<Child> hec_;
  std::unique_ptr<HoistdProcess> hoistd_;
};

TEST_F(SiemE2E, EveryEventReachesRsyslogOverTlsAndTheFileInOrderThroughFaults) {
  ASSERT_TRUE(rsyslog_->start()) << rsyslog_->output();
  ASSERT_TRUE(hoistd_->start()) << hoistd_->start_error();
  make_events(2);
  std::uint64_t n = head();
  ASSERT_GT(n, 2U);
  ASSERT_TRUE(delivered(n)) << "rsyslog got:\n" << slurp(rsyslog_->received()) << "\nhoistd:\n" << hoistd_->output();
  // The syslog messages are RFC 5424 with the JSON after the structured data.
  const std::string first = slurp(rsyslog_->received()).substr(0, slurp(rsyslog_->received()).find('\n'));
  EXPECT_TRUE(std::regex_search(first, std::regex(R"(^<8[45]>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ hoistd - )")))
      << first;

  // The receiver down for a while: nothing is lost, the rest follows once
  // it is back.
  rsyslog_->stop();
  make_events(2);
  std::this_thread::sleep_for(1500ms);
  ASSERT_TRUE(rsyslog_->start()) << rsyslog_->output();
  n = head();
  ASSERT_TRUE(delivered(n)) << "after rsyslog came back; rsyslog got:\n"
                            << slurp(rsyslog_->received()) << "\nhoistd:\n"
                            << hoistd_->output();

  // hoistd killed -9 and started again: it resumes from its cursor.
  EXPECT_EQ(hoistd_->stop(SIGKILL), 128 + SIGKILL);
  ASSERT_TRUE(hoistd_->start()) << hoistd_->start_error();
  make_events(1);
  n = head();
  ASSERT_TRUE(delivered(n)) << hoistd_->output();

  const Seen syslog = from_syslog(slurp(rsyslog_->received()));
  const Seen file = from_jsonl(slurp(jsonl()));
  EXPECT_TRUE(syslog.consistent && file.consistent) << "one id per seq";
  const Seen hec = from_hec(slurp(hec_out()));
  EXPECT_TRUE(hec.consistent);
  EXPECT_EQ(syslog.ids, file.ids) << "the same events, with the same ids";
  EXPECT_EQ(hec.ids, file.ids) << "the collector too, after answering 503 twice";
  // The token is read from its file and never logged.
  EXPECT_EQ(hoistd_->output().find("e2e-hec-token-5f0c"), std::string::npos);
  // At least once, not "again and again": duplicates only from a batch
  // in flight at a fault.
  EXPECT_LE(syslog.lines, n + 2 * 500);
  EXPECT_EQ(file.lines, n) << "the file is synced with each batch: no duplicates";
}

// A stream whose receiver cannot be trusted sends nothing and says why.
TEST_F(SiemE2E, AReceiverWithAnotherNameIsRefused) {
  ASSERT_TRUE(rsyslog_->start()) << rsyslog_->output();
  hoistd_->options().config_toml =
      "[[siem]]\nname = \"rsyslog\"\nkind = \"syslog\"\naddress = \"127.0.0.1:" + std::to_string(port_) +
      "\"\nca_file = \"" + (dir_ / "ca.pem") + "\"\nserver_name = \"siem.example.org\"\n";
  ASSERT_TRUE(hoistd_->start()) << hoistd_->start_error();
  make_events(1);
  for (auto until = std::chrono::steady_clock::now() + 10s;
       std::chrono::steady_clock::now() < until && hoistd_->output().find("siem.failed") == std::string::npos;) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(hoistd_->output().find("siem.failed"), std::string::npos) << hoistd_->output();
  EXPECT_NE(hoistd_->output().find("certificate"), std::string::npos) << hoistd_->output();
  EXPECT_TRUE(from_syslog(slurp(rsyslog_->received())).ids.empty());
}

}  // namespace
}  // namespace hoist::testing
