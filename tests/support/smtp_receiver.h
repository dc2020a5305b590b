// A real SMTP server for tests: tests/support/smtp_receiver.py (aiosmtpd,
// run by Debian's /usr/bin/python3, which has python3-aiosmtpd) on
// 127.0.0.1, with a certificate from a CA made here (ca_file()): for
// 127.0.0.1, or for another name to play a server that is not the one
// asked for. STARTTLS, AUTH LOGIN and PLAIN with a test user and password;
// each message it takes is read back with received() as Python's email
// package parses it, each AUTH attempt with auth_attempts(). Header-only;
// needs HOIST_SOURCE_DIR defined and links OpenSSL.
//
//   hoist::testing::SmtpReceiver rx(dir, {.user = "hoist", .password = "pw"});
//   ASSERT_TRUE(rx.start("starttls")) << rx.error();
//   ... rx.url(), rx.ca_file(), rx.received() ...
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/tls_test_support.h"

namespace hoist::testing {

struct ReceivedMail {
  std::string mail_from;
  std::vector<std::string> rcpt_tos;
  bool tls = false;
  std::string auth_login;  // "" without AUTH
  std::string raw;         // as received (after dot-unstuffing)
  std::size_t max_line = 0;
  bool bare_lf = false;
  std::vector<std::pair<std::string, std::string>> headers;  // decoded, in order
  std::string content_type;
  struct Part {
    std::string type;
    std::string charset;
    std::string cte;
    std::string body;  // decoded
  };
  std::vector<Part> parts;
  std::vector<std::string> defects;

  // Every value of header `name` (any case).
  [[nodiscard]] std::vector<std::string> all(const std::string& name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : headers) {
      if (std::equal(k.begin(), k.end(), name.begin(), name.end(),
                     [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
        out.push_back(v);
      }
    }
    return out;
  }
  [[nodiscard]] std::string header(const std::string& name) const {
    auto v = all(name);
    return v.empty() ? std::string("<missing>") : v.front();
  }
  [[nodiscard]] const Part* part(const std::string& type) const {
    for (const auto& p : parts) {
      if (p.type == type) return &p;
    }
    return nullptr;
  }
};

struct SmtpAuthAttempt {
  std::string mechanism;
  std::string login;
  bool success = false;
  bool tls = false;
};

struct SmtpReceiverOptions {
  std::string user;                       // "" for no AUTH required
  std::string password;                   // the test password
  std::string cert_san = "IP:127.0.0.1";  // OpenSSL syntax: "DNS:other.example" for a wrong host
};

class SmtpReceiver {
 public:
  // `dir`: a private directory the receiver may write in.
  SmtpReceiver(std::string dir, SmtpReceiverOptions options) : dir_(std::move(dir)), options_(std::move(options)) {
    using namespace hoist::tls::testing;
    const auto now =
        TimePoint{std::chrono::duration_cast<Seconds>(std::chrono::system_clock::now().time_since_epoch())};
    const auto ca = make_cert("smtp test CA", now - std::chrono::hours(1), now + std::chrono::hours(24), true);
    const auto leaf = make_cert("smtp.test", now - std::chrono::hours(1), now + std::chrono::hours(24), false, &ca,
                                options_.cert_san);
    write_text(ca_file(), pem_of(ca.cert.get()), 0644);
    write_text(dir_ + "/smtp.crt", pem_of(leaf.cert.get()), 0644);
    write_text(dir_ + "/smtp.key", pem_of(leaf.key.get()), 0600);
    std::filesystem::create_directories(mail_dir());
  }
  ~SmtpReceiver() { kill(); }
  SmtpReceiver(const SmtpReceiver&) = delete;
  SmtpReceiver& operator=(const SmtpReceiver&) = delete;

