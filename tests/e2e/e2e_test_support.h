// Helpers for e2e_tests: the policies and agent submissions they use, and a
// long poll run on a thread of its own with its own HTTPS client.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/hoistd_process.h"

namespace hoist::e2e {

namespace json = boost::json;
using hoist::testing::AgentCredential;
using hoist::testing::bearer;
using hoist::testing::Headers;
using hoist::testing::HoistdProcess;
using hoist::testing::HttpReply;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// apt-get needs a technician's approval; pending requests expire after
// `request_expiry`; everything else is denied.
inline std::string manual_policy(const std::string& request_expiry = "1h") {
  return R"(version = 1

[settings]
default_action = "deny"
max_duration = "8h"
request_expiry = ")" +
         request_expiry + R"("

[[rule]]
name = "installs"
action = "request"
path = "/usr/bin/apt-get"
approval = "manual"
max_duration = "2h"
)";
}

// What an agent sends for `apt-get install curl` run by alice.
inline json::object apt_get_submission(std::int64_t duration_s = 1800) {
  return json::object{
      {"kind", "command"},
      {"user", "alice"},
      {"groups", json::array{"staff"}},
      {"justification", "ticket 4711"},
      {"duration_s", duration_s},
      {"command", json::object{{"path", "/usr/bin/apt-get"},
                               {"argv", json::array{"apt-get", "install", "curl"}},
                               {"sha256", "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6e0"},
                               {"trusted_path", true},
                               {"package", json::object{{"name", "apt"},
                                                        {"origin", "Debian"},
                                                        {"maintainer", "APT Development Team"},
                                                        {"verified", true}}}}}};
}

// The payloads of the "request" push messages about request `id`, oldest first.
inline std::vector<json::object> request_pushes(const HttpReply& push, const std::string& id) {
  std::vector<json::object> out;
  for (const auto& m : push.array("/messages")) {
    const auto* payload = m.as_object().if_contains("payload");
    if (m.at("kind") == "request" && payload != nullptr && payload->is_object() &&
        payload->at("request_id") == json::string(id)) {
      out.push_back(payload->as_object());
    }
  }
  return out;
}

inline double seconds_since(steady_clock::time_point start) {
  return std::chrono::duration<double>(steady_clock::now() - start).count();
}

// Whether hoistd, listening on IPv4 `port`, has read every byte its
// clients sent: no server-side socket of the port has unread data
// (/proc/net/tcp, as the kernel sees it).
inline bool hoistd_has_read_everything(std::uint16_t port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot;
    std::string local;
    std::string remote;
    std::string state;
    std::string queues;  // tx_queue:rx_queue, hex
    fields >> slot >> local >> remote >> state >> queues;
    const auto colon = local.find(':');
    const auto queue_colon = queues.find(':');
    if (colon == std::string::npos || queue_colon == std::string::npos) continue;
    if (std::stoul(local.substr(colon + 1), nullptr, 16) != port) continue;
    if (std::stoul(queues.substr(queue_colon + 1), nullptr, 16) != 0) return false;
  }
  return true;
}

// GET /api/v1/agent/push?after=<after>&wait=<wait_s> as `agent`, on a
// thread with its own client. started() returns once the connection is up
// (a GET /api/v1/health answered on it) and the long poll is being sent on
// that same connection and hoistd has read it; reply() waits (with a
// deadline) for the answer.
// The client is closed as soon as the answer is in, as an agent would on
// "Connection: close", so hoistd's drain does not wait for it.
class BackgroundPoll {
 public:
  BackgroundPoll(const HoistdProcess& hoistd, const AgentCredential& agent, std::uint64_t after, int wait_s)
      : port_(hoistd.port()), connected_future_(connected_.get_future()), reply_future_(reply_.get_future()) {
    auto client = hoistd.client();
    if (!client) {
      connected_.set_value(false);
      HttpReply none;
      none.error = "no client";
      reply_.set_value(std::move(none));
      return;
    }
    const std::string target = "/api/v1/agent/push?after=" + std::to_string(after) + "&wait=" + std::to_string(wait_s);
    thread_ = std::thread([this, client = std::move(client), target, headers = agent.headers()]() mutable {
      const auto warm = hoist::testing::send_request(*client, "GET", "/api/v1/health");
      connected_.set_value(warm.status == 200);
      HttpReply reply = hoist::testing::send_request(*client, "GET", target, {}, headers);
      client.reset();
      answered_at_ = steady_clock::now();
      reply_.set_value(std::move(reply));
    });
  }
  ~BackgroundPoll() {
    if (thread_.joinable()) thread_.join();
  }
  BackgroundPoll(const BackgroundPoll&) = delete;
  BackgroundPoll& operator=(const BackgroundPoll&) = delete;

  // Whether the poll's connection is up; then gives the request that
  // follows on it a moment to be sent, and waits for hoistd to read it (a
  // request hoistd has not read yet is on an idle connection, which a
  // SIGTERM closes without an answer).
  bool started(milliseconds timeout = milliseconds(10000)) {
    const auto deadline = steady_clock::now() + timeout;
    if (!connected_future_.valid() || connected_future_.wait_until(deadline) != std::future_status::ready ||
        !connected_future_.get()) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(300));
    while (!hoistd_has_read_everything(port_)) {
      if (steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
  }

  // The answer, or nullopt when none came within `timeout`. The first call
  // that sees the answer takes it.
  std::optional<HttpReply> reply(milliseconds timeout) {
    if (!reply_future_.valid() || reply_future_.wait_for(timeout) != std::future_status::ready) {
      return std::nullopt;
    }
    return reply_future_.get();
  }
  // When the answer came (valid once reply() returned it).
  [[nodiscard]] steady_clock::time_point answered_at() const { return answered_at_; }

 private:
  std::uint16_t port_;
  std::promise<bool> connected_;
  std::promise<HttpReply> reply_;
  std::future<bool> connected_future_;
  std::future<HttpReply> reply_future_;
  steady_clock::time_point answered_at_;
  std::thread thread_;
};

}  // namespace hoist::e2e
