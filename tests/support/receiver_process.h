// A python3 HTTPS receiver on 127.0.0.1 for tests (webhook_receiver.h,
// chat_receiver.h): a certificate for 127.0.0.1 from a CA made here
// (ca_file()), the script started as a child that dies with the test,
// its port read from the file it writes once listening. Header-only;
// links OpenSSL.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/tls_test_support.h"

namespace hoist::testing {

class ReceiverProcess {
 public:
  // `dir`: a private directory the receiver may write in.
  explicit ReceiverProcess(std::string dir) : dir_(std::move(dir)) {
    using namespace hoist::tls::testing;
    const auto now =
        TimePoint{std::chrono::duration_cast<Seconds>(std::chrono::system_clock::now().time_since_epoch())};
    const auto ca = make_cert("receiver test CA", now - std::chrono::hours(1), now + std::chrono::hours(24), true);
    const auto leaf =
        make_cert("127.0.0.1", now - std::chrono::hours(1), now + std::chrono::hours(24), false, &ca, "IP:127.0.0.1");
    write_text(ca_file(), pem_of(ca.cert.get()), 0644);
    write_text(dir_ + "/receiver.crt", pem_of(leaf.cert.get()), 0644);
    write_text(dir_ + "/receiver.key", pem_of(leaf.key.get()), 0600);
  }
  ~ReceiverProcess() { kill(); }
  ReceiverProcess(const ReceiverProcess&) = delete;
  ReceiverProcess& operator=(const ReceiverProcess&) = delete;

  // Runs python3 `script` --cert --key --ready --port `port` and `args`.
  // False, with error(), when it is not listening within 10 s.
  bool start(const std::string& script, const std::vector<std::string>& args, std::uint16_t port) {
    kill();
    const std::string ready = dir_ + "/ready";
    std::filesystem::remove(ready);
    std::vector<std::string> argv = {
        "python3", script, "--cert", dir_ + "/receiver.crt", "--key", dir_ + "/receiver.key",
        "--ready", ready,  "--port", std::to_string(port)};
    argv.insert(argv.end(), args.begin(), args.end());
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const std::string out = dir_ + "/receiver.out";
      if (FILE* f = std::freopen(out.c_str(), "a", stderr)) (void)f;
      std::vector<char*> c_argv;
      for (auto& a : argv) c_argv.push_back(a.data());
      c_argv.push_back(nullptr);
      ::execvp("python3", c_argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      std::ifstream in(ready);
      int p = 0;
      if (in >> p && p > 0) {
        port_ = static_cast<std::uint16_t>(p);
        return true;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        error_ = "the receiver exited: " + hoist::tls::testing::read_text(dir_ + "/receiver.out");
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    error_ = "the receiver did not listen within 10 s: " + hoist::tls::testing::read_text(dir_ + "/receiver.out");
    kill();
    return false;
  }

  // SIGTERM, then SIGKILL after 5 s.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill();
  }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
  }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] std::string ca_file() const { return dir_ + "/receiver-ca.crt"; }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string error_;
};

}  // namespace hoist::testing