  // Starts it in `mode` (see smtp_receiver.py) on `port` (0: a free one).
  // False, with error(), when it is not listening within 10 s.
  bool start(const std::string& mode = "starttls", std::uint16_t port = 0) {
    kill();
    const std::string ready = dir_ + "/ready";
    std::filesystem::remove(ready);
    const std::string script = std::string(HOIST_SOURCE_DIR) + "/tests/support/smtp_receiver.py";
    std::vector<std::string> args = {"/usr/bin/python3",
                                     script,
                                     "--cert",
                                     dir_ + "/smtp.crt",
                                     "--key",
                                     dir_ + "/smtp.key",
                                     "--dir",
                                     mail_dir(),
                                     "--ready",
                                     ready,
                                     "--port",
                                     std::to_string(port),
                                     "--mode",
                                     mode,
                                     "--user",
                                     options_.user,
                                     "--password",
                                     options_.password};
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
      ::execv(argv[0], argv.data());
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
        error_ = "the SMTP receiver exited: " + hoist::tls::testing::read_text(dir_ + "/receiver.out");
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    error_ = "the SMTP receiver did not listen within 10 s: " + hoist::tls::testing::read_text(dir_ + "/receiver.out");
    kill();
    return false;
  }

  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  [[nodiscard]] std::uint16_t port() const { return port_; }
  // smtp://127.0.0.1:PORT (or smtps://).
  [[nodiscard]] std::string url(const std::string& scheme = "smtp") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_);
  }
  [[nodiscard]] std::string ca_file() const { return dir_ + "/smtp-ca.crt"; }
  [[nodiscard]] std::string mail_dir() const { return dir_ + "/mail"; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] std::string log() const { return hoist::tls::testing::read_text(dir_ + "/receiver.out"); }

  // Every message taken so far, in order (over every start).
  [[nodiscard]] std::vector<ReceivedMail> received() const {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(mail_dir())) {
      if (e.path().extension() == ".json") files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    std::vector<ReceivedMail> out;
    for (const auto& file : files) {
      boost::system::error_code ec;
      auto v = boost::json::parse(hoist::tls::testing::read_text(file), ec);
      if (ec || !v.is_object()) continue;
      const auto& o = v.as_object();
      const auto str = [](const boost::json::object& obj, const char* k) {
        const auto* f = obj.if_contains(k);
        return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
      };
      ReceivedMail m;
      m.mail_from = str(o, "mail_from");
      m.auth_login = str(o, "auth_login");
      m.raw = str(o, "raw");
      m.content_type = str(o, "content_type");
      if (const auto* f = o.if_contains("tls"); f != nullptr && f->is_bool()) m.tls = f->as_bool();
      if (const auto* f = o.if_contains("bare_lf"); f != nullptr && f->is_bool()) m.bare_lf = f->as_bool();
      if (const auto* f = o.if_contains("max_line"); f != nullptr && f->is_int64()) {
        m.max_line = static_cast<std::size_t>(f->as_int64());
      }
      for (const auto& r : o.at("rcpt_tos").as_array()) m.rcpt_tos.emplace_back(r.as_string());
      for (const auto& h : o.at("headers").as_array()) {
        m.headers.emplace_back(std::string(h.as_array().at(0).as_string()),
                               std::string(h.as_array().at(1).as_string()));
      }
      for (const auto& p : o.at("parts").as_array()) {
        const auto& po = p.as_object();
        m.parts.push_back({str(po, "type"), str(po, "charset"), str(po, "cte"), str(po, "body")});
      }
      for (const auto& d : o.at("defects").as_array()) m.defects.emplace_back(d.as_string());
      out.push_back(std::move(m));
    }
    return out;
  }

  [[nodiscard]] std::vector<SmtpAuthAttempt> auth_attempts() const {
    std::vector<SmtpAuthAttempt> out;
    std::ifstream in(mail_dir() + "/auth.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      boost::system::error_code ec;
      auto v = boost::json::parse(line, ec);
      if (ec || !v.is_object()) continue;
      const auto& o = v.as_object();
      SmtpAuthAttempt a;
      if (const auto* f = o.if_contains("mechanism"); f != nullptr && f->is_string()) a.mechanism = f->as_string();
      if (const auto* f = o.if_contains("login"); f != nullptr && f->is_string()) a.login = f->as_string();
      if (const auto* f = o.if_contains("success"); f != nullptr && f->is_bool()) a.success = f->as_bool();
      if (const auto* f = o.if_contains("tls"); f != nullptr && f->is_bool()) a.tls = f->as_bool();
      out.push_back(std::move(a));
    }
    return out;
  }

 private:
  std::string dir_;
  SmtpReceiverOptions options_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string error_;
};

}  // namespace hoist::testing
