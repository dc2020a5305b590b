// hoistd's command line and configuration file as an operator meets them:
// exit codes (docs/hoistd.md: 64 bad flags, 78 bad configuration) and
// messages that point at the file and line.
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e_test_support.h"

namespace hoist::e2e {
namespace {

using hoist::testing::ExitResult;
using hoist::testing::PrivateDir;

struct BadConfig {
  const char* name;
  const char* text;
  int line;              // where the message must point
  const char* expected;  // and what it must say
};

const BadConfig kBadConfigs[] = {
    {"wrong type", "[server]\nport = 8443\nhandler_threads = \"four\"\n", 3,
     "server.handler_threads must be a whole number"},
    {"unknown key", "[limits]\nmax_body_bytes = 2048\nmax_bodybytes = 4096\n", 3,
     "unknown key \"limits.max_bodybytes\""},
    {"unknown table", "[server]\nport = 8443\n\n[logging]\nlevel = \"debug\"\n", 4, "unknown key \"logging\""},
    {"TOML syntax", "[server]\nlisten = \"127.0.0.1\"\nport = \n", 3, ""},
    {"unterminated string", "[tls]\ndns_names = [\"hoist.example.com]\n", 2, ""},
    {"list of numbers", "[tls]\n\nip_addresses = [\"192.0.2.1\", 7]\n", 3,
     "tls.ip_addresses must be a list of strings"},
    {"not a table", "server = 8443\n", 1, "server must be a table"},
    {"add_hostname not a flag", "[tls]\nadd_hostname = \"yes\"\n", 2, "tls.add_hostname must be true or false"},
    {"metrics token instead of its hash",
     "[metrics]\ntoken_hash = \"hoist_metrics_0123456789abcdef01234567_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\n",
     2, "metrics.token_hash must be the 64 lowercase hex digits"},
    {"metrics hash in capitals",
     "[metrics]\ntoken_hash = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\n", 2,
     "metrics.token_hash must be"},
    {"metrics on a listener of its own", "[metrics]\nlisten = \"127.0.0.1:9464\"\n", 2,
     "unknown key \"metrics.listen\""},
    {"bad step-up age", "[console]\nstep_up_after = \"soon\"\n", 2, "console.step_up_after"},
    {"no submissions at all", "[requests]\nendpoint_burst = 0\n", 2,
     "requests.endpoint_burst must be between 1 and 1000000"},
    {"submissions every day", "[requests]\nuser_burst = 5\nuser_every = \"1d\"\n", 3,
     "requests.user_every must be between 1ms and 1h"},
};

TEST(E2eStartup, BadConfigurationExits78NamingFileAndLine) {
  const PrivateDir dir;
  for (const auto& bad : kBadConfigs) {
    SCOPED_TRACE(bad.name);
    const std::string file = dir / "hoistd.toml";
    {
      std::ofstream out(file, std::ios::trunc);
      out << bad.text;
    }
    const ExitResult checked = HoistdProcess::run_once({"--check-config", "--config", file});
    EXPECT_EQ(checked.status, 78) << checked.output;
    const std::string where = "hoistd: " + file + ":" + std::to_string(bad.line) + ":";
    EXPECT_NE(checked.output.find(where), std::string::npos) << "expected \"" << where << "\" in:\n" << checked.output;
    EXPECT_NE(checked.output.find(bad.expected), std::string::npos) << checked.output;
    EXPECT_EQ(checked.output.find("configuration OK"), std::string::npos) << checked.output;
  }
}

TEST(E2eStartup, BadConfigurationStopsAStartToo) {
  const PrivateDir dir;
  const std::string file = dir / "hoistd.toml";
  std::ofstream(file) << "[server]\nhandler_threads = \"four\"\n";
  const ExitResult started = HoistdProcess::run_once(
      {"--config", file, "--data-dir", dir / "data", "--port", "0", "--ready-file", dir / "ready.json"});
  EXPECT_EQ(started.status, 78) << started.output;
  EXPECT_NE(started.output.find(file + ":2:"), std::string::npos) << started.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "ready.json"));
  EXPECT_FALSE(std::filesystem::exists(dir / "data")) << "nothing is created before the configuration is good";
}

TEST(E2eStartup, GoodAndMissingConfiguration) {
  const PrivateDir dir;
  const std::string file = dir / "hoistd.toml";
  std::ofstream(file) << R"([server]
listen = "127.0.0.1"
port = 8443
handler_threads = 2

[limits]
drain_timeout_s = 5

[log]
level = "warning"

[requests]
sweep_interval = "30s"
endpoint_burst = 100
endpoint_every = "500ms"
user_burst = 10
user_every = "10s"

[console]
step_up_after = "5m"
)";
  const ExitResult good = HoistdProcess::run_once({"--check-config", "--config", file});
  EXPECT_EQ(good.status, 0) << good.output;
  EXPECT_NE(good.output.find("configuration OK"), std::string::npos) << good.output;

  const std::string missing = dir / "missing.toml";
  const ExitResult absent = HoistdProcess::run_once({"--check-config", "--config", missing});
  EXPECT_EQ(absent.status, 78) << absent.output;
  EXPECT_NE(absent.output.find(missing), std::string::npos) << absent.output;
}

