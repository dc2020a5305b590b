// A real Standard Webhooks receiver for tests: tests/support/
// webhook_receiver.py (python3's http.server over TLS) on 127.0.0.1, with a
// certificate for 127.0.0.1 from a CA made here (ca_file(); the process:
// receiver_process.h), checking every message's signature with the code
// docs/notifications.md gives receivers.
// Each request it gets is read back with received(). Header-only; needs
// HOIST_SOURCE_DIR defined (the repository, for the script and the docs)
// and links OpenSSL.
//
//   hoist::testing::WebhookReceiver rx(dir, secret);
//   ASSERT_TRUE(rx.start()) << rx.error();
//   ... rx.url("/hook"), rx.ca_file(), rx.received() ...
//   rx.stop();   // the destructor kills what still runs
#pragma once

#include <boost/json.hpp>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "support/receiver_process.h"

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
  WebhookReceiver(std::string dir, std::string secret) : process_(std::move(dir)), secret_(std::move(secret)) {}

  // Starts it in `mode` (see webhook_receiver.py) on `port` (0: a free one;
  // give port() again to come back on the same address). False, with
  // error(), when it is not listening within 10 s.
  bool start(const std::string& mode = "ok", std::uint16_t port = 0) {
    const std::string script = std::string(HOIST_SOURCE_DIR) + "/tests/support/webhook_receiver.py";
    const std::string docs = std::string(HOIST_SOURCE_DIR) + "/docs/notifications.md";
    return process_.start(script, {"--secret", secret_, "--docs", docs, "--log", log_path(), "--mode", mode}, port);
  }
  // SIGTERM, then SIGKILL after 5 s.
  void stop() { process_.stop(); }
  void kill() { process_.kill(); }

  [[nodiscard]] std::uint16_t port() const { return process_.port(); }
  [[nodiscard]] std::string url(const std::string& path = "/hook") const { return process_.url(path); }
  [[nodiscard]] std::string ca_file() const { return process_.ca_file(); }
  [[nodiscard]] std::string log_path() const { return process_.dir() + "/received.jsonl"; }
  [[nodiscard]] const std::string& error() const { return process_.error(); }

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
  ReceiverProcess process_;
  std::string secret_;
};

}  // namespace hoist::testing
