// Debian's HAProxy (/usr/sbin/haproxy) as a child of the test, in front of
// hoistd replicas on loopback, with a configuration made from the shipped
// examples/haproxy/hoistd.cfg: only the addresses, the CA file and the
// service name change, and the lines that need the machine's set-up
// (syslog, chroot, the haproxy user) go; every timeout, check and balance
// setting is the shipped one. Run in the foreground (-db) with the
// parent-death signal, stopped (and its directory removed) at the end.
// HAProxy connects to the replicas from kHaproxySource (a `source` line in
// the backend), so the replicas list that address alone in [server]
// proxy_protocol_from (the shipped file sends PROXY protocol v2) and the
// test's own clients on 127.0.0.1 still reach them directly.
// Header-only.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace hoist::testing {

inline constexpr const char* kHaproxyBinary = "/usr/sbin/haproxy";
// The shipped global maxconn needs about 2 x 20000 descriptors (Debian's
// haproxy.service gives it more); below that the test lowers it.
inline constexpr rlim_t kFiles = 41000;
// The address HAProxy connects to the replicas from.
inline constexpr const char* kHaproxySource = "127.0.0.9";

class HaproxyProcess {
 public:
  struct Backend {
    std::string name;
    std::uint16_t port = 0;  // on 127.0.0.1
  };

  // `example`: the shipped configuration; `ca_file`: hoistd's CA
  // certificate; `service_name`: the name the replicas' certificates carry.
  HaproxyProcess(std::string example, std::string ca_file, std::string service_name)
      : example_(std::move(example)), ca_file_(std::move(ca_file)), service_name_(std::move(service_name)) {
    std::string tmpl = "/tmp/hoist-haproxy-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) dir_ = tmpl;
  }
  ~HaproxyProcess() {
    stop();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  HaproxyProcess(const HaproxyProcess&) = delete;
  HaproxyProcess& operator=(const HaproxyProcess&) = delete;

  // The shipped file with only the CA path replaced (it must exist for
  // `haproxy -c`): true when HAProxy accepts it as shipped.
  bool check_shipped() {
    std::string text = read(example_);
    replace_all(text, "/etc/haproxy/hoist-ca.crt", ca_file_);
    const std::string path = dir_ + "/shipped.cfg";
    std::ofstream(path) << text;
    return run_check(path);
  }

  // Writes the configuration for `backends` and starts HAProxy on a free
  // loopback port; false with error() when it does not listen within 5 s.
  bool start(const std::vector<Backend>& backends) {
    if (dir_.empty()) return fail("mkdtemp failed");
    if (port_ == 0) port_ = free_port();
    if (!write_config(backends)) return false;
    if (!run_check(config_path())) return false;
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) return fail("fork failed");
    if (pid_ == 0) {
      const int fd = ::open((dir_ + "/haproxy.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const std::string cfg = config_path();
      ::execl(kHaproxyBinary, kHaproxyBinary, "-f", cfg.c_str(), "-db", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 250; ++i) {
      if (listening()) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return fail("haproxy exited: " + log());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop();
    return fail("haproxy did not listen within 5 s: " + log());
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 250; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::string config_path() const { return dir_ + "/haproxy.cfg"; }
  [[nodiscard]] std::string config() const { return read(config_path()); }
  [[nodiscard]] std::string log() const { return read(dir_ + "/haproxy.log"); }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  bool write_config(const std::vector<Backend>& backends) {
    std::istringstream in(read(example_));
    if (in.str().empty()) return fail("cannot read " + example_);
    std::ostringstream out;
    std::string line;
    bool servers_written = false;
    while (std::getline(in, line)) {
      const auto first = line.find_first_not_of(' ');
      const std::string word = first == std::string::npos ? "" : line.substr(first, line.find(' ', first) - first);
      if (word == "log" && line.find("/dev/log") != std::string::npos) continue;
      if (word == "chroot" || word == "user" || word == "group") continue;
      if (word == "maxconn" && line.find("maxconn 20000") != std::string::npos && !can_raise_files()) {
        // The descriptors the shipped global maxconn needs are out of reach
        // here (a container's hard limit): a cap that fits (the tests hold
        // a few dozen connections).
        out << "    maxconn 1000\n";
        continue;
      }
      if (word == "bind") {
        out << "    bind 127.0.0.1:" << port_ << "\n";
        continue;
      }
      if (word == "server") {
        if (!servers_written) {
          out << "    source " << kHaproxySource << "\n";
          for (const auto& b : backends) out << "    server " << b.name << " 127.0.0.1:" << b.port << "\n";
          servers_written = true;
        }
        continue;
      }
      replace_all(line, "/etc/haproxy/hoist-ca.crt", ca_file_);
      replace_all(line, "hoist.example.net", service_name_);
      out << line << "\n";
    }
    if (!servers_written) return fail("the example has no server lines");
    std::ofstream(config_path()) << out.str();
    return true;
  }

  bool run_check(const std::string& path) {
    const std::string out_path = dir_ + "/check.out";
    const std::string cmd = std::string(kHaproxyBinary) + " -c -f '" + path + "' >'" + out_path + "' 2>&1";
    const int rc = std::system(cmd.c_str());  // NOLINT(cert-env33-c): the test's own paths
    if (rc != 0) return fail("haproxy -c -f " + path + " failed: " + read(out_path));
    return true;
  }

  static bool can_raise_files() {
    rlimit now{};
    return ::getrlimit(RLIMIT_NOFILE, &now) == 0 && now.rlim_max >= kFiles;
  }

  [[nodiscard]] bool listening() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
  }

  static std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    std::uint16_t port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
  }

  static void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
      s.replace(pos, from.size(), to);
    }
  }

  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  bool fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  std::string example_;
  std::string ca_file_;
  std::string service_name_;
  std::string dir_;
  std::string error_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace hoist::testing