TEST(E2eStartup, BadFlagsExit64) {
  const PrivateDir dir;
  const std::string config = dir / "empty.toml";
  std::ofstream(config) << "";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--no-such-flag"}, "--no-such-flag"},
      {{"--check-config", "--config", config, "--port", "70000"}, "70000"},
      {{"--check-config", "--config", config, "--port"}, "--port"},
      {{"--check-config", "--config", config, "--log-level", "loud"}, "log.level"},
      {{"--check-config", "--config", config, "stray-argument"}, "stray-argument"},
  };
  for (const auto& [args, mentioned] : cases) {
    SCOPED_TRACE(args.back());
    const ExitResult r = HoistdProcess::run_once(args);
    EXPECT_EQ(r.status, 64) << r.output;
    EXPECT_NE(r.output.find(mentioned), std::string::npos) << r.output;
  }
  // The same flags without the mistake are fine.
  const ExitResult fine = HoistdProcess::run_once({"--check-config", "--config", config, "--port", "0"});
  EXPECT_EQ(fine.status, 0) << fine.output;
}

// Under systemd the banner goes to the journal, which group adm reads: a
// password hoistd makes up is then only in DATA_DIR/first-admin-password
// (0600), which logs in.
TEST(E2eStartup, UnderTheJournalTheMadeUpPasswordIsInAFileNotTheLog) {
  hoist::testing::HoistdOptions options;
  options.admin_password = "";  // hoistd makes one up
  options.extra_env = {{"JOURNAL_STREAM", "8:12345"}};
  hoist::testing::HoistdProcess hoistd(options);
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  const std::string file = hoistd.data_dir() + "/first-admin-password";
  std::ifstream in(file);
  std::string password;
  ASSERT_TRUE(std::getline(in, password)) << hoistd.output();
  EXPECT_GE(password.size(), 16U);
  EXPECT_EQ(hoistd.output().find(password), std::string::npos) << "the password is in the log";
  EXPECT_NE(hoistd.output().find("its password is in " + file), std::string::npos) << hoistd.output();
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  const auto login =
      hoistd.call_json("POST", "/api/v1/login", boost::json::object{{"user", "admin"}, {"password", password}});
  EXPECT_EQ(login.status, 200) << login;
  EXPECT_EQ(hoistd.stop(), 0);
}

// Elsewhere (a terminal, a test's log) it is printed once, as before.
TEST(E2eStartup, OutsideTheJournalTheMadeUpPasswordIsPrintedOnce) {
  hoist::testing::HoistdOptions options;
  options.admin_password = "";
  hoist::testing::HoistdProcess hoistd(options);
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  EXPECT_TRUE(hoistd.admin_token().ok()) << hoistd.output();  // read from "First admin: admin / ..."
  EXPECT_EQ(hoistd.stop(), 0);
}

// systemd's side of sd_notify: a datagram socket that NOTIFY_SOCKET names.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (fd_ < 0 || path.size() >= sizeof(addr.sun_path)) return;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    bound_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  [[nodiscard]] bool bound() const { return bound_; }
  [[nodiscard]] const std::vector<std::string>& heard() const { return heard_; }

  // Listens until a message holding `until` arrives (true), or `within`
  // passes; "" listens for all of `within`.
  bool listen_for(std::string_view until, std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[512];
      const auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) continue;
      heard_.emplace_back(buf, static_cast<std::size_t>(n));
      if (!until.empty() && heard_.back().find(until) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
  std::vector<std::string> heard_;
};

// Under systemd (hoistd.service: Type=notify, WatchdogSec=): READY=1 once
// listening, WATCHDOG=1 at half the interval while the event loop and the
// database answer, STOPPING=1 on SIGTERM.
TEST(E2eStartup, TellsSystemdReadyWatchdogAndStopping) {
  hoist::testing::TempDir dir;
  NotifySocket systemd(dir.path() + "/notify");
  ASSERT_TRUE(systemd.bound());
  hoist::testing::HoistdOptions options;
  options.extra_env = {{"NOTIFY_SOCKET", dir.path() + "/notify"}, {"WATCHDOG_USEC", "400000"}};
  hoist::testing::HoistdProcess hoistd(options);
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  EXPECT_TRUE(systemd.listen_for("READY=1", std::chrono::seconds(10))) << hoistd.output();
  // 200 ms apart: three in well under 3 s.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(systemd.listen_for("WATCHDOG=1", std::chrono::seconds(3))) << "ping " << i << "\n" << hoistd.output();
  }
  EXPECT_EQ(hoistd.stop(), 0);
  EXPECT_TRUE(systemd.listen_for("STOPPING=1", std::chrono::seconds(2)));
}

// Without WATCHDOG_USEC (a unit with no WatchdogSec=) there is no ping.
TEST(E2eStartup, NoWatchdogPingUnlessAskedFor) {
  hoist::testing::TempDir dir;
  NotifySocket systemd(dir.path() + "/notify");
  ASSERT_TRUE(systemd.bound());
  hoist::testing::HoistdOptions options;
  options.extra_env = {{"NOTIFY_SOCKET", dir.path() + "/notify"}};
  hoist::testing::HoistdProcess hoistd(options);
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(hoistd.stop(), 0);
  systemd.listen_for("", std::chrono::milliseconds(500));
  ASSERT_FALSE(systemd.heard().empty());
  EXPECT_NE(systemd.heard().front().find("READY=1"), std::string::npos);
  for (const auto& m : systemd.heard()) EXPECT_EQ(m.find("WATCHDOG=1"), std::string::npos) << m;
}

}  // namespace
}  // namespace hoist::e2e
