// A real Standard Webhooks receiver for tests: tests/support/
// webhook_receiver.py (python3's http.server over TLS) on 127.0.0.1, with a
// certificate for 127.0.0.1 from a CA made here (ca_file()), checking every
// message's signature with the code docs/notifications.md gives receivers.
// Each request it gets is read back with received(). Header-only; needs
// HOIST_SOURCE_DIR defined (the repository, for the script and the docs)
// and links OpenSSL.
//
//   hoist::testing::WebhookReceiver rx(dir, secret);
//   ASSERT_TRUE(rx.start()) << rx.error();
//   ... rx.url("/hook"), rx.ca_file(), rx.received() ...
//   rx.stop();   // the destructor kills what still runs
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/tls_test_support.h"

namespace hoist::testing {

struct ReceivedWebhook {
  std::string id;
  std::string timestamp;
  std::string signature;
  bool verified = false;
  int status = 0;
  std::string path;
  std::string body;
  boost::json::value json;  // the body parsed (null when it is not JSON)
};

class WebhookReceiver {
 public:
  // `dir`: a private directory the receiver may write in.
  WebhookReceiver(std::string dir, std::string secret) : dir_(std::move(dir)), secret_(std::move(secret)) {
    using namespace hoist::tls::testing;
    const auto now =
        TimePoint{std::chrono::duration_cast<Seconds>(std::chrono::system_clock::now().time_since_epoch())};
    const auto ca = make_cert("webhook test CA", now - std::chrono::hours(1), now + std::chrono::hours(24), true);
    const auto leaf =
        make_cert("127.0.0.1", now - std::chrono::hours(1), now + std::chrono::hours(24), false, &ca, "IP:127.0.0.1");
    write_text(ca_file(), pem_of(ca.cert.get()), 0644);
    write_text(dir_ + "/receiver.crt", pem_of(leaf.cert.get()), 0644);
    write_text(dir_ + "/receiver.key", pem_of(leaf.key.get()), 0600);
  }
  ~WebhookReceiver() { kill(); }
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  // Starts it in `mode` (see webhook_receiver.py) on `port` (0: a free one;
  // give port() again to come back on the same address). False, with
  // error(), when it is not listening within 10 s.
  bool start(const std::string& mode = "ok", std::uint16_t port = 0) {
    kill();
    const std::string ready = dir_ + "/ready";
    std::filesystem::remove(ready);
    const std::string script = std::string(HOIST_SOURCE_DIR) + "/tests/support/webhook_receiver.py";
    const std::string docs = std::string(HOIST_SOURCE_DIR) + "/docs/notifications.md";
    std::vector<std::string> args = {"python3",  script,
                                     "--cert",   dir_ + "/receiver.crt",
                                     "--key",    dir_ + "/receiver.key",
                                     "--secret", secret_,
                                     "--docs",   docs,
                                     "--log",    log_path(),
                                     "--ready",  ready,
                                     "--port",   std::to_string(port),
                                     "--mode",   mode};
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const std::string out = dir_ + "/receiver.out";
      if (FILE* f = std::freopen(out.c_str(), "a", stderr)) (void)f;
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("python3", argv.data());
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
  [[nodiscard]] std::string url(const std::string& path = "/hook") const {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
  }
  [[nodiscard]] std::string ca_file() const { return dir_ + "/receiver-ca.crt"; }
  [[nodiscard]] std::string log_path() const { return dir_ + "/received.jsonl"; }
  [[nodiscard]] const std::string& error() const { return error_; }

  // Every request received so far, in order (over every start).
  [[nodiscard]] std::vector<ReceivedWebhook> received() const {
    std::vector<ReceivedWebhook> out;
    std::ifstream in(log_path());
    std::string line;
    while (std::getline(in, line)) {
      boost::system::error_code ec;
      auto v = boost::json::parse(line, ec);
      if (ec || !v.is_object()) continue;
      const auto& o = v.as_object();
      ReceivedWebhook r;
      const auto str = [&](const char* k) {
        const auto* f = o.if_contains(k);
        return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
      };
      r.id = str("id");
      r.timestamp = str("timestamp");
      r.signature = str("signature");
      r.path = str("path");
      r.body = str("body");
      if (const auto* f = o.if_contains("verified"); f != nullptr && f->is_bool()) r.verified = f->as_bool();
      if (const auto* f = o.if_contains("status"); f != nullptr && f->is_int64())
        r.status = static_cast<int>(f->as_int64());
      r.json = boost::json::parse(r.body, ec);
      if (ec) r.json = nullptr;
      out.push_back(std::move(r));
    }
    return out;
  }
  // The distinct webhook-ids received, in first-arrival order.
  [[nodiscard]] std::vector<std::string> distinct_ids() const {
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const auto& r : received()) {
      if (seen.insert(r.id).second) out.push_back(r.id);
    }
    return out;
  }

 private:
  std::string dir_;
  std::string secret_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string error_;
};

}  // namespace hoist::testing
