// Slack (an incoming webhook and the Web API's chat.postMessage and
// chat.update) and a Teams Workflows webhook, imitated for tests by
// tests/support/chat_receiver.py over HTTPS on 127.0.0.1 (the process:
// receiver_process.h). It checks each message strictly (Block Kit, the
// Adaptive Card, the escaping) and says what it found wrong in
// `problems`; plan() makes the next answers fail. Header-only; needs
// HOIST_SOURCE_DIR and links OpenSSL.
//
//   hoist::testing::ChatReceiver rx(dir, "xoxb-token");
//   ASSERT_TRUE(rx.start()) << rx.error();
//   ... rx.url("/api"), rx.ca_file(), rx.plan(R"([{"status":429,"retry_after":"1"}])"), rx.received() ...
#pragma once

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/receiver_process.h"

namespace hoist::testing {

struct ReceivedChat {
  std::string path;  // "/api/chat.postMessage", "/services/...", "/workflows/..."
  std::string auth;  // the Authorization header
  std::string content_type;
  std::string body;
  int status = 0;
  std::vector<std::string> problems;  // what the receiver found wrong; empty when none
  boost::json::value answer;          // the Web API's JSON answer (null for the others)
  boost::json::value json;            // the body parsed (null when it is not JSON)
};

class ChatReceiver {
 public:
  // `dir`: a private directory the receiver may write in; `token`: the bot
  // token the Web API takes.
  ChatReceiver(std::string dir, std::string token) : process_(std::move(dir)), token_(std::move(token)) {}

  // On `port` (0: a free one). False, with error(), when it is not
  // listening within 10 s. Forgets the messages it posted (Slack's
  // chat.update then answers message_not_found).
  bool start(std::uint16_t port = 0) {
    const std::string script = std::string(HOIST_SOURCE_DIR) + "/tests/support/chat_receiver.py";
    return process_.start(script, {"--log", log_path(), "--plan", plan_path(), "--token", token_}, port);
  }
  void stop() { process_.stop(); }

  // The next answers, a JSON array (chat_receiver.py): one is taken per request.
  void plan(const std::string& answers) const {
    const std::string tmp = plan_path() + ".tmp";
    {
      std::ofstream out(tmp);
      out << answers;
    }
    std::filesystem::rename(tmp, plan_path());
  }

  [[nodiscard]] std::uint16_t port() const { return process_.port(); }
  [[nodiscard]] std::string url(const std::string& path) const { return process_.url(path); }
  [[nodiscard]] std::string ca_file() const { return process_.ca_file(); }
  [[nodiscard]] const std::string& error() const { return process_.error(); }

  // Every request received so far, in order.
  [[nodiscard]] std::vector<ReceivedChat> received() const {
    std::vector<ReceivedChat> out;
    std::ifstream in(log_path());
    std::string line;
    while (std::getline(in, line)) {
      boost::system::error_code ec;
      auto v = boost::json::parse(line, ec);
      if (ec || !v.is_object()) continue;
      const auto& o = v.as_object();
      const auto str = [&](const char* k) {
        const auto* f = o.if_contains(k);
        return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
      };
      ReceivedChat r;
      r.path = str("path");
      r.auth = str("auth");
      r.content_type = str("content_type");
      r.body = str("body");
      if (const auto* f = o.if_contains("status"); f != nullptr && f->is_int64()) {
        r.status = static_cast<int>(f->as_int64());
      }
      if (const auto* f = o.if_contains("problems"); f != nullptr && f->is_array()) {
        for (const auto& p : f->as_array()) {
          if (p.is_string()) r.problems.emplace_back(p.as_string());
        }
      }
      if (const auto* f = o.if_contains("answer"); f != nullptr) r.answer = *f;
      r.json = boost::json::parse(r.body, ec);
      if (ec) r.json = nullptr;
      out.push_back(std::move(r));
    }
    return out;
  }

 private:
  [[nodiscard]] std::string log_path() const { return process_.dir() + "/chat.jsonl"; }
  [[nodiscard]] std::string plan_path() const { return process_.dir() + "/plan.json"; }

  ReceiverProcess process_;
  std::string token_;
};

}  // namespace hoist::testing
